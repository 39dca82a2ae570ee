"""`omo clv fit` and the customer API's `predictions` and `rfm`."""

from __future__ import annotations

import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.management import CommandError, call_command

from omo.segments.models import ClvFit, CustomerScore
from omo.segments.tests.histories import add_orders, customers, predicted

NOW = dt.datetime(2026, 7, 1, 4, 0, tzinfo=ZoneInfo("Asia/Taipei"))


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("clv", *args, stdout=out)
    return out.getvalue()


@time_machine.travel(NOW, tick=False)
def test_fit_prints_exactly_the_documented_keys(brand):
    [ann, bob] = customers(brand, 2)
    add_orders(brand, ann, (NOW - dt.timedelta(days=40), 100_00), (NOW - dt.timedelta(days=10), 300_00))
    add_orders(brand, bob, (NOW - dt.timedelta(days=20), 100_00))

    printed = json.loads(run("fit", "--brand", brand.slug, "--json"))

    assert list(printed) == ["customers", "repeat_customers", "time_unit", "bgnbd", "gamma_gamma"]
    assert (printed["customers"], printed["repeat_customers"], printed["time_unit"]) == (2, 1, "day")
    assert set(printed["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert set(printed["gamma_gamma"]) == {"p", "q", "gamma"}
    fit = ClvFit.objects.get(brand=brand)
    assert not fit.enough_history  # 2 customers, 40 days
    assert fit.calibration_end == dt.date(2026, 7, 1)


@time_machine.travel(NOW, tick=False)
def test_fit_without_orders_prints_nulls_and_a_readable_summary(brand):
    assert json.loads(run("fit", "--brand", brand.slug, "--json", "--calibration-end", "2026-01-31")) == {
        "customers": 0,
        "repeat_customers": 0,
        "time_unit": "day",
        "bgnbd": None,
        "gamma_gamma": None,
    }
    text = run("fit", "--brand", brand.slug, "--time-unit", "week")
    assert "0 customers, 0 with repeat purchases" in text
    assert "Not enough history" in text


def test_fit_names_bad_input(brand):
    with pytest.raises(CommandError, match="brand: no brand with slug 'nope'"):
        run("fit", "--brand", "nope")
    with pytest.raises(CommandError, match=r"calibration-end: not a date \(YYYY-MM-DD\): '2026-13-01'"):
        run("fit", "--brand", brand.slug, "--calibration-end", "2026-13-01")
    with pytest.raises(CommandError, match="invalid choice: 'month'"):
        run("fit", "--brand", brand.slug, "--time-unit", "month")
    assert not ClvFit.objects.exists()


def _predicted(brand, customer) -> None:
    predicted(brand, customer, at=NOW)
    CustomerScore.objects.create(
        brand=brand, customer=customer, r=5, f=4, m=3, rfm_segment="loyal", computed_at=NOW
    )


def test_the_customer_api_carries_predictions_and_rfm(brand, api):
    [ann, bob] = customers(brand, 2)
    _predicted(brand, ann)

    body = api.get(f"/api/v1/customers/{ann.pk}").json()

    assert body["predictions"] == {
        "p_alive": 0.82,
        "expected_orders_30d": 0.5,
        "expected_orders_90d": 1.4,
        "expected_orders_365d": 4.1,
        "expected_spend_365d": 320000,
        "fitted_at": "2026-06-30T20:00:00Z",
    }
    assert body["rfm"] == {"r": 5, "f": 4, "m": 3, "segment": "loyal", "computed_at": "2026-06-30T20:00:00Z"}
    other = api.get(f"/api/v1/customers/{bob.pk}").json()
    assert other["predictions"] is None and other["rfm"] is None


def test_another_brand_does_not_see_the_predictions(brand, other_api):
    [ann] = customers(brand, 1)
    _predicted(brand, ann)
    response = other_api.get(f"/api/v1/customers/{ann.pk}")
    assert response.status_code == 404
    assert "p_alive" not in response.content.decode()
