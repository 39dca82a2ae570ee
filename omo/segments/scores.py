"""RFM scores and lifecycle groups for every customer of a brand (`CustomerScore`), set-wise.

`compute_scores(brand, now=...)` runs in four steps, each a fixed number of statements per chunk of
customers, so memory stays flat and the number of queries does not grow with the brand until it
passes a chunk:

1. per chunk of customers (not merged, not erased), in customer-id order: the database aggregates
   their counted orders (count, net spend, last 12 months, first and last order, online and in-store
   orders); the rows are upserted into `CustomerScore` with the recency in the brand's calendar days
   and the channel mix. Scores of merged or erased customers are deleted.
2. the brand's repurchase interval: the median gap in calendar days between consecutive order days
   of the same customer, measured by the database with a window function (omo.segments.repurchase).
3. the quintile cut points of recency, frequency and monetary among buyers, and the 12-month spend
   that enters the top 20%: nearest-rank percentiles, each one `ORDER BY … LIMIT 1 OFFSET k`.
4. two UPDATEs over the brand's rows write the scores, the named segment and the groups
   (omo.segments.rfm's CASE expressions); the run is recorded in `ScoreRun`.

`rescore_customers(brand_id, ids)` does the same for a few customers (after an order, a merge...)
against the cut points and interval of the brand's last run, in Python with the same rules.

Counted orders are those the sales rollups count: not cancelled, placed by now; refunds reduce the
net spend. "Online" is the built-in shop, external web shops and marketplaces; "in store" is POS.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from django.db import transaction
from django.db.models import Count, F, Max, Min, Q, QuerySet, Sum
from django.utils import timezone

from omo.commerce.models import Order, SalesChannel
from omo.core import bulk
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.segments import repurchase, rfm, score_writes
from omo.segments.models import CustomerScore, ScoreRun

ONLINE_CHANNELS: tuple[str, ...] = (
    SalesChannel.WEB_SHOP,
    SalesChannel.EXTERNAL_WEB,
    SalesChannel.MARKETPLACE,
)
IN_STORE_CHANNELS: tuple[str, ...] = (SalesChannel.POS,)
COUNTED_STATUSES: tuple[str, ...] = tuple(s for s in Order.Status.values if s != Order.Status.CANCELLED)
YEAR = dt.timedelta(days=365)  # "12 months": the 365 days before now
CHUNK = 5000  # customers aggregated and upserted at a time

# What a customer's update writes besides the aggregates (score_writes.UPDATED).
_SCORE_FIELDS = ("r", "f", "m", "rfm_segment", "value_group", "activity", "top20")


@dataclass(frozen=True)
class Thresholds:
    r: list[int]  # recency days, ascending
    f: list[int]  # counted orders
    m: list[int]  # net spend, minor units
    top20: int | None  # 12-month spend that enters the top 20%; None when nobody spent

    def as_json(self) -> dict[str, Any]:
        return {"r": self.r, "f": self.f, "m": self.m, "top20": self.top20}

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> Thresholds:
        return cls(
            r=list(value.get("r") or []),
            f=list(value.get("f") or []),
            m=list(value.get("m") or []),
            top20=value.get("top20"),
        )


@dataclass(frozen=True)
class ScoreSummary:
    brand_id: int
    computed_at: dt.datetime
    customers: int
    buyers: int
    repurchase: repurchase.Interval
    thresholds: Thresholds
    counts: dict[str, int]
    seconds: float


def eligible_customers(brand_id: int) -> QuerySet[Customer]:
    """The customers that have a score: the brand's, neither merged into another nor erased."""
    return Customer.objects.filter(brand_id=brand_id, merged_into__isnull=True, erased_at__isnull=True)


def _aggregated(customers: QuerySet[Customer], now: dt.datetime) -> QuerySet[Any, tuple[Any, ...]]:
    counted = Q(orders__status__in=COUNTED_STATUSES, orders__placed_at__lte=now)
    recent = counted & Q(orders__placed_at__gt=now - YEAR)
    net = F("orders__total") - F("orders__refunded_total")
    return customers.annotate(
        n_orders=Count("orders", filter=counted),
        n_spend=Sum(net, filter=counted),
        n_orders_12m=Count("orders", filter=recent),
        n_spend_12m=Sum(net, filter=recent),
        n_first=Min("orders__placed_at", filter=counted),
        n_last=Max("orders__placed_at", filter=counted),
        n_online=Count("orders", filter=counted & Q(orders__sales_channel__in=ONLINE_CHANNELS)),
        n_store=Count("orders", filter=counted & Q(orders__sales_channel__in=IN_STORE_CHANNELS)),
    ).values_list(
        "pk", "n_orders", "n_spend", "n_orders_12m", "n_spend_12m", "n_first", "n_last", "n_online", "n_store"
    )


def _values(brand_id: int, values: tuple, today: dt.date, zone: ZoneInfo, now: dt.datetime) -> tuple:
    """One aggregate row as score_writes.COLUMNS."""
    pk, orders, spend, orders_12m, spend_12m, first, last, online, store = values
    recency = None if last is None else max((today - last.astimezone(zone).date()).days, 0)
    return (
        brand_id,
        pk,
        orders,
        int(spend or 0),
        orders_12m,
        int(spend_12m or 0),
        first,
        last,
        recency,
        rfm.channel_mix(online, store),
        now,
    )


def _row(brand_id: int, values: tuple, today: dt.date, zone: ZoneInfo, now: dt.datetime) -> CustomerScore:
    return bulk.new(
        CustomerScore,
        dict(zip(score_writes.COLUMNS, _values(brand_id, values, today, zone, now), strict=True)),
    )


def _upsert(rows: list[CustomerScore], fields: Iterable[str]) -> None:
    CustomerScore.objects.bulk_create(
        rows, update_conflicts=True, unique_fields=["customer"], update_fields=list(fields), batch_size=1000
    )


def _write_aggregates(brand: Brand, zone: ZoneInfo, now: dt.datetime, chunk: int) -> int:
    """Step 1. Returns the number of customers scored."""
    today = now.astimezone(zone).date()
    CustomerScore.objects.filter(brand=brand).filter(
        Q(customer__merged_into__isnull=False) | Q(customer__erased_at__isnull=False)
    ).delete()
    last_pk, written = 0, 0
    while True:
        values = list(
            _aggregated(eligible_customers(brand.pk).filter(pk__gt=last_pk), now).order_by("pk")[:chunk]
        )
        if not values:
            return written
        with transaction.atomic():
            score_writes.upsert_aggregates([_values(brand.pk, row, today, zone, now) for row in values])
        written += len(values)
        last_pk = values[-1][0]
        if len(values) < chunk:
            return written


def _cut_points(values: QuerySet[CustomerScore], column: str, n: int, shares: Iterable[float]) -> list[int]:
    """Nearest-rank percentiles of `column` (ascending; `-column` for descending) among `n` rows."""
    ordered = values.order_by(column, "customer_id").values_list(column.lstrip("-"), flat=True)
    return [int(ordered[max(math.ceil(share * n) - 1, 0)]) for share in shares]


QUINTILES = (0.2, 0.4, 0.6, 0.8)


def _thresholds(brand: Brand) -> tuple[Thresholds, int]:
    """Step 3: the cut points among buyers, and the number of buyers."""
    buyers = CustomerScore.objects.filter(brand=brand, orders__gt=0)
    n = buyers.count()
    if n == 0:
        return Thresholds([], [], [], None), 0
    spenders = CustomerScore.objects.filter(brand=brand, spend_12m__gt=0)
    n_spenders = spenders.count()
    top = _cut_points(spenders, "-spend_12m", n_spenders, (rfm.TOP_SHARE,))[0] if n_spenders else None
    return (
        Thresholds(
            r=_cut_points(buyers, "recency_days", n, QUINTILES),
            f=_cut_points(buyers, "orders", n, QUINTILES),
            m=_cut_points(buyers, "spend", n, QUINTILES),
            top20=top,
        ),
        n,
    )


def _apply_scores(brand: Brand, thresholds: Thresholds, repurchase_days: int) -> None:
    """Step 4: the scores, then what is read from them."""
    rows = CustomerScore.objects.filter(brand=brand)
    if thresholds.r:
        rows.update(
            r=rfm.quintile_sql("recency_days", thresholds.r, reverse=True),
            f=rfm.quintile_sql("orders", thresholds.f),
            m=rfm.quintile_sql("spend", thresholds.m),
            activity=rfm.activity_sql(repurchase_days),
            top20=rfm.top20_sql(thresholds.top20),
        )
    else:
        rows.update(r=0, f=0, m=0, activity=rfm.Activity.PROSPECT, top20=False)
    # rfm_segment and value_group read the r, f, m just written (an UPDATE reads the old values of
    # the columns it sets, so value_group reads r, f, m too, not rfm_segment).
    rows.update(rfm_segment=rfm.named_segment_sql(), value_group=rfm.value_group_sql())


def group_counts(brand_id: int) -> dict[str, int]:
    """How many customers are in each group and named segment, in one query."""
    filters: dict[str, Q] = {
        "customers": Q(),
        "buyers": Q(orders__gt=0),
        "top20": Q(top20=True),
    }
    for name in (rfm.ValueGroup.LOYAL, rfm.ValueGroup.GENERAL, rfm.ValueGroup.POTENTIAL):
        filters[f"value_group.{name}"] = Q(value_group=name)
    for name in (rfm.Activity.ACTIVE, rfm.Activity.DORMANT, rfm.Activity.PROSPECT):
        filters[f"activity.{name}"] = Q(activity=name)
    for name in (rfm.ChannelMix.OMO, rfm.ChannelMix.ONLINE, rfm.ChannelMix.STORE, rfm.ChannelMix.NONE):
        filters[f"channel_mix.{name}"] = Q(channel_mix=name)
    for key in rfm.SEGMENT_KEYS:
        filters[f"rfm.{key}"] = Q(rfm_segment=key)
    rows = CustomerScore.objects.filter(
        brand_id=brand_id, customer__merged_into__isnull=True, customer__erased_at__isnull=True
    )
    counted = rows.aggregate(**{name: Count("pk", filter=q) for name, q in filters.items()})
    return {name: int(value or 0) for name, value in counted.items()}


def compute_scores(brand: Brand, *, now: dt.datetime | None = None, chunk: int = CHUNK) -> ScoreSummary:
    """Score every customer of the brand (see the module docstring) and record the run."""
    started = time.perf_counter()
    now = now or timezone.now()
    zone = ZoneInfo(brand.time_zone)
    ScoreRun.objects.get_or_create(brand=brand)
    ScoreRun.objects.filter(brand=brand).update(requested_at=None)
    customers = _write_aggregates(brand, zone, now, chunk)
    interval = repurchase.measure(brand, zone, now, counted=COUNTED_STATUSES)
    thresholds, buyers = _thresholds(brand)
    with transaction.atomic():
        _apply_scores(brand, thresholds, interval.days)
        counts = group_counts(brand.pk)
        seconds = round(time.perf_counter() - started, 3)
        ScoreRun.objects.filter(brand=brand).update(
            computed_at=now,
            repurchase_days=interval.days,
            repurchase_measured=interval.measured,
            repurchase_gaps=interval.gaps,
            thresholds=thresholds.as_json(),
            counts=counts,
            seconds=seconds,
        )
    from omo.segments import ready_made  # ready_made reads the run this module writes

    ready_made.ensure_ready_made(brand)
    ready_made.mark_stale(brand.pk, now)
    return ScoreSummary(brand.pk, now, customers, buyers, interval, thresholds, counts, seconds)


def last_run(brand_id: int) -> ScoreRun | None:
    return ScoreRun.objects.filter(brand_id=brand_id, computed_at__isnull=False).first()


def rescore_customers(
    brand_id: int, customer_ids: Iterable[int | None], *, now: dt.datetime | None = None
) -> int:
    """Update these customers' rows against the brand's last run (its cut points and interval).

    Nothing happens before a brand's first run (the nightly pass or 立即重新計算 does it all). A
    merged or erased customer loses their row. Returns the rows written."""
    ids = sorted({pk for pk in customer_ids if pk is not None})
    run = last_run(brand_id)
    if not ids or run is None:
        return 0
    now = now or timezone.now()
    brand = Brand.objects.get(pk=brand_id)
    zone = ZoneInfo(brand.time_zone)
    today = now.astimezone(zone).date()
    thresholds = Thresholds.from_json(run.thresholds)
    written = 0
    with transaction.atomic():
        CustomerScore.objects.filter(brand_id=brand_id, customer_id__in=ids).exclude(
            customer__in=eligible_customers(brand_id)
        ).delete()
        for start in range(0, len(ids), CHUNK):
            values = _aggregated(eligible_customers(brand_id).filter(pk__in=ids[start : start + CHUNK]), now)
            rows = [_scored(_row(brand_id, row, today, zone, now), thresholds, run) for row in values]
            _upsert(rows, score_writes.UPDATED + _SCORE_FIELDS)
            written += len(rows)
    if written:
        from omo.segments import ready_made

        ready_made.mark_stale(brand_id, now)
    return written


def _scored(row: CustomerScore, thresholds: Thresholds, run: ScoreRun) -> CustomerScore:
    """The Python twin of `_apply_scores` for one row."""
    if row.orders == 0 or not thresholds.r:
        row.r = row.f = row.m = 0
    else:
        row.r = rfm.quintile(row.recency_days or 0, thresholds.r, reverse=True)
        row.f = rfm.quintile(row.orders, thresholds.f)
        row.m = rfm.quintile(row.spend, thresholds.m)
    row.rfm_segment = rfm.named_segment(row.r, row.f, row.m)
    row.value_group = rfm.value_group(row.orders, row.rfm_segment)
    row.activity = (
        rfm.activity(row.recency_days, run.repurchase_days) if row.orders else rfm.Activity.PROSPECT
    )
    row.top20 = rfm.in_top20(row.spend_12m, thresholds.top20)
    return row
