"""POS sales in a batch (record_orders) take the store's stock and claim what the till redeemed
set-wise, leaving what recording them one by one leaves: the same stock, movements (short units
noted), committed reservations, and coupon uses and points tied to the same orders."""

from __future__ import annotations

import datetime as dt

import pytest

from omo.catalog import inventory
from omo.catalog.models import Location, Reservation, StockLevel, StockMovement, Variant
from omo.commerce import services
from omo.commerce.models import Order
from omo.commerce.schemas import OrderIn
from omo.core.audit import Actor
from omo.loyalty import services as loyalty
from omo.loyalty.models import CouponRedemption, PointsEntry
from omo.testing import factories as f

pytestmark = pytest.mark.django_db

PLACED = dt.datetime(2026, 11, 20, 7, 30, tzinfo=dt.UTC)


def _setup(brand, hq_admin_of_brand) -> None:
    store = f.make_store(brand, code="TPE01")
    f.make_store(brand, code="KHH01")
    f.make_store(brand, code="POP01", with_location=False)  # a pop-up without stock records
    f.make_product(brand, "短T", variants=[("TEE-M", "M", 59000), ("TEE-L", "L", 59000)])
    f.make_product(brand, "帆布袋", variants=[("BAG", "", 45000)])
    shelves = {location.code: location for location in Location.objects.filter(brand=brand)}
    for code, sku, on_hand in (("TPE01", "TEE-M", 3), ("TPE01", "BAG", 1), ("KHH01", "TEE-M", 5)):
        f.set_stock(Variant.objects.get(brand=brand, sku=sku), shelves[code], on_hand)
    actor = Actor(brand=brand, user=hq_admin_of_brand)
    member = f.make_customer(brand, "會員", phone="0912000222")
    loyalty.adjust_points(member, 500, reason="開卡禮", actor=actor)
    loyalty.redeem_points_at_till(member, 100, transaction_id="S-2", actor=actor)
    coupon = loyalty.create_coupon(brand, actor=actor, name="折 50", kind="amount_off", value=5000)
    [code] = loyalty.issue_codes(coupon, [member], actor=actor)
    loyalty.redeem_at_till(
        brand,
        code.code,
        subtotal=59000,
        customer=member,
        transaction_id="S-4",
        store_id=store.pk,
        actor=actor,
    )


def _orders() -> list[OrderIn]:
    def order(n: int, store: str, lines: list[tuple[str, int]], **extra) -> OrderIn:
        return OrderIn.model_validate(
            {
                "source": "pos-erp",
                "external_id": f"S-{n}",
                "sales_channel": "pos",
                "store_code": store,
                "placed_at": PLACED + dt.timedelta(minutes=n),
                "lines": [{"sku": sku, "quantity": qty, "unit_price": 59000} for sku, qty in lines],
                **extra,
            }
        )

    return [
        order(1, "TPE01", [("TEE-M", 2), ("BAG", 1)]),
        order(2, "TPE01", [("TEE-M", 2), ("TEE-L", 1)], customer={"phone": "0912000222"}),  # one short
        order(3, "KHH01", [("TEE-M", 1)], decrement_stock=False),  # the ERP sends stock itself
        order(4, "TPE01", [("TEE-M", 1), ("BAG", 1)]),  # nothing left
        order(5, "POP01", [("TEE-M", 1)]),
        order(6, "KHH01", [("TEE-M", 4)], status="cancelled"),  # a cancelled sale takes nothing
        order(7, "KHH01", [("TEE-M", 3), ("TEE-M", 3)]),  # the second line runs short
        order(4, "TPE01", [("TEE-M", 1), ("BAG", 1)], source="other-pos"),  # the same sale id again
    ]


def _view(brand) -> dict:
    orders = {order.pk: (order.source, order.external_id) for order in Order.objects.filter(brand=brand)}
    return {
        "stock": sorted(
            StockLevel.objects.filter(brand=brand).values_list(
                "location__code", "variant__sku", "on_hand", "reserved"
            )
        ),
        "movements": sorted(
            (code, sku, delta, reason, note, orders.get(int(ref.removeprefix("order:")), ref) if ref else "")
            for code, sku, delta, reason, note, ref in StockMovement.objects.filter(brand=brand).values_list(
                "location__code", "variant__sku", "on_hand_delta", "reason", "note", "reference"
            )
        ),
        "reservations": sorted(
            (orders[order_id], sku, qty, status)
            for order_id, sku, qty, status in Reservation.objects.filter(brand=brand).values_list(
                "order_line__order_id", "order_line__sku", "quantity", "status"
            )
        ),
        "till": sorted(
            [
                (orders.get(order_id), kind, delta)
                for order_id, kind, delta in PointsEntry.objects.filter(brand=brand).values_list(
                    "order_id", "kind", "delta"
                )
            ],
            key=str,
        )
        + [
            (orders.get(order_id), "coupon", 0)
            for order_id in CouponRedemption.objects.filter(brand=brand).values_list("order_id", flat=True)
        ],
    }


def test_a_batch_takes_stock_and_till_redemptions_as_one_by_one_does(brand, other_brand):
    _setup(brand, f.make_user(brand, "admin", role="hq_admin"))
    _setup(other_brand, f.make_user(other_brand, "admin", role="hq_admin"))
    for data in _orders():
        services.record_order(brand, data, actor=None)
    results = services.record_orders(other_brand, _orders(), actor=None)

    assert [r.status for r in results] == ["created"] * len(_orders())
    assert _view(other_brand) == _view(brand)
    view = _view(other_brand)
    assert ("TPE01", "TEE-M", -1, "sale", "1 件未在庫存記錄中 / 1 not on record", ("pos-erp", "S-2")) in view[
        "movements"
    ]
    assert (("pos-erp", "S-2"), "redeem", -100) in view["till"]
    assert (("pos-erp", "S-4"), "coupon", 0) in view["till"]  # the first order with the sale id


def test_sell_in_store_many_takes_lines_in_order_and_refuses_no_units(brand, store):
    variant = f.make_product(brand, "短T", variants=[("TEE-M", "M", 59000)]).variants.get()
    shelf = Location.objects.get(brand=brand, code=store.code)
    f.set_stock(variant, shelf, 3)
    assert inventory.sell_in_store_many(brand.pk, []) == []
    with pytest.raises(inventory.StockError):
        inventory.sell_in_store_many(brand.pk, [inventory.StoreSaleLine(variant.pk, shelf.pk, 0, 1)])
