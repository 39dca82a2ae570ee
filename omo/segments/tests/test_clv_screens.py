"""The predictions on screen: the console's 預測顧客價值 page (roles, tenancy, the queued refit), the
預測價值 panel on the console's customer page and in the clerk app."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client, TestCase
from django.utils import timezone

from omo.binding.models import Binding
from omo.core.models import AuditLog
from omo.segments.clv import tasks
from omo.segments.models import ClvFit, CustomerPrediction
from omo.segments.tests.histories import customers

NOW = dt.datetime(2026, 7, 1, 4, 0, tzinfo=ZoneInfo("Asia/Taipei"))
PAGE = "/console/segments/predictions/"
REFIT = "/console/segments/predictions/refit/"
SENTENCE = "這位顧客仍活躍的機率約 82%，預計未來 90 天會再購買 1.4 次，一年內約消費 NT$3,200。"


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def fitted(brand, *, enough: bool = True) -> ClvFit:
    return ClvFit.objects.create(
        brand=brand,
        fitted_at=NOW,
        calibration_end=NOW.date(),
        customers=500 if enough else 40,
        repeat_customers=210 if enough else 12,
        params={
            "bgnbd": {"r": 0.243, "alpha": 30.9, "a": 0.793, "b": 2.426, "log_likelihood": -9582.4},
            "gamma_gamma": {"p": 6.25, "q": 3.74, "gamma": 15.44},
            "history_days": 400 if enough else 75,
        },
        enough_history=enough,
        reason="" if enough else "few_repeat_customers,short_history",
    )


def predicted(brand, customer, fit: ClvFit) -> None:
    CustomerPrediction.objects.create(
        brand=brand,
        customer=customer,
        fit=fit,
        p_alive=0.823,
        expected_orders_30d=0.5,
        expected_orders_90d=1.43,
        expected_orders_365d=4.1,
        expected_spend_365d=3_200_00,
        fitted_at=NOW,
    )


@time_machine.travel(NOW, tick=False)
def test_the_page_shows_the_fit_and_the_distributions(brand, hq_admin):
    fit = fitted(brand)
    for person in customers(brand, 3):
        predicted(brand, person, fit)
    body = signed_in(hq_admin).get(PAGE).content.decode()
    assert "data-repeat-customers>210<" in body and "data-customers>500<" in body
    assert "0.243" in body and "4.414" not in body and "30.900" in body and "15.44" in body
    assert 'data-enough="yes"' in body
    assert 'data-chart="p_alive"' in body and 'data-chart="spend"' in body and "<svg" in body
    assert "80–90%" in body and "NT$2,000–NT$5,000" in body
    assert 'data-testid="refit"' in body
    assert "預測顧客價值" in body  # in the sidebar too


def test_without_enough_history_the_page_says_what_is_missing(brand, hq_agent):
    fitted(brand, enough=False)
    body = signed_in(hq_agent).get(PAGE).content.decode()
    assert 'data-enough="no"' in body and "歷史資料不足，尚無預測。" in body
    assert "需要至少 100 位回購過的顧客，目前 12 位。" in body
    assert "需要至少 6 個月的訂單紀錄，目前 2 個月。" in body
    assert "data-chart=" not in body
    assert 'data-testid="refit"' not in body  # an agent sees, only an admin refits


def test_before_the_first_fit(brand, hq_admin):
    body = signed_in(hq_admin).get(PAGE).content.decode()
    assert 'data-testid="no-fit"' in body


def test_store_managers_and_clerks_are_refused(brand, manager, clerk):
    assert signed_in(manager).get(PAGE).status_code == 403
    assert signed_in(manager).post(REFIT).status_code == 403
    assert signed_in(clerk).get(PAGE).status_code == 403


def test_an_agent_may_not_refit(brand, hq_agent, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    with TestCase.captureOnCommitCallbacks(execute=True):
        assert signed_in(hq_agent).post(REFIT).status_code == 403
    assert not ClvFit.objects.exists()


def test_another_brand_sees_its_own_fit_only(brand, other_brand, other_admin):
    fitted(brand)
    body = signed_in(other_admin).get(PAGE).content.decode()
    assert 'data-testid="no-fit"' in body and "0.243" not in body


@time_machine.travel(NOW, tick=False)
def test_refit_now_is_queued_and_audited(brand, other_brand, hq_admin, settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    client = signed_in(hq_admin)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(REFIT)
    assert response.status_code == 302 and response["Location"] == PAGE
    [fit] = ClvFit.objects.all()
    assert fit.brand == brand and fit.fitted_at == NOW  # the other brand was not refitted
    assert AuditLog.objects.filter(brand=brand, action="predictions.refit_requested").count() == 1
    assert "已排入重新計算" in client.get(PAGE).content.decode()
    assert client.get(REFIT).status_code == 405


def test_the_refit_task_skips_a_deleted_brand(db):
    assert tasks.refit_brand.call(999_999) == {"brand_id": 999_999, "skipped": "brand deleted"}


@time_machine.travel(NOW, tick=False)
def test_the_console_customer_page_has_the_sentence(brand, hq_admin):
    [ann, bob] = customers(brand, 2)
    predicted(brand, ann, fitted(brand))
    client = signed_in(hq_admin)
    body = client.get(f"/console/customers/{ann.pk}/").content.decode()
    assert "預測價值" in body and SENTENCE in body and 'data-prediction="shown"' in body
    assert "這位顧客還沒有訂單，尚無預測。" in client.get(f"/console/customers/{bob.pk}/").content.decode()


def test_the_console_customer_page_says_what_is_missing(brand, hq_admin):
    [ann] = customers(brand, 1)
    fitted(brand, enough=False)
    body = signed_in(hq_admin).get(f"/console/customers/{ann.pk}/").content.decode()
    assert "歷史資料不足，尚無預測。" in body and "目前 12 位" in body and 'data-prediction="missing"' in body


@time_machine.travel(NOW, tick=False)
def test_the_clerk_app_s_customer_panel_has_the_same_sentence(brand, clerk):
    [ann] = customers(brand, 1)
    predicted(brand, ann, fitted(brand))
    Binding.objects.create(brand=brand, customer=ann, clerk=clerk, source="manual", started_at=timezone.now())
    body = signed_in(clerk).get(f"/clerk/customers/{ann.pk}/").content.decode()
    assert SENTENCE in body and 'data-testid="prediction"' in body


@pytest.mark.parametrize("language", ["en"])
@time_machine.travel(NOW, tick=False)
def test_the_sentence_in_english(brand, hq_admin, language):
    [ann] = customers(brand, 1)
    predicted(brand, ann, fitted(brand))
    client = signed_in(hq_admin)
    body = client.get(f"/console/customers/{ann.pk}/", headers={"accept-language": language}).content.decode()
    assert "82% likely to still be a customer" in body
