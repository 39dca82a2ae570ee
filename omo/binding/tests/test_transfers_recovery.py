"""Transfers of one or all customers (audited, undoable for 30 days) and recovery by phone with consent."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from omo.binding import selectors, services
from omo.binding.models import Binding, RecoveryRequest
from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.devtools import line_webhook_sender as wh
from omo.inbox.models import Conversation, Message
from omo.platforms.tasks import process_pending
from omo.testing import clock
from omo.testing import factories as f
from omo.testing.line import post_line_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk2(brand, store):
    return f.make_user(brand, "clerk2", role="clerk", store=store, employee_code="E002")


def actor_of(user):
    return Actor(brand=user.brand, user=user, role=user.role)


def bound(brand, clerk, n: int):
    customers = [f.make_customer(brand, name=f"顧客{i}", phone=f"+88691200000{i}") for i in range(n)]
    for customer in customers:
        services.bind_customer(customer, clerk, source="manual")
    return customers


def test_transfer_one_customer_to_another_clerk_and_undo(brand, clerk, clerk2, manager):
    first, second = bound(brand, clerk, 2)
    transfer = services.transfer_bindings(
        clerk, to_clerk=clerk2, customer_ids=[first.pk], actor=actor_of(manager), reason="休假"
    )
    assert selectors.current_binding(first).clerk == clerk2
    assert selectors.current_binding(second).clerk == clerk
    log = AuditLog.objects.get(action="binding.transferred")
    assert log.detail["customers"] == [first.pk] and log.actor_user == manager
    result = services.undo_transfer(transfer, actor=actor_of(manager))
    assert (result.restored, result.skipped) == ([first.pk], [])
    assert selectors.current_binding(first).clerk == clerk
    assert AuditLog.objects.filter(action="binding.transfer_undone").count() == 1
    with pytest.raises(services.BindingError, match="already undone"):
        services.undo_transfer(transfer, actor=actor_of(manager))


def test_transfer_all_to_the_store_routes_conversations_to_the_store_team(brand, store, clerk, hq_admin):
    customers = bound(brand, clerk, 3)
    transfer = services.transfer_bindings(clerk, to_store=store, actor=actor_of(hq_admin), reason="離職")
    assert Binding.objects.filter(ended_at__isnull=True).count() == 0
    assert len(transfer.moved_bindings) == 3 and all(new is None for _, new in transfer.moved_bindings)
    assert all(selectors.current_binding(c) is None for c in customers)
    result = services.undo_transfer(transfer, actor=actor_of(hq_admin))
    assert sorted(result.restored) == sorted(c.pk for c in customers)


@pytest.mark.parametrize(
    ("queue", "reason"),
    [
        pytest.param("store", "store_owned", marks=clock.STORES_OPEN),
        pytest.param("hq", "store_closed", marks=clock.STORES_CLOSED),
    ],
)
def test_transfer_to_store_with_a_conversation(
    brand, store, clerk, hq_admin, line_inbox, line_standin, line_user, queue, reason
):
    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, "你好"))
    process_pending(line_inbox.pk)
    conversation = Conversation.objects.get()
    services.bind_customer(conversation.customer, clerk, source="manual")
    services.transfer_bindings(clerk, to_store=store, actor=actor_of(hq_admin))
    conversation.refresh_from_db()
    assert conversation.store_id == store.pk and conversation.assignee_id is None
    assert conversation.queue == queue
    assert Message.objects.filter(kind="event", payload__reason=reason).exists()


def test_undo_is_refused_after_30_days(brand, clerk, clerk2, hq_admin):
    bound(brand, clerk, 1)
    transfer = services.transfer_bindings(clerk, to_clerk=clerk2, actor=actor_of(hq_admin))
    with pytest.raises(services.BindingError, match="30 days"):
        services.undo_transfer(transfer, actor=actor_of(hq_admin), at=timezone.now() + dt.timedelta(days=31))
    assert selectors.bound_bindings(clerk2).count() == 1


def test_undo_leaves_customers_who_rebound_since(brand, clerk, clerk2, hq_admin):
    from omo.binding.models import BindingPolicy

    BindingPolicy.objects.create(brand=brand, rule="latest_wins")
    third = f.make_user(brand, "clerk3", role="clerk", store=clerk.store)
    (customer,) = bound(brand, clerk, 1)
    transfer = services.transfer_bindings(clerk, to_clerk=clerk2, actor=actor_of(hq_admin))
    services.bind_customer(customer, third, source="liff")
    assert services.undo_transfer(transfer, actor=actor_of(hq_admin)).skipped == [customer.pk]
    assert selectors.current_binding(customer).clerk == third


def test_transfer_permissions_and_bad_input(
    brand, other_brand, store, other_store, clerk, clerk2, manager, hq_admin
):
    bound(brand, clerk, 1)
    with pytest.raises(services.BindingError) as refused:
        services.transfer_bindings(clerk, to_clerk=clerk2, actor=actor_of(clerk2))
    assert refused.value.status == 403
    far_manager = f.make_user(brand, "far", role="store_manager", store=other_store)
    with pytest.raises(services.BindingError):
        services.transfer_bindings(clerk, to_clerk=clerk2, actor=actor_of(far_manager))
    outsider = f.make_user(other_brand, "x", role="hq_admin")
    with pytest.raises(services.BindingError) as other:
        services.transfer_bindings(clerk, to_clerk=clerk2, actor=actor_of(outsider))
    assert other.value.status == 404
    with pytest.raises(services.BindingError, match="exactly one"):
        services.transfer_bindings(clerk, actor=actor_of(hq_admin))
    with pytest.raises(services.BindingError, match="same clerk"):
        services.transfer_bindings(clerk, to_clerk=clerk, actor=actor_of(hq_admin))
    with pytest.raises(services.BindingError, match="not bound"):
        services.transfer_bindings(clerk, to_clerk=clerk2, customer_ids=[999999], actor=actor_of(hq_admin))
    assert not AuditLog.objects.filter(action="binding.transferred").exists()


# --- recovery -----------------------------------------------------------------------------------


@pytest.fixture
def line_customer(brand, line_inbox, line_standin, line_user):
    """A LINE customer (with a conversation) whose phone the clerk knows."""
    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, "哈囉"))
    process_pending(line_inbox.pk)
    customer = Conversation.objects.get().customer
    customer.phone = "+886912345678"
    customer.save()
    from omo.customers.models import CustomerIdentity

    CustomerIdentity.objects.create(brand=brand, customer=customer, kind="phone", value="+886912345678")
    return customer


def tap(line_inbox, line_standin, line_user, data: str, **kw) -> None:
    token = line_standin.issue_reply_token(line_inbox.external_id, line_user.user_id)
    post_line_webhook(line_inbox, wh.postback_event(line_user.user_id, data, token=token, **kw))
    process_pending(line_inbox.pk)


def test_recovery_binds_only_when_the_customer_confirms(
    clerk, line_inbox, line_standin, line_user, line_customer
):
    found = services.find_customer_by_phone(clerk, "0912-345-678")
    assert found == line_customer
    request = services.request_recovery(clerk, found, actor=actor_of(clerk))
    card = Message.objects.get(direction="out", kind="flex")
    buttons = card.payload["line"]["contents"]["footer"]["contents"]
    assert [b["action"]["data"] for b in buttons] == [
        f"bind:confirm:{request.token}",
        f"bind:decline:{request.token}",
    ]
    assert selectors.current_binding(line_customer) is None  # nothing until the tap
    tap(line_inbox, line_standin, line_user, f"bind:confirm:{request.token}")
    request.refresh_from_db()
    assert request.status == "confirmed"
    binding = selectors.current_binding(line_customer)
    assert (binding.clerk, binding.source) == (clerk, "recovery")
    # tapping again changes nothing
    tap(line_inbox, line_standin, line_user, f"bind:confirm:{request.token}")
    assert Binding.objects.count() == 1


def test_recovery_decline_and_expiry(clerk, line_inbox, line_standin, line_user, line_customer):
    declined = services.request_recovery(clerk, line_customer, actor=actor_of(clerk))
    tap(line_inbox, line_standin, line_user, f"bind:decline:{declined.token}")
    declined.refresh_from_db()
    assert declined.status == "declined" and selectors.current_binding(line_customer) is None

    late = services.request_recovery(clerk, line_customer, actor=actor_of(clerk))
    RecoveryRequest.objects.filter(pk=late.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    tap(line_inbox, line_standin, line_user, f"bind:confirm:{late.token}")
    late.refresh_from_db()
    assert late.status == "expired" and selectors.current_binding(line_customer) is None
    assert "已過期" in Message.objects.filter(direction="out").order_by("-id").first().text

    stale = services.request_recovery(clerk, line_customer, actor=actor_of(clerk))
    RecoveryRequest.objects.filter(pk=stale.pk).update(expires_at=timezone.now() - dt.timedelta(days=1))
    assert services.expire_recoveries() == 1


def test_recovery_token_of_someone_else_does_nothing(clerk, line_inbox, line_standin, line_customer):
    request = services.request_recovery(clerk, line_customer, actor=actor_of(clerk))
    stranger = line_standin.add_user(display_name="路人")
    tap(line_inbox, line_standin, stranger, f"bind:confirm:{request.token}")
    request.refresh_from_db()
    assert request.status == "pending" and Binding.objects.count() == 0


def test_recovery_bad_input(brand, other_brand, clerk, clerk2, line_customer):
    with pytest.raises(services.BindingError) as bad:
        services.find_customer_by_phone(clerk, "abc")
    assert bad.value.field == "phone"
    assert services.find_customer_by_phone(clerk, "0911000000") is None
    outsider = f.make_user(other_brand, "x", role="clerk")
    assert services.find_customer_by_phone(outsider, "0912345678") is None  # scoped to their own brand
    with pytest.raises(services.BindingError) as other_clerk:
        services.request_recovery(clerk2, line_customer, actor=actor_of(clerk))
    assert other_clerk.value.status == 403
    offline = f.make_customer(brand, name="沒有LINE", phone="+886933000000")
    with pytest.raises(services.BindingError, match="LINE"):
        services.request_recovery(clerk, offline, actor=actor_of(clerk))
