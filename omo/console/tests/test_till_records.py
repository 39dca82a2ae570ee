"""Coupons and points redeemed at stores' tills, in the console: the list under 會員 (filters by store
and date; a store manager sees their own store's), the order page and the customer page, each with
store, till, staff member, time and whether the sale was voided, in words."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from omo.core.audit import Actor
from omo.loyalty import services as loyalty
from omo.testing import factories as f

# 2026-12-07 14:12 in Taipei
NOW = dt.datetime(2026, 12, 7, 6, 12, tzinfo=dt.UTC)
URL = "/console/loyalty/till/"


@pytest.fixture(autouse=True)
def _clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def sales(brand, store, other_store, clerk, hq_admin):
    """信義店's till: a coupon and points on sale TPE01-0042 (voided: both given back), points on
    TPE01-0043; 高雄店's till: points on KHH01-0007 the day before."""
    actor = Actor(brand=brand, user=hq_admin)
    clerk.display_name = "王小美"
    clerk.save(update_fields=["display_name"])
    member = f.make_customer(brand, name="林小美", phone="0912000111", home_store_id=store.pk)
    loyalty.adjust_points(member, 1000, reason="開卡禮", actor=actor)
    coupon = loyalty.create_coupon(brand, actor=actor, name="生日禮 折 200", kind="amount_off", value=20000)
    [code] = loyalty.issue_codes(coupon, [member], actor=actor, prefix="BD")
    till = f.ApiClient(f.make_api_key(brand, role="store_manager", store=store, name="信義店 POS"))
    theirs = f.ApiClient(f.make_api_key(brand, role="store_manager", store=other_store, name="高雄店 POS"))
    with time_machine.travel(NOW - dt.timedelta(days=1), tick=False):
        assert (
            theirs.post(
                f"/api/v1/customers/{member.pk}/points/redeem", {"points": 50, "transaction_id": "KHH01-0007"}
            ).status_code
            == 201
        )

    def at(minutes: int):
        return time_machine.travel(NOW + dt.timedelta(minutes=minutes), tick=False)

    points = f"/api/v1/customers/{member.pk}/points"
    with at(0):
        coupon_use = till.post(
            "/api/v1/coupons/redeem",
            {
                "code": code.code,
                "customer_id": member.pk,
                "basket_total": 118000,
                "transaction_id": "TPE01-0042",
                "staff_code": "E001",
            },
        )
        assert coupon_use.status_code == 201, coupon_use.content
    with at(1):
        assert (
            till.post(f"{points}/redeem", {"points": 200, "transaction_id": "TPE01-0042"}).status_code == 201
        )
    with at(2):
        assert (
            till.post(f"{points}/redeem", {"points": 100, "transaction_id": "TPE01-0043"}).status_code == 201
        )
    with at(8):
        voided = {"transaction_id": "TPE01-0042", "reason": "客人取消"}
        assert till.post("/api/v1/coupons/reverse", voided).status_code == 200
        assert till.post(f"{points}/reverse", voided).status_code == 201
    return {"member": member, "code": code.code, "till": till}


def _rows(response) -> list[tuple[str, str, str]]:
    assert response.status_code == 200, response.content
    return [
        (r.kind, r.transaction_id, "reversed" if r.reversed else "redeemed") for r in response.context["page"]
    ]


def test_hq_sees_every_stores_till_in_words(console, sales):
    response = console.get(URL)
    assert _rows(response) == [
        ("points", "TPE01-0043", "redeemed"),
        ("points", "TPE01-0042", "reversed"),
        ("coupon", "TPE01-0042", "reversed"),
        ("points", "KHH01-0007", "redeemed"),
    ]
    body = response.content.decode()
    assert f"使用優惠碼 {sales['code']}（生日禮 折 200），折抵 NT$200" in body
    assert "折抵 200 點" in body and "信義店 POS" in body and "王小美" in body
    assert "已作廢，已退回" in body and "於 2026/12/07 14:20 退回：客人取消" in body
    assert "林小美" in body and "高雄夢時代店" in body
    assert "coupon_" not in body and "till:redeem" not in body  # sentences, not codes


def test_filters_by_store_and_date(console, sales, other_store):
    assert {row[1] for row in _rows(console.get(URL, {"store": other_store.pk}))} == {"KHH01-0007"}
    assert {row[1] for row in _rows(console.get(URL, {"date_from": "2026-12-07"}))} == {
        "TPE01-0042",
        "TPE01-0043",
    }
    assert {row[1] for row in _rows(console.get(URL, {"date_to": "2026-12-06"}))} == {"KHH01-0007"}


def test_a_bad_date_range_is_named_and_the_rest_applies(console, sales):
    response = console.get(URL, {"date_from": "2026-12-07", "date_to": "2026-12-01"})
    assert "迄日不可早於起日。" in response.content.decode()
    assert {row[1] for row in _rows(response)} == {"TPE01-0042", "TPE01-0043"}


def test_a_store_manager_sees_their_own_stores_till_only(client_for, manager, sales, other_store):
    client = client_for(manager)
    response = client.get(URL)
    assert {row[1] for row in _rows(response)} == {"TPE01-0042", "TPE01-0043"}
    # naming another store changes nothing: the filter is not offered, the scope stays
    assert {row[1] for row in _rows(client.get(URL, {"store": other_store.pk}))} == {
        "TPE01-0042",
        "TPE01-0043",
    }
    assert "高雄店 POS" not in response.content.decode()


def test_another_brand_and_a_clerk_see_nothing(client_for, other_admin, clerk, sales):
    response = client_for(other_admin).get(URL)
    assert _rows(response) == []
    assert "TPE01-0042" not in response.content.decode()
    assert client_for(clerk).get(URL).status_code == 403


def test_the_customer_page_shows_the_tills_use(console, client_for, manager, sales):
    page = console.get(reverse("console:customer_detail", args=[sales["member"].pk]))
    assert [(r.kind, r.transaction_id) for r in page.context["till_records"]] == [
        ("points", "TPE01-0043"),
        ("points", "TPE01-0042"),
        ("coupon", "TPE01-0042"),
        ("points", "KHH01-0007"),
    ]
    assert "信義店 POS" in page.content.decode()
    mine = client_for(manager).get(reverse("console:customer_detail", args=[sales["member"].pk]))
    assert {r.transaction_id for r in mine.context["till_records"]} == {"TPE01-0042", "TPE01-0043"}


def test_the_order_page_shows_what_the_till_redeemed_on_the_sale(console, sales, brand, store):
    f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "M", 59000)])
    recorded = sales["till"].post(
        "/api/v1/orders",
        {
            "source": "pos",
            "external_id": "TPE01-0043",
            "sales_channel": "pos",
            "store_code": store.code,
            "placed_at": NOW.isoformat(),
            "customer": {"phone": "0912000111"},
            "lines": [{"sku": "TEE-M", "quantity": 2, "unit_price": 59000}],
        },
    )
    assert recorded.status_code == 201, recorded.content
    page = console.get(reverse("console:order_detail", args=[recorded.json()["id"]]))
    assert [(r.kind, r.transaction_id, r.amount) for r in page.context["till_records"]] == [
        ("points", "TPE01-0043", 100)
    ]
    body = page.content.decode()
    assert "門市收銀機折抵" in body and "折抵 100 點" in body and "已折抵" in body


def test_the_list_costs_the_same_queries_for_more_sales(console, sales, brand, store):
    with CaptureQueriesContext(connection) as few:
        assert console.get(URL).status_code == 200
    member = sales["member"]
    for n in range(5):
        reply = sales["till"].post(
            f"/api/v1/customers/{member.pk}/points/redeem",
            {"points": 10, "transaction_id": f"TPE01-01{n}", "staff_code": "E001"},
        )
        assert reply.status_code == 201
    with CaptureQueriesContext(connection) as more:
        assert len(console.get(URL).context["page"]) == 9
    assert len(more.captured_queries) == len(few.captured_queries)
