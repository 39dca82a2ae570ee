"""Binding below the inbox: verbs that word the answer, and the chat side the inbox registers."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from omo.binding import chat, selectors, services
from omo.binding.models import Binding, RecoveryRequest
from omo.inbox import binding_flows
from omo.inbox import services as inbox_services
from omo.inbox.outbound import queue_message
from omo.testing import factories as f

pytestmark = pytest.mark.django_db


def test_the_inbox_registers_the_chat_side_binding_asks_of():
    side = chat.side()
    assert side.route_customer is inbox_services.route_customer
    assert side.hand_to_store is inbox_services.hand_customer_to_store
    assert side.send is queue_message
    assert side.line_inbox is binding_flows.line_inbox


def test_without_a_chat_side_a_binding_change_is_refused_and_undone(monkeypatch, brand, clerk):
    customer = f.make_customer(brand)
    monkeypatch.setattr(chat, "_side", None)
    with pytest.raises(RuntimeError, match="no chat side"):
        services.bind_customer(customer, clerk, source="manual")
    assert not Binding.objects.exists()


def test_a_binding_change_routes_the_customer_in_the_same_transaction(monkeypatch, brand, clerk):
    customer = f.make_customer(brand)
    routed = []
    monkeypatch.setattr(
        chat, "_side", chat.ChatSide(**{**vars(chat.side()), "route_customer": routed.append})
    )
    result = services.bind_customer(customer, clerk, source="manual")
    assert result.outcome == services.Outcome.CREATED
    assert routed == [customer]
    services.bind_customer(customer, clerk, source="manual")  # already bound: nothing to route
    assert routed == [customer]


def test_code_message_answers(brand, other_brand, clerk):
    customer = f.make_customer(brand)
    now = timezone.now()
    assert services.answer_code_message(customer, "今天好熱", at=now) is None
    assert services.answer_code_message(customer, "穿搭 #ootd123456", at=now) is None  # hashtag chatter
    unknown = services.answer_code_message(customer, "綁定專屬店員 #2222222222", at=now)
    assert unknown == services.Answer(services.UNKNOWN_CODE_MESSAGE, consumed=False)

    outsider = f.make_user(other_brand, "outsider", role="clerk", store=f.make_store(other_brand, code="X1"))
    other_code = services.clerk_code_for(outsider).code
    foreign = services.answer_code_message(customer, f"綁定專屬店員 #{other_code}", at=now)
    assert foreign == services.Answer(services.UNKNOWN_CODE_MESSAGE, consumed=False)
    assert not Binding.objects.exists()

    code = services.clerk_code_for(clerk).code
    bound = services.answer_code_message(customer, f"綁定專屬店員 #{code.lower()}", at=now)
    assert bound.consumed and "已為您綁定專屬店員" in bound.message
    assert selectors.current_binding(customer).clerk == clerk


def test_recovery_answer_for_someone_elses_token_changes_nothing(brand, clerk):
    asked = f.make_customer(brand, name="被詢問", phone="+886912000011")
    stranger = f.make_customer(brand, name="路人", phone="+886912000012")
    request = RecoveryRequest.objects.create(
        brand=brand,
        clerk=clerk,
        customer=asked,
        token="tok-1",
        expires_at=timezone.now() + dt.timedelta(days=1),
    )
    answer = services.answer_recovery(stranger, f"{services.CONFIRM_PREFIX}tok-1", at=timezone.now())
    assert answer.message.startswith("這個確認已失效")
    request.refresh_from_db()
    assert request.status == RecoveryRequest.Status.PENDING
    assert not Binding.objects.exists()

    declined = services.answer_recovery(asked, f"{services.DECLINE_PREFIX}tok-1", at=timezone.now())
    assert declined.message.startswith("好的，已為您取消")
    request.refresh_from_db()
    assert request.status == RecoveryRequest.Status.DECLINED
    assert not Binding.objects.exists()
