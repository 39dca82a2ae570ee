"""Recording orders from every sales channel: idempotent, validated, linked to store, staff, customer."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from omo.commerce import services
from omo.commerce.models import Order, OrderLine
from omo.commerce.schemas import OrderIn
from omo.testing import factories as f

PLACED = "2026-11-20T15:30:00+08:00"


def order_in(**overrides):
    body = {
        "source": "pos-erp",
        "external_id": "TPE01-000123",
        "name": "TPE01-000123",
        "sales_channel": "pos",
        "store_code": "TPE01",
        "staff_code": "E001",
        "placed_at": PLACED,
        "customer": {"phone": "0912345678", "name": "陳大文"},
        "lines": [{"sku": "TEE-M", "quantity": 2, "unit_price": 59000, "discount": 8000}],
        "discounts": [{"code": "", "kind": "member", "amount": 10000}],
        "shipping_total": 0,
        "status": "paid",
    }
    body.update(overrides)
    return OrderIn.model_validate(body)


@pytest.fixture
def tee(brand):
    return f.make_product(brand, "短T", variants=[("TEE-M", "M", 59000)]).variants.get()


def test_pos_order_links_store_staff_customer_and_product(brand, store, clerk, tee):
    order, created = services.record_order(brand, order_in(), actor=None)
    assert created
    assert order.store == store and order.staff == clerk
    assert order.customer.phone == "+886912345678"
    assert (order.subtotal, order.discount_total, order.total) == (110000, 10000, 100000)
    assert order.placed_at == dt.datetime(2026, 11, 20, 7, 30, tzinfo=dt.UTC)
    line = OrderLine.objects.get(order=order)
    assert line.variant == tee and line.product_id == tee.product_id and line.total == 110000
    assert order.fulfilment == Order.Fulfilment.IN_STORE


def test_repeat_is_a_no_op(brand, store, tee):
    first, _ = services.record_order(brand, order_in(), actor=None)
    second, created = services.record_order(brand, order_in(), actor=None)
    assert not created and second.pk == first.pk
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 1


def test_repeat_with_other_lines_is_refused_naming_them(brand, store, tee):
    services.record_order(brand, order_in(), actor=None)
    with pytest.raises(services.OrderError) as refused:
        services.record_order(
            brand, order_in(lines=[{"sku": "TEE-M", "quantity": 9, "unit_price": 1}]), actor=None
        )
    assert (refused.value.status, refused.value.code, refused.value.extra["fields"]) == (
        409,
        "order_conflict",
        ["lines"],
    )
    assert Order.objects.count() == 1 and OrderLine.objects.count() == 1


def test_same_external_id_from_another_source_is_another_order(brand, store, tee):
    services.record_order(brand, order_in(), actor=None)
    _, created = services.record_order(
        brand, order_in(source="shopify", sales_channel="external_web", store_code=""), actor=None
    )
    assert created


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"store_code": "NOPE"}, "store_code"),
        ({"lines": [{"sku": "UNKNOWN", "quantity": 1, "unit_price": 100}], "discounts": []}, "lines[0].sku"),
        ({"total": 1}, "total"),
        ({"currency": "USD"}, "currency"),
        ({"customer": {"phone": "12345"}}, "customer.phone"),
        ({"discounts": [{"amount": 99999999}]}, "discounts"),
    ],
)
def test_refusals_name_the_field_and_write_nothing(brand, store, tee, overrides, field):
    with pytest.raises(services.OrderError) as err:
        services.record_order(brand, order_in(**overrides), actor=None)
    assert err.value.field == field
    assert Order.objects.count() == 0


@pytest.mark.parametrize(
    ("overrides", "loc"),
    [
        ({"placed_at": "2026-11-20T15:30:00"}, "placed_at"),
        ({"lines": []}, "lines"),
        ({"lines": [{"sku": "TEE-M", "quantity": 0, "unit_price": 1}]}, "quantity"),
        ({"lines": [{"quantity": 1, "unit_price": 1}]}, "lines"),
        ({"sales_channel": "telepathy"}, "sales_channel"),
        ({"store_code": ""}, "store_code"),
    ],
)
def test_schema_refusals(overrides, loc):
    with pytest.raises(ValidationError) as err:
        order_in(**overrides)
    assert loc in str(err.value)


def test_batch_applies_the_good_orders(brand, store, tee):
    results = services.record_orders(
        brand,
        [order_in(external_id="a"), order_in(external_id="b", store_code="NOPE"), order_in(external_id="a")],
        actor=None,
    )
    assert [r.status for r in results] == ["created", "rejected", "existing"]
    assert results[1].field == "store_code"
    assert Order.objects.count() == 1


def test_unknown_staff_code_is_kept_but_not_linked(brand, store, tee):
    order, _ = services.record_order(brand, order_in(staff_code="E999"), actor=None)
    assert order.staff is None and order.staff_code == "E999"


def test_other_brand_store_code_is_unknown(brand, other_brand, tee):
    f.make_store(other_brand, code="TPE01")
    with pytest.raises(services.OrderError) as err:
        services.record_order(brand, order_in(), actor=None)
    assert err.value.field == "store_code"


def test_batch_earns_points_and_sets_tiers_like_single_orders(brand, store, tee):
    from omo.loyalty.models import LoyaltyAccount, PointsEntry, Tier

    Tier.objects.create(brand=brand, name="一般會員", threshold=0)
    gold = Tier.objects.create(brand=brand, name="金卡", threshold=150000)
    now = "2026-11-20T15:30:00+08:00"
    batch = [
        order_in(external_id="x1", placed_at=now, discounts=[]),  # 110000 -> 11 points
        order_in(external_id="x2", placed_at=now, discounts=[]),  # same customer: 22 points, spend 220000
        order_in(
            external_id="x3", placed_at=now, discounts=[], customer={"phone": "0922000000"}, status="placed"
        ),
    ]
    with _freeze("2026-11-21T00:00:00+08:00"):
        results = services.record_orders(brand, batch, actor=None)
    assert [r.status for r in results] == ["created", "created", "created"]
    account = LoyaltyAccount.objects.get(customer=results[0].order.customer)
    assert account.balance == 22 and account.lifetime_earned == 22
    assert account.rolling_spend == 220000 and account.tier_id == gold.pk
    assert sum(PointsEntry.objects.filter(customer=account.customer).values_list("delta", flat=True)) == 22
    assert not PointsEntry.objects.filter(order=results[2].order).exists()  # not paid yet


def _freeze(when: str):
    import time_machine

    return time_machine.travel(dt.datetime.fromisoformat(when), tick=False)


def test_batch_orders_are_attributed_in_one_pass(
    brand, store, clerk, tee, django_capture_on_commit_callbacks
):
    from omo.attribution.models import Attribution

    with django_capture_on_commit_callbacks(execute=True):
        results = services.record_orders(
            brand, [order_in(external_id="b1"), order_in(external_id="b2")], actor=None
        )
    rules = dict(Attribution.objects.values_list("order_id", "rule"))
    assert rules == {results[0].order.pk: "pos_staff", results[1].order.pk: "pos_staff"}
    assert set(Attribution.objects.values_list("clerk_id", flat=True)) == {clerk.pk}
