"""The segments benchmark runs end to end on a few hundred customers, and omo and DuckDB agree."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest

from bench import seed_large
from bench._util import ROOT, child_env


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('bench') / 'bench.sqlite3'}"
    subprocess.run(
        [sys.executable, "-m", "config.cli", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
        timeout=600,
    )
    seed_large.run("tiny", today="2026-05-01", database_url=url, customers=300)
    return url


def _run(url: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-m", "bench.segments", "--json", "--repeat", "1", "--batch-size", "40"],
        cwd=ROOT,
        env=child_env(url),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:] + done.stdout[-3000:]
    return json.loads(done.stdout)


def test_segments_benchmark_agrees_with_duckdb_and_times_the_incremental_refresh(seeded):
    result = _run(seeded)
    assert {"segment", "rfm", "pareto", "incremental", "export", "data", "machine"} <= set(result)
    assert result["agree"] is True
    for figures in (
        result["segment"]["count"],
        result["segment"]["refresh"],
        result["rfm"],
        result["pareto"],
    ):
        assert {"omo_seconds", "duckdb_seconds", "ratio", "within_3x", "agree"} <= set(figures)
        assert figures["agree"] is True
    assert result["segment"]["members"] == result["segment"]["duckdb_members"]
    assert result["rfm"]["omo"] == result["rfm"]["duckdb"]
    assert sum(result["rfm"]["omo"]["r"].values()) == result["data"]["customers"]
    assert result["pareto"]["customers"] == result["pareto"]["duckdb_customers"] > 0
    assert result["added"]["events"] > 0 and result["added"]["consents"] > 0
    assert result["incremental"]["orders"] == 40
    assert result["incremental"]["stale_segments"] >= 1


def test_a_second_run_replaces_the_rows_it_added(seeded):
    _run(seeded)
    second = _run(seeded)
    assert second["agree"] is True
    with sqlite3.connect(seeded.removeprefix("sqlite:///")) as db:
        (consents,) = db.execute(
            "SELECT count(*) FROM customers_consent WHERE source = 'bench.segments'"
        ).fetchone()
        (events,) = db.execute(
            "SELECT count(*) FROM tracking_trackedevent WHERE message_id LIKE 'bench-seg-%'"
        ).fetchone()
    assert consents == second["added"]["consents"]
    assert events == second["added"]["events"]
