"""Server-recorded events: every channel on the customer's timeline, once, at the real time."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from omo.attribution import services as attribution
from omo.binding import services as binding
from omo.commerce import services as commerce
from omo.commerce.schemas import OrderIn, RefundIn
from omo.core.audit import Actor
from omo.inbox.models import Contact, Conversation, Inbox, Message
from omo.loyalty import services as loyalty
from omo.loyalty.models import Coupon
from omo.testing import factories as f
from omo.tracking import server_events
from omo.tracking.models import TrackedEvent

PLACED = "2026-11-20T15:30:00+08:00"
PHONE_UA = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari/604.1"


@pytest.fixture
def tee(brand):
    return f.make_product(brand, "短T", variants=[("TEE-M", "M", 59000)])


def order_in(external_id: str = "TPE01-000123", **overrides) -> OrderIn:
    body = {
        "source": "pos-erp",
        "external_id": external_id,
        "name": external_id,
        "sales_channel": "pos",
        "store_code": "TPE01",
        "placed_at": PLACED,
        "customer": {"phone": "0912345678", "name": "陳大文"},
        "lines": [{"sku": "TEE-M", "quantity": 2, "unit_price": 59000, "discount": 8000}],
        "shipping_total": 0,
        "status": "paid",
    }
    body.update(overrides)
    return OrderIn.model_validate(body)


def timeline_rows(customer_id: int) -> list[tuple[str, str]]:
    return list(
        TrackedEvent.objects.filter(customer_id=customer_id)
        .order_by("timestamp", "id")
        .values_list("event", "message_id")
    )


def test_pos_order_lands_on_the_customer_timeline_once(brand, store, tee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = commerce.record_order(brand, order_in(), actor=None)
    event = TrackedEvent.objects.get(message_id=f"omo:order:{order.pk}:completed")
    assert event.source_id is None and event.type == "track" and event.event == "Order Completed"
    assert event.customer_id == order.customer_id and event.brand_id == brand.pk
    assert event.timestamp == dt.datetime.fromisoformat(PLACED)
    props = event.properties
    assert props["order_id"] == str(order.pk) and props["order_number"] == "TPE01-000123"
    assert props["sales_channel"] == "pos" and props["store"] == store.name
    assert props["total"] == 1100.0 and props["currency"] == "TWD"
    line = order.lines.get()
    assert props["products"] == [
        {"sku": "TEE-M", "name": line.title, "quantity": 2, "price": 590.0, "product_id": str(tee.pk)}
    ]
    assert props["revenue"] == 1100.0 and props["discount"] == 0.0
    # Points earned for the paid order are on the same timeline.
    assert TrackedEvent.objects.filter(customer_id=order.customer_id, event="Points Earned").count() == 1
    # Replaying the domain event is a no-op.
    before = TrackedEvent.objects.count()
    server_events.on_order_recorded(
        {
            "brand_id": brand.pk,
            "order_id": order.pk,
            "sales_channel": "pos",
            "status": "paid",
            "created": True,
            "in_batch": False,
        }
    )
    assert TrackedEvent.objects.count() == before


def test_order_without_customer_is_not_recorded(brand, store, tee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = commerce.record_order(brand, order_in(customer=None), actor=None)
    assert not TrackedEvent.objects.filter(message_id__startswith=f"omo:order:{order.pk}:").exists()


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}


def test_batch_of_orders_goes_to_a_task_and_lands_once(
    brand, store, tee, immediate_tasks, django_capture_on_commit_callbacks
):
    orders = [order_in(f"B-{i}", customer={"phone": f"09123450{i:02d}"}) for i in range(12)]
    with django_capture_on_commit_callbacks(execute=True):
        results = commerce.record_orders(brand, orders, actor=None)
    completed = TrackedEvent.objects.filter(event="Order Completed")
    assert sorted(completed.values_list("message_id", flat=True)) == sorted(
        f"omo:order:{r.order.pk}:completed" for r in results
    )
    assert TrackedEvent.objects.filter(event="Points Earned").count() == 12


def test_batch_costs_the_same_queries_whatever_its_size(
    brand, store, tee, django_capture_on_commit_callbacks
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    orders = [order_in(f"B-{i}", customer={"phone": f"09123450{i:02d}"}) for i in range(12)]
    with django_capture_on_commit_callbacks(execute=False):
        results = commerce.record_orders(brand, orders, actor=None)
    order_ids = [r.order.pk for r in results]
    with CaptureQueriesContext(connection) as small:
        server_events.record_orders(order_ids[:2])
    with CaptureQueriesContext(connection) as large:
        server_events.record_orders(order_ids[2:])
    assert len(large.captured_queries) == len(small.captured_queries) <= 8
    assert TrackedEvent.objects.filter(event="Order Completed").count() == 12


def test_refund_and_cancellation(brand, store, tee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = commerce.record_order(brand, order_in(), actor=None)
        other, _ = commerce.record_order(brand, order_in("TPE01-000124"), actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        refund, _ = commerce.refund(order, RefundIn(external_id="R1", amount=30000), actor=None)
        commerce.cancel(other, actor=None)
    refunded = TrackedEvent.objects.get(event="Order Refunded")
    assert refunded.message_id == f"omo:order:{order.pk}:refund:{refund.pk}"
    assert refunded.properties["amount"] == 300.0 and refunded.customer_id == order.customer_id
    cancelled = TrackedEvent.objects.get(event="Order Cancelled")
    assert cancelled.message_id == f"omo:order:{other.pk}:cancelled"


def test_chat_messages_in_and_out_but_not_notes(brand, clerk, django_capture_on_commit_callbacks):
    customer = f.make_customer(brand, "林小姐", phone="+886911111111")
    inbox = Inbox.objects.create(brand=brand, platform="line", name="官方帳號")
    contact = Contact.objects.create(brand=brand, inbox=inbox, external_user_id="U1", customer=customer)
    conversation = Conversation.objects.create(brand=brand, inbox=inbox, contact=contact, customer=customer)
    made = {}
    for direction, text in (("in", "請問有 M 號嗎"), ("out", "有的"), ("internal", "VIP")):
        made[direction] = Message.objects.create(
            brand=brand,
            conversation=conversation,
            direction=direction,
            kind="text",
            text=text,
            status="received",
            sender=clerk if direction != "in" else None,
        )
        server_events.on_message_created(
            {
                "brand_id": brand.pk,
                "conversation_id": conversation.pk,
                "message_id": made[direction].pk,
                "direction": direction,
            }
        )
    rows = timeline_rows(customer.pk)
    assert rows == [
        ("Message Received", f"omo:message:{made['in'].pk}"),
        ("Message Sent", f"omo:message:{made['out'].pk}"),
    ]
    sent = TrackedEvent.objects.get(event="Message Sent")
    assert sent.properties["platform"] == "line" and sent.properties["preview"] == "有的"
    assert sent.properties["staff_id"] == clerk.pk


def test_tracked_link_click_but_not_preview(brand, clerk, tee, django_capture_on_commit_callbacks):
    customer = f.make_customer(brand, "林小姐", phone="+886911111111")
    link = attribution.issue_link(brand, clerk=clerk, product=tee, customer=customer)
    with django_capture_on_commit_callbacks(execute=True):
        click = attribution.record_click(link, user_agent=PHONE_UA).click
        attribution.record_click(link, user_agent="facebookexternalhit/1.1")
    event = TrackedEvent.objects.get(customer=customer)
    assert (event.event, event.message_id) == ("Product Clicked", f"omo:click:{click.pk}")
    assert event.properties["product_id"] == str(tee.pk) and event.properties["clerk_id"] == clerk.pk


def test_binding_and_unbinding(brand, store, clerk, hq_admin, django_capture_on_commit_callbacks):
    customer = f.make_customer(brand, "林小姐", phone="+886911111111")
    with django_capture_on_commit_callbacks(execute=True):
        result = binding.bind_customer(customer, clerk, source="qr")
    with django_capture_on_commit_callbacks(execute=True):
        binding.end_binding(result.binding, actor=Actor(user=hq_admin, brand=brand), reason="left")
    bound = result.binding.pk
    assert timeline_rows(customer.pk) == [
        ("Clerk Bound", f"omo:binding:{bound}:bound"),
        ("Clerk Unbound", f"omo:binding:{bound}:ended"),
    ]
    unbound = TrackedEvent.objects.get(event="Clerk Unbound")
    assert unbound.properties["clerk_id"] == clerk.pk and unbound.properties["reason"] == "left"


def test_points_and_coupons(brand, hq_admin, django_capture_on_commit_callbacks):
    customer = f.make_customer(brand, "林小姐", phone="+886911111111")
    actor = Actor(user=hq_admin, brand=brand)
    coupon = loyalty.create_coupon(
        brand, actor=actor, name="生日禮", kind=Coupon.Kind.AMOUNT_OFF, value=10000
    )
    with django_capture_on_commit_callbacks(execute=True):
        entry = loyalty.adjust_points(customer, 50, reason="客訴補償", actor=actor)
        (code,) = loyalty.issue_codes(coupon, [customer], actor=actor)
    adjusted = TrackedEvent.objects.get(event="Points Adjusted")
    assert adjusted.message_id == f"omo:points:{entry.pk}" and adjusted.properties["points"] == 50
    issued = TrackedEvent.objects.get(event="Coupon Issued")
    assert issued.customer_id == customer.pk and issued.properties["coupon"] == code.code
    assert issued.message_id == f"omo:coupon_code:{code.pk}:issued"


def test_replay_of_every_kind_is_a_no_op(brand, store, clerk, tee, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = commerce.record_order(brand, order_in(), actor=None)
        binding.bind_customer(order.customer, clerk, source="qr", at=timezone.now())
    count = TrackedEvent.objects.count()
    assert count >= 3
    server_events.record_orders([order.pk])
    server_events.record_points(list(order.customer.points_entries.values_list("pk", flat=True)))
    server_events.record_binding(order.customer.bindings.get().pk, ended=False)
    assert TrackedEvent.objects.count() == count
