"""`omo followups sweep`: finds the follow-up work missing for rows written before durable
subscribers existed (or around the services), per brand and kind, and repairs it idempotently."""

from __future__ import annotations

import datetime as dt
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from omo.analytics import rollups
from omo.analytics.models import CustomerActivity
from omo.attribution import services as attribution
from omo.attribution.models import Attribution
from omo.binding.models import Binding
from omo.commerce import services as commerce
from omo.commerce.schemas import OrderIn
from omo.core.models import FollowUp
from omo.outgoing_webhooks import services as webhooks
from omo.outgoing_webhooks.models import WebhookDelivery, WebhookEndpoint
from omo.testing import factories as f
from omo.tracking.models import TrackedEvent

pytestmark = pytest.mark.django_db

PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari Line/13.20.0"


def _sweep(*args: str) -> dict[str, int]:
    out = StringIO()
    call_command("followups", "sweep", *args, stdout=out)
    counts = {}
    for line in out.getvalue().splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[1].isdigit():
            counts[parts[0]] = int(parts[1])
    return counts


def _world(brand, store, phone: str):
    """An order, a binding and a webhook endpoint whose follow-ups never ran (no commit hooks in
    this test, and the owed rows removed, as for data written before they existed)."""
    clerk = f.make_user(brand, f"clerk-{brand.slug}", role="clerk", store=store, employee_code="E001")
    product = f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "M", 100000)])
    rollups.rebuild(brand)
    WebhookEndpoint.objects.create(
        brand=brand, url="https://erp.example.com/hook", topics=["order.attributed"], secret_encrypted="x"
    )
    webhooks.forget_endpoints(brand.pk)
    order, _ = commerce.record_order(
        brand,
        OrderIn.model_validate(
            {
                "source": "pos",
                "external_id": f"POS-{brand.slug}",
                "sales_channel": "pos",
                "store_code": store.code,
                "staff_code": "E001",
                "placed_at": timezone.now().isoformat(),
                "status": "paid",
                "customer": {"phone": phone, "name": "林小姐"},
                "lines": [{"sku": "TEE-M", "title": "有機棉T恤 M", "quantity": 1, "unit_price": 100000}],
            }
        ),
        actor=None,
    )
    Binding.objects.create(
        brand=brand,
        customer_id=order.customer_id,
        clerk=clerk,
        store=store,
        source="manual",
        started_at=timezone.now(),
    )
    link = attribution.issue_link(brand, clerk=clerk, product=product, customer=order.customer)
    attribution.record_click(link, user_agent=PHONE_UA)
    FollowUp.objects.filter(brand=brand).delete()
    return order


def test_sweep_counts_the_gaps_then_repairs_them_once(brand, store, other_brand):
    order = _world(brand, store, "+886911222333")
    other_order = _world(other_brand, f.make_store(other_brand, code="KHH01"), "+886911222444")

    found = _sweep("--brand", brand.slug, "--dry-run")
    assert found == {
        "attribution.orders": 1,
        "rollup.customers": 1,
        "timeline.bindings": 1,
        "timeline.clicks": 1,
        "timeline.messages": 0,
        "timeline.orders": 1,
        "webhooks.deliveries": 0,  # nothing was attributed yet, so no event is owed
        "followups.owed": 0,
    }
    assert not Attribution.objects.filter(order=order).exists()  # a dry run repairs nothing

    repaired = _sweep("--brand", brand.slug)
    assert repaired["attribution.orders"] == 1 and repaired["timeline.orders"] == 1
    assert Attribution.objects.get(order=order).clerk_id is not None
    assert set(TrackedEvent.objects.filter(brand=brand).values_list("event", flat=True)) == {
        "Order Completed",
        "Clerk Bound",
        "Product Clicked",
    }
    assert CustomerActivity.objects.filter(brand=brand, customer_id=order.customer_id).exists()
    assert WebhookDelivery.objects.filter(brand=brand, topic="order.attributed").count() == 1

    # Repaired means nothing is left, and a second sweep changes nothing.
    FollowUp.objects.filter(brand=brand).delete()  # the attribution's own owed rows (no commit here)
    again = _sweep("--brand", brand.slug)
    assert {kind: count for kind, count in again.items() if count} == {}
    assert WebhookDelivery.objects.filter(brand=brand).count() == 1
    assert TrackedEvent.objects.filter(brand=brand).count() == 3

    # The other brand was left alone.
    assert not Attribution.objects.filter(order=other_order).exists()
    assert not TrackedEvent.objects.filter(brand=other_brand).exists()


def test_since_leaves_out_older_rows(brand, store):
    _world(brand, store, "+886911222333")
    tomorrow = (timezone.localdate() + dt.timedelta(days=2)).isoformat()
    found = _sweep("--brand", brand.slug, "--dry-run", "--since", tomorrow)
    assert {kind: count for kind, count in found.items() if count} == {}


def test_unknown_brand_slug_is_a_clear_error(brand):
    with pytest.raises(CommandError, match="no brand with slug 'nope'"):
        call_command("followups", "sweep", "--brand", "nope")


@pytest.mark.parametrize("bad", ["2026-13-01", "yesterday", "2026/12/01"])
def test_a_bad_date_is_a_clear_error(brand, bad):
    with pytest.raises(CommandError, match="must be a date YYYY-MM-DD"):
        call_command("followups", "sweep", "--since", bad)


def test_sweep_needs_an_action():
    with pytest.raises(CommandError):
        call_command("followups")
