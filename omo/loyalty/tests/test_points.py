"""Points ledger rules: earn on paid orders from any sales channel, reverse on refund, expire FIFO."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from omo.commerce import services as commerce
from omo.commerce.schemas import OrderIn, RefundIn
from omo.core.audit import Actor
from omo.loyalty import services as loyalty
from omo.loyalty.models import LoyaltyAccount, PointsEntry, Tier
from omo.testing import factories as f


def pos_order(
    brand, store, *, external_id="R1", amount=250000, phone="0912345678", status="paid", placed_at=None
):
    data = OrderIn(
        source="pos",
        external_id=external_id,
        sales_channel="pos",
        store_code=store.code,
        placed_at=placed_at or timezone.now(),
        customer={"phone": phone, "name": "陳大文"},
        lines=[{"sku": "", "title": "外套", "quantity": 1, "unit_price": amount}],
        status=status,
    )
    order, _ = commerce.record_order(brand, data, actor=None)
    return order


def ledger_sum(customer) -> int:
    return sum(PointsEntry.objects.filter(customer=customer).values_list("delta", flat=True))


def test_paid_pos_order_earns_points_once(brand, store):
    placed_at = timezone.now()
    order = pos_order(brand, store, placed_at=placed_at)
    again, created = commerce.record_order(
        brand,
        OrderIn(  # the till sends the same sale again (a retry): same body
            source="pos",
            external_id="R1",
            sales_channel="pos",
            store_code=store.code,
            placed_at=placed_at,
            customer={"phone": "0912345678", "name": "陳大文"},
            lines=[{"sku": "", "title": "外套", "quantity": 1, "unit_price": 250000}],
            status="paid",
        ),
        actor=None,
    )
    assert not created and again.pk == order.pk
    account = LoyaltyAccount.objects.get(customer=order.customer)
    assert account.balance == 25
    assert PointsEntry.objects.filter(kind="earn").count() == 1


def test_placed_order_earns_nothing_until_paid(brand, store):
    order = pos_order(brand, store, status="placed")
    assert not PointsEntry.objects.exists()
    commerce.mark_paid(order, actor=None)
    assert loyalty.account_for(order.customer).balance == 25


def test_refund_reverses_the_refunded_share(brand, store):
    order = pos_order(brand, store, amount=200000)  # 20 points
    commerce.refund(order, RefundIn(external_id="rf1", amount=100000), actor=None)
    assert loyalty.account_for(order.customer).balance == 10
    commerce.refund(order, RefundIn(external_id="rf1", amount=100000), actor=None)  # repeat: no-op
    assert loyalty.account_for(order.customer).balance == 10
    commerce.refund(order, RefundIn(external_id="rf2", amount=100000), actor=None)
    order.refresh_from_db()
    assert order.status == "refunded"
    assert loyalty.account_for(order.customer).balance == 0
    assert ledger_sum(order.customer) == 0


def test_refund_cannot_exceed_what_is_left(brand, store):
    order = pos_order(brand, store, amount=100000)
    with pytest.raises(commerce.OrderError) as err:
        commerce.refund(order, RefundIn(external_id="x", amount=100001), actor=None)
    assert err.value.field == "amount"


def test_cancel_gives_back_points_spent_and_takes_back_points_earned(brand, store, hq_admin):
    order = pos_order(brand, store, amount=300000)  # earns 30
    customer = order.customer
    commerce.cancel(order, actor=None)
    assert loyalty.account_for(customer).balance == 0
    assert ledger_sum(customer) == 0


def test_manual_adjustment_needs_a_reason_and_is_audited(brand, hq_admin):
    from omo.core.models import AuditLog

    customer = f.make_customer(brand)
    actor = Actor(brand=brand, user=hq_admin)
    with pytest.raises(loyalty.LoyaltyError) as err:
        loyalty.adjust_points(customer, 10, reason="  ", actor=actor)
    assert err.value.field == "reason"
    loyalty.adjust_points(customer, 10, reason="客訴補償", actor=actor)
    assert AuditLog.objects.filter(action="points.adjusted", target_id=str(customer.pk)).count() == 1
    with pytest.raises(loyalty.InsufficientPoints):
        loyalty.adjust_points(customer, -11, reason="too much", actor=actor)
    assert loyalty.account_for(customer).balance == 10


def test_expiry_takes_only_unused_points_of_expired_lots(brand, store):
    now = timezone.now()
    old = pos_order(
        brand, store, external_id="old", amount=500000, placed_at=now - dt.timedelta(days=400)
    )  # 50
    customer = old.customer
    pos_order(brand, store, external_id="new", amount=200000, placed_at=now - dt.timedelta(days=10))  # 20
    actor = Actor.system(brand)
    loyalty.adjust_points(customer, -30, reason="折抵", actor=actor)  # spends from the oldest lot first
    assert loyalty.account_for(customer).balance == 40

    expired = loyalty.expire_points(brand, now=now)

    assert expired == 20  # 50 earned long ago - 30 spent
    assert loyalty.account_for(customer).balance == 20
    assert loyalty.expire_points(brand, now=now + dt.timedelta(seconds=1)) == 0  # nothing twice
    assert ledger_sum(customer) == 20


def test_tier_follows_rolling_twelve_month_spend(brand, store):
    Tier.objects.create(brand=brand, name="一般會員", threshold=0)
    silver = Tier.objects.create(brand=brand, name="銀卡", threshold=1000000)
    now = timezone.now()
    pos_order(brand, store, external_id="a", amount=600000, placed_at=now - dt.timedelta(days=500))
    order = pos_order(brand, store, external_id="b", amount=600000, placed_at=now - dt.timedelta(days=30))
    account = loyalty.recompute_tier(order.customer)
    assert account.rolling_spend == 600000  # the old order is outside the window
    assert account.tier.name == "一般會員"
    pos_order(brand, store, external_id="c", amount=500000)
    account.refresh_from_db()
    assert account.tier_id == silver.pk
    assert account.rolling_spend == 1100000


def test_nightly_task_expires_and_moves_tiers(brand, store):
    from omo.loyalty.tasks import nightly_loyalty, recompute_all_tiers

    Tier.objects.create(brand=brand, name="一般會員", threshold=0)
    gold = Tier.objects.create(brand=brand, name="金卡", threshold=300000)
    now = timezone.now()
    order = pos_order(brand, store, external_id="g", amount=400000, placed_at=now - dt.timedelta(days=300))
    account = loyalty.recompute_tier(order.customer)
    assert account.tier_id == gold.pk
    # Ninety days later the order has left the 12-month window.
    assert recompute_all_tiers(brand, now=now + dt.timedelta(days=90)) == 1
    account.refresh_from_db()
    assert account.tier.name == "一般會員" and account.rolling_spend == 0
    result = nightly_loyalty.call(brand.pk)
    assert result == {"points_expired": 0, "tier_changes": 1}
