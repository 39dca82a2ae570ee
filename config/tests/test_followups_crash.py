"""A process killed between an order's commit and its follow-up work loses nothing: the worker's
retry pass writes the attribution, the timeline event, the webhook delivery and the customer's
rollup activity, each exactly once. (Here, not beside one app: the test spans all of them.)"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys

import pytest
from django.utils import timezone

from omo.analytics import rollups
from omo.analytics.models import CustomerActivity, SalesDay
from omo.attribution.models import Attribution, CommissionEntry
from omo.commerce.models import Order
from omo.core.models import FollowUp
from omo.core.tests.processes import REPO_ROOT, child_env, database_url_of_test_db
from omo.core.worker import WakingWorker
from omo.outgoing_webhooks import services as webhooks
from omo.outgoing_webhooks.models import WebhookDelivery, WebhookEndpoint
from omo.testing import factories as f
from omo.tracking.models import TrackedEvent

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

# Records one order through the real service, then dies right after the commit: the first commit
# hook (registered before the service's own) ends the process before any follow-up runs.
CHILD = r"""
import json, os, sys
import django
django.setup()
from django.db import transaction
from omo.commerce import services
from omo.commerce.schemas import OrderIn
from omo.core.models import Brand

brand = Brand.objects.get(pk=int(sys.argv[1]))
with transaction.atomic():
    transaction.on_commit(lambda: os._exit(0))
    services.record_order(brand, OrderIn.model_validate(json.loads(sys.argv[2])), actor=None)
os._exit(3)
"""


def _waking_worker() -> WakingWorker:
    return WakingWorker.for_all_queues("crash-test:1")


def test_an_order_whose_process_died_after_commit_gets_every_follow_up_exactly_once(
    brand, store, time_machine
):
    clerk = f.make_user(brand, "clerk", role="clerk", store=store, employee_code="E001")
    f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "M", 100000)])
    rollups.rebuild(brand)
    endpoint = WebhookEndpoint.objects.create(
        brand=brand, url="https://erp.example.com/hook", topics=["order.attributed"], secret_encrypted="x"
    )
    webhooks.forget_endpoints(brand.pk)
    order_data = {
        "source": "pos",
        "external_id": "POS-CRASH-1",
        "sales_channel": "pos",
        "store_code": store.code,
        "staff_code": "E001",
        "placed_at": timezone.now().isoformat(),
        "status": "paid",
        "customer": {"phone": "+886911222333", "name": "林小姐"},
        "lines": [{"sku": "TEE-M", "title": "有機棉T恤 M", "quantity": 2, "unit_price": 100000}],
    }

    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(brand.pk), json.dumps(order_data)],
        cwd=REPO_ROOT,
        env=child_env(DATABASE_URL=database_url_of_test_db(), DJANGO_SETTINGS_MODULE="config.settings"),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert child.returncode == 0, child.stderr

    # Committed: the order and its sales cells (written in its transaction); nothing after it.
    order = Order.objects.get(brand=brand, external_id="POS-CRASH-1")
    assert SalesDay.objects.filter(brand=brand).values_list("orders", "net").get() == (1, 200000)
    assert not Attribution.objects.filter(order=order).exists()
    assert not TrackedEvent.objects.filter(brand=brand).exists()
    assert not CustomerActivity.objects.filter(brand=brand).exists()
    owed = set(FollowUp.objects.filter(brand=brand).values_list("subscriber", flat=True))
    assert {
        "attribution.order_recorded",
        "tracking.order.recorded",
        "analytics.order_recorded",
    } <= owed

    # An idle worker's pass, once the rows are due (first due FIRST_RETRY_AFTER after the event).
    time_machine.move_to(timezone.now() + dt.timedelta(minutes=5), tick=True)
    delivered, failed = _waking_worker().deliver_followups()
    assert failed == 0 and delivered >= 3
    assert _waking_worker().deliver_followups() == (0, 0)  # another worker's pass: nothing left

    attribution = Attribution.objects.get(order=order)
    assert (attribution.rule, attribution.clerk_id) == ("pos_staff", clerk.pk)
    assert CommissionEntry.objects.filter(order=order).count() <= 1  # one sale entry at most, never two
    timeline = dict(
        TrackedEvent.objects.filter(brand=brand, customer_id=order.customer_id).values_list(
            "event", "message_id"
        )
    )
    assert TrackedEvent.objects.filter(brand=brand).count() == 2  # the order and the points it earned
    assert timeline["Order Completed"] == f"omo:order:{order.pk}:completed"
    assert timeline["Points Earned"].startswith("omo:points:")
    assert WebhookDelivery.objects.filter(endpoint=endpoint, topic="order.attributed").count() == 1
    assert SalesDay.objects.filter(brand=brand).values_list("orders", "net").get() == (1, 200000)
    assert (
        CustomerActivity.objects.filter(brand=brand, customer_id=order.customer_id).count() == 2
    )  # brand + store
    assert not FollowUp.objects.filter(brand=brand).exists()
