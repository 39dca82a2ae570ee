"""`omo demo`: preparing the database, the logins it prints, and a real run that stops cleanly."""

from __future__ import annotations

import json
import signal
import subprocess
from io import StringIO

import pytest
from django.core.management.base import OutputWrapper

from omo.core.models import Brand, WorkerHeartbeat
from omo.core.tests.processes import (
    child_env,
    database_url_of_test_db,
    free_port,
    http_get,
    start_omo,
    stop,
    wait_for_status,
    wait_for_text,
)
from omo.devtools.management.commands import demo

# --- omo demo: preparing the database -----------------------------------------------------------


@pytest.fixture
def recorded_commands(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(demo, "call_command", lambda *args, **kwargs: calls.append(args))
    monkeypatch.setattr(demo, "get_commands", lambda: {"seed": "omo.devtools", "migrate": "django.core"})
    return calls


def quiet() -> OutputWrapper:
    return OutputWrapper(StringIO())


@pytest.mark.django_db
def test_demo_migrates_and_seeds_an_empty_database(recorded_commands):
    assert demo.prepare_database(seed=True, stdout=quiet(), stderr=quiet()) is True
    assert recorded_commands == [("migrate",), ("seed", "--demo", "--size", "small")]


@pytest.mark.django_db
def test_demo_does_not_seed_when_a_brand_exists(recorded_commands, brand):
    assert demo.prepare_database(seed=True, stdout=quiet(), stderr=quiet()) is False
    assert recorded_commands == [("migrate",)]


@pytest.mark.django_db
def test_demo_no_seed_only_migrates(recorded_commands):
    assert demo.prepare_database(seed=False, stdout=quiet(), stderr=quiet()) is False
    assert recorded_commands == [("migrate",)]


def test_demo_logins_are_printed_whatever_their_shape():
    assert demo.format_logins(None) == []
    assert demo.format_logins("admin / pass") == ["admin / pass"]
    assert demo.format_logins([("HQ admin", "admin", "pass-1234")]) == ["HQ admin  admin  pass-1234"]
    assert demo.format_logins([{"role": "clerk", "username": "amy"}]) == ["role: clerk  username: amy"]
    assert demo.format_logins({"clerk": "amy / pass"}) == ["clerk: amy / pass"]
    seeded = [{"role": "店員 Clerk", "username": "clerk", "password": "demo-1234", "url": "/clerk/"}]
    assert demo.format_logins(seeded, "http://127.0.0.1:8000") == [
        "店員 Clerk: clerk / demo-1234  ->  http://127.0.0.1:8000/clerk/"
    ]


# --- a real run -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_omo_demo_runs_server_and_worker_and_stops_both_on_ctrl_c(tmp_path):
    port = free_port()
    log = tmp_path / "demo.log"
    # The test database is migrated already, so the demo's migrate is quick; --no-seed keeps it empty.
    env = child_env(
        DATABASE_URL=database_url_of_test_db(), OMO_VAR_DIR=str(tmp_path), REDIS_URL=None, OMO_BASE_URL=None
    )
    with log.open("w") as output:
        process = start_omo(
            "demo", "--no-seed", "--port", str(port), env=env, stdout=output, stderr=subprocess.STDOUT
        )
    try:
        printed = wait_for_text(log, "Press Ctrl-C to stop.", process, timeout=180)
        for path in ("/console/", "/shop/", "/admin/", "/api/v1/docs", "/healthz"):
            assert f"http://127.0.0.1:{port}{path}" in printed

        # the worker's heartbeat makes the node healthy
        body = json.loads(wait_for_status(f"http://127.0.0.1:{port}/healthz", 200, process))
        assert body["status"] == "ok"
        assert WorkerHeartbeat.objects.count() == 1
        assert http_get(f"http://127.0.0.1:{port}/admin/login/")[0] == 200
    finally:
        exit_code = stop(process, signal.SIGINT)

    output = log.read_text()
    assert exit_code == 0, output
    assert "omo stopped." in output
    with pytest.raises(OSError):
        http_get(f"http://127.0.0.1:{port}/healthz", timeout=2)
    assert not WorkerHeartbeat.objects.exists()  # the worker stopped cleanly too
    assert not Brand.objects.exists()
