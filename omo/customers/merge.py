"""Merging two customers into one, and splitting them again exactly.

`merge_customers(survivor, merged)` re-points everything the merged customer has to the survivor:
orders and carts, chat contacts and conversations, bindings, the loyalty account and its ledger,
coupon codes and redemptions, tracked events, tracked links and clicks, identifiers and consents.
Every moved row id and every overwritten field goes into `CustomerMerge.snapshot`, so
`split(merge)` puts back exactly what moved; rows made after the merge stay with the survivor.

Rules that need a decision rather than a move:

- identifiers beyond the brand's cap stay with the merged customer (which leads on to the survivor
  when they are matched), and two different member numbers are never merged;
- two open bindings are settled by the brand's BindingPolicy (first keeps, latest wins, locked N
  days; a departed clerk always loses); the loser is ended and the decision is written to
  `binding_resolution`;
- two loyalty accounts: the merged one's ledger moves and its balance, lifetime points and rolling
  spend are added to the survivor's account; the merged account is left at zero;
- two conversations on the same inbox: the merged one's messages move into the survivor's
  conversation; the empty thread stays with the merged customer until a split.

Customers moves its own rows (identifiers, consents) and the profile; every other app re-points
and settles its rows through its handler (omo/customers/personal_data.py), which also puts them
back on a split.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

from django.apps import apps
from django.db import connection, transaction
from django.db.models import Field, Model
from django.utils import timezone

from omo.core import audit, events
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.models import Brand
from omo.customers import personal_data
from omo.customers.identity.rules import Rules, rules_for
from omo.customers.models import Consent, Customer, CustomerIdentity, CustomerMerge, MergeSuggestion

AUTOMATIC_REASON = "自動合併：同一識別出現在兩位顧客"
MERGE_END_REASON = "merge"
CHUNK = personal_data.CHUNK

# Profile fields the survivor takes from the merged customer when its own is empty.
FILL_FIELDS = ("name", "phone", "email", "birthday", "member_number", "home_store_id")
# Customers' own rows re-pointed as they are (identifiers are moved under the brand's caps).
OWN_MOVES: tuple[tuple[type[Model], str], ...] = ((Consent, "customer"),)


class MergeError(FieldError, ValueError):
    pass


def _key(model: type[Model]) -> str:
    return model._meta.label_lower


def dump(value: Any) -> Any:
    """A value as the snapshot keeps it (JSON)."""
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    return value


def _load(model: type[Model], name: str, value: Any) -> Any:
    field = cast("Field[Any, Any]", model._meta.get_field(name[:-3] if name.endswith("_id") else name))
    if value is None:
        return None
    if name.endswith("_id"):
        return value
    return field.to_python(value)


def move(model: type[Model], field: str, brand_id: int, from_id: int, to_id: int) -> list[int]:
    if connection.vendor == "postgresql":
        return _move_all([(model, field)], brand_id, from_id, to_id)[0]
    ids = list(
        model._default_manager.filter(brand_id=brand_id, **{f"{field}_id": from_id})
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for start in range(0, len(ids), CHUNK):
        model._default_manager.filter(pk__in=ids[start : start + CHUNK]).update(**{f"{field}_id": to_id})
    return ids


def _move_all(
    moves: list[tuple[type[Model], str]], brand_id: int, from_id: int, to_id: int
) -> list[list[int]]:
    """PostgreSQL: every (model, field) re-pointed in one statement; the moved ids of each, ascending.

    One UPDATE … RETURNING per table inside one WITH: a merge costs one round trip here instead of a
    SELECT (and an UPDATE) per table, which was most of a merge's time in the history batch.
    """
    parts, params, selects = [], [], []
    for n, (model, field) in enumerate(moves):
        column = cast("Field[Any, Any]", model._meta.get_field(field)).column
        parts.append(
            f'm{n} AS (UPDATE "{model._meta.db_table}" SET "{column}" = %s '
            f'WHERE "brand_id" = %s AND "{column}" = %s RETURNING "{model._meta.pk.column}")'
        )
        params += [to_id, brand_id, from_id]
        selects.append(f'SELECT {n}, "{model._meta.pk.column}" FROM m{n}')
    moved: list[list[int]] = [[] for _ in moves]
    with connection.cursor() as cursor:
        cursor.execute(f"WITH {', '.join(parts)} {' UNION ALL '.join(selects)}", params)
        for n, pk in cursor.fetchall():
            moved[n].append(pk)
    return [sorted(ids) for ids in moved]


def _lock_customers(brand: Brand | None, *pks: int) -> dict[int, Customer]:
    """The customers by id, locked in one query in id order (the lock order)."""
    qs = Customer.objects.select_for_update()
    if brand is not None:
        qs = qs.filter(brand=brand)
    found = {c.pk: c for c in qs.filter(pk__in=pks).order_by("pk")}
    for pk in sorted(pks):
        if pk not in found:
            raise MergeError("customer", f"no customer {pk} in this brand")
    return found


def check_mergeable(survivor: Customer, merged: Customer) -> None:
    """MergeError naming why these two may not be merged, even by hand."""
    if survivor.pk == merged.pk:
        raise MergeError("customer", "a customer cannot be merged into itself")
    if survivor.brand_id != merged.brand_id:
        raise MergeError("customer", "customers of different brands are never merged")
    for role, customer in (("survivor", survivor), ("merged", merged)):
        if customer.merged_into_id:
            raise MergeError(
                role, f"customer {customer.pk} was already merged into {customer.merged_into_id}"
            )
        if customer.erased_at:
            raise MergeError(role, f"customer {customer.pk} had their personal data erased")
    held = dict(
        CustomerIdentity.objects.filter(
            customer_id__in=[survivor.pk, merged.pk], kind=CustomerIdentity.Kind.MEMBER_NUMBER
        )
        .order_by()
        .values_list("customer_id", "value")
    )
    mine = held.get(survivor.pk) or survivor.member_number
    theirs = held.get(merged.pk) or merged.member_number
    if mine and theirs and mine != theirs:
        raise MergeError("member_number", f"both customers hold a member number ({mine}, {theirs})")


@transaction.atomic
def merge_customers(
    survivor: Customer | int,
    merged: Customer | int,
    *,
    brand: Brand | None = None,
    actor: Actor | None = None,
    automatic: bool = False,
    reason: str = "",
    trigger_kind: str = "",
    trigger_value: str = "",
    rules: Rules | None = None,
) -> CustomerMerge:
    """Move everything of `merged` to `survivor`; returns the CustomerMerge record (see the module doc).

    `rules` are the brand's identity rules when the caller has them already (the batch does).
    """
    first, second = sorted(
        [
            survivor.pk if isinstance(survivor, Customer) else survivor,
            merged.pk if isinstance(merged, Customer) else merged,
        ]
    )
    locked = _lock_customers(brand, first, second)  # lock order: by id
    survivor = locked[survivor.pk if isinstance(survivor, Customer) else survivor]
    merged = locked[merged.pk if isinstance(merged, Customer) else merged]
    brand = brand or survivor.brand
    if survivor.brand_id != brand.pk:
        raise MergeError("customer", "customers of different brands are never merged")
    check_mergeable(survivor, merged)
    now = timezone.now()
    snapshot: dict[str, Any] = {"moved": {}, "survivor_fields": {}, "merged_fields": {}}

    # Profile: the merged customer gives up its member number (unique per brand) first.
    merged_changes: dict[str, Any] = {"merged_into_id": survivor.pk}
    if merged.member_number:
        merged_changes["member_number"] = ""
    survivor_changes: dict[str, Any] = {}
    for name in FILL_FIELDS:
        mine, theirs = getattr(survivor, name), getattr(merged, name)
        if theirs not in ("", None) and mine in ("", None):
            survivor_changes[name] = theirs
    tags = sorted(set(survivor.tags or []) | set(merged.tags or []))
    if tags != list(survivor.tags or []):
        survivor_changes["tags"] = tags
    if merged.notes and merged.notes not in survivor.notes:
        survivor_changes["notes"] = (survivor.notes + "\n" + merged.notes).strip()
    snapshot["merged_fields"] = {k: [dump(getattr(merged, k)), dump(v)] for k, v in merged_changes.items()}
    snapshot["survivor_fields"] = {
        k: [dump(getattr(survivor, k)), dump(v)] for k, v in survivor_changes.items()
    }
    Customer.objects.filter(pk=merged.pk).update(**merged_changes)
    if survivor_changes:
        Customer.objects.filter(pk=survivor.pk).update(**survivor_changes)

    snapshot["moved"]["customers.customeridentity"] = _move_identities(
        survivor, merged, rules or rules_for(brand)
    )
    # Each app settles what needs a decision (two open bindings, two loyalty accounts, two
    # conversations on one inbox), then everything else is re-pointed as it is.
    context = personal_data.Merge(brand=brand, survivor=survivor, merged=merged, now=now, snapshot=snapshot)
    handlers = personal_data.handlers()
    for handler in handlers:
        handler.merge(context)
    moves = [pair for handler in handlers for pair in handler.moves()] + list(OWN_MOVES)
    if connection.vendor == "postgresql":
        moved = _move_all(moves, brand.pk, merged.pk, survivor.pk)
    else:
        moved = [move(model, field, brand.pk, merged.pk, survivor.pk) for model, field in moves]
    for (model, _), ids in zip(moves, moved, strict=True):
        if ids:
            snapshot["moved"][_key(model)] = ids

    record = CustomerMerge.objects.create(
        brand=brand,
        survivor=survivor,
        merged=merged,
        automatic=automatic,
        reason=reason[:2000],
        trigger_kind=trigger_kind[:20],
        trigger_value=trigger_value[:255],
        actor=actor.user if actor is not None and actor.user is not None and actor.user.pk else None,
        snapshot=snapshot,
        binding_resolution=context.binding_resolution,
    )
    MergeSuggestion.objects.filter(
        brand=brand,
        status=MergeSuggestion.Status.OPEN,
        customer_a_id=min(survivor.pk, merged.pk),
        customer_b_id=max(survivor.pk, merged.pk),
    ).update(status=MergeSuggestion.Status.MERGED, resolved_at=now, resolved_by=record.actor, merge=record)
    audit.record(
        actor or Actor.system(brand),
        "customer.merged",
        record,
        survivor_id=survivor.pk,
        merged_id=merged.pk,
        automatic=automatic,
        trigger=f"{trigger_kind}:{trigger_value}" if trigger_kind else "",
        reason=reason,
    )
    events.publish(
        "customer.merged",
        brand_id=brand.pk,
        merge_id=record.pk,
        survivor_id=survivor.pk,
        merged_id=merged.pk,
        automatic=automatic,
    )
    return record


def _move_identities(survivor: Customer, merged: Customer, rules: Rules) -> list[int]:
    """The merged customer's identifiers that fit under the survivor's caps (oldest first)."""
    held: dict[str, int] = {}
    theirs: list[tuple[int, str]] = []
    # Both customers' rows in one query, sorted here: ORDER BY id can make PostgreSQL walk the pk.
    for pk, customer_id, kind in CustomerIdentity.objects.filter(
        customer_id__in=[survivor.pk, merged.pk]
    ).values_list("pk", "customer_id", "kind"):
        if customer_id == survivor.pk:
            held[kind] = held.get(kind, 0) + 1
        else:
            theirs.append((pk, kind))
    moving: list[int] = []
    for pk, kind in sorted(theirs):
        if held.get(kind, 0) < rules.cap_of(kind):
            held[kind] = held.get(kind, 0) + 1
            moving.append(pk)
    if moving:
        CustomerIdentity.objects.filter(pk__in=moving).update(customer=survivor)
    return moving


def restore_fields(
    model: type[Model], pk: int, fields: dict[str, list], *, only_if_unchanged: bool
) -> list[str]:
    """Put back each field's value from before; with only_if_unchanged, skip fields changed since."""
    row = model._default_manager.filter(pk=pk).values(*fields).first()
    if row is None:
        return list(fields)
    restore, skipped = {}, []
    for name, (before, after) in fields.items():
        if only_if_unchanged and dump(row[name]) != after:
            skipped.append(name)
            continue
        restore[name] = _load(model, name, before)
    if restore:
        model._default_manager.filter(pk=pk).update(**restore)
    return skipped


@transaction.atomic
def split(merge: CustomerMerge, *, actor: Actor | None = None) -> CustomerMerge:
    """Undo `merge`: what moved goes back, overwritten fields are restored (unless changed since)."""
    merge = CustomerMerge.objects.select_for_update().get(pk=merge.pk)
    if merge.split_at is not None:
        raise MergeError("merge", "this merge was already split")
    brand = merge.brand
    first, second = sorted([merge.survivor_id, merge.merged_id])
    locked = {
        c.pk: c for c in Customer.objects.select_for_update().filter(pk__in=[first, second]).order_by("pk")
    }
    survivor, merged = locked[merge.survivor_id], locked[merge.merged_id]
    if merged.merged_into_id != survivor.pk:
        raise MergeError("merge", "the merged customer no longer points at the survivor")
    if survivor.merged_into_id:
        raise MergeError(
            "survivor",
            f"the survivor was merged into customer {survivor.merged_into_id} since: split that first",
        )
    snap = merge.snapshot or {}
    moved: dict[str, list[int]] = snap.get("moved", {})
    context = personal_data.Split(brand=brand, survivor=survivor, merged=merged, snapshot=snap)
    for handler in personal_data.handlers():
        for model, field in handler.moves():
            context.put_back(model, field)
        handler.split(context)
    for model, field in OWN_MOVES:
        context.put_back(model, field)
    context.put_back(CustomerIdentity)
    # Anything else the snapshot names (moved by an earlier version of an app) goes back as it came.
    for label, ids in moved.items():
        if label not in context.moved_back:
            personal_data.move_back(apps.get_model(label), ids, survivor.pk, merged.pk)
    skipped = context.not_restored
    # Profile: the survivor gives back a member number before the merged customer takes it again.
    skipped += [
        f"survivor {n}"
        for n in restore_fields(
            Customer, survivor.pk, snap.get("survivor_fields", {}), only_if_unchanged=True
        )
    ]
    restore_fields(Customer, merged.pk, snap.get("merged_fields", {}), only_if_unchanged=False)
    now = timezone.now()
    merge.split_at = now
    merge.split_by = actor.user if actor is not None and actor.user is not None and actor.user.pk else None
    merge.save(update_fields=["split_at", "split_by"])
    audit.record(
        actor or Actor.system(brand),
        "customer.split",
        merge,
        survivor_id=survivor.pk,
        merged_id=merged.pk,
        not_restored=skipped,
    )
    events.publish(
        "customer.split", brand_id=brand.pk, merge_id=merge.pk, survivor_id=survivor.pk, merged_id=merged.pk
    )
    return merge
