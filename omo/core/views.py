"""/healthz: is this node able to do its job? For load balancers, uptime checks and `omo demo`."""

from __future__ import annotations

import time
from typing import Any

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from omo.core import worker

REDIS_TIMEOUT_SECONDS = 2.0

_redis_clients: dict[str, Any] = {}


def _elapsed_ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def check_database() -> dict[str, Any]:
    started = time.perf_counter()
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "vendor": connection.vendor, "latency_ms": _elapsed_ms(started)}


def check_worker(database_ok: bool) -> dict[str, Any]:
    max_age = settings.OMO_WORKER_HEARTBEAT_MAX_AGE
    if not database_ok:
        return {
            "ok": False,
            "last_seen_seconds": None,
            "max_age_seconds": max_age,
            "error": "database unavailable",
        }
    try:
        seconds = worker.last_seen_seconds()
    except Exception as exc:
        return {
            "ok": False,
            "last_seen_seconds": None,
            "max_age_seconds": max_age,
            "error": type(exc).__name__,
        }
    check: dict[str, Any] = {
        "ok": seconds is not None and seconds <= max_age,
        "last_seen_seconds": None if seconds is None else round(seconds, 1),
        "max_age_seconds": max_age,
    }
    if seconds is None:
        check["error"] = "no worker has reported; start one with `omo worker`"
    elif not check["ok"]:
        check["error"] = f"no heartbeat for {round(seconds)} s"
    return check


def _redis_client(url: str) -> Any:
    client = _redis_clients.get(url)
    if client is None:
        import redis

        client = redis.Redis.from_url(
            url, socket_timeout=REDIS_TIMEOUT_SECONDS, socket_connect_timeout=REDIS_TIMEOUT_SECONDS
        )
        _redis_clients[url] = client
    return client


def check_redis(url: str) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        _redis_client(url).ping()
    except Exception as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"ok": True, "latency_ms": _elapsed_ms(started)}


def health() -> tuple[str, dict[str, dict[str, Any]], list[str]]:
    """(status, checks, names of failing checks). Status: ok, degraded (database up) or down."""
    checks: dict[str, dict[str, Any]] = {"database": check_database()}
    checks["worker"] = check_worker(checks["database"]["ok"])
    redis_url = getattr(settings, "REDIS_URL", None)
    if redis_url:
        checks["redis"] = check_redis(redis_url)
    failing = [name for name, check in checks.items() if not check["ok"]]
    if not checks["database"]["ok"]:
        status = "down"
    elif failing:
        status = "degraded"
    else:
        status = "ok"
    return status, checks, failing


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 when the database, a recent worker heartbeat and (if configured) Redis are all fine, else 503."""
    status, checks, failing = health()
    body: dict[str, Any] = {"status": status, "checks": checks}
    if failing:
        body["failing"] = failing
    return JsonResponse(body, status=200 if not failing else 503)
