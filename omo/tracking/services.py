"""Write keys and Segment-spec ingest: validation, clock-skew correction, dedupe, customer lookup.

Wire facts follow Segment's HTTP API (see /work/shared/reference/platforms.md, section D):
32 KB per message, 500 KB per batch, `userId` or `anonymousId` on every call, duplicates dropped
by `messageId`, and `timestamp = receivedAt - (sentAt - originalTimestamp)` when `sentAt` is given.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import traceback
import uuid

from omo.core.errors import DomainError

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a pinned dependency; the standard library works too
    orjson = None  # type: ignore[assignment]
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.db.models import Case, Value, When
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from omo.core import apikeys, audit
from omo.core import events as domain_events
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.customers import identity
from omo.customers.models import Customer, CustomerIdentity
from omo.tracking.bulk import EventRow, insert_events
from omo.tracking.models import TrackedEvent, TrackingIntake, TrackingSource

logger = logging.getLogger(__name__)

KEY_PREFIX = "wk_"
MAX_MESSAGE_BYTES = 32 * 1024
MAX_BATCH_BYTES = 500 * 1024
MAX_MESSAGE_ID = 100
TYPES = set(TrackedEvent.Type.values)
# Identifier kinds a `userId` is matched against, best first (exact value match only).
USER_ID_KINDS = [
    CustomerIdentity.Kind.USER_ID,
    CustomerIdentity.Kind.MEMBER_NUMBER,
    CustomerIdentity.Kind.EXTERNAL,
    CustomerIdentity.Kind.SHOPIFY,
    CustomerIdentity.Kind.LINE,
    CustomerIdentity.Kind.EMAIL,
    CustomerIdentity.Kind.PHONE,
]


class InvalidMessage(DomainError, ValueError):
    """A message that cannot be stored; the text names the field or limit."""

    status = 400
    code = "invalid_message"


# --- write keys ------------------------------------------------------------------------------


class SourceError(DomainError, ValueError):
    """A tracking source that cannot be made or revoked as asked; `field` names the input at fault."""

    status = 422
    code = "invalid"


MAX_SOURCE_NAME = 120


def create_source(
    brand: Brand, *, name: str, actor: Actor | None, kind: str = TrackingSource.Kind.WEB
) -> tuple[TrackingSource, str]:
    """Returns the source and its write key, which is never shown again."""
    name = (name or "").strip()
    if not name:
        raise SourceError("a source needs a name", field="name")
    if len(name) > MAX_SOURCE_NAME:
        raise SourceError(f"the name is longer than {MAX_SOURCE_NAME} characters", field="name")
    if kind not in TrackingSource.Kind.values:
        raise SourceError(
            f"unknown kind {kind!r}: use one of {', '.join(TrackingSource.Kind.values)}", field="kind"
        )
    prefix, secret, key_hash = apikeys.new_secret(KEY_PREFIX)
    source = TrackingSource.objects.create(
        brand=brand, name=name, kind=kind, prefix=prefix, key_hash=key_hash
    )
    if actor is not None:
        audit.record(actor, "tracking_source.created", source, name=name, kind=kind)
    return source, secret


def revoke_source(
    source: TrackingSource, *, actor: Actor | None, confirm_shop: bool = False
) -> TrackingSource:
    """Revoke a write key at once: calls with it answer 401 (within the edge's 10 s key cache).

    The built-in shop's own source stops the shop's tracking for good (its key is derived, so it
    cannot be made again), so a person revoking it must say so (`confirm_shop`)."""
    if source.revoked_at is None:
        if source.is_shop and actor is not None and not confirm_shop:
            raise SourceError(
                "this is the built-in shop's own source: revoking it stops the shop's tracking and "
                "cannot be undone; confirm to revoke it",
                field="confirm_shop",
                status=409,
                code="shop_source",
            )
        source.revoked_at = timezone.now()
        source.save(update_fields=["revoked_at"])
        if actor is not None:
            audit.record(actor, "tracking_source.revoked", source, name=source.name, shop=source.is_shop)
    return source


def ensure_source(brand: Brand, *, name: str, prefix: str, secret: str) -> TrackingSource:
    """The source with this public prefix, made for the brand on first use with the hash of `secret`:
    for a write key derived rather than drawn at random (the built-in shop's, omo/shop/tracking.py).
    Race-safe on the unique prefix. The source found may have been revoked since: the caller checks."""
    if not secret.startswith(f"{KEY_PREFIX}{prefix}_"):
        raise ValueError("the secret must start with the key prefix and the source's prefix")
    source = TrackingSource.objects.filter(prefix=prefix).first()
    if source is not None:
        return source
    try:
        with transaction.atomic():
            return TrackingSource.objects.create(
                brand=brand, name=name, prefix=prefix, key_hash=hashlib.sha256(secret.encode()).hexdigest()
            )
    except IntegrityError:  # another request made it first
        return TrackingSource.objects.get(prefix=prefix)


def authenticate(raw: str) -> TrackingSource | None:
    """The active source for a raw write key, or None."""
    return apikeys.find_active(TrackingSource, KEY_PREFIX, raw)


# --- ingest ----------------------------------------------------------------------------------


@dataclass
class IngestResult:
    accepted: int = 0  # valid messages (stored now, or dropped as duplicates of stored ones)
    rejected: list[dict[str, Any]] = field(default_factory=list)  # {"index", "error"}


def _parse_time(value: Any, name: str) -> dt.datetime | None:
    if value in (None, ""):
        return None
    if not isinstance(value, str):
        raise InvalidMessage(f"{name} must be an ISO-8601 string")
    parsed = None
    if len(value) >= 19 and value[4] == "-" and value[10] in "Tt ":
        # The usual shape (2026-11-23T08:00:00.000Z): the C parser, several times faster.
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            parsed = None
    if parsed is None:
        try:
            parsed = parse_datetime(value)
        except ValueError:
            parsed = None
    if parsed is None:
        raise InvalidMessage(f"{name} is not an ISO-8601 timestamp")
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed


def _text(msg: dict[str, Any], key: str, limit: int = 255) -> str:
    value = msg.get(key)
    if value is None:
        return ""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)  # Segment accepts numeric ids and stores them as strings
    if not isinstance(value, str):
        raise InvalidMessage(f"{key} must be a string")
    if len(value) > limit:
        raise InvalidMessage(f"{key} is longer than {limit} characters")
    return value


def _obj(msg: dict[str, Any], key: str) -> dict[str, Any]:
    value = msg.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidMessage(f"{key} must be an object")
    return value


def _compact(msg: Any) -> bytes:
    """The message as compact UTF-8 JSON (orjson: ~10x faster on the ingest path)."""
    if orjson is not None:
        try:
            return orjson.dumps(msg)
        except (TypeError, orjson.JSONEncodeError):
            pass  # e.g. an integer beyond 64 bits: the standard library writes it
    return json.dumps(msg, separators=(",", ":"), ensure_ascii=False).encode()


def message_size(msg: Any) -> int:
    """Bytes of the message as compact UTF-8 JSON."""
    return len(_compact(msg))


def build_event(
    source: TrackingSource,
    msg: Any,
    *,
    received_at: dt.datetime,
    batch_sent_at: Any = None,
    batch_context: dict[str, Any] | None = None,
    check_size: bool = True,
) -> EventRow:
    """The row of one message (not saved), or InvalidMessage naming what is wrong."""
    if not isinstance(msg, dict):
        raise InvalidMessage("message must be an object")
    compact = _compact(msg)
    if check_size and len(compact) > MAX_MESSAGE_BYTES:
        raise InvalidMessage("message exceeds the 32 KB limit")
    if b"\\u0000" in compact:  # PostgreSQL stores no NUL in text or JSON: refuse it the same everywhere
        raise InvalidMessage("message contains a NUL character (\\u0000), which cannot be stored")
    type_ = msg.get("type")
    if not isinstance(type_, str) or type_ not in TYPES:  # a list or an object is no type (and unhashable)
        raise InvalidMessage(f"type must be one of {', '.join(sorted(TYPES))}")
    user_id = _text(msg, "userId")
    anonymous_id = _text(msg, "anonymousId")
    if not user_id and not anonymous_id:
        raise InvalidMessage("userId or anonymousId is required")
    if type_ == "track":
        event = _text(msg, "event", 200)
        if not event:
            raise InvalidMessage("event is required for track")
    elif type_ in ("page", "screen"):
        event = _text(msg, "name", 200)
    else:
        event = ""
    if type_ == "alias" and not (_text(msg, "previousId") and user_id):
        raise InvalidMessage("alias needs previousId and userId")
    group_id = _text(msg, "groupId")
    if type_ == "group" and not group_id:
        raise InvalidMessage("groupId is required for group")
    message_id = _text(msg, "messageId", MAX_MESSAGE_ID) or str(uuid.uuid4())
    context = _obj(msg, "context")
    if batch_context:
        context = {**batch_context, **context}
    traits = _obj(msg, "traits")
    if not traits and type_ == "identify" and isinstance(context.get("traits"), dict):
        traits = context["traits"]  # RudderStack's clients send identify traits only in context.traits
    original = _parse_time(msg.get("originalTimestamp") or msg.get("timestamp"), "timestamp")
    sent_at = _parse_time(msg.get("sentAt") or batch_sent_at, "sentAt")
    if original is not None and sent_at is not None:
        # Segment's clock-skew correction: the device's offset between sending and the event
        # is kept, the device's absolute clock is not trusted.
        timestamp = received_at - (sent_at - original)
    else:
        timestamp = original or received_at
    return EventRow(
        brand_id=source.brand_id,
        source_id=source.pk,
        type=type_,
        event=event,
        message_id=message_id,
        anonymous_id=anonymous_id,
        user_id=user_id,
        customer_id=None,
        group_id=group_id,
        previous_id=_text(msg, "previousId"),
        properties=_obj(msg, "properties"),
        traits=traits,
        context=context,
        original_timestamp=original,
        sent_at=sent_at,
        received_at=received_at,
        timestamp=timestamp,
    )


def resolve_customers(brand_id: int, events: list[EventRow]) -> None:
    """Sets `customer` on each event through identity resolution (omo/customers/identity/).

    A `userId` that is exactly a member number or another identifier of the brand names that
    customer; otherwise it is a `user_id` identifier, and a customer is made for it when new.
    The event's `anonymousId` is linked to the same customer, an alias links `previousId` (an
    anonymous id, or an earlier userId) to `userId`, and identify traits add email and phone.
    Only an identify call with a new userId makes a customer; other events only match (an event
    with only an anonymousId gets the customer that id is linked to).
    The whole batch costs a few queries, not one per event.
    """
    if not events:
        return
    kind = CustomerIdentity.Kind
    user_ids = {e.user_id for e in events if e.user_id}
    found: dict[str, int] = {}
    if user_ids:
        found = dict(
            Customer.objects.filter(brand_id=brand_id, member_number__in=user_ids).values_list(
                "member_number", "id"
            )
        )
        rest = user_ids - found.keys()
        if rest:
            rank: dict[str, int] = {k: i for i, k in enumerate(USER_ID_KINDS)}
            rows = CustomerIdentity.objects.filter(brand_id=brand_id, value__in=rest, kind__in=USER_ID_KINDS)
            best: dict[str, tuple[int, int]] = {}
            for value, k, customer_id in rows.values_list("value", "kind", "customer_id"):
                if value not in best or rank[k] < best[value][0]:
                    best[value] = (rank[k], customer_id)
            found.update({value: customer_id for value, (_, customer_id) in best.items()})
    previous = {e.previous_id for e in events if e.type == TrackedEvent.Type.ALIAS and e.previous_id}
    earlier_users = (
        set(
            CustomerIdentity.objects.filter(
                brand_id=brand_id, kind=kind.USER_ID, value__in=previous
            ).values_list("value", flat=True)
        )
        if previous
        else set()
    )
    observations = []
    for e in events:
        idents: list[tuple[str, str]] = []
        if e.user_id:
            idents.append((kind.USER_ID, e.user_id))
        if e.anonymous_id:
            idents.append((kind.ANONYMOUS, e.anonymous_id))
        if e.type == TrackedEvent.Type.ALIAS and e.previous_id:
            idents.append((kind.USER_ID if e.previous_id in earlier_users else kind.ANONYMOUS, e.previous_id))
        if e.type == TrackedEvent.Type.IDENTIFY and e.user_id:
            for trait, trait_kind in (("email", kind.EMAIL), ("phone", kind.PHONE)):
                trait_value = e.traits.get(trait)
                if isinstance(trait_value, str) and trait_value:
                    idents.append((trait_kind, trait_value))
        observations.append(
            identity.Observation(
                idents,
                customer_id=found.get(e.user_id),
                name=str(e.traits.get("name") or "")[:120] if e.type == TrackedEvent.Type.IDENTIFY else "",
                # Only an identify call makes a customer: a public write key must not mint them by track.
                create=bool(e.user_id) and e.type == TrackedEvent.Type.IDENTIFY,
            )
        )
    brand = Brand.objects.get(pk=brand_id)
    outcome = identity.resolve(brand, observations, source="tracking", ignore_conflicts=True)
    for e, resolved_id in zip(events, outcome.customer_ids, strict=True):
        if resolved_id is not None:
            e.customer_id = resolved_id


def link_visitor(brand: Brand, customer_id: int | None, anonymous_id: str, *, source: str) -> int:
    """A browser's visitor turned out to be this customer (a buyer at checkout): link the anonymous
    id to the customer (identity resolution, never making a customer) and put the visitor's
    earlier events on the customer's timeline. Returns the events moved now."""
    if not customer_id or not anonymous_id:
        return 0
    observation = identity.Observation(
        [(CustomerIdentity.Kind.ANONYMOUS, anonymous_id)], customer_id=customer_id, create=False
    )
    outcome = identity.resolve(brand, [observation], source=source, ignore_conflicts=True)
    owner = outcome.customer_ids[0] or customer_id

    def move() -> int:
        return TrackedEvent.objects.filter(
            brand_id=brand.pk, anonymous_id=anonymous_id, customer__isnull=True
        ).update(customer_id=owner)

    # Events the browser sent while the caller's transaction was being committed were resolved
    # before the link existed: move them too once it is committed (later ones find the link).
    transaction.on_commit(move)
    return move()


def _build_all(
    source: TrackingSource,
    messages: list[Any],
    *,
    received_at: dt.datetime,
    batch_sent_at: Any = None,
    batch_context: dict[str, Any] | None = None,
    check_size: bool = True,
    skip: frozenset[int] = frozenset(),
    seen: set[str] | None = None,
) -> tuple[IngestResult, list[EventRow]]:
    """Events of the valid messages (first of each messageId only) and the rejected ones by index."""
    result = IngestResult()
    events: list[EventRow] = []
    seen = set() if seen is None else seen
    for index, msg in enumerate(messages):
        if index in skip:
            continue
        try:
            event = build_event(
                source,
                msg,
                received_at=received_at,
                batch_sent_at=batch_sent_at,
                batch_context=batch_context,
                check_size=check_size,
            )
        except InvalidMessage as exc:
            result.rejected.append({"index": index, "error": str(exc)})
            continue
        result.accepted += 1
        if event.message_id in seen:
            continue
        seen.add(event.message_id)
        events.append(event)
    return result, events


def store_events(brand_id: int, events: list[EventRow]) -> None:
    """Identity resolution for the events, then one insert; duplicates of stored ones are skipped."""
    if events:
        resolve_customers(brand_id, events)
        insert_events(events)
        customer_ids = sorted({event.customer_id for event in events if event.customer_id is not None})
        if customer_ids:
            domain_events.publish("tracking.recorded", brand_id=brand_id, customer_ids=customer_ids)


def ingest(
    source: TrackingSource,
    messages: list[Any],
    *,
    received_at: dt.datetime | None = None,
    batch_sent_at: Any = None,
    batch_context: dict[str, Any] | None = None,
    check_size: bool = True,
) -> IngestResult:
    """Stores the valid messages, skips the invalid ones (reported by index) and drops duplicates.

    Duplicates are dropped by `messageId` per brand: within the request here, against stored rows
    by the unique constraint (INSERT ... ON CONFLICT DO NOTHING), so a retried batch counts once.
    """
    result, events = _build_all(
        source,
        messages,
        received_at=received_at or timezone.now(),
        batch_sent_at=batch_sent_at,
        batch_context=batch_context,
        check_size=check_size,
    )
    store_events(source.brand_id, events)
    return result


# --- calls: one HTTP call's body, checked now or stored for the worker -------------------------


@dataclass(frozen=True)
class Call:
    """The messages of one call's decoded body. `call` is "batch" or the single call's type."""

    call: str
    messages: list[Any]
    sent_at: Any = None
    context: dict[str, Any] | None = None

    @property
    def is_batch(self) -> bool:
        return self.call == BATCH


BATCH = "batch"
CALLS = frozenset({BATCH, *TYPES})


def call_of(call: str, body: dict[str, Any]) -> Call:
    """The messages of a decoded body; InvalidMessage when a batch has no list of messages."""
    if call == BATCH:
        messages = body.get("batch")
        if not isinstance(messages, list):
            raise InvalidMessage("batch must be a list of messages")
        context = body.get("context") if isinstance(body.get("context"), dict) else None
        return Call(call, messages, body.get("sentAt"), context)
    message = {k: v for k, v in body.items() if k != "writeKey"}
    message["type"] = call
    return Call(call, [message])


def _build_call(
    source: TrackingSource,
    call: Call,
    *,
    received_at: dt.datetime,
    skip: frozenset[int] = frozenset(),
    seen: set[str] | None = None,
) -> tuple[IngestResult, list[EventRow]]:
    # A single call's whole body is within 32 KB already, so its message is too.
    return _build_all(
        source,
        call.messages,
        received_at=received_at,
        batch_sent_at=call.sent_at,
        batch_context=call.context,
        check_size=call.is_batch,
        skip=skip,
        seen=seen,
    )


def check_call(source: TrackingSource, call: Call, *, received_at: dt.datetime) -> IngestResult:
    """What the edge answers before storing the call: which messages are invalid, and why."""
    return _build_call(source, call, received_at=received_at)[0]


def ingest_call(source: TrackingSource, call: Call, *, received_at: dt.datetime) -> IngestResult:
    """Check and store a call in the request (the Django view, for servers without the ASGI edge)."""
    result, events = _build_call(source, call, received_at=received_at)
    store_events(source.brand_id, events)
    return result


# --- the worker: stored calls → events --------------------------------------------------------

INTAKE_ROWS = 40  # calls per transaction: up to ~4,000 events of the usual 100-event batches


def process_intakes(*, max_rows: int = INTAKE_ROWS, max_rounds: int = 50) -> dict[str, int]:
    """Turn pending calls into events, oldest first, many calls per transaction, until none is left.

    Claimed with SKIP LOCKED on PostgreSQL, so several workers share the work. A round that fails
    is retried call by call, so one bad call is marked failed (with the error) and the others are
    stored. After `max_rounds` rounds the rest is left to the next task (the caller enqueues it)."""
    counts = {"calls": 0, "events": 0, "failed": 0, "more": 0}
    for _ in range(max_rounds):
        with transaction.atomic():
            ids = _claim_intakes(max_rows)
            if not ids:
                return counts
            try:
                with transaction.atomic():
                    stored = _process_intake_rows(ids)
            except Exception:
                logger.exception("processing %d tracking calls together failed; trying one by one", len(ids))
                stored = None
        if stored is None:
            for intake_id in ids:
                try:
                    with transaction.atomic():
                        if _claim_intakes(1, only=intake_id):
                            counts["events"] += _process_intake_rows([intake_id])
                            counts["calls"] += 1
                except Exception:
                    logger.exception("processing tracking call %s failed", intake_id)
                    TrackingIntake.objects.filter(pk=intake_id, status=TrackingIntake.Status.PENDING).update(
                        status=TrackingIntake.Status.FAILED,
                        error=traceback.format_exc()[-4000:],
                        processed_at=timezone.now(),
                    )
                    counts["failed"] += 1
            continue
        counts["calls"] += len(ids)
        counts["events"] += stored
    counts["more"] = int(TrackingIntake.objects.filter(status=TrackingIntake.Status.PENDING).exists())
    return counts


def _claim_intakes(limit: int, *, only: int | None = None) -> list[int]:
    queryset = TrackingIntake.objects.filter(status=TrackingIntake.Status.PENDING)
    if only is not None:
        queryset = queryset.filter(pk=only)
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return list(queryset.order_by("id").values_list("pk", flat=True)[:limit])


def _process_intake_rows(ids: list[int]) -> int:
    rows = list(
        TrackingIntake.objects.filter(pk__in=ids)
        .order_by("id")
        .values_list("pk", "source_id", "call", "body", "rejected", "received_at")
    )
    sources = TrackingSource.objects.in_bulk({row[1] for row in rows})
    by_brand: dict[int, list[EventRow]] = {}
    seen: dict[int, set[str]] = {}
    per_call: dict[int, int] = {}
    problems: dict[int, list[dict[str, Any]]] = {}
    for intake_id, source_id, call_name, body, rejected, received_at in rows:
        source = sources[source_id]
        call = call_of(call_name, _parse_json(bytes(body)))
        result, events = _build_call(
            source,
            call,
            received_at=received_at,
            skip=frozenset(rejected or ()),
            seen=seen.setdefault(source.brand_id, set()),
        )
        if result.rejected:  # the edge checked them already; only a change of the rules gets here
            problems[intake_id] = result.rejected
        by_brand.setdefault(source.brand_id, []).extend(events)
        per_call[intake_id] = len(events)
    for brand_id, events in by_brand.items():
        store_events(brand_id, events)
    now = timezone.now()
    TrackingIntake.objects.filter(pk__in=list(per_call)).update(
        status=TrackingIntake.Status.PROCESSED,
        processed_at=now,
        body=b"",  # the events hold it now; no second copy of personal data to keep or erase
        events=Case(*[When(pk=pk, then=Value(count)) for pk, count in per_call.items()], default=Value(0)),
        error="",
    )
    for intake_id, rejected in problems.items():
        TrackingIntake.objects.filter(pk=intake_id).update(error=json.dumps(rejected, ensure_ascii=False))
    return sum(per_call.values())


def _parse_json(raw: bytes) -> Any:
    return orjson.loads(raw) if orjson is not None else json.loads(raw)
