"""The batch attribution decided inside PostgreSQL: one INSERT … SELECT per chunk.

`services.decide` stays the one definition of the rules; this module is the same precedence and the
same words written as SQL, so a million orders are decided without a Python object per order:

    POS staff id > clerk coupon code > the last counted clerk link click in the window (by the
    customer, or by the link the order's ref names) or the clerk cart ref > the bound clerk (when
    the brand credits it) > none.

What SQL cannot do the same way is done in Python first and handed to the statement as small
temporary tables: the brand's clerks (names as `decide` writes them), the clerk coupon codes
(upper-cased by Python), the commission rules, and the orders' refs (signed: verified by Python).
An order whose codes SQL might read differently from Python (a code with non-ASCII characters, or a
discount code that is not a JSON string) is left to the Python path (`services.batch._attribute_chunk`).

The commission is computed in the same statement from the rules (`services.commission.rule_for`:
the most specific rule in force on the order's local date for the clerk, category and store, ties to
the latest start then the newest rule), line by line after order discounts (a fixed rule: its amount
per item), rounding half away from zero as `services.commission.round_div` does.
`test_batch_sql.py` runs both paths on the same orders and compares every column.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction

from omo.attribution import links
from omo.attribution.models import Attribution, Click, CommissionEntry, CommissionRule
from omo.binding.models import Binding
from omo.catalog.models import Product
from omo.commerce.models import Order, OrderLine

if TYPE_CHECKING:
    from omo.attribution.services.batch import BatchStats
    from omo.attribution.services.decision import BrandContext

_STAGED = ("_omo_b_clerk", "_omo_b_coupon", "_omo_b_rule", "_omo_b_ref")
# What Python's str.strip() removes from an ASCII string.
_ASCII_SPACE = " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"


# (database alias, zone name) -> does PostgreSQL know the zone. Asked once per process: the
# pg_timezone_names view reads the whole time zone database (~37 ms a call, every ingest batch).
_ZONES_KNOWN: dict[tuple[str, str], bool] = {}


# The order the statement below applies the rules in (decision.DEFAULT_PRECEDENCE).
DEFAULT_ORDER = (
    Attribution.Rule.POS_STAFF,
    Attribution.Rule.CLERK_COUPON,
    Attribution.Rule.LINK_CLICK,
    Attribution.Rule.BOUND_CLERK,
)


def usable(ctx: BrandContext) -> bool:
    """PostgreSQL, the default order of precedence (the statement is written in that order), and a
    time zone PostgreSQL knows by the same name; else the Python path, which follows any order."""
    if connection.vendor != "postgresql" or tuple(ctx.precedence) != DEFAULT_ORDER:
        return False
    key = (connection.alias, ctx.zone.key)
    if key not in _ZONES_KNOWN:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1 FROM pg_timezone_names WHERE name = %s", [ctx.zone.key])
            _ZONES_KNOWN[key] = cursor.fetchone() is not None
    return _ZONES_KNOWN[key]


def _stage_context(cursor, ctx: BrandContext) -> None:
    """The brand's clerks, clerk codes and commission rules, as `brand_context` read them."""
    cursor.execute(
        "CREATE TEMP TABLE _omo_b_clerk (id bigint PRIMARY KEY, name text NOT NULL, store_id bigint, "
        "employee_code text NOT NULL) ON COMMIT DROP"
    )
    cursor.execute(
        "CREATE TEMP TABLE _omo_b_coupon (code text PRIMARY KEY, clerk_id bigint NOT NULL) ON COMMIT DROP"
    )
    cursor.execute(
        "CREATE TEMP TABLE _omo_b_rule (id bigint PRIMARY KEY, category_id bigint, store_id bigint, "
        "clerk_id bigint, fixed boolean NOT NULL, rate_bp bigint NOT NULL, fixed_amount bigint NOT NULL, "
        "starts_on date NOT NULL, ends_on date) ON COMMIT DROP"
    )
    raw = cursor.cursor
    with raw.copy("COPY _omo_b_clerk (id, name, store_id, employee_code) FROM STDIN") as copy:
        for clerk in ctx.clerks.values():
            copy.write_row((clerk.id, clerk.name, clerk.store_id, clerk.employee_code or ""))
    with raw.copy("COPY _omo_b_coupon (code, clerk_id) FROM STDIN") as copy:
        for code, clerk_id in ctx.coupon_owner.items():
            copy.write_row((code, clerk_id))
    with raw.copy(
        "COPY _omo_b_rule (id, category_id, store_id, clerk_id, fixed, rate_bp, fixed_amount, starts_on, "
        "ends_on) FROM STDIN"
    ) as copy:
        for rule in ctx.rules:
            copy.write_row(
                (
                    rule.pk,
                    rule.category_id,
                    rule.store_id,
                    rule.clerk_id,
                    rule.kind == CommissionRule.Kind.FIXED,
                    rule.rate_bp,
                    rule.fixed_amount,
                    rule.starts_on,
                    rule.ends_on,
                )
            )
    cursor.execute("ANALYZE _omo_b_clerk")
    cursor.execute("ANALYZE _omo_b_coupon")
    cursor.execute("ANALYZE _omo_b_rule")


def _stage_refs(cursor, ctx: BrandContext, params: dict) -> None:
    """The refs of the chunk's orders that verify (read_ref), one row per order."""
    cursor.execute(
        "CREATE TEMP TABLE _omo_b_ref (order_id bigint PRIMARY KEY, kind text NOT NULL, ref_id bigint NOT NULL, "
        "signed_at timestamptz NOT NULL) ON COMMIT DROP"
    )
    cursor.execute(
        f"SELECT o.id, o.ref FROM {Order._meta.db_table} o "
        "WHERE o.brand_id = %(brand)s AND o.id BETWEEN %(low)s AND %(high)s AND o.id = ANY(%(ids)s) "
        "AND o.ref <> ''",
        params,
    )
    rows = []
    for order_id, value in cursor.fetchall():
        ref = links.read_ref(value)
        if ref is not None:
            rows.append((order_id, ref.kind, ref.id, ref.signed_at))
    if rows:
        with cursor.cursor.copy("COPY _omo_b_ref (order_id, kind, ref_id, signed_at) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    cursor.execute("ANALYZE _omo_b_ref")


def _decision_sql(ctx: BrandContext) -> str:
    """SELECT of one row per unattributed order of the chunk: the rule, clerk, store, click, reasons
    (zh-Hant, English) and the commission facts. `python` marks the orders left to `decide`."""
    order = Order._meta.db_table
    click = Click._meta.db_table
    attribution = Attribution._meta.db_table
    binding = Binding._meta.db_table
    counted = "k.brand_id = %(brand)s AND NOT k.is_preview AND k.clerk_id IS NOT NULL"
    # The order's codes: the shop's coupon code, then each discount's "code" (OrderFacts.codes).
    codes = """
        SELECT 0::bigint AS n, o.coupon_code AS code,
               octet_length(o.coupon_code) <> char_length(o.coupon_code) AS odd
        WHERE o.coupon_code <> ''
        UNION ALL
        SELECT e.n, e.v ->> 'code',
               jsonb_typeof(e.v -> 'code') <> 'string'
               OR octet_length(e.v ->> 'code') <> char_length(e.v ->> 'code')
        FROM jsonb_array_elements(
                 CASE WHEN jsonb_typeof(o.discounts) = 'array' THEN o.discounts ELSE '[]'::jsonb END
             ) WITH ORDINALITY AS e(v, n)
        WHERE jsonb_typeof(e.v) = 'object' AND jsonb_typeof(e.v -> 'code') IS DISTINCT FROM 'null'
          AND (e.v ->> 'code') <> ''
    """
    bound = (
        f"""
        LEFT JOIN LATERAL (
            SELECT b.clerk_id, b.started_at, b.store_id
            FROM {binding} b JOIN _omo_b_clerk bc ON bc.id = b.clerk_id
            WHERE x.rule IS NULL AND NOT x.python AND x.customer_id IS NOT NULL
              AND b.brand_id = %(brand)s AND b.customer_id = x.customer_id
              AND b.started_at <= x.placed_at AND (b.ended_at IS NULL OR b.ended_at > x.placed_at)
            ORDER BY b.started_at DESC, b.id DESC
            LIMIT 1
        ) bd ON true
        LEFT JOIN _omo_b_clerk bcl ON bcl.id = bd.clerk_id"""
        if ctx.credit_bound_clerk
        else """
        LEFT JOIN LATERAL (SELECT NULL::bigint AS clerk_id, NULL::timestamptz AS started_at,
                                  NULL::bigint AS store_id) bd ON true
        LEFT JOIN _omo_b_clerk bcl ON false"""
    )
    return f"""
    WITH o AS MATERIALIZED (
        SELECT o.id, o.customer_id, o.staff_id, o.sales_channel, o.coupon_code, o.discounts, o.placed_at,
               o.store_id, o.subtotal, o.discount_total, o.status,
               o.placed_at - make_interval(secs => %(window_seconds)s) AS since
        FROM {order} o
        WHERE o.brand_id = %(brand)s AND o.id BETWEEN %(low)s AND %(high)s AND o.id = ANY(%(ids)s)
          AND NOT EXISTS (SELECT 1 FROM {attribution} a WHERE a.order_id = o.id)
    ),
    x AS (
        SELECT o.id, o.customer_id, o.placed_at, o.store_id, o.subtotal, o.discount_total, o.status,
               pos.id AS pos_id, pos.name AS pos_name, pos.store_id AS pos_store, pos.employee_code AS pos_code,
               odd.has_odd AS python,
               cp.value AS coupon_value, cc.id AS coupon_id, cc.name AS coupon_name, cc.store_id AS coupon_store,
               r.ref_id AS cart_id, cart.name AS cart_name, cart.store_id AS cart_store, r.signed_at AS cart_at,
               k.id AS click_id, k.clicked_at, kc.id AS click_clerk, kc.name AS click_name,
               kc.store_id AS click_store,
               CASE
                   WHEN pos.id IS NOT NULL THEN 'pos_staff'
                   WHEN cc.id IS NOT NULL THEN 'clerk_coupon'
                   WHEN cart.id IS NOT NULL AND (k.id IS NULL OR r.signed_at >= k.clicked_at) THEN 'cart'
                   WHEN kc.id IS NOT NULL THEN 'click'
               END AS rule
        FROM o
        LEFT JOIN _omo_b_clerk pos ON o.sales_channel = 'pos' AND pos.id = o.staff_id
        LEFT JOIN LATERAL (
            SELECT coalesce(bool_or(c.odd), false) AS has_odd
            FROM ({codes}) c
            WHERE pos.id IS NULL AND (o.coupon_code <> '' OR o.discounts <> '[]'::jsonb)
        ) odd ON true
        LEFT JOIN LATERAL (
            SELECT c.value, cp.clerk_id
            FROM (SELECT c.n, upper(btrim(c.code, %(space)s)) AS value
                  FROM ({codes}) c
                  WHERE pos.id IS NULL AND NOT odd.has_odd
                    AND (o.coupon_code <> '' OR o.discounts <> '[]'::jsonb)) c
            JOIN _omo_b_coupon cp
              ON cp.code = c.value OR (strpos(c.value, '-') > 0 AND cp.code = split_part(c.value, '-', 1))
            WHERE c.value <> ''
            ORDER BY c.n, (cp.code = c.value) DESC
            LIMIT 1
        ) cp ON true
        LEFT JOIN _omo_b_clerk cc ON cc.id = cp.clerk_id
        LEFT JOIN _omo_b_ref r ON r.order_id = o.id
        LEFT JOIN _omo_b_clerk cart
          ON r.kind = 'clerk' AND cart.id = r.ref_id AND r.signed_at BETWEEN o.since AND o.placed_at
        LEFT JOIN LATERAL (
            SELECT last.id, last.clicked_at, last.clerk_id
            FROM (
                (SELECT k.id, k.clicked_at, k.clerk_id FROM {click} k
                 WHERE pos.id IS NULL AND cc.id IS NULL AND NOT odd.has_odd AND o.customer_id IS NOT NULL
                   AND {counted} AND k.customer_id = o.customer_id
                   AND k.clicked_at BETWEEN o.since AND o.placed_at
                 ORDER BY k.clicked_at DESC, k.id DESC LIMIT 1)
                UNION ALL
                (SELECT k.id, k.clicked_at, k.clerk_id FROM {click} k
                 WHERE pos.id IS NULL AND cc.id IS NULL AND NOT odd.has_odd AND r.kind = 'link'
                   AND {counted} AND k.link_id = r.ref_id
                   AND k.clicked_at BETWEEN o.since AND o.placed_at
                 ORDER BY k.clicked_at DESC, k.id DESC LIMIT 1)
            ) last
            ORDER BY last.clicked_at DESC, last.id DESC
            LIMIT 1
        ) k ON true
        LEFT JOIN _omo_b_clerk kc ON kc.id = k.clerk_id
    ),
    d AS (
        SELECT x.*, bd.started_at AS bound_at, bcl.id AS bound_id, bcl.name AS bound_name,
               coalesce(bd.store_id, bcl.store_id) AS bound_store
        FROM x {bound}
    ),
    decided AS (
        SELECT d.id AS order_id, d.python, d.placed_at, d.subtotal, d.discount_total, d.status,
            CASE d.rule
                WHEN 'pos_staff' THEN 'pos_staff'
                WHEN 'clerk_coupon' THEN 'clerk_coupon'
                WHEN 'cart' THEN 'link_click'
                WHEN 'click' THEN 'link_click'
                ELSE CASE WHEN d.bound_id IS NOT NULL THEN 'bound_clerk' ELSE 'none' END
            END AS rule,
            CASE d.rule
                WHEN 'pos_staff' THEN d.pos_id
                WHEN 'clerk_coupon' THEN d.coupon_id
                WHEN 'cart' THEN d.cart_id
                WHEN 'click' THEN d.click_clerk
                ELSE d.bound_id
            END AS clerk_id,
            CASE d.rule
                WHEN 'pos_staff' THEN coalesce(d.store_id, d.pos_store)
                WHEN 'clerk_coupon' THEN d.coupon_store
                WHEN 'cart' THEN d.cart_store
                WHEN 'click' THEN d.click_store
                ELSE d.bound_store
            END AS store_id,
            CASE WHEN d.rule = 'click' THEN d.click_id END AS click_id,
            left(CASE d.rule
                WHEN 'pos_staff' THEN
                    '門市 POS 訂單由' || d.pos_name || '結帳'
                    || CASE WHEN d.pos_code <> '' THEN '（員工編號 ' || d.pos_code || '）' ELSE '' END
                    || '，POS 銷售人員優先歸屬'
                WHEN 'clerk_coupon' THEN '訂單使用' || d.coupon_name || '的專屬優惠碼 ' || d.coupon_value
                WHEN 'cart' THEN
                    '顧客透過' || d.cart_name || '於 ' || to_char(d.cart_at AT TIME ZONE %(zone)s, 'FMMM/FMDD')
                    || ' 傳送的購物車連結結帳（' || zh_ago.text || '），'
                    || %(window_days)s::text || ' 天內最後一次導購連結'
                WHEN 'click' THEN
                    '顧客於 ' || to_char(d.clicked_at AT TIME ZONE %(zone)s, 'FMMM/FMDD') || ' 點擊'
                    || d.click_name || '傳送的商品卡片（' || zh_ago.text || '），'
                    || %(window_days)s::text || ' 天內最後一次導購點擊'
                ELSE CASE WHEN d.bound_id IS NOT NULL THEN
                    '顧客自 ' || to_char(d.bound_at AT TIME ZONE %(zone)s, 'YYYY/MM/DD') || ' 綁定'
                    || d.bound_name || '，品牌設定由綁定店員取得業績'
                ELSE
                    '無店員歸屬：沒有 POS 銷售人員、店員優惠碼或 ' || %(window_days)s::text || ' 天內的導購點擊'
                END
            END, 300) AS reason_zh,
            left(CASE d.rule
                WHEN 'pos_staff' THEN
                    'In-store POS sale rung up by ' || d.pos_name
                    || CASE WHEN d.pos_code <> '' THEN ' (staff id ' || d.pos_code || ')' ELSE '' END
                    || '; the POS staff id comes first'
                WHEN 'clerk_coupon' THEN
                    'The order used ' || d.coupon_name || '''s clerk coupon code ' || d.coupon_value
                WHEN 'cart' THEN
                    'Customer checked out the cart ' || d.cart_name || ' sent on '
                    || to_char(d.cart_at AT TIME ZONE %(zone)s, 'FMDD Mon') || ' (' || en_ago.text
                    || '), the last clerk link within ' || %(window_days)s::text || ' days'
                WHEN 'click' THEN
                    'Customer clicked ' || d.click_name || '''s product card on '
                    || to_char(d.clicked_at AT TIME ZONE %(zone)s, 'FMDD Mon') || ' (' || en_ago.text
                    || '), the last clerk link within ' || %(window_days)s::text || ' days'
                ELSE CASE WHEN d.bound_id IS NOT NULL THEN
                    'Customer bound to ' || d.bound_name || ' since '
                    || to_char(d.bound_at AT TIME ZONE %(zone)s, 'FMDD Mon YYYY')
                    || '; the brand credits the bound clerk'
                ELSE
                    'No clerk: no POS staff id, clerk coupon code or clerk link click within '
                    || %(window_days)s::text || ' days'
                END
            END, 300) AS reason_en
        FROM d
        CROSS JOIN LATERAL (
            SELECT (d.placed_at AT TIME ZONE %(zone)s)::date
                   - (CASE WHEN d.rule = 'cart' THEN d.cart_at ELSE d.clicked_at END AT TIME ZONE %(zone)s)::date
                   AS days
        ) ago
        CROSS JOIN LATERAL (
            SELECT CASE WHEN ago.days IS NULL OR ago.days <= 0 THEN '當天' ELSE ago.days || ' 天前' END AS text
        ) zh_ago
        CROSS JOIN LATERAL (
            SELECT CASE
                WHEN ago.days IS NULL OR ago.days <= 0 THEN 'the same day'
                ELSE ago.days || ' day' || CASE WHEN ago.days <> 1 THEN 's' ELSE '' END || ' before'
            END AS text
        ) en_ago
    )
    """


def _round_div(numerator: str, denominator: str) -> str:
    """SQL for services.commission.round_div: integer division rounding half away from zero, exact (numeric)."""
    n, d = f"({numerator})::numeric", f"({denominator})::numeric"
    return f"(CASE WHEN {d} = 0 THEN 0 ELSE sign({n}) * sign({d}) * div(2 * abs({n}) + abs({d}), 2 * abs({d})) END)"


def _statement(ctx: BrandContext) -> str:
    """Decide the chunk, write the attributions and the sale entries (conflicts ignored), and say what
    was decided: one row per rule (count, attributions written), plus the entries written and the
    orders left to the Python path."""
    line = OrderLine._meta.db_table
    product = Product._meta.db_table
    net = "greatest(0, c.subtotal - c.discount_total)"
    line_basis = f"CASE WHEN c.subtotal <> 0 THEN {_round_div(f'l.total * {net}', 'c.subtotal')} ELSE 0 END"
    return f"""
    {_decision_sql(ctx)},
    written AS (
        INSERT INTO {Attribution._meta.db_table}
            (brand_id, order_id, clerk_id, store_id, rule, click_id, reason_zh, reason_en, decided_at)
        SELECT %(brand)s, order_id, clerk_id, store_id, rule, click_id, reason_zh, reason_en, %(now)s
        FROM decided WHERE NOT python
        ORDER BY order_id
        ON CONFLICT (order_id) DO NOTHING
        RETURNING rule
    ),
    credited AS (
        SELECT order_id, clerk_id, store_id, placed_at, subtotal, discount_total,
               (placed_at AT TIME ZONE %(zone)s)::date AS local_day
        FROM decided
        WHERE NOT python AND clerk_id IS NOT NULL AND status <> %(cancelled)s
    ),
    line_amounts AS (
        SELECT c.order_id, c.clerk_id, c.local_day, b.basis,
               CASE WHEN rate.id IS NULL THEN 0
                    WHEN rate.fixed THEN rate.fixed_amount * l.quantity
                    ELSE {_round_div("b.basis * rate.rate_bp", "10000")}
               END AS amount
        FROM credited c
        LEFT JOIN LATERAL (
            SELECT l.total, l.quantity, p.category_id
            FROM {line} l LEFT JOIN {product} p ON p.id = l.product_id
            WHERE l.brand_id = %(brand)s AND l.order_id = c.order_id
        ) l0 ON true
        CROSS JOIN LATERAL (
            SELECT CASE WHEN l0.total IS NULL THEN c.subtotal ELSE l0.total END AS total,
                   coalesce(l0.quantity, 0) AS quantity, l0.category_id
        ) l
        CROSS JOIN LATERAL (SELECT {line_basis} AS basis) b
        LEFT JOIN LATERAL (
            SELECT r.id, r.fixed, r.rate_bp, r.fixed_amount FROM _omo_b_rule r
            WHERE (r.clerk_id IS NULL OR r.clerk_id = c.clerk_id)
              AND (r.category_id IS NULL OR r.category_id = l.category_id)
              AND (r.store_id IS NULL OR r.store_id = c.store_id)
              AND r.starts_on <= c.local_day AND (r.ends_on IS NULL OR r.ends_on >= c.local_day)
            ORDER BY (CASE WHEN r.clerk_id IS NOT NULL THEN 4 ELSE 0 END
                      + CASE WHEN r.category_id IS NOT NULL THEN 2 ELSE 0 END
                      + CASE WHEN r.store_id IS NOT NULL THEN 1 ELSE 0 END) DESC,
                     r.starts_on DESC, r.id DESC
            LIMIT 1
        ) rate ON true
    ),
    entries AS (
        INSERT INTO {CommissionEntry._meta.db_table}
            (brand_id, clerk_id, order_id, refund_id, kind, basis, amount, month, created_at)
        SELECT %(brand)s, clerk_id, order_id, NULL, %(sale)s, sum(basis)::bigint, sum(amount)::bigint,
               date_trunc('month', local_day)::date, %(now)s
        FROM line_amounts
        GROUP BY order_id, clerk_id, local_day
        ORDER BY order_id
        ON CONFLICT (order_id, clerk_id) WHERE kind = 'sale' DO NOTHING
        RETURNING 1
    )
    SELECT 'rule' AS what, rule, count(*) AS n, NULL::bigint[] AS ids FROM decided WHERE NOT python GROUP BY rule
    UNION ALL SELECT 'written', NULL, count(*), NULL FROM written
    UNION ALL SELECT 'entries', NULL, count(*), NULL FROM entries
    UNION ALL SELECT 'python', NULL, count(*), array_agg(order_id ORDER BY order_id) FROM decided WHERE python
    """


def _workers(chunks: int) -> int:
    """Chunks run on this many connections at once: the server does the work, one core a statement.

    Only outside a transaction (a worker's connection could not see uncommitted rows of the caller)
    and never more than the machine's cores or OMO_ATTRIBUTION_WORKERS."""
    if chunks < 2 or connection.in_atomic_block:
        return 1
    wanted = int(os.environ.get("OMO_ATTRIBUTION_WORKERS", "0") or 0) or (os.cpu_count() or 1)
    return max(1, min(wanted, chunks, 4))


def attribute_chunks(ctx: BrandContext, chunks: list[Sequence[int]], stats: BatchStats) -> list[int]:
    """Every chunk, each in its own transaction; returns the ids left to the Python path, sorted.

    Chunks are disjoint, so chunks running at once on separate connections never touch the same
    rows; a concurrent run of the same orders meets the unique constraints and writes nothing twice.
    """
    left: list[int] = []
    workers = _workers(len(chunks))
    if workers == 1:
        for chunk in chunks:
            left += attribute_chunk(ctx, chunk, stats)
        return left

    from django.db import connections

    def run(chunk: Sequence[int]) -> tuple[BatchStats, list[int]]:
        from omo.attribution.services.batch import BatchStats

        mine = BatchStats()
        try:
            return mine, attribute_chunk(ctx, chunk, mine)
        finally:
            connections.close_all()  # this thread's connection

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="omo-attribution") as pool:
        for mine, ids in pool.map(run, chunks):
            stats.considered += mine.considered
            stats.attributed += mine.attributed
            stats.commission_entries += mine.commission_entries
            for rule, count in mine.by_rule.items():
                stats.by_rule[rule] += count
            left += ids
    return sorted(left)


def attribute_chunk(ctx: BrandContext, chunk: Sequence[int], stats: BatchStats) -> list[int]:
    """Decide and write one chunk (ids sorted) in one transaction; the ids left to the Python path."""
    from django.utils import timezone

    params: dict[str, Any] = {
        "brand": ctx.brand_id,
        "low": chunk[0],
        "high": chunk[-1],
        "ids": list(chunk),
        "zone": ctx.zone.key,
        "window_seconds": int(ctx.window.total_seconds()),
        "window_days": str(ctx.window_days),
        "space": _ASCII_SPACE,
        "cancelled": Order.Status.CANCELLED.value,
        "sale": CommissionEntry.Kind.SALE.value,
        "now": timezone.now(),
    }
    left: list[int] = []
    own_transaction = not connection.in_atomic_block
    with transaction.atomic(), connection.cursor() as cursor:
        if own_transaction:  # settings for this chunk's transaction only, never a caller's
            # The decided chunk and its sorts stay in memory (4 MB would spill a 20k chunk to disk).
            cursor.execute("SET LOCAL work_mem = '256MB'")
            # A chunk is re-derivable (a re-run decides what a lost commit did not keep), so its
            # commit need not wait for the WAL flush.
            cursor.execute("SET LOCAL synchronous_commit = off")
        # Inside a caller's transaction ON COMMIT DROP has not dropped the previous chunk's tables.
        cursor.execute(f"DROP TABLE IF EXISTS {', '.join(_STAGED)}")
        _stage_context(cursor, ctx)
        _stage_refs(cursor, ctx, params)
        cursor.execute(_statement(ctx), params)
        for what, rule, count, ids in cursor.fetchall():
            if what == "rule":
                stats.by_rule[rule] += count
                stats.considered += count
            elif what == "written":
                stats.attributed += count
            elif what == "entries":
                stats.commission_entries += count
            elif ids:
                left = list(ids)
    return left
