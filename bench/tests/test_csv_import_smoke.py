"""The CSV import benchmark still runs end to end at a tiny size (figures are not checked)."""

from __future__ import annotations

import json
import subprocess
import sys

from bench._util import ROOT, child_env


def test_csv_import_benchmark_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    subprocess.run(
        [sys.executable, "-m", "config.cli", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
        timeout=600,
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.csv_import", "--lines", "1200", "--json"],
        cwd=ROOT,
        env=child_env(url),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["lines"] == 1200 and result["seconds"] > 0 and result["cpu_seconds"] > 0
    # one order in 500 has a bad row: its rows are reported, every other row is imported
    assert result["bad_rows"] >= 1 and result["imported_rows"] + result["error_rows"] == 1200
    assert result["orders_recorded"] == result["orders"] - result["bad_orders"]
    again = result["reimport"]
    assert again["unchanged"] and (again["imported_rows"], again["error_rows"]) == (
        result["imported_rows"],
        result["error_rows"],
    )
