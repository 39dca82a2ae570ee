"""From the real domain services to the receiver: order.attributed (live and batch), binding.created,
customer.merged; nothing for a transaction that rolled back."""

from __future__ import annotations

import json

import pytest
from django.db import transaction
from django.test import TestCase
from django.utils import timezone

from omo.binding import services as binding_services
from omo.commerce import services as commerce
from omo.commerce.schemas import OrderIn
from omo.core import events
from omo.customers.models import CustomerMerge
from omo.outgoing_webhooks import services, signing
from omo.outgoing_webhooks.models import WebhookDelivery
from omo.outgoing_webhooks.topics import event_id
from omo.testing import factories as f

pytestmark = pytest.mark.usefixtures("immediate_tasks")


@pytest.fixture
def tee(brand):
    return f.make_product(brand, "短T", variants=[("TEE-M", "M", 59000)]).variants.get()


def pos_order(external_id: str, **overrides) -> OrderIn:
    body = {
        "source": "pos-erp",
        "external_id": external_id,
        "name": external_id,
        "sales_channel": "pos",
        "store_code": "TPE01",
        "staff_code": "E001",
        "placed_at": timezone.now().isoformat(),
        "lines": [{"sku": "TEE-M", "quantity": 2, "unit_price": 59000}],
        "status": "paid",
    }
    body.update(overrides)
    return OrderIn.model_validate(body)


def events_of(receiver, topic: str) -> list[dict]:
    return [json.loads(r.body) for r in receiver.requests if json.loads(r.body)["type"] == topic]


def test_an_attributed_pos_order_is_sent_with_order_clerk_and_store(brand, store, clerk, tee, hook, receiver):
    _, secret = hook
    clerk.display_name = "陳店員"
    clerk.save(update_fields=["display_name"])
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = commerce.record_order(brand, pos_order("TPE01-000777"), actor=None)
    (event,) = events_of(receiver, "order.attributed")
    assert event["id"] == event_id(brand.pk, "order.attributed", order.pk)
    assert event["brand_id"] == brand.pk
    data = event["data"]
    assert data["order"]["id"] == order.pk
    assert data["order"]["number"] == "TPE01-000777"
    assert (data["order"]["total"], data["order"]["subtotal"], data["order"]["currency"]) == (
        118000,
        118000,
        "TWD",
    )
    assert data["order"]["sales_channel"] == "pos" and data["order"]["status"] == "paid"
    assert data["clerk"] == {"id": clerk.pk, "name": "陳店員", "employee_code": "E001"}
    assert data["store"] == {"id": store.pk, "code": "TPE01", "name": "台北信義店"}
    assert data["rule"] == "pos_staff"
    assert "E001" in data["reason"]["zh_hant"] and data["reason"]["en"]
    (request,) = [r for r in receiver.requests if json.loads(r.body)["type"] == "order.attributed"]
    assert signing.verify(
        secret,
        event_id=request.headers["Omo-Webhook-Id"],
        timestamp=request.headers["Omo-Webhook-Timestamp"],
        body=request.body,
        header=request.headers["Omo-Signature"],
    )
    assert WebhookDelivery.objects.get(event_id=event["id"]).status == "delivered"


def test_an_order_credited_to_nobody_sends_nothing(brand, store, tee, hook, receiver):
    with TestCase.captureOnCommitCallbacks(execute=True):
        commerce.record_order(brand, pos_order("W-1", sales_channel="web_shop", staff_code=""), actor=None)
    assert events_of(receiver, "order.attributed") == []


def test_a_batch_publishes_once_per_credited_order(brand, store, clerk, tee, hook, receiver):
    with TestCase.captureOnCommitCallbacks(execute=True):
        results = commerce.record_orders(
            brand,
            [pos_order("B-1"), pos_order("B-2"), pos_order("B-3", sales_channel="web_shop", staff_code="")],
            actor=None,
        )
    sent = events_of(receiver, "order.attributed")
    credited = {results[0].order.pk, results[1].order.pk}
    assert sorted(e["data"]["order"]["id"] for e in sent) == sorted(credited)
    assert {e["data"]["clerk"]["id"] for e in sent} == {clerk.pk}
    # attributing the same orders again decides nothing and sends nothing
    from omo.attribution import services as attribution

    with TestCase.captureOnCommitCallbacks(execute=True):
        attribution.attribute_orders(brand, sorted(credited))
    assert len(events_of(receiver, "order.attributed")) == 2


def test_a_binding_is_sent_with_customer_clerk_and_store(brand, store, clerk, hook, receiver):
    customer = f.make_customer(brand, "林小姐", phone="+886911111111", member_number="M0001")
    with TestCase.captureOnCommitCallbacks(execute=True):
        result = binding_services.bind_customer(customer, clerk, source="manual")
    (event,) = events_of(receiver, "binding.created")
    assert event["id"] == event_id(brand.pk, "binding.created", result.binding.pk)
    data = event["data"]
    assert data["binding_id"] == result.binding.pk and data["source"] == "manual"
    assert data["customer"] == {"id": customer.pk, "member_number": "M0001"}
    assert data["clerk"]["id"] == clerk.pk and data["store"]["code"] == "TPE01"
    assert data["started_at"].endswith("Z")
    assert "+886911111111" not in receiver.requests[-1].body.decode()  # contact details never leave


def test_a_customer_merge_is_sent_with_survivor_and_merged_ids(brand, hook, receiver):
    survivor = f.make_customer(brand, "王小明", phone="+886912345678", member_number="M0002")
    merged = f.make_customer(brand, "王小明", phone="+886922222222")
    merge = CustomerMerge.objects.create(
        brand=brand,
        survivor=survivor,
        merged=merged,
        automatic=True,
        reason="同一支手機",
        trigger_kind="phone",
    )
    # (published directly: the merge service publishes exactly this after its commit)
    with TestCase.captureOnCommitCallbacks(execute=True):
        events.publish(
            "customer.merged",
            brand_id=brand.pk,
            merge_id=merge.pk,
            survivor_id=survivor.pk,
            merged_id=merged.pk,
            automatic=True,
        )
    (event,) = events_of(receiver, "customer.merged")
    assert event["data"] == {
        "merge_id": merge.pk,
        "survivor_id": survivor.pk,
        "merged_id": merged.pk,
        "survivor": {"id": survivor.pk, "member_number": "M0002"},
        "automatic": True,
        "reason": "同一支手機",
        "trigger_kind": "phone",
    }


def test_an_endpoint_gets_only_its_topics(brand, actor, store, clerk, receiver):
    services.create_endpoint(brand, url=receiver.url, topics=["customer.merged"], actor=actor)
    customer = f.make_customer(brand, "林小姐", phone="+886911111111")
    with TestCase.captureOnCommitCallbacks(execute=True):
        binding_services.bind_customer(customer, clerk, source="manual")
    assert receiver.requests == []


@pytest.mark.django_db(transaction=True)
def test_events_of_a_rolled_back_transaction_send_nothing(brand, store, clerk, hook, receiver):
    customer = f.make_customer(brand, "林小姐", phone="+886911111111")
    with pytest.raises(RuntimeError), transaction.atomic():
        binding_services.bind_customer(customer, clerk, source="manual")
        raise RuntimeError("the caller failed after binding")
    assert not WebhookDelivery.objects.exists()
    assert receiver.requests == []
    # the same, committed, is sent (so the test above could fail)
    binding_services.bind_customer(customer, clerk, source="manual")
    assert [json.loads(r.body)["type"] for r in receiver.requests] == ["binding.created"]
    assert WebhookDelivery.objects.get().status == "delivered"


def test_a_merge_by_the_merge_service_is_sent(brand, actor, hook, receiver):
    from omo.customers.merge import merge_customers

    survivor = f.make_customer(brand, "王小明", phone="+886912345678", member_number="M0003")
    merged = f.make_customer(brand, "王小明", phone="+886933333333")
    with TestCase.captureOnCommitCallbacks(execute=True):
        merge = merge_customers(survivor, merged, actor=actor, reason="客服確認為同一人")
    (event,) = events_of(receiver, "customer.merged")
    assert event["id"] == event_id(brand.pk, "customer.merged", merge.pk)
    assert (event["data"]["survivor_id"], event["data"]["merged_id"]) == (survivor.pk, merged.pk)
    assert event["data"]["automatic"] is False and event["data"]["reason"] == "客服確認為同一人"
