"""The leaderboard page: figures, scope by role and brand, sorting, periods, English, query count."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from omo.attribution import leaderboard
from omo.attribution.tests import leaderboard_world as lw
from omo.console.views import leaderboard as page
from omo.testing import factories as f

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
URL = "/console/leaderboard/"
LAST_30 = {"period": "last_30_days"}


@pytest.fixture
def world(brand, store, other_store):
    return lw.build(brand, store, other_store)


def rows(response) -> list[tuple[str, str]]:
    """(row id, sales cell) in page order."""
    body = response.content.decode()
    return re.findall(r'<tr data-row="(\d+)">.*?data-col="sales">([^<]*)<', body, re.S)


def test_url_name_and_requirement():
    assert reverse("console:leaderboard") == URL
    assert page.leaderboard_page.requirement.permission == "dashboard.view"


def test_hq_sees_every_clerk_with_the_figures(console, world, manager):
    response = console.get(URL, LAST_30)

    assert response.status_code == 200
    assert rows(response) == [
        (str(world.amy.pk), "NT$3,200"),
        (str(world.cat.pk), "NT$1,000"),
        (str(world.ben.pk), "NT$800"),
        (str(manager.pk), "NT$0"),
    ]
    body = response.content.decode()
    assert "66.7%" in body and "(2/3)" in body  # amy's conversion
    assert "5 分 0 秒" in body and "16 分 40 秒" in body  # medians 300 s and 1000 s
    assert "卡片轉換率" in body and 'data-testid="leaderboard-help"' in body


def test_store_board_for_hq(console, world):
    response = console.get(URL, {**LAST_30, "board": "stores"})
    assert rows(response) == [(str(world.store_a.pk), "NT$3,500"), (str(world.store_b.pk), "NT$1,500")]


def test_store_manager_sees_their_store_only(client_for, manager, world):
    client = client_for(manager)
    clerks = client.get(URL, LAST_30)
    assert {row_id for row_id, _ in rows(clerks)} == {str(world.amy.pk), str(world.ben.pk), str(manager.pk)}
    assert "Cat 王" not in clerks.content.decode()
    stores = client.get(URL, {**LAST_30, "board": "stores"})
    assert rows(stores) == [(str(world.store_a.pk), "NT$3,500")]
    assert world.store_b.name not in stores.content.decode().split("<tbody>")[1]


def test_manager_of_the_other_store_does_not_see_store_a(client_for, world):
    manager_b = f.make_user(world.store_b.brand, "manager-b", role="store_manager", store=world.store_b)
    body = client_for(manager_b).get(URL, LAST_30).content.decode()
    assert "Amy 林" not in body and "Ben 陳" not in body and "Cat 王" in body


def test_another_brand_sees_only_its_own(client_for, other_admin, other_brand, world):
    stranger = lw.other_brand_sales(other_brand)
    for board in ("clerks", "stores"):
        response = client_for(other_admin).get(URL, {**LAST_30, "board": board})
        assert response.status_code == 200
        body = response.content.decode()
        for secret in ("Amy 林", "Ben 陳", "Cat 王", world.store_a.name, world.store_b.name, "NT$3,200"):
            assert secret not in body, (board, secret)
    assert rows(client_for(other_admin).get(URL, LAST_30)) == [(str(stranger.pk), "NT$1,000")]


def test_an_empty_brand_gets_an_empty_page(client_for, other_admin, world):
    body = client_for(other_admin).get(URL).content.decode()
    assert "這段期間沒有資料" in body and "Amy 林" not in body


def test_weaker_roles_and_strangers_are_swept(client, client_for, clerk, hq_agent, brand, world):
    """The same sweep omo/console/tests/test_access.py runs over every console page."""
    assert client.get(URL)["Location"] == f"{reverse('console:login')}?next={URL}"
    refused = client_for(clerk).get(URL)
    assert refused.status_code == 403 and "店員 App" in refused.content.decode()
    assert "Amy 林" not in refused.content.decode()
    root = f.make_user(None, "root", role="hq_admin", is_superuser=True, is_staff=True)
    assert client_for(root).get(URL).status_code == 403
    lost = f.make_user(brand, "lost-manager", role="store_manager")
    assert client_for(lost).get(URL).status_code == 403
    assert client_for(hq_agent).get(URL).status_code == 200


# On March 31st "this month" (the default period) holds every figure of the last 30 days, so a
# fallback to the defaults can be told apart from an empty page.
@pytest.mark.time_machine(dt.datetime(2027, 3, 31, 15, 0, tzinfo=TAIPEI), tick=True)
def test_sorting_by_each_column(console, world, manager):
    def order(**params) -> list[str]:
        return [row_id for row_id, _ in rows(console.get(URL, {**LAST_30, **params}))]

    amy, ben, cat, mgr = (str(u.pk) for u in (world.amy, world.ben, world.cat, manager))
    assert order(sort="sales", dir="asc") == [mgr, ben, cat, amy]
    assert order(sort="reply") == [amy, ben, cat, mgr]
    assert order(sort="conversion") == [amy, ben, cat, mgr]
    assert order(sort="bound") == [amy, cat, ben, mgr]
    assert order(sort="orders") == [amy, cat, ben, mgr]
    assert order(sort="name") == [amy, ben, cat, mgr]
    assert order(sort="name", dir="desc") == [mgr, cat, ben, amy]
    defaults = [row_id for row_id, _ in rows(console.get(URL))]  # this month, clerks, by sales
    assert defaults == order() == [amy, cat, ben, mgr]
    assert order(sort="evil", dir="sideways", period="forever", board="x") == defaults
    body = console.get(URL, {**LAST_30, "sort": "reply"}).content.decode()
    assert 'aria-sort="ascending"' in body
    assert "sort=reply&amp;dir=desc" in body  # the active column's link flips the direction


def test_period_picker(console, world, brand):
    body = console.get(URL).content.decode()
    assert re.search(r'data-period="this_month"[^>]*aria-current="true"', body)
    for key in ("last_month", "last_30_days"):
        response = console.get(URL, {"period": key})
        assert response.status_code == 200
        assert response.context["period"].key == key
    assert console.get(URL, LAST_30).context["period"].first_day == (
        leaderboard.period_for(brand, "last_30_days").first_day
    )


def test_english(console, world):
    console.post(reverse("set_language"), {"language": "en", "next": URL})
    body = console.get(URL, LAST_30).content.decode()
    assert "<h1>Leaderboard</h1>" in body
    for words in (
        "Attributed sales",
        "Card → order conversion",
        "Median first reply",
        "Last 30 days",
        "5m 0s",
    ):
        assert words in body, words
    assert "歸屬業績" not in body


def test_nav_offers_the_page(console, client_for, manager):
    def links(client) -> set[str]:
        context = client.get(reverse("console:dashboard")).context
        return {link["url"] for group in context["nav"] for link in group["links"]}

    assert URL in links(console) and URL in links(client_for(manager))


def test_page_queries_do_not_grow_with_clerks(console, world, brand):
    with CaptureQueriesContext(connection) as few:
        console.get(URL, LAST_30)
    lw_product = f.make_product(brand, "加購", variants=[("MORE-1", "", 100000)])
    for index in range(10):
        clerk = f.make_user(brand, f"more-{index}", role="clerk", store=world.store_a)
        lw.card_order(brand, f"more-{index}", clerk, lw_product, placed_at=lw.ago(2))
    with CaptureQueriesContext(connection) as many:
        response = console.get(URL, LAST_30)
    assert len(rows(response)) == 13
    assert len(many.captured_queries) == len(few.captured_queries) <= 15
