"""Clerk and store leaderboards (業績排行) for a period in the brand's time zone.

Each board is a handful of grouped queries whatever the number of clerks or stores (about six):
attributions, cards sent, bindings, first replies, and the names. The figures, exactly:

- **Attributed sales**: for orders *placed* in the period and attributed to the clerk (or store),
  the sum of ``total − refunded_total`` in minor units; cancelled orders count nothing. Refunds are
  netted whenever they happened (a refund next month lowers this month's figure).
- **Orders**: the number of those orders, not counting cancelled or fully refunded ones.
- **Bound customers**: distinct customers whose binding to the clerk was in force at the close of
  the period (binding history: started before the period's end, not ended before it).
- **Card → order conversion**: (orders of the count above attributed by the clerk-link rule, i.e. a
  product-card click or a clerk's cart link) ÷ (product-card messages and cart-link messages the
  clerk sent in the period, failed sends excluded). One card message counts once however many
  products it carries. Empty when nothing was sent. The orders need not come from the very cards
  counted (a click in the window before the period counts too), so the ratio can exceed 100%.
- **Median first reply**: for each customer message in the period that *started a wait* (the
  conversation's previous customer-or-staff message was a staff reply, or there was none), the time
  until the first staff reply after it in that conversation (an outbound message with a sender; bot
  and automation messages have none and do not end a wait; failed sends do not count). The wait is
  credited to the staff member who replied; the reply may come after the period. Waits never
  answered are left out. Computed with ``percentile_cont`` on PostgreSQL, in Python on SQLite.

Stores: sales and orders by the store the attribution credits (the POS store, else the clerk's
store at the decision); bound customers by the binding's store; cards and replies by the sender's
current store.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from django.db import connection
from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.utils import timezone

from omo.attribution.models import Attribution
from omo.attribution.selectors import brand_zone
from omo.binding.models import Binding
from omo.commerce.models import Order
from omo.core.models import Brand
from omo.inbox.models import Message
from omo.staff.models import Store, User
from omo.staff.roles import Role

PERIODS = ("this_month", "last_month", "last_30_days")
DEFAULT_PERIOD = "this_month"
CLERK_ROLES = (Role.CLERK, Role.STORE_MANAGER)

# Sortable columns; the first direction is the natural one ("best first").
SORTS: dict[str, bool] = {  # column -> descending by default
    "name": False,
    "sales": True,
    "orders": True,
    "bound": True,
    "conversion": True,
    "reply": False,
}
DEFAULT_SORT = "sales"


@dataclass(frozen=True)
class Period:
    key: str
    start: dt.datetime
    end: dt.datetime  # exclusive
    zone: ZoneInfo

    @property
    def first_day(self) -> dt.date:
        return self.start.astimezone(self.zone).date()

    @property
    def last_day(self) -> dt.date:
        return (self.end.astimezone(self.zone) - dt.timedelta(days=1)).date()


def period_for(brand: Brand, key: str | None = None, *, now: dt.datetime | None = None) -> Period:
    """this_month (default), last_month, or last_30_days (today and the 29 days before), in the brand's
    time zone. ValueError for any other key."""
    key = key or DEFAULT_PERIOD
    zone = brand_zone(brand)
    today = timezone.localtime(now or timezone.now(), zone).date()

    def midnight(day: dt.date) -> dt.datetime:
        return dt.datetime.combine(day, dt.time.min, tzinfo=zone)

    first_of_month = today.replace(day=1)
    if key == "this_month":
        next_month = (first_of_month + dt.timedelta(days=32)).replace(day=1)
        return Period(key, midnight(first_of_month), midnight(next_month), zone)
    if key == "last_month":
        previous = (first_of_month - dt.timedelta(days=1)).replace(day=1)
        return Period(key, midnight(previous), midnight(first_of_month), zone)
    if key == "last_30_days":
        return Period(
            key, midnight(today - dt.timedelta(days=29)), midnight(today + dt.timedelta(days=1)), zone
        )
    raise ValueError(f"period must be one of {', '.join(PERIODS)}")


@dataclass
class LeaderRow:
    id: int
    name: str
    store_id: int | None = None
    store_name: str = ""
    is_active: bool = True
    sales: int = 0
    orders: int = 0
    link_orders: int = 0
    cards_sent: int = 0
    bound_customers: int = 0
    median_reply_seconds: float | None = None
    replies: int = 0
    rank: int = 0

    @property
    def conversion(self) -> float | None:
        """Orders through a clerk link ÷ product cards and cart links sent; None when none were sent."""
        return self.link_orders / self.cards_sent if self.cards_sent else None

    @property
    def has_figures(self) -> bool:
        return bool(self.sales or self.orders or self.cards_sent or self.bound_customers or self.replies)


# --- the grouped reads -------------------------------------------------------------------------------------


def _attributions(brand: Brand, period: Period) -> QuerySet[Attribution]:
    return (
        Attribution.objects.filter(
            brand=brand,
            clerk__isnull=False,
            order__placed_at__gte=period.start,
            order__placed_at__lt=period.end,
        )
        .exclude(order__status=Order.Status.CANCELLED)
        .order_by()
    )


def _sales_by(queryset: QuerySet[Attribution], key: str) -> dict[int, dict[str, int]]:
    counted = ~Q(order__status=Order.Status.REFUNDED)
    rows = queryset.values(key).annotate(
        sales=Sum(F("order__total") - F("order__refunded_total")),
        orders=Count("id", filter=counted),
        link_orders=Count("id", filter=counted & Q(rule=Attribution.Rule.LINK_CLICK)),
    )
    return {row[key]: row for row in rows if row[key] is not None}


def cards_sent(brand: Brand, period: Period) -> QuerySet[Message]:
    """Product-card messages and cart-link messages staff sent in the period (failed sends excluded)."""
    return (
        Message.objects.filter(
            brand=brand,
            direction=Message.Direction.OUTBOUND,
            sender__isnull=False,
            created_at__gte=period.start,
            created_at__lt=period.end,
        )
        .filter(Q(kind=Message.Kind.FLEX, payload__has_key="cards") | Q(payload__has_key="cart_token"))
        .exclude(status=Message.Status.FAILED)
        .order_by()
    )


def bindings_in_force(brand: Brand, period: Period) -> QuerySet[Binding]:
    """Bindings in force at the close of the period, from the binding history."""
    return (
        Binding.objects.filter(brand=brand, started_at__lt=period.end)
        .filter(Q(ended_at__isnull=True) | Q(ended_at__gte=period.end))
        .order_by()
    )


def _counts(queryset: QuerySet, key: str, counted: str = "id", *, distinct: bool = False) -> dict[int, int]:
    rows = queryset.values(key).annotate(n=Count(counted, distinct=distinct)).values_list(key, "n")
    return {k: n for k, n in rows if k is not None}


# --- first replies -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReplyTimes:
    """Median seconds to the first staff reply, and how many waits it is over, per replier and per store."""

    by_user: dict[int, tuple[float, int]] = field(default_factory=dict)
    by_store: dict[int, tuple[float, int]] = field(default_factory=dict)


_REPLY_SQL = """
WITH waits AS (
    SELECT m.created_at AS asked_at, reply.sender_id AS replier_id, reply.created_at AS replied_at
    FROM {message} m
    LEFT JOIN LATERAL (
        SELECT p.direction FROM {message} p
        WHERE p.conversation_id = m.conversation_id
          AND (p.direction = 'in' OR (p.direction = 'out' AND p.sender_id IS NOT NULL AND p.status <> 'failed'))
          AND (p.created_at, p.id) < (m.created_at, m.id)
        ORDER BY p.created_at DESC, p.id DESC
        LIMIT 1
    ) prev ON TRUE
    JOIN LATERAL (
        SELECT r.sender_id, r.created_at FROM {message} r
        WHERE r.conversation_id = m.conversation_id
          AND r.direction = 'out' AND r.sender_id IS NOT NULL AND r.status <> 'failed'
          AND (r.created_at, r.id) > (m.created_at, m.id)
        ORDER BY r.created_at, r.id
        LIMIT 1
    ) reply ON TRUE
    WHERE m.brand_id = %s AND m.direction = 'in' AND m.created_at >= %s AND m.created_at < %s
      AND (prev.direction IS NULL OR prev.direction = 'out')
)
SELECT GROUPING(w.replier_id) AS per_store, w.replier_id, u.store_id,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY EXTRACT(EPOCH FROM w.replied_at - w.asked_at)),
       COUNT(*)
FROM waits w JOIN {user} u ON u.id = w.replier_id
GROUP BY GROUPING SETS ((w.replier_id, u.store_id), (u.store_id))
"""


def _reply_times_sql(brand: Brand, period: Period) -> ReplyTimes:
    sql = _REPLY_SQL.format(
        message=connection.ops.quote_name(Message._meta.db_table),
        user=connection.ops.quote_name(User._meta.db_table),
    )
    times = ReplyTimes()
    with connection.cursor() as cursor:
        cursor.execute(sql, [brand.pk, period.start, period.end])
        for per_store, replier_id, store_id, median, n in cursor.fetchall():
            if per_store:
                if store_id is not None:
                    times.by_store[store_id] = (float(median), n)
            else:
                times.by_user[replier_id] = (float(median), n)
    return times


def wait_rows(
    brand: Brand, period: Period
) -> QuerySet[Message, tuple[int, int | None, dt.datetime, dt.datetime]]:
    """One row per customer message that started a wait in the period and was answered:
    (replier id, replier's store id, asked at, replied at). Portable SQL (correlated subqueries)."""
    outbound_staff = Q(direction=Message.Direction.OUTBOUND, sender__isnull=False) & ~Q(
        status=Message.Status.FAILED
    )
    same_conversation = Message.objects.filter(conversation_id=OuterRef("conversation_id"))
    previous = (
        same_conversation.filter(Q(direction=Message.Direction.INBOUND) | outbound_staff)
        .filter(
            Q(created_at__lt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), id__lt=OuterRef("id"))
        )
        .order_by("-created_at", "-id")
    )
    reply = (
        same_conversation.filter(outbound_staff)
        .filter(
            Q(created_at__gt=OuterRef("created_at"))
            | Q(created_at=OuterRef("created_at"), id__gt=OuterRef("id"))
        )
        .order_by("created_at", "id")
    )
    return (
        Message.objects.filter(
            brand=brand,
            direction=Message.Direction.INBOUND,
            created_at__gte=period.start,
            created_at__lt=period.end,
        )
        .annotate(
            previous_direction=Subquery(previous.values("direction")[:1]),
            replier_id=Subquery(reply.values("sender_id")[:1]),
            replier_store_id=Subquery(reply.values("sender__store_id")[:1]),
            replied_at=Subquery(reply.values("created_at")[:1]),
        )
        .filter(Q(previous_direction__isnull=True) | Q(previous_direction=Message.Direction.OUTBOUND))
        .filter(replier_id__isnull=False)
        .order_by()
        .values_list("replier_id", "replier_store_id", "created_at", "replied_at")
    )


def _medians(waits: dict[int, list[float]]) -> dict[int, tuple[float, int]]:
    return {key: (float(statistics.median(values)), len(values)) for key, values in waits.items() if values}


def _reply_times_python(brand: Brand, period: Period) -> ReplyTimes:
    by_user: dict[int, list[float]] = defaultdict(list)
    by_store: dict[int, list[float]] = defaultdict(list)
    for replier_id, store_id, asked_at, replied_at in wait_rows(brand, period):
        seconds = (replied_at - asked_at).total_seconds()
        by_user[replier_id].append(seconds)
        if store_id is not None:
            by_store[store_id].append(seconds)
    return ReplyTimes(_medians(by_user), _medians(by_store))


def reply_times(brand: Brand, period: Period) -> ReplyTimes:
    """First-reply medians in one query: in SQL on PostgreSQL, the median in Python elsewhere."""
    if connection.vendor == "postgresql":
        return _reply_times_sql(brand, period)
    return _reply_times_python(brand, period)


# --- the boards --------------------------------------------------------------------------------------------


def clerk_board(brand: Brand, period: Period, *, store_id: int | None = None) -> list[LeaderRow]:
    """One row per clerk and store manager (ranked by sales); `store_id` keeps that store's clerks only.

    Clerks who have left appear while they still have figures in the period.
    """
    attributions = _attributions(brand, period)
    cards = cards_sent(brand, period)
    bindings = bindings_in_force(brand, period)
    staff = User.objects.filter(brand=brand, role__in=CLERK_ROLES)
    if store_id is not None:
        attributions = attributions.filter(clerk__store_id=store_id)
        cards = cards.filter(sender__store_id=store_id)
        bindings = bindings.filter(clerk__store_id=store_id)
        staff = staff.filter(store_id=store_id)
    sales = _sales_by(attributions, "clerk_id")
    sent = _counts(cards, "sender_id")
    bound = _counts(bindings, "clerk_id", "customer_id", distinct=True)
    replies = reply_times(brand, period).by_user
    rows = []
    for user_id, name, username, user_store_id, store_name, is_active in staff.values_list(
        "id", "display_name", "username", "store_id", "store__name", "is_active"
    ):
        row = LeaderRow(user_id, name or username, user_store_id, store_name or "", is_active)
        _fill(row, sales.get(user_id), sent.get(user_id, 0), bound.get(user_id, 0), replies.get(user_id))
        if is_active or row.has_figures:
            rows.append(row)
    return sort_rows(rows)


def store_board(brand: Brand, period: Period, *, store_id: int | None = None) -> list[LeaderRow]:
    """One row per store (ranked by sales); `store_id` keeps that store's row only."""
    attributions = _attributions(brand, period)
    cards = cards_sent(brand, period).annotate(store_key=F("sender__store_id"))
    bindings = bindings_in_force(brand, period).annotate(store_key=Coalesce("store_id", "clerk__store_id"))
    stores = Store.objects.filter(brand=brand)
    if store_id is not None:
        attributions = attributions.filter(store_id=store_id)
        cards = cards.filter(store_key=store_id)
        bindings = bindings.filter(store_key=store_id)
        stores = stores.filter(pk=store_id)
    sales = _sales_by(attributions, "store_id")
    sent = _counts(cards, "store_key")
    bound = _counts(bindings, "store_key", "customer_id", distinct=True)
    replies = reply_times(brand, period).by_store
    rows = []
    for pk, name, is_active in stores.values_list("id", "name", "is_active"):
        row = LeaderRow(pk, name, pk, name, is_active)
        _fill(row, sales.get(pk), sent.get(pk, 0), bound.get(pk, 0), replies.get(pk))
        if is_active or row.has_figures:
            rows.append(row)
    return sort_rows(rows)


def _fill(
    row: LeaderRow,
    sales: dict[str, int] | None,
    cards: int,
    bound: int,
    reply: tuple[float, int] | None,
) -> None:
    if sales is not None:
        row.sales = int(sales["sales"] or 0)
        row.orders = sales["orders"]
        row.link_orders = sales["link_orders"]
    row.cards_sent = cards
    row.bound_customers = bound
    if reply is not None:
        row.median_reply_seconds, row.replies = reply


def _sort_value(row: LeaderRow, column: str) -> float | str | None:
    values: dict[str, float | str | None] = {
        "name": row.name,
        "sales": row.sales,
        "orders": row.orders,
        "bound": row.bound_customers,
        "conversion": row.conversion,
        "reply": row.median_reply_seconds,
    }
    return values[column]


def sort_rows(
    rows: Iterable[LeaderRow], column: str = DEFAULT_SORT, descending: bool | None = None
) -> list[LeaderRow]:
    """Rows ordered by a column (unknown columns sort by sales), empty values last either way; ties by
    sales then name. `rank` is set to the position in that order."""
    if column not in SORTS:
        column = DEFAULT_SORT
    if descending is None:
        descending = SORTS[column]
    present: list[tuple[float | str, LeaderRow]] = []
    missing: list[LeaderRow] = []
    for row in sorted(rows, key=lambda r: (-r.sales, r.name, r.id)):
        value = _sort_value(row, column)
        if value is None:
            missing.append(row)
        else:
            present.append((value, row))
    present.sort(key=lambda pair: pair[0], reverse=descending)  # stable: ties keep sales order
    result = [row for _, row in present] + missing
    for position, row in enumerate(result, start=1):
        row.rank = position
    return result


@dataclass(frozen=True)
class Rank:
    position: int
    of: int
    sales: int


def clerk_rank(brand: Brand, clerk: User, period: Period) -> Rank | None:
    """The clerk's place by attributed sales among the brand's clerks and store managers (ties share
    a place), in two queries. None for staff who are not on the board."""
    if clerk.role not in CLERK_ROLES or clerk.brand_id != brand.pk:
        return None
    sales = {
        clerk_id: int(total or 0)
        for clerk_id, total in _attributions(brand, period)
        .values("clerk_id")
        .annotate(total=Sum(F("order__total") - F("order__refunded_total")))
        .values_list("clerk_id", "total")
    }
    board = set(
        User.objects.filter(brand=brand, role__in=CLERK_ROLES)
        .filter(Q(is_active=True) | Q(pk__in=list(sales)))
        .values_list("id", flat=True)
    )
    board.add(clerk.pk)
    mine = sales.get(clerk.pk, 0)
    ahead = sum(1 for user_id in board if sales.get(user_id, 0) > mine)
    return Rank(ahead + 1, len(board), mine)
