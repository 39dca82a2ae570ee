"""Dashboard charts drawn on the server as inline SVG with pygal.

Nothing here reaches the internet: `js=[]` drops pygal's tooltip script (served from a CDN), the
inline config `<script>` pygal always writes is removed, fonts are system fonts only. The console's
own script (static/console/console.js) shows tooltips from the `<desc>` elements pygal leaves in
the SVG. Text from the database (store names, product titles) is escaped by pygal's XML writer.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import pygal
from django.utils import translation
from django.utils.formats import date_format
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import pgettext

from omo.analytics.selectors import DailySales, ProductSales, StoreSales
from omo.commerce.models import SalesChannel
from omo.core.money import format_money

# System fonts with CJK coverage on every common OS; no web fonts are downloaded.
FONT_FAMILY = (
    '-apple-system, BlinkMacSystemFont, "Segoe UI", "PingFang TC", "Noto Sans TC", "Microsoft JhengHei", '
    "Roboto, Helvetica, Arial, sans-serif"
)

# Fixed per sales channel so a channel keeps its colour whichever channels have sales.
CHANNEL_COLOURS: dict[str, str] = {
    SalesChannel.POS: "#0f766e",
    SalesChannel.WEB_SHOP: "#4f46e5",
    SalesChannel.EXTERNAL_WEB: "#0ea5e9",
    SalesChannel.MARKETPLACE: "#f59e0b",
    SalesChannel.OTHER: "#94a3b8",
}
PRIMARY = "#4f46e5"

_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)  # pygal's banner comments (with URLs): bytes for nothing


def _style(colours: tuple[str, ...]) -> pygal.style.Style:
    return pygal.style.Style(
        background="transparent",
        plot_background="transparent",
        foreground="#475569",
        foreground_strong="#0f172a",
        foreground_subtle="#e2e8f0",
        guide_stroke_color="#e2e8f0",
        major_guide_stroke_color="#cbd5e1",
        font_family=FONT_FAMILY,
        label_font_size=11,
        major_label_font_size=11,
        legend_font_size=12,
        tooltip_font_size=12,
        value_font_size=11,
        no_data_font_size=16,
        opacity=".9",
        opacity_hover="1",
        transition="150ms ease-in",
        colors=colours,
    )


def _config(colours: tuple[str, ...], money: Callable[[int | None], str], **options: object) -> pygal.Config:
    config = pygal.Config()
    config.js = []  # no CDN script
    config.disable_xml_declaration = True  # the SVG is inlined into HTML
    config.style = _style(colours)
    config.value_formatter = money
    config.no_data_text = pgettext("console", "這段期間沒有資料")
    config.legend_at_bottom = True
    config.legend_box_size = 10
    config.margin = 8
    config.show_x_guides = False
    config.truncate_legend = 40
    for name, value in options.items():
        setattr(config, name, value)
    return config


def _money(currency: str) -> Callable[[int | None], str]:
    def formatter(minor: int | None) -> str:
        return format_money(int(minor), currency) if minor is not None else ""

    return formatter


def _svg(chart: pygal.graph.graph.Graph) -> SafeString:
    # pygal escapes every text node while writing XML, and the only script it writes is removed.
    return mark_safe(_COMMENT.sub("", _SCRIPT.sub("", chart.render(is_unicode=True))))


def _localised(name: str, name_en: str) -> str:
    return name_en if name_en and (translation.get_language() or "").startswith("en") else name


def daily_sales_chart(daily: DailySales, *, currency: str) -> SafeString:
    """Net sales per day, stacked by sales channel."""
    channels = list(daily.by_channel)
    money = _money(currency)
    chart = pygal.StackedBar(
        _config(
            tuple(CHANNEL_COLOURS[channel] for channel in channels) or (PRIMARY,),
            money,
            width=900,
            height=320,
            x_label_rotation=0,
            show_minor_x_labels=False,
            x_labels_major_every=7,
            truncate_label=-1,
            spacing=4,
        )
    )
    chart.x_labels = [date_format(day, "m/d") for day in daily.days]
    for channel in channels:
        chart.add(str(SalesChannel(channel).label), daily.by_channel[channel])
    return _svg(chart)


def store_sales_chart(rows: list[StoreSales], *, currency: str) -> SafeString:
    """Net sales per store, largest first; online orders without a store are one bar."""
    chart = pygal.Bar(
        _config(
            (PRIMARY,),
            _money(currency),
            width=520,
            height=320,
            show_legend=False,
            x_label_rotation=-30 if len(rows) > 4 else 0,
            truncate_label=14,
        )
    )
    chart.x_labels = [
        _localised(row.name, row.name_en) or pgettext("console", "線上（無門市）") for row in rows
    ]
    chart.add(pgettext("console", "淨銷售額"), [row.net_sales for row in rows])
    return _svg(chart)


def top_products_chart(rows: list[ProductSales], *, currency: str) -> SafeString:
    """Revenue of the best-selling products, best at the top."""
    chart = pygal.HorizontalBar(
        _config(
            ("#0f766e",),
            _money(currency),
            width=520,
            height=max(200, 30 * len(rows) + 60),
            show_legend=False,
            truncate_label=22,
        )
    )
    ranked = list(reversed(rows))  # pygal draws the first label at the bottom
    chart.x_labels = [
        _localised(row.title, row.title_en) or pgettext("console", "未對應商品") for row in ranked
    ]
    chart.add(pgettext("console", "營收"), [row.revenue for row in ranked])
    return _svg(chart)


def histogram_chart(
    labels: list[str], counts: list[int], *, series: str, colour: str = PRIMARY
) -> SafeString:
    """How many customers fall in each bucket (e.g. of predicted value), buckets left to right."""
    chart = pygal.Bar(
        _config(
            (colour,),
            lambda count: f"{int(count):,}" if count is not None else "",
            width=520,
            height=280,
            show_legend=False,
            x_label_rotation=-30 if len(labels) > 6 else 0,
            truncate_label=-1,
            spacing=2,
        )
    )
    chart.x_labels = labels
    chart.add(series, counts)
    return _svg(chart)
