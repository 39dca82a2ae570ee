"""Time `omo seed --demo --size <size>` and its peak memory.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/omo_bench_large python -m bench.seed_large --size large

Runs the real command in a child process (with --reset). CPU comes from wait4(), which counts the
child and the worker processes it waited for; peak memory is the largest sum of the resident sets
of the child and all its descendants, sampled from /proc every 0.2 s (shared pages are counted
once per process, so the sum errs high). PostgreSQL's own CPU over the run (all server processes,
so another session's work counts too) is sampled the same way. Targets for `large` (1M customers,
10M orders): under 15 minutes and under 2 GiB peak memory on a 2-core machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from bench._util import ROOT, child_env, machine

TARGETS = {"large": {"seconds": 15 * 60, "peak_rss_mib": 2048}}
_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")


def _processes() -> dict[int, tuple[int, str, float, int]]:
    """pid -> (parent pid, command name, CPU seconds, resident bytes) for every readable process."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            raw = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after the last ')'.
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        out[int(entry.name)] = (
            int(fields[1]),
            name,
            (int(fields[11]) + int(fields[12])) / _TICKS,
            int(fields[21]) * _PAGE,
        )
    return out


class _Sampler:
    """Peak summed RSS of a process tree, and the CPU that PostgreSQL's processes use meanwhile."""

    def __init__(self, root: int, interval: float = 0.2):
        self.root = root
        self.interval = interval
        self.peak_rss = 0
        self.peak_processes = 0
        self.postgres_start = {
            pid: cpu for pid, (_, name, cpu, _) in _processes().items() if name.startswith("postgres")
        }
        self.postgres_last: dict[int, float] = dict(self.postgres_start)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            table = _processes()
            tree, frontier = set(), {self.root}
            while frontier:
                tree |= frontier
                frontier = {pid for pid, row in table.items() if row[0] in frontier and pid not in tree}
            rss = sum(table[pid][3] for pid in tree if pid in table)
            if rss > self.peak_rss:
                self.peak_rss, self.peak_processes = rss, len(tree & table.keys())
            for pid, (_, name, cpu, _) in table.items():
                if name.startswith("postgres"):
                    self.postgres_last[pid] = cpu
            self.stop.wait(self.interval)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()

    @property
    def postgres_cpu(self) -> float:
        return sum(cpu - self.postgres_start.get(pid, 0.0) for pid, cpu in self.postgres_last.items())


def run(
    size: str = "large",
    *,
    seed: int = 42,
    today: str | None = None,
    database_url: str | None = None,
    progress: bool = False,
    workers: int | None = None,
    customers: int | None = None,
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
    if workers is not None:
        command += ["--workers", str(workers)]
    if customers is not None:
        command += ["--customers", str(customers)]
    load_at_start = round(os.getloadavg()[0], 2)
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
        sampler = _Sampler(child.pid)
        stdout = child.stdout.read() if child.stdout else ""
        # wait4 gives the child's rusage including the workers it waited for (ru_maxrss is the
        # largest single process, in KiB; the sampler has the sum).
        _, status, usage = os.wait4(child.pid, 0)
        sampler.close()
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
        "peak_rss_mib": round(max(sampler.peak_rss / 2**20, usage.ru_maxrss / 1024), 1),
        "peak_processes": sampler.peak_processes,
        "largest_process_rss_mib": round(usage.ru_maxrss / 1024, 1),
        "cpu_seconds": round(usage.ru_utime + usage.ru_stime, 1),
        "postgres_cpu_seconds": round(sampler.postgres_cpu, 1),
        "load_at_start": load_at_start,
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
    parser.add_argument(
        "--workers", type=int, default=None, help="seeding processes (default: the command's)"
    )
    parser.add_argument(
        "--customers", type=int, default=None, help="scale the size to this many customers (e.g. 200000)"
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args(argv)
    result = run(
        args.size,
        seed=args.seed,
        today=args.today,
        database_url=args.database_url,
        progress=args.progress,
        workers=args.workers,
        customers=args.customers,
    )
    if args.json:
        print(json.dumps(result))
        return 0
    counts = result["counts"]
    print(
        f"seed --demo --size {args.size}: {result['wall_seconds']:.1f} s wall "
        f"({result['seed_seconds']} s inside the command), peak RSS {result['peak_rss_mib']:.0f} MiB "
        f"summed over {result['peak_processes']} processes, {result['cpu_seconds']:.0f} s CPU "
        f"(+ {result['postgres_cpu_seconds']:.0f} s in PostgreSQL), {counts.get('workers', 1)} worker(s)"
    )
    print(
        f"  data: {counts.get('customers', 0):,} customers, {counts.get('orders', 0):,} orders, "
        f"{counts.get('order_lines', 0):,} lines, {counts.get('points_entries', 0):,} points entries, "
        f"{counts.get('identities', 0):,} identities; {result['rows_streamed']:,} rows streamed "
        f"= {result['rows_per_second']:,} rows/s"
    )
    m = result["machine"]
    print(
        f"  machine: {m['cpus']} CPUs ({m['cpu']}), {m['memory']}, Python {m['python']}, "
        f"load {result['load_at_start']:.1f} at start, {m['load']:.1f} at end"
    )
    if "within_target" in result:
        print(f"  target (< 15 min, < 2 GiB): {'met' if result['within_target'] else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
