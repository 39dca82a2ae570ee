"""Customers: search, pagination, the 360 page, its audit entry and the member link button."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import NoReverseMatch, reverse

from omo.analytics.tests.builders import make_customer
from omo.commerce import shop_links
from omo.core.models import AuditLog
from omo.customers.models import CustomerIdentity
from omo.loyalty.models import Coupon, CouponCode, LoyaltyAccount, PointsEntry, Tier


def listed(response) -> set[str]:
    return {customer.name for customer in response.context["page"].object_list}


@pytest.mark.parametrize(
    "query, expected",
    [
        ("怡君", {"陳怡君"}),
        ("0912000001", {"陳怡君"}),  # local format of +886912000001
        ("+886912000002", {"林志明"}),
        ("000003", {"黃美玲"}),  # the tail of a number
        ("0912-000-00", {"陳怡君", "林志明", "黃美玲"}),  # the start, typed locally
        ("LIN@example.com", {"林志明"}),
        ("m0001", {"陳怡君"}),  # member number, any case
    ],
)
def test_search(console, seeded_sales, query, expected):
    assert listed(console.get(reverse("console:customers"), {"q": query})) == expected


def test_list_without_search_shows_everyone_newest_first(console, seeded_sales):
    response = console.get(reverse("console:customers"))
    assert [customer.name for customer in response.context["page"].object_list] == [
        "張舊客",
        "黃美玲",
        "林志明",
        "陳怡君",
    ]


def test_pagination_and_constant_queries(console, brand):
    for n in range(5):
        make_customer(brand, f"顧客{n}")
    with CaptureQueriesContext(connection) as few:
        console.get(reverse("console:customers"))
    tier = Tier.objects.create(brand=brand, name="金卡", threshold=1000000)
    for n in range(5, 55):
        customer = make_customer(brand, f"顧客{n}")
        LoyaltyAccount.objects.create(brand=brand, customer=customer, balance=n, tier=tier)
    with CaptureQueriesContext(connection) as many:
        response = console.get(reverse("console:customers"))
    assert len(many) == len(few)
    assert response.context["page"].paginator.count == 55
    assert len(console.get(reverse("console:customers"), {"page": 2}).context["page"].object_list) == 5


def test_store_manager_sees_customers_of_their_store(client_for, manager, seeded_sales):
    client = client_for(manager)
    # A: home store; B: bought here (the old POS order); C: other store only; D: no link to the store.
    assert listed(client.get(reverse("console:customers"))) == {"陳怡君", "林志明"}
    c = seeded_sales.customers["C"]
    assert client.get(reverse("console:customer_detail", args=[c.pk])).status_code == 404


@pytest.fixture
def rich_customer(brand, seeded_sales):
    a = seeded_sales.customers["A"]
    a.tags = ["VIP", "敏感肌"]
    a.notes = "偏好無香料商品"
    a.save()
    CustomerIdentity.objects.create(
        brand=brand, customer=a, kind="line", value="U1234567890abcdef", verified=True
    )
    tier = Tier.objects.create(brand=brand, name="金卡", threshold=1000000)
    LoyaltyAccount.objects.create(brand=brand, customer=a, balance=320, lifetime_earned=500, tier=tier)
    from django.utils import timezone

    PointsEntry.objects.create(
        brand=brand, customer=a, delta=500, kind="earn", reason="消費回饋", created_at=timezone.now()
    )
    PointsEntry.objects.create(
        brand=brand, customer=a, delta=-180, kind="redeem", reason="折抵", created_at=timezone.now()
    )
    coupon = Coupon.objects.create(brand=brand, name="生日禮", kind="amount_off", value=20000)
    CouponCode.objects.create(
        brand=brand, coupon=coupon, code="BDAY-A1", customer=a, max_uses=1, times_used=1
    )
    return a


def test_detail_shows_profile_identities_loyalty_coupons_and_orders(console, rich_customer, seeded_sales):
    response = console.get(reverse("console:customer_detail", args=[rich_customer.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "+886912000001" in body and "M0001" in body
    assert "U1234567890abcdef" in body
    assert "VIP" in body and "敏感肌" in body and "偏好無香料商品" in body
    assert "金卡" in body and "<dd data-points>320</dd>" in body
    assert "+500" in body and "-180" in body
    assert "BDAY-A1" in body and "生日禮" in body
    o = seeded_sales.orders
    for order in (o[1], o[2], o["cancelled"]):
        assert order.name in body
    split = response.context["split"]
    assert (split.online_net, split.in_store_net) == (25000, 100000)
    assert "虛實融合" in body  # A bought online and in store


def test_viewing_a_customer_is_audited(console, hq_admin, seeded_sales):
    a = seeded_sales.customers["A"]
    console.get(reverse("console:customer_detail", args=[a.pk]), HTTP_USER_AGENT="pytest-browser")
    entry = AuditLog.objects.get(action="customer.viewed")
    assert (entry.brand_id, entry.actor_user_id, entry.target_type, entry.target_id) == (
        a.brand_id,
        hq_admin.pk,
        "customers.customer",
        str(a.pk),
    )
    assert entry.user_agent == "pytest-browser" and entry.ip_address == "127.0.0.1"
    console.get(reverse("console:customer_detail", args=[a.pk]))
    assert AuditLog.objects.filter(action="customer.viewed").count() == 2  # every view


def test_a_refused_view_is_not_audited(client_for, other_admin, clerk, seeded_sales):
    a = seeded_sales.customers["A"]
    assert client_for(other_admin).get(reverse("console:customer_detail", args=[a.pk])).status_code == 404
    assert client_for(clerk).get(reverse("console:customer_detail", args=[a.pk])).status_code == 403
    assert not AuditLog.objects.filter(action="customer.viewed").exists()


def test_member_link_button_hidden_without_the_shop(console, seeded_sales, monkeypatch):
    def shop_not_mounted(name, *args, **kwargs):
        raise NoReverseMatch(name)

    monkeypatch.setattr(shop_links, "reverse", shop_not_mounted)  # no shop:member URL to reverse
    body = console.get(
        reverse("console:customer_detail", args=[seeded_sales.customers["A"].pk])
    ).content.decode()
    assert "複製會員頁連結" not in body


def test_member_link_button_copies_the_shops_link_as_an_absolute_url(
    console, seeded_sales, monkeypatch, settings
):
    settings.BASE_URL = "https://omo.example.tw"
    monkeypatch.setattr(
        shop_links, "member_link", lambda customer: f"/shop/herb/member/{customer.pk}:sig/?x=1&y=2"
    )
    a = seeded_sales.customers["A"]
    body = console.get(reverse("console:customer_detail", args=[a.pk])).content.decode()
    assert "複製會員頁連結" in body
    assert f'data-copy="https://omo.example.tw/shop/herb/member/{a.pk}:sig/?x=1&amp;y=2"' in body


def test_store_manager_sees_the_whole_history_but_opens_only_their_orders(client_for, manager, seeded_sales):
    a = seeded_sales.customers["A"]
    o = seeded_sales.orders
    body = client_for(manager).get(reverse("console:customer_detail", args=[a.pk])).content.decode()
    assert o[2].name in body  # the online order is part of the customer's history
    assert reverse("console:order_detail", args=[o[2].pk]) not in body  # but not a link they could open
    assert reverse("console:order_detail", args=[o[1].pk]) in body
