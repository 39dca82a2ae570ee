"""Loyalty verbs: points earned, redeemed, reversed, expired and adjusted; tiers; coupons.

Balances: every change inserts one PointsEntry and moves LoyaltyAccount.balance with a single
conditional UPDATE (`balance + delta >= 0`) in the same transaction, so concurrent redemptions can
never overdraw and the balance always equals the ledger sum. Coupon codes use the same pattern
(`times_used < max_uses`), so a single-use code is redeemed at most once under any concurrency.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, connection, transaction
from django.db.models import Case, F, Q, Sum, When
from django.utils import timezone

from omo.core import audit, bulk, events
from omo.core.audit import Actor
from omo.core.errors import DomainError
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.loyalty import spend
from omo.loyalty.models import (
    Coupon,
    CouponCode,
    CouponRedemption,
    LoyaltyAccount,
    LoyaltyProgram,
    PointsEntry,
    Tier,
)


class LoyaltyError(DomainError, ValueError):
    def __init__(self, field: str, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message, field=field, status=status, code=code)


class InsufficientPoints(LoyaltyError):
    def __init__(self, requested: int, balance: int):
        super().__init__("points", f"{requested} points requested, balance is {balance}", status=409)
        self.requested = requested
        self.balance = balance


class CouponError(LoyaltyError):
    def __init__(self, message: str):
        super().__init__("coupon_code", message)


def program_for(brand: Brand | int) -> LoyaltyProgram:
    brand_id = brand if isinstance(brand, int) else brand.pk
    program, _ = LoyaltyProgram.objects.get_or_create(brand_id=brand_id)
    return program


def account_for(customer: Customer) -> LoyaltyAccount:
    account, _ = LoyaltyAccount.objects.get_or_create(
        customer=customer, defaults={"brand_id": customer.brand_id}
    )
    return account


# --- the ledger -------------------------------------------------------------------------------


def _post(
    customer: Customer,
    delta: int,
    kind: str,
    *,
    reason: str = "",
    order=None,
    key: str | None = None,
    expires_at: dt.datetime | None = None,
    user=None,
    at: dt.datetime | None = None,
) -> PointsEntry | None:
    """Insert one ledger entry and move the balance. Returns None when `key` was already posted."""
    if delta == 0:
        return None
    account = account_for(customer)
    if key is not None:
        existing = PointsEntry.objects.filter(brand_id=customer.brand_id, idempotency_key=key).first()
        if existing is not None:
            return None
    with transaction.atomic():
        try:
            with transaction.atomic():
                entry = PointsEntry.objects.create(
                    brand_id=customer.brand_id,
                    customer=customer,
                    delta=delta,
                    kind=kind,
                    order=order,
                    reason=reason[:250],
                    idempotency_key=key,
                    expires_at=expires_at,
                    actor=user if user is not None and getattr(user, "pk", None) else None,
                    created_at=at or timezone.now(),
                )
        except IntegrityError:
            if (
                key is not None
                and PointsEntry.objects.filter(brand_id=customer.brand_id, idempotency_key=key).exists()
            ):
                return None  # a concurrent call posted the same thing
            raise
        moved = LoyaltyAccount.objects.filter(pk=account.pk, balance__gte=-delta).update(
            balance=F("balance") + delta,
            lifetime_earned=F("lifetime_earned") + (delta if kind == PointsEntry.Kind.EARN else 0),
        )
        if not moved:
            account.refresh_from_db(fields=["balance"])
            raise InsufficientPoints(-delta, account.balance)
    account.refresh_from_db(fields=["balance"])
    events.publish(
        "points.changed",
        brand_id=customer.brand_id,
        customer_id=customer.pk,
        delta=delta,
        balance=account.balance,
    )
    events.publish("points.posted", brand_id=customer.brand_id, entry_ids=[entry.pk])
    return entry


def points_for_amount(program: LoyaltyProgram, amount: int, multiplier_percent: int = 100) -> int:
    if amount <= 0:
        return 0
    base = (amount // program.earn_per_amount) * program.earn_points
    return base * multiplier_percent // 100


def earn_for_order(order) -> PointsEntry | None:
    """Points for a paid order from any sales channel; once per order."""
    if order.customer_id is None:
        return None
    program = program_for(order.brand_id)
    account = account_for(order.customer)
    multiplier = account.tier.earn_multiplier_percent if account.tier is not None else 100
    eligible = order.total - order.shipping_total
    points = points_for_amount(program, eligible, multiplier)
    if points <= 0:
        return None
    earned_at = order.paid_at or order.placed_at
    expires = earned_at + relativedelta(months=program.expiry_months) if program.expiry_months else None
    return _post(
        order.customer,
        points,
        PointsEntry.Kind.EARN,
        order=order,
        key=f"earn:order:{order.pk}",
        reason=f"訂單 {order.display_number}",
        expires_at=expires,
        at=earned_at,
    )


def max_redeemable(program: LoyaltyProgram, subtotal: int, balance: int) -> int:
    cap_amount = subtotal * program.max_redeem_percent // 100
    return max(0, min(balance, cap_amount // program.point_value))


def redeem_for_order(order, points: int) -> int:
    """Spend points at checkout; returns the discount in minor units. Raises InsufficientPoints."""
    if points <= 0:
        return 0
    program = program_for(order.brand_id)
    _post(
        order.customer,
        -points,
        PointsEntry.Kind.REDEEM,
        order=order,
        key=f"redeem:order:{order.pk}",
        reason=f"訂單 {order.display_number} 折抵",
    )
    return points * program.point_value


def _posted(order, kind: str) -> int:
    return int(PointsEntry.objects.filter(order=order, kind=kind).aggregate(s=Sum("delta"))["s"] or 0)


def reverse_for_refund(order, refund) -> PointsEntry | None:
    """Take back the share of earned points that the refund represents (never below zero)."""
    if order.customer_id is None or order.total <= 0:
        return None
    earned = _posted(order, PointsEntry.Kind.EARN)
    if earned <= 0:
        return None
    already = -_posted(order, PointsEntry.Kind.REVERSE)
    target = min(earned, round(earned * order.refunded_total / order.total))
    to_reverse = target - already
    if to_reverse <= 0:
        return None
    balance = account_for(order.customer).balance
    to_reverse = min(to_reverse, balance)  # points already spent cannot be taken back
    return _post(
        order.customer,
        -to_reverse,
        PointsEntry.Kind.REVERSE,
        order=order,
        key=f"reverse:refund:{refund.pk}",
        reason=f"訂單 {order.display_number} 退款",
    )


def undo_for_cancellation(order) -> None:
    """A cancelled order earns nothing and gives back the points it spent."""
    if order.customer_id is None:
        return
    earned = _posted(order, PointsEntry.Kind.EARN) + _posted(order, PointsEntry.Kind.REVERSE)
    if earned > 0:
        balance = account_for(order.customer).balance
        _post(
            order.customer,
            -min(earned, balance),
            PointsEntry.Kind.REVERSE,
            order=order,
            key=f"reverse:cancel:{order.pk}",
            reason=f"訂單 {order.display_number} 取消",
        )
    spent = -_posted(order, PointsEntry.Kind.REDEEM)
    if spent > 0:
        program = program_for(order.brand_id)
        expires = (
            timezone.now() + relativedelta(months=program.expiry_months) if program.expiry_months else None
        )
        _post(
            order.customer,
            spent,
            PointsEntry.Kind.RESTORE,
            order=order,
            key=f"restore:cancel:{order.pk}",
            reason=f"訂單 {order.display_number} 取消退回點數",
            expires_at=expires,
        )


@transaction.atomic
def adjust_points(customer: Customer, delta: int, *, reason: str, actor: Actor) -> PointsEntry:
    if not reason or not reason.strip():
        raise LoyaltyError("reason", "a reason is required for a manual adjustment")
    if delta == 0:
        raise LoyaltyError("delta", "must not be zero")
    program = program_for(customer.brand_id)
    expires = (
        timezone.now() + relativedelta(months=program.expiry_months)
        if delta > 0 and program.expiry_months
        else None
    )
    entry = _post(
        customer, delta, PointsEntry.Kind.ADJUST, reason=reason.strip(), expires_at=expires, user=actor.user
    )
    assert entry is not None  # a non-zero delta without a key is always posted
    audit.record(actor, "points.adjusted", customer, delta=delta, reason=reason.strip())
    return entry


def expire_points(brand: Brand, *, now: dt.datetime | None = None) -> int:
    """Expire unused points whose lot passed its expiry date. Returns points expired.

    Points are spent oldest first, so what is left of the expired lots is
    (credits that have expired) - (all debits so far), when positive. Expire entries count as
    debits, so running this twice expires nothing more.
    """
    now = now or timezone.now()
    rows = (
        PointsEntry.objects.filter(brand=brand)
        .values("customer_id")
        .annotate(
            expired_credit=Sum(Case(When(Q(delta__gt=0, expires_at__lte=now), then=F("delta")), default=0)),
            debits=Sum(Case(When(delta__lt=0, then=-F("delta")), default=0)),
        )
        .filter(expired_credit__gt=F("debits"))
    )
    from omo.customers.models import Customer

    total = 0
    for row in rows:
        amount = int(row["expired_credit"] - row["debits"])
        customer = Customer.objects.get(pk=row["customer_id"])
        with transaction.atomic():
            if _post(
                customer,
                -amount,
                PointsEntry.Kind.EXPIRE,
                reason="點數到期",
                key=f"expire:{customer.pk}:{now:%Y%m%d%H%M%S}:{amount}",
                at=now,
            ):
                total += amount
    return total


# --- tiers ------------------------------------------------------------------------------------


def rolling_spend(customer: Customer, *, now: dt.datetime | None = None) -> int:
    program = program_for(customer.brand_id)
    since = (now or timezone.now()) - dt.timedelta(days=program.tier_window_days)
    spent = list(spend.spend_since(since).filter(customer_id=customer.pk).values_list("spend", flat=True))
    return int(spent[0] or 0) if spent else 0


def recompute_tier(customer: Customer, *, now: dt.datetime | None = None) -> LoyaltyAccount:
    account = account_for(customer)
    spent = rolling_spend(customer, now=now)
    tier = (
        Tier.objects.filter(brand_id=customer.brand_id, threshold__lte=spent).order_by("-threshold").first()
    )
    LoyaltyAccount.objects.filter(pk=account.pk).update(
        rolling_spend=spent, tier=tier, tier_updated_at=now or timezone.now()
    )
    account.refresh_from_db()
    return account


# --- coupons ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CouponQuote:
    code: CouponCode
    discount: int
    free_shipping: bool


def _find_code(brand: Brand | int, code: str) -> CouponCode:
    brand_id = brand if isinstance(brand, int) else brand.pk
    found = (
        CouponCode.objects.select_related("coupon")
        .filter(brand_id=brand_id, code__iexact=code.strip())
        .first()
    )
    if found is None:
        raise CouponError(f"優惠碼 {code} 不存在 / coupon code {code} does not exist")
    return found


def quote_coupon(
    brand: Brand | int,
    code: str,
    *,
    subtotal: int,
    shipping: int,
    customer=None,
    now: dt.datetime | None = None,
) -> CouponQuote:
    """What a code is worth on this cart, or CouponError saying why it cannot be used."""
    now = now or timezone.now()
    found = _find_code(brand, code)
    coupon = found.coupon
    if not coupon.is_active:
        raise CouponError(f"優惠碼 {found.code} 已停用 / coupon {found.code} is no longer active")
    if coupon.starts_at and now < coupon.starts_at:
        raise CouponError(f"優惠碼 {found.code} 尚未開始 / coupon {found.code} is not valid yet")
    if coupon.ends_at and now >= coupon.ends_at:
        raise CouponError(f"優惠碼 {found.code} 已過期 / coupon {found.code} has expired")
    if found.customer_id is not None and (customer is None or customer.pk != found.customer_id):
        raise CouponError(f"優惠碼 {found.code} 限本人使用 / coupon {found.code} belongs to another customer")
    if found.max_uses is not None and found.times_used >= found.max_uses:
        raise CouponError(f"優惠碼 {found.code} 已被使用完畢 / coupon {found.code} has been used up")
    if subtotal < coupon.min_spend:
        from omo.core.money import format_money

        raise CouponError(
            f"未達最低消費 {format_money(coupon.min_spend)} / minimum spend is {format_money(coupon.min_spend)}"
        )
    if coupon.kind == Coupon.Kind.AMOUNT_OFF:
        return CouponQuote(found, min(subtotal, coupon.value), False)
    if coupon.kind == Coupon.Kind.PERCENT_OFF:
        return CouponQuote(found, subtotal * coupon.value // 100, False)
    return CouponQuote(found, 0, True)


def redeem_coupon(quote: CouponQuote, *, order, amount: int) -> CouponRedemption:
    """Use the code once for this order; CouponError when a concurrent order took the last use."""
    code = quote.code
    taken = (
        CouponCode.objects.filter(pk=code.pk)
        .filter(Q(max_uses__isnull=True) | Q(times_used__lt=F("max_uses")))
        .update(times_used=F("times_used") + 1)
    )
    if not taken:
        raise CouponError(f"優惠碼 {code.code} 已被使用完畢 / coupon {code.code} has been used up")
    redemption = CouponRedemption.objects.create(
        brand_id=code.brand_id, code=code, order=order, customer=order.customer, amount=amount
    )
    events.publish("coupon.redeemed", brand_id=code.brand_id, redemption_id=redemption.pk)
    return redemption


def release_coupon(order) -> None:
    redemption = CouponRedemption.objects.filter(order=order).first()
    if redemption is None:
        return
    CouponCode.objects.filter(pk=redemption.code_id, times_used__gt=0).update(times_used=F("times_used") - 1)
    redemption.delete()


@transaction.atomic
def create_coupon(
    brand: Brand,
    *,
    actor: Actor,
    name: str,
    kind: str,
    value: int = 0,
    min_spend: int = 0,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
) -> Coupon:
    if kind not in Coupon.Kind.values:
        raise LoyaltyError("kind", f"must be one of {', '.join(Coupon.Kind.values)}")
    if value < 0:
        raise LoyaltyError("value", "must not be negative")
    if kind == Coupon.Kind.PERCENT_OFF and not 0 < value <= 100:
        raise LoyaltyError("value", "a percentage must be between 1 and 100")
    if kind == Coupon.Kind.AMOUNT_OFF and value <= 0:
        raise LoyaltyError("value", "an amount-off coupon needs a positive value")
    if min_spend < 0:
        raise LoyaltyError("min_spend", "must not be negative")
    if starts_at and ends_at and ends_at <= starts_at:
        raise LoyaltyError("ends_at", "must be after starts_at")
    coupon = Coupon.objects.create(
        brand=brand,
        name=name,
        kind=kind,
        value=value,
        min_spend=min_spend,
        starts_at=starts_at,
        ends_at=ends_at,
    )
    audit.record(actor, "coupon.created", coupon, name=name, kind=kind, value=value)
    return coupon


_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: codes are read aloud and typed


def _random_code(prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


@transaction.atomic
def add_shared_code(coupon: Coupon, *, code: str, max_uses: int | None, actor: Actor) -> CouponCode:
    code = code.strip().upper()
    if not code:
        raise LoyaltyError("code", "is required")
    if CouponCode.objects.filter(brand_id=coupon.brand_id, code__iexact=code).exists():
        raise LoyaltyError("code", f"{code} already exists", status=409)
    created = CouponCode.objects.create(brand_id=coupon.brand_id, coupon=coupon, code=code, max_uses=max_uses)
    audit.record(actor, "coupon.code_added", created, code=code, max_uses=max_uses)
    return created


@transaction.atomic
def issue_codes(coupon: Coupon, customers, *, actor: Actor | None, prefix: str = "") -> list[CouponCode]:
    """One single-use code per customer."""
    codes = [
        CouponCode(
            brand_id=coupon.brand_id, coupon=coupon, code=_random_code(prefix), customer=customer, max_uses=1
        )
        for customer in customers
    ]
    CouponCode.objects.bulk_create(codes)
    if actor is not None:
        audit.record(actor, "coupon.codes_issued", coupon, count=len(codes))
    issued = [code.pk for code in codes if code.customer_id is not None]
    if issued:
        events.publish("coupons.issued", brand_id=coupon.brand_id, code_ids=issued)
    return codes


def earn_for_orders(orders: list) -> None:
    """earn_for_order + recompute_tier for many paid orders at once (bulk ingest).

    The accounts are locked (FOR UPDATE, in id order) for the rest of the caller's transaction, so
    computing the new balances in Python and writing them with one UPDATE is as safe as the
    single-order conditional UPDATE: earning only adds. A few statements for the whole batch:
    accounts created where missing, locked and read; tiers; the ledger entries (COPY on
    PostgreSQL); the rolling spend; the accounts written back.
    """
    orders = [o for o in orders if o.customer_id is not None]
    if not orders:
        return
    brand_id = orders[0].brand_id
    program = program_for(brand_id)
    # Tiers are read separately, before the accounts are locked (as short a time as can be): joined
    # into the locking SELECT, PostgreSQL's re-check after a lock wait can return the updated
    # account with its tier columns empty.
    tiers = list(
        Tier.objects.filter(brand_id=brand_id)
        .order_by("-threshold")
        .values_list("id", "threshold", "earn_multiplier_percent")
    )
    multipliers: dict[int | None, int] = {tier_id: multiplier for tier_id, _, multiplier in tiers}
    accounts = _lock_accounts(brand_id, sorted({o.customer_id for o in orders}))
    entries = []
    for order in orders:
        account = accounts[order.customer_id]
        multiplier = multipliers.get(account.tier_id, 100)
        points = points_for_amount(program, order.total - order.shipping_total, multiplier)
        if points <= 0:
            continue
        earned_at = order.paid_at or order.placed_at
        entries.append(
            {
                "brand_id": brand_id,
                "customer_id": order.customer_id,
                "delta": points,
                "kind": str(PointsEntry.Kind.EARN),
                "order_id": order.pk,
                "reason": f"訂單 {order.display_number}",
                "idempotency_key": f"earn:order:{order.pk}",
                "expires_at": earned_at + relativedelta(months=program.expiry_months)
                if program.expiry_months
                else None,
                "created_at": earned_at,
            }
        )
        account.balance += points
        account.lifetime_earned += points
    bulk.insert_rows(PointsEntry, entries)
    now = _set_tiers(program, accounts, tiers)
    _write_accounts(list(accounts.values()), now)
    events.publish_many(
        "points.changed",
        (
            {
                "brand_id": brand_id,
                "customer_id": entry["customer_id"],
                "delta": entry["delta"],
                "balance": accounts[entry["customer_id"]].balance,
            }
            for entry in entries
        ),
    )
    if entries:
        events.publish("points.posted", brand_id=brand_id, entry_ids=[entry["id"] for entry in entries])


@dataclass(slots=True)
class _Account:
    """The columns of a locked LoyaltyAccount that a bulk earn reads and writes."""

    pk: int
    customer_id: int
    balance: int
    lifetime_earned: int
    tier_id: int | None
    rolling_spend: int = 0


ACCOUNT_TABLE = LoyaltyAccount._meta.db_table


def _lock_accounts(brand_id: int, customer_ids: list[int]) -> dict[int, _Account]:
    """customer id -> account, created where missing and locked for the rest of the transaction.

    Missing accounts are inserted in customer order, so two batches creating the same ones wait
    for each other in one order, never crosswise; then every account is locked in id order."""
    if connection.vendor == "postgresql":
        # The ids as one array literal (a placeholder or list element per id is quoted one by one).
        ids = bulk.int_array(customer_ids)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ACCOUNT_TABLE} (brand_id, customer_id, balance, lifetime_earned, rolling_spend) "
                "SELECT %s, c.id, 0, 0, 0 FROM unnest(%s::bigint[]) AS c(id) "
                f"WHERE NOT EXISTS (SELECT 1 FROM {ACCOUNT_TABLE} a WHERE a.customer_id = c.id) "
                "ORDER BY c.id ON CONFLICT DO NOTHING",
                [brand_id, ids],
            )
            # The deferred foreign-key checks of all the caller wrote so far (a batch of orders: some
            # thousands) run now rather than at commit, which comes while these accounts are locked
            # and concurrent batches for the same customers wait for them.
            connection.check_constraints()
            cursor.execute(
                f"SELECT id, customer_id, balance, lifetime_earned, tier_id FROM {ACCOUNT_TABLE} "
                "WHERE customer_id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
                [ids],
            )
            rows = cursor.fetchall()
    else:
        LoyaltyAccount.objects.bulk_create(
            [LoyaltyAccount(brand_id=brand_id, customer_id=cid) for cid in customer_ids],
            ignore_conflicts=True,
        )
        rows = list(
            LoyaltyAccount.objects.select_for_update()
            .filter(customer_id__in=customer_ids)
            .order_by("id")
            .values_list("id", "customer_id", "balance", "lifetime_earned", "tier_id")
        )
    return {row[1]: _Account(*row) for row in rows}


def _write_accounts(accounts: list[_Account], now: dt.datetime) -> None:
    """One UPDATE for many accounts; Django's bulk_update builds a CASE per field and row, which
    costs more than the rest of a 500-order batch together."""
    if not accounts:
        return
    table = ACCOUNT_TABLE
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS a SET balance = v.balance, lifetime_earned = v.lifetime_earned, "
                "rolling_spend = v.rolling_spend, tier_id = v.tier_id, tier_updated_at = %s "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
                "AS v(id, balance, lifetime_earned, rolling_spend, tier_id) WHERE a.id = v.id",
                [
                    now,
                    bulk.int_array([a.pk for a in accounts]),
                    bulk.int_array([a.balance for a in accounts]),
                    bulk.int_array([a.lifetime_earned for a in accounts]),
                    bulk.int_array([a.rolling_spend for a in accounts]),
                    bulk.int_array([a.tier_id for a in accounts]),
                ],
            )
        return
    # SQLite keeps datetimes as text: the value goes in as Django would write it.
    stamp = connection.ops.adapt_datetimefield_value(now)
    for start in range(0, len(accounts), 500):
        chunk = accounts[start : start + 500]
        rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
        params: list = []
        for a in chunk:
            params += [a.pk, a.balance, a.lifetime_earned, a.rolling_spend, a.tier_id]
        sql = (
            f"WITH v(id, balance, lifetime_earned, rolling_spend, tier_id) AS (VALUES {rows}) "
            f"UPDATE {table} SET balance = v.balance, lifetime_earned = v.lifetime_earned, "
            "rolling_spend = v.rolling_spend, tier_id = v.tier_id, tier_updated_at = %s "
            f"FROM v WHERE {table}.id = v.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, stamp])


def _set_tiers(
    program: LoyaltyProgram, accounts: dict[int, _Account], tiers: list[tuple[int, int, int]]
) -> dt.datetime:
    """Each account's rolling spend and tier (tiers as (id, threshold, multiplier), highest first),
    as recompute_tier sets them; returns the moment they were computed for."""
    now = timezone.now()
    since = now - dt.timedelta(days=program.tier_window_days)
    spent = dict(
        spend.spend_since(since).filter(customer_id__in=list(accounts)).values_list("customer_id", "spend")
    )
    for customer_id, account in accounts.items():
        account.rolling_spend = int(spent.get(customer_id) or 0)
        account.tier_id = next(
            (tier_id for tier_id, threshold, _ in tiers if threshold <= account.rolling_spend), None
        )
    return now
