"""HQ's monthly commission statement of every clerk, per-clerk lines, the payroll CSV, and the API:
month boundaries in Asia/Taipei, refunds and cancellations deducted in their month, scopes."""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo

import pytest
import time_machine
from django.test import TestCase

from omo.attribution import statements
from omo.attribution.models import CommissionRule
from omo.commerce import services as commerce
from omo.commerce.models import Order
from omo.commerce.schemas import OrderIn, RefundIn
from omo.core.audit import Actor
from omo.testing import factories as f

pytestmark = pytest.mark.django_db
TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
NOW = dt.datetime(2026, 12, 7, 10, 0, tzinfo=TAIPEI)
NOVEMBER, DECEMBER = dt.date(2026, 11, 1), dt.date(2026, 12, 1)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def world(brand, store, other_store, clerk):
    """Two clerks in 台北信義店 (one left the company), one in 高雄夢時代店, 10% brand-wide."""
    f.make_product(brand, "T恤", variants=[("TEE", "M", 100000)])
    CommissionRule.objects.create(brand=brand, rate_bp=1000, starts_on=dt.date(2026, 1, 1))
    amy = f.make_user(brand, "amy", role="clerk", store=store, employee_code="E002", display_name="林艾咪")
    bob = f.make_user(
        brand, "bob", role="clerk", store=other_store, employee_code="K001", display_name="王阿伯"
    )
    gone = f.make_user(brand, "gone", role="clerk", store=store, display_name="離職者", is_active=False)
    idle_gone = f.make_user(brand, "idle", role="clerk", store=store, is_active=False)  # noqa: F841
    return {"clerk": clerk, "amy": amy, "bob": bob, "gone": gone}


def pos(brand, store, person, external_id, placed_at, amount=100000) -> Order:
    data = {
        "source": "api",
        "external_id": external_id,
        "sales_channel": "pos",
        "store_code": store.code,
        "staff_code": person.employee_code or "",
        "placed_at": placed_at.isoformat(),
        "status": "paid",
        "lines": [{"sku": "TEE", "title": "T恤", "quantity": amount // 100000, "unit_price": 100000}],
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = commerce.record_order(brand, OrderIn.model_validate(data), actor=None)
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def booked(brand, store, other_store, world):
    """November and December sales, a December refund and cancellation of November orders."""
    clerk, amy, bob = world["clerk"], world["amy"], world["bob"]
    # 23:30 on 30 Nov in Taipei is 15:30 UTC: November
    last_of_november = pos(
        brand, store, clerk, "n1", dt.datetime(2026, 11, 30, 23, 30, tzinfo=TAIPEI), 200000
    )
    # 00:10 on 1 Dec in Taipei is still 30 Nov in UTC: December
    pos(brand, store, clerk, "d1", dt.datetime(2026, 12, 1, 0, 10, tzinfo=TAIPEI), 100000)
    cancelled = pos(brand, store, amy, "n2", dt.datetime(2026, 11, 10, 12, tzinfo=TAIPEI), 300000)
    pos(brand, other_store, bob, "d2", dt.datetime(2026, 12, 3, 12, tzinfo=TAIPEI), 500000)
    # the clerk who left sold in November; the statement of November still lists him
    world["gone"].employee_code = "E009"
    world["gone"].is_active = True
    world["gone"].save()
    pos(brand, store, world["gone"], "n3", dt.datetime(2026, 11, 5, 12, tzinfo=TAIPEI), 100000)
    world["gone"].is_active = False
    world["gone"].save()
    with time_machine.travel(dt.datetime(2026, 12, 2, 9, tzinfo=TAIPEI), tick=False):
        with TestCase.captureOnCommitCallbacks(execute=True):
            commerce.refund(last_of_november, RefundIn(external_id="r1", amount=50000), actor=None)
        with TestCase.captureOnCommitCallbacks(execute=True):
            commerce.cancel(Order.objects.get(pk=cancelled.pk), actor=None, reason="顧客取消")
    return world


def admin(brand, hq_admin) -> Actor:
    return Actor(brand=brand, user=hq_admin, role="hq_admin")


def figures(statement):
    return {
        row.name: (row.store_name, row.orders, row.sales, row.deducted_sales, row.deducted, row.commission)
        for row in statement.rows
    }


def test_november_counts_orders_placed_in_november_taipei_time(brand, hq_admin, manager, booked):
    november = statements.monthly_statement(admin(brand, hq_admin), NOVEMBER)
    assert figures(november) == {
        "clerk": ("台北信義店", 1, 200000, 0, 0, 20000),
        "林艾咪": ("台北信義店", 1, 300000, 0, 0, 30000),
        "離職者": ("台北信義店", 1, 100000, 0, 0, 10000),
        "manager": ("台北信義店", 0, 0, 0, 0, 0),
        "王阿伯": ("高雄夢時代店", 0, 0, 0, 0, 0),
    }
    assert [(t.store_name, t.clerks, t.orders, t.commission) for t in november.stores] == [  # by store code
        ("高雄夢時代店", 1, 0, 0),
        ("台北信義店", 4, 3, 60000),
    ]
    assert (november.total.orders, november.total.sales, november.total.commission) == (3, 600000, 60000)


def test_december_deducts_the_refund_and_the_cancellation_of_november_orders(brand, hq_admin, booked):
    december = statements.monthly_statement(admin(brand, hq_admin), DECEMBER)
    rows = figures(december)
    assert rows["clerk"] == ("台北信義店", 1, 100000, 50000, 5000, 10000 - 5000)
    assert rows["林艾咪"] == ("台北信義店", 0, 0, 300000, 30000, -30000)
    assert rows["王阿伯"] == ("高雄夢時代店", 1, 500000, 0, 0, 50000)
    assert "離職者" not in rows  # inactive and nothing in December


def test_a_store_manager_sees_only_their_store_and_a_clerk_nothing(brand, manager, booked):
    as_manager = Actor(brand=brand, user=manager, role="store_manager")
    assert {row.store_name for row in statements.monthly_statement(as_manager, DECEMBER).rows} == {
        "台北信義店"
    }
    assert statements.visible_person(as_manager, booked["bob"].pk) is None
    as_clerk = Actor(brand=brand, user=booked["clerk"], role="clerk")
    assert statements.monthly_statement(as_clerk, DECEMBER).rows == []
    assert statements.visible_person(as_clerk, booked["clerk"].pk) is None


def test_a_clerks_lines_say_why(brand, hq_admin, booked):
    lines = statements.statement_lines(admin(brand, hq_admin), booked["clerk"], DECEMBER)
    assert [(line.kind, line.basis, line.amount) for line in lines] == [
        ("reversal", -50000, -5000),
        ("sale", 100000, 10000),
    ]
    assert lines[0].reason_en == "Order refunded; commission taken back pro rata"
    assert "POS" in lines[1].reason_zh


def test_payroll_csv_has_a_bom_and_one_row_per_clerk_in_nt_dollars(brand, hq_admin, manager, booked):
    body = statements.payroll_csv(statements.monthly_statement(admin(brand, hq_admin), DECEMBER))
    assert body.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert rows[0][:4] == ["員工編號 staff_code", "姓名 name", "門市 store", "月份 month"]
    by_code = {row[0]: row for row in rows[1:]}
    assert by_code["E001"] == [
        "E001",
        "clerk",
        "台北信義店",
        "2026-12",
        "1",
        "1000.00",
        "500.00",
        "50.00",
        "50.00",
    ]
    assert by_code["K001"][5:] == ["5000.00", "0.00", "0.00", "500.00"]
    assert by_code["E002"][-1] == "-300.00"
    assert len(rows) == 1 + 4  # clerk, amy, bob, the manager


# --- API ---------------------------------------------------------------------------------------


def test_api_lists_the_month_with_store_totals(api, manager, booked, store):
    response = api.get("/api/v1/commission/statements", month="2026-11")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["month"] == "2026-11"
    assert {row["name"]: row["commission"] for row in body["items"]} == {
        "clerk": 20000,
        "林艾咪": 30000,
        "離職者": 10000,
        "manager": 0,
        "王阿伯": 0,
    }
    assert body["total"]["commission"] == 60000
    only = api.get("/api/v1/commission/statements", month="2026-11", store=store.pk).json()
    assert {row["store_name"] for row in only["items"]} == {"台北信義店"}


def test_api_defaults_to_this_month_and_names_a_bad_month(api, booked):
    assert api.get("/api/v1/commission/statements").json()["month"] == "2026-12"
    bad = api.get("/api/v1/commission/statements", month="2026-13")
    assert (bad.status_code, bad.json()["code"], bad.json()["field"]) == (422, "invalid_month", "month")


def test_api_detail_and_csv(api, booked):
    clerk = booked["clerk"]
    detail = api.get(f"/api/v1/commission/statements/{clerk.pk}", month="2026-12").json()
    assert detail["clerk"]["commission"] == 5000
    assert [(line["kind"], line["amount"]) for line in detail["lines"]] == [
        ("reversal", -5000),
        ("sale", 10000),
    ]
    response = api.get("/api/v1/commission/statements", month="2026-12", format="csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert 'filename="payroll-2026-12.csv"' in response["Content-Disposition"]
    assert response.content.startswith("\ufeff".encode())


def test_api_refuses_clerks_other_brands_and_other_stores(brand, other_api, clerk_api, booked, other_store):
    assert clerk_api.get("/api/v1/commission/statements").status_code == 403
    assert clerk_api.get(f"/api/v1/commission/statements/{booked['clerk'].pk}").status_code == 403
    theirs = other_api.get("/api/v1/commission/statements", month="2026-11").json()
    assert theirs["items"] == [] and theirs["total"]["commission"] == 0
    assert other_api.get(f"/api/v1/commission/statements/{booked['clerk'].pk}").status_code == 404
    manager_key = f.ApiClient(f.make_api_key(brand, role="store_manager", store=other_store))
    mine = manager_key.get("/api/v1/commission/statements", month="2026-12").json()
    assert {row["name"] for row in mine["items"]} == {"王阿伯"}
    assert manager_key.get(f"/api/v1/commission/statements/{booked['clerk'].pk}").status_code == 404
