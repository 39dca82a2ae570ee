"""Staff verbs: scoped lists, notes, labels, canned replies with variables, read state, assignment."""

from __future__ import annotations

import pytest

from omo.binding import services as binding_services
from omo.core.audit import Actor
from omo.inbox import selectors, services
from omo.inbox.models import Message
from omo.inbox.tests.conftest import taipei
from omo.testing import factories as f

pytestmark = pytest.mark.django_db


def actor_of(user):
    return Actor(brand=user.brand, user=user, role=user.role)


@pytest.fixture
def mine(make_conversation, clerk):
    conversation = make_conversation("陳小姐")
    binding_services.bind_customer(conversation.customer, clerk, source="manual")
    conversation.refresh_from_db()
    return conversation


def test_conversation_lists_follow_role_and_brand(
    brand, other_brand, store, clerk, manager, hq_agent, mine, make_conversation
):
    unbound = make_conversation("路人")
    other_clerk = f.make_user(brand, "c2", role="clerk", store=store)
    outsider = f.make_user(other_brand, "o", role="hq_admin")
    assert [c.pk for c in selectors.conversation_list(clerk)] == [mine.pk]
    assert selectors.conversation_list(other_clerk) == []
    assert [c.pk for c in selectors.conversation_list(manager)] == [mine.pk]
    assert {c.pk for c in selectors.conversation_list(hq_agent)} == {mine.pk, unbound.pk}
    assert selectors.conversation_list(outsider) == []
    assert selectors.get_conversation(other_clerk, mine.pk) is None
    assert selectors.can_view(clerk, mine) and not selectors.can_view(outsider, mine)


def test_notes_and_labels(clerk, mine, make_conversation):
    note = services.add_note(mine, text="喜歡綠色", author=clerk)
    assert (note.kind, note.direction, note.sender) == ("note", "internal", clerk)
    with pytest.raises(services.InboxError):
        services.add_note(mine, text="  ", author=clerk)
    assert services.add_label(mine, "VIP", user=clerk) == ["VIP"]
    assert services.add_label(mine, "VIP", user=clerk) == ["VIP"]
    assert services.remove_label(mine, "VIP", user=clerk) == []
    with pytest.raises(services.InboxError, match="at most"):
        services.set_labels(mine, ["x" * 31], user=clerk)
    stranger = make_conversation("別人")
    with pytest.raises(services.InboxError) as hidden:
        services.add_note(stranger, text="偷看", author=clerk)
    assert hidden.value.status == 404


def test_canned_replies_with_variables(brand, clerk, manager, mine, line_standin):
    shared = services.save_canned_reply(
        manager, title="問候", body="{customer_name} 您好，我是 {clerk_name}（{store_name}）", personal=False
    )
    assert services.render_canned_reply(shared, mine, user=clerk) == "陳小姐 您好，我是 clerk（台北信義店）"
    with pytest.raises(services.InboxError, match="unknown variable"):
        services.save_canned_reply(clerk, title="x", body="{price}")
    with pytest.raises(services.InboxError) as refused:
        services.save_canned_reply(clerk, title="x", body="hi", personal=False)
    assert refused.value.status == 403
    own = services.save_canned_reply(clerk, title="我的", body="謝謝 {customer_name}")
    other = f.make_user(brand, "c9", role="clerk", store=clerk.store)
    assert set(selectors.canned_replies(clerk)) == {shared, own}
    assert set(selectors.canned_replies(other)) == {shared}


def test_sending_clears_unread_and_waiting(clerk, mine):
    from omo.inbox.models import Conversation

    Conversation.objects.filter(pk=mine.pk).update(
        unread_count=3, waiting_since=taipei(3, 14), sla_due_at=taipei(3, 14, 10)
    )
    mine.refresh_from_db()
    message = services.send_text(mine, text="您好！", sender=clerk)
    mine.refresh_from_db()
    assert message.status == "queued"
    assert (mine.unread_count, mine.waiting_since, mine.sla_due_at) == (0, None, None)
    with pytest.raises(services.InboxError):
        services.send_text(mine, text="", sender=clerk)


def test_manual_assignment_is_scoped_and_in_the_timeline(store, other_store, clerk, manager, hq_agent, mine):
    with pytest.raises(services.InboxError) as refused:
        services.assign_conversation(mine, actor_user=clerk, queue="hq")
    assert refused.value.status == 403
    # To HQ without a store: a change whatever routing chose at this hour (the clerk while the store
    # is open, HQ for the store when it is closed).
    assert services.assign_conversation(mine, actor_user=hq_agent, queue="hq")
    mine.refresh_from_db()
    assert (mine.queue, mine.assignee_id, mine.store_id) == ("hq", None, None)
    event = Message.objects.filter(kind="event").last()
    assert event.payload["reason"] == "manual" and event.payload["actor_id"] == hq_agent.pk
    with pytest.raises(services.InboxError):
        services.assign_conversation(mine, actor_user=manager, queue="store", store=other_store)
