"""The customer 360 timeline: content, filters, keyset paging, and who may see it."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from omo.binding.models import Binding
from omo.inbox.models import Contact, Conversation, Inbox
from omo.testing import factories as f
from omo.tracking import services as tracking
from omo.tracking import timeline
from omo.tracking.models import TrackedEvent
from omo.tracking.timeline import Filters, TimelineError

TAIPEI = ZoneInfo("Asia/Taipei")


def at(day: int, hour: int = 12, minute: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, day, hour, minute, tzinfo=TAIPEI)


def server_event(customer, event_name: str, when: dt.datetime, message_id: str, **props) -> TrackedEvent:
    return TrackedEvent.objects.create(
        brand_id=customer.brand_id,
        source=None,
        type="track",
        event=event_name,
        message_id=message_id,
        customer=customer,
        properties=props,
        received_at=when,
        timestamp=when,
    )


def browser_event(customer, source, type_: str, event_name: str, when: dt.datetime, message_id: str, **props):
    return TrackedEvent.objects.create(
        brand_id=customer.brand_id,
        source=source,
        type=type_,
        event=event_name,
        message_id=message_id,
        anonymous_id="anon-1",
        customer=customer,
        properties=props,
        received_at=when,
        timestamp=when,
    )


@pytest.fixture
def customer(brand):
    return f.make_customer(brand, "林小姐", phone="+886911111111")


@pytest.fixture
def shop_source(brand):
    return tracking.create_source(brand, name="shop", actor=None)[0]


@pytest.fixture
def story(customer, shop_source, store):
    """One of each kind, a day apart, oldest first."""
    browser_event(
        customer,
        shop_source,
        "page",
        "",
        at(1),
        "b1",
        title="森日 首頁",
        path="/shop/herb/",
        url="http://testserver/shop/herb/",
    )
    browser_event(
        customer,
        shop_source,
        "track",
        "Product Viewed",
        at(2),
        "b2",
        name="有機棉T恤",
        price=590,
        product_id="7",
        url="/shop/herb/p/tee/",
    )
    browser_event(
        customer,
        shop_source,
        "track",
        "Product Added",
        at(3),
        "b3",
        name="有機棉T恤",
        quantity=2,
        price=590,
        variant="M",
    )
    # The browser's copy of an order: the server's record below is the one shown.
    browser_event(customer, shop_source, "track", "Order Completed", at(4), "b4", order_id="99", total=1180)
    browser_event(customer, shop_source, "identify", "", at(4), "b5")
    server_event(
        customer,
        "Order Completed",
        at(4, 13),
        "omo:order:99:completed",
        order_id="99",
        order_number="W-0099",
        affiliation="網路商店",
        sales_channel="web_shop",
        total=1180.0,
        currency="TWD",
        store_id=store.pk,
        store=store.name,
        products=[{"sku": "TEE-M", "name": "有機棉T恤 M", "quantity": 2, "price": 590.0}],
    )
    server_event(
        customer,
        "Message Received",
        at(5),
        "omo:message:1",
        preview="請問有 L 號嗎？",
        platform="line",
        inbox="官方帳號",
        conversation_id=123,
    )
    server_event(
        customer, "Product Clicked", at(6), "omo:click:1", name="亞麻襯衫", product_id="8", clerk="小美"
    )
    server_event(
        customer, "Clerk Bound", at(7), "omo:binding:1:bound", clerk="小美", store="台北信義店", source="qr"
    )
    server_event(
        customer, "Points Earned", at(8), "omo:points:1", points=118, kind="earn", reason="訂單 W-0099"
    )
    server_event(
        customer, "Coupon Issued", at(9), "omo:coupon_code:1:issued", coupon_name="生日禮", coupon="BDAY1234"
    )
    return customer


def test_every_kind_reads_as_one_line_newest_first(story):
    page = timeline.timeline_page(story, links=timeline.console_links())
    lines = [(e.event, e.group, e.text, e.detail) for e in page.entries]
    assert lines == [
        ("Coupon Issued", "loyalty", "獲得優惠券「生日禮」", "BDAY1234"),
        ("Points Earned", "loyalty", "獲得 118 點", "訂單 W-0099"),
        ("Clerk Bound", "binding", "綁定店員 小美", "台北信義店 · qr"),
        ("Product Clicked", "clicks", "點擊導購連結：亞麻襯衫", "店員 小美"),
        ("Message Received", "chat", "傳來訊息：「請問有 L 號嗎？」", "LINE · 官方帳號"),
        ("Order Completed", "orders", "完成訂單 W-0099", "網路商店 · 台北信義店 · NT$1,180 · 2 件"),
        ("Product Added", "shop", "加入購物車：有機棉T恤（M） × 2", "NT$590"),
        ("Product Viewed", "shop", "瀏覽商品：有機棉T恤", "NT$590"),
        ("", "shop", "瀏覽網頁：森日 首頁", "/shop/herb/"),
    ]
    urls = {e.event: e.url for e in page.entries}
    assert urls["Order Completed"] == "/console/orders/99/"
    assert urls["Message Received"] == "/console/inbox/123/"
    assert urls["Product Clicked"] == "/console/products/8/"
    assert urls["Product Viewed"] == "/shop/herb/p/tee/"
    assert page.next_cursor == ""


def test_a_store_manager_links_only_their_stores_orders(story, other_store):
    page = timeline.timeline_page(story, links=timeline.console_links(order_store_scope=other_store.pk))
    order = next(e for e in page.entries if e.event == "Order Completed")
    assert order.url is None and order.text == "完成訂單 W-0099"


@pytest.mark.parametrize(
    "group, events",
    [
        ("orders", ["Order Completed"]),
        ("chat", ["Message Received"]),
        ("shop", ["Product Added", "Product Viewed", ""]),
        ("clicks", ["Product Clicked"]),
        ("binding", ["Clerk Bound"]),
        ("loyalty", ["Coupon Issued", "Points Earned"]),
    ],
)
def test_filter_by_group(story, group, events):
    page = timeline.timeline_page(story, Filters.parse({"group": group}))
    assert [e.event for e in page.entries] == events


def test_filter_by_local_dates_inclusive(story):
    page = timeline.timeline_page(story, Filters.parse({"since": "2026-11-04", "until": "2026-11-06"}))
    assert [e.event for e in page.entries] == ["Product Clicked", "Message Received", "Order Completed"]


@pytest.mark.parametrize(
    "params, field",
    [
        ({"group": "everything"}, "group"),
        ({"since": "4 Nov"}, "since"),
        ({"since": "2026-11-05", "until": "2026-11-04"}, "until"),
    ],
)
def test_bad_filters_name_the_field(params, field):
    with pytest.raises(TimelineError) as caught:
        Filters.parse(params)
    assert caught.value.field == field


def test_keyset_paging_walks_everything_once_even_with_equal_times(customer):
    same = at(10)
    for n in range(7):
        server_event(customer, "Points Earned", same if n % 2 else at(10, 9, n), f"omo:points:{n}", points=n)
    seen, cursor, pages = [], "", 0
    while True:
        page = timeline.timeline_page(customer, cursor=cursor, limit=3)
        seen += [e.id for e in page.entries]
        pages += 1
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    expected = list(
        TrackedEvent.objects.filter(customer=customer)
        .order_by("-timestamp", "-id")
        .values_list("id", flat=True)
    )
    assert seen == expected and pages == 3


def test_a_forged_cursor_is_refused(customer):
    with pytest.raises(TimelineError) as caught:
        timeline.timeline_page(customer, cursor="not-a-cursor")
    assert caught.value.field == "cursor"


def test_other_customers_and_brands_stay_off(story, brand, other_brand):
    someone = f.make_customer(brand, "王先生", phone="+886922222222")
    server_event(someone, "Points Earned", at(9), "omo:points:x", points=1)
    stranger = f.make_customer(other_brand, "林小姐", phone="+886911111111")
    TrackedEvent.objects.create(
        brand=other_brand,
        type="track",
        event="Points Earned",
        message_id="omo:points:y",
        customer=stranger,
        received_at=at(9),
        timestamp=at(9),
    )
    events = [e.text for e in timeline.timeline_page(story).entries]
    assert len(events) == 9 and "獲得 1 點" not in events


# --- the console customer page ------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_console_customer_page_shows_the_timeline_and_filters(story, hq_admin):
    response = _client(hq_admin).get(f"/console/customers/{story.pk}/", {"group": "orders"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "完成訂單 W-0099" in body and "傳來訊息" not in body
    assert [e.event for e in response.context["timeline"].entries] == ["Order Completed"]


def test_console_bad_filter_is_named_not_a_crash(story, hq_admin):
    response = _client(hq_admin).get(f"/console/customers/{story.pk}/", {"since": "yesterday"})
    assert response.status_code == 200
    assert "since: must be a date as YYYY-MM-DD" in response.content.decode()


def test_console_timeline_pages_by_cursor(customer, hq_admin):
    for n in range(35):
        server_event(
            customer, "Points Earned", at(1) + dt.timedelta(minutes=n), f"omo:points:{n}", points=n + 1
        )
    client = _client(hq_admin)
    first = client.get(f"/console/customers/{customer.pk}/")
    cursor = first.context["timeline"].next_cursor
    assert len(first.context["timeline"].entries) == 30 and cursor
    second = client.get(f"/console/customers/{customer.pk}/", {"cursor": cursor})
    assert [e.text for e in second.context["timeline"].entries] == [f"獲得 {n} 點" for n in range(5, 0, -1)]


def test_console_other_brand_and_out_of_scope_manager_get_404(story, other_admin, manager):
    assert _client(other_admin).get(f"/console/customers/{story.pk}/").status_code == 404
    # The manager's store neither is the customer's home store nor sold to them.
    assert _client(manager).get(f"/console/customers/{story.pk}/").status_code == 404


# --- the clerk app ------------------------------------------------------------------------------


def test_clerk_sees_their_own_customers_timeline_only(story, clerk, brand, store):
    Binding.objects.create(
        brand=brand, customer=story, clerk=clerk, source="manual", started_at=timezone.now()
    )
    inbox = Inbox.objects.create(brand=brand, platform="line", name="官方帳號")
    contact = Contact.objects.create(brand=brand, inbox=inbox, external_user_id="U1", customer=story)
    Conversation.objects.create(brand=brand, inbox=inbox, contact=contact, customer=story)
    response = _client(clerk).get(f"/clerk/customers/{story.pk}/", {"group": "chat"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "傳來訊息：「請問有 L 號嗎？」" in body and "完成訂單" not in body
    # Conversation 123 is not one this clerk may open: no link to it.
    assert "/clerk/c/123/" not in body

    other_clerk = f.make_user(brand, "clerk-b", role="clerk", store=store)
    assert _client(other_clerk).get(f"/clerk/customers/{story.pk}/").status_code == 404


def test_clerk_of_another_brand_gets_404(story, other_brand):
    other_store = f.make_store(other_brand, code="X1")
    stranger_clerk = f.make_user(other_brand, "clerk-x", role="clerk", store=other_store)
    assert _client(stranger_clerk).get(f"/clerk/customers/{story.pk}/").status_code == 404
