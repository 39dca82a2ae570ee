"""Fitting a brand's CLV models and scoring its customers.

`fit_brand` fits BG/NBD and Gamma-Gamma on the per-customer statistics (omo.segments.clv.data) and
saves a `ClvFit`, with whether the history is enough to show predictions and, if not, why. `score`
writes every customer's `CustomerPrediction` from that fit, one block of customers per transaction
(the block's rows are replaced), then drops the predictions the fit did not give (customers
without counted orders any more). `refit` does both: what the nightly job, the console's button and
`omo clv fit` run.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np
from django.db import transaction
from django.utils import timezone

from omo.core import bulk
from omo.core.models import Brand
from omo.core.money import exponent
from omo.segments.clv import bgnbd, gamma_gamma
from omo.segments.clv.bgnbd import Array
from omo.segments.clv.data import TIME_UNITS, Summary, customer_summaries
from omo.segments.models import ClvFit, CustomerPrediction

logger = logging.getLogger(__name__)

# Below these the estimates move too much from one night to the next to show (docs/predictions.md).
MIN_REPEAT_CUSTOMERS = 100
MIN_HISTORY_DAYS = 180
HORIZONS_DAYS = (30, 90, 365)
SCORE_BLOCK = 5_000

# ClvFit.reason: codes, joined by ","; omo.segments.clv.selectors says them in words.
FEW_REPEAT_CUSTOMERS = "few_repeat_customers"
SHORT_HISTORY = "short_history"
NO_FIT = "no_fit"


@dataclass(frozen=True)
class FitResult:
    fit: ClvFit
    purchases: bgnbd.BgNbd | None
    spend: gamma_gamma.GammaGamma | None
    summary: Summary
    scores: dict[str, Array] | None  # per summarised customer, when the predictions may be shown


def local_today(brand: Brand, now: dt.datetime | None = None) -> dt.date:
    return (now or timezone.now()).astimezone(ZoneInfo(brand.time_zone)).date()


def _compressed(*columns: Array) -> tuple[list[Array], Array]:
    """The distinct rows of the columns and how often each occurs: the likelihood of a million
    customers is that of the (far fewer) distinct histories, weighted."""
    stacked = np.column_stack(columns) if len(columns[0]) else np.empty((0, len(columns)))
    distinct, counts = np.unique(stacked, axis=0, return_counts=True)
    return [distinct[:, i] for i in range(len(columns))], counts.astype(np.float64)


def history_days(summary: Summary, calibration_end: dt.date) -> int:
    return (calibration_end - summary.first_day).days if summary.first_day is not None else 0


def fit_brand(
    brand: Brand,
    *,
    calibration_end: dt.date | None = None,
    time_unit: str = "day",
    now: dt.datetime | None = None,
) -> FitResult:
    """Fit both models on the brand's orders up to calibration_end (default: today, local) and save
    the fit; `enough_history` says whether its predictions may be shown."""
    if time_unit not in TIME_UNITS:
        raise ValueError(f"time unit must be one of {', '.join(TIME_UNITS)}")
    now = now or timezone.now()
    end = calibration_end or local_today(brand, now)
    summary = customer_summaries(brand, calibration_end=end, time_unit=time_unit)
    purchases: bgnbd.BgNbd | None = None
    spend: gamma_gamma.GammaGamma | None = None
    if summary.customers:
        (x, t_x, T), weights = _compressed(summary.x, summary.t_x, summary.T)
        purchases = bgnbd.fit(x, t_x, T, weights)
        repeat = (summary.x > 0) & (summary.monetary > 0)
        if repeat.any():
            (rx, rm), rweights = _compressed(summary.x[repeat], summary.monetary[repeat])
            spend = gamma_gamma.fit(rx, rm, rweights)
    reasons = []
    if summary.repeat_customers < MIN_REPEAT_CUSTOMERS:
        reasons.append(FEW_REPEAT_CUSTOMERS)
    if history_days(summary, end) < MIN_HISTORY_DAYS:
        reasons.append(SHORT_HISTORY)
    scores = None
    if not reasons:
        scores = _predictions(summary, purchases, spend, time_unit, brand.currency)
        if scores is None:
            reasons.append(NO_FIT)
    params = {
        "bgnbd": purchases.as_dict() if purchases else None,
        "gamma_gamma": spend.as_dict() if spend else None,
        "history_days": history_days(summary, end),
    }
    fit = ClvFit.objects.create(
        brand=brand,
        fitted_at=now,
        calibration_end=end,
        time_unit=time_unit,
        customers=summary.customers,
        repeat_customers=summary.repeat_customers,
        params=params,
        enough_history=not reasons,
        reason=",".join(reasons),
    )
    logger.info("CLV fit %s of brand %s: %s", fit.pk, brand.slug, params)
    return FitResult(fit, purchases, spend, summary, scores)


def _predictions(
    summary: Summary,
    purchases: bgnbd.BgNbd | None,
    spend: gamma_gamma.GammaGamma | None,
    time_unit: str,
    currency: str,
) -> dict[str, Array] | None:
    """Every summarised customer's scores: p_alive, expected orders per horizon, expected spend
    (minor units) over 365 days. None when a model is missing or gives no finite answer (q ≤ 1
    means an infinite mean spend)."""
    if purchases is None or spend is None or spend.q <= 1:
        return None
    unit = TIME_UNITS[time_unit]
    x, t_x, T = summary.x, summary.t_x, summary.T
    scores: dict[str, Array] = {"p_alive": bgnbd.p_alive(purchases, x, t_x, T)}
    for days in HORIZONS_DAYS:
        scores[f"expected_orders_{days}d"] = bgnbd.expected_purchases(purchases, days / unit, x, t_x, T)
    per_order = gamma_gamma.expected_spend_per_purchase(spend, x, summary.monetary)
    scores["expected_spend_365d"] = np.rint(
        scores["expected_orders_365d"] * per_order * 10 ** exponent(currency)
    )
    if not all(np.isfinite(values).all() for values in scores.values()):
        return None
    return scores


def score(result: FitResult, *, block: int = SCORE_BLOCK) -> int:
    """Write the fit's predictions for every customer it summarised; returns how many."""
    fit, scores = result.fit, result.scores
    if scores is None:
        # Predictions of an earlier fit would say more than the brand's history now supports.
        CustomerPrediction.objects.filter(brand_id=fit.brand_id).delete()
        return 0
    ids = result.summary.customer_id
    for start in range(0, len(ids), block):
        stop = min(start + block, len(ids))
        rows = [
            {
                "brand_id": fit.brand_id,
                "customer_id": int(ids[i]),
                "fit_id": fit.pk,
                "p_alive": float(scores["p_alive"][i]),
                "expected_orders_30d": float(scores["expected_orders_30d"][i]),
                "expected_orders_90d": float(scores["expected_orders_90d"][i]),
                "expected_orders_365d": float(scores["expected_orders_365d"][i]),
                "expected_spend_365d": int(scores["expected_spend_365d"][i]),
                "fitted_at": fit.fitted_at,
            }
            for i in range(start, stop)
        ]
        with transaction.atomic():
            CustomerPrediction.objects.filter(
                brand_id=fit.brand_id, customer_id__gte=int(ids[start]), customer_id__lte=int(ids[stop - 1])
            ).delete()
            bulk.insert_rows(CustomerPrediction, rows, need_ids=False)
    CustomerPrediction.objects.filter(brand_id=fit.brand_id).exclude(fit=fit).delete()
    return len(ids)


def refit(
    brand: Brand,
    *,
    calibration_end: dt.date | None = None,
    time_unit: str = "day",
    now: dt.datetime | None = None,
) -> FitResult:
    """Fit and score (the nightly job, the console's button, `omo clv fit`)."""
    result = fit_brand(brand, calibration_end=calibration_end, time_unit=time_unit, now=now)
    score(result)
    return result
