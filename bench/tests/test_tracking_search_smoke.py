"""The tracking-ingest and customer-search benchmarks still run, at a tiny size, end to end: real
commands in child processes against a throwaway SQLite file (the figures are not checked)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from bench._ceiling import PYTHON_GENERATOR
from bench._util import ROOT, child_env


@pytest.fixture(scope="module")
def database(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('bench-c360') / 'bench.sqlite3'}"
    subprocess.run(
        [sys.executable, "-m", "config.cli", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
        timeout=600,
    )
    return url


def _bench(module: str, url: str, *args: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", module, "--json", *args],
        cwd=ROOT,
        env=child_env(url),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


def test_tracking_ingest_benchmark_against_a_real_server(database):
    result = _bench(
        "bench.tracking_ingest",
        database,
        "--seconds",
        "2",
        "--concurrency",
        "1",
        "--batch-size",
        "20",
        "--visitors",
        "50",
        "--server-workers",
        "1",
        "--probe-every",
        "0.2",
        "--ceiling",
        "1",
        "--ceiling-connections",
        "2",
        # wrk where it is installed; the suite does not install it.
        "--generator",
        "wrk" if shutil.which("wrk") else "python",
    )
    assert result["events_acknowledged"] > 0 and result["http_statuses"] == {
        "200": result["http_statuses"]["200"]
    }
    assert result["events_stored"] == result["events_acknowledged"]
    assert result["probes"] >= 1 and result["probe_misses"] == 0
    assert result["ack_p99_ms"] >= result["ack_p50_ms"] > 0 and result["visible_p95_ms"] > 0

    ceiling = result["ceiling"]
    generator = "wrk" if shutil.which("wrk") else PYTHON_GENERATOR
    assert ceiling["bare"]["generator"] == ceiling["omo"]["generator"] == generator
    assert ceiling["bare"]["ok"] > 0 and ceiling["omo"]["ok"] > 0 and ceiling["share_of_bare"] > 0
    assert ceiling["omo"]["no_loss"] and ceiling["omo"]["repeats"] == 0, ceiling["omo"]
    assert ceiling["omo"]["non_2xx"] == 0
    assert ceiling["omo"]["events_stored"] >= ceiling["omo"]["ok"] * 20


def test_customer_search_benchmark(database):
    result = _bench("bench.customer_search", database, "--customers", "300", "--searches", "16")
    assert result["customers"] == 300 and result["searches"] == 16
    assert result["empty_results"] == 0  # every query names someone who exists
    assert set(result["by_kind"]) == {
        "full_name",
        "given_name",
        "phone_4",
        "phone_last6",
        "phone_typed",
        "email",
        "email_local",
        "member",
    }
