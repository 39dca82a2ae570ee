"""The 分析 pages: figures on screen, filters and comparison, CSV, a store manager's forced store,
refusals (clerks, another brand's clerk), and query counts that do not grow with the data."""

from __future__ import annotations

import csv
import io

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from omo.analytics.tests.builders import make_customer, make_order
from omo.analytics.tests.report_data import NOW, add_bindings, add_chats, add_scores, at, build_month
from omo.testing import factories as f

pytestmark = pytest.mark.django_db

PAGES = ("omo", "pareto", "rfm", "cohorts", "bindings", "funnel", "lifecycle")
NOVEMBER = "date_from=2026-11-01&date_to=2026-11-30"


@pytest.fixture(autouse=True)
def pinned():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def month(brand, store):
    month = build_month(brand, store)
    add_bindings(month)
    add_chats(month)
    add_scores(month)
    return month


def _csv(response) -> list[list[str]]:
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))


@pytest.mark.parametrize("page", PAGES)
def test_each_page_renders_its_chart_and_table_for_hq(client_for, hq_admin, month, page):
    response = client_for(hq_admin).get(f"/console/analytics/{page}/?{NOVEMBER}")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-testid="report-table"' in html and "匯出 CSV" in html
    assert "<svg" in html or page == "rfm"
    assert "<script" not in html.split("<body", 1)[1].split("console.js")[0].replace("<script src=", "")


def test_omo_page_shows_the_brands_own_multiple_and_a_comparison(client_for, hq_admin, month):
    response = client_for(hq_admin).get(f"/console/analytics/omo/?{NOVEMBER}&compare=previous")
    html = response.content.decode()
    assert 'data-kpi="spend_vs_online">4.0×' in html
    assert 'data-kpi="spend_vs_store">5.3×' in html
    assert "比較 2026/10/02–2026/10/31" in html
    assert "每人消費是只在線上顧客的 4.0 倍" in html


def test_omo_csv_has_one_row_per_group(client_for, hq_admin, month):
    rows = _csv(client_for(hq_admin).get(f"/console/analytics/omo/?{NOVEMBER}&format=csv"))
    assert rows[0] == [
        "顧客群",
        "顧客數",
        "顧客占比 %",
        "淨消費",
        "每位顧客消費",
        "每位顧客訂單數",
        "下一期間回購率 %",
    ]
    assert rows[1][:2] == ["虛實融合（線上＋門市）", "2"] and rows[1][5:] == ["2.00", "50.0"]
    assert [row[1] for row in rows[1:]] == ["2", "2", "2", "1"]


def test_pareto_csv_and_a_sales_channel_filter(client_for, hq_admin, month):
    rows = _csv(client_for(hq_admin).get(f"/console/analytics/pareto/?{NOVEMBER}&format=csv"))
    top10 = next(row for row in rows if row[0] == "10%")
    assert top10[1:4] == ["1", "NT$40", "32.8"]
    filtered = _csv(
        client_for(hq_admin).get(f"/console/analytics/pareto/?{NOVEMBER}&sales_channel=pos&format=csv")
    )
    assert next(row for row in filtered if row[0] == "50%")[1] == "2"  # 4 customers bought at a till


def test_rfm_cell_links_to_its_members(client_for, hq_admin, month):
    client = client_for(hq_admin)
    html = client.get("/console/analytics/rfm/").content.decode()
    assert "/console/analytics/rfm/members/?r=5&amp;f=5" in html
    members = client.get("/console/analytics/rfm/members/?r=5&f=5").content.decode()
    assert f"/console/customers/{month.customers['A'].pk}/" in members
    assert f"/console/customers/{month.customers['C'].pk}/" not in members
    rows = _csv(client.get("/console/analytics/rfm/members/?r=5&f=5&format=csv"))
    assert [row[1] for row in rows[1:]] == ["A", "B"]


def test_rfm_members_needs_a_cell(client_for, hq_admin, month):
    response = client_for(hq_admin).get("/console/analytics/rfm/members/?r=9&f=x")
    assert response.status_code == 400
    assert "R 與 F 都是 1 到 5 的分數" in response.content.decode()


def test_a_store_manager_sees_their_store_whatever_the_request_says(client_for, brand, store, month):
    manager = f.make_user(brand, "mgr", role="store_manager", store=store)
    client = client_for(manager)
    forced = _csv(client.get(f"/console/analytics/omo/?{NOVEMBER}&store={month.store2.pk}&format=csv"))
    assert [row[1] for row in forced[1:]] == ["1", "0", "1", "0"]  # the store's A (OMO) and B (store)
    html = client.get(f"/console/analytics/omo/?{NOVEMBER}").content.decode()
    assert 'name="store"' not in html and "台北信義店" in html
    members = client.get("/console/analytics/rfm/members/?r=4&f=1").content.decode()
    assert "這一格沒有顧客" in members  # C never bought at the store
    refused = client.get(f"/console/analytics/funnel/?{NOVEMBER}&clerk={month.clerk2.pk}").content.decode()
    assert "Ben" not in refused.split('data-testid="report-table"')[1]


def test_a_clerk_may_not_open_the_analytics(client_for, month):
    for page in PAGES:
        assert client_for(month.clerk).get(f"/console/analytics/{page}/").status_code == 403
    assert client_for(month.clerk).get("/console/analytics/rfm/members/?r=5&f=5").status_code == 403


def test_another_brands_clerk_is_refused_and_its_data_never_shows(client_for, hq_admin, other_brand, month):
    stranger = f.make_user(other_brand, "x", role="clerk")
    response = client_for(hq_admin).get(f"/console/analytics/funnel/?{NOVEMBER}&clerk={stranger.pk}")
    html = response.content.decode()
    assert response.status_code == 200 and "errorlist" in html  # reported next to the field, not applied
    assert "Amy" in html.split('data-testid="report-table"')[1]
    other_admin = f.make_user(other_brand, "boss", role="hq_admin")
    theirs = client_for(other_admin).get(f"/console/analytics/funnel/?{NOVEMBER}&format=csv")
    assert "Amy" not in theirs.content.decode("utf-8-sig")
    members = client_for(other_admin).get("/console/analytics/rfm/members/?r=5&f=5").content.decode()
    assert f"/console/customers/{month.customers['A'].pk}/" not in members


def test_bad_dates_are_named_and_the_default_period_applies(client_for, hq_admin, month):
    html = (
        client_for(hq_admin).get("/console/analytics/pareto/?date_from=2026-11-30&date_to=2026-11-01").content
    )
    assert "迄日不能早於起日" in html.decode()
    html = (
        client_for(hq_admin).get("/console/analytics/pareto/?date_from=2020-01-01&date_to=2026-11-01").content
    )
    assert "期間最長兩年" in html.decode()
    html = client_for(hq_admin).get("/console/analytics/pareto/?date_from=yesterday").content.decode()
    assert "errorlist" in html and "2026/10/18–2027/01/15" in html  # the default 90 days


@pytest.mark.parametrize("page", [*PAGES, "rfm/members"])
def test_query_count_does_not_grow_with_the_data(client_for, hq_admin, brand, store, month, page):
    client = client_for(hq_admin)
    url = f"/console/analytics/{page}/?{NOVEMBER}&compare=previous&r=5&f=5"
    client.get(url)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(url).status_code == 200
        return len(captured.captured_queries)

    before = count()
    for index in range(20):
        customer = make_customer(brand, f"more{index}")
        make_order(brand, placed_at=at(11, 1 + index), total=100 + index, store=store, customer=customer)
    assert count() == before


def test_the_pages_speak_english_too(client_for, hq_admin, month):
    client = client_for(hq_admin)
    client.post("/i18n/setlang/", {"language": "en", "next": "/console/analytics/omo/"})
    html = client.get(f"/console/analytics/omo/?{NOVEMBER}").content.decode()
    assert "<h1>OMO contribution</h1>" in html and "Export CSV" in html
    assert "spent 4.0 times as much per person as online-only customers" in html
    assert ">Analytics</div>" in html  # the nav group
