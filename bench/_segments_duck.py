"""The DuckDB side of bench.segments: export a brand's rows from the database Django uses, load them
into DuckDB, and answer the same three questions with hand-written SQL and omo's semantics.

Export: `COPY (SELECT …) TO STDOUT (FORMAT csv)` on PostgreSQL, a cursor written with the csv module
on SQLite; times in UTC as `YYYY-MM-DD HH:MM:SS[.ffffff]` text, booleans as 0/1, JSON as text.
"""

from __future__ import annotations

import csv
import datetime as dt
import time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

# table -> (SELECT on the Django database with {brand} and {ts(...)} filled in, DuckDB column types)
EXPORTS: dict[str, tuple[str, dict[str, str]]] = {
    "customers": (
        "SELECT id, {json_tags} AS tags, merged_into_id, {ts_erased} AS erased_at "
        "FROM customers_customer WHERE brand_id = {brand}",
        {"id": "BIGINT", "tags": "VARCHAR", "merged_into_id": "BIGINT", "erased_at": "TIMESTAMP"},
    ),
    "orders": (
        "SELECT id, customer_id, status, sales_channel, {ts_placed} AS placed_at, total, refunded_total "
        "FROM commerce_order WHERE brand_id = {brand}",
        {
            "id": "BIGINT",
            "customer_id": "BIGINT",
            "status": "VARCHAR",
            "sales_channel": "VARCHAR",
            "placed_at": "TIMESTAMP",
            "total": "BIGINT",
            "refunded_total": "BIGINT",
        },
    ),
    "events": (
        "SELECT id, customer_id, type, event, {ts_timestamp} AS ts, {json_properties} AS properties "
        "FROM tracking_trackedevent WHERE brand_id = {brand} AND customer_id IS NOT NULL",
        {
            "id": "BIGINT",
            "customer_id": "BIGINT",
            "type": "VARCHAR",
            "event": "VARCHAR",
            "ts": "TIMESTAMP",
            "properties": "VARCHAR",
        },
    ),
    "consents": (
        "SELECT id, customer_id, platform, purpose, CASE WHEN granted THEN 1 ELSE 0 END AS granted, "
        "{ts_recorded} AS recorded_at FROM customers_consent WHERE brand_id = {brand}",
        {
            "id": "BIGINT",
            "customer_id": "BIGINT",
            "platform": "VARCHAR",
            "purpose": "VARCHAR",
            "granted": "INTEGER",
            "recorded_at": "TIMESTAMP",
        },
    ),
    "contacts": (
        "SELECT c.id, c.customer_id, i.platform, CASE WHEN c.is_follower THEN 1 ELSE 0 END AS is_follower, "
        "{ts_blocked} AS blocked_at FROM inbox_contact c JOIN inbox_inbox i ON i.id = c.inbox_id "
        "WHERE c.brand_id = {brand}",
        {
            "id": "BIGINT",
            "customer_id": "BIGINT",
            "platform": "VARCHAR",
            "is_follower": "INTEGER",
            "blocked_at": "TIMESTAMP",
        },
    ),
}
TS_COLUMNS = {
    "ts_erased": "erased_at",
    "ts_placed": "placed_at",
    "ts_timestamp": '"timestamp"',
    "ts_recorded": "recorded_at",
    "ts_blocked": "c.blocked_at",
}


def _select(table: str, brand_id: int, vendor: str) -> str:
    sql, _types = EXPORTS[table]
    if vendor == "postgresql":
        parts = {
            key: f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"
            for key, column in TS_COLUMNS.items()
        }
        parts |= {"json_tags": "tags::text", "json_properties": "properties::text"}
    else:  # SQLite keeps UTC text already
        parts = dict(TS_COLUMNS) | {"json_tags": "tags", "json_properties": "properties"}
    return sql.format(brand=int(brand_id), **parts)


def export(brand_id: int, folder: Path) -> dict[str, Any]:
    """Write each table of the brand to `folder/<table>.csv`; returns rows per table and seconds."""
    from django.db import connection

    started = time.perf_counter()
    rows: dict[str, int] = {}
    for table in EXPORTS:
        path = folder / f"{table}.csv"
        select = _select(table, brand_id, connection.vendor)
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with (
                    path.open("wb") as out,
                    cursor.cursor.copy(f"COPY ({select}) TO STDOUT (FORMAT csv)") as copy,
                ):
                    for chunk in copy:
                        out.write(bytes(chunk))
                rows[table] = sum(1 for _line in path.open("rb"))  # no newlines inside our values
            else:
                cursor.execute(select)
                with path.open("w", newline="") as out:
                    writer = csv.writer(out)
                    count = 0
                    while batch := cursor.fetchmany(10000):
                        writer.writerows(batch)
                        count += len(batch)
                rows[table] = count
    return {"rows": rows, "seconds": round(time.perf_counter() - started, 3)}


def load(folder: Path) -> tuple[Any, float]:
    """A DuckDB connection (in memory) with the exported tables; and the seconds the load took."""
    import duckdb

    started = time.perf_counter()
    con = duckdb.connect()
    for table, (_sql, types) in EXPORTS.items():
        columns = "{" + ", ".join(f"'{name}': '{kind}'" for name, kind in types.items()) + "}"
        con.execute(
            f"CREATE TABLE {table} AS SELECT * FROM read_csv(?, header = false, columns = {columns})",
            [str(folder / f"{table}.csv")],
        )
    return con, time.perf_counter() - started


def _utc(moment: dt.datetime) -> dt.datetime:
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


ONLINE = ("web_shop", "external_web", "marketplace")

SEGMENT_SQL = """
WITH eligible AS (
    SELECT id, tags FROM customers WHERE merged_into_id IS NULL AND erased_at IS NULL
), counted AS (
    SELECT customer_id, sales_channel, total - refunded_total AS net FROM orders
    WHERE status <> 'cancelled' AND placed_at >= $orders_since AND customer_id IS NOT NULL
), online AS (
    SELECT customer_id FROM counted WHERE sales_channel IN ('web_shop', 'external_web', 'marketplace')
    GROUP BY customer_id HAVING count(*) >= 1
), store AS (
    SELECT customer_id FROM counted WHERE sales_channel = 'pos' GROUP BY customer_id HAVING count(*) >= 1
), spenders AS (
    SELECT customer_id FROM counted GROUP BY customer_id HAVING sum(net) >= $spend
), viewers AS (
    SELECT customer_id FROM events
    WHERE type = 'track' AND event = $event AND ts >= $events_since
      AND json_type(properties, '$.category') = 'VARCHAR'
      AND json_extract_string(properties, '$.category') = $category
    GROUP BY customer_id HAVING count(*) >= 1
), holding AS (  -- the latest decision by time, then id
    SELECT customer_id, arg_max(granted, (recorded_at, id)) AS granted FROM consents
    WHERE platform = 'line' AND purpose = 'marketing' GROUP BY customer_id
), followers AS (
    SELECT DISTINCT customer_id FROM contacts WHERE platform = 'line' AND is_follower = 1 AND blocked_at IS NULL
)
SELECT count(*) FILTER (WHERE online AND store AND spend AND viewed AND tagged AND consent),
       count(*) FILTER (WHERE online), count(*) FILTER (WHERE store), count(*) FILTER (WHERE spend),
       count(*) FILTER (WHERE viewed), count(*) FILTER (WHERE tagged), count(*) FILTER (WHERE consent)
FROM (
    SELECT e.id IN (SELECT customer_id FROM online) AS online,
           e.id IN (SELECT customer_id FROM store) AS store,
           e.id IN (SELECT customer_id FROM spenders) AS spend,
           e.id IN (SELECT customer_id FROM viewers) AS viewed,
           coalesce(list_contains(CAST(json_extract_string(e.tags, '$[*]') AS VARCHAR[]), $tag), false) AS tagged,
           CASE WHEN h.customer_id IS NOT NULL THEN h.granted = 1
                ELSE e.id IN (SELECT customer_id FROM followers) END AS consent
    FROM eligible e LEFT JOIN holding h ON h.customer_id = e.id
) tested
"""

SCORES_SQL = """
WITH aggregated AS (
    SELECT c.id, count(o.id) AS n, coalesce(sum(o.total - o.refunded_total), 0) AS spend,
           max(o.placed_at) AS last_at
    FROM customers c
    LEFT JOIN orders o ON o.customer_id = c.id AND o.status <> 'cancelled' AND o.placed_at <= $now
    WHERE c.merged_into_id IS NULL AND c.erased_at IS NULL
    GROUP BY c.id
), measured AS (
    SELECT id, n, spend,
           CASE WHEN n > 0 THEN greatest(date_diff('day', CAST(timezone($zone, timezone('UTC', last_at)) AS DATE),
                                                   CAST($today AS DATE)), 0) END AS recency
    FROM aggregated
), cuts AS (  -- nearest rank among buyers: the value at ceil(share * n) in (value, customer id) order
    SELECT list(recency ORDER BY recency, id) AS r, list(n ORDER BY n, id) AS f,
           list(spend ORDER BY spend, id) AS m, count(*) AS buyers
    FROM measured WHERE n > 0
), scored AS (
    SELECT
        CASE WHEN n = 0 THEN 0 ELSE 5 - ((recency > r[greatest(ceil(0.2::DOUBLE * buyers), 1)::INT])::INT
            + (recency > r[greatest(ceil(0.4::DOUBLE * buyers), 1)::INT])::INT
            + (recency > r[greatest(ceil(0.6::DOUBLE * buyers), 1)::INT])::INT
            + (recency > r[greatest(ceil(0.8::DOUBLE * buyers), 1)::INT])::INT) END AS r_score,
        CASE WHEN n = 0 THEN 0 ELSE 1 + ((n > f[greatest(ceil(0.2::DOUBLE * buyers), 1)::INT])::INT
            + (n > f[greatest(ceil(0.4::DOUBLE * buyers), 1)::INT])::INT
            + (n > f[greatest(ceil(0.6::DOUBLE * buyers), 1)::INT])::INT
            + (n > f[greatest(ceil(0.8::DOUBLE * buyers), 1)::INT])::INT) END AS f_score,
        CASE WHEN n = 0 THEN 0 ELSE 1 + ((spend > m[greatest(ceil(0.2::DOUBLE * buyers), 1)::INT])::INT
            + (spend > m[greatest(ceil(0.4::DOUBLE * buyers), 1)::INT])::INT
            + (spend > m[greatest(ceil(0.6::DOUBLE * buyers), 1)::INT])::INT
            + (spend > m[greatest(ceil(0.8::DOUBLE * buyers), 1)::INT])::INT) END AS m_score
    FROM measured, cuts
)
SELECT 'r' AS measure, r_score AS score, count(*) FROM scored GROUP BY r_score
UNION ALL SELECT 'f', f_score, count(*) FROM scored GROUP BY f_score
UNION ALL SELECT 'm', m_score, count(*) FROM scored GROUP BY m_score
"""

PARETO_SQL = """
WITH per_customer AS (
    SELECT customer_id, coalesce(sum(total - refunded_total), 0) AS spend FROM orders
    WHERE status <> 'cancelled' AND customer_id IS NOT NULL AND placed_at >= $start AND placed_at < $end
    GROUP BY customer_id
), ranked AS (
    SELECT ((row_number() OVER (ORDER BY spend DESC, customer_id) - 1) * 100 // count(*) OVER ()) + 1 AS bucket,
           spend
    FROM per_customer
)
SELECT bucket, count(*), sum(spend) FROM ranked GROUP BY bucket
"""


def segment_counts(con: Any, *, now: dt.datetime, spend: int, tag: str) -> list[int]:
    """[members, then the customers meeting each of the six conditions alone]."""
    row = con.execute(
        SEGMENT_SQL,
        {
            "orders_since": _utc(now - dt.timedelta(days=90)),
            "events_since": _utc(now - dt.timedelta(days=30)),
            "spend": spend,
            "event": "Product Viewed",
            "category": "shoes",
            "tag": tag,
        },
    ).fetchone()
    return [int(value) for value in row]


def score_counts(con: Any, *, now: dt.datetime, zone: str) -> dict[str, dict[int, int]]:
    today = now.astimezone(ZoneInfo(zone)).date()
    counts: dict[str, dict[int, int]] = {"r": {}, "f": {}, "m": {}}
    for measure, score, n in con.execute(
        SCORES_SQL, {"now": _utc(now), "zone": zone, "today": today}
    ).fetchall():
        counts[measure][int(score)] = int(n)
    return counts


def pareto(con: Any, *, start: dt.datetime, end: dt.datetime) -> tuple[int, list[int]]:
    """(customers, spend per percentile 1..100), as omo.analytics.reports.pareto builds them."""
    by_percentile = [0] * 100
    customers = 0
    for bucket, count, spend in con.execute(PARETO_SQL, {"start": _utc(start), "end": _utc(end)}).fetchall():
        by_percentile[int(bucket) - 1] = int(spend or 0)
        customers += int(count)
    return customers, by_percentile
