"""Segments: create, change and delete them (audited), and refresh their materialised membership.

A refresh runs in one transaction: it locks the segment row, writes the members of version n + 1
with one INSERT ... SELECT from the engine's query (omo.segments.rules.members), counts who joined
and who left, points the segment at n + 1, deletes the rows of version n and appends a
SegmentCount. Readers filter on the segment's current version in the same statement
(omo.segments.selectors.current_members), so they see the old members or the new ones, never a
mix. The row lock makes a second refresh of the same segment wait, and makes an event that marks
the segment stale meanwhile (omo.segments.stale) wait for the refresh to commit, so its change is
refreshed again, not lost.

Static segments hold the customers of an uploaded list (omo.segments.static_list); their refresh
only follows merges (a merged customer's place goes to the survivor) and drops erased customers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from omo.core import audit
from omo.core.audit import Actor
from omo.core.bulk import insert_rows
from omo.core.errors import FieldError
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.segments import rules, stale, static_list, trees
from omo.segments.models import Segment, SegmentCount, SegmentMember

NAME_MAX = 120
DESCRIPTION_MAX = 300
INSERT_CHUNK = 5000


class SegmentError(FieldError):
    """A refusal about a segment: `field` names the input (`rule.all[1].value` for a rule)."""


def _rule_error(exc: Exception) -> SegmentError:
    path = str(getattr(exc, "path", "") or "")
    message = str(getattr(exc, "message", "") or exc)
    return SegmentError(f"rule.{path}" if path else "rule", message, code="invalid_rule")


def parse_rule(brand: Brand, tree: Any, *, segment_id: int | None = None) -> Any:
    """The engine's Rule for a tree, or SegmentError naming the part of the tree that is wrong."""
    if tree is None:
        raise SegmentError("rule", gettext("條件分眾需要條件"), code="invalid_rule")
    try:
        return rules.parse(brand, tree, segment_id=segment_id)
    except rules.RuleError as exc:
        raise _rule_error(exc) from exc


def _clean_name(name: Any) -> str:
    text = str(name or "").strip()
    if not text:
        raise SegmentError("name", gettext("請輸入分眾名稱"))
    if len(text) > NAME_MAX:
        raise SegmentError("name", gettext("分眾名稱最多 %(max)s 個字") % {"max": NAME_MAX})
    return text


def _clean_description(description: Any) -> str:
    text = str(description or "").strip()
    if len(text) > DESCRIPTION_MAX:
        raise SegmentError("description", gettext("說明最多 %(max)s 個字") % {"max": DESCRIPTION_MAX})
    return text


@transaction.atomic
def create_segment(
    brand: Brand,
    *,
    actor: Actor,
    name: str,
    kind: str = Segment.Kind.RULE,
    rule: Any = None,
    description: str = "",
) -> Segment:
    """A rule segment (refreshed at once) or an empty static one (filled by `upload_static_list`)."""
    if kind not in (Segment.Kind.RULE, Segment.Kind.STATIC):
        raise SegmentError("kind", gettext("只能建立條件分眾或名單分眾"))
    segment = Segment(
        brand=brand,
        kind=kind,
        name=_clean_name(name),
        description=_clean_description(description),
        created_by=actor.user if actor.user is not None and actor.user.pk else None,
    )
    if kind == Segment.Kind.RULE:
        parse_rule(brand, rule)
        segment.rule = rule
    elif rule is not None:
        raise SegmentError("rule", gettext("名單分眾沒有條件：請上傳名單"))
    segment.save()
    audit.record(actor, "segment.created", segment, name=segment.name, kind=segment.kind)
    if kind == Segment.Kind.RULE:
        refresh(segment, "created")
    return segment


@transaction.atomic
def update_segment(segment: Segment, *, actor: Actor, **changes: Any) -> Segment:
    """Change the name, description or rule; a new rule is refreshed at once."""
    unknown = set(changes) - {"name", "description", "rule"}
    if unknown:
        raise SegmentError(sorted(unknown)[0], gettext("這個欄位不能修改"))
    if segment.kind == Segment.Kind.READY_MADE and "rule" in changes:
        raise SegmentError("rule", gettext("內建分眾的條件不能修改"), status=409, code="ready_made")
    if segment.kind == Segment.Kind.STATIC and changes.get("rule") is not None:
        raise SegmentError("rule", gettext("名單分眾沒有條件：請上傳名單"))
    if "name" in changes:
        segment.name = _clean_name(changes["name"])
    if "description" in changes:
        segment.description = _clean_description(changes["description"])
    rule_changed = segment.kind == Segment.Kind.RULE and "rule" in changes and changes["rule"] != segment.rule
    if rule_changed:
        parse_rule(segment.brand, changes["rule"], segment_id=segment.pk)
        segment.rule = changes["rule"]
    segment.save()
    audit.record(actor, "segment.updated", segment, fields=sorted(changes), rule_changed=rule_changed)
    if rule_changed:
        refresh(segment, "edited")
    return segment


def dependents(segment: Segment) -> list[Segment]:
    """The brand's segments whose rule reads this one."""
    candidates = Segment.objects.filter(brand_id=segment.brand_id, rule__isnull=False).exclude(pk=segment.pk)
    return [other for other in candidates if segment.pk in trees.segment_refs(other.rule)]


@transaction.atomic
def delete_segment(segment: Segment, *, actor: Actor) -> None:
    if segment.kind == Segment.Kind.READY_MADE:
        raise SegmentError("segment", gettext("內建分眾不能刪除"), status=409, code="ready_made")
    readers = dependents(segment)
    if readers:
        names = "、".join(f"「{other.name}」" for other in readers)
        raise SegmentError(
            "segment",
            gettext("其他分眾的條件用到這個分眾：%(names)s；請先修改它們") % {"names": names},
            status=409,
            code="in_use",
        )
    audit.record(actor, "segment.deleted", segment, name=segment.name, kind=segment.kind)
    SegmentMember.objects.filter(segment_id=segment.pk).delete()
    segment.delete()


# --- refresh ----------------------------------------------------------------------------------


def _living(brand_id: int) -> QuerySet[Customer]:
    return Customer.objects.filter(brand_id=brand_id, merged_into__isnull=True, erased_at__isnull=True)


def member_query(segment: Segment) -> QuerySet[Customer]:
    """Who belongs to the segment now, as one query (not yet materialised)."""
    if segment.kind == Segment.Kind.STATIC:
        listed = SegmentMember.objects.filter(segment_id=segment.pk, version=segment.version).values(
            "customer_id"
        )
        survivors = Customer.objects.filter(pk__in=listed, merged_into__isnull=False).values("merged_into_id")
        return _living(segment.brand_id).filter(Q(pk__in=listed) | Q(pk__in=survivors))
    if segment.rule is None:
        return Customer.objects.none()
    rule = parse_rule(segment.brand, segment.rule, segment_id=segment.pk)
    return _living(segment.brand_id).filter(pk__in=rules.members(segment.brand, rule).values("pk"))


def _insert_select(segment_id: int, version: int, customers: QuerySet[Customer]) -> None:
    sql, params = customers.order_by().values(member_id=F("pk")).query.sql_with_params()
    table = connection.ops.quote_name(SegmentMember._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (segment_id, version, customer_id) SELECT %s, %s, picked.member_id FROM ({sql}) picked",
            [segment_id, version, *params],
        )


def _insert_ids(segment_id: int, version: int, customer_ids: list[int]) -> None:
    for start in range(0, len(customer_ids), INSERT_CHUNK):
        insert_rows(
            SegmentMember,
            [
                {"segment_id": segment_id, "version": version, "customer_id": customer_id}
                for customer_id in customer_ids[start : start + INSERT_CHUNK]
            ],
        )


def _swap(
    segment: Segment, reason: str, write: Callable[[Segment, int], None], now: dt.datetime
) -> SegmentCount:
    """Write version n + 1 with `write(locked_segment, n + 1)`, then point the segment at it."""
    locked = Segment.objects.select_for_update().get(pk=segment.pk)
    old, new = locked.version, locked.version + 1
    SegmentMember.objects.filter(
        segment_id=locked.pk, version__gt=old
    ).delete()  # never left behind, but cheap
    write(locked, new)
    old_rows = SegmentMember.objects.filter(segment_id=locked.pk, version=old)
    new_rows = SegmentMember.objects.filter(segment_id=locked.pk, version=new)
    members = new_rows.count()
    added = new_rows.exclude(customer_id__in=old_rows.values("customer_id")).count()
    removed = old_rows.count() - (members - added)
    Segment.objects.filter(pk=locked.pk).update(
        version=new, member_count=members, refreshed_at=now, stale_since=None, stale_reason=""
    )
    old_rows.delete()
    count = SegmentCount.objects.create(
        segment_id=locked.pk,
        version=new,
        at=now,
        members=members,
        added=added,
        removed=removed,
        reason=reason,
    )
    segment.version, segment.member_count, segment.refreshed_at = new, members, now
    segment.stale_since, segment.stale_reason = None, ""
    if added or removed:
        readers = [other.pk for other in dependents(locked)]
        if readers:
            stale.mark_segments(locked.brand_id, readers, "segment", now=now)
    return count


@transaction.atomic
def refresh(segment: Segment, reason: str, *, now: dt.datetime | None = None) -> SegmentCount:
    """Materialise the segment's membership as a new version (see the module's docstring)."""

    def write(locked: Segment, version: int) -> None:
        _insert_select(locked.pk, version, member_query(locked))

    return _swap(segment, reason, write, now or timezone.now())


@transaction.atomic
def upload_static_list(segment: Segment, raw: bytes, *, actor: Actor, filename: str = "") -> SegmentCount:
    """Replace a static segment's members with the customers of a CSV of phones, emails or member
    numbers. Any bad row refuses the whole file (static_list.ListInvalid lists every one)."""
    if segment.kind != Segment.Kind.STATIC:
        raise SegmentError("file", gettext("只有名單分眾可以上傳名單"), status=409, code="not_static")
    customer_ids = static_list.read(segment.brand, raw)

    def write(locked: Segment, version: int) -> None:
        _insert_ids(locked.pk, version, customer_ids)

    count = _swap(segment, "csv", write, timezone.now())
    audit.record(actor, "segment.list_uploaded", segment, filename=filename[:200], members=count.members)
    return count
