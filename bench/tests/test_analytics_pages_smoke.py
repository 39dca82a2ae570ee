"""The analytics pages benchmark runs end to end at the tiny size (figures not checked)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from bench import seed_large
from bench._util import ROOT, child_env
from bench.analytics_pages import PAGES


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
    seed_large.run("tiny", today="2026-05-01", database_url=url)
    return url


def test_analytics_pages_benchmark_times_every_page_for_hq_and_a_store_manager(seeded):
    done = subprocess.run(
        [sys.executable, "-m", "bench.analytics_pages", "--json", "--iterations", "2"],
        cwd=ROOT,
        env=child_env(seeded),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["data"]["orders"] > 1000 and result["data"]["scores"] > 0
    assert set(result["pages"]) == {
        f"{viewer} {page}" for viewer in ("admin", "store_manager") for page in PAGES
    }
    assert all(figures["statuses"] == {"200": 2} for figures in result["pages"].values()), result["pages"]
