"""Each report's figures on the hand-built month of report_data.py, exactly."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from omo.analytics.reports import bindings, cohorts, funnel, lifecycle, omo, pareto, rfm
from omo.analytics.reports.filters import Comparison, ReportFilters
from omo.analytics.tests.builders import make_customer, make_order
from omo.analytics.tests.report_data import NOW, add_bindings, add_chats, add_scores, at, build_month

pytestmark = pytest.mark.django_db

NOVEMBER = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))


@pytest.fixture(autouse=True)
def pinned():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def month(brand, store):
    return build_month(brand, store)


def november(brand, **narrowing) -> ReportFilters:
    return ReportFilters(brand, *NOVEMBER, **narrowing)


def test_omo_contribution_groups_multiples_and_retention(brand, month):
    report = omo.omo_contribution(november(brand))
    groups = report.groups
    assert (groups["omo"].customers, groups["omo"].spend, groups["omo"].orders, groups["omo"].returned) == (
        2,
        8000,
        4,
        1,
    )
    assert (groups["online"].customers, groups["online"].spend, groups["online"].returned) == (2, 2000, 1)
    assert (groups["store"].customers, groups["store"].spend, groups["store"].returned) == (2, 1500, 1)
    assert (groups["other"].customers, groups["other"].spend) == (1, 700)
    assert groups["omo"].spend_per_customer == 4000 and groups["store"].spend_per_customer == 750
    assert groups["omo"].orders_per_customer == 2.0 and groups["omo"].retention == 0.5
    assert report.customers == 7 and report.share("omo") == pytest.approx(2 / 7)
    vs_online, vs_store = report.multiples("online"), report.multiples("store")
    assert (vs_online.spend, vs_online.orders, vs_online.retention) == (4.0, 2.0, 1.0)
    assert vs_store.spend == pytest.approx(4000 / 750)
    assert (report.following_first, report.following_last) == (dt.date(2026, 12, 1), dt.date(2026, 12, 30))
    assert report.following_complete


def test_omo_by_store_counts_the_online_orders_credited_to_the_store(brand, month):
    report = omo.omo_contribution(november(brand, store_id=month.store.pk))
    # A: POS at the store + the web order credited to it; B: only the POS order there
    assert report.groups["omo"].customers == 1 and report.groups["omo"].spend == 4000
    assert report.groups["omo"].returned == 0  # A's December order is not the store's
    assert report.groups["store"].customers == 1 and report.groups["store"].spend == 2000
    assert report.groups["online"].customers == 0
    by_clerk = omo.omo_contribution(november(brand, clerk_id=month.clerk.pk))
    assert by_clerk.groups["online"].customers == 1 and by_clerk.groups["online"].spend == 3000
    assert by_clerk.customers == 1


def test_omo_without_any_single_channel_customer_has_no_multiples(brand, store):
    customer = make_customer(brand, "甲")
    make_order(brand, placed_at=at(11, 3), total=1000, store=store, customer=customer)
    make_order(brand, placed_at=at(11, 4), total=1000, sales_channel="web_shop", customer=customer)
    multiples = omo.omo_contribution(november(brand)).multiples("online")
    assert (multiples.spend, multiples.orders, multiples.retention) == (None, None, None)


def test_pareto_shares_of_the_top_customers(brand, month):
    report = pareto.pareto(november(brand))
    assert (report.customers, report.spend) == (7, 12200)
    assert report.tops == [
        (10, 1, 4000, pytest.approx(4000 / 12200)),
        (20, 2, 8000, pytest.approx(8000 / 12200)),
        (50, 4, 10500, pytest.approx(10500 / 12200)),
    ]
    curve = report.curve
    assert curve[0] == (0, 0.0) and curve[-1] == (100, 1.0) and len(curve) == 21
    assert [share for _p, share in curve] == sorted(share for _p, share in curve)


def test_pareto_with_a_sales_channel_and_the_comparison_period(brand, month):
    pos_only = pareto.pareto(november(brand, sales_channel="pos"))
    assert (pos_only.customers, pos_only.spend) == (4, 4500)  # A 1000, B 2000, E 1000, F 500
    previous = november(brand).compared(Comparison.PREVIOUS)
    assert (previous.first, previous.last) == (dt.date(2026, 10, 2), dt.date(2026, 10, 31))
    before = pareto.pareto(previous)
    assert (before.customers, before.spend) == (1, 8000)  # H at 23:30 local on 31 October
    last_year = november(brand).compared(Comparison.LAST_YEAR)
    assert (last_year.first, last_year.last) == (dt.date(2025, 11, 1), dt.date(2025, 11, 30))
    assert pareto.pareto(last_year).customers == 0 and pareto.pareto(last_year).top_share(10) is None


def test_rfm_grid_counts_and_revenue_per_cell(brand, month):
    add_scores(month)
    grid = rfm.rfm_grid(november(brand))
    assert grid.cell(5, 5).customers == 2 and grid.cell(5, 5).spend == 8100
    assert grid.cell(5, 5).mean_m == 4.5
    assert grid.cell(4, 1).customers == 1 and grid.cell(1, 1).customers == 0
    assert grid.prospects == 1 and grid.customers == 3 and grid.computed_at is not None
    assert [cell.f for cell in grid.rows[0]] == [1, 2, 3, 4, 5] and grid.rows[0][0].r == 5
    at_store = rfm.rfm_grid(november(brand, store_id=month.store.pk))
    assert at_store.customers == 2 and at_store.cell(4, 1).customers == 0
    members = list(rfm.cell_members(november(brand), 5, 5).values_list("customer__name", flat=True))
    assert members == ["A", "B"]  # best spend first
    with pytest.raises(ValueError):
        rfm.cell_members(november(brand), 6, 1)


def test_cohorts_by_first_order_month_and_acquisition_source(brand, month):
    add_bindings(month)
    report = cohorts.cohorts(ReportFilters(brand, dt.date(2026, 11, 1), dt.date(2026, 12, 31)))
    assert report.months == 2
    [november_cohort] = report.cohorts  # H ordered in October: not a new customer in November
    assert november_cohort.month == dt.date(2026, 11, 1)
    assert november_cohort.series() == [7, 3]  # A, C, E came back in December
    # A (LIFF), C (message code), D (LIFF, bound in October): A and C came back
    assert november_cohort.series("clerk") == [3, 2]
    assert november_cohort.series("other") == [4, 1]
    assert november_cohort.retention() == [1.0, pytest.approx(3 / 7)]
    assert report.average("clerk") == [1.0, pytest.approx(2 / 3)]


def test_bindings_per_week_and_month_by_store_and_clerk(brand, month):
    add_bindings(month)
    by_month = bindings.bindings_over_time(november(brand), grain=bindings.MONTH)
    assert by_month.buckets == [dt.date(2026, 11, 1)]
    assert [(row.name, row.counts, row.by_clerk) for row in by_month.rows] == [
        ("台北信義店", [2], 1),
        ("高雄店", [1], 1),
    ]
    by_week = bindings.bindings_over_time(november(brand), grain=bindings.WEEK, by=bindings.CLERKS)
    assert by_week.buckets[0] == dt.date(2026, 10, 26) and len(by_week.buckets) == 6
    assert by_week.totals == [0, 1, 1, 1, 0, 0]
    assert [(row.name, row.total) for row in by_week.rows] == [("Amy", 2), ("Ben", 1)]
    only_ben = bindings.bindings_over_time(november(brand, clerk_id=month.clerk2.pk))
    assert only_ben.total == 1


def test_funnel_per_clerk_and_store(brand, month):
    add_chats(month)
    report = funnel.funnel(november(brand))
    amy, ben = report.clerks
    assert (amy.name, amy.conversations, amy.clicks, amy.orders, amy.sales) == ("Amy", 2, 3, 1, 3000)
    assert (ben.name, ben.conversations, ben.clicks, ben.orders) == ("Ben", 0, 1, 0)
    assert amy.click_rate == 1.5 and amy.order_rate == pytest.approx(1 / 3)
    assert [(row.name, row.clicks) for row in report.stores] == [("台北信義店", 3), ("高雄店", 1)]
    total = report.total
    assert (total.conversations, total.clicks, total.orders) == (2, 4, 1)
    assert funnel.funnel(november(brand, store_id=month.store2.pk)).clerks == [ben]


def test_lifecycle_moves_month_to_month(brand, store):
    customers = {name: make_customer(brand, name) for name in "PQRS"}
    for name, days in {
        "P": [at(1, 10), at(2, 20)],
        "Q": [at(3, 5)],
        "R": [at(12, 1, year=2025), at(4, 10)],
        "S": [at(1, 25), at(2, 15), at(3, 10)],
    }.items():
        for placed_at in days:
            make_order(brand, placed_at=placed_at, total=100, store=store, customer=customers[name])
    report = lifecycle.lifecycle(ReportFilters(brand, dt.date(2026, 2, 1), dt.date(2026, 4, 30)), cycle=30)
    assert report.active_before == 2  # P and S were active on 31 January
    assert [(m.month.month, m.new, m.reactivated, m.lapsed, m.active_end) for m in report.months] == [
        (2, 0, 1, 1, 2),  # P lapsed on 10 February and came back on the 20th
        (3, 1, 0, 1, 2),  # Q new; P lapsed again
        (4, 0, 1, 2, 1),  # R back after four months; Q and S lapsed
    ]


REPORTS = {
    "omo": lambda f: omo.omo_contribution(f),
    "pareto": lambda f: pareto.pareto(f),
    "rfm": lambda f: rfm.rfm_grid(f),
    "cohorts": lambda f: cohorts.cohorts(f),
    "bindings": lambda f: bindings.bindings_over_time(f),
    "funnel": lambda f: funnel.funnel(f),
    "lifecycle": lambda f: lifecycle.lifecycle(f),
}


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_query_count_does_not_grow_with_the_data(brand, month, name):
    add_bindings(month)
    add_chats(month)
    add_scores(month)
    filters = november(brand)

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            REPORTS[name](filters)
        return len(captured.captured_queries)

    before = count()
    for index in range(30):
        customer = make_customer(brand, f"more{index}")
        make_order(brand, placed_at=at(11, 1 + index % 28), total=100 + index, customer=customer)
    assert count() == before
