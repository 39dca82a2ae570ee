"""The ready-made segments, the nightly and on-demand runs, the groups page and the scores API:
what they show, and who may see or start them."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from omo.core import brands, schedule
from omo.core.models import AuditLog
from omo.segments import ready_made, score_tasks, scores
from omo.segments.models import ScoreRun, Segment
from omo.segments.tests import score_data
from omo.segments.tests.score_data import NOW
from omo.staff.actors import actor_for_user
from omo.testing import factories as f

URL = "/api/v1/segments/scores"


@pytest.fixture
def computed(brand):
    data = score_data.build(brand)
    scores.compute_scores(brand, now=NOW)
    return data


def _queued(task) -> int:
    return DBTaskResult.objects.filter(task_path=task.module_path).count()


# --- ready-made segments -------------------------------------------------------------------------


def test_ready_made_segments_are_made_once_with_their_rules(brand):
    made = ready_made.ensure_ready_made(brand)
    again = ready_made.ensure_ready_made(brand)
    assert [s.pk for s in made] == [s.pk for s in again]
    assert len(made) == 19
    by_key = {segment.key: segment for segment in made}
    assert {segment.kind for segment in made} == {"ready_made"}
    assert by_key["dormant"].name == "沉睡客"
    assert by_key["dormant"].rule == {"field": "lifecycle.activity", "op": "eq", "value": "dormant"}
    assert by_key["top20"].rule == {"field": "lifecycle.top20", "op": "eq", "value": True}
    assert by_key["rfm_champions"].rule == {"field": "rfm.segment", "op": "in", "value": ["champions"]}
    assert by_key["potential"].rule["value"] == "potential"
    assert "90 天" in by_key["dormant"].description  # the default before any run


def test_a_new_brand_gets_them(db):
    created = brands.create_brand("新品牌")
    assert Segment.objects.filter(brand=created.brand, kind="ready_made").count() == 19


def test_a_run_updates_the_definitions_and_marks_them_stale(brand):
    score_data.build(brand)
    ready_made.ensure_ready_made(brand)
    Segment.objects.filter(brand=brand).update(stale_since=None)
    ScoreRun.objects.create(brand=brand, computed_at=NOW, repurchase_days=21, repurchase_measured=True)
    with time_machine.travel(NOW, tick=False):
        scores.compute_scores(brand, now=NOW)
    dormant = Segment.objects.get(brand=brand, key="dormant")
    # this run measured nothing (all orders of a customer on one day): back to the default
    assert "90 天" in dormant.description and "預設值" in dormant.description
    assert not Segment.objects.filter(brand=brand, stale_since__isnull=True).exists()


def test_the_definition_names_the_measured_interval():
    text = ready_made.BY_KEY["dormant"].define(ready_made.Interval(34, True))
    assert "34 天" in text and "實測" in text


# --- runs: nightly and on demand -------------------------------------------------------------------


def test_the_nightly_run_is_registered_at_half_past_two():
    job = {job.name: job for job in schedule.registered()}["segments.scores_nightly"]
    assert job.at == dt.time(2, 30) and job.interval == dt.timedelta(days=1)


def test_the_nightly_run_queues_one_run_per_brand(brand, other_brand):
    assert score_tasks.nightly_scores_all_brands.call() >= 2
    assert _queued(score_tasks.compute_brand_scores) >= 2


def test_the_run_task_scores_the_brand(computed, brand):
    result = score_tasks.compute_brand_scores.call(brand.pk)
    assert result["customers"] == 12
    assert score_tasks.compute_brand_scores.call(10**9) == {"brand_id": 10**9, "skipped": "brand deleted"}


def test_asking_twice_queues_once(brand, hq_admin, django_capture_on_commit_callbacks):
    actor = actor_for_user(hq_admin)
    with django_capture_on_commit_callbacks(execute=True):
        first = score_tasks.request_scores(brand, actor=actor)
        second = score_tasks.request_scores(brand, actor=actor)
    assert first[0] is True and second[0] is False
    assert _queued(score_tasks.compute_brand_scores) == 1
    assert AuditLog.objects.filter(brand=brand, action="scores.refresh_requested").count() == 1
    # a request left over from a worker that never ran it is asked again after a while
    with time_machine.travel(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=20)):
        with django_capture_on_commit_callbacks(execute=True):
            assert score_tasks.request_scores(brand, actor=actor)[0] is True
    assert _queued(score_tasks.compute_brand_scores) == 2


# --- API -----------------------------------------------------------------------------------------------


def test_the_api_shows_the_groups_with_their_members(computed, api):
    response = api.get(URL)
    assert response.status_code == 200
    body = response.json()
    assert body["customers"] == 12 and body["buyers"] == 10
    assert body["repurchase_days"] == 90 and body["repurchase_measured"] is False
    assert body["thresholds"] == {
        "r": [10, 30, 50, 70],
        "f": [1, 1, 3, 5],
        "m": [100, 500, 3000, 9000],
        "top20": 10000,
    }
    groups = {group["key"]: group for group in body["groups"]}
    assert groups["loyal"]["members"] == 2
    assert groups["dormant"]["members"] == 1
    assert groups["potential"]["members"] == 2
    assert groups["rfm_at_risk"]["members"] == 2
    assert groups["top20"]["members"] == 2
    assert groups["omo"]["members"] == 1
    assert groups["dormant"]["segment_id"] == Segment.objects.get(brand=computed.brand, key="dormant").pk
    assert groups["dormant"]["name"] == "沉睡客"


def test_the_api_speaks_english_when_asked(computed, api_key):
    response = Client().get(URL, HTTP_AUTHORIZATION=f"Bearer {api_key}", HTTP_ACCEPT_LANGUAGE="en")
    groups = {group["key"]: group for group in response.json()["groups"]}
    assert groups["rfm_champions"]["name"] == "Champions"
    assert "90 days" in groups["dormant"]["definition"]


def test_another_brand_sees_only_its_own(computed, other_api):
    body = other_api.get(URL).json()
    assert body["customers"] == 0 and body["computed_at"] is None
    assert all(group["members"] == 0 and group["segment_id"] is None for group in body["groups"])


def test_refresh_over_the_api(brand, api, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"{URL}/refresh", {})
    assert response.status_code == 202 and response.json()["queued"] is True
    assert api.post(f"{URL}/refresh", {}).json()["queued"] is False


@pytest.mark.parametrize("role", ["clerk", "store_manager"])
def test_weaker_keys_are_refused(brand, store, role):
    client = f.ApiClient(f.make_api_key(brand, role=role, store=store))
    assert client.get(URL).status_code == 403
    assert client.post(f"{URL}/refresh", {}).status_code == 403


def test_an_agent_key_reads_but_may_not_refresh(brand):
    client = f.ApiClient(f.make_api_key(brand, role="hq_agent"))
    assert client.get(URL).status_code == 200
    response = client.post(f"{URL}/refresh", {})
    assert response.status_code == 403 and "scores.refresh" in response.json()["detail"]
    assert not ScoreRun.objects.filter(brand=brand, requested_at__isnull=False).exists()


# --- the console page --------------------------------------------------------------------------------


PAGE = "/console/segments/groups/"


def test_the_groups_page(computed, console):
    response = console.get(PAGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "顧客分群" in html and "立即重新計算" in html
    assert 'data-group="dormant"' in html and "沉睡客" in html
    assert "回購週期：90 天" in html
    assert "計算時間 2026/06/30 12:00" in html


def test_the_button_queues_a_run(brand, console, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        response = console.post(reverse("console:segment_groups_refresh"), follow=True)
    assert response.status_code == 200
    assert "已排入重新計算" in response.content.decode()
    assert _queued(score_tasks.compute_brand_scores) == 1


def test_an_agent_sees_the_page_without_the_button(computed, hq_agent):
    client = Client()
    client.force_login(hq_agent)
    html = client.get(PAGE).content.decode()
    assert "沉睡客" in html and "立即重新計算" not in html
    assert client.post(reverse("console:segment_groups_refresh")).status_code == 403
    assert _queued(score_tasks.compute_brand_scores) == 0


def test_store_managers_and_clerks_are_refused(computed, manager, clerk):
    for user in (manager, clerk):
        client = Client()
        client.force_login(user)
        assert client.get(PAGE).status_code == 403
        assert client.post(reverse("console:segment_groups_refresh")).status_code == 403


def test_another_brands_admin_sees_their_own_empty_groups(computed, other_admin):
    client = Client()
    client.force_login(other_admin)
    html = client.get(PAGE).content.decode()
    assert "尚未計算" in html
    assert "data-members>0<" in html and "data-members>5<" not in html


def test_the_page_is_in_the_nav(console):
    html = console.get(reverse("console:dashboard")).content.decode()
    assert PAGE in html
