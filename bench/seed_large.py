"""Time `omo seed --demo --size <size>` and its peak memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/omo_bench_large python -m bench.seed_large --size large

Runs the real command in a child process (with --reset) and reads the child's own peak RSS from
wait4(), so the figure is the seeder's, not this script's. Targets for `large` (1M customers,
10M orders): under 15 minutes and under 2 GiB peak RSS on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from typing import Any

from bench._util import ROOT, child_env, machine

TARGETS = {"large": {"seconds": 15 * 60, "peak_rss_mib": 2048}}


def run(
    size: str = "large",
    *,
    seed: int = 42,
    today: str | None = None,
    database_url: str | None = None,
    progress: bool = False,
) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "config.cli",
        "seed",
        "--demo",
        "--size",
        size,
        "--seed",
        str(seed),
        "--reset",
    ]
    if today:
        command += ["--today", today]
    if not progress:
        command.append("--no-progress")
    started = time.perf_counter()
    # stderr to a file: reading two pipes one after the other can deadlock on a chatty child.
    with tempfile.TemporaryFile("w+") as errors:
        child = subprocess.Popen(
            command,
            cwd=ROOT,
            env=child_env(database_url),
            stdout=subprocess.PIPE,
            stderr=None if progress else errors,
            text=True,
        )
        stdout = child.stdout.read() if child.stdout else ""
        # wait4 gives this child's own rusage (not the sum over all children); ru_maxrss is KiB on Linux.
        _, status, usage = os.wait4(child.pid, 0)
        child.returncode = os.waitstatus_to_exitcode(status)
        seconds = time.perf_counter() - started
        errors.seek(0)
        stderr = errors.read()
    if child.returncode != 0:
        raise RuntimeError(
            f"seed failed with exit code {child.returncode}:\n{stderr[-3000:]}{stdout[-2000:]}"
        )
    summary: dict[str, Any] = {}
    for line in stdout.splitlines():
        if line.startswith("SEED-SUMMARY "):
            summary = json.loads(line.removeprefix("SEED-SUMMARY "))
    rows = sum(
        summary.get(key, 0)
        for key in (
            "customers",
            "identities",
            "orders",
            "order_lines",
            "refunds",
            "points_entries",
            "coupon_codes",
            "coupon_redemptions",
        )
    )
    rows += summary.get("customers", 0)  # one loyalty account per customer
    result = {
        "benchmark": "seed",
        "size": size,
        "wall_seconds": round(seconds, 1),
        "seed_seconds": summary.get("seconds"),
        "peak_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "rows_streamed": rows,
        "rows_per_second": round(rows / seconds) if seconds else 0,
        "counts": summary,
        "machine": machine(),
    }
    target = TARGETS.get(size)
    if target:
        result["within_target"] = (
            seconds <= target["seconds"] and result["peak_rss_mib"] <= target["peak_rss_mib"]
        )
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", default="large", choices=["tiny", "small", "medium", "large"])
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--today", default=None, help="YYYY-MM-DD (default: today)")
    parser.add_argument("--database-url", default=None, help="default: the DATABASE_URL of this shell")
    parser.add_argument("--progress", action="store_true", help="show the seeder's progress bar")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args(argv)
    result = run(
        args.size, seed=args.seed, today=args.today, database_url=args.database_url, progress=args.progress
    )
    if args.json:
        print(json.dumps(result))
        return 0
    counts = result["counts"]
    print(
        f"seed --demo --size {args.size}: {result['wall_seconds']:.1f} s wall "
        f"({result['seed_seconds']} s inside the command), peak RSS {result['peak_rss_mib']:.0f} MiB, "
        f"{result['cpu_seconds']:.0f} s CPU"
    )
    print(
        f"  data: {counts.get('customers', 0):,} customers, {counts.get('orders', 0):,} orders, "
        f"{counts.get('order_lines', 0):,} lines, {counts.get('points_entries', 0):,} points entries, "
        f"{counts.get('identities', 0):,} identities; {result['rows_streamed']:,} rows streamed "
        f"= {result['rows_per_second']:,} rows/s"
    )
    m = result["machine"]
    print(
        f"  machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory']}, Python {m['python']}, load {m['load']:.1f}"
    )
    if "within_target" in result:
        print(f"  target (< 15 min, < 2 GiB): {'met' if result['within_target'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
