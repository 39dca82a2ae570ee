"""Stock verbs. Every change is one conditional UPDATE plus a ledger row, in one transaction.

Overselling is prevented by the UPDATE's own WHERE clause (`on_hand - reserved >= qty`), which the
database evaluates against the latest committed row under its row lock, and by CHECK constraints as
a backstop. No read-then-write race is possible, on SQLite or PostgreSQL.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, Sum
from django.utils import timezone

from omo.catalog.models import Location, Reservation, StockLevel, StockMovement, Variant
from omo.core import bulk
from omo.core.errors import DomainError


class OutOfStock(DomainError):
    """Fewer units are available than were asked for; the body carries how many are."""

    status = 409
    code = "out_of_stock"

    def __init__(self, variant: Variant, requested: int, available: int):
        super().__init__(
            f"{variant.sku}: {requested} requested, {available} available",
            field="quantity",
            available=available,
        )
        self.variant = variant
        self.requested = requested
        self.available = available


class StockError(DomainError, ValueError):
    """A stock verb the current on-hand and reserved counts do not allow."""

    status = 409
    code = "stock_conflict"

    def __init__(self, message: str, *, field: str = "on_hand", **kwargs: Any) -> None:
        super().__init__(message, field=field, **kwargs)


def _level(variant: Variant, location: Location) -> StockLevel:
    if variant.brand_id != location.brand_id:
        raise StockError("variant and location belong to different brands")
    level, _ = StockLevel.objects.get_or_create(brand_id=variant.brand_id, variant=variant, location=location)
    return level


def _movement(
    variant,
    location,
    *,
    on_hand: int = 0,
    reserved: int = 0,
    reason: str,
    reference: str = "",
    note: str = "",
    actor=None,
) -> None:
    StockMovement.objects.create(
        brand_id=variant.brand_id,
        variant=variant,
        location=location,
        on_hand_delta=on_hand,
        reserved_delta=reserved,
        reason=reason,
        reference=reference,
        note=note[:250],
        actor=actor if actor is not None and getattr(actor, "pk", None) else None,
    )


def available_at(variant: Variant, location: Location) -> int:
    level = StockLevel.objects.filter(variant=variant, location=location).first()
    return level.available if level else 0


@transaction.atomic
def adjust_stock(
    variant: Variant,
    location: Location,
    delta: int,
    *,
    reason: str = StockMovement.Reason.ADJUSTMENT,
    note: str = "",
    reference: str = "",
    user=None,
) -> StockLevel:
    """Add (or remove, when negative) units on hand. Never takes on_hand below what is reserved."""
    if delta == 0:
        return _level(variant, location)
    level = _level(variant, location)
    updated = StockLevel.objects.filter(pk=level.pk, on_hand__gte=F("reserved") - delta).update(
        on_hand=F("on_hand") + delta, updated_at=timezone.now()
    )
    if not updated:
        level.refresh_from_db()
        raise StockError(
            f"{variant.sku} at {location.code}: cannot remove {-delta}, on hand {level.on_hand}, reserved {level.reserved}"
        )
    _movement(variant, location, on_hand=delta, reason=reason, note=note, reference=reference, actor=user)
    level.refresh_from_db()
    return level


@transaction.atomic
def set_stock(
    variant: Variant,
    location: Location,
    on_hand: int,
    *,
    reason: str = StockMovement.Reason.ADJUSTMENT,
    note: str = "",
    user=None,
) -> StockLevel:
    """Set the counted quantity (a stock take); the ledger records the difference."""
    if on_hand < 0:
        raise StockError("on_hand cannot be negative")
    level = _level(variant, location)
    level = StockLevel.objects.select_for_update().get(pk=level.pk)
    if on_hand < level.reserved:
        raise StockError(
            f"{variant.sku} at {location.code}: {level.reserved} units are reserved, cannot set {on_hand}"
        )
    return adjust_stock(variant, location, on_hand - level.on_hand, reason=reason, note=note, user=user)


def reserve(
    variant: Variant, location: Location, quantity: int, *, order_line, reference: str = ""
) -> Reservation:
    """Hold `quantity` units for an order line; raises OutOfStock when fewer are available."""
    if quantity <= 0:
        raise StockError("quantity must be positive")
    updated = StockLevel.objects.filter(
        variant=variant, location=location, on_hand__gte=F("reserved") + quantity
    ).update(reserved=F("reserved") + quantity, updated_at=timezone.now())
    if not updated:
        raise OutOfStock(variant, quantity, available_at(variant, location))
    _movement(variant, location, reserved=quantity, reason=StockMovement.Reason.RESERVE, reference=reference)
    return Reservation.objects.create(
        brand_id=variant.brand_id,
        variant=variant,
        location=location,
        order_line=order_line,
        quantity=quantity,
    )


def _close(reservation: Reservation, status: str) -> bool:
    """Flip an active reservation; False when someone already closed it (so work happens once)."""
    return bool(
        Reservation.objects.filter(pk=reservation.pk, status=Reservation.Status.ACTIVE).update(
            status=status, closed_at=timezone.now()
        )
    )


def release(reservation: Reservation, *, reference: str = "") -> None:
    if not _close(reservation, Reservation.Status.RELEASED):
        return
    StockLevel.objects.filter(variant_id=reservation.variant_id, location_id=reservation.location_id).update(
        reserved=F("reserved") - reservation.quantity, updated_at=timezone.now()
    )
    _movement(
        reservation.variant,
        reservation.location,
        reserved=-reservation.quantity,
        reason=StockMovement.Reason.RELEASE,
        reference=reference,
    )


def commit(reservation: Reservation, *, reference: str = "") -> None:
    """The goods left the location: on hand and reserved both drop."""
    if not _close(reservation, Reservation.Status.COMMITTED):
        return
    StockLevel.objects.filter(variant_id=reservation.variant_id, location_id=reservation.location_id).update(
        on_hand=F("on_hand") - reservation.quantity,
        reserved=F("reserved") - reservation.quantity,
        updated_at=timezone.now(),
    )
    _movement(
        reservation.variant,
        reservation.location,
        on_hand=-reservation.quantity,
        reserved=-reservation.quantity,
        reason=StockMovement.Reason.SALE,
        reference=reference,
    )


SELL_ATTEMPTS = 5


@dataclass(frozen=True)
class StoreSale:
    """What a sale handed over at a store took off its shelf: `taken` of the `sold` units (the rest
    were not on record there: counted short, never taken below zero or below what is reserved)."""

    sold: int
    taken: int
    reservation: Reservation | None


@transaction.atomic
def sell_in_store(
    variant: Variant, location: Location, quantity: int, *, order_line, reference: str = ""
) -> StoreSale:
    """Units sold and handed over at a store's till leave its stock at once.

    The sale happened whatever the records say, so it is never refused: units the location does
    not have free are noted as short on the movement instead. What was taken is kept as a
    committed Reservation of the line, so a cancelled sale puts back exactly that (return_sale).
    """
    if quantity <= 0:
        raise StockError("quantity must be positive", field="quantity")
    if variant.brand_id != location.brand_id:
        raise StockError("variant and location belong to different brands")
    taken = 0
    # ADR 002's conditional UPDATE, no row lock taken before it: read what is free, take up to that
    # while it is still free; a concurrent sale in between makes the UPDATE miss, so read again.
    for _ in range(SELL_ATTEMPTS):
        level = StockLevel.objects.filter(variant=variant, location=location).values_list(
            "pk", "on_hand", "reserved"
        )
        found = level.first()
        want = min(quantity, max(0, found[1] - found[2])) if found is not None else 0
        if found is None or want == 0:
            break
        if StockLevel.objects.filter(pk=found[0], on_hand__gte=F("reserved") + want).update(
            on_hand=F("on_hand") - want, updated_at=timezone.now()
        ):
            taken = want
            break
    short = quantity - taken
    note = f"{short} 件未在庫存記錄中 / {short} not on record" if short else ""
    if taken == 0:
        return StoreSale(quantity, 0, None)
    _movement(
        variant, location, on_hand=-taken, reason=StockMovement.Reason.SALE, reference=reference, note=note
    )
    reservation = Reservation.objects.create(
        brand_id=variant.brand_id,
        variant=variant,
        location=location,
        order_line=order_line,
        quantity=taken,
        status=Reservation.Status.COMMITTED,
        closed_at=timezone.now(),
    )
    return StoreSale(quantity, taken, reservation)


@dataclass(frozen=True)
class StoreSaleLine:
    """One order line handed over at a store's till, for sell_in_store_many."""

    variant_id: int
    location_id: int
    quantity: int
    order_line_id: int
    reference: str = ""


@transaction.atomic
def sell_in_store_many(brand_id: int, sales: Sequence[StoreSaleLine]) -> list[int]:
    """sell_in_store for many lines at once (a batch of recorded orders): each line takes what the
    lines before it left, as if sold one after the other in the order given. The stock rows are
    read once and locked (in id order, so concurrent batches wait instead of deadlocking), taken
    down with one UPDATE, and the movements and committed reservations are written set-wise.
    Returns the units taken per line."""
    if any(sale.quantity <= 0 for sale in sales):
        raise StockError("quantity must be positive", field="quantity")
    if not sales:
        return []
    by_location: dict[int, set[int]] = defaultdict(set)
    for sale in sales:
        by_location[sale.location_id].add(sale.variant_id)
    where = Q()
    for location_id, variant_ids in by_location.items():
        where |= Q(location_id=location_id, variant_id__in=variant_ids)
    rows = StockLevel.objects.filter(where, brand_id=brand_id).order_by("pk")
    if connection.features.has_select_for_update:
        rows = rows.select_for_update()
    levels = {
        (variant_id, location_id): [pk, on_hand - reserved, 0]
        for pk, variant_id, location_id, on_hand, reserved in rows.values_list(
            "pk", "variant_id", "location_id", "on_hand", "reserved"
        )
    }
    now = timezone.now()
    taken: list[int] = []
    movements: list[dict[str, Any]] = []
    reservations: list[dict[str, Any]] = []
    for sale in sales:
        level = levels.get((sale.variant_id, sale.location_id))
        take = min(sale.quantity, max(0, level[1])) if level is not None else 0
        taken.append(take)
        if level is None or take == 0:
            continue
        level[1] -= take
        level[2] += take
        short = sale.quantity - take
        common = {"brand_id": brand_id, "variant_id": sale.variant_id, "location_id": sale.location_id}
        movements.append(
            {
                **common,
                "on_hand_delta": -take,
                "reserved_delta": 0,
                "reason": StockMovement.Reason.SALE.value,
                "reference": sale.reference,
                "note": (f"{short} 件未在庫存記錄中 / {short} not on record" if short else "")[:250],
                "actor_id": None,
            }
        )
        reservations.append(
            {
                **common,
                "order_line_id": sale.order_line_id,
                "quantity": take,
                "status": Reservation.Status.COMMITTED.value,
                "closed_at": now,
            }
        )
    deltas = {pk: units for pk, _, units in levels.values() if units}
    ordered = sorted(deltas)
    stamp = connection.ops.adapt_datetimefield_value(now)
    with connection.cursor() as cursor:
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            # One statement for the chunk: on_hand - CASE id WHEN … THEN units … END.
            cursor.execute(
                f"UPDATE {StockLevel._meta.db_table} SET on_hand = on_hand - CASE id "
                + " ".join("WHEN %s THEN %s" for _ in chunk)
                + f" END, updated_at = %s WHERE id IN ({', '.join(['%s'] * len(chunk))})",
                [value for pk in chunk for value in (pk, deltas[pk])] + [stamp, *chunk],
            )
    bulk.insert_rows(StockMovement, movements, need_ids=False)
    bulk.insert_rows(Reservation, reservations, need_ids=False)
    return taken


def return_sale(reservation: Reservation, *, reference: str = "") -> bool:
    """A sale cancelled after its units left (a voided till sale): they go back where they left
    from, once. False when the reservation was not a committed one (already returned)."""
    returned = Reservation.objects.filter(pk=reservation.pk, status=Reservation.Status.COMMITTED).update(
        status=Reservation.Status.RELEASED, closed_at=timezone.now()
    )
    if not returned:
        return False
    adjust_stock(
        reservation.variant,
        reservation.location,
        reservation.quantity,
        reason=StockMovement.Reason.RETURN,
        reference=reference,
    )
    return True


def restock(variant: Variant, location: Location, quantity: int, *, reference: str = "") -> None:
    adjust_stock(variant, location, quantity, reason=StockMovement.Reason.RETURN, reference=reference)


@dataclass(frozen=True)
class Availability:
    location_id: int
    location_code: str
    location_name: str
    kind: str
    store_id: int | None
    ships_online_orders: bool
    available: int


def availability(variant_ids: list[int]) -> dict[int, list[Availability]]:
    """Available units per location for each variant, in one query."""
    result: dict[int, list[Availability]] = {vid: [] for vid in variant_ids}
    rows = (
        StockLevel.objects.filter(variant_id__in=variant_ids, location__is_active=True)
        .select_related("location")
        .order_by("location__kind", "location__code")
    )
    for level in rows:
        loc = level.location
        result[level.variant_id].append(
            Availability(
                loc.pk, loc.code, loc.name, loc.kind, loc.store_id, loc.ships_online_orders, level.available
            )
        )
    return result


def online_available(variant_ids: list[int]) -> dict[int, int]:
    """Units the web shop can ship home, per variant (from locations that ship online orders)."""
    rows = (
        StockLevel.objects.filter(
            variant_id__in=variant_ids, location__ships_online_orders=True, location__is_active=True
        )
        .values("variant_id")
        .annotate(units=Sum(F("on_hand") - F("reserved")))
    )
    found = {row["variant_id"]: int(row["units"] or 0) for row in rows}
    return {vid: found.get(vid, 0) for vid in variant_ids}


def shipping_locations(brand_id: int) -> list[Location]:
    """Where ship-home orders are fulfilled from, warehouses first."""
    return list(
        Location.objects.filter(brand_id=brand_id, ships_online_orders=True, is_active=True).order_by(
            "-kind", "code"
        )
    )
