"""Every benchmark still runs, at a tiny size, end to end (real commands, real server, real pages).

They run against a throwaway SQLite file seeded by the seed benchmark itself, in child processes,
exactly as someone would run them by hand; the figures are not checked, only that they come out.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import seed_large
from bench._util import ROOT, child_env


@pytest.fixture(scope="module")
def seeded(tmp_path_factory) -> tuple[str, dict]:
    url = f"sqlite:///{tmp_path_factory.mktemp('bench') / 'bench.sqlite3'}"
    subprocess.run(
        [sys.executable, "-m", "config.cli", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
        timeout=600,
    )
    return url, seed_large.run("tiny", today="2026-05-01", database_url=url)


def _bench(module: str, url: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", module, "--json", *args],
        cwd=ROOT,
        env=child_env(url),
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_seed_benchmark_reports_time_memory_and_size(seeded):
    _, result = seeded
    assert result["size"] == "tiny"
    # 200 members, and the demo story's few LINE-only followers who share a member's name
    assert 200 <= result["counts"]["customers"] <= 210 and result["counts"]["orders"] > 1000
    assert result["wall_seconds"] > 0 and 20 < result["peak_rss_mib"] < 2048
    assert result["peak_processes"] >= 1 and result["cpu_seconds"] > 0 and "postgres_cpu_seconds" in result
    assert result["rows_streamed"] > result["counts"]["orders"]


def test_order_ingest_benchmark_sends_batches_to_a_real_server(seeded):
    url, _ = seeded
    done = _bench("bench.order_ingest", url, "--batches", "2", "--batch-size", "20", "--concurrency", "2")
    # The endpoint exists: "not there" (exit 3) is a regression, not a reason to skip.
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["orders_sent"] == 40
    assert result["orders_recorded"] == 40, result
    assert result["orders_per_second"] > 0 and result["batch_p99_ms"] >= result["batch_p50_ms"] > 0


def test_page_latency_benchmark_measures_shop_and_console(seeded):
    url, _ = seeded
    done = _bench("bench.page_latency", url, "--iterations", "3")
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["data"]["customers"] >= 200  # the ingest test may have added some
    for page in ("shop_product", "console_dashboard"):
        figures = result[page]
        if "unavailable" in figures and "404" in figures["unavailable"]:
            continue  # that page is not built yet
        assert figures["statuses"] == {"200": 3}, figures
        assert figures["p95_ms"] >= figures["p50_ms"] > 0 and figures["mean_queries"] > 0
