"""Orders per second through `POST /api/v1/orders/batch`, over real HTTP.

    omo seed --demo            # the catalogue, stores and clerks the orders refer to
    python -m bench.order_ingest --batches 20 --batch-size 500 --concurrency 4

Starts a real server (`omo serve`) on a free port against the current DATABASE_URL, creates an
API key for the demo brand, and sends POS-style batches (up to 500 orders each, half of them for
existing customers, the others for new phone numbers) from a client thread pool. Reports orders/s
over the whole run and p50/p99 latency per batch. Each run uses fresh external ids, so nothing is
an idempotent repeat. Exit code 3 means the endpoint is not there (yet).
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import random
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from bench._util import ROOT, child_env, free_port, machine, percentile, setup_django, stop_process

PATH = "/api/v1/orders/batch"
EXIT_UNAVAILABLE = 3


class BenchUnavailable(RuntimeError):
    """The thing to measure is not there: no demo data, or the endpoint answers 404."""


def _prepare(batches: int, batch_size: int, seed: int) -> tuple[str, int, list[bytes]]:
    """(api key secret, key id, request bodies) from the seeded demo brand."""
    from omo.catalog.models import Product, Variant
    from omo.core import apikeys
    from omo.customers.models import Customer
    from omo.devtools.seed import demo_brand
    from omo.staff.models import User

    brand = demo_brand()
    if brand is None:
        raise BenchUnavailable("no demo brand: run `omo seed --demo` first")
    variants = list(
        Variant.objects.filter(
            brand=brand, is_active=True, product__status=Product.Status.ACTIVE
        ).values_list("sku", "price")[:2000]
    )
    clerks = list(
        User.objects.filter(brand=brand, role="clerk", store__isnull=False).values_list(
            "store__code", "employee_code"
        )
    )
    phones = list(Customer.objects.filter(brand=brand).exclude(phone="").values_list("phone", "name")[:5000])
    if not variants or not clerks:
        raise BenchUnavailable("the demo brand has no sellable variants or clerks")
    key, secret = apikeys.create_api_key(brand, name="bench order ingest", role="hq_admin", actor=None)
    rng = random.Random(seed)
    run_id = f"{int(time.time())}{rng.randrange(1000):03d}"
    now = dt.datetime.now(dt.UTC)
    bodies = []
    for b in range(batches):
        orders = []
        for i in range(batch_size):
            store_code, staff_code = rng.choice(clerks)
            if phones and rng.random() < 0.5:
                phone, name = rng.choice(phones)
            else:
                phone, name = f"+88697{rng.randrange(10**7):07d}", "效能測試顧客"
            lines = [
                {"sku": sku, "quantity": rng.choice((1, 1, 1, 2)), "unit_price": price}
                for sku, price in rng.sample(variants, rng.choice((1, 1, 2, 3)))
            ]
            orders.append(
                {
                    "source": "pos-erp",
                    "external_id": f"bench-{run_id}-{b}-{i}",
                    "sales_channel": "pos",
                    "store_code": store_code,
                    "staff_code": staff_code,
                    "placed_at": (now - dt.timedelta(minutes=rng.randrange(600))).isoformat(),
                    "currency": "TWD",
                    "customer": {"phone": phone, "name": name},
                    "lines": lines,
                    "status": "paid",
                }
            )
        bodies.append(json.dumps({"orders": orders}).encode())
    return secret, key.pk, bodies


def _start_server(port: int, database_url: str | None, log: IO[str], workers: int = 1) -> subprocess.Popen:
    from django.core.management import get_commands

    if "serve" in get_commands():
        command = [
            sys.executable,
            "-m",
            "config.cli",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(workers),
        ]
    else:  # before `omo serve` existed: plain uvicorn on Django's ASGI app
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "config.asgi:application",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ]
    # The server's log goes to a file: an unread pipe would fill up and stall the server.
    return subprocess.Popen(command, cwd=ROOT, env=child_env(database_url), stdout=log, stderr=log, text=True)


def _wait_ready(base: str, server: subprocess.Popen, timeout: float = 60.0) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited with code {server.returncode}")
        try:
            with opener.open(base + "/healthz", timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers; 503 (no worker heartbeat) is fine here
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"the server did not answer within {timeout:.0f} s")


def run(
    *,
    batches: int = 20,
    batch_size: int = 500,
    concurrency: int = 4,
    seed: int = 1,
    database_url: str | None = None,
    server_workers: int = 1,
) -> dict[str, Any]:
    from django.utils import timezone

    from omo.core.models import ApiKey

    secret, key_id, bodies = _prepare(batches, batch_size, seed)
    port = free_port()
    log = tempfile.TemporaryFile("w+")
    server = _start_server(port, database_url, log, workers=server_workers)
    local = threading.local()
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}

    def post(body: bytes) -> tuple[float, int, dict]:
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        started = time.perf_counter()
        try:
            local.conn.request("POST", PATH, body=body, headers=headers)
            response = local.conn.getresponse()
            payload = response.read()
        except (http.client.HTTPException, OSError):
            local.conn.close()
            del local.conn
            raise
        elapsed = time.perf_counter() - started
        try:
            parsed = json.loads(payload) if payload else {}
        except ValueError:
            parsed = {"raw": payload[:300].decode(errors="replace")}
        return elapsed, response.status, parsed if isinstance(parsed, dict) else {}

    try:
        _wait_ready(f"http://127.0.0.1:{port}", server)
        # One batch first, alone: a missing endpoint should say so, not fill the report with 404s.
        first = post(bodies[0])
        if first[1] == 404:
            raise BenchUnavailable(f"POST {PATH} answered 404: the batch order endpoint is not there yet")
        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            outcomes = [first, *pool.map(post, bodies[1:])]
        wall = time.perf_counter() - started + first[0]
    except BaseException:
        stop_process(server)
        log.seek(0)
        print(f"server log (tail):\n{log.read()[-3000:]}", file=sys.stderr)
        raise
    finally:
        stop_process(server)
        ApiKey.objects.filter(pk=key_id).update(revoked_at=timezone.now())
    log.seek(0)
    server_log = log.read()
    log.close()
    latencies = [o[0] for o in outcomes]
    statuses: dict[int, int] = {}
    created = rejected = 0
    first_error = ""
    for _, status, payload in outcomes:
        statuses[status] = statuses.get(status, 0) + 1
        created += int(payload.get("created", 0) or 0) + int(payload.get("existing", 0) or 0)
        rejected += int(payload.get("rejected", 0) or 0)
        if not first_error and (status >= 400 or payload.get("rejected")):
            errors = [
                r for r in payload.get("results", []) if isinstance(r, dict) and r.get("status") == "rejected"
            ]
            first_error = json.dumps(errors[0] if errors else payload, ensure_ascii=False)[:300]
    orders = batches * batch_size
    return {
        "benchmark": "order_ingest",
        "batches": batches,
        "batch_size": batch_size,
        "concurrency": concurrency,
        "orders_sent": orders,
        "orders_recorded": created,
        "orders_rejected": rejected,
        "http_statuses": statuses,
        "first_error": first_error,
        "server_errors": [line for line in server_log.splitlines() if "Error" in line or "error" in line][
            -5:
        ],
        "wall_seconds": round(wall, 2),
        "orders_per_second": round(created / wall, 1) if wall else 0.0,
        "batch_p50_ms": round(percentile(latencies, 50) * 1000, 1),
        "batch_p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "machine": machine(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=500, help="orders per request (the API allows 500)")
    parser.add_argument("--concurrency", type=int, default=4, help="client threads")
    parser.add_argument("--server-workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a report")
    args = parser.parse_args(argv)
    setup_django()
    from bench._util import database_label

    try:
        result = run(
            batches=args.batches,
            batch_size=args.batch_size,
            concurrency=args.concurrency,
            seed=args.seed,
            server_workers=args.server_workers,
        )
    except BenchUnavailable as exc:
        print(f"order ingest benchmark not run: {exc}", file=sys.stderr)
        return EXIT_UNAVAILABLE
    result["database"] = database_label()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(
        f"POST {PATH} on {result['database']}: {result['orders_recorded']:,} of {result['orders_sent']:,} orders "
        f"recorded in {result['wall_seconds']} s = {result['orders_per_second']:,} orders/s "
        f"({args.batches} batches of {args.batch_size}, {args.concurrency} client threads, "
        f"{args.server_workers} server worker(s))"
    )
    print(
        f"  per batch: p50 {result['batch_p50_ms']} ms, p99 {result['batch_p99_ms']} ms; "
        f"HTTP statuses {result['http_statuses']}; rejected {result['orders_rejected']}"
    )
    if result["first_error"]:
        print(f"  first error: {result['first_error']}")
    for line in result["server_errors"]:
        print(f"  server log: {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
