"""The attribution batch benchmark still runs end to end at a tiny size (figures are not checked)."""

from __future__ import annotations

import json
import subprocess
import sys

from bench._util import ROOT, child_env


def test_attribution_batch_benchmark_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    subprocess.run(
        [sys.executable, "-m", "config.cli", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
        timeout=600,
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.attribution_batch", "--orders", "300", "--json"],
        cwd=ROOT,
        env=child_env(url),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["orders"] == 300 and result["attributions"] == 300
    assert set(result["by_rule"]) <= {"pos_staff", "clerk_coupon", "link_click", "none"}
    assert result["by_rule"]["pos_staff"] == 30
    assert result["rerun_considered"] == 0
