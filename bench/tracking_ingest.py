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
from typing import Any

from bench._util import database_label, free_port, machine, percentile, setup_django, stop_process
from bench.order_ingest import _start_server, _wait_ready


def _prepare(visitors: int, linked_share: float = 0.2) -> dict[str, Any]:
    from omo.core.models import Brand
    from omo.customers.models import Customer, CustomerIdentity
    from omo.tracking import services

    tag = uuid.uuid4().hex[:8]
    brand = Brand.objects.create(name=f"bench tracking {tag}", slug=f"bench-tracking-{tag}")
    _, key = services.create_source(brand, name="bench", actor=None)
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
) -> dict[str, Any]:
    from omo.customers import timeline
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
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args(argv)
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
        f"{result['offered_events_per_second'] or 'as fast as answered'})"
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
    print(f"  machine: {result['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
