"""The message plan and cost meter for people: /api/v1/message-usage and /console/cost/ (this month
and last), shares of the overage that add up, store managers' rows, refusals."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.test import Client

from omo.inbox import ingest, outbound
from omo.inbox.models import Inbox, Message
from omo.platforms.line.cost import message_costs, shares
from omo.testing import factories as f

pytestmark = pytest.mark.django_db
TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 12, 1, 0, 30, tzinfo=TAIPEI), tick=False):
        yield


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def account(brand):
    return Inbox.objects.create(
        brand=brand,
        platform="line",
        name="草本生活官方帳號",
        external_id="2000000001",
        config={"plan": {"included": 4, "extra_price": 20}},
    )


def sent(conversation, *, via, sender=None, at):
    return Message.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        direction="out",
        kind="text",
        text="hi",
        status="sent",
        sent_via=via,
        sender=sender,
        sent_at=at,
    )


@pytest.fixture
def traffic(brand, account, store, other_store, clerk):
    far = f.make_user(brand, "far", role="clerk", store=other_store, display_name="高雄阿明")
    conversation = ingest.get_or_create_conversation(
        account, ingest.get_or_create_contact(account, "U" + "a" * 32)
    )
    november = dt.datetime(2026, 11, 30, 23, 59, tzinfo=TAIPEI)  # last minute of November in Taipei
    december = dt.datetime(2026, 12, 1, 0, 1, tzinfo=TAIPEI)  # still 30 Nov in UTC
    for _ in range(5):
        sent(conversation, via="push", sender=clerk, at=november)
    for _ in range(2):
        sent(conversation, via="push", sender=far, at=november)
    sent(conversation, via="reply", sender=far, at=november)
    sent(conversation, via="push", sender=clerk, at=december)
    sent(conversation, via="reply", sender=clerk, at=december)
    return far


def test_shares_add_up_to_the_total():
    assert shares([5, 2], 60) == [43, 17]
    assert shares([1, 1, 1], 100, ["a", "b", "c"]) == [34, 33, 33]
    assert sum(shares([7, 3, 1, 1], 997)) == 997
    assert shares([0, 0], 50) == [0, 0]


def test_api_gives_this_month_and_last_by_default(api, traffic, clerk):
    response = api.get("/api/v1/message-usage")
    assert response.status_code == 200, response.content
    december, november = response.json()["months"]
    assert (december["month"], november["month"]) == ("2026-12", "2026-11")
    account = november["inboxes"][0]
    assert (account["replies"], account["pushes"], account["quota_used"], account["quota_left"]) == (
        1,
        7,
        4,
        0,
    )
    assert (account["extra_messages"], account["estimated"]) == (3, 60)  # 3 × NT$0.20
    assert [(row["label"], row["pushes"], row["estimated"]) for row in account["by_clerk"]] == [
        ("clerk", 5, 43),
        ("高雄阿明", 2, 17),
    ]
    assert sum(row["estimated"] for row in account["by_store"]) == 60
    this_month = december["inboxes"][0]
    assert (
        this_month["replies"],
        this_month["pushes"],
        this_month["estimated"],
        this_month["quota_left"],
    ) == (
        1,
        1,
        0,
        3,
    )


def test_api_one_month_and_a_bad_month(api, traffic):
    body = api.get("/api/v1/message-usage", month="2026-11").json()
    assert [m["month"] for m in body["months"]] == ["2026-11"]
    bad = api.get("/api/v1/message-usage", month="11/2026")
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (422, "invalid_month", "month")


def test_api_scopes_and_refusals(brand, other_api, clerk_api, traffic, other_store):
    assert clerk_api.get("/api/v1/message-usage").status_code == 403
    theirs = other_api.get("/api/v1/message-usage").json()
    assert all(month["inboxes"] == [] for month in theirs["months"])
    manager_key = f.ApiClient(f.make_api_key(brand, role="store_manager", store=other_store))
    account = manager_key.get("/api/v1/message-usage", month="2026-11").json()["months"][0]["inboxes"][0]
    assert account["pushes"] == 7  # the account's totals: the quota is shared
    assert [row["label"] for row in account["by_clerk"]] == ["高雄阿明"]
    assert [row["label"] for row in account["by_store"]] == ["高雄夢時代店"]


def test_the_cost_page_by_role(brand, hq_admin, hq_agent, manager, clerk, other_admin, traffic):
    def client_for(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    page = client_for(hq_admin).get("/console/cost/")
    assert page.status_code == 200
    body = page.content.decode()
    assert 'data-month="2026-12"' in body and 'data-month="2026-11"' in body
    assert "高雄阿明" in body and "回覆訊息" in body
    assert 'href="/console/cost/"' in body  # in the navigation
    assert client_for(hq_agent).get("/console/cost/").status_code == 200
    mine = client_for(manager).get("/console/cost/").content.decode()
    assert "高雄阿明" not in mine and "clerk" in mine
    assert client_for(clerk).get("/console/cost/").status_code == 403
    assert "高雄阿明" not in client_for(other_admin).get("/console/cost/").content.decode()


def test_the_store_is_fixed_when_the_message_is_queued(brand, account, store, other_store, clerk):
    conversation = ingest.get_or_create_conversation(
        account, ingest.get_or_create_contact(account, "U" + "b" * 32)
    )
    conversation.store = other_store
    conversation.save()
    by_clerk = outbound.queue_message(conversation, kind="text", text="您好", sender=clerk)
    by_system = outbound.queue_message(conversation, kind="text", text="已為您綁定")
    assert (by_clerk.store_id, by_system.store_id) == (store.pk, other_store.pk)

    at = dt.datetime(2026, 11, 20, 12, tzinfo=TAIPEI)
    Message.objects.filter(pk__in=[by_clerk.pk, by_system.pk]).update(
        status="sent", sent_via="push", sent_at=at
    )
    clerk.store = other_store  # the clerk moves afterwards: November's push stays with 台北信義店
    clerk.save()

    report = message_costs(account, dt.date(2026, 11, 1))
    assert sorted((row.label, row.pushes) for row in report.by_store) == [
        ("台北信義店", 1),
        ("高雄夢時代店", 1),
    ]
    assert sorted((row.label, row.store_id) for row in report.by_clerk) == [
        ("clerk", store.pk),
        ("系統", other_store.pk),
    ]
