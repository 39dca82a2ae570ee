"""Predicted customer value at scale (target: 1M customers / 10M orders, fit and scoring in minutes,
memory flat).

    python -m bench.clv_fit --customers 1000000                 # the models alone
    DATABASE_URL=postgres://…/omo_clv_bench python -m bench.clv_fit --customers 20000 --db

Without --db: draws N customers' histories (x, t_x, T in days, mean spend) from the BG/NBD and
Gamma-Gamma models themselves (r = 0.25, α = 3 days, a = 0.8, b = 10; first purchases spread over
two years, ~10 orders per customer on average counting the first), then times the fit (the
likelihood runs over the distinct histories, weighted) and the scoring (p_alive, expected orders
over 30/90/365 days, expected spend), and reports peak RSS.

With --db: also writes the histories as orders of a new brand (one order per purchase day), then
times `omo.segments.clv.services.refit`: the per-customer SQL aggregates streamed in blocks, the fit,
and the predictions written in blocks. The brand is deleted afterwards unless --keep. The database
must be migrated.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import resource
import sys
import time
import uuid
from typing import Any

import numpy as np

from bench._util import database_label, machine, setup_django

R, ALPHA, A, B = 0.25, 3.0, 0.8, 10.0  # about ten orders per customer over two years
P, Q, GAMMA = 6.0, 4.0, 1500.0  # spend per purchase in NT$
SPAN_DAYS = 730


def simulate(customers: int, seed: int) -> dict[str, np.ndarray]:
    """Vectorised BG/NBD draws: every round, each customer still alive and within T buys once more
    (and may drop out after it)."""
    rng = np.random.default_rng(seed)
    T = rng.integers(1, SPAN_DAYS, customers).astype(np.float64)  # days since the first purchase
    rate = rng.gamma(R, 1 / ALPHA, customers)
    dropout = rng.beta(A, B, customers)
    nu = rng.gamma(Q, 1 / GAMMA, customers)
    x = np.zeros(customers)
    t_x = np.zeros(customers)
    spend = np.zeros(customers)
    clock = np.zeros(customers)
    active = np.ones(customers, dtype=bool)
    purchase_days: list[tuple[np.ndarray, np.ndarray]] = []
    while active.any():
        idx = np.flatnonzero(active)
        clock[idx] += rng.exponential(1 / rate[idx])
        bought = clock[idx] <= T[idx]
        buyers = idx[bought]
        active[idx[~bought]] = False
        x[buyers] += 1
        t_x[buyers] = np.floor(clock[buyers])
        spend[buyers] += rng.gamma(P, 1 / nu[buyers])
        purchase_days.append((buyers, np.floor(clock[buyers])))
        active[buyers[rng.random(len(buyers)) < dropout[buyers]]] = False
    monetary = np.divide(spend, x, out=np.zeros_like(spend), where=x > 0)
    return {"x": x, "t_x": t_x, "T": T, "monetary": monetary, "days": purchase_days, "first_spend": nu}


def _models_only(data: dict[str, np.ndarray]) -> dict[str, Any]:
    from omo.segments.clv import bgnbd, gamma_gamma
    from omo.segments.clv.services import _compressed

    started = time.perf_counter()
    (x, t_x, T), weights = _compressed(data["x"], data["t_x"], data["T"])
    purchases = bgnbd.fit(x, t_x, T, weights)
    repeat = (data["x"] > 0) & (data["monetary"] > 0)
    (rx, rm), rweights = _compressed(data["x"][repeat], data["monetary"][repeat])
    spend = gamma_gamma.fit(rx, rm, rweights)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    x, t_x, T, m = data["x"], data["t_x"], data["T"], data["monetary"]
    bgnbd.p_alive(purchases, x, t_x, T)
    for days in (30, 90, 365):
        bgnbd.expected_purchases(purchases, days, x, t_x, T)
    gamma_gamma.customer_value(purchases, spend, 365, x, t_x, T, m)
    score_seconds = time.perf_counter() - started
    return {
        "distinct_histories": len(weights),
        "fit_seconds": round(fit_seconds, 2),
        "score_seconds": round(score_seconds, 2),
        "bgnbd": purchases.as_dict(),
        "gamma_gamma": spend.as_dict(),
    }


def _write_orders(data: dict[str, np.ndarray], end: dt.date) -> tuple[Any, int]:
    from zoneinfo import ZoneInfo

    from django.db import transaction

    from omo.commerce.models import Order
    from omo.core import bulk
    from omo.core.models import Brand
    from omo.customers.models import Customer

    tag = uuid.uuid4().hex[:8]
    brand = Brand.objects.create(name=f"clv bench {tag}", slug=f"clv-bench-{tag}")
    zone = ZoneInfo(brand.time_zone)
    n = len(data["x"])
    ids: list[int] = []
    for start in range(0, n, 20_000):
        rows = [{"brand_id": brand.pk, "name": f"c{i}"} for i in range(start, min(n, start + 20_000))]
        with transaction.atomic():
            bulk.insert_rows(Customer, rows)
        ids += [row["id"] for row in rows]
    customer_ids = np.array(ids)
    first_day = np.array([end.toordinal()]) - data["T"]
    events = [(np.arange(n), np.zeros(n))] + data["days"]
    written = 0
    for round_number, (who, day) in enumerate(events):
        for start in range(0, len(who), 20_000):
            part = slice(start, start + 20_000)
            rows = []
            for customer, offset in zip(who[part], day[part], strict=True):
                placed = dt.datetime.combine(
                    dt.date.fromordinal(int(first_day[customer] + offset)), dt.time(12), zone
                )
                total = int(data["monetary"][customer] * 100) or 50_000
                rows.append(
                    {
                        "brand_id": brand.pk,
                        "customer_id": int(customer_ids[customer]),
                        "source": "bench",
                        "external_id": f"{round_number}-{customer}",
                        "sales_channel": "other",
                        "placed_at": placed,
                        "subtotal": total,
                        "total": total,
                        "status": "paid",
                    }
                )
            with transaction.atomic():
                bulk.insert_rows(Order, rows, need_ids=False)
            written += len(rows)
    return brand, written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--db", action="store_true", help="write the orders and time the refit through the database"
    )
    parser.add_argument("--keep", action="store_true", help="keep the brand (with --db)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    setup_django()

    started = time.perf_counter()
    data = simulate(args.customers, args.seed)
    result: dict[str, Any] = {
        "customers": args.customers,
        "repeat_customers": int(np.count_nonzero(data["x"])),
        "orders": int(args.customers + data["x"].sum()),
        "simulate_seconds": round(time.perf_counter() - started, 2),
        "models": _models_only(data),
        "machine": machine(),
    }
    if args.db:
        from omo.segments.clv import services
        from omo.segments.models import CustomerPrediction

        end = dt.date(2026, 6, 30)
        started = time.perf_counter()
        brand, orders = _write_orders(data, end)
        result["db"] = {
            "database": database_label(),
            "orders_written": orders,
            "write_seconds": round(time.perf_counter() - started, 1),
        }
        try:
            started = time.perf_counter()
            fit = services.fit_brand(brand, calibration_end=end)
            result["db"]["summaries_and_fit_seconds"] = round(time.perf_counter() - started, 2)
            started = time.perf_counter()
            scored = services.score(fit)
            result["db"]["score_seconds"] = round(time.perf_counter() - started, 2)
            result["db"]["scored"] = scored
            result["db"]["predictions"] = CustomerPrediction.objects.filter(brand=brand).count()
            result["db"]["enough_history"] = fit.fit.enough_history
        finally:
            if not args.keep:
                from omo.devtools.seed_tables import purge_brand

                purge_brand(brand)
    result["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    if args.json:
        sys.stdout.write(json.dumps(result) + "\n")
    else:
        for key, value in result.items():
            sys.stdout.write(f"{key}: {value}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
