"""/healthz answers 200 only when the database, a worker and (when configured) Redis are fine."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
import redis
from django.db import OperationalError
from django.test import override_settings
from django.utils import timezone

from omo.core import views, worker

MAX_AGE = 60


@pytest.fixture
def beating_worker(db):
    now = timezone.now()
    return worker.beat("web-1:100", started_at=now - timedelta(minutes=5), now=now - timedelta(seconds=3))


def local_redis_url() -> str:
    """The Redis the suite was given, or the local one on its own database number."""
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    if not os.environ.get("REDIS_URL"):
        try:
            redis.Redis.from_url(url, socket_connect_timeout=1).ping()
        except redis.RedisError:
            pytest.skip("no REDIS_URL given and no Redis answering on 127.0.0.1:6379")
    return url


@pytest.mark.django_db
@override_settings(REDIS_URL=None)
def test_no_worker_is_503_naming_the_worker(client):
    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["failing"] == ["worker"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["worker"]["last_seen_seconds"] is None
    assert "redis" not in body["checks"]


@override_settings(REDIS_URL=None, OMO_WORKER_HEARTBEAT_MAX_AGE=MAX_AGE)
def test_fresh_heartbeat_is_200(client, beating_worker):
    response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert "failing" not in body
    assert body["checks"]["worker"]["ok"] is True
    assert 3 <= body["checks"]["worker"]["last_seen_seconds"] < MAX_AGE
    assert response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db
@override_settings(REDIS_URL=None, OMO_WORKER_HEARTBEAT_MAX_AGE=MAX_AGE)
def test_stale_heartbeat_is_503(client):
    now = timezone.now()
    worker.beat("web-1:100", started_at=now - timedelta(hours=1), now=now - timedelta(seconds=MAX_AGE + 5))

    response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["failing"] == ["worker"]
    assert body["checks"]["worker"]["ok"] is False
    assert body["checks"]["worker"]["last_seen_seconds"] >= MAX_AGE + 5


def test_the_freshest_of_several_workers_counts(client, beating_worker):
    now = timezone.now()
    worker.beat("web-2:7", started_at=now - timedelta(days=1), now=now - timedelta(hours=2))

    with override_settings(REDIS_URL=None):
        assert client.get("/healthz").status_code == 200


def test_reachable_redis_is_checked_and_ok(client, beating_worker):
    with override_settings(REDIS_URL=local_redis_url()):
        response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"]["redis"]["ok"] is True


def test_unreachable_redis_is_503_naming_redis(client, beating_worker):
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    with override_settings(REDIS_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "degraded"
    assert body["failing"] == ["redis"]
    assert body["checks"]["redis"]["ok"] is False
    assert "ConnectionError" in body["checks"]["redis"]["error"]


@override_settings(REDIS_URL=None)
def test_database_failure_is_down(client, beating_worker, monkeypatch):
    def broken_cursor(*args, **kwargs):
        raise OperationalError("connection refused")

    with monkeypatch.context() as patch:
        patch.setattr(views.connection, "cursor", broken_cursor)
        response = client.get("/healthz")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "down"
    assert body["failing"] == ["database", "worker"]
    assert "connection refused" in body["checks"]["database"]["error"]


@override_settings(REDIS_URL=None)
def test_head_is_answered_and_post_is_refused(client, beating_worker):
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
