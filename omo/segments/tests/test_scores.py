"""RFM scores and lifecycle groups on a hand-built brand (tests/score_data.py), the repurchase
interval, one customer's update after an order, and the cost of a run."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from omo.analytics.tests.builders import make_customer, make_order
from omo.commerce import services as commerce
from omo.commerce.schemas import OrderIn
from omo.commerce.services import lifecycle
from omo.segments import repurchase, rfm, scores
from omo.segments.models import CustomerScore, ScoreRun, Segment
from omo.segments.tests import score_data
from omo.segments.tests.score_data import NOW, TAIPEI
from omo.testing import factories as f


def _rows(data: score_data.Dataset) -> dict[str, CustomerScore]:
    names = {customer.pk: name for name, customer in data.customers.items()}
    return {names[row.customer_id]: row for row in CustomerScore.objects.filter(brand=data.brand)}


@pytest.fixture
def data(brand):
    return score_data.build(brand)


def test_quintiles_ties_and_the_named_segments(data):
    summary = scores.compute_scores(data.brand, now=NOW)

    assert summary.thresholds == scores.Thresholds(
        r=[10, 30, 50, 70], f=[1, 1, 3, 5], m=[100, 500, 3000, 9000], top20=10000
    )
    assert summary.buyers == 10 and summary.customers == 12
    rows = _rows(data)
    for name, (r, f_, m, segment) in score_data.EXPECTED.items():
        assert (rows[name].r, rows[name].f, rows[name].m, rows[name].rfm_segment) == (r, f_, m, segment), name
    # ties score the same: three buyers spent 100, two ordered 5 times
    assert {rows[name].m for name in ("b2", "b3", "b9")} == {1}
    assert rows["b0"].f == rows["b1"].f == 4


def test_prospects_merged_and_erased(data):
    scores.compute_scores(data.brand, now=NOW)
    rows = _rows(data)

    assert "merged" not in rows and "erased" not in rows
    for name in ("p1", "p2"):  # p1's only order is in the future, p2's cancelled
        row = rows[name]
        assert (row.orders, row.spend, row.recency_days, row.r, row.f, row.m) == (0, 0, None, 0, 0, 0)
        assert (row.rfm_segment, row.value_group, row.activity, row.channel_mix, row.top20) == (
            "prospect",
            "potential",
            "prospect",
            "none",
            False,
        )


def test_lifecycle_groups(data):
    summary = scores.compute_scores(data.brand, now=NOW)
    rows = _rows(data)

    assert summary.repurchase == repurchase.Interval(90, measured=False, gaps=0)
    value = {name for name, row in rows.items() if row.value_group == "loyal"}
    assert value == {"b0", "b1"}  # repeat buyers among the Champions and Loyal
    assert {name for name, row in rows.items() if row.value_group == "general"} == {
        "b2",
        "b3",
        "b4",
        "b5",
        "b6",
        "b7",
        "b8",
        "b9",
    }
    assert {name for name, row in rows.items() if row.activity == "dormant"} == {"b9"}  # 100 > 90 days
    assert {name for name, row in rows.items() if row.activity == "active"} == set(score_data.EXPECTED) - {
        "b9"
    }
    mix = {name: row.channel_mix for name, row in rows.items()}
    assert mix["b0"] == "omo" and mix["b1"] == "online" and mix["b8"] == "online" and mix["b2"] == "store"
    assert {name for name, row in rows.items() if row.top20} == {"b0", "b8"}  # top 2 of 10 by 12-month spend
    assert rows["b0"].spend == 10000 and rows["b0"].orders_12m == 5 and rows["b9"].recency_days == 100
    assert summary.counts["value_group.loyal"] == 2
    assert summary.counts["rfm.promising"] == 2
    assert summary.counts["activity.prospect"] == 2
    run = ScoreRun.objects.get(brand=data.brand)
    assert run.computed_at == NOW and run.repurchase_days == 90 and run.counts == summary.counts


def test_refunds_reduce_spend_and_cancelled_orders_do_not_count(brand):
    customer = make_customer(brand, "退貨", phone="")
    make_order(
        brand, placed_at=NOW - dt.timedelta(days=5), total=3000, refunded_total=1000, customer=customer
    )
    make_order(brand, placed_at=NOW - dt.timedelta(days=2), total=8000, customer=customer, status="cancelled")
    scores.compute_scores(brand, now=NOW)
    row = CustomerScore.objects.get(customer=customer)
    assert (row.orders, row.spend, row.recency_days) == (1, 2000, 5)


def _repeat_buyers(brand, count: int, days: tuple[int, ...]) -> None:
    start = dt.datetime(2026, 1, 5, 14, 0, tzinfo=TAIPEI)
    for index in range(count):
        customer = make_customer(brand, f"repeat {index}", phone="")
        for offset in days:
            make_order(brand, placed_at=start + dt.timedelta(days=offset), total=1000, customer=customer)


def test_the_repurchase_interval_is_the_median_gap(brand):
    # 16 customers, each with orders on days 0, 0 (same day: no gap), 20 and 50: gaps 20 and 30
    _repeat_buyers(brand, 16, (0, 0, 20, 50))
    interval = repurchase.measure(brand, TAIPEI, NOW, counted=scores.COUNTED_STATUSES)
    assert interval == repurchase.Interval(20, measured=True, gaps=32)

    summary = scores.compute_scores(brand, now=NOW)
    assert summary.repurchase.days == 20
    # the last orders were 2026-02-24, long before 2026-06-30: all dormant at a 20-day interval
    assert set(CustomerScore.objects.filter(brand=brand).values_list("activity", flat=True)) == {"dormant"}


def test_too_few_gaps_give_the_default(brand):
    _repeat_buyers(brand, 14, (0, 20, 50))  # 28 gaps < 30
    interval = repurchase.measure(brand, TAIPEI, NOW, counted=scores.COUNTED_STATUSES)
    assert interval == repurchase.Interval(90, measured=False, gaps=28)


def test_gaps_are_counted_in_the_brands_calendar_days(brand):
    customer = make_customer(brand, "夜貓", phone="")
    # 23:30 and 00:30 Taipei: the same UTC day, two local days
    make_order(brand, placed_at=dt.datetime(2026, 3, 1, 15, 30, tzinfo=dt.UTC), total=100, customer=customer)
    make_order(brand, placed_at=dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC), total=100, customer=customer)
    make_order(brand, placed_at=dt.datetime(2026, 3, 11, 1, 0, tzinfo=dt.UTC), total=100, customer=customer)
    make_order(
        brand,
        placed_at=dt.datetime(2026, 3, 20, 1, 0, tzinfo=dt.UTC),
        total=100,
        customer=customer,
        status="cancelled",
    )
    histogram = repurchase.gap_histogram(brand, TAIPEI, NOW, counted=scores.COUNTED_STATUSES)
    assert histogram == {1: 1, 9: 1}


@time_machine.travel(NOW, tick=False)
def test_an_order_updates_its_customers_row_with_the_last_cut_points(
    data, store, django_capture_on_commit_callbacks
):
    p1 = f.make_customer(data.brand, "新朋友", phone="+886911222333")
    scores.compute_scores(data.brand, now=NOW)
    assert CustomerScore.objects.get(customer=p1).value_group == "potential"
    Segment.objects.filter(brand=data.brand).update(stale_since=None)
    product = f.make_product(data.brand, variants=[("RFM-1", "M", 9000)])
    assert product
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = commerce.record_order(
            data.brand,
            OrderIn.model_validate(
                {
                    "source": "pos",
                    "external_id": "RFM-P1",
                    "sales_channel": "pos",
                    "store_code": store.code,
                    "placed_at": (NOW - dt.timedelta(hours=2)).isoformat(),
                    "customer": {"phone": p1.phone},
                    "lines": [{"sku": "RFM-1", "quantity": 1, "unit_price": 9000}],
                }
            ),
            actor=None,
        )
    row = CustomerScore.objects.get(customer=p1)
    # recency 0 → R5; 1 order → F1; NT$90 (9000) → M4 against [100, 500, 3000, 9000]: FM 3
    assert (row.orders, row.spend, row.recency_days, row.r, row.f, row.m) == (1, 9000, 0, 5, 1, 4)
    assert (row.rfm_segment, row.value_group, row.activity, row.channel_mix) == (
        "potential_loyalist",
        "general",
        "active",
        "store",
    )
    # the cut points are the last run's, not recomputed; the ready-made segments are stale again
    assert ScoreRun.objects.get(brand=data.brand).thresholds["m"] == [100, 500, 3000, 9000]
    assert not Segment.objects.filter(brand=data.brand, kind="ready_made", stale_since__isnull=True).exists()

    # cancelled: a prospect again
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.cancel(order, actor=None, reason="顧客取消")
    row = CustomerScore.objects.get(customer=p1)
    assert (row.orders, row.r, row.rfm_segment, row.value_group, row.activity) == (
        0,
        0,
        "prospect",
        "potential",
        "prospect",
    )


@time_machine.travel(NOW, tick=False)
def test_a_batch_of_orders_updates_each_customer(
    data, store, django_capture_on_commit_callbacks, monkeypatch
):
    first = f.make_customer(data.brand, "批次一", phone="+886911000001")
    second = f.make_customer(data.brand, "批次二", phone="+886911000002")
    scores.compute_scores(data.brand, now=NOW)
    f.make_product(data.brand, variants=[("RFM-2", "M", 600)])
    orders = [
        OrderIn.model_validate(
            {
                "source": "web",
                "external_id": f"RFM-B{index}",
                "sales_channel": "web_shop",
                "placed_at": (NOW - dt.timedelta(days=2)).isoformat(),
                "customer": {"phone": customer.phone},
                "lines": [{"sku": "RFM-2", "quantity": 1, "unit_price": 600}],
            }
        )
        for index, customer in enumerate((first, second))
    ]
    calls: list[list[int]] = []
    rescore = scores.rescore_customers

    def counted(brand_id, customer_ids, **kwargs):
        calls.append(sorted(pk for pk in customer_ids if pk is not None))
        return rescore(brand_id, customer_ids, **kwargs)

    monkeypatch.setattr(scores, "rescore_customers", counted)
    with django_capture_on_commit_callbacks(execute=True):
        commerce.record_orders(data.brand, orders, actor=None)
    assert calls == [sorted([first.pk, second.pk])]  # once, for the batch; not once per order
    for customer in (first, second):
        row = CustomerScore.objects.get(customer=customer)
        # 2 days → R5 ([10, 30, 50, 70]); 1 order → F1; 600 → M3 ([100, 500, 3000, 9000]): FM 2
        assert (row.orders, row.spend, row.r, row.f, row.m, row.channel_mix) == (1, 600, 5, 1, 3, "online")
        assert row.rfm_segment == "potential_loyalist"


def test_a_customers_update_agrees_with_the_whole_run(data):
    scores.compute_scores(data.brand, now=NOW)
    fields = ("orders", "spend", "orders_12m", "spend_12m", "recency_days", "r", "f", "m")
    fields += ("rfm_segment", "value_group", "activity", "channel_mix", "top20")
    before = {name: tuple(getattr(row, n) for n in fields) for name, row in _rows(data).items()}
    CustomerScore.objects.filter(brand=data.brand).update(r=0, f=0, m=0, rfm_segment="x", value_group="x")
    scores.rescore_customers(data.brand.pk, [c.pk for c in data.customers.values()], now=NOW)
    after = {name: tuple(getattr(row, n) for n in fields) for name, row in _rows(data).items()}
    assert after == before


def test_nothing_is_updated_before_the_first_run(data):
    assert scores.rescore_customers(data.brand.pk, [data.customers["b0"].pk], now=NOW) == 0
    assert not CustomerScore.objects.exists()


def test_a_merge_removes_the_merged_customers_row(data):
    scores.compute_scores(data.brand, now=NOW)
    b2, b3 = data.customers["b2"], data.customers["b3"]
    b3.merged_into = b2
    b3.save(update_fields=["merged_into"])
    scores.rescore_customers(data.brand.pk, [b2.pk, b3.pk], now=NOW)
    assert not CustomerScore.objects.filter(customer=b3).exists()
    assert CustomerScore.objects.filter(customer=b2).exists()


def test_other_brands_are_untouched(data, other_brand):
    theirs = make_customer(other_brand, "別人", phone="")
    make_order(other_brand, placed_at=NOW - dt.timedelta(days=1), total=500, customer=theirs)
    scores.compute_scores(data.brand, now=NOW)
    assert not CustomerScore.objects.filter(brand=other_brand).exists()
    assert not CustomerScore.objects.filter(customer__brand=other_brand).exists()


def _brand_of(size: int):
    brand = f.make_brand(f"大小 {size}")
    for index in range(size):
        customer = make_customer(brand, f"c{index}", phone="")
        for days in range(index % 3):
            make_order(
                brand,
                placed_at=NOW - dt.timedelta(days=days * 7 + index),
                total=100 * index,
                customer=customer,
            )
    return brand


def test_the_number_of_queries_does_not_grow_with_customers(db):
    small, large = _brand_of(5), _brand_of(40)
    counts = []
    for brand in (small, large):
        with CaptureQueriesContext(connection) as queries:
            scores.compute_scores(brand, now=NOW)
        counts.append(len(queries))
    assert counts[0] == counts[1]
    assert CustomerScore.objects.filter(brand=large).count() == 40


def test_customers_are_written_a_chunk_at_a_time(db):
    brand = _brand_of(12)
    whole = scores.compute_scores(brand, now=NOW)
    rows = {
        row.customer_id: (row.r, row.f, row.m, row.rfm_segment)
        for row in CustomerScore.objects.filter(brand=brand)
    }
    CustomerScore.objects.filter(brand=brand).delete()
    chunked = scores.compute_scores(brand, now=NOW, chunk=5)
    assert chunked.customers == whole.customers == 12
    assert {
        row.customer_id: (row.r, row.f, row.m, row.rfm_segment)
        for row in CustomerScore.objects.filter(brand=brand)
    } == rows


def test_a_brand_without_customers(brand):
    summary = scores.compute_scores(brand, now=NOW)
    assert (summary.customers, summary.buyers, summary.thresholds.r) == (0, 0, [])


# --- the rules themselves -----------------------------------------------------------------------


def test_the_named_grid_covers_every_cell_once():
    for r in range(1, 6):
        for fm in range(1, 6):
            owners = [s.key for s in rfm.NAMED_SEGMENTS if s.r[0] <= r <= s.r[1] and s.fm[0] <= fm <= s.fm[1]]
            assert len(owners) == 1, (r, fm, owners)
    assert len(rfm.NAMED_SEGMENTS) == 10


@pytest.mark.parametrize(
    ("r", "f", "m", "segment"),
    [
        (5, 5, 5, "champions"),
        (5, 4, 3, "champions"),  # FM 3.5 rounds up to 4
        (5, 3, 3, "potential_loyalist"),
        (5, 1, 1, "new"),
        (5, 1, 2, "potential_loyalist"),  # FM 1.5 → 2
        (4, 1, 1, "promising"),
        (4, 5, 4, "loyal"),
        (3, 3, 3, "need_attention"),
        (3, 2, 2, "about_to_sleep"),
        (2, 3, 4, "at_risk"),
        (1, 5, 5, "cant_lose"),
        (2, 1, 2, "hibernating"),
        (0, 0, 0, "prospect"),
    ],
)
def test_named_segments(r, f, m, segment):
    assert rfm.named_segment(r, f, m) == segment


def test_named_segments_in_sql_agree_with_python(brand):
    """Every (r, f, m) cell through the UPDATE's CASE gives what the Python rule gives, and the
    value group set in the same UPDATE agrees too."""
    cells = [(r, f_, m) for r in range(1, 6) for f_ in range(1, 6) for m in range(1, 6)]
    customers = [make_customer(brand, f"cell {index}", phone="") for index in range(len(cells))]
    CustomerScore.objects.bulk_create(
        [
            CustomerScore(brand=brand, customer=customer, orders=2, r=r, f=f_, m=m, computed_at=NOW)
            for customer, (r, f_, m) in zip(customers, cells, strict=True)
        ]
    )
    CustomerScore.objects.filter(brand=brand).update(
        rfm_segment=rfm.named_segment_sql(), value_group=rfm.value_group_sql()
    )
    got = {
        (row.r, row.f, row.m): (row.rfm_segment, row.value_group)
        for row in CustomerScore.objects.filter(brand=brand)
    }
    expected = {}
    for cell in cells:
        segment = rfm.named_segment(*cell)
        expected[cell] = (segment, rfm.value_group(2, segment))
    assert got == expected
    assert {group for _, group in got.values()} == {"loyal", "general"}


@pytest.mark.parametrize(
    ("value", "reverse", "expected"),
    [
        (0, False, 1),
        (1, False, 1),
        (2, False, 3),
        (5, False, 4),
        (6, False, 5),
        (0, True, 5),
        (10, True, 5),
        (11, True, 4),
        (71, True, 1),
    ],
)
def test_quintile(value, reverse, expected):
    cuts = [10, 30, 50, 70] if reverse else [1, 1, 3, 5]
    assert rfm.quintile(value, cuts, reverse=reverse) == expected
