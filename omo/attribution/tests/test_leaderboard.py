"""Leaderboard figures on a hand-built brand (see leaderboard_world for the arithmetic)."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from omo.attribution import leaderboard
from omo.attribution.tests import leaderboard_world as lw
from omo.testing import factories as f

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def world(brand, store, other_store):
    return lw.build(brand, store, other_store)


@pytest.fixture
def period(brand):
    return leaderboard.period_for(brand, "last_30_days")


def figures(row: leaderboard.LeaderRow) -> tuple:
    return (
        row.sales,
        row.orders,
        row.link_orders,
        row.cards_sent,
        row.bound_customers,
        row.median_reply_seconds,
        row.replies,
    )


def test_clerk_board_figures(brand, world, period, manager):
    rows = leaderboard.clerk_board(brand, period)

    by_id = {row.id: row for row in rows}
    assert figures(by_id[world.amy.pk]) == (320000, 3, 2, 3, 2, 300.0, 3)
    assert figures(by_id[world.ben.pk]) == (80000, 1, 0, 1, 1, 1000.0, 2)
    assert figures(by_id[world.cat.pk]) == (100000, 1, 1, 0, 1, None, 0)
    assert figures(by_id[manager.pk]) == (0, 0, 0, 0, 0, None, 0)
    assert [row.id for row in rows] == [world.amy.pk, world.cat.pk, world.ben.pk, manager.pk]
    assert [row.rank for row in rows] == [1, 2, 3, 4]
    assert by_id[world.amy.pk].conversion == pytest.approx(2 / 3)
    assert by_id[world.ben.pk].conversion == 0
    assert by_id[world.cat.pk].conversion is None
    assert (by_id[world.amy.pk].name, by_id[world.amy.pk].store_name) == ("Amy 林", "台北信義店")


def test_store_board_figures(brand, world, period):
    rows = leaderboard.store_board(brand, period)

    by_id = {row.id: row for row in rows}
    assert figures(by_id[world.store_a.pk]) == (350000, 3, 2, 4, 3, 300.0, 5)
    assert figures(by_id[world.store_b.pk]) == (150000, 2, 1, 0, 1, None, 0)
    assert [row.id for row in rows] == [world.store_a.pk, world.store_b.pk]


def test_a_store_scope_keeps_that_store_only(brand, world, period):
    assert {row.id for row in leaderboard.clerk_board(brand, period, store_id=world.store_b.pk)} == {
        world.cat.pk
    }
    rows = leaderboard.store_board(brand, period, store_id=world.store_b.pk)
    assert [(row.id, row.sales) for row in rows] == [(world.store_b.pk, 150000)]


def test_another_brand_is_never_counted(brand, other_brand, world, period):
    stranger = lw.other_brand_sales(other_brand)
    assert stranger.pk not in {row.id for row in leaderboard.clerk_board(brand, period)}
    assert figures({r.id: r for r in leaderboard.clerk_board(brand, period)}[world.amy.pk])[:5] == (
        320000,
        3,
        2,
        3,
        2,
    )
    theirs = leaderboard.clerk_board(other_brand, leaderboard.period_for(other_brand, "last_30_days"))
    assert [(row.id, row.sales, row.bound_customers) for row in theirs] == [(stranger.pk, 100000, 1)]


def test_bindings_are_read_from_history_as_of_the_period_end(brand, world):
    # Eleven days ago: X was still amy's, U already amy's, Z ben's, W not yet bound.
    earlier = leaderboard.Period("custom", lw.ago(40), lw.ago(11), TAIPEI)
    by_id = {row.id: row for row in leaderboard.clerk_board(brand, earlier)}
    assert (by_id[world.amy.pk].bound_customers, by_id[world.ben.pk].bound_customers) == (3, 1)
    assert by_id[world.cat.pk].bound_customers == 0


def test_a_clerk_who_left_stays_while_they_have_figures(brand, world, period):
    world.cat.is_active = False
    world.cat.save()
    idle = f.make_user(brand, "idle", role="clerk", store=world.store_a, is_active=False)
    ids = {row.id for row in leaderboard.clerk_board(brand, period)}
    assert world.cat.pk in ids and idle.pk not in ids


def test_python_and_sql_first_reply_agree(brand, world, period):
    """The portable path is the one SQLite uses; on PostgreSQL both run and must agree."""
    portable = leaderboard._reply_times_python(brand, period)
    assert portable.by_user == {world.amy.pk: (300.0, 3), world.ben.pk: (1000.0, 2)}
    assert portable.by_store == {world.store_a.pk: (300.0, 5)}
    assert leaderboard.reply_times(brand, period) == portable


@pytest.mark.parametrize(
    ("column", "descending", "expected"),
    [
        ("sales", None, ["amy", "cat", "ben"]),
        ("sales", False, ["ben", "cat", "amy"]),
        ("orders", None, ["amy", "cat", "ben"]),  # cat and ben tie at 1: sales decides
        ("bound", None, ["amy", "cat", "ben"]),
        ("conversion", None, ["amy", "ben", "cat"]),  # cat has no cards: last either way
        ("conversion", False, ["ben", "amy", "cat"]),
        ("reply", None, ["amy", "ben", "cat"]),  # fastest first, none last
        ("name", None, ["amy", "ben", "cat"]),
        ("nonsense", None, ["amy", "cat", "ben"]),
    ],
)
def test_sorting(brand, world, period, column, descending, expected):
    rows = [
        r
        for r in leaderboard.clerk_board(brand, period)
        if r.id in (world.amy.pk, world.ben.pk, world.cat.pk)
    ]
    names = {world.amy.pk: "amy", world.ben.pk: "ben", world.cat.pk: "cat"}
    assert [names[r.id] for r in leaderboard.sort_rows(rows, column, descending)] == expected


def test_periods_in_the_brand_time_zone(brand):
    # 1 March 2025 00:30 in Taipei is still February in UTC.
    now = dt.datetime(2025, 3, 1, 0, 30, tzinfo=TAIPEI)
    this = leaderboard.period_for(brand, None, now=now)
    assert (this.key, this.start, this.end) == (
        "this_month",
        dt.datetime(2025, 3, 1, tzinfo=TAIPEI),
        dt.datetime(2025, 4, 1, tzinfo=TAIPEI),
    )
    last = leaderboard.period_for(brand, "last_month", now=now)
    assert (last.start, last.end, last.last_day) == (
        dt.datetime(2025, 2, 1, tzinfo=TAIPEI),
        dt.datetime(2025, 3, 1, tzinfo=TAIPEI),
        dt.date(2025, 2, 28),
    )
    days = leaderboard.period_for(brand, "last_30_days", now=now)
    assert (days.first_day, days.last_day) == (dt.date(2025, 1, 31), dt.date(2025, 3, 1))
    january = leaderboard.period_for(brand, "last_month", now=dt.datetime(2025, 1, 15, tzinfo=TAIPEI))
    assert (january.first_day, january.last_day) == (dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    with pytest.raises(ValueError):
        leaderboard.period_for(brand, "forever")


def test_clerk_rank(brand, world, period, manager):
    assert leaderboard.clerk_rank(brand, world.amy, period) == leaderboard.Rank(1, 4, 320000)
    assert leaderboard.clerk_rank(brand, world.ben, period) == leaderboard.Rank(3, 4, 80000)
    assert leaderboard.clerk_rank(brand, manager, period) == leaderboard.Rank(4, 4, 0)
    assert leaderboard.clerk_rank(brand, f.make_user(brand, "hq", role="hq_admin"), period) is None


def _more_clerks(brand, store, count: int) -> None:
    product = f.make_product(brand, "加購", variants=[(f"MORE-{count}", "", 100000)])
    for index in range(count):
        clerk = f.make_user(brand, f"more{count}-{index}", role="clerk", store=store)
        lw.card_order(brand, f"more{count}-{index}", clerk, product, placed_at=lw.ago(3))
        lw.bind(brand, lw.customer(brand, f"綁{index}"), clerk, lw.ago(3))


@pytest.mark.parametrize("board", [leaderboard.clerk_board, leaderboard.store_board])
def test_a_constant_number_of_queries(brand, world, period, django_assert_max_num_queries, board):
    with CaptureQueriesContext(connection) as few:
        board(brand, period)
    _more_clerks(brand, world.store_a, 12)
    with django_assert_max_num_queries(6), CaptureQueriesContext(connection) as many:
        rows = board(brand, period)
    assert len(many.captured_queries) == len(few.captured_queries)
    assert len(rows) >= 2


def test_rank_is_two_queries(brand, world, period, django_assert_num_queries):
    _more_clerks(brand, world.store_a, 5)
    with django_assert_num_queries(2):
        leaderboard.clerk_rank(brand, world.amy, period)


def test_my_sales_shows_the_clerks_rank_this_month(brand, store, client):
    product = f.make_product(brand, "本月T恤", variants=[("LB-TEE", "M", 100000)])
    amy = f.make_user(brand, "amy", role="clerk", store=store)
    ben = f.make_user(brand, "ben", role="clerk", store=store)
    f.make_user(brand, "newbie", role="clerk", store=store)
    lw.card_order(brand, "r1", amy, product, placed_at=timezone.now())
    lw.card_order(brand, "r2", ben, product, placed_at=timezone.now(), quantity=2)
    client.force_login(amy)

    body = client.get("/clerk/sales/").content.decode()

    assert 'data-testid="sales-rank"' in body and "第 2 名 / 3 人" in body
    client.post("/clerk/language", {"language": "en"})
    assert "2 of 3" in client.get("/clerk/sales/").content.decode()
    last_month = (timezone.localdate().replace(day=1) - dt.timedelta(days=1)).strftime("%Y-%m")
    assert 'data-testid="sales-rank"' not in client.get(f"/clerk/sales/?month={last_month}").content.decode()
