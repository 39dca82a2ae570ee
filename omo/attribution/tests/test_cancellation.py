"""A cancelled attributed order gives its commission back once, and the statement shows it."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from django.test import TestCase
from django.utils import timezone

from omo.attribution import batch_sql, selectors, services
from omo.attribution.models import CommissionEntry, CommissionRule
from omo.attribution.tests.test_attribution import PHONE_UA, _order
from omo.commerce import services as commerce
from omo.commerce.models import Order
from omo.commerce.schemas import RefundIn
from omo.core import events
from omo.testing import factories as f


@pytest.fixture
def product(brand):
    return f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "M", 100000)])


@pytest.fixture
def customer(brand):
    return f.make_customer(brand, "林小姐", phone="+886911111111")


@pytest.fixture
def credited_order(brand, clerk, customer, product):
    """A paid web order of NT$1,000 credited to the clerk through a card click, at 10%."""
    CommissionRule.objects.create(
        brand=brand, rate_bp=1000, starts_on=timezone.localdate() - dt.timedelta(days=40)
    )
    link = services.issue_link(brand, clerk=clerk, product=product, customer=customer)
    services.record_click(link, user_agent=PHONE_UA)
    order = _order(brand, "web-1", customer=customer)
    assert order.attribution.clerk_id == clerk.pk
    return order


def _cancel(order: Order) -> None:
    with TestCase.captureOnCommitCallbacks(execute=True):
        commerce.cancel(Order.objects.get(pk=order.pk), actor=None, reason="顧客取消")


def test_cancelling_an_attributed_order_reverses_its_commission_once(brand, clerk, credited_order):
    _cancel(credited_order)
    # The event delivered again, and the service called again directly: nothing more is written.
    services.on_order_cancelled({"brand_id": brand.pk, "order_id": credited_order.pk})
    services.reverse_for_cancellation(credited_order.pk)

    entries = list(
        CommissionEntry.objects.filter(order=credited_order)
        .order_by("id")
        .values_list("kind", "clerk_id", "basis", "amount", "refund_id")
    )
    assert entries == [("sale", clerk.pk, 100000, 10000, None), ("cancel", clerk.pk, -100000, -10000, None)]


def test_cancellation_event_is_subscribed(brand, clerk, credited_order):
    assert services.on_order_cancelled in events._subscribers["order.cancelled"]


def test_only_what_is_still_held_is_reversed(brand, clerk, credited_order):
    with TestCase.captureOnCommitCallbacks(execute=True):
        commerce.refund(credited_order, RefundIn(external_id="r1", amount=40000), actor=None)
    # An order system that cancels the rest of a partly refunded order (commerce itself refuses it).
    Order.objects.filter(pk=credited_order.pk).update(status="cancelled", cancelled_at=timezone.now())

    services.reverse_for_cancellation(credited_order.pk)
    services.reverse_for_cancellation(credited_order.pk)

    cancel = CommissionEntry.objects.get(kind="cancel")
    assert (cancel.basis, cancel.amount) == (-60000, -6000)
    assert sum(CommissionEntry.objects.values_list("amount", flat=True)) == 0


def test_an_order_that_is_not_cancelled_or_not_credited_reverses_nothing(brand, customer, credited_order):
    assert services.reverse_for_cancellation(credited_order.pk) == []
    stranger = _order(
        brand,
        "web-2",
        customer=f.make_customer(brand, "張先生", phone="+886922222222"),
        placed_at=timezone.now() - dt.timedelta(days=60),
    )
    _cancel(stranger)
    assert CommissionEntry.objects.filter(order=stranger).count() == 0
    assert CommissionEntry.objects.filter(kind="cancel").count() == 0


def test_cancellation_shows_in_the_month_it_happens_in_the_statement_and_csv(brand, clerk, credited_order):
    next_month = (timezone.localdate().replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    zone = selectors.brand_zone(brand)
    cancelled_at = dt.datetime(next_month.year, next_month.month, 3, 10, 0, tzinfo=zone)
    Order.objects.filter(pk=credited_order.pk).update(status="cancelled", cancelled_at=cancelled_at)

    services.reverse_for_cancellation(credited_order.pk)

    this_month = timezone.localtime(credited_order.placed_at, zone).date().replace(day=1)
    assert [e.kind for e in selectors.statement_entries(brand, clerk, this_month)] == ["sale"]
    assert [e.kind for e in selectors.statement_entries(brand, clerk, next_month)] == ["cancel"]
    summary = selectors.clerk_month_summary(brand, clerk, next_month)
    assert (summary.commission, summary.reversals, summary.orders) == (-10000, -10000, 0)

    rows = list(csv.reader(io.StringIO(selectors.statement_csv(brand, clerk, next_month).lstrip("\ufeff"))))
    assert rows[1][1] == "cancel"
    assert rows[1][2] == credited_order.display_number
    assert "訂單已取消" in rows[1][6] and "Order cancelled" in rows[1][6]
    assert rows[1][7:] == ["-1000.00", "-100.00"]
    assert rows[-1][7:] == ["-1000.00", "-100.00"]


def test_the_batch_still_ignores_a_repeated_sale_after_the_constraint_change(brand, clerk, credited_order):
    """The batch's conflict target names the sale-once constraint (PostgreSQL checks it matches)."""
    CommissionEntry.objects.filter(order=credited_order).delete()
    from omo.attribution.models import Attribution

    Attribution.objects.filter(order=credited_order).delete()
    stats = services.attribute_orders(brand, [credited_order.pk])
    again = services.attribute_orders(brand, [credited_order.pk])
    assert (stats.commission_entries, again.considered) == (1, 0)
    assert CommissionEntry.objects.filter(order=credited_order, kind="sale").count() == 1


def _cancel_while_deciding(monkeypatch, order_id: int) -> None:
    """Make the cancellation land (and its own reversal run) while the sale is being written: the
    reversal then finds no sale to give back, as when another process cancels mid-decision."""
    real = services.commission_for

    def cancelling(*args, **kwargs):
        Order.objects.filter(pk=order_id).update(status="cancelled", cancelled_at=timezone.now())
        assert services.reverse_for_cancellation(order_id) == []  # nothing held yet
        return real(*args, **kwargs)

    # where the live path (services.orders) and the batch (services.batch) compute commission
    monkeypatch.setattr(services.orders, "commission_for", cancelling)
    monkeypatch.setattr(services.batch, "commission_for", cancelling)


@pytest.mark.parametrize("path", ["live", "batch"])
def test_a_cancellation_racing_the_sale_is_still_reversed(monkeypatch, brand, clerk, customer, product, path):
    CommissionRule.objects.create(
        brand=brand, rate_bp=1000, starts_on=timezone.localdate() - dt.timedelta(days=40)
    )
    link = services.issue_link(brand, clerk=clerk, product=product, customer=customer)
    services.record_click(link, user_agent=PHONE_UA)
    with monkeypatch.context() as patch:
        patch.setattr(services, "on_order_recorded", lambda payload: None)  # decide below, not on ingest
        patch.setitem(events._subscribers, "order.recorded", [])
        order = _order(brand, "web-race", customer=customer)
    assert not CommissionEntry.objects.filter(order=order).exists()

    _cancel_while_deciding(monkeypatch, order.pk)
    monkeypatch.setattr(batch_sql, "usable", lambda ctx: False)  # the path that calls commission_for
    with TestCase.captureOnCommitCallbacks(execute=True):
        if path == "live":
            services.attribute_order(order.pk)
        else:
            services.attribute_orders(brand, [order.pk])

    kinds = sorted(CommissionEntry.objects.filter(order=order).values_list("kind", "amount"))
    assert kinds == [("cancel", -10000), ("sale", 10000)]


def test_settle_cancelled_reverses_only_cancelled_credited_orders_once(
    brand, clerk, credited_order, customer
):
    other = _order(brand, "web-kept", customer=customer)
    Order.objects.filter(pk=credited_order.pk).update(status="cancelled", cancelled_at=timezone.now())
    assert services.settle_cancelled(brand.pk, [credited_order.pk, other.pk]) == 1
    services.settle_cancelled(brand.pk, [credited_order.pk, other.pk])
    assert CommissionEntry.objects.filter(kind="cancel").count() == 1
    assert CommissionEntry.objects.filter(order=other, kind="cancel").count() == 0
