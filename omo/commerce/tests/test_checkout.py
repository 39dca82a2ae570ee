"""Checkout: stock reserved atomically, coupons and points applied, idempotent per cart."""

from __future__ import annotations

import pytest

from omo.catalog.models import StockLevel, StockMovement
from omo.commerce import services
from omo.commerce.models import Order
from omo.commerce.schemas import OrderIn, RefundIn
from omo.loyalty import services as loyalty
from omo.loyalty.models import PointsEntry
from omo.testing import factories as f

ADDRESS = {"postal_code": "110", "city": "台北市", "district": "信義區", "line1": "松高路 1 號"}


@pytest.fixture
def shirt(brand, warehouse):
    product = f.make_product(brand, "有機棉T恤", variants=[("TEE-BLK-M", "黑 / M", 89000)])
    variant = product.variants.get()
    f.set_stock(variant, warehouse, 5)
    return variant


def contact(**kw):
    return services.Contact(
        name=kw.get("name", "林小美"),
        phone=kw.get("phone", "0912-345-678"),
        email=kw.get("email", "mei@example.com"),
        address=kw.get("address", ADDRESS),
    )


def test_checkout_reserves_stock_and_creates_customer(brand, shirt, warehouse):
    cart = services.new_cart(brand, ref="clerk-abc")
    services.add_to_cart(cart, shirt, 2)

    order = services.checkout(cart, contact=contact(), fulfilment="ship", payment_method="cod")

    assert order.status == Order.Status.PLACED
    assert order.subtotal == 178000
    assert order.shipping_total == 0  # free over NT$1,500
    assert order.total == 178000
    assert order.ref == "clerk-abc"
    assert order.name == f"W{order.pk:07d}"
    assert order.customer.phone == "+886912345678"
    level = StockLevel.objects.get(variant=shirt, location=warehouse)
    assert (level.on_hand, level.reserved) == (5, 2)


def test_checkout_twice_returns_the_same_order(brand, shirt):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 1)
    first = services.checkout(cart, contact=contact(), fulfilment="ship", payment_method="cod")
    second = services.checkout(cart, contact=contact(), fulfilment="ship", payment_method="cod")
    assert first.pk == second.pk
    assert Order.objects.count() == 1


def test_checkout_refuses_more_than_available_and_writes_nothing(brand, shirt, warehouse):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 6)
    with pytest.raises(services.OrderError) as err:
        services.checkout(cart, contact=contact(), fulfilment="ship", payment_method="cod")
    assert err.value.field == "cart"
    assert "5" in err.value.message
    assert Order.objects.count() == 0
    level = StockLevel.objects.get(variant=shirt, location=warehouse)
    assert (level.on_hand, level.reserved) == (5, 0)
    assert not StockMovement.objects.filter(reason="reserve").exists()


def test_fulfil_commits_stock_and_earns_points(brand, shirt, warehouse):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 2)
    order = services.checkout(cart, contact=contact(), fulfilment="ship", payment_method="cod")

    services.fulfil(order, actor=None)

    level = StockLevel.objects.get(variant=shirt, location=warehouse)
    assert (level.on_hand, level.reserved) == (3, 0)
    order.refresh_from_db()
    assert order.status == Order.Status.FULFILLED
    account = loyalty.account_for(order.customer)
    assert account.balance == 17  # NT$1,780 -> 17 points at 1 per NT$100
    assert PointsEntry.objects.filter(order=order, kind="earn").count() == 1


def test_cancel_releases_stock(brand, shirt, warehouse):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 2)
    order = services.checkout(cart, contact=contact(), fulfilment="ship", payment_method="cod")
    services.cancel(order, actor=None)
    level = StockLevel.objects.get(variant=shirt, location=warehouse)
    assert (level.on_hand, level.reserved) == (5, 0)


def test_bad_inputs_name_the_field(brand, shirt, store):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 1)
    cases = [
        (dict(contact=contact(phone="12"), fulfilment="ship", payment_method="cod"), "phone"),
        (dict(contact=contact(name=" "), fulfilment="ship", payment_method="cod"), "name"),
        (dict(contact=contact(address={}), fulfilment="ship", payment_method="cod"), "address.city"),
        (dict(contact=contact(), fulfilment="ship", payment_method="pay_in_store"), "payment_method"),
        (dict(contact=contact(), fulfilment="pickup", payment_method="pay_in_store"), "pickup_store"),
        (dict(contact=contact(), fulfilment="drone", payment_method="cod"), "fulfilment"),
        (dict(contact=contact(), fulfilment="ship", payment_method="cod", coupon_code="NOPE"), "coupon_code"),
    ]
    for kwargs, field in cases:
        with pytest.raises(services.OrderError) as err:
            services.checkout(cart, **kwargs)
        assert err.value.field == field, kwargs
    assert Order.objects.count() == 0


def test_coupon_and_points_at_checkout(brand, shirt, hq_admin):
    from omo.core.audit import Actor

    actor = Actor(brand=brand, user=hq_admin)
    customer = f.make_customer(brand, phone="0912345678")
    loyalty.adjust_points(customer, 100, reason="開幕禮", actor=actor)
    coupon = loyalty.create_coupon(
        brand, actor=actor, name="折百", kind="amount_off", value=10000, min_spend=50000
    )
    loyalty.add_shared_code(coupon, code="HELLO100", max_uses=10, actor=actor)
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 1)

    order = services.checkout(
        cart, contact=contact(), fulfilment="ship", payment_method="cod", coupon_code="hello100", points=50
    )

    assert order.customer_id == customer.pk
    assert order.discount_total == 10000 + 5000
    assert order.total == 89000 - 15000 + 10000  # shipping NT$100 under NT$1,500
    assert loyalty.account_for(customer).balance == 50
    coupon.codes.get().refresh_from_db()
    assert coupon.codes.get().times_used == 1


def test_refund_with_restock_returns_units_to_the_location_that_shipped_them(brand, shirt, warehouse):
    # The first shipping location has none of it: the order is served (and restocked) from the second.
    f.set_stock(shirt, warehouse, 0)
    annex = f.make_location(brand, code="WH2", name="二號倉", ships_online_orders=True)
    f.set_stock(shirt, annex, 5)
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 2)
    order = services.checkout(cart, contact=contact(), fulfilment="ship", payment_method="cod")
    services.fulfil(order, actor=None)
    line = order.lines.get()

    refund, created = services.refund(
        order,
        RefundIn(external_id="R1", amount=89000, lines=[{"line_id": line.pk, "quantity": 1}], restock=True),
        actor=None,
    )

    assert created
    assert StockLevel.objects.get(variant=shirt, location=annex).on_hand == 4  # 5 - 2 shipped + 1 back
    assert StockLevel.objects.get(variant=shirt, location=warehouse).on_hand == 0
    assert StockMovement.objects.filter(reference=f"refund:{refund.pk}", location=annex).count() == 1
    line.refresh_from_db()
    assert line.refunded_quantity == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED


def test_refund_with_restock_of_a_line_without_a_variant_moves_no_stock(brand, warehouse):
    order, _ = services.record_order(
        brand,
        OrderIn.model_validate(
            {
                "source": "web-erp",
                "external_id": "W-1",
                "sales_channel": "external_web",
                "placed_at": "2026-11-20T15:30:00+08:00",
                "lines": [{"title": "禮品包裝", "quantity": 1, "unit_price": 5000}],
                "status": "paid",
            }
        ),
        actor=None,
    )
    line = order.lines.get()

    refund, created = services.refund(
        order,
        RefundIn(external_id="R1", amount=5000, lines=[{"line_id": line.pk, "quantity": 1}], restock=True),
        actor=None,
    )

    assert created
    assert not StockMovement.objects.filter(reference=f"refund:{refund.pk}").exists()
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED


def test_refund_names_a_line_that_is_not_the_orders(brand, shirt):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 1)
    order = services.checkout(cart, contact=contact(), fulfilment="ship", payment_method="cod")
    services.fulfil(order, actor=None)

    for bad in ({"quantity": 1}, {"line_id": None, "quantity": 1}, {"line_id": 0, "quantity": 1}):
        with pytest.raises(services.OrderError) as refused:
            services.refund(order, RefundIn(external_id="R1", amount=100, lines=[bad]), actor=None)
        assert refused.value.field == "lines[0].line_id"
