"""Clerk codes, links and QR; binding through LIFF and through the prefilled code message; policies."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import unquote

import pytest
from django.test import Client
from django.utils import timezone

from omo.binding import selectors, services
from omo.binding.models import Binding, BindingPolicy
from omo.customers.models import CustomerIdentity
from omo.devtools import line_webhook_sender as wh
from omo.inbox.models import Conversation, Message
from omo.inbox.outbound import deliver
from omo.platforms.tasks import process_pending
from omo.testing import clock
from omo.testing import factories as f
from omo.testing.line import post_line_webhook

pytestmark = pytest.mark.django_db


@pytest.fixture
def code(clerk):
    return services.clerk_code_for(clerk).code


@pytest.fixture
def clerk2(brand, other_store):
    return f.make_user(brand, "clerk2", role="clerk", store=other_store, employee_code="E002")


def liff_inbox(line_inbox):
    line_inbox.config = {**line_inbox.config, "liff_id": "2000000001-AbcdEfgh"}
    line_inbox.save(update_fields=["config"])
    return line_inbox


def post_liff(client: Client, body) -> tuple[int, dict]:
    response = client.post("/b/liff/bind", json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def set_policy(brand, rule: str, lock_days: int = 90) -> None:
    BindingPolicy.objects.update_or_create(brand=brand, defaults={"rule": rule, "lock_days": lock_days})


# --- codes, links, QR ---------------------------------------------------------------------------


def test_clerk_code_is_stable_long_and_unambiguous(clerk, code):
    assert services.clerk_code_for(clerk).code == code
    assert len(code) >= 10
    assert set(code) <= set("23456789ABCDEFGHJKMNPQRSTUVWXYZ")
    assert selectors.find_code(code.lower()).clerk == clerk
    assert selectors.find_code("0OIL1") is None


def test_link_redirects_to_liff_when_configured(client, line_inbox, code):
    liff_inbox(line_inbox)
    response = client.get(f"/b/{code}")
    assert response.status_code == 302
    assert response["Location"] == f"https://liff.line.me/2000000001-AbcdEfgh?clerk={code}"


def test_link_without_liff_opens_the_prefilled_message(client, line_inbox, code):
    response = client.get(f"/b/{code}")
    assert response.status_code == 302
    location = response["Location"]
    assert location.startswith("https://line.me/R/oaMessage/%40herb/?")
    assert unquote(location.split("?", 1)[1]) == f"綁定專屬店員 #{code}"


def test_unknown_code_and_departed_clerk_get_friendly_pages(client, line_inbox, clerk, code):
    response = client.get("/b/ZZZZZZZZZZ")
    assert response.status_code == 404
    assert "找不到這個店員代碼" in response.content.decode()
    clerk.is_active = False
    clerk.save()
    response = client.get(f"/b/{code}")
    assert response.status_code == 410
    page = response.content.decode()
    assert "台北信義店" in page and "https://line.me/R/ti/p/%40herb" in page


def test_link_when_brand_has_no_line_account(client, code):
    assert client.get(f"/b/{code}").status_code == 503


def test_qr_png_and_svg(client, code):
    png = client.get(f"/b/{code}/qr.png")
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    assert png.content.startswith(b"\x89PNG")
    svg = client.get(f"/b/{code}/qr.svg")
    assert svg.status_code == 200 and svg["Content-Type"] == "image/svg+xml"
    assert b"<svg" in svg.content
    assert client.get("/b/ZZZZZZZZZZ/qr.png").status_code == 404


def test_poster_for_the_clerk_their_manager_and_hq_only(clerk, clerk2, manager, hq_admin, other_admin, code):
    def get(user, size="a5"):
        client = Client()
        client.force_login(user)
        return client.get(f"/b/{code}/poster", {"size": size})

    page = get(clerk)
    assert page.status_code == 200
    text = page.content.decode()
    assert "clerk" in text and "台北信義店" in text and "<svg" in text and "Scan the QR code" in text
    assert "size:A5" in text
    assert "size:A4" in get(clerk, "a4").content.decode()
    assert get(clerk, "letter").status_code == 400
    assert get(manager).status_code == 200
    assert get(hq_admin).status_code == 200
    assert get(clerk2).status_code == 404
    assert get(other_admin).status_code == 404
    assert Client().get(f"/b/{code}/poster").status_code == 302  # sign in first


# --- LIFF flow ----------------------------------------------------------------------------------


def test_liff_page_loads_the_sdk_only_for_real_line(client, line_inbox, code, settings):
    liff_inbox(line_inbox)
    page = client.get("/b/liff/", {"clerk": code}).content.decode()
    assert "static.line-scdn.net" not in page  # the stand-in: demo and tests never reach LINE's CDN
    settings.OMO_LINE_API_BASE = "https://api.line.me"
    page = client.get("/b/liff/", {"liff.state": f"?clerk={code}"}).content.decode()
    assert "https://static.line-scdn.net/liff/edge/2/sdk.js" in page
    assert 'data-liff-id="2000000001-AbcdEfgh"' in page


def test_liff_binding_verifies_the_id_token_with_line_login(
    client, line_inbox, line_standin, line_user, clerk, code
):
    liff_inbox(line_inbox)
    token = line_standin.mint_id_token(line_user.user_id, client_id=line_inbox.config["login_channel_id"])
    status, body = post_liff(client, {"idToken": token, "clerk": code})
    assert status == 200, body
    assert body["outcome"] == "created"
    assert body["add_friend_url"] == "https://line.me/R/ti/p/%40herb"
    assert body["clerk"] == {"name": "clerk", "store": "台北信義店"}
    identity = CustomerIdentity.objects.get(kind="line", value=line_user.user_id)
    binding = selectors.current_binding(identity.customer)
    assert (binding.clerk, binding.source, binding.store_id) == (clerk, "liff", clerk.store_id)
    verify_calls = line_standin.calls("/oauth2/v2.1/verify")
    assert len(verify_calls) == 1
    # the conversation exists at once and belongs to the clerk's store
    conversation = Conversation.objects.get(customer=identity.customer)
    assert conversation.store_id == clerk.store_id


def test_liff_binding_refuses_bad_tokens_and_input(client, line_inbox, line_standin, line_user, code):
    liff_inbox(line_inbox)
    wrong_aud = line_standin.mint_id_token(line_user.user_id, client_id="999")
    assert post_liff(client, {"idToken": wrong_aud, "clerk": code})[0] == 401
    assert post_liff(client, {"idToken": "not.a.token", "clerk": code})[0] == 401
    expired = line_standin.mint_id_token(
        line_user.user_id, client_id=line_inbox.config["login_channel_id"], ttl=-10
    )
    status, body = post_liff(client, {"idToken": expired, "clerk": code})
    assert status == 401 and body["error"]["field"] == "idToken"
    assert post_liff(client, {"clerk": code})[0] == 400
    assert post_liff(client, {"idToken": "x"})[0] == 400
    assert post_liff(client, ["x"])[0] == 400
    response = client.post("/b/liff/bind", b"{not json", content_type="application/json")
    assert response.status_code == 400
    status, body = post_liff(client, {"idToken": "x", "clerk": "ZZZZZZZZZZ"})
    assert status == 404 and body["error"]["field"] == "clerk"
    assert Binding.objects.count() == 0


@pytest.mark.parametrize(
    "queue",  # the store team while the store is open, HQ when it is closed
    [pytest.param("store", marks=clock.STORES_OPEN), pytest.param("hq", marks=clock.STORES_CLOSED)],
)
def test_liff_binding_of_a_departed_clerk_hands_the_customer_to_the_store(
    client, line_inbox, line_standin, line_user, clerk, code, queue
):
    liff_inbox(line_inbox)
    clerk.is_active = False
    clerk.save()
    token = line_standin.mint_id_token(line_user.user_id, client_id=line_inbox.config["login_channel_id"])
    status, body = post_liff(client, {"idToken": token, "clerk": code})
    assert status == 200 and body["outcome"] == "departed"
    assert "台北信義店" in body["message"]
    assert Binding.objects.count() == 0
    conversation = Conversation.objects.get()
    assert conversation.store_id == clerk.store_id
    assert conversation.queue == queue


# --- prefilled message flow ---------------------------------------------------------------------


def send_text(line_inbox, line_standin, line_user, text: str) -> None:
    token = line_standin.issue_reply_token(line_inbox.external_id, line_user.user_id)
    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, text, token=token))
    process_pending(line_inbox.pk)


@pytest.mark.parametrize(
    "queue",  # a clerk without a roster is on duty while the store is open, HQ covers the night
    [pytest.param("clerk", marks=clock.STORES_OPEN), pytest.param("hq", marks=clock.STORES_CLOSED)],
)
def test_code_message_binds_and_confirms_with_the_free_reply(
    line_inbox, line_standin, line_user, clerk, code, queue
):
    send_text(line_inbox, line_standin, line_user, f"綁定專屬店員 #{code}")
    identity = CustomerIdentity.objects.get(kind="line", value=line_user.user_id)
    binding = selectors.current_binding(identity.customer)
    assert (binding.clerk, binding.source) == (clerk, "message_code")
    conversation = Conversation.objects.get()
    assert (conversation.queue, conversation.store_id, conversation.unread_count) == (
        queue,
        clerk.store_id,
        0,
    )
    answer = Message.objects.get(direction="out")
    assert "已為您綁定專屬店員 clerk" in answer.text
    deliver(answer.pk)
    answer.refresh_from_db()
    assert (answer.status, answer.sent_via) == ("sent", "reply")
    assert [d.via for d in line_standin.delivered(line_user.user_id)] == ["reply"]
    # the assignment shows in the timeline
    assert Message.objects.filter(kind="event", direction="internal").exists()


def test_second_scan_keeps_the_first_clerk_by_default(
    line_inbox, line_standin, line_user, clerk, clerk2, code
):
    send_text(line_inbox, line_standin, line_user, f"綁定專屬店員 #{code}")
    code2 = services.clerk_code_for(clerk2).code
    send_text(line_inbox, line_standin, line_user, f"綁定專屬店員 #{code2}")
    assert Binding.objects.get().clerk == clerk
    answers = list(Message.objects.filter(direction="out").order_by("id"))
    assert "您的專屬店員是 clerk" in answers[1].text


def test_latest_scan_wins_when_the_brand_says_so(
    brand, line_inbox, line_standin, line_user, clerk, clerk2, code
):
    set_policy(brand, "latest_wins")
    send_text(line_inbox, line_standin, line_user, f"綁定專屬店員 #{code}")
    send_text(line_inbox, line_standin, line_user, f"綁定專屬店員 #{services.clerk_code_for(clerk2).code}")
    first, second = Binding.objects.order_by("started_at", "id")
    assert first.clerk == clerk and first.ended_at is not None
    assert second.clerk == clerk2 and second.ended_at is None
    assert Conversation.objects.get().store_id == clerk2.store_id


def test_locked_days_policy(brand, clerk, clerk2):
    set_policy(brand, "locked_days", lock_days=30)
    customer = f.make_customer(brand)
    start = timezone.now() - dt.timedelta(days=10)
    services.bind_customer(customer, clerk, source="manual", at=start)
    kept = services.bind_customer(customer, clerk2, source="liff", at=start + dt.timedelta(days=29))
    assert kept.outcome == "kept" and kept.locked_until == start + dt.timedelta(days=30)
    assert "後可更換" in services.customer_message(kept, requested_clerk=clerk2)
    moved = services.bind_customer(customer, clerk2, source="liff", at=start + dt.timedelta(days=31))
    assert moved.outcome == "replaced" and moved.binding.clerk == clerk2


def test_same_clerk_again_and_history_with_effective_dates(brand, clerk, clerk2):
    set_policy(brand, "latest_wins")
    customer = f.make_customer(brand)
    t0 = timezone.now() - dt.timedelta(days=5)
    services.bind_customer(customer, clerk, source="manual", at=t0)
    assert (
        services.bind_customer(customer, clerk, source="liff", at=t0 + dt.timedelta(days=1)).outcome
        == "already"
    )
    services.bind_customer(customer, clerk2, source="liff", at=t0 + dt.timedelta(days=2))
    assert selectors.clerk_at(customer, t0 - dt.timedelta(seconds=1)) is None
    assert selectors.clerk_at(customer, t0 + dt.timedelta(days=1)) == clerk
    assert selectors.clerk_at(customer, t0 + dt.timedelta(days=2)) == clerk2
    assert selectors.clerk_at(customer, timezone.now()) == clerk2
    info = selectors.binding_info(customer)
    assert info["clerk_id"] == clerk2.pk and len(info["history"]) == 2


def test_departed_clerk_binding_never_blocks_a_new_one(brand, clerk, clerk2):
    customer = f.make_customer(brand)
    services.bind_customer(customer, clerk, source="manual")
    clerk.is_active = False
    clerk.save()
    assert services.bind_customer(customer, clerk2, source="liff").outcome == "replaced"


def test_unknown_code_message_is_answered_and_waits_for_hq(line_inbox, line_standin, line_user):
    send_text(line_inbox, line_standin, line_user, "綁定專屬店員 #ZZZZZZZZZZ")
    assert Binding.objects.count() == 0
    assert "找不到這個店員代碼" in Message.objects.get(direction="out").text
    conversation = Conversation.objects.get()
    assert (conversation.queue, conversation.unread_count) == ("hq", 1)


def test_departed_code_message_routes_to_the_store(line_inbox, line_standin, line_user, clerk, code):
    clerk.is_active = False
    clerk.save()
    send_text(line_inbox, line_standin, line_user, f"綁定專屬店員 #{code}")
    assert Binding.objects.count() == 0
    assert "已不在本品牌服務" in Message.objects.get(direction="out").text
    conversation = Conversation.objects.get()
    assert conversation.store_id == clerk.store_id and conversation.unread_count == 1


def test_other_brands_code_does_not_bind(other_brand, line_inbox, line_standin, line_user):
    other_store = f.make_store(other_brand, code="X1")
    other_clerk = f.make_user(other_brand, "oc", role="clerk", store=other_store)
    other_code = services.clerk_code_for(other_clerk).code
    send_text(line_inbox, line_standin, line_user, f"綁定專屬店員 #{other_code}")
    assert Binding.objects.count() == 0


def test_plain_hashtags_are_not_binding_attempts(line_inbox, line_standin, line_user):
    send_text(line_inbox, line_standin, line_user, "我想要 #summersale 的商品")
    assert not Message.objects.filter(direction="out").exists()


def test_binding_events_are_published(brand, clerk, clerk2, django_capture_on_commit_callbacks):
    from omo.core import events

    seen = []
    events.subscribe("binding.created", seen.append)
    events.subscribe("binding.ended", seen.append)
    try:
        set_policy(brand, "latest_wins")
        customer = f.make_customer(brand)
        with django_capture_on_commit_callbacks(execute=True):
            services.bind_customer(customer, clerk, source="manual")
            services.bind_customer(customer, clerk2, source="liff")
    finally:
        events._subscribers["binding.created"].remove(seen.append)
        events._subscribers["binding.ended"].remove(seen.append)
    kinds = [("created" if "source" in e else "ended", e["clerk_id"]) for e in seen]
    assert kinds == [("created", clerk.pk), ("ended", clerk.pk), ("created", clerk2.pk)]
