"""The customers of one RFM cell (R × F), paged, each linking to the customer's page; within the
viewer's customers and the filters bar's store, clerk and channel."""

from __future__ import annotations

from django import forms
from django.http import HttpResponse
from django.utils.translation import pgettext

from omo.analytics.reports import rfm as rfm_report
from omo.console import selectors
from omo.console.access import ConsoleRequest, console_view
from omo.console.pages import paginate, render_page
from omo.console.views.analytics.filters import AnalyticsFilterForm, Table, csv_response, query_string
from omo.core.money import format_money


class CellForm(forms.Form):
    r = forms.TypedChoiceField(choices=[(s, s) for s in rfm_report.SCORES], coerce=int)
    f = forms.TypedChoiceField(choices=[(s, s) for s in rfm_report.SCORES], coerce=int)


@console_view("dashboard.view")
def rfm_members(request: ConsoleRequest) -> HttpResponse:
    user = request.user
    cell = CellForm(request.GET)
    form = AnalyticsFilterForm(request.GET, user=user)
    filters, _comparison = form.to_filters(default_days=30)
    if not cell.is_valid():
        return render_page(
            request,
            "console/analytics/members.html",
            {
                "form": form,
                "cell_error": pgettext("analytics", "請從 RFM 格子選一格：R 與 F 都是 1 到 5 的分數。"),
            },
            status=400,
        )
    r, f = cell.cleaned_data["r"], cell.cleaned_data["f"]
    members = (
        rfm_report.cell_members(filters, r, f)
        .filter(customer_id__in=selectors.customers_for(user).values("pk"))
        .select_related("customer")
    )
    if request.GET.get("format") == "csv":
        table = Table(
            (
                pgettext("analytics", "顧客編號"),
                pgettext("analytics", "姓名"),
                pgettext("analytics", "訂單數"),
                pgettext("analytics", "累計淨消費"),
                pgettext("analytics", "最近一次購買"),
                "R",
                "F",
                "M",
            ),
            [
                (
                    score.customer_id,
                    score.customer.name,
                    score.orders,
                    format_money(score.spend, user.brand.currency),
                    score.last_order_at.date().isoformat() if score.last_order_at else "",
                    score.r,
                    score.f,
                    score.m,
                )
                for score in members.iterator(chunk_size=2000)
            ],
        )
        return csv_response(table, f"rfm-r{r}-f{f}", filters)
    params = [(key, value) for key, value in request.GET.items() if key not in ("format", "page")]
    return render_page(
        request,
        "console/analytics/members.html",
        {
            "form": form,
            "filters": filters,
            "r": r,
            "f": f,
            "page": paginate(request, members),
            "back_query": query_string([(k, v) for k, v in params if k not in ("r", "f")]),
            "csv_query": query_string(params, format="csv"),
        },
    )
