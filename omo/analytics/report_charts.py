"""Charts of the analytics pages, drawn like the dashboard's (omo/analytics/charts.py): pygal,
server-side SVG, no script, no CDN."""

from __future__ import annotations

import pygal
from django.utils.formats import date_format
from django.utils.safestring import SafeString
from django.utils.translation import pgettext

from omo.analytics.charts import PRIMARY, _config, _money, _svg
from omo.analytics.reports.bindings import BindingsOverTime
from omo.analytics.reports.cohorts import Cohorts
from omo.analytics.reports.funnel import Funnel
from omo.analytics.reports.lifecycle import Lifecycle
from omo.analytics.reports.omo import OMO, ONLINE, STORE, OmoContribution
from omo.analytics.reports.pareto import Pareto

GROUP_COLOURS = {OMO: "#4f46e5", ONLINE: "#0ea5e9", STORE: "#0f766e"}


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}%"


def _plain(value: float | None) -> str:
    return "" if value is None else f"{value:,.0f}"


def omo_chart(report: OmoContribution, labels: dict[str, str], *, currency: str) -> SafeString:
    """Spend per customer of each group."""
    keys = (OMO, ONLINE, STORE)
    chart = pygal.Bar(
        _config(tuple(GROUP_COLOURS[key] for key in keys), _money(currency), width=520, height=300)
    )
    chart.x_labels = [pgettext("analytics", "每位顧客消費")]
    for key in keys:
        chart.add(labels[key], [report.groups[key].spend_per_customer])
    return _svg(chart)


def pareto_chart(report: Pareto) -> SafeString:
    """Cumulative share of revenue against the share of customers, best first."""
    chart = pygal.Line(
        _config(
            (PRIMARY, "#94a3b8"),
            _percent,
            width=640,
            height=320,
            show_legend=True,
            range=(0, 1),
            dots_size=2,
            show_minor_x_labels=False,
            x_labels_major_every=2,
        )
    )
    points = report.curve
    chart.x_labels = [f"{percent}%" for percent, _share in points]
    chart.add(pgettext("analytics", "累積營收占比"), [share for _percent_of, share in points])
    chart.add(pgettext("analytics", "完全平均"), [percent / 100 for percent, _share in points])
    return _svg(chart)


def cohort_chart(report: Cohorts, labels: dict[str, str]) -> SafeString:
    """Average retention by months since the first order: clerk-acquired against the others."""
    chart = pygal.Line(_config(("#4f46e5", "#94a3b8", "#0f766e"), _percent, width=640, height=300))
    chart.x_labels = [str(k) for k in range(report.months)]
    for source, label in labels.items():
        chart.add(label, report.average(source or None))
    return _svg(chart)


def bindings_chart(report: BindingsOverTime) -> SafeString:
    chart = pygal.Bar(_config((PRIMARY,), _plain, width=640, height=300, show_legend=False))
    chart.x_labels = [date_format(day, "m/d") for day in report.buckets]
    chart.add(pgettext("analytics", "新綁定"), report.totals)
    return _svg(chart)


def funnel_chart(report: Funnel) -> SafeString:
    total = report.total
    chart = pygal.HorizontalBar(_config((PRIMARY,), _plain, width=640, height=220, show_legend=False))
    steps = [
        (pgettext("analytics", "對話"), total.conversations),
        (pgettext("analytics", "商品卡點擊"), total.clicks),
        (pgettext("analytics", "歸屬訂單"), total.orders),
    ]
    ranked = list(reversed(steps))  # pygal draws the first label at the bottom
    chart.x_labels = [label for label, _n in ranked]
    chart.add(pgettext("analytics", "人次"), [n for _label, n in ranked])
    return _svg(chart)


def lifecycle_chart(report: Lifecycle) -> SafeString:
    chart = pygal.Bar(_config(("#0f766e", "#4f46e5", "#f59e0b"), _plain, width=640, height=300))
    chart.x_labels = [date_format(month.month, "Y/m") for month in report.months]
    chart.add(pgettext("analytics", "新顧客"), [month.new for month in report.months])
    chart.add(pgettext("analytics", "重新活躍"), [month.reactivated for month in report.months])
    chart.add(pgettext("analytics", "轉為沉睡"), [-month.lapsed for month in report.months])
    return _svg(chart)
