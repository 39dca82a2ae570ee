"""The analytics pages. Each parses the filters bar, asks one report (and the comparison period's
where it has one), and renders the figures, a chart and a table, or the table as CSV
(`?format=csv`). Store managers see their store's figures only; clerks have no console."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpResponse
from django.utils.translation import pgettext, pgettext_lazy

from omo.analytics import report_charts
from omo.analytics.reports import bindings as binding_report
from omo.analytics.reports import cohorts as cohort_report
from omo.analytics.reports import funnel as funnel_report
from omo.analytics.reports import lifecycle as lifecycle_report
from omo.analytics.reports import omo as omo_report
from omo.analytics.reports import pareto as pareto_report
from omo.analytics.reports import rfm as rfm_report
from omo.analytics.reports.filters import ReportFilters
from omo.console.access import ConsoleRequest, console_view
from omo.console.pages import render_page
from omo.console.views.analytics.filters import AnalyticsFilterForm, Table, csv_response, query_string
from omo.core.money import format_money
from omo.staff.roles import Scope

TABS = (
    ("console:analytics_omo", pgettext_lazy("console nav", "虛實融合貢獻")),
    ("console:analytics_pareto", pgettext_lazy("console nav", "顧客貢獻集中度")),
    ("console:analytics_rfm", pgettext_lazy("console nav", "RFM 分析")),
    ("console:analytics_cohorts", pgettext_lazy("console nav", "留存世代")),
    ("console:analytics_bindings", pgettext_lazy("console nav", "綁定趨勢")),
    ("console:analytics_funnel", pgettext_lazy("console nav", "對話轉單漏斗")),
    ("console:analytics_lifecycle", pgettext_lazy("console nav", "活躍與沉睡")),
)

GROUP_LABELS = {
    omo_report.OMO: pgettext_lazy("analytics", "虛實融合（線上＋門市）"),
    omo_report.ONLINE: pgettext_lazy("analytics", "只在線上"),
    omo_report.STORE: pgettext_lazy("analytics", "只在門市"),
    omo_report.OTHER: pgettext_lazy("analytics", "其他通路"),
}


def _percent(value: float | None) -> str:
    return "" if value is None else f"{value * 100:.1f}"


def _ratio(value: float | None, digits: int = 2) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _page(
    request: ConsoleRequest,
    *,
    template: str,
    name: str,
    default_days: int,
    build: Callable[[ReportFilters, ReportFilters | None], tuple[Table, dict[str, Any]]],
    comparable: bool = True,
    applies: tuple[str, ...] = ("period", "store", "clerk", "sales_channel"),
) -> HttpResponse:
    user = request.user
    form = AnalyticsFilterForm(request.GET, user=user)
    filters, comparison = form.to_filters(default_days=default_days)
    compared = filters.compared(comparison) if comparable else None
    table, context = build(filters, compared)
    if request.GET.get("format") == "csv":
        return csv_response(table, name, filters)
    params = [(key, value) for key, value in request.GET.items() if key not in ("format", "page")]
    return render_page(
        request,
        template,
        {
            "form": form,
            "filters": filters,
            "compared": compared,
            "comparable": comparable,
            "applies": applies,
            "table": table,
            "tabs": [{"url_name": url_name, "label": label} for url_name, label in TABS],
            "query": query_string(params),
            "csv_query": query_string(params, format="csv"),
            "scope_store": user.store if filters.store_id is not None and user.scope == Scope.STORE else None,
            **context,
        },
    )


@console_view("dashboard.view")
def omo_page(request: ConsoleRequest) -> HttpResponse:
    currency = request.user.brand.currency

    def build(filters: ReportFilters, compared: ReportFilters | None) -> tuple[Table, dict[str, Any]]:
        report = omo_report.omo_contribution(filters)
        before = omo_report.omo_contribution(compared) if compared else None
        rows = []
        for key in omo_report.GROUPS:
            group = report.groups[key]
            rows.append(
                (
                    str(GROUP_LABELS[key]),
                    group.customers,
                    _percent(report.share(key)),
                    format_money(group.spend, currency),
                    format_money(group.spend_per_customer, currency),
                    _ratio(group.orders_per_customer),
                    _percent(group.retention),
                )
            )
        table = Table(
            (
                pgettext("analytics", "顧客群"),
                pgettext("analytics", "顧客數"),
                pgettext("analytics", "顧客占比 %"),
                pgettext("analytics", "淨消費"),
                pgettext("analytics", "每位顧客消費"),
                pgettext("analytics", "每位顧客訂單數"),
                pgettext("analytics", "下一期間回購率 %"),
            ),
            rows,
        )
        return table, {
            "report": report,
            "before": before,
            "vs_online": report.multiples(omo_report.ONLINE),
            "vs_store": report.multiples(omo_report.STORE),
            "before_vs_online": before.multiples(omo_report.ONLINE) if before else None,
            "before_vs_store": before.multiples(omo_report.STORE) if before else None,
            "chart": report_charts.omo_chart(
                report, {k: str(v) for k, v in GROUP_LABELS.items()}, currency=currency
            ),
        }

    return _page(
        request,
        template="console/analytics/omo.html",
        name="omo",
        default_days=30,
        build=build,
        applies=("period", "store", "clerk"),
    )


@console_view("dashboard.view")
def pareto_page(request: ConsoleRequest) -> HttpResponse:
    currency = request.user.brand.currency

    def build(filters: ReportFilters, compared: ReportFilters | None) -> tuple[Table, dict[str, Any]]:
        report = pareto_report.pareto(filters)
        before = pareto_report.pareto(compared) if compared else None
        rows: list[tuple[str, int | str, str, str, str]] = [
            (
                f"{percent}%",
                customers,
                format_money(spend, currency),
                _percent(share),
                _percent(before.top_share(percent)) if before else "",
            )
            for percent, customers, spend, share in report.tops
        ]
        rows += [
            (f"{percent}%", "", "", _percent(share), "")
            for percent, share in report.curve[1:]
            if percent % 10 == 0 and percent not in pareto_report.TOPS
        ]
        rows.sort(key=lambda row: int(str(row[0]).rstrip("%")))
        table = Table(
            (
                pgettext("analytics", "前百分之幾的顧客"),
                pgettext("analytics", "顧客數"),
                pgettext("analytics", "淨消費"),
                pgettext("analytics", "營收占比 %"),
                pgettext("analytics", "比較期間營收占比 %"),
            ),
            rows,
        )
        return table, {"report": report, "before": before, "chart": report_charts.pareto_chart(report)}

    return _page(
        request, template="console/analytics/pareto.html", name="pareto", default_days=90, build=build
    )


@console_view("dashboard.view")
def rfm_page(request: ConsoleRequest) -> HttpResponse:
    currency = request.user.brand.currency

    def build(filters: ReportFilters, compared: ReportFilters | None) -> tuple[Table, dict[str, Any]]:
        grid = rfm_report.rfm_grid(filters)
        rows = [
            (
                f"R{cell.r}",
                f"F{cell.f}",
                cell.customers,
                format_money(cell.spend, currency),
                _ratio(cell.mean_m, 1),
            )
            for row in grid.rows
            for cell in row
        ]
        table = Table(
            (
                pgettext("analytics", "最近購買分數 R"),
                pgettext("analytics", "購買頻率分數 F"),
                pgettext("analytics", "顧客數"),
                pgettext("analytics", "累計淨消費"),
                pgettext("analytics", "平均消費金額分數 M"),
            ),
            rows,
        )
        return table, {"grid": grid, "frequencies": list(reversed(rfm_report.SCORES))}

    return _page(
        request,
        template="console/analytics/rfm.html",
        name="rfm",
        default_days=30,
        build=build,
        comparable=False,
        applies=("store", "clerk", "sales_channel"),
    )


@console_view("dashboard.view")
def cohorts_page(request: ConsoleRequest) -> HttpResponse:
    source = request.GET.get("source") or ""
    source = source if source in cohort_report.SOURCES else ""

    def build(filters: ReportFilters, compared: ReportFilters | None) -> tuple[Table, dict[str, Any]]:
        report = cohort_report.cohorts(filters)
        chosen = source or None
        header = [pgettext("analytics", "首購月份"), pgettext("analytics", "顧客數")]
        header += [pgettext("analytics", "第 %(k)d 個月 %%") % {"k": k} for k in range(report.months)]
        rows = []
        for cohort in report.cohorts:
            retention = cohort.retention(chosen)
            cells = [_percent(value) for value in retention] + [""] * (report.months - len(retention))
            rows.append((cohort.month.strftime("%Y-%m"), cohort.size(chosen), *cells))
        labels = {
            "": pgettext("analytics", "全部顧客"),
            cohort_report.CLERK: pgettext("analytics", "店員 QR／連結綁定"),
            cohort_report.OTHER: pgettext("analytics", "其他來源"),
        }
        return Table(header, rows), {
            "report": report,
            "source": source,
            "sources": [
                {"key": key, "label": label, "active": key == source} for key, label in labels.items()
            ],
            "average": report.average(chosen),
            "chart": report_charts.cohort_chart(report, labels),
        }

    return _page(
        request,
        template="console/analytics/cohorts.html",
        name="cohorts",
        default_days=180,
        build=build,
        comparable=False,
    )


@console_view("dashboard.view")
def bindings_page(request: ConsoleRequest) -> HttpResponse:
    grain = request.GET.get("grain") or ""
    grain = grain if grain in (binding_report.WEEK, binding_report.MONTH) else binding_report.WEEK
    by = request.GET.get("by") or ""
    by = by if by in (binding_report.STORES, binding_report.CLERKS) else binding_report.STORES
    no_store = pgettext("analytics", "（無門市）")

    def build(filters: ReportFilters, compared: ReportFilters | None) -> tuple[Table, dict[str, Any]]:
        report = binding_report.bindings_over_time(filters, grain=grain, by=by)
        before = binding_report.bindings_over_time(compared, grain=grain, by=by) if compared else None
        header = [
            pgettext("analytics", "門市") if by == binding_report.STORES else pgettext("analytics", "店員"),
            *[day.isoformat() for day in report.buckets],
            pgettext("analytics", "合計"),
            pgettext("analytics", "店員 QR／連結"),
        ]
        rows = [(row.name or no_store, *row.counts, row.total, row.by_clerk) for row in report.rows]
        return Table(header, rows), {
            "report": report,
            "before": before,
            "grain": grain,
            "by": by,
            "chart": report_charts.bindings_chart(report),
        }

    return _page(
        request,
        template="console/analytics/bindings.html",
        name="bindings",
        default_days=90,
        build=build,
        applies=("period", "store", "clerk"),
    )


@console_view("dashboard.view")
def funnel_page(request: ConsoleRequest) -> HttpResponse:
    currency = request.user.brand.currency
    by = request.GET.get("by") if request.GET.get("by") in ("store", "clerk") else "clerk"
    no_store = pgettext("analytics", "（無門市）")

    def build(filters: ReportFilters, compared: ReportFilters | None) -> tuple[Table, dict[str, Any]]:
        report = funnel_report.funnel(filters)
        before = funnel_report.funnel(compared) if compared else None
        rows_of = report.clerks if by == "clerk" else report.stores
        header = [
            pgettext("analytics", "店員") if by == "clerk" else pgettext("analytics", "門市"),
            pgettext("analytics", "門市"),
            pgettext("analytics", "對話"),
            pgettext("analytics", "商品卡點擊"),
            pgettext("analytics", "歸屬訂單"),
            pgettext("analytics", "歸屬業績"),
            pgettext("analytics", "點擊／對話 %"),
            pgettext("analytics", "訂單／點擊 %"),
        ]
        rows = [
            (
                row.name or no_store,
                row.store_name or no_store,
                row.conversations,
                row.clicks,
                row.orders,
                format_money(row.sales, currency),
                _percent(row.click_rate),
                _percent(row.order_rate),
            )
            for row in rows_of
        ]
        return Table(header, rows), {
            "report": report,
            "rows": rows_of,
            "total": report.total,
            "before_total": before.total if before else None,
            "by": by,
            "chart": report_charts.funnel_chart(report),
        }

    return _page(
        request, template="console/analytics/funnel.html", name="funnel", default_days=30, build=build
    )


@console_view("dashboard.view")
def lifecycle_page(request: ConsoleRequest) -> HttpResponse:
    def build(filters: ReportFilters, compared: ReportFilters | None) -> tuple[Table, dict[str, Any]]:
        report = lifecycle_report.lifecycle(filters)
        header = (
            pgettext("analytics", "月份"),
            pgettext("analytics", "新顧客"),
            pgettext("analytics", "重新活躍"),
            pgettext("analytics", "轉為沉睡"),
            pgettext("analytics", "月底活躍顧客"),
        )
        rows = [
            (month.month.strftime("%Y-%m"), month.new, month.reactivated, month.lapsed, month.active_end)
            for month in report.months
        ]
        return Table(header, rows), {"report": report, "chart": report_charts.lifecycle_chart(report)}

    return _page(
        request,
        template="console/analytics/lifecycle.html",
        name="lifecycle",
        default_days=180,
        build=build,
        comparable=False,
    )
