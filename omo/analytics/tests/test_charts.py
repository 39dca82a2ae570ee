"""Charts are inline SVG with no script, no external reference, and escaped labels."""

from __future__ import annotations

import datetime as dt

from django.utils import translation

from omo.analytics import charts, selectors


def _assert_self_contained(svg: str) -> None:
    assert svg.startswith("<svg")
    assert "<?xml" not in svg
    assert "<script" not in svg
    assert "href=" not in svg and "src=" not in svg
    assert "http://" not in svg.replace('xmlns="http://www.w3.org/2000/svg"', "").replace(
        'xmlns:xlink="http://www.w3.org/1999/xlink"', ""
    )


def test_daily_chart_stacks_channels_with_their_labels():
    days = [dt.date(2026, 3, 1) + dt.timedelta(days=n) for n in range(3)]
    daily = selectors.DailySales(days=days, by_channel={"pos": [100, 0, 300], "web_shop": [0, 200, 0]})
    with translation.override("zh-hant"):
        svg = charts.daily_sales_chart(daily, currency="TWD")
    _assert_self_contained(svg)
    assert "門市 POS" in svg and "官網商店" in svg
    assert "03/01" in svg
    assert "NT$3" in svg  # the value formatter shows money, not minor units


def test_labels_from_the_database_are_escaped():
    rows = [
        selectors.ProductSales(
            product_id=1, title="<script>alert(1)</script>", title_en="", revenue=100, units=1
        )
    ]
    svg = charts.top_products_chart(rows, currency="TWD")
    _assert_self_contained(svg)
    assert "&lt;script&gt;" in svg


def test_store_chart_names_the_storeless_row_and_uses_english_names_in_english():
    rows = [
        selectors.StoreSales(store_id=1, name="台北信義店", name_en="Taipei Xinyi", net_sales=500, orders=1),
        selectors.StoreSales(store_id=None, name="", name_en="", net_sales=100, orders=1),
    ]
    with translation.override("zh-hant"):
        svg = charts.store_sales_chart(rows, currency="TWD")
    assert "台北信義店" in svg and "線上（無門市）" in svg
    with translation.override("en"):
        svg = charts.store_sales_chart(rows, currency="TWD")
    assert "Taipei Xinyi" in svg


def test_empty_chart_says_so():
    with translation.override("zh-hant"):
        svg = charts.top_products_chart([], currency="TWD")
    _assert_self_contained(svg)
    assert "這段期間沒有資料" in svg
