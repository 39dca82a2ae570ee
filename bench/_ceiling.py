"""Saturation ("ceiling") runs shared by the ingest benchmarks: wrk, or a Python fallback.

A load generator written in Python (asyncio + aiohttp) saturates before a bare ASGI app does: on
the 2-core bench machine it topped out at 4,200-11,000 requests/s where wrk (C, Debian package
`wrk`) drove the same bare app to 32,500-36,600. So the ceilings, the bare app's and omo's alike,
are measured with wrk; the Python client stays as a fallback for machines without wrk (the tiny
runs in the test suite) and says so in its figures.

Requests are generated beforehand (every body new: fresh event or message ids, signed when the
endpoint wants it) and written to a file, one record each:

    <body length> <header count>\\n
    Name: value\\n            (header count lines)
    <body>

`WRK_SCRIPT` reads that file in each wrk thread (thread i keeps records i, i + threads, …) and
sends them in turn; a thread that runs out starts over and counts the repeats, which `done()`
prints with the number of requests written, so the caller can tell how many were still in flight
when wrk stopped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

from bench._util import ROOT, child_env, percentile, run_load_process

PYTHON_GENERATOR = "python (asyncio + aiohttp)"

WRK_SCRIPT = r"""
-- Pre-generated requests from a file (args: path, thread count), each sent once in turn.
local threads = {}

function setup(thread)
  thread:set("id", #threads)
  table.insert(threads, thread)
end

function init(args)
  local path, count = args[1], tonumber(args[2])
  local file = assert(io.open(path, "rb"))
  prepared = {}
  local index = 0
  while true do
    local line = file:read("*l")
    if not line then break end
    local size, header_count = line:match("^(%d+) (%d+)$")
    size, header_count = tonumber(size), tonumber(header_count)
    if index % count == id then
      local headers = {}
      for _ = 1, header_count do
        local name, value = file:read("*l"):match("^([^:]+): (.*)$")
        headers[name] = value
      end
      prepared[#prepared + 1] = wrk.format("POST", nil, headers, file:read(size))
    else
      for _ = 1, header_count do file:read("*l") end
      file:seek("cur", size)
    end
    index = index + 1
  end
  file:close()
  loaded = #prepared
  sent = 0
end

function request()
  sent = sent + 1
  return prepared[(sent - 1) % loaded + 1]
end

function done(summary, latency, requests)
  local sent_total, loaded_total, repeats = 0, 0, 0
  for _, thread in ipairs(threads) do
    local thread_sent, thread_loaded = thread:get("sent"), thread:get("loaded")
    sent_total = sent_total + thread_sent
    loaded_total = loaded_total + thread_loaded
    if thread_sent > thread_loaded then repeats = repeats + thread_sent - thread_loaded end
  end
  io.write(string.format(
    'wrk-script {"sent": %d, "loaded": %d, "repeats": %d, "requests": %d, "duration_us": %d, ' ..
    '"non_2xx": %d, "p50_us": %d, "p99_us": %d, "max_us": %d}\n',
    sent_total, loaded_total, repeats, summary.requests, summary.duration, summary.errors.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


# --- the bare app ------------------------------------------------------------------------------------------


async def bare_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Reads the body and answers 200: what an ASGI app costs on this machine before any work."""
    if scope["type"] != "http":
        return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json"), (b"content-length", b"2")],
        }
    )
    await send({"type": "http.response.body", "body": b"{}"})


def start_uvicorn(app: str, port: int, database_url: str | None, log: IO[str]) -> subprocess.Popen:
    """`app` on uvicorn as `omo serve` runs it (uvloop, httptools, one worker, no lifespan)."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--lifespan",
        "off",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    env = child_env(database_url)
    env.setdefault("OMO_LOG_LEVEL", "WARNING")
    # The log goes to a file: an unread pipe would fill up and stall the server.
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log, text=True)


# --- requests file -----------------------------------------------------------------------------------------


def write_requests(path: Path, requests: Iterable[tuple[bytes, Mapping[str, str]]]) -> int:
    """Write requests (body, headers) in the format `WRK_SCRIPT` reads; returns how many."""
    count = 0
    with path.open("wb") as out:
        for body, headers in requests:
            out.write(f"{len(body)} {len(headers)}\n".encode())
            for name, value in headers.items():
                if "\n" in name or "\n" in value or ":" in name:
                    raise ValueError(f"header {name!r} cannot be written to a requests file")
                out.write(f"{name}: {value}\n".encode())
            out.write(body)
            count += 1
    return count


def read_requests(path: Path) -> list[tuple[bytes, dict[str, str]]]:
    requests = []
    with path.open("rb") as source:
        while line := source.readline():
            size, header_count = (int(n) for n in line.split())
            headers = {}
            for _ in range(header_count):
                name, _, value = source.readline().decode().rstrip("\n").partition(": ")
                headers[name] = value
            requests.append((source.read(size), headers))
    return requests


# --- choosing the generator --------------------------------------------------------------------------------


def find_wrk(*, install: bool) -> str | None:
    """wrk's path; with `install`, install the Debian package first when it is missing."""
    found = shutil.which("wrk")
    if found or not install:
        return found
    print(
        "wrk (the C load generator the ceilings are measured with) is not installed: "
        "installing the Debian package with apt-get …",
        file=sys.stderr,
    )
    subprocess.run(["bash", "-c", "source scripts/lib.sh && apt_install wrk"], cwd=ROOT, check=False)
    found = shutil.which("wrk")
    if not found:
        print("wrk could not be installed.", file=sys.stderr)
    return found


def choose_generator(*, install: bool, log: Any = print) -> str:
    """ "wrk" when it is there (or could be installed), else the Python client, saying what that means."""
    if find_wrk(install=install):
        return "wrk"
    log(
        "wrk is not installed: the saturation runs use the Python load generator, which saturates "
        "before the bare app does (its ceilings understate the bare app, so the share overstates omo)."
    )
    return "python"


def generator_name(generator: str) -> str:
    """How reports name a generator ("wrk" or "python")."""
    return PYTHON_GENERATOR if generator == "python" else generator


# --- running a saturation ----------------------------------------------------------------------------------


def saturate(
    url: str, requests_file: Path, *, seconds: float, connections: int, generator: str
) -> dict[str, Any]:
    """Closed-loop load on `url` from the requests file: figures as `figures()` gives them."""
    if generator == "wrk":
        return run_wrk(url, requests_file, seconds=seconds, connections=connections)
    command = [
        sys.executable,
        "-m",
        "bench._ceiling",
        "--url",
        url,
        "--requests-file",
        str(requests_file),
        "--seconds",
        str(seconds),
        "--connections",
        str(connections),
    ]
    return run_load_process(command, seconds=seconds)


def run_wrk(url: str, requests_file: Path, *, seconds: float, connections: int) -> dict[str, Any]:
    wrk = find_wrk(install=False)
    if not wrk:
        raise RuntimeError("wrk is not installed")
    threads = max(1, min(2, connections))
    connections = max(connections, threads)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT)
    try:
        done = subprocess.run(
            [
                wrk,
                "--threads",
                str(threads),
                "--connections",
                str(connections),
                "--duration",
                f"{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "--latency",
                "--script",
                script.name,
                url,
                "--",
                str(requests_file),
                str(threads),
            ],
            capture_output=True,
            text=True,
            timeout=seconds * 4 + 120,
        )
    finally:
        Path(script.name).unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}")
    result = parse_wrk(done.stdout)
    result["connections"] = connections
    result["threads"] = threads
    return result


_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


def _seconds(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def parse_wrk(output: str) -> dict[str, Any]:
    """wrk's report (run with --latency and `WRK_SCRIPT`) as figures in the benches' shape."""
    total = re.search(rf"^\s*(\d+) requests in {_TIME}", output, re.MULTILINE)
    rate = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if not total or not rate:
        raise ValueError(f"not a wrk report:\n{output[-2000:]}")
    requests = int(total.group(1))
    elapsed = _seconds(total.group(2), total.group(3))
    distribution = {
        int(q): _seconds(value, unit)
        for q, value, unit in re.findall(rf"^\s+(50|75|90|99)%\s+{_TIME}\s*$", output, re.MULTILINE)
    }
    latency = re.search(rf"^\s+Latency\s+{_TIME}\s+{_TIME}\s+{_TIME}", output, re.MULTILINE)
    non_2xx = re.search(r"^\s*Non-2xx or 3xx responses:\s+(\d+)", output, re.MULTILINE)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output, re.MULTILINE
    )
    script = re.search(r"^wrk-script (\{.*\})$", output, re.MULTILINE)
    counts = json.loads(script.group(1)) if script else {}
    refused = int(non_2xx.group(1)) if non_2xx else 0
    ok = requests - refused
    statuses = {"2xx": ok}
    if refused:
        statuses["non-2xx"] = refused
    return {
        "generator": "wrk",
        "offered_rps": None,
        "requests": requests,
        "ok": ok,
        "statuses": statuses,
        "non_2xx": refused,
        "errors": sum(int(n) for n in socket.groups()) if socket else 0,
        "socket_errors": dict(
            zip(("connect", "read", "write", "timeout"), map(int, socket.groups()), strict=True)
        )
        if socket
        else {},
        "seconds": round(elapsed, 2),
        "wrk_rps": float(rate.group(1)),
        "achieved_rps": round(ok / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(distribution.get(50, 0.0) * 1000, 2),
        "p75_ms": round(distribution.get(75, 0.0) * 1000, 2),
        "p90_ms": round(distribution.get(90, 0.0) * 1000, 2),
        "p99_ms": round(distribution.get(99, 0.0) * 1000, 2),
        "max_ms": round(_seconds(latency.group(5), latency.group(6)) * 1000, 2) if latency else 0.0,
        "sent": counts.get("sent", requests),
        "repeats": counts.get("repeats", 0),
        "loaded": counts.get("loaded"),
    }


def figures(
    latencies: list[float], statuses: dict[int, int], errors: int, elapsed: float, offered: float | None
) -> dict[str, Any]:
    """The Python generator's figures (latencies in seconds, counts per HTTP status)."""
    ok = sum(n for status, n in statuses.items() if 200 <= status < 300)
    return {
        "generator": PYTHON_GENERATOR,
        "offered_rps": offered,
        "requests": len(latencies) + errors,
        "ok": ok,
        "statuses": statuses,
        "non_2xx": sum(statuses.values()) - ok,
        "errors": errors,
        "seconds": round(elapsed, 2),
        "achieved_rps": round(ok / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(percentile(latencies, 50) * 1000, 2),
        "p99_ms": round(percentile(latencies, 99) * 1000, 2),
        "max_ms": round(max(latencies, default=0) * 1000, 2),
    }


# --- checking what was stored ------------------------------------------------------------------------


def settled_count(count: Callable[[], int], *, quiet: float = 0.3, timeout: float = 10.0) -> int:
    """`count()` once it stops changing: requests still in flight when the load stopped may commit."""
    last = count()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(quiet)
        now = count()
        if now == last:
            return now
        last = now
    return last


def check_stored(figures: dict[str, Any], stored: int, per_request: int) -> None:
    """Add what the database holds to a phase's figures: every event of every 2xx must be there.

    wrk stops with up to one request per connection unanswered; omo may still store those, so up
    to `sent` requests' events may be there. A body sent twice (the run outran the pre-generated
    bodies) is a duplicate omo rightly skips, which would read as a loss: it is flagged instead.
    """
    figures["events_stored"] = stored
    figures["events_expected"] = figures["ok"] * per_request
    figures["events_in_flight"] = max(0, stored - figures["events_expected"])
    sent = figures.get("sent", figures["requests"])
    figures["no_loss"] = figures["events_expected"] <= stored <= sent * per_request and not figures.get(
        "repeats"
    )


# --- the Python fallback (runs in its own process) ---------------------------------------------------------


async def closed_loop(
    url: str, requests: list[tuple[bytes, dict[str, str]]], seconds: float, connections: int
) -> dict[str, Any]:
    """`connections` clients each sending the next request as soon as the last is answered."""
    import aiohttp

    latencies: list[float] = []
    statuses: dict[int, int] = {}
    errors = 0
    sent = 0
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
        loop = asyncio.get_running_loop()
        start = loop.time()
        stop_at = start + seconds

        async def client() -> None:
            nonlocal errors, sent
            while loop.time() < stop_at:
                body, headers = requests[sent % len(requests)]
                sent += 1
                started = loop.time()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        status = response.status
                except (aiohttp.ClientError, TimeoutError):
                    errors += 1
                    continue
                latencies.append(loop.time() - started)
                statuses[status] = statuses.get(status, 0) + 1

        await asyncio.gather(*[client() for _ in range(connections)])
        elapsed = loop.time() - start
    result = figures(latencies, statuses, errors, elapsed, offered=None)
    result.update(sent=sent, repeats=max(0, sent - len(requests)), loaded=len(requests))
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="closed-loop load from a requests file (Python fallback)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--requests-file", type=Path, required=True)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args(argv)
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    requests = read_requests(args.requests_file)
    result = asyncio.run(closed_loop(args.url, requests, args.seconds, args.connections))
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
