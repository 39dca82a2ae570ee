"""Dashboard figures: exact values from a hand-worked month, brand time zone, constant queries."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from omo.analytics import selectors
from omo.analytics.tests.builders import make_customer, make_order
from omo.analytics.tests.seed import TAIPEI, local


def _period(brand):
    return selectors.last_days(brand, 30)


def test_last_days_is_thirty_local_calendar_days_ending_today(brand):
    now = dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC)  # 00:30 on 2 March in Taipei
    period = selectors.last_days(brand, 30, now=now)
    assert period.start == dt.datetime(2026, 2, 1, tzinfo=TAIPEI)
    assert period.end == dt.datetime(2026, 3, 3, tzinfo=TAIPEI)
    assert len(period.days) == 30
    assert period.days[0] == dt.date(2026, 2, 1) and period.days[-1] == dt.date(2026, 3, 2)


def test_summary_matches_the_hand_worked_figures(brand, seeded_sales, django_assert_num_queries):
    with django_assert_num_queries(3):
        summary = selectors.sales_summary(brand, _period(brand))
    assert summary == selectors.SalesSummary(
        net_sales=255000,
        orders=6,
        average_order_value=42500,
        customers_ordered=3,
        new_customers=3,
        omo_customers=1,
    )
    assert summary.omo_share == pytest.approx(1 / 3)


def test_summary_for_one_store(brand, store, seeded_sales):
    summary = selectors.sales_summary(brand, _period(brand), store_id=store.pk)
    # Orders 1 and 5; customer A only (5 is a guest); A bought only POS here; A's home store is this one.
    assert summary == selectors.SalesSummary(
        net_sales=120000,
        orders=2,
        average_order_value=60000,
        customers_ordered=1,
        new_customers=1,
        omo_customers=0,
    )
    assert summary.omo_share == 0


def test_empty_brand_has_zeroes_and_no_share(other_brand):
    summary = selectors.sales_summary(other_brand, _period(other_brand))
    assert summary.net_sales == 0 and summary.orders == 0 and summary.average_order_value == 0
    assert summary.omo_share is None


def test_daily_sales_by_channel_uses_local_days(brand, seeded_sales, django_assert_num_queries):
    period = _period(brand)
    with django_assert_num_queries(1):
        daily = selectors.daily_sales_by_channel(brand, period)
    today = seeded_sales.today
    index = {day: position for position, day in enumerate(daily.days)}
    assert len(daily.days) == 30
    assert list(daily.by_channel) == ["pos", "web_shop", "marketplace"]  # declaration order
    pos = daily.by_channel["pos"]
    # Order 4 was placed at 00:30 Taipei on the first day (16:30 UTC the day before): local day counts.
    assert pos[0] == 80000
    assert pos[index[today - dt.timedelta(days=1)]] == 100000
    assert pos[index[today]] == 20000
    assert sum(pos) == 200000
    assert daily.by_channel["web_shop"][index[today - dt.timedelta(days=3)]] == 25000 + 30000
    assert sum(daily.by_channel["marketplace"]) == 0  # fully refunded
    assert sum(daily.totals) == 255000


def test_sales_by_store_largest_first_with_online_as_one_row(brand, store, other_store, seeded_sales):
    rows = selectors.sales_by_store(brand, _period(brand))
    assert [(row.store_id, row.net_sales, row.orders) for row in rows] == [
        (store.pk, 120000, 2),
        (other_store.pk, 80000, 1),
        (None, 55000, 3),
    ]
    assert rows[0].name == "台北信義店"


def test_top_products_by_revenue_after_refunded_units(brand, seeded_sales, django_assert_num_queries):
    products = seeded_sales.products
    with django_assert_num_queries(1):
        rows = selectors.top_products(brand, _period(brand))
    assert [(row.product_id, row.revenue, row.units) for row in rows] == [
        (products["P1"].pk, 180000, 3),
        (products["P3"].pk, 50000, 4),
        (products["P2"].pk, 25000, 1),
        (products["P4"].pk, 0, 0),
    ]
    assert rows[0].title == "玫瑰精華液"


def test_top_products_for_one_store_and_limit(brand, store, seeded_sales):
    products = seeded_sales.products
    rows = selectors.top_products(brand, _period(brand), store_id=store.pk, limit=1)
    assert [(row.product_id, row.revenue, row.units) for row in rows] == [(products["P1"].pk, 100000, 2)]


def test_query_count_does_not_grow_with_orders(brand, store, seeded_sales, django_assert_num_queries):
    today = seeded_sales.today
    for offset in range(40):
        make_order(
            brand,
            placed_at=local(today - dt.timedelta(days=offset % 30)),
            total=1000,
            store=store,
            lines=[(seeded_sales.products["P3"], 1, 1000, 0)],
        )
    period = _period(brand)
    with django_assert_num_queries(6):
        selectors.sales_summary(brand, period)
        selectors.daily_sales_by_channel(brand, period)
        selectors.sales_by_store(brand, period)
        selectors.top_products(brand, period)


def test_customer_channel_split(brand, seeded_sales, django_assert_num_queries):
    with django_assert_num_queries(1):
        split = selectors.customer_channel_split(seeded_sales.customers["A"])
    # A: POS 100000 (the cancelled one is left out), web shop 50000 - 25000 refunded.
    assert split == selectors.ChannelSplit(
        online_net=25000, online_orders=1, in_store_net=100000, in_store_orders=1, other_net=0, other_orders=0
    )
    assert split.is_omo
    # C bought only in store; B counts as OMO here (all time), thanks to the old POS order.
    assert not selectors.customer_channel_split(seeded_sales.customers["C"]).is_omo
    assert selectors.customer_channel_split(seeded_sales.customers["B"]).is_omo


def test_orders_of_another_brand_never_count(other_brand, seeded_sales):
    summary = selectors.sales_summary(other_brand, _period(other_brand))
    assert (summary.net_sales, summary.orders) == (500000, 1)


def test_new_customers_counted_by_local_join_day(brand):
    now = timezone.now()
    period = selectors.last_days(brand, 30, now=now)
    make_customer(brand, "剛好在期間開始", created_at=period.start)
    make_customer(brand, "早了一秒", created_at=period.start - dt.timedelta(seconds=1))
    assert selectors.sales_summary(brand, period).new_customers == 1
