"""Reading predictions: the brand's latest fit, a customer's prediction, and what a person reads
about them (the customer panel's sentence in the console and the clerk app, the fit's reasons)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Case, Count, F, IntegerField, Value, When
from django.db.models.functions import Floor, Least
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from omo.core.models import Brand
from omo.core.money import exponent, format_money
from omo.customers.models import Customer
from omo.segments.clv import services
from omo.segments.models import ClvFit, CustomerPrediction, CustomerScore


def latest_fit(brand: Brand) -> ClvFit | None:
    return ClvFit.objects.filter(brand=brand).order_by("-fitted_at", "-id").first()


def customer_prediction(customer: Customer) -> CustomerPrediction | None:
    return CustomerPrediction.objects.filter(brand_id=customer.brand_id, customer=customer).first()


def reasons(fit: ClvFit) -> list[str]:
    """Why the fit's predictions are not shown, one sentence per missing thing."""
    sentences = []
    codes = set(filter(None, fit.reason.split(",")))
    if services.FEW_REPEAT_CUSTOMERS in codes:
        sentences.append(
            _("需要至少 %(needed)d 位回購過的顧客，目前 %(have)d 位。")
            % {"needed": services.MIN_REPEAT_CUSTOMERS, "have": fit.repeat_customers}
        )
    if services.SHORT_HISTORY in codes:
        days = int(fit.params.get("history_days") or 0)
        sentences.append(
            _("需要至少 %(needed)d 個月的訂單紀錄，目前 %(have)d 個月。")
            % {"needed": services.MIN_HISTORY_DAYS // 30, "have": days // 30}
        )
    if services.NO_FIT in codes:
        sentences.append(_("模型無法從目前的訂單估出穩定的結果。"))
    return sentences


@dataclass(frozen=True)
class PredictionPanel:
    shown: bool  # True: `sentence` gives the prediction; False: it says what is missing
    sentence: str
    details: list[str]
    fitted_at: dt.datetime | None


def panel(customer: Customer) -> PredictionPanel:
    """The sentence the customer panel shows (console and clerk app)."""
    fit = latest_fit(customer.brand)
    if fit is None:
        return PredictionPanel(False, _("尚未計算預測，系統每晚會重新計算一次。"), [], None)
    if not fit.enough_history:
        return PredictionPanel(False, _("歷史資料不足，尚無預測。"), reasons(fit), fit.fitted_at)
    prediction = customer_prediction(customer)
    if prediction is None:
        return PredictionPanel(False, _("這位顧客還沒有訂單，尚無預測。"), [], fit.fitted_at)
    return PredictionPanel(True, sentence(prediction, customer.brand.currency), [], prediction.fitted_at)


def sentence(prediction: CustomerPrediction, currency: str) -> str:
    """e.g. 這位顧客仍活躍的機率約 82%，預計未來 90 天會再購買 1.4 次，一年內約消費 NT$3,200。"""
    orders = round(prediction.expected_orders_90d, 1)
    return ngettext(
        "這位顧客仍活躍的機率約 %(p_alive)d%%，預計未來 90 天會再購買 %(orders)s 次，一年內約消費 %(spend)s。",
        "這位顧客仍活躍的機率約 %(p_alive)d%%，預計未來 90 天會再購買 %(orders)s 次，一年內約消費 %(spend)s。",
        1 if orders == 1 else 2,
    ) % {
        "p_alive": round(prediction.p_alive * 100),
        "orders": f"{orders:.1f}",
        "spend": format_money(prediction.expected_spend_365d, currency),
    }


class Insights:
    """The customer API's `predictions` and `rfm` (registered in omo.customers.registry)."""

    def predictions(self, customer: Customer) -> dict[str, Any] | None:
        prediction = customer_prediction(customer)
        if prediction is None:
            return None
        return {
            "p_alive": prediction.p_alive,
            "expected_orders_30d": prediction.expected_orders_30d,
            "expected_orders_90d": prediction.expected_orders_90d,
            "expected_orders_365d": prediction.expected_orders_365d,
            "expected_spend_365d": prediction.expected_spend_365d,
            "fitted_at": prediction.fitted_at,
        }

    def rfm(self, customer: Customer) -> dict[str, Any] | None:
        score = CustomerScore.objects.filter(brand_id=customer.brand_id, customer=customer).first()
        if score is None:
            return None
        return {
            "r": score.r,
            "f": score.f,
            "m": score.m,
            "segment": score.rfm_segment,
            "computed_at": score.computed_at,
        }


@dataclass(frozen=True)
class Distribution:
    labels: list[str]
    counts: list[int]


# Expected spend over 365 days, in major units: the lower edge of each bucket.
SPEND_EDGES = (0, 500, 1_000, 2_000, 5_000, 10_000, 20_000, 50_000)


def p_alive_distribution(brand: Brand) -> Distribution:
    """Customers per tenth of p_alive (0-10%, ..., 90-100%)."""
    rows = (
        CustomerPrediction.objects.filter(brand=brand)
        .annotate(bucket=Least(Floor(F("p_alive") * 10), Value(9.0)))
        .values("bucket")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = [0] * 10
    for row in rows:
        counts[int(row["bucket"])] += row["n"]
    return Distribution([f"{10 * i}–{10 * (i + 1)}%" for i in range(10)], counts)


def spend_distribution(brand: Brand) -> Distribution:
    """Customers per band of expected spend over the next 365 days."""
    scale = 10 ** exponent(brand.currency)
    bands = Case(
        *(
            When(expected_spend_365d__gte=edge * scale, then=Value(i))
            for i, edge in reversed(list(enumerate(SPEND_EDGES)))
        ),
        default=Value(0),
        output_field=IntegerField(),
    )
    rows = (
        CustomerPrediction.objects.filter(brand=brand)
        .annotate(band=bands)
        .values("band")
        .annotate(n=Count("pk"))
        .order_by()
    )
    counts = [0] * len(SPEND_EDGES)
    for row in rows:
        counts[row["band"]] += row["n"]
    labels = [
        f"{format_money(low * scale, brand.currency)}+"
        if high is None
        else f"{format_money(low * scale, brand.currency)}–{format_money(high * scale, brand.currency)}"
        for low, high in zip(SPEND_EDGES, [*SPEND_EDGES[1:], None], strict=True)
    ]
    return Distribution(labels, counts)
