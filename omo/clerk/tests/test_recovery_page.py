"""The clerk app's 以手機號碼綁定 page: a clerk asks a customer found by phone to confirm them."""

from __future__ import annotations

import pytest
from django.test import Client

from omo.binding.models import RecoveryRequest
from omo.customers.models import CustomerIdentity
from omo.devtools import line_webhook_sender as wh
from omo.inbox.models import Conversation, Message
from omo.platforms.tasks import process_pending
from omo.testing import factories as f
from omo.testing.line import post_line_webhook

pytestmark = pytest.mark.django_db


def _as(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def line_customer(brand, line_inbox, line_standin, line_user):
    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, "哈囉"))
    process_pending(line_inbox.pk)
    customer = Conversation.objects.get().customer
    CustomerIdentity.objects.create(brand=brand, customer=customer, kind="phone", value="+886912888777")
    return customer


def test_a_clerk_sends_the_confirmation_to_a_customer_found_by_phone(clerk, line_customer):
    client = _as(clerk)
    assert "/clerk/recovery/" in client.get("/clerk/qr/").content.decode()

    response = client.post("/clerk/recovery/", {"phone": "0912-888-777", "clerk": clerk.pk})

    assert response.status_code == 200
    assert "已傳送綁定確認" in response.content.decode()
    request = RecoveryRequest.objects.get()
    assert (request.customer, request.clerk) == (line_customer, clerk)
    assert (
        Message.objects.filter(direction="out", kind="flex", conversation__customer=line_customer).count()
        == 1
    )


def test_refusals_are_sentences(brand, store, clerk, line_customer):
    client = _as(clerk)
    missing = client.post("/clerk/recovery/", {"phone": "0911-000-000"})
    assert missing.status_code == 404 and "找不到使用這個手機號碼的顧客" in missing.content.decode()
    bad = client.post("/clerk/recovery/", {"phone": "abc"})
    assert "請輸入正確的手機號碼" in bad.content.decode()
    colleague = f.make_user(brand, "co", role="clerk", store=store)
    for_colleague = client.post("/clerk/recovery/", {"phone": "0912-888-777", "clerk": colleague.pk})
    assert for_colleague.status_code == 422 and "請選擇店員" in for_colleague.content.decode()
    assert not RecoveryRequest.objects.exists()


def test_hq_and_other_brands_get_nothing(other_brand, hq_admin, line_customer):
    assert _as(hq_admin).post("/clerk/recovery/", {"phone": "0912-888-777"}).status_code == 403
    outsider = f.make_user(other_brand, "x", role="clerk")
    answer = _as(outsider).post("/clerk/recovery/", {"phone": "0912-888-777"})
    assert answer.status_code == 404  # the number is looked up in the clerk's own brand only
    assert not RecoveryRequest.objects.exists()
