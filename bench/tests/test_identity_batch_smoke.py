"""The identity batch benchmark still runs end to end at a tiny size (figures are not checked)."""

from __future__ import annotations

import json
import subprocess
import sys

from bench._util import ROOT, child_env


def test_identity_batch_benchmark_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'bench.sqlite3'}"
    subprocess.run(
        [sys.executable, "-m", "config.cli", "migrate", "--verbosity", "0"],
        cwd=ROOT,
        env=child_env(url),
        check=True,
        timeout=600,
    )
    done = subprocess.run(
        [sys.executable, "-m", "bench.identity_batch", "--customers", "2000", "--json"],
        cwd=ROOT,
        env=child_env(url),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout)
    # 2,000 phones, 2,000 emails, 1,000 member numbers, 2 duplicate phones (merged into their twins).
    assert result["identifiers"] == 5002 and result["identity_rows"] == 5000
    assert result["merges"] == result["duplicates"] == 2
    assert (result["rerun"]["attached"], result["rerun"]["merges"]) == (0, 0)
