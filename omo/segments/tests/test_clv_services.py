"""Fitting a brand and scoring its customers: what counts as a purchase, not enough history, the
predictions written, the nightly job."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine

from omo.core import schedule
from omo.segments.clv import selectors, services, tasks
from omo.segments.clv.data import customer_summaries
from omo.segments.models import ClvFit, CustomerPrediction
from omo.segments.tests.histories import add_orders, customers, predicted, simulated_brand

TAIPEI = ZoneInfo("Asia/Taipei")
NOW = dt.datetime(2026, 7, 1, 4, 0, tzinfo=TAIPEI)


def at(day: str, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=TAIPEI)


def test_purchases_are_calendar_days_in_the_brand_s_time_zone(brand, other_brand):
    """23:30 and 00:30 are two days in Taipei although one UTC day; 01:00 and 23:00 one day
    although two UTC days. Cancelled orders, other customers' and other brands' do not count."""
    [ann, bob] = customers(brand, 2)
    add_orders(
        brand,
        ann,
        (at("2026-01-10", 1), 100_00),
        (at("2026-01-10", 23), 50_00),  # same local day: one purchase of NT$150
        (at("2026-01-20", 23, 30), 200_00),
        (at("2026-01-21", 0, 30), 300_00),
    )
    add_orders(brand, ann, (at("2026-02-01", 12), 999_00), status="cancelled")
    add_orders(brand, ann, (at("2026-01-25", 12), 400_00), refunded_total=100_00)  # net NT$300
    add_orders(brand, bob, (at("2026-01-15", 12), 80_00))
    add_orders(brand, None, (at("2026-01-16", 12), 80_00))
    [other] = customers(other_brand, 1)
    add_orders(other_brand, other, (at("2026-01-11", 12), 80_00))

    summary = customer_summaries(brand, calibration_end=dt.date(2026, 1, 31))

    assert summary.customer_id.tolist() == [ann.pk, bob.pk]
    assert summary.x.tolist() == [3, 0]  # 01-20, 01-21, 01-25 after the first day 01-10
    assert summary.t_x.tolist() == [15, 0]
    assert summary.T.tolist() == [21, 16]
    assert summary.monetary.tolist() == [pytest.approx((200 + 300 + 300) / 3), 0]
    assert summary.first_day == dt.date(2026, 1, 10)
    weeks = customer_summaries(brand, calibration_end=dt.date(2026, 1, 31), time_unit="week")
    assert weeks.T.tolist() == [3, 16 / 7]


def test_orders_after_the_calibration_end_are_left_out(brand):
    [ann] = customers(brand, 1)
    add_orders(brand, ann, (at("2026-01-10", 12), 100_00), (at("2026-02-01", 0, 10), 100_00))
    summary = customer_summaries(brand, calibration_end=dt.date(2026, 1, 31), block=1)
    assert summary.x.tolist() == [0]


@time_machine.travel(NOW, tick=False)
def test_a_small_young_brand_has_not_enough_history(brand):
    people = customers(brand, 3)
    for person in people:
        add_orders(brand, person, (at("2026-05-01", 12), 100_00), (at("2026-06-01", 12), 100_00))
    CustomerPrediction.objects.create(
        brand=brand,
        customer=people[0],
        fit=ClvFit.objects.create(
            brand=brand, fitted_at=NOW, calibration_end=NOW.date(), customers=1, repeat_customers=1
        ),
        p_alive=0.5,
        expected_orders_30d=0,
        expected_orders_90d=0,
        expected_orders_365d=0,
        expected_spend_365d=0,
        fitted_at=NOW,
    )

    result = services.refit(brand)

    fit = result.fit
    assert (fit.customers, fit.repeat_customers, fit.enough_history) == (3, 3, False)
    assert fit.calibration_end == dt.date(2026, 7, 1)  # today in Taipei
    assert fit.reason == "few_repeat_customers,short_history"
    assert fit.params["history_days"] == 61
    assert not CustomerPrediction.objects.filter(brand=brand).exists()  # an old fit's are dropped
    panel = selectors.panel(people[0])
    assert not panel.shown
    assert panel.sentence == "歷史資料不足，尚無預測。"
    assert panel.details == [
        "需要至少 100 位回購過的顧客，目前 3 位。",
        "需要至少 6 個月的訂單紀錄，目前 2 個月。",
    ]


@time_machine.travel(NOW, tick=False)
def test_a_brand_with_enough_history_gets_every_customer_scored(brand):
    simulated_brand(brand, count=400, first=dt.date(2025, 7, 1), last=dt.date(2026, 6, 30))

    result = services.refit(brand)

    fit = result.fit
    assert fit.enough_history and fit.reason == ""
    assert fit.repeat_customers >= services.MIN_REPEAT_CUSTOMERS
    assert fit.params["bgnbd"]["r"] > 0 and fit.params["gamma_gamma"]["q"] > 1
    predictions = CustomerPrediction.objects.filter(brand=brand)
    assert predictions.count() == fit.customers == 400
    for prediction in predictions:
        assert 0 < prediction.p_alive <= 1
        assert (
            0
            <= prediction.expected_orders_30d
            <= prediction.expected_orders_90d
            <= prediction.expected_orders_365d
        )
        assert prediction.expected_spend_365d >= 0
        assert prediction.fit == fit and prediction.fitted_at == NOW
    # A refit replaces the rows: still one per customer, from the new fit.
    again = services.refit(brand, now=NOW + dt.timedelta(days=1))
    assert set(predictions.values_list("fit", flat=True)) == {again.fit.pk}
    assert predictions.count() == 400


@time_machine.travel(NOW, tick=False)
def test_the_panel_says_it_in_a_sentence(brand):
    [ann, bob] = customers(brand, 2)
    predicted(brand, ann, at=NOW, p_alive=0.823, expected_orders_90d=1.43)
    panel = selectors.panel(ann)
    assert panel.shown
    assert (
        panel.sentence == "這位顧客仍活躍的機率約 82%，預計未來 90 天會再購買 1.4 次，一年內約消費 NT$3,200。"
    )
    assert selectors.panel(bob).sentence == "這位顧客還沒有訂單，尚無預測。"


def test_without_a_fit_the_panel_says_when_it_comes(brand):
    [ann] = customers(brand, 1)
    panel = selectors.panel(ann)
    assert not panel.shown and panel.sentence == "尚未計算預測，系統每晚會重新計算一次。"


def test_the_refit_runs_every_night_at_3_15():
    [job] = [job for job in schedule.registered() if job.name == "segments.clv_refit"]
    assert job.at == dt.time(3, 15) and job.task == tasks.refit_all_brands


@time_machine.travel(NOW, tick=False)
def test_the_nightly_job_refits_every_brand(brand, other_brand, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    assert tasks.refit_all_brands.call() == 2
    assert ClvFit.objects.filter(brand__in=[brand, other_brand]).count() == 2
