"""The dashboard shows exact figures for the brand (or the manager's store) with inline SVG charts."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from omo.analytics import rollups
from omo.analytics.tests.builders import make_order
from omo.analytics.tests.seed import local


def kpis(response) -> dict[str, str]:
    body = response.content.decode()
    return dict(re.findall(r'data-kpi="(\w+)">([^<]*)<', body))


def test_dashboard_figures_for_hq(console, seeded_sales, source):
    response = console.get(reverse("console:dashboard"))
    assert response.status_code == 200
    assert response.context["from_rollup"] is (source == "rollup")
    assert kpis(response) == {
        "net_sales": "NT$2,550",
        "orders": "6",
        "average_order_value": "NT$425",
        "customers_ordered": "3",
        "new_customers": "3",
        "omo_share": "33.3%",
    }
    assert response.context["summary"].net_sales == 255000


@pytest.fixture(params=["orders", "rollup"])
def source(request, brand, seeded_sales):
    """Both ways the dashboard gets its figures: from the orders (until the rollup is built) and
    from the daily rollup."""
    if request.param == "rollup":
        rollups.rebuild(brand)
    return request.param


def test_dashboard_figures_for_a_store_manager_are_their_store_only(
    client_for, manager, seeded_sales, source
):
    response = client_for(manager).get(reverse("console:dashboard"))
    assert response.context["from_rollup"] is (source == "rollup")
    assert kpis(response) == {
        "net_sales": "NT$1,200",
        "orders": "2",
        "average_order_value": "NT$600",
        "customers_ordered": "1",
        "new_customers": "1",
        "omo_share": "0.0%",
    }
    body = response.content.decode()
    assert "高雄夢時代店" not in body  # the other store's bar is not drawn
    assert "台北信義店" in body


def test_charts_are_inline_svg_without_scripts_or_external_urls(console, seeded_sales, source):
    body = console.get(reverse("console:dashboard")).content.decode()
    charts = re.findall(r'data-chart="(\w+)"><svg', body)
    assert charts == ["daily", "stores", "products"]
    for svg in re.findall(r"<svg xmlns=.*?</svg>", body, re.DOTALL):
        assert "<script" not in svg
        assert "href=" not in svg
    # The page references only our own static files.
    assert re.findall(r'(?:src|href)="(https?:)?//', body) == []
    assert "門市 POS" in body and "官網商店" in body  # channel legend
    assert "玫瑰精華液" in body  # best seller


def test_empty_brand_renders(client_for, other_admin):
    response = client_for(other_admin).get(reverse("console:dashboard"))
    assert response.status_code == 200
    assert kpis(response)["net_sales"] == "NT$0"
    assert kpis(response)["omo_share"] == "—"


def test_dashboard_query_count_is_small_and_constant(
    console, store, seeded_sales, brand, django_assert_max_num_queries
):
    with django_assert_max_num_queries(12):
        console.get(reverse("console:dashboard"))
    with CaptureQueriesContext(connection) as before:
        console.get(reverse("console:dashboard"))
    for offset in range(30):
        make_order(
            brand,
            placed_at=local(seeded_sales.today - dt.timedelta(days=offset)),
            total=5000,
            store=store,
            lines=[(seeded_sales.products["P2"], 1, 5000, 0)],
        )
    with CaptureQueriesContext(connection) as after:
        console.get(reverse("console:dashboard"))
    assert len(after) == len(before)


def test_product_titles_are_escaped_on_the_dashboard(console, brand, seeded_sales):
    product = seeded_sales.products["P4"]
    product.title = "<script>alert('x')</script>"
    product.save()
    body = console.get(reverse("console:dashboard")).content.decode()
    assert "<script>alert" not in body
