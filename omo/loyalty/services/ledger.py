"""The points ledger: a customer's program and account, one entry posted with its balance move,
manual adjustments, expiry.

Every change inserts one PointsEntry and moves LoyaltyAccount.balance with a single conditional
UPDATE (`balance + delta >= 0`) in the same transaction, so concurrent redemptions can never
overdraw and the balance always equals the ledger sum.
"""

from __future__ import annotations

import datetime as dt

from dateutil.relativedelta import relativedelta
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Sum, When
from django.utils import timezone

from omo.core import audit, events
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.loyalty.models import LoyaltyAccount, LoyaltyProgram, PointsEntry
from omo.loyalty.services.errors import InsufficientPoints, LoyaltyError
from omo.staff.models import User


def program_for(brand: Brand | int) -> LoyaltyProgram:
    brand_id = brand if isinstance(brand, int) else brand.pk
    program, _ = LoyaltyProgram.objects.get_or_create(brand_id=brand_id)
    return program


def account_for(customer: Customer) -> LoyaltyAccount:
    account, _ = LoyaltyAccount.objects.get_or_create(
        customer=customer, defaults={"brand_id": customer.brand_id}
    )
    return account


def points_for_amount(program: LoyaltyProgram, amount: int, multiplier_percent: int = 100) -> int:
    if amount <= 0:
        return 0
    base = (amount // program.earn_per_amount) * program.earn_points
    return base * multiplier_percent // 100


def post_points(
    customer: Customer,
    delta: int,
    kind: str,
    *,
    reason: str = "",
    order=None,
    key: str | None = None,
    expires_at: dt.datetime | None = None,
    user: User | None = None,
    at: dt.datetime | None = None,
    store_id: int | None = None,
    api_key_id: int | None = None,
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
                    store_id=store_id,
                    api_key_id=api_key_id,
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
    entry = post_points(
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
    total = 0
    for row in rows:
        amount = int(row["expired_credit"] - row["debits"])
        customer = Customer.objects.get(pk=row["customer_id"])
        with transaction.atomic():
            if post_points(
                customer,
                -amount,
                PointsEntry.Kind.EXPIRE,
                reason="點數到期",
                key=f"expire:{customer.pk}:{now:%Y%m%d%H%M%S}:{amount}",
                at=now,
            ):
                total += amount
    return total
