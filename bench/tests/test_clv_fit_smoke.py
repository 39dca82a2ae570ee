"""The CLV benchmark still runs end to end at a tiny size, through the database too (figures are not
checked)."""

from __future__ import annotations

import json
import subprocess
import sys

from bench._util import ROOT, child_env


def test_clv_fit_benchmark_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    subprocess.run(
        [sys.executable, "-m", "config.cli", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
        timeout=600,
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.clv_fit", "--customers", "600", "--db", "--json"],
        cwd=ROOT,
        env=child_env(url),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["customers"] == 600 and result["orders"] > 600
    assert set(result["models"]["bgnbd"]) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert result["db"]["orders_written"] == result["orders"]
    assert result["db"]["enough_history"] is True
    assert result["db"]["scored"] == result["db"]["predictions"] == 600
