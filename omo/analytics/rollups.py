"""Keeping the sales rollups (omo/analytics/models.py) and reading the dashboard from them.

How the rollup stays exact:

- Sales and product cells change by deltas written in the same transaction as the order change
  (`add_orders`, `remove_order`, `refund_lines`), so a rolled-back order never counts and a
  committed one always does. Each writer locks the brand's `SalesRollup` row FOR SHARE and each
  chunk of a rebuild locks it FOR UPDATE: a delta lands either wholly before a chunk (which then
  reads its order) or after it. The upserts are the transaction's last statements, in key order, so writers
  hold the hot "today" rows briefly and never lock them crosswise.
- Customer activity is recomputed from the customer's orders after commit (`refresh_customers`,
  from the order and merge events), under a lock on the customer's activity rows; the histogram
  moves by the difference. Recomputing is idempotent, so repeating it is harmless.
- A deleted store or product moves its cells to "no store" / "unknown product" in the deleting
  transaction. A change of the brand's time zone moves every day: until a rebuild (a background
  task it asks for, or `omo rollups rebuild`) has run, the dashboard computes its figures from the
  orders themselves, so it is never wrong, only slower.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from omo.analytics import selectors
from omo.analytics.models import (
    NO_STORE,
    UNKNOWN_PRODUCT,
    WHOLE_BRAND,
    CustomerActivity,
    CustomerDay,
    ProductSalesDay,
    SalesDay,
    SalesRollup,
)
from omo.catalog.models import Product
from omo.commerce.models import Order, OrderLine, SalesChannel
from omo.core import bulk
from omo.core.models import Brand
from omo.staff.models import Store

logger = logging.getLogger(__name__)

CANCELLED = Order.Status.CANCELLED
# A rebuild asked for this long ago and not done (the worker was down) is asked for again.
REBUILD_RETRY = dt.timedelta(minutes=15)
_UPSERT_CHUNK = 200  # rows per INSERT … ON CONFLICT (SQLite allows 32766 parameters)
_STREAM_CHUNK = 20_000  # rows read and written at a time by a rebuild


def _trunc_div(numerator: int, denominator: int) -> int:
    """Integer division truncating toward zero, as SQL divides integers."""
    quotient = abs(numerator) // denominator
    return quotient if numerator >= 0 else -quotient


def line_net(total: int, quantity: int, refunded_quantity: int) -> int:
    """A line's revenue after refunded units, exactly as selectors.LINE_NET computes it in SQL."""
    return total - _trunc_div(total * refunded_quantity, quantity)


# --- writing: the state lock and the upserts -----------------------------------------------------


def _writable_zone(brand_id: int) -> ZoneInfo | None:
    """Lock the brand's rollup FOR SHARE and return the time zone its days are in; None when no
    build has started (nothing to keep up to date: the build will read every order)."""
    table = connection.ops.quote_name(SalesRollup._meta.db_table)
    sql = f"SELECT time_zone FROM {table} WHERE brand_id = %s AND time_zone <> ''"  # noqa: S608
    if connection.vendor == "postgresql":
        sql += " FOR SHARE"
    with connection.cursor() as cursor:
        cursor.execute(sql, [brand_id])
        row = cursor.fetchone()
    return ZoneInfo(row[0]) if row else None


# The counters of each rollup table, which `_add` adds to; its key is the table's unique key.
_VALUES: dict[type, tuple[str, ...]] = {
    SalesDay: ("orders", "net"),
    ProductSalesDay: ("revenue", "units", "lines"),
    CustomerDay: ("customers", "omo_customers"),
    CustomerActivity: (),  # rows only created (to be locked), never added to
}


def _keys(model: type) -> tuple[str, ...]:
    (unique,) = model._meta.constraints
    return tuple(name for name in unique.fields if name != "brand")


def _cells(model: type) -> defaultdict[tuple, list[int]]:
    """Deltas to add to `model`, by key: each starts at zero for every counter."""
    width = len(_VALUES[model])
    return defaultdict(lambda: [0] * width)


def _add(model: type, brand_id: int, cells: Mapping[tuple, Sequence[int]]) -> None:
    """Add `cells` ({key tuple: counter deltas}) to the rows of `model`, creating missing ones; for
    a model without counters, only create the missing rows.

    One INSERT … ON CONFLICT per chunk on the model's unique key, rows in key order (the lock
    order)."""
    keys, values = _keys(model), _VALUES[model]
    rows = [(key, deltas) for key, deltas in sorted(cells.items()) if not values or any(deltas)]
    if not rows:
        return
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    columns = ["brand_id", *keys, *values]
    (unique,) = model._meta.constraints
    target = ", ".join(quote(model._meta.get_field(name).column) for name in unique.fields)
    if values:
        action = "DO UPDATE SET " + ", ".join(
            f"{quote(v)} = {table}.{quote(v)} + excluded.{quote(v)}" for v in values
        )
    else:
        action = "DO NOTHING"
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), _UPSERT_CHUNK):
            chunk = rows[start : start + _UPSERT_CHUNK]
            params: list[Any] = []
            for key, deltas in chunk:
                params.extend([brand_id, *(_param(part) for part in key), *deltas])
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(quote(c) for c in columns)}) "
                f"VALUES {', '.join([placeholders] * len(chunk))} ON CONFLICT ({target}) {action}",
                params,
            )


def _move(model: type, brand_id: int, rows: Any, **new_key: int) -> None:
    """Fold `rows` (a queryset of `model`) into the rows whose key has `new_key` in place of theirs."""
    keys, values = _keys(model), _VALUES[model]
    cells = _cells(model)
    for row in rows.values_list(*keys, *values):
        found = dict(zip(keys, row, strict=False))
        cell = cells[tuple(new_key.get(name, found[name]) for name in keys)]
        for index, delta in enumerate(row[len(keys) :]):
            cell[index] += delta
    _add(model, brand_id, cells)
    rows.delete()


def _place(order: Order, zone: ZoneInfo) -> tuple[dt.date, int]:
    """The (local day, store key) an order is counted under."""
    return order.placed_at.astimezone(zone).date(), order.store_id or NO_STORE


def _param(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.date) else value


def _get(row: Any, name: str) -> Any:
    return row[name] if isinstance(row, Mapping) else getattr(row, name)


def add_orders(brand_id: int, orders: Sequence[Order], lines: Iterable[Any]) -> None:
    """Count newly written orders and their lines (OrderLine instances or column dicts).

    Call inside the recording transaction, after its other writes."""
    if not orders:
        return
    zone = _writable_zone(brand_id)
    if zone is None:
        return
    sales = _cells(SalesDay)
    cell_of: dict[int, tuple[dt.date, int]] = {}
    for order in orders:
        if order.status == CANCELLED:
            continue
        day, store = _place(order, zone)
        cell = sales[(day, store, str(order.sales_channel))]
        cell[0] += 1
        cell[1] += order.total - order.refunded_total
        cell_of[order.pk] = (day, store)
    products = _cells(ProductSalesDay)
    for line in lines:
        quantity = _get(line, "quantity")
        place = cell_of.get(_get(line, "order_id"))
        if place is None or quantity <= 0:
            continue
        refunded = _get(line, "refunded_quantity")
        cell = products[(*place, _get(line, "product_id") or UNKNOWN_PRODUCT)]
        cell[0] += line_net(_get(line, "total"), quantity, refunded)
        cell[1] += quantity - refunded
        cell[2] += 1
    _add(SalesDay, brand_id, sales)
    _add(ProductSalesDay, brand_id, products)


def remove_order(order: Order) -> None:
    """An order was cancelled: take back all it counted. Inside the cancelling transaction."""
    zone = _writable_zone(order.brand_id)
    if zone is None:
        return
    day, store = _place(order, zone)
    _add(
        SalesDay,
        order.brand_id,
        {(day, store, order.sales_channel): [-1, -(order.total - order.refunded_total)]},
    )
    products = _cells(ProductSalesDay)
    for product_id, quantity, total, refunded in OrderLine.objects.filter(
        order_id=order.pk, quantity__gt=0
    ).values_list("product_id", "quantity", "total", "refunded_quantity"):
        cell = products[(day, store, product_id or UNKNOWN_PRODUCT)]
        cell[0] -= line_net(total, quantity, refunded)
        cell[1] -= quantity - refunded
        cell[2] -= 1
    _add(ProductSalesDay, order.brand_id, products)


def refund_lines(order: Order, amount: int, lines: Iterable[tuple[OrderLine, int]]) -> None:
    """`amount` was refunded on `order`, `lines` as (line before the refund, units refunded)."""
    zone = _writable_zone(order.brand_id)
    if zone is None:
        return
    day, store = _place(order, zone)
    _add(SalesDay, order.brand_id, {(day, store, order.sales_channel): [0, -amount]})
    refunded: dict[int, int] = defaultdict(int)
    by_id: dict[int, OrderLine] = {}
    for line, units in lines:
        refunded[line.pk] += units
        by_id[line.pk] = line
    products = _cells(ProductSalesDay)
    for line_id, units in refunded.items():
        line = by_id[line_id]
        if line.quantity <= 0:
            continue
        before = line_net(line.total, line.quantity, line.refunded_quantity)
        after = line_net(line.total, line.quantity, line.refunded_quantity + units)
        cell = products[(day, store, line.product_id or UNKNOWN_PRODUCT)]
        cell[0] += after - before
        cell[1] -= units
    _add(ProductSalesDay, order.brand_id, products)


def forget_product(brand_id: int, product_id: int) -> None:
    """A product was deleted: its lines now have no product, so its cells join "unknown product".
    Inside the deleting transaction (after the lines' product was set to NULL)."""
    if _writable_zone(brand_id) is None:
        return
    _move(
        ProductSalesDay,
        brand_id,
        ProductSalesDay.objects.filter(brand_id=brand_id, product_id=product_id),
        product_id=UNKNOWN_PRODUCT,
    )


def forget_store(brand_id: int, store_id: int) -> None:
    """A store was deleted: its orders now have no store, so its cells join "no store", and no one
    is scoped to it any more. Inside the deleting transaction."""
    if _writable_zone(brand_id) is None:
        return
    for model in (SalesDay, ProductSalesDay):
        _move(model, brand_id, model.objects.filter(brand_id=brand_id, store_id=store_id), store_id=NO_STORE)
    CustomerActivity.objects.filter(brand_id=brand_id, scope=store_id).delete()
    CustomerDay.objects.filter(brand_id=brand_id, scope=store_id).delete()


# --- customers: recomputed from their orders ------------------------------------------------------


@dataclass(frozen=True)
class _Activity:
    customer_id: int
    scope: int
    last_order_day: dt.date | None
    last_online_day: dt.date | None
    last_in_store_day: dt.date | None

    @property
    def omo_day(self) -> dt.date | None:
        """The last day by which the customer had bought both online and in store."""
        if self.last_online_day is None or self.last_in_store_day is None:
            return None
        return min(self.last_online_day, self.last_in_store_day)


def _activities(orders, zone: ZoneInfo) -> Iterator[_Activity]:
    """Per customer, in customer order: an activity per store they bought in and the whole brand."""
    rows = (
        orders.exclude(status=CANCELLED)
        .filter(customer_id__isnull=False)
        .order_by()
        .values("customer_id", "store_id")
        .annotate(
            last=Max("placed_at"),
            online=Max("placed_at", filter=Q(sales_channel__in=selectors.ONLINE_CHANNELS)),
            in_store=Max("placed_at", filter=Q(sales_channel__in=selectors.IN_STORE_CHANNELS)),
        )
        .order_by("customer_id")
        .values_list("customer_id", "store_id", "last", "online", "in_store")
    )

    def local(at: dt.datetime | None) -> dt.date | None:
        return at.astimezone(zone).date() if at is not None else None

    def later(a: dt.date | None, b: dt.date | None) -> dt.date | None:
        return b if a is None else a if b is None else max(a, b)

    current: int | None = None
    overall: list[dt.date | None] = [None, None, None]
    for customer_id, store_id, last, online, in_store in rows.iterator(chunk_size=_STREAM_CHUNK):
        if customer_id != current:
            if current is not None:
                yield _Activity(current, WHOLE_BRAND, *overall)
            current, overall = customer_id, [None, None, None]
        days = (local(last), local(online), local(in_store))
        overall = [later(a, b) for a, b in zip(overall, days, strict=True)]
        if store_id is not None:
            yield _Activity(customer_id, store_id, *days)
    if current is not None:
        yield _Activity(current, WHOLE_BRAND, *overall)


def _count(histogram: Counter, activity: _Activity, sign: int) -> None:
    if activity.last_order_day is not None:
        histogram[(activity.scope, activity.last_order_day, 0)] += sign
    omo_day = activity.omo_day
    if omo_day is not None:
        histogram[(activity.scope, omo_day, 1)] += sign


def _add_histogram(brand_id: int, histogram: Counter) -> None:
    cells = _cells(CustomerDay)
    for (scope, day, kind), count in histogram.items():
        cells[(scope, day)][kind] += count
    _add(CustomerDay, brand_id, cells)


def refresh_customers(brand_id: int, customer_ids: Iterable[int | None]) -> None:
    """Recompute these customers' activity from their orders and move the histogram to match."""
    ids = sorted({pk for pk in customer_ids if pk is not None})
    if not ids:
        return
    with transaction.atomic():
        zone = _writable_zone(brand_id)
        if zone is None:
            return
        for start in range(0, len(ids), 1000):
            _refresh_chunk(brand_id, zone, ids[start : start + 1000])


def _refresh_chunk(brand_id: int, zone: ZoneInfo, ids: list[int]) -> None:
    # A whole-brand row for each customer to lock (a new customer has none yet), then every row
    # of these customers locked in key order: concurrent refreshes of a customer take turns.
    _add(CustomerActivity, brand_id, {(pk, WHOLE_BRAND): [] for pk in ids})
    list(
        CustomerActivity.objects.select_for_update()
        .filter(brand_id=brand_id, customer_id__in=ids)
        .order_by("customer_id", "scope")
        .values_list("pk", flat=True)
    )
    _recompute_customers(brand_id, zone, Q(customer_id__in=ids))


def _recompute_customers(brand_id: int, zone: ZoneInfo, customers: Q) -> int:
    """Replace the activity of the `customers` (a filter on customer_id) with what their orders
    say, moving the histogram by the difference. The caller holds the locks."""
    old = CustomerActivity.objects.filter(customers, brand_id=brand_id).values_list(
        "customer_id", "scope", "last_order_day", "last_online_day", "last_in_store_day"
    )
    histogram: Counter = Counter()
    for row in old:
        _count(histogram, _Activity(*row), -1)
    new = []
    for activity in _activities(Order.objects.filter(customers, brand_id=brand_id), zone):
        _count(histogram, activity, +1)
        new.append(_activity_row(brand_id, activity))
    CustomerActivity.objects.filter(customers, brand_id=brand_id).delete()
    bulk.insert_rows(CustomerActivity, new, need_ids=False)
    _add_histogram(brand_id, histogram)
    return len(new)


def _activity_row(brand_id: int, activity: _Activity) -> dict[str, Any]:
    return {
        "brand_id": brand_id,
        "customer_id": activity.customer_id,
        "scope": activity.scope,
        "last_order_day": activity.last_order_day,
        "last_online_day": activity.last_online_day,
        "last_in_store_day": activity.last_in_store_day,
    }


# --- rebuilding ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RebuildResult:
    sales_rows: int
    product_rows: int
    customer_rows: int
    seconds: float


# A rebuild works in short transactions, each holding the brand's writers for one chunk. Measured
# at `large` (~29k orders a day): a day takes 0.5-0.9 s, 20,000 customers ~1.4 s. Larger chunks
# are faster per day (60 days: 12 s, a hash join instead of index look-ups) but hold writers
# longer; the demo seed, which has no other writers, uses them.
DAYS_PER_CHUNK = 1
CUSTOMERS_PER_CHUNK = 20_000


def rebuild(
    brand: Brand, *, days_per_chunk: int | None = None, customers_per_chunk: int | None = None
) -> RebuildResult:
    """Recompute the brand's rollup from its orders, a chunk of days or customers at a time.

    First the rollup switches to the brand's time zone and stops being read (the dashboard reads
    the orders meanwhile); from then on every writer adds its deltas in that zone. Each chunk then
    replaces its cells (days) or activity (customers) with what the orders say, under the state
    row's FOR UPDATE lock: a writer's delta lands wholly before the chunk (which reads its order
    and replaces the cell) or after it. When every chunk is done, the rollup is read again."""
    started = timezone.now()
    zone = ZoneInfo(brand.time_zone)
    with transaction.atomic():
        SalesRollup.objects.get_or_create(brand=brand)
        # rebuild_requested_at: dashboard views meanwhile do not ask for another rebuild
        SalesRollup.objects.select_for_update().filter(pk=brand.pk).update(
            time_zone=brand.time_zone, built_at=None, rebuild_requested_at=started
        )
    sales_rows = product_rows = customer_rows = 0
    days_per_chunk = days_per_chunk or DAYS_PER_CHUNK
    customers_per_chunk = customers_per_chunk or CUSTOMERS_PER_CHUNK
    for first, last in _day_chunks(brand, zone, days_per_chunk):
        with transaction.atomic():
            _lock_for_rebuild(brand.pk)
            sales, products = _rebuild_days(brand, zone, first, last)
        sales_rows, product_rows = sales_rows + sales, product_rows + products
    for low, high in _customer_chunks(brand, customers_per_chunk):
        with transaction.atomic():
            _lock_for_rebuild(brand.pk)
            customer_rows += _recompute_customers(
                brand.pk, zone, Q(customer_id__gte=low, customer_id__lt=high)
            )
    # Done, unless the time zone changed again meanwhile (then the rebuild that change asked for
    # starts over).
    SalesRollup.objects.filter(pk=brand.pk, time_zone=brand.time_zone).update(
        built_at=timezone.now(), rebuild_requested_at=None
    )
    seconds = (timezone.now() - started).total_seconds()
    logger.info("sales rollup of brand %s rebuilt in %.1f s", brand.pk, seconds)
    return RebuildResult(sales_rows, product_rows, customer_rows, seconds)


def _lock_for_rebuild(brand_id: int) -> None:
    SalesRollup.objects.select_for_update().filter(pk=brand_id).values_list("pk", flat=True).first()


def _day_chunks(brand: Brand, zone: ZoneInfo, size: int) -> Iterator[tuple[dt.date, dt.date]]:
    """Runs of `size` local days covering every order and every existing cell."""
    bounds = Order.objects.filter(brand=brand).aggregate(first=Min("placed_at"), last=Max("placed_at"))
    days = [at.astimezone(zone).date() for at in (bounds["first"], bounds["last"]) if at is not None]
    for model in (SalesDay, ProductSalesDay):  # cells of days no order is on any more, or in another zone
        cells = model.objects.filter(brand=brand).aggregate(first=Min("day"), last=Max("day"))
        days += [day for day in (cells["first"], cells["last"]) if day is not None]
    if not days:
        return
    day, end = min(days), max(days)
    while day <= end:
        yield day, min(day + dt.timedelta(days=size - 1), end)
        day += dt.timedelta(days=size)


def _rebuild_days(brand: Brand, zone: ZoneInfo, first: dt.date, last: dt.date) -> tuple[int, int]:
    """Replace the sales and product cells of the local days first..last."""
    start = dt.datetime.combine(first, dt.time.min, tzinfo=zone)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time.min, tzinfo=zone)
    for model in (SalesDay, ProductSalesDay):
        model.objects.filter(brand=brand, day__gte=first, day__lte=last).delete()
    counted = Order.objects.filter(brand=brand, placed_at__gte=start, placed_at__lt=end).exclude(
        status=CANCELLED
    )
    sales = [
        {
            "brand_id": brand.pk,
            "day": row["day"],
            "store_id": row["store_id"] or NO_STORE,
            "sales_channel": row["sales_channel"],
            "orders": row["orders"],
            "net": row["net"],
        }
        for row in counted.order_by()
        .annotate(day=TruncDate("placed_at", tzinfo=zone))
        .values("day", "store_id", "sales_channel")
        .annotate(orders=Count("id"), net=Sum(selectors.NET))
    ]
    bulk.insert_rows(SalesDay, sales, need_ids=False)
    products = [
        {
            "brand_id": brand.pk,
            "day": row["day"],
            "store_id": row["order__store_id"] or NO_STORE,
            "product_id": row["product_id"] or UNKNOWN_PRODUCT,
            "revenue": row["revenue"],
            "units": row["units"],
            "lines": row["lines"],
        }
        for row in OrderLine.objects.filter(
            brand=brand, placed_at__gte=start, placed_at__lt=end, quantity__gt=0
        )
        .exclude(order__status=CANCELLED)
        .annotate(day=TruncDate("placed_at", tzinfo=zone))
        .values("day", "order__store_id", "product_id")
        .annotate(revenue=Sum(selectors.LINE_NET), units=Sum(selectors.LINE_UNITS), lines=Count("id"))
        .order_by()
    ]
    bulk.insert_rows(ProductSalesDay, products, need_ids=False)
    return len(sales), len(products)


def _customer_chunks(brand: Brand, size: int) -> Iterator[tuple[int, int]]:
    """Blocks of `size` customer ids covering every ordering customer and every existing activity
    row."""
    ids = []
    for model in (Order, CustomerActivity):
        bounds = model.objects.filter(brand=brand, customer_id__isnull=False).aggregate(
            first=Min("customer_id"), last=Max("customer_id")
        )
        ids += [pk for pk in (bounds["first"], bounds["last"]) if pk is not None]
    if not ids:
        return
    low, end = min(ids), max(ids)
    while low <= end:
        yield low, low + size
        low += size


def request_rebuild(brand_id: int, *, known: bool = True) -> bool:
    """Queue a rebuild unless one was asked for recently. True when one was queued.

    `known=False`: the caller saw no state row, so one is created (one statement either way)."""
    now = timezone.now()
    if not known:
        asked = len(
            SalesRollup.objects.bulk_create(
                [SalesRollup(brand_id=brand_id, rebuild_requested_at=now)], ignore_conflicts=True
            )
        )
    else:
        asked = SalesRollup.objects.filter(
            Q(rebuild_requested_at__isnull=True) | Q(rebuild_requested_at__lt=now - REBUILD_RETRY),
            brand_id=brand_id,
        ).update(rebuild_requested_at=now)
    if asked:
        _enqueue_rebuild(brand_id)
    return bool(asked)


def _enqueue_rebuild(brand_id: int) -> None:
    from omo.analytics.tasks import rebuild_sales_rollup  # the task module imports this one

    transaction.on_commit(lambda: rebuild_sales_rollup.enqueue(brand_id))


def ready(brand: Brand) -> bool:
    """Whether the dashboard can read the rollup; if not, a rebuild is asked for."""
    state = SalesRollup.objects.filter(brand=brand).values("built_at", "time_zone").first()
    if state and state["built_at"] is not None and state["time_zone"] == brand.time_zone:
        return True
    request_rebuild(brand.pk, known=state is not None)
    return False


# --- reading ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figures:
    summary: selectors.SalesSummary
    daily: selectors.DailySales
    by_store: list[selectors.StoreSales]
    products: list[selectors.ProductSales]
    from_rollup: bool


def figures(brand: Brand, period: selectors.Period, *, store_id: int | None = None, top: int = 10) -> Figures:
    """The dashboard's figures: from the rollup when it is ready, otherwise from the orders."""
    if not ready(brand):
        return Figures(
            summary=selectors.sales_summary(brand, period, store_id=store_id),
            daily=selectors.daily_sales_by_channel(brand, period, store_id=store_id),
            by_store=selectors.sales_by_store(brand, period, store_id=store_id),
            products=selectors.top_products(brand, period, store_id=store_id, limit=top),
            from_rollup=False,
        )
    return Figures(
        summary=sales_summary(brand, period, store_id=store_id),
        daily=daily_sales_by_channel(brand, period, store_id=store_id),
        by_store=sales_by_store(brand, period, store_id=store_id),
        products=top_products(brand, period, store_id=store_id, limit=top),
        from_rollup=True,
    )


def _days(model: type, brand: Brand, period: selectors.Period):
    days = period.days
    return model.objects.filter(brand=brand, day__gte=days[0], day__lte=days[-1]).order_by()


def sales_summary(
    brand: Brand, period: selectors.Period, *, store_id: int | None = None
) -> selectors.SalesSummary:
    """selectors.sales_summary from the rollup. Three queries."""
    sales = _days(SalesDay, brand, period)
    if store_id is not None:
        sales = sales.filter(store_id=store_id)
    totals = sales.aggregate(net=Sum("net", default=0), orders=Sum("orders", default=0))
    customers = (
        _days(CustomerDay, brand, period)
        .filter(scope=store_id or WHOLE_BRAND)
        .aggregate(customers=Sum("customers", default=0), omo=Sum("omo_customers", default=0))
    )
    return selectors.SalesSummary(
        net_sales=totals["net"],
        orders=totals["orders"],
        average_order_value=selectors.rounded_division(totals["net"], totals["orders"]),
        customers_ordered=customers["customers"],
        new_customers=selectors.new_customers(brand, period, store_id=store_id),
        omo_customers=customers["omo"],
    )


def daily_sales_by_channel(
    brand: Brand, period: selectors.Period, *, store_id: int | None = None
) -> selectors.DailySales:
    sales = _days(SalesDay, brand, period)
    if store_id is not None:
        sales = sales.filter(store_id=store_id)
    days = period.days
    position = {day: index for index, day in enumerate(days)}
    by_channel: dict[str, list[int]] = {}
    for row in sales.values("day", "sales_channel").annotate(net=Sum("net"), orders=Sum("orders")):
        if not row["orders"]:
            continue  # every order of the cell was cancelled since
        series = by_channel.setdefault(row["sales_channel"], [0] * len(days))
        series[position[row["day"]]] += row["net"] or 0
    ordered = {channel: by_channel[channel] for channel in SalesChannel.values if channel in by_channel}
    return selectors.DailySales(days=days, by_channel=ordered)


def sales_by_store(
    brand: Brand, period: selectors.Period, *, store_id: int | None = None
) -> list[selectors.StoreSales]:
    sales = _days(SalesDay, brand, period)
    if store_id is not None:
        sales = sales.filter(store_id=store_id)
    rows = [
        row for row in sales.values("store_id").annotate(net=Sum("net"), count=Sum("orders")) if row["count"]
    ]  # a handful of stores: ordered below, the way the orders' query orders them
    names = dict(
        (pk, (name, name_en))
        for pk, name, name_en in Store.objects.filter(
            brand=brand, pk__in=[row["store_id"] for row in rows if row["store_id"] != NO_STORE]
        ).values_list("pk", "name", "name_en")
    )
    result = []
    for row in rows:
        pk = None if row["store_id"] == NO_STORE else row["store_id"]
        name, name_en = names.get(pk, ("", ""))
        result.append(
            selectors.StoreSales(
                store_id=pk, name=name, name_en=name_en, net_sales=row["net"] or 0, orders=row["count"]
            )
        )
    # the orders' order: largest first, then "no store" (NULL) where the live query puts it
    return sorted(result, key=lambda s: (-s.net_sales, s.store_id is None, s.store_id or 0))


def top_products(
    brand: Brand, period: selectors.Period, *, store_id: int | None = None, limit: int = 10
) -> list[selectors.ProductSales]:
    products = _days(ProductSalesDay, brand, period)
    if store_id is not None:
        products = products.filter(store_id=store_id)
    rows = list(
        products.values("product_id")
        .annotate(revenue=Sum("revenue"), units=Sum("units"), counted=Sum("lines"))
        .filter(counted__gt=0)  # products whose every line was cancelled since are not sold
        .order_by("-revenue", "product_id")[:limit]
    )
    ids = [row["product_id"] for row in rows if row["product_id"] != UNKNOWN_PRODUCT]
    titles = {
        pk: (title, title_en)
        for pk, title, title_en in Product.objects.filter(brand=brand, pk__in=ids).values_list(
            "pk", "title", "title_en"
        )
    }
    result = []
    for row in rows:
        pk = None if row["product_id"] == UNKNOWN_PRODUCT else row["product_id"]
        title, title_en = titles.get(pk, ("", ""))
        result.append(
            selectors.ProductSales(
                product_id=pk,
                title=title,
                title_en=title_en,
                revenue=row["revenue"] or 0,
                units=row["units"] or 0,
            )
        )
    return result
