"""Stock ledger: every change is recorded, on_hand never drops below what is reserved."""

from __future__ import annotations

import pytest

from omo.catalog import inventory
from omo.catalog.models import StockLevel, StockMovement
from omo.testing import factories as f


@pytest.fixture
def variant(brand):
    return f.make_product(brand, "香氛蠟燭", variants=[("CANDLE", "", 65000)]).variants.get()


def test_adjust_and_set_write_the_ledger(variant, warehouse, hq_admin):
    inventory.adjust_stock(variant, warehouse, 10, reason="receipt", user=hq_admin)
    inventory.set_stock(variant, warehouse, 7, note="盤點")
    level = StockLevel.objects.get(variant=variant, location=warehouse)
    assert level.on_hand == 7
    movements = list(
        StockMovement.objects.filter(variant=variant).order_by("id").values_list("on_hand_delta", "reason")
    )
    assert movements == [(10, "receipt"), (-3, "adjustment")]


def test_cannot_remove_reserved_units(brand, variant, warehouse):
    from omo.commerce import services

    inventory.adjust_stock(variant, warehouse, 3)
    cart = services.new_cart(brand)
    services.add_to_cart(cart, variant, 2)
    services.checkout(
        cart,
        contact=services.Contact(
            name="A", phone="0912345678", address={"city": "台北市", "district": "信義區", "line1": "x"}
        ),
        fulfilment="ship",
        payment_method="cod",
    )
    with pytest.raises(inventory.StockError, match="reserved"):
        inventory.set_stock(variant, warehouse, 1)
    with pytest.raises(inventory.StockError):
        inventory.adjust_stock(variant, warehouse, -2)
    inventory.adjust_stock(variant, warehouse, -1)
    level = StockLevel.objects.get(variant=variant, location=warehouse)
    assert (level.on_hand, level.reserved) == (2, 2)


def test_negative_set_is_refused(variant, warehouse):
    with pytest.raises(inventory.StockError, match="negative"):
        inventory.set_stock(variant, warehouse, -1)


def test_cross_brand_location_is_refused(variant, other_brand):
    foreign = f.make_location(other_brand, code="X", name="別人的倉")
    with pytest.raises(inventory.StockError, match="different brands"):
        inventory.adjust_stock(variant, foreign, 1)


def test_availability_and_online_stock(brand, variant, warehouse, store):
    store_location = store.location
    inventory.adjust_stock(variant, warehouse, 4)
    inventory.adjust_stock(variant, store_location, 2)
    by_location = {a.location_code: a.available for a in inventory.availability([variant.pk])[variant.pk]}
    assert by_location == {"WH": 4, "TPE01": 2}
    assert inventory.online_available([variant.pk]) == {variant.pk: 4}  # stores don't ship online orders
