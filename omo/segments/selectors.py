"""Who sees which segments and members: one rule for the API and the console.

Every role that holds `segments.read` sees all the segments of its brand (their names and rules say
nothing about a person). Members are people: each actor sees only the members it may see as
customers (omo.customers.selectors.visible_customers), so a store manager sees their store's
customers and a clerk their own (bound to them, sold by them, in their conversations) among the
members, and counts narrowed the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Exists, OuterRef, QuerySet, Subquery
from django.utils.translation import gettext

from omo.core.access import Scope
from omo.core.audit import Actor
from omo.customers.models import Customer
from omo.customers.selectors import visible_customers
from omo.segments import rules, services
from omo.segments.models import Segment, SegmentCount, SegmentMember

SAMPLE_SIZE = 10


def visible_segments(actor: Actor) -> QuerySet[Segment]:
    if not actor.can("segments.read"):
        return Segment.objects.none()
    return Segment.objects.filter(brand=actor.brand)


def current_members(segment: Segment) -> QuerySet[Customer]:
    """The customers of the segment's current version. The version is read in the same statement
    as the rows, so a refresh committing meanwhile shows either the old members or the new ones."""
    version = Segment.objects.filter(pk=segment.pk).values("version")[:1]
    rows = SegmentMember.objects.filter(segment_id=segment.pk, version=Subquery(version)).values(
        "customer_id"
    )
    return Customer.objects.filter(brand_id=segment.brand_id, pk__in=rows)


def _narrowed(actor: Actor) -> bool:
    return actor.scope != Scope.BRAND


def members_for(actor: Actor, segment: Segment) -> QuerySet[Customer]:
    """The segment's members the actor may see, newest customers first."""
    members = current_members(segment)
    if _narrowed(actor):
        members = members.filter(pk__in=visible_customers(actor).values("pk"))
    return members.order_by("-id")


def member_count_for(actor: Actor, segment: Segment) -> int:
    if not _narrowed(actor):
        return segment.member_count
    return members_for(actor, segment).count()


def member_counts_for(actor: Actor, segments: list[Segment]) -> dict[int, int]:
    """Members each actor sees per segment (one query per segment for a narrowed actor)."""
    return {segment.pk: member_count_for(actor, segment) for segment in segments}


def history(segment: Segment, limit: int = 90) -> list[SegmentCount]:
    """The last `limit` refreshes, oldest first (for charts)."""
    return list(reversed(SegmentCount.objects.filter(segment=segment).order_by("-at", "-id")[:limit]))


def histories(segments: list[Segment], limit: int = 30) -> dict[int, list[int]]:
    """Member counts of the last `limit` refreshes per segment, oldest first, in one query."""
    ids = [segment.pk for segment in segments]
    counts: dict[int, list[int]] = {pk: [] for pk in ids}
    recent = SegmentCount.objects.filter(segment_id=OuterRef("segment_id")).order_by("-at", "-id")
    rows = (
        SegmentCount.objects.filter(segment_id__in=ids)
        .filter(pk__in=Subquery(recent.values("pk")[:limit]))
        .order_by("segment_id", "at", "id")
        .values_list("segment_id", "members")
    )
    for segment_id, members in rows:
        counts[segment_id].append(members)
    return counts


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[Customer]


def preview(actor: Actor, tree: Any, *, segment_id: int | None = None, sample: int = SAMPLE_SIZE) -> Preview:
    """How many customers a rule would hold now, and a few of them (newest first), as the actor sees
    them; raises services.SegmentError naming the bad part of the tree."""
    rule = services.parse_rule(actor.brand, tree, segment_id=segment_id)
    customers = Customer.objects.filter(
        brand=actor.brand,
        merged_into__isnull=True,
        erased_at__isnull=True,
        pk__in=rules.members(actor.brand, rule).values("pk"),
    )
    if _narrowed(actor):
        customers = customers.filter(pk__in=visible_customers(actor).values("pk"))
    return Preview(count=customers.count(), sample=list(customers.order_by("-id")[:sample]))


@dataclass(frozen=True)
class Why:
    member: bool  # in the segment's current materialised membership
    sentence: str
    parts: list[Any]


def explain_for(segment: Segment, customer: Customer) -> Why:
    """Why the customer is or is not in the segment, in a sentence of the active language."""
    member = SegmentMember.objects.filter(
        segment_id=segment.pk, version=segment.version, customer_id=customer.pk
    ).exists()
    if segment.kind == Segment.Kind.STATIC or segment.rule is None:
        if customer.merged_into_id is not None or customer.erased_at is not None:
            return Why(member, gettext("這位顧客已合併或已刪除個資，不會是任何分眾的成員。"), [])
        sentence = gettext("在上傳的名單中。") if member else gettext("不在上傳的名單中。")
        return Why(member, sentence, [])
    rule = services.parse_rule(segment.brand, segment.rule, segment_id=segment.pk)
    explanation = rules.explain(segment.brand, rule, customer)
    sentence = str(explanation.sentence)
    if bool(explanation.member) != member:
        sentence += " " + gettext("（名單將在下次更新時反映這個變化。）")
    return Why(member, sentence, list(getattr(explanation, "parts", []) or []))


def segments_of(customer: Customer) -> QuerySet[Segment]:
    """The segments the customer is a member of now (current versions)."""
    held = SegmentMember.objects.filter(
        segment_id=OuterRef("pk"), version=OuterRef("version"), customer_id=customer.pk
    )
    return Segment.objects.filter(Exists(held), brand_id=customer.brand_id)
