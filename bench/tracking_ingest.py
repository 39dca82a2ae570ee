"""Tracking ingest through `POST /v1/batch` against a live `omo serve` + `omo worker`, over real HTTP.

    DATABASE_URL=postgres://… python -m bench.tracking_ingest --seconds 30 --concurrency 8 --task-workers 1

Creates a brand of its own with a write key and `--visitors` anonymous visitors, a fifth of them
already linked to customers (as the shop does at checkout). Client threads send Segment batches
(`--batch-size` page and Product Viewed events, unique messageIds) as fast as the server
acknowledges them for `--seconds`. Reports:

- events/s acknowledged by the edge (answered after the call is committed as an intake row) and
  events/s stored as events by the worker(s), each per half of the run; the backlog (events
  acknowledged but not yet stored) at the middle and at the end — a backlog that grows from the
  middle to the end means the worker does not keep up — and how long the worker takes to drain it;
- p50/p99 time to acknowledge a batch;
- event → visible on the customer's timeline: a probe sends one event of a linked visitor every
  `--probe-every` seconds during the load and polls the customer's timeline (the query the console
  page runs) until it is there.

That load comes from Python client threads, on a fixed schedule with `--rate` (open loop: the
rates the targets name do not saturate them) or as fast as answered without. Then, with the worker
stopped, the edge's ceiling (`--ceiling` seconds, `--ceiling-connections`): closed-loop load from
wrk (bench/_ceiling.py) on `omo serve` and on a bare ASGI app that reads the body and answers 200,
both on uvicorn with the same options; the share omo / bare is the edge's cost. Python threads
saturated before the bare app did, so wrk measures the ceilings (installed with apt-get when
missing; `--generator python` or a machine without it falls back to Python and says so). The
ceiling's batches are generated beforehand with fresh messageIds; after omo's run every event of
every 2xx must be in a stored call. Those calls are then deleted: they measured the edge, and the
worker is not there to turn them into events.
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench._ceiling import (
    check_stored,
    choose_generator,
    generator_name,
    saturate,
    settled_count,
    start_uvicorn,
    write_requests,
)
from bench._util import database_label, free_port, machine, percentile, setup_django, stop_process
from bench.order_ingest import _start_server, _wait_ready

PYTHON_THREADS = "python (http.client threads)"


def _prepare(visitors: int, linked_share: float = 0.2) -> dict[str, Any]:
    from omo.core.models import Brand
    from omo.customers.models import Customer, CustomerIdentity
    from omo.tracking import services

    tag = uuid.uuid4().hex[:8]
    brand = Brand.objects.create(name=f"bench tracking {tag}", slug=f"bench-tracking-{tag}")
    source, key = services.create_source(brand, name="bench", actor=None)
    linked = max(1, int(visitors * linked_share))
    customers = Customer.objects.bulk_create(
        [Customer(brand=brand, name=f"訪客 {n}") for n in range(linked)], batch_size=2000
    )
    ids = [f"{tag}-v{n}" for n in range(visitors)]
    CustomerIdentity.objects.bulk_create(
        [
            CustomerIdentity(brand=brand, customer=customer, kind="anonymous", value=ids[n], source="bench")
            for n, customer in enumerate(customers)
        ],
        batch_size=2000,
    )
    # The probe's own people: linked visitors the load never sends for, so a probe event is the
    # newest on its customer's timeline however busy the load is.
    probe_customers = Customer.objects.bulk_create(
        [Customer(brand=brand, name=f"探針 {n}") for n in range(20)]
    )
    probe_ids = [f"{tag}-probe{n}" for n in range(20)]
    CustomerIdentity.objects.bulk_create(
        [
            CustomerIdentity(
                brand=brand, customer=customer, kind="anonymous", value=probe_ids[n], source="bench"
            )
            for n, customer in enumerate(probe_customers)
        ]
    )
    return {
        "brand": brand,
        "source": source,
        "key": key,
        "visitors": ids,
        "customers": customers,
        "probe_customers": probe_customers,
        "probe_visitors": probe_ids,
    }


def _start_worker(database_url: str | None, log: Any) -> Any:
    import subprocess

    from bench._util import ROOT, child_env

    command = [sys.executable, "-m", "config.cli", "worker", "--no-startup-delay"]
    return subprocess.Popen(command, cwd=ROOT, env=child_env(database_url), stdout=log, stderr=log, text=True)


def _template(visitors: list[str], batch_size: int, offset: int) -> str:
    """One batch as JSON text with a __P__ placeholder in every messageId (unique per request)."""
    batch = []
    for n in range(batch_size):
        visitor = visitors[(offset + n * 7919) % len(visitors)]
        if n % 2:
            batch.append(
                {
                    "type": "track",
                    "event": "Product Viewed",
                    "anonymousId": visitor,
                    "messageId": f"__P__-{n}",
                    "timestamp": "2026-11-23T08:00:00.000Z",
                    "properties": {
                        "product_id": str(1000 + n % 300),
                        "sku": f"SKU-{n % 300}",
                        "price": 890,
                        "currency": "TWD",
                        "name": "有機棉T恤",
                    },
                    "context": {
                        "page": {"path": "/shop/demo/p/tee/", "title": "有機棉T恤"},
                        "userAgent": "bench",
                    },
                }
            )
        else:
            batch.append(
                {
                    "type": "page",
                    "name": "商品",
                    "anonymousId": visitor,
                    "messageId": f"__P__-{n}",
                    "timestamp": "2026-11-23T08:00:00.000Z",
                    "properties": {"path": "/shop/demo/", "title": "森日"},
                }
            )
    return json.dumps({"batch": batch, "sentAt": "2026-11-23T08:00:00.100Z"}, ensure_ascii=False)


def _intake_events(source_id: int, after_id: int) -> int:
    """Events in the calls the edge stored for the source since `after_id` (all /v1/batch calls),
    less the messages it refused."""
    from django.db import connection

    from omo.tracking.models import TrackingIntake

    calls = TrackingIntake.objects.filter(source_id=source_id, id__gt=after_id)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT COALESCE(SUM(json_array_length(convert_from(body, 'UTF8')::json -> 'batch') "
                f"- jsonb_array_length(rejected)), 0) FROM {TrackingIntake._meta.db_table} "  # noqa: S608 - the model's table
                "WHERE source_id = %s AND id > %s",
                [source_id, after_id],
            )
            return int(cursor.fetchone()[0])
    return sum(
        len(json.loads(bytes(body))["batch"]) - len(rejected)
        for body, rejected in calls.values_list("body", "rejected")
    )


def _last_intake(source_id: int) -> int:
    from omo.tracking.models import TrackingIntake

    return (
        TrackingIntake.objects.filter(source_id=source_id)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
        or 0
    )


def ceiling(
    *,
    port: int,
    world: dict[str, Any],
    headers: dict[str, str],
    batch_size: int,
    seconds: float,
    connections: int,
    generator: str,
    bodies_rate: float,
    database_url: str | None,
    server_log: Any,
    say: Any,
) -> dict[str, Any]:
    """Closed-loop /v1/batch on the bare app, then on omo's edge (no worker running): the ceilings."""
    from omo.tracking.models import TrackingIntake

    source_id = world["source"].pk
    tag = uuid.uuid4().hex[:8]
    templates = [_template(world["visitors"], batch_size, offset).encode() for offset in range(8)]
    # The Python generator stays far below wrk's rates: fewer batches do.
    rate_cap = bodies_rate if generator == "wrk" else min(bodies_rate, 10_000)
    count = int(seconds * rate_cap / batch_size) + connections
    workdir = tempfile.TemporaryDirectory(prefix="bench-tracking-")
    requests_file = Path(workdir.name) / "requests"
    body_bytes = 0

    def batches() -> Iterator[tuple[bytes, dict[str, str]]]:
        nonlocal body_bytes
        for n in range(count):
            body = templates[n % len(templates)].replace(b"__P__", f"w{n}-{tag}".encode())
            body_bytes += len(body)
            yield body, headers

    write_requests(requests_file, batches())
    bare_port = free_port()
    bare = start_uvicorn("bench._ceiling:bare_app", bare_port, database_url, server_log)
    result: dict[str, Any] = {
        "generator": generator_name(generator),
        "connections": connections,
        "seconds": seconds,
        "batches_generated": count,
        "body_bytes": round(body_bytes / count),
    }
    try:
        _wait_ready(f"http://127.0.0.1:{bare_port}", bare)
        first_intake = _last_intake(source_id)
        for name, server_port in (("bare", bare_port), ("omo", port)):
            before = _last_intake(source_id)
            figures = saturate(
                f"http://127.0.0.1:{server_port}/v1/batch",
                requests_file,
                seconds=seconds,
                connections=connections,
                generator=generator,
            )
            if name == "omo":
                check_stored(
                    figures,
                    settled_count(lambda after=before: _intake_events(source_id, after)),
                    batch_size,
                )
            figures["server"] = name
            figures["events_per_second"] = round(figures["achieved_rps"] * batch_size, 1)
            result[name] = figures
            say(_ceiling_line(figures))
    finally:
        stop_process(bare)
        workdir.cleanup()
    TrackingIntake.objects.filter(source_id=source_id, id__gt=first_intake).delete()
    if result["bare"]["achieved_rps"]:
        result["share_of_bare"] = round(result["omo"]["achieved_rps"] / result["bare"]["achieved_rps"], 3)
    return result


def _ceiling_line(f: dict[str, Any]) -> str:
    stored = ""
    if "no_loss" in f:
        stored = (
            " every event of every 2xx stored"
            if f["no_loss"]
            else f" LOSS: {f['events_stored']}/{f['events_expected']} events stored"
        )
    if f.get("repeats") and f["server"] != "bare":  # the bare app keeps nothing: repeats cost it nothing
        stored += f"; {f['repeats']} batches sent twice (raise --bodies-rate)"
    return (
        f"  ceiling {f['server']:>4} [{f['generator']}, {f.get('connections', '?')} connections]: "
        f"{f['achieved_rps']:,.1f} batches/s answered 2xx = {f['events_per_second']:,.0f} events/s, "
        f"p50 {f['p50_ms']} ms, p99 {f['p99_ms']} ms, non-2xx {f.get('non_2xx', 0)}, "
        f"socket errors {f['errors']}{stored}"
    )


def run(
    *,
    seconds: float = 20.0,
    batch_size: int = 100,
    concurrency: int = 8,
    visitors: int = 10_000,
    server_workers: int = 1,
    task_workers: int = 1,
    rate: float = 0.0,
    probe_every: float = 0.5,
    database_url: str | None = None,
    ceiling_seconds: float = 0.0,
    ceiling_connections: int = 16,
    generator: str | None = None,
    bodies_rate: float = 120_000,
    say: Any = print,
) -> dict[str, Any]:
    """`ceiling_seconds` > 0 adds the ceiling runs; `generator` ("wrk" or "python") is theirs, None
    for wrk when it is installed; `bodies_rate`: events/s their pre-generated batches cover."""
    from omo.tracking import timeline
    from omo.tracking.models import TrackedEvent

    world = _prepare(visitors)
    brand, key = world["brand"], world["key"]
    auth = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    headers = {"Authorization": auth, "Content-Type": "application/json"}
    templates = [_template(world["visitors"], batch_size, offset).encode() for offset in range(8)]
    port = free_port()
    log = tempfile.TemporaryFile("w+")
    server = _start_server(port, database_url, log, workers=server_workers)
    workers = [_start_worker(database_url, log) for _ in range(task_workers)]
    stop = threading.Event()
    acks: list[tuple[float, float, int, int]] = []  # (finished at, seconds, status, events)
    lock = threading.Lock()
    visible: list[float] = []
    misses = 0

    # Offered load: with a rate, each thread sends on a fixed schedule (rate / threads); without,
    # as fast as the server answers (the edge's ceiling, whatever the workers manage behind it).
    interval = concurrency * batch_size / rate if rate else 0.0

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n = 0
        due = time.perf_counter() + (interval * index / concurrency if interval else 0.0)
        while not stop.is_set():
            if interval:
                pause = due - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
                due += interval
            body = templates[(index + n) % len(templates)].replace(
                b"__P__", f"c{index}-{n}-{uuid.uuid4().hex[:8]}".encode()
            )
            n += 1
            started = time.perf_counter()
            try:
                conn.request("POST", "/v1/batch", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            finished = time.perf_counter()
            with lock:
                acks.append((finished, finished - started, response.status, batch_size))
        conn.close()

    def stored_now() -> int:
        return (
            TrackedEvent.objects.filter(brand=brand, source__isnull=False)
            .exclude(message_id__startswith="probe-")
            .count()
        )

    def backlog_now() -> tuple[int, int]:
        with lock:
            acked_so_far = sum(a[3] for a in acks if a[2] == 200)
        return acked_so_far, stored_now()

    def probe() -> None:
        nonlocal misses
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        n = 0
        while not stop.is_set():
            customer = world["probe_customers"][n % len(world["probe_customers"])]
            visitor = world["probe_visitors"][n % len(world["probe_customers"])]
            message_id = f"probe-{n}-{uuid.uuid4().hex[:8]}"
            body = json.dumps(
                {
                    "batch": [
                        {
                            "type": "track",
                            "event": "Product Added",
                            "anonymousId": visitor,
                            "messageId": message_id,
                            "properties": {"sku": "PROBE", "quantity": 1},
                        }
                    ]
                }
            ).encode()
            n += 1
            sent = time.perf_counter()
            try:
                conn.request("POST", "/v1/batch", body=body, headers=headers)
                conn.getresponse().read()
            except (http.client.HTTPException, OSError):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                continue
            while True:
                page = timeline.timeline_page(customer, timeline.Filters(group="shop"), limit=5)
                if (
                    any(e.event == "Product Added" for e in page.entries)
                    and TrackedEvent.objects.filter(
                        brand=brand, message_id=message_id, customer=customer
                    ).exists()
                ):
                    visible.append(time.perf_counter() - sent)
                    break
                if time.perf_counter() - sent > 30:
                    misses += 1
                    break
                time.sleep(0.02)
            time.sleep(probe_every)
        conn.close()

    try:
        _wait_ready(f"http://127.0.0.1:{port}", server)
        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(concurrency)]
        prober = threading.Thread(target=probe, daemon=True)
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        prober.start()
        time.sleep(seconds / 2)
        middle = backlog_now()
        time.sleep(seconds / 2)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        wall = time.perf_counter() - started
        end = backlog_now()
        prober.join(timeout=120)
        acked_total = end[0]
        drain_started = time.perf_counter()
        stored = end[1]
        while stored < acked_total and time.perf_counter() - drain_started < 600:
            time.sleep(0.25)
            stored = stored_now()
        drain = time.perf_counter() - drain_started
        for worker in workers:
            stop_process(worker)
        edge_ceiling = None
        if ceiling_seconds > 0:
            edge_ceiling = ceiling(
                port=port,
                world=world,
                headers=headers,
                batch_size=batch_size,
                seconds=ceiling_seconds,
                connections=ceiling_connections,
                generator=generator or choose_generator(install=False, log=say),
                bodies_rate=bodies_rate,
                database_url=database_url,
                server_log=log,
                say=say,
            )
    except BaseException:
        stop.set()
        for worker in workers:
            stop_process(worker)
        stop_process(server)
        log.seek(0)
        print(f"server log (tail):\n{log.read()[-3000:]}", file=sys.stderr)
        raise
    finally:
        for worker in workers:
            stop_process(worker)
        stop_process(server)
    log.seek(0)
    server_log = log.read()
    log.close()
    ok = [a for a in acks if a[2] == 200]
    acked = sum(a[3] for a in ok)
    half = started + wall / 2
    first = sum(a[3] for a in ok if a[0] < half)
    second = acked - first
    statuses: dict[int, int] = {}
    for a in acks:
        statuses[a[2]] = statuses.get(a[2], 0) + 1
    latencies = [a[1] for a in ok]
    return {
        "benchmark": "tracking_ingest",
        "database": database_label(),
        "generator": PYTHON_THREADS,
        "seconds": round(wall, 1),
        "batch_size": batch_size,
        "concurrency": concurrency,
        "server_workers": server_workers,
        "task_workers": task_workers,
        "offered_events_per_second": rate or None,
        "stored_per_second_first_half": round(middle[1] / (wall / 2), 1) if wall else 0.0,
        "stored_per_second_second_half": round((end[1] - middle[1]) / (wall / 2), 1) if wall else 0.0,
        "backlog_middle": middle[0] - middle[1],
        "backlog_end": end[0] - end[1],
        "drain_seconds": round(drain, 1),
        "visitors": visitors,
        "events_acknowledged": acked,
        "events_stored": stored,
        "events_per_second": round(acked / wall, 1) if wall else 0.0,
        "events_per_second_first_half": round(first / (wall / 2), 1) if wall else 0.0,
        "events_per_second_second_half": round(second / (wall / 2), 1) if wall else 0.0,
        "http_statuses": statuses,
        "ack_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "ack_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "probes": len(visible),
        "probe_misses": misses,
        "visible_p50_ms": round(percentile(visible, 50) * 1000, 1),
        "visible_p95_ms": round(percentile(visible, 95) * 1000, 1),
        "server_errors": [line for line in server_log.splitlines() if "Error" in line][-5:],
        "ceiling": edge_ceiling,
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--batch-size", type=int, default=100, help="events per request")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads")
    parser.add_argument("--visitors", type=int, default=10_000)
    parser.add_argument("--server-workers", type=int, default=1, help="omo serve processes")
    parser.add_argument("--task-workers", type=int, default=1, help="omo worker processes")
    parser.add_argument("--rate", type=float, default=0.0, help="offered events/s (0: as fast as answered)")
    parser.add_argument("--probe-every", type=float, default=0.5, help="seconds between timeline probes")
    parser.add_argument(
        "--ceiling",
        type=float,
        default=5.0,
        help="seconds of closed-loop load per server for the edge's ceiling, bare app and omo (0: skip)",
    )
    parser.add_argument("--ceiling-connections", type=int, default=16, help="connections in the ceiling runs")
    parser.add_argument(
        "--generator",
        choices=("wrk", "python"),
        default="wrk",
        help="load generator of the ceiling runs (wrk is installed with apt-get when missing; "
        "python: asyncio + aiohttp, which saturates before the bare app does)",
    )
    parser.add_argument(
        "--bodies-rate",
        type=float,
        default=120_000,
        help="events/s the pre-generated ceiling batches cover before one repeats",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args(argv)
    generator = None
    if args.ceiling > 0:
        generator = args.generator
        if generator == "wrk":
            generator = choose_generator(install=True, log=lambda text: print(text, file=sys.stderr))
    setup_django()
    result = run(
        seconds=args.seconds,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        visitors=args.visitors,
        server_workers=args.server_workers,
        task_workers=args.task_workers,
        rate=args.rate,
        probe_every=args.probe_every,
        ceiling_seconds=args.ceiling,
        ceiling_connections=args.ceiling_connections,
        generator=generator,
        bodies_rate=args.bodies_rate,
        say=lambda text: print(text, file=sys.stderr),
    )
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(
        f"POST /v1/batch on {result['database']}: {result['events_acknowledged']:,} events acknowledged in "
        f"{result['seconds']} s = {result['events_per_second']:,.0f} events/s "
        f"(first half {result['events_per_second_first_half']:,.0f}/s, second half "
        f"{result['events_per_second_second_half']:,.0f}/s; {result['batch_size']} per batch, "
        f"{result['concurrency']} client threads, {result['server_workers']} server worker(s), offered "
        f"{result['offered_events_per_second'] or 'as fast as answered'}; load from {result['generator']})"
    )
    print(
        f"  stored by the worker(s): {result['stored_per_second_first_half']:,.0f}/s first half, "
        f"{result['stored_per_second_second_half']:,.0f}/s second half ({result['task_workers']} omo worker); "
        f"backlog {result['backlog_middle']:,} events at the middle, {result['backlog_end']:,} at the end, "
        f"drained in {result['drain_seconds']} s"
    )
    print(
        f"  stored {result['events_stored']:,} of {result['events_acknowledged']:,} acknowledged; "
        f"HTTP statuses {result['http_statuses']}"
    )
    print(f"  time to acknowledge a batch: p50 {result['ack_p50_ms']} ms, p99 {result['ack_p99_ms']} ms")
    print(
        f"  event -> on the customer's timeline: p50 {result['visible_p50_ms']} ms, p95 "
        f"{result['visible_p95_ms']} ms over {result['probes']} probes ({result['probe_misses']} missed)"
    )
    edge = result["ceiling"]
    if edge:
        print(
            f"  the edge's ceiling, worker stopped ({edge['generator']}, {edge['connections']} connections, "
            f"{edge['seconds']} s per server, batches of {result['batch_size']}, ~{edge['body_bytes']:,} bytes):"
        )
        for name in ("bare", "omo"):
            print(_ceiling_line(edge[name]))
        print(
            f"  omo / bare: {edge.get('share_of_bare', 0):.1%} of the bare app's batches/s, both measured with "
            f"{edge['generator']}"
        )
    print(f"  machine: {result['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
