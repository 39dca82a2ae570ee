"""A clerk's API key sees what the clerk app shows the clerk, list by list: conversations,
customers (the bound ones), orders (sales, credited orders, their bound customers' history, the
buyer left out where the customer is not theirs), coupon codes."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from omo.attribution.models import Attribution
from omo.binding.models import Binding
from omo.commerce import services as commerce
from omo.commerce.schemas import OrderIn
from omo.core.audit import Actor
from omo.inbox.models import Contact, Conversation, Inbox, InboxSettings
from omo.loyalty import services as loyalty
from omo.testing import factories as f

NOW = dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC)  # 14:00 in Taipei


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=True):
        yield


def _order(brand, external_id: str, customer, store_code: str, staff_code: str = ""):
    order, _ = commerce.record_order(
        brand,
        OrderIn.model_validate(
            {
                "source": "pos",
                "external_id": external_id,
                "sales_channel": "pos",
                "store_code": store_code,
                "staff_code": staff_code,
                "placed_at": (NOW - dt.timedelta(hours=2)).isoformat(),
                "customer": {"phone": customer.phone} if customer is not None else None,
                "lines": [{"sku": "TEE-M", "quantity": 1, "unit_price": 100000}],
            }
        ),
        actor=None,
    )
    return order


def _conversation(brand, inbox, customer, **fields) -> Conversation:
    contact = Contact.objects.create(
        brand=brand, inbox=inbox, external_user_id=f"U{customer.pk:032d}", customer=customer
    )
    return Conversation.objects.create(brand=brand, inbox=inbox, contact=contact, customer=customer, **fields)


@pytest.fixture
def world(brand, store, other_store, clerk):
    f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "M", 100000)])
    other_clerk = f.make_user(brand, "clerk-b", role="clerk", store=other_store, employee_code="E002")
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE")
    bound = f.make_customer(brand, "綁定的林小姐", phone="+886911000001")
    sold = f.make_customer(brand, "買過的王先生", phone="+886911000002")
    assigned = f.make_customer(brand, "指派的陳太太", phone="+886911000003")
    credited = f.make_customer(brand, "連結成交的張先生", phone="+886911000004")
    stranger = f.make_customer(brand, "別人的顧客", phone="+886911000005")
    for customer, owner in ((bound, clerk), (stranger, other_clerk)):
        Binding.objects.create(
            brand=brand, customer=customer, clerk=owner, source="manual", started_at=timezone.now()
        )
    conversations = {
        "bound": _conversation(brand, inbox, bound, store=store),
        "assigned": _conversation(brand, inbox, assigned, queue="clerk", assignee=clerk, store=store),
        "stranger": _conversation(brand, inbox, stranger, store=other_store),
    }
    orders = {
        "bound_elsewhere": _order(brand, "A-1", bound, other_store.code),  # history of my customer
        "sold": _order(brand, "B-1", sold, store.code, staff_code="E001"),
        "anonymous_sale": _order(brand, "B-2", None, store.code, staff_code="E001"),
        "credited": _order(brand, "E-1", credited, other_store.code),
        "stranger": _order(brand, "D-1", stranger, other_store.code, staff_code="E002"),
    }
    Attribution.objects.create(
        brand=brand,
        order=orders["credited"],
        clerk=clerk,
        store=store,
        rule=Attribution.Rule.LINK_CLICK,
        reason_zh="點了店員的連結",
        reason_en="clicked the clerk's link",
        decided_at=timezone.now(),
    )
    return {
        "customers": {
            "bound": bound,
            "sold": sold,
            "assigned": assigned,
            "credited": credited,
            "stranger": stranger,
        },
        "conversations": conversations,
        "orders": orders,
    }


@pytest.fixture
def app(clerk) -> Client:
    client = Client()
    client.force_login(clerk)
    return client


@pytest.fixture
def key(brand, clerk):
    return f.ApiClient(f.make_api_key(brand, role="clerk", staff=clerk))


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["items"]}


def test_conversations_match(world, app, key):
    in_app = {row["id"] for row in app.get("/clerk/conversations.json").json()["conversations"]}
    expected = {world["conversations"]["bound"].pk, world["conversations"]["assigned"].pk}
    assert in_app == expected
    assert _ids(key.get("/api/v1/conversations")) == expected
    stranger = world["conversations"]["stranger"].pk
    assert app.get(f"/clerk/c/{stranger}/").status_code == 404
    assert key.get(f"/api/v1/conversations/{stranger}").status_code == 404


def test_customers_match(world, app, key):
    customers = world["customers"]
    in_app = {
        name
        for name, customer in customers.items()
        if app.get(f"/clerk/customers/{customer.pk}/").status_code == 200
    }
    by_key = {
        name
        for name, customer in customers.items()
        if key.get(f"/api/v1/customers/{customer.pk}").status_code == 200
    }
    # the bound customer only: not whom the clerk sold to, nor the customer of an assigned chat
    assert in_app == by_key == {"bound"}
    listed = _ids(key.get("/api/v1/customers"))
    assert listed == {customers["bound"].pk}
    # the app's "my customers" tab lists the same
    tab = app.get("/clerk/customers/")
    assert {binding.customer_id for binding in tab.context["bindings"]} == listed


def test_an_assigned_chat_shows_its_messages_but_not_the_customers_record(world, app):
    assigned = world["conversations"]["assigned"]
    page = app.get(f"/clerk/c/{assigned.pk}/")
    assert page.status_code == 200
    assert page.context["panel"] is None
    assert "panel-not-yours" in page.content.decode()
    mine = app.get(f"/clerk/c/{world['conversations']['bound'].pk}/")
    assert mine.context["panel"]["customer"] == world["customers"]["bound"]


def test_orders_match(world, app, key, clerk, brand, store):
    orders = world["orders"]
    panel_orders = set()
    for customer in world["customers"].values():
        page = app.get(f"/clerk/customers/{customer.pk}/")
        if page.status_code == 200:
            panel_orders |= {order.pk for order in page.context["panel"]["recent_orders"]}
    sales = app.get("/clerk/sales/")
    credited = {attribution.order_id for attribution in sales.context["attributions"]}
    in_app = panel_orders | credited
    assert in_app >= {orders["bound_elsewhere"].pk, orders["credited"].pk}
    assert orders["stranger"].pk not in in_app
    listed = key.get("/api/v1/orders").json()["items"]
    by_key = {row["id"] for row in listed}
    # plus the clerk's own sales (no page lists them one by one; they are the clerk's)
    assert by_key == in_app | {orders["sold"].pk, orders["anonymous_sale"].pk}
    # a sale or credited order of a customer who is not the clerk's: the order without its buyer
    buyers = {row["id"]: row["customer_id"] for row in listed}
    assert buyers[orders["bound_elsewhere"].pk] == world["customers"]["bound"].pk
    assert buyers[orders["sold"].pk] is None and buyers[orders["credited"].pk] is None
    credited = key.get(f"/api/v1/orders/{orders['credited'].pk}")
    assert credited.status_code == 200
    assert (credited.json()["customer_id"], credited.json()["contact_phone"]) == (None, "")
    assert key.get(f"/api/v1/orders/{orders['stranger'].pk}").status_code == 404
    # filtering by a customer who is not the clerk's finds none of the clerk's sales either
    sold_to = world["customers"]["sold"].pk
    assert _ids(key.get(f"/api/v1/orders?customer_id={sold_to}")) == set()


def test_coupon_codes_of_other_customers_stay_hidden(world, key, api, brand):
    coupon = loyalty.create_coupon(
        brand, actor=Actor.system(brand), name="生日禮", kind="amount_off", value=10000
    )
    customers = world["customers"]
    issued = {
        code.customer_id: code.pk
        for code in loyalty.issue_codes(
            coupon, [customers["bound"], customers["stranger"]], actor=Actor.system(brand), prefix="BDAY"
        )
    }
    shared = loyalty.add_shared_code(coupon, code="SPRING500", max_uses=100, actor=Actor.system(brand))
    url = f"/api/v1/coupons/{coupon.pk}/codes"
    assert _ids(key.get(url)) == {issued[customers["bound"].pk], shared.pk}
    assert _ids(api.get(url)) == {issued[customers["bound"].pk], issued[customers["stranger"].pk], shared.pk}


def test_a_clerk_who_moved_store_sees_through_the_key_what_the_app_shows(
    world, app, key, clerk, brand, store, other_store
):
    InboxSettings.objects.update_or_create(brand=brand, defaults={"store_team_sees_clerk_customers": True})
    team = _conversation(
        brand, Inbox.objects.get(brand=brand), f.make_customer(brand, "門市客", phone="+886911000009")
    )
    Conversation.objects.filter(pk=team.pk).update(store=store)
    assert team.pk in _ids(key.get("/api/v1/conversations"))
    clerk.store = other_store
    clerk.save(update_fields=["store"])
    in_app = {row["id"] for row in app.get("/clerk/conversations.json").json()["conversations"]}
    by_key = _ids(key.get("/api/v1/conversations"))
    assert team.pk not in in_app
    assert by_key == in_app
