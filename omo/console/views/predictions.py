"""預測顧客價值 (/console/segments/predictions/): the brand's latest CLV fit (omo/segments/clv/): its
parameters, customers, whether the history is enough and why not, the distribution of p_alive and
of expected spend, and a button that queues a refit now (HQ admins). Brand-wide roles only: the
figures are the whole brand's."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.http import require_POST

from omo.analytics import charts
from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import render_page
from omo.core import audit
from omo.segments.clv import selectors, services, tasks


@console_view("dashboard.view", brand_wide=True)
def predictions(request: ConsoleRequest) -> HttpResponse:
    brand = request.user.brand
    fit = selectors.latest_fit(brand)
    context: dict = {
        "fit": fit,
        "may_refit": request.user.can("predictions.refit"),
        "min_repeat_customers": services.MIN_REPEAT_CUSTOMERS,
        "min_history_months": services.MIN_HISTORY_DAYS // 30,
    }
    if fit is not None:
        context["reasons"] = selectors.reasons(fit)
        context["bgnbd"] = fit.params.get("bgnbd")
        context["gamma_gamma"] = fit.params.get("gamma_gamma")
    if fit is not None and fit.enough_history:
        alive = selectors.p_alive_distribution(brand)
        spend = selectors.spend_distribution(brand)
        context["alive_chart"] = charts.histogram_chart(
            alive.labels, alive.counts, series=pgettext("console", "顧客數")
        )
        context["spend_chart"] = charts.histogram_chart(
            spend.labels, spend.counts, series=pgettext("console", "顧客數"), colour="#0f766e"
        )
    return render_page(request, "console/segments/predictions.html", context)


@console_view("predictions.refit", brand_wide=True)
@require_POST
def refit(request: ConsoleRequest) -> HttpResponse:
    brand = request.user.brand
    audit.record(actor_for(request), "predictions.refit_requested")
    transaction.on_commit(lambda: tasks.refit_brand.enqueue(brand.pk))
    messages.success(
        request, pgettext_lazy("console", "已排入重新計算，完成後重新整理本頁即可看到新的結果。")
    )
    return redirect("console:segment_predictions")
