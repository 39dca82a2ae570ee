"""The demo tells omo's story: bound customers, clicks, credited orders, a roster, waiting chats,
merge suggestions, a customer ready for the phone simulator, and logins that work as printed.

One tiny demo is seeded for the module (committed, removed at the end), on a pinned day and time.
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from urllib.parse import parse_qs, urlsplit

import pytest
import time_machine
from django.db.models import Count

from omo.attribution.models import Attribution, Click, CommissionEntry, LinkIssue
from omo.attribution.services import commission_rules
from omo.binding import services as binding
from omo.binding.models import Binding
from omo.catalog.models import Product
from omo.clerk import services as clerk_services
from omo.customers.models import Customer, MergeSuggestion
from omo.devtools import seed as seeding
from omo.devtools import simulator
from omo.devtools.demo_facts import DEMO_PASSWORD, WEEK
from omo.devtools.demo_info import admin_login, demo_logins, demo_story, front_door
from omo.devtools.management.commands import demo
from omo.devtools.seed_plan import TAIPEI
from omo.devtools.seed_story import STORY_LINE_USER, extend_roster
from omo.inbox import ingest
from omo.inbox.models import Contact, Conversation, Inbox, Message
from omo.loyalty.models import LoyaltyAccount
from omo.staff.models import Shift, Store, User

TODAY = dt.date(2026, 5, 1)  # a Friday
SEEDED_AT = dt.datetime(2026, 5, 1, 10, 30, tzinfo=TAIPEI)
INSIDE_HOURS = dt.datetime(2026, 5, 5, 15, 0, tzinfo=TAIPEI)  # Tuesday afternoon: every store is open
AFTER_HOURS = dt.datetime(2026, 5, 5, 23, 30, tzinfo=TAIPEI)  # every store is closed


@pytest.fixture(scope="module")
def demo_brand(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        with time_machine.travel(SEEDED_AT, tick=False):
            seeding.seed_demo(size="tiny", seed=11, today=TODAY, progress=False)
        brand = seeding.demo_brand()
        try:
            yield brand
        finally:
            seeding.purge_brand(brand)


@pytest.mark.django_db
def test_a_third_of_customers_are_bound_unevenly(demo_brand):
    customers = Customer.objects.filter(brand=demo_brand, merged_into__isnull=True).count()
    bound = Binding.objects.filter(brand=demo_brand, ended_at__isnull=True)
    assert 0.25 * customers <= bound.count() <= 0.42 * customers
    per_clerk = Counter(bound.values_list("clerk__username", flat=True))
    clerks = User.objects.filter(brand=demo_brand, role="clerk").count()
    counts = [
        per_clerk.get(u, 0)
        for u in User.objects.filter(brand=demo_brand, role="clerk").values_list("username", flat=True)
    ]
    assert len(counts) == clerks
    assert max(counts) >= 3 * max(1, min(counts))  # some clerks have many customers, some few
    clerk = User.objects.get(brand=demo_brand, username="clerk")
    team = User.objects.filter(store=clerk.store, role="clerk").values_list("username", flat=True)
    assert per_clerk["clerk"] == max(per_clerk.get(u, 0) for u in team) > 5  # plenty to show
    # Each bound customer belongs to a clerk of the store the binding names.
    for clerk_store, store in bound.values_list("clerk__store_id", "store_id"):
        assert clerk_store == store


@pytest.mark.django_db
def test_cards_clicks_and_orders_credited_with_reasons(demo_brand):
    assert (
        LinkIssue.objects.filter(brand=demo_brand).count()
        > Click.objects.filter(brand=demo_brand).count()
        > 10
    )
    attributions = Attribution.objects.filter(brand=demo_brand)
    rules = Counter(attributions.exclude(clerk=None).values_list("rule", flat=True))
    assert rules["pos_staff"] > 0 and rules["link_click"] > 0 and rules["bound_clerk"] > 0, rules
    for reason_zh, reason_en in attributions.exclude(clerk=None).values_list("reason_zh", "reason_en")[:50]:
        assert reason_zh and reason_en
    # A clicked link led to the order it credits: same clerk, same customer, clicked before the order.
    credited = attributions.filter(rule="link_click").select_related("click", "order").first()
    assert credited.click.clerk_id == credited.clerk_id
    assert credited.click.customer_id == credited.order.customer_id
    assert credited.click.clicked_at < credited.order.placed_at


@pytest.mark.django_db
def test_commission_rules_and_statements_for_last_month_and_this_month(demo_brand):
    assert commission_rules.rules_of(demo_brand).count() >= 3
    entries = CommissionEntry.objects.filter(brand=demo_brand)
    months = set(entries.values_list("month", flat=True))
    # Seeded on 1 May: last month is April (this month has no orders yet on its first day).
    assert months == {dt.date(2026, 4, 1)}
    assert entries.filter(amount__gt=0).count() > 10  # the rules pay: the statement is not all zeros


@pytest.mark.django_db
def test_roster_covers_every_stores_opening_hours_for_the_coming_weeks(demo_brand):
    for store in Store.objects.filter(brand=demo_brand):
        for offset in range(28):
            day = TODAY + dt.timedelta(days=offset)
            for start, end in store.opening_hours[WEEK[day.weekday()]]:
                opens = dt.datetime.combine(day, dt.time.fromisoformat(start), TAIPEI)
                closes = dt.datetime.combine(day, dt.time.fromisoformat(end), TAIPEI)
                on = Shift.objects.filter(store=store, starts_at__lte=opens, ends_at__gte=closes)
                assert on.exists(), (store.code, day)
    # The demo clerk works every opening hour of those weeks.
    clerk = User.objects.get(brand=demo_brand, username="clerk")
    assert Shift.objects.filter(staff=clerk, starts_at__date__gte=TODAY).count() >= 28


@pytest.mark.django_db
def test_the_roster_is_extended_when_the_demo_starts_again_later(demo_brand):
    later = TODAY + dt.timedelta(days=40)
    assert not Shift.objects.filter(brand=demo_brand, starts_at__date=later).exists()
    added = extend_roster(demo_brand, later)
    assert (
        added > 0
        and Shift.objects.filter(brand=demo_brand, starts_at__date=later + dt.timedelta(days=20)).exists()
    )
    assert extend_roster(demo_brand, later) == 0  # nothing twice


@pytest.mark.django_db
def test_conversations_wait_merge_suggestions_and_tiers(demo_brand):
    waiting = Conversation.objects.filter(brand=demo_brand, status="open", waiting_since__isnull=False)
    assert waiting.count() >= 5
    assert len({c.waiting_since for c in waiting}) > 3  # different waiting times
    assert set(waiting.values_list("queue", flat=True)) >= {"hq"}
    assert MergeSuggestion.objects.filter(brand=demo_brand, status="open").count() >= 3
    tiers = LoyaltyAccount.objects.filter(brand=demo_brand).values("tier__name").annotate(n=Count("id"))
    assert len(tiers) >= 3 and LoyaltyAccount.objects.filter(brand=demo_brand, balance__gt=0).exists()


@pytest.mark.django_db
def test_the_simulator_customer_is_bound_to_the_demo_clerk_and_has_a_card_in_the_chat(demo_brand):
    story = demo_story()
    contact = Contact.objects.select_related("customer", "inbox").get(
        brand=demo_brand, external_user_id=STORY_LINE_USER
    )
    clerk = User.objects.get(brand=demo_brand, username="clerk")
    assert story == {
        "customer": contact.customer.name,
        "clerk": clerk.display_name,
        "clerk_username": "clerk",
        "line_user_id": STORY_LINE_USER,
    }
    assert Binding.objects.get(customer=contact.customer, ended_at__isnull=True).clerk == clerk
    assert contact.customer.orders.exists()
    card = Message.objects.get(conversation__contact=contact, kind="flex")
    liff = f"https://liff.line.me/{contact.inbox.config['liff_id']}/shop?r="
    assert card.payload["cards"] and all(c["url"].startswith(liff) for c in card.payload["cards"])
    lines = demo.try_first("http://127.0.0.1:8010")
    assert any(contact.customer.name in line and "Play" in line for line in lines)
    assert any("Django admin: admin / omo-demo" in line for line in lines)


@pytest.mark.django_db
@time_machine.travel(INSIDE_HOURS, tick=False)
def test_a_message_in_opening_hours_goes_to_the_bound_clerk(demo_brand):
    contact = Contact.objects.select_related("inbox").get(brand=demo_brand, external_user_id=STORY_LINE_USER)
    ingest.receive_message(
        contact.inbox, contact, kind="text", occurred_at=INSIDE_HOURS, external_id="t-inside", text="在嗎？"
    )
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.queue == "clerk"
    assert conversation.assignee.username == "clerk"


@pytest.mark.django_db
@time_machine.travel(AFTER_HOURS, tick=False)
def test_a_message_after_hours_goes_to_hq(demo_brand):
    contact = Contact.objects.select_related("inbox").get(brand=demo_brand, external_user_id=STORY_LINE_USER)
    ingest.receive_message(
        contact.inbox, contact, kind="text", occurred_at=AFTER_HOURS, external_id="t-after", text="在嗎？"
    )
    conversation = Conversation.objects.get(contact=contact)
    assert conversation.queue == "hq" and conversation.assignee_id is None


# --- the printed logins work -----------------------------------------------------------------------------


@pytest.mark.django_db
def test_each_printed_login_signs_in_where_it_says(demo_brand, client):
    logins = demo_logins()
    assert [login["username"] for login in logins] == ["admin", "manager", "clerk"]
    for login in logins:
        client.logout()
        login_page = "/clerk/login/" if login["url"] == "/clerk/" else "/console/login/"
        answer = client.post(login_page, {"username": login["username"], "password": login["password"]})
        assert answer.status_code == 302, login
        page = client.get(login["url"])
        assert page.status_code == 200, login
    client.logout()
    wrong = client.post("/console/login/", {"username": "admin", "password": "not-the-password"})
    assert wrong.status_code == 200  # the form again, no session
    assert client.get("/console/").status_code == 302


@pytest.mark.django_db
def test_the_admin_it_names_opens_the_django_admin(demo_brand, client):
    admin = admin_login()
    assert admin == {"username": "admin", "password": DEMO_PASSWORD, "url": "/admin/"}
    answer = client.post(
        "/admin/login/?next=/admin/",
        {"username": admin["username"], "password": admin["password"], "next": "/admin/"},
    )
    assert answer.status_code == 302 and answer["Location"] == "/admin/"
    index = client.get("/admin/")
    assert index.status_code == 200
    assert index.context["app_list"], "the admin index lists the tables"
    client.logout()
    client.post(
        "/admin/login/?next=/admin/", {"username": "manager", "password": DEMO_PASSWORD, "next": "/admin/"}
    )
    assert client.get("/admin/").status_code == 302  # a store manager is not let in


@pytest.mark.django_db
def test_the_front_page_lists_the_logins_in_demo_mode_only(demo_brand, client, settings):
    page = client.get("/").content.decode()
    assert "omo-demo" in page and "/clerk/" in page and demo_story()["customer"] in page
    assert front_door()["admin"]["url"] == "/admin/"
    settings.OMO_DEVTOOLS = False
    settings.DEBUG = False
    assert "omo-demo" not in client.get("/").content.decode()


@pytest.mark.django_db
def test_the_simulator_plays_the_ready_customer(demo_brand, client, monkeypatch):
    registered = []
    monkeypatch.setattr(
        simulator, "_standin", lambda path, payload=None: registered.append((path, payload)) or {}
    )
    contact = Contact.objects.get(brand=demo_brand, external_user_id=STORY_LINE_USER)
    page = client.get(f"/dev/simulator/?inbox={contact.inbox_id}").content.decode()
    assert "sim-play" in page
    answer = client.post(
        "/dev/simulator/api/play-story",
        json.dumps({"inbox_id": contact.inbox_id}),
        content_type="application/json",
    )
    assert answer.status_code == 200 and answer.json()["user_id"] == STORY_LINE_USER
    assert registered == [("users", {"user_id": STORY_LINE_USER, "display_name": contact.customer.name})]
    assert client.session[f"simulator:line-user:{contact.inbox_id}"] == STORY_LINE_USER


@pytest.mark.django_db
def test_a_product_card_signs_the_played_customer_in_through_liff(demo_brand, client, settings, line_standin):
    """Plain `omo demo`: the LINE account has a LINE Login channel and a LIFF app, so a card opens the
    shop through LIFF, and the simulator, playing the ready customer, is signed in with LINE."""
    settings.OMO_LINE_STANDIN_URL = line_standin.url
    inbox = Inbox.objects.get(brand=demo_brand, platform="line")
    assert binding.liff_ready(inbox)
    liff_id = inbox.config["liff_id"]
    contact = Contact.objects.get(brand=demo_brand, external_user_id=STORY_LINE_USER)
    conversation = Conversation.objects.filter(brand=demo_brand, contact=contact).latest("pk")
    clerk = User.objects.get(brand=demo_brand, username="clerk")
    product = Product.objects.filter(brand=demo_brand, status="active").order_by("pk").first()
    card = clerk_services.send_product_card(conversation, clerk=clerk, product_ids=[product.pk])
    url = card.payload["cards"][0]["url"]
    assert url.startswith(f"https://liff.line.me/{liff_id}/shop?r=")

    played = client.post(
        "/dev/simulator/api/play-story",
        json.dumps({"inbox_id": inbox.pk}),
        content_type="application/json",
    )
    assert played.status_code == 200, played.content
    opened = client.get("/dev/simulator/liff/open", {"inbox": inbox.pk, "uri": url})
    assert opened.status_code == 302
    target = urlsplit(opened["Location"])
    assert target.path == "/b/liff/"
    id_token = target.fragment.removeprefix("id_token=")
    forwarded = client.get("/b/liff/", {"liff.state": parse_qs(target.query)["liff.state"][0]})
    assert forwarded.status_code == 302
    shop_page = urlsplit(forwarded["Location"])
    token = parse_qs(shop_page.query)["r"][0]
    assert client.get(forwarded["Location"]).status_code == 200

    signed_in = client.post(
        "/b/liff/shop/signin", json.dumps({"idToken": id_token, "r": token}), content_type="application/json"
    )

    assert signed_in.status_code == 200, signed_in.content
    assert signed_in.json() == {"ok": True, "next": f"/r/{token}"}
    assert [c["status"] for c in line_standin.calls("/oauth2/v2.1/verify")] == [200]
    assert client.session[f"shop:{demo_brand.pk}:member"] == contact.customer_id
    assert client.session[f"shop:{demo_brand.pk}:line"] is True
