"""What tracking holds about a person: tracked events, and raw calls not yet turned into events.

Erasure: events keep their name and time (counts stay right) and lose everything personal; a raw
call still waiting for the worker that holds one of the person's values loses its body and is not
processed (processed ones keep no body). Retention: events older than the brand's event period,
and raw calls older than its receipt period (unless still waiting), are deleted.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from django.db.models import Q

from omo.core.models import Brand
from omo.customers import identity, personal_data, registry
from omo.customers.models import CustomerSettings
from omo.customers.personal_data import Erasure, Moves, PersonalDataHandler, Rows, rows
from omo.customers.retention import delete_in_chunks
from omo.customers.tasks import Kind, chunks
from omo.tracking.models import TrackedEvent, TrackingIntake


class TrackingData(PersonalDataHandler):
    app_label = "tracking"
    order = 50
    holds = ("tracking.TrackedEvent",)

    def moves(self) -> Moves:
        return ((TrackedEvent, "customer"),)

    def export(self, brand_id: int, customer_ids: list[int]) -> dict[str, Rows]:
        return {
            "tracked_events": rows(
                TrackedEvent.objects.filter(brand_id=brand_id, customer_id__in=customer_ids).order_by(
                    "timestamp", "id"
                )
            )
        }

    def erase(self, erasure: Erasure) -> dict[str, int]:
        event_ids = Q(customer_id__in=erasure.customer_ids)
        if erasure.identity_values:
            event_ids |= Q(anonymous_id__in=erasure.identity_values) | Q(user_id__in=erasure.identity_values)
        return {
            "tracked_events": TrackedEvent.objects.filter(event_ids, brand_id=erasure.brand_id).update(
                anonymous_id="",
                user_id="",
                group_id="",
                previous_id="",
                properties={},
                traits={},
                context={},
            ),
            "tracking_intakes": _erase_intakes(erasure.brand_id, erasure.needles),
        }

    def purge(
        self, brand_id: int, *, retention: CustomerSettings, now: dt.datetime, chunk: int
    ) -> dict[str, int]:
        events_before = now - dt.timedelta(days=retention.event_retention_days)
        intakes_before = now - dt.timedelta(days=retention.receipt_retention_days)
        return {
            "tracked_events": delete_in_chunks(
                TrackedEvent.objects.filter(brand_id=brand_id, timestamp__lt=events_before), chunk=chunk
            ),
            "tracking_intakes": delete_in_chunks(
                TrackingIntake.objects.filter(brand_id=brand_id, received_at__lt=intakes_before).exclude(
                    status=TrackingIntake.Status.PENDING
                ),
                chunk=chunk,
            ),
        }


def _erase_intakes(brand_id: int, needles: set[str]) -> int:
    """Calls the tracking edge stored and the worker has not turned into events yet: any that holds
    one of the person's values loses its body and is not processed."""
    if not needles:
        return 0
    encoded = [needle.encode() for needle in needles]
    erased = []
    waiting = TrackingIntake.objects.filter(brand_id=brand_id).exclude(status=TrackingIntake.Status.PROCESSED)
    for pk, body in waiting.select_for_update().values_list("pk", "body"):
        body = bytes(body)
        if any(needle in body for needle in encoded):
            erased.append(pk)
    return TrackingIntake.objects.filter(pk__in=erased).update(
        body=b"", status=TrackingIntake.Status.FAILED, error="erased (PDPA) before processing"
    )


def event_identifiers(brand: Brand, chunk: int) -> Iterator[list[identity.Observation]]:
    """Tracked events' userId/anonymousId pairs (one observation per distinct pair in a chunk)."""
    qs = TrackedEvent.objects.filter(brand=brand).exclude(user_id="").exclude(anonymous_id="")
    for found in chunks(qs, ("user_id", "anonymous_id", "customer_id"), chunk):
        pairs = {(user_id, anonymous_id, customer_id) for _, user_id, anonymous_id, customer_id in found}
        yield [
            identity.Observation([(Kind.USER_ID, u), (Kind.ANONYMOUS, a)], customer_id=c, create=False)
            for u, a, c in sorted(pairs, key=lambda p: (p[0], p[1], p[2] or 0))
        ]


def link_events(brand: Brand, chunk: int) -> int:
    """Tracked events without a customer whose anonymousId or userId now leads to one."""
    linked = 0
    qs = TrackedEvent.objects.filter(brand=brand, customer__isnull=True)
    for found in chunks(qs, ("user_id", "anonymous_id"), chunk):
        wanted = {(Kind.USER_ID, u) for _, u, _ in found if u} | {
            (Kind.ANONYMOUS, a) for _, _, a in found if a
        }
        owners = identity.lookup(brand.pk, wanted)
        hops = {into for _, _, into in owners.values() if into}
        live = identity.live_customer_ids(brand.pk, hops) if hops else {}
        target: dict[int, list[int]] = {}
        for pk, user_id, anonymous_id in found:
            for key in ((Kind.USER_ID, user_id), (Kind.ANONYMOUS, anonymous_id)):
                if key in owners:
                    customer_id, _, into = owners[key]
                    target.setdefault(live.get(into, into) if into else customer_id, []).append(pk)
                    break
        for customer_id, ids in target.items():
            linked += TrackedEvent.objects.filter(pk__in=ids, customer__isnull=True).update(
                customer_id=customer_id
            )
    return linked


def register() -> None:
    """Called once from TrackingConfig.ready."""
    personal_data.register(TrackingData())
    registry.register_identifier_source(
        registry.IdentifierSource("events", 40, event_identifiers, link=link_events)
    )
