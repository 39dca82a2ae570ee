"""Reads of tracking sources: who may see them and how busy each one is."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, QuerySet
from django.utils import timezone

from omo.core.access import Scope
from omo.core.audit import Actor
from omo.tracking.models import TrackedEvent, TrackingSource

RECENT = dt.timedelta(hours=24)


def visible_sources(actor: Actor) -> QuerySet[TrackingSource]:
    """A brand's tracking sources, for brand-wide roles only (write keys are brand settings)."""
    sources = TrackingSource.objects.filter(brand=actor.brand)
    return sources if actor.scope == Scope.BRAND else sources.none()


@dataclass(frozen=True)
class SourceSummary:
    source: TrackingSource
    events_24h: int
    last_seen_at: dt.datetime | None


def recent_counts(brand_id: int, source_ids: list[int], *, now: dt.datetime | None = None) -> dict[int, int]:
    """Events received in the last 24 hours, per source."""
    since = (now or timezone.now()) - RECENT
    rows = (
        TrackedEvent.objects.filter(brand_id=brand_id, source_id__in=source_ids, received_at__gte=since)
        .values("source_id")
        .annotate(n=Count("id"))
    )
    return {row["source_id"]: row["n"] for row in rows}


def summaries(sources: list[TrackingSource], *, now: dt.datetime | None = None) -> list[SourceSummary]:
    """Each source with its events of the last 24 h and when a call with its key was last accepted
    (the key's `last_used_at`, noted at most once a minute)."""
    if not sources:
        return []
    counts = recent_counts(sources[0].brand_id, [source.pk for source in sources], now=now)
    return [
        SourceSummary(source=source, events_24h=counts.get(source.pk, 0), last_seen_at=source.last_used_at)
        for source in sources
    ]
