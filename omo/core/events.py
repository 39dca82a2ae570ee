"""Named domain events. Services publish; subscribers run after the transaction commits.

Subscribers are registered once per app (in its AppConfig.ready) with `subscribe`. Publishing
inside a transaction defers delivery to `on_commit`, so nothing reacts to a change that rolled back.

Three kinds of subscriber (docs/adr-durable-followups.md):

- **durable** (`subscribe(..., durable="app.what")`): work that must happen because something was
  saved. `publish` writes one `FollowUp` row per event and durable subscriber in the publishing
  transaction; right after commit the row is delivered in-process, and the row is deleted in the
  same transaction as the handler's own writes. A row left behind (process killed, handler raised)
  is delivered again by the worker (`deliver_due`) with backoff until it succeeds.
- **best-effort** (`subscribe(...)`): run in-process after commit, errors only logged (socket pushes).
- **in-transaction** (`subscribe_in_transaction`): run inside `publish`, in the publishing
  transaction, so their writes commit or roll back with the cause (the sales rollup's deltas).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from django.db import connections, transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], None]
# Every after-commit subscriber, durable or not, in the order they run.
_subscribers: dict[str, list[Handler]] = defaultdict(list)
# Durable subscribers: handler -> its stored name, and back; which payloads each wants.
_durable_keys: dict[Handler, str] = {}
_by_key: dict[str, Handler] = {}
_wanted: dict[tuple[str, str], Callable[[dict[str, Any]], bool]] = {}
_in_transaction: dict[str, list[Handler]] = defaultdict(list)

DURABLE_KEY_MAX_LENGTH = 100
# The publishing process delivers right after commit; the worker looks at a row only this much
# later, so the two rarely meet on one row (when they do, the row lock makes one of them a no-op).
FIRST_RETRY_AFTER = dt.timedelta(seconds=30)
MAX_RETRY_AFTER = dt.timedelta(hours=1)

# The events the product publishes, with the keys each payload carries.
EVENT_SCHEMAS: dict[str, frozenset[str]] = {
    # in_batch: part of a bulk ingest; subscribers that work set-wise use "orders.batch_recorded".
    "order.recorded": frozenset({"brand_id", "order_id", "sales_channel", "status", "created", "in_batch"}),
    "orders.batch_recorded": frozenset({"brand_id", "order_ids"}),
    "order.paid": frozenset({"brand_id", "order_id"}),
    # goods handed over: shipped (carrier, tracking number on the order) or picked up
    "order.fulfilled": frozenset({"brand_id", "order_id"}),
    "order.cancelled": frozenset({"brand_id", "order_id"}),
    "order.refunded": frozenset({"brand_id", "order_id", "refund_id", "amount"}),
    "customer.created": frozenset({"brand_id", "customer_id"}),
    # profile fields changed (omo/customers/services.py update_customer): the names of the fields
    "customer.updated": frozenset({"brand_id", "customer_id", "fields"}),
    "points.changed": frozenset({"brand_id", "customer_id", "delta", "balance"}),
    # ledger entries written (one or a bulk earn): set-wise subscribers read them by id
    "points.posted": frozenset({"brand_id", "entry_ids"}),
    # coupon codes handed to customers (omo/loyalty/services/coupons.py issue_codes) and a code used on an order
    "coupons.issued": frozenset({"brand_id", "code_ids"}),
    "coupon.redeemed": frozenset({"brand_id", "redemption_id"}),
    # a person (not a link preview) opened a tracked link (omo/attribution/services/clicks.py record_click)
    "link.clicked": frozenset({"brand_id", "click_id"}),
    "message.created": frozenset({"brand_id", "conversation_id", "message_id", "direction"}),
    # an outgoing message's delivery status changed (queued → sent / failed, failed → queued)
    "message.updated": frozenset({"brand_id", "conversation_id", "message_id", "status"}),
    # inbox routing and binding (omo/inbox/routing.py, omo/inbox/services.py, omo/binding/services/)
    "conversation.assigned": frozenset(
        {
            "brand_id",
            "conversation_id",
            "queue",
            "assignee_id",
            "store_id",
            "previous_assignee_id",
            "previous_store_id",
            "reason",
        }
    ),
    "conversation.updated": frozenset({"brand_id", "conversation_id", "fields"}),
    "binding.created": frozenset({"brand_id", "binding_id", "customer_id", "clerk_id", "store_id", "source"}),
    "binding.ended": frozenset({"brand_id", "binding_id", "customer_id", "clerk_id", "reason"}),
    # identity resolution (omo/customers/merge.py): `merged_id` now belongs to `survivor_id`
    "customer.merged": frozenset({"brand_id", "merge_id", "survivor_id", "merged_id", "automatic"}),
    "customer.split": frozenset({"brand_id", "merge_id", "survivor_id", "merged_id"}),
    # an order's sale was credited to a clerk (omo/attribution/services/orders.py)
    "order.attributed": frozenset({"brand_id", "order_id", "clerk_id", "store_id", "rule"}),
    # consent changed for a customer × platform × purpose (omo/customers/consent.py)
    "consent.changed": frozenset({"brand_id", "customer_id", "platform", "purpose", "granted", "source"}),
    # personal data erased on request (omo/customers/privacy.py)
    "customer.erased": frozenset({"brand_id", "customer_id"}),
    # tracked events stored for these customers (omo/tracking/services.py store_events); anonymous
    # visitors' events are not counted here
    "tracking.recorded": frozenset({"brand_id", "customer_ids"}),
}


def subscribe(
    name: str,
    handler: Handler,
    *,
    durable: str | None = None,
    when: Callable[[dict[str, Any]], bool] | None = None,
) -> None:
    """Run `handler` after each `name` event commits.

    `durable` names the subscriber for good (it is stored in FollowUp rows, so renaming it strands
    the rows still owed): its delivery is written with the event and retried until done, and
    `handler` must be idempotent for what it does outside the database. `when` (durable only) says
    which payloads it needs at all: no row is written for the others (a bulk ingest's per-order
    events, which the batch event covers)."""
    if name not in EVENT_SCHEMAS:
        raise KeyError(f"unknown event {name!r}")
    if durable is not None:
        known = _by_key.get(durable)
        if known is not None and known is not handler:
            raise ValueError(f"durable subscriber {durable!r} is already {known!r}")
        named = _durable_keys.get(handler)
        if named is not None and named != durable:
            # A durable subscriber is known by its handler: a second name would replace the first
            # (and its `when`) for every event the handler is subscribed to.
            raise ValueError(
                f"{handler!r} is the durable subscriber {named!r} already; give {durable!r} its own"
            )
        if len(durable) > DURABLE_KEY_MAX_LENGTH:
            raise ValueError(f"durable subscriber name {durable!r} is longer than {DURABLE_KEY_MAX_LENGTH}")
        _by_key[durable] = handler
        _durable_keys[handler] = durable
        if when is not None:
            _wanted[(name, durable)] = when
    elif when is not None:
        raise ValueError("`when` is for durable subscribers")
    if handler not in _subscribers[name]:
        _subscribers[name].append(handler)


def not_in_batch(payload: dict[str, Any]) -> bool:
    """`when` for `order.recorded` subscribers that handle a bulk ingest by its batch event."""
    return not payload["in_batch"]


def subscribe_in_transaction(name: str, handler: Handler) -> None:
    """Run `handler` inside `publish`, in the publishing transaction: its writes commit or roll
    back with the change itself, and an error in it aborts the publisher. Publishers call `publish`
    after their other writes, so these writes come last in the transaction."""
    if name not in EVENT_SCHEMAS:
        raise KeyError(f"unknown event {name!r}")
    if handler not in _in_transaction[name]:
        _in_transaction[name].append(handler)


def _checked(name: str, payload: dict[str, Any]) -> None:
    expected = EVENT_SCHEMAS.get(name)
    if expected is None:
        raise KeyError(f"unknown event {name!r}")
    if set(payload) != expected:
        raise ValueError(f"event {name} expects keys {sorted(expected)}, got {sorted(payload)}")


# --- durable deliveries --------------------------------------------------------------------------


def _owe(name: str, payloads: list[dict[str, Any]]) -> list[dict[str, int]]:
    """Write the FollowUp rows `payloads` owe to the durable subscribers of `name`, in one INSERT;
    per payload, the row id by subscriber."""
    keys = [_durable_keys[h] for h in _subscribers.get(name, ()) if h in _durable_keys]
    if not keys:
        return [{} for _ in payloads]
    from omo.core.models import FollowUp

    first_try = timezone.now() + FIRST_RETRY_AFTER
    rows: list[FollowUp] = []
    owners: list[tuple[int, str]] = []
    for index, payload in enumerate(payloads):
        for key in keys:
            wanted = _wanted.get((name, key))
            if wanted is not None and not wanted(payload):
                continue
            rows.append(
                FollowUp(
                    brand_id=payload["brand_id"],
                    event=name,
                    subscriber=key,
                    payload=payload,
                    next_attempt_at=first_try,
                )
            )
            owners.append((index, key))
    owed: list[dict[str, int]] = [{} for _ in payloads]
    if not rows:
        return owed
    if connections[FollowUp.objects.db].features.can_return_rows_from_bulk_insert:
        FollowUp.objects.bulk_create(rows)
    else:  # pragma: no cover - every supported database returns the ids
        for row in rows:
            row.save(force_insert=True)
    for (index, key), row in zip(owners, rows, strict=True):
        owed[index][key] = row.pk
    return owed


def _backoff(attempts: int) -> dt.timedelta:
    return min(FIRST_RETRY_AFTER * (1 << max(attempts - 1, 0)), MAX_RETRY_AFTER)


def _postpone(row_id: int, error: str) -> None:
    from omo.core.models import FollowUp

    try:
        attempts = FollowUp.objects.filter(pk=row_id).values_list("attempts", flat=True).first()
        if attempts is None:
            return
        FollowUp.objects.filter(pk=row_id).update(
            attempts=attempts + 1,
            next_attempt_at=timezone.now() + _backoff(attempts + 1),
            last_error=error[:2000],
        )
    except Exception:  # the row stays due; the next pass tries it again
        logger.exception("could not record the failure of follow-up %s", row_id)


def _run_durable(
    row_id: int, name: str, key: str, handler: Handler, payload: dict[str, Any], *, skip_locked: bool = False
) -> bool | None:
    """Deliver one owed row: delete it and run the handler in one transaction, so the handler's
    writes and the done-mark commit together. True when delivered, False when the handler failed,
    None when there was nothing to do: delivered already, or (`skip_locked`, the worker's passes)
    being delivered by someone else right now."""
    from omo.core.models import FollowUp

    try:
        with transaction.atomic():
            if skip_locked and not (
                FollowUp.objects.select_for_update(skip_locked=True)
                .filter(pk=row_id)
                .values_list("pk")
                .first()
            ):
                return None
            # Deleting first locks the row: a second deliverer waits here, then finds nothing.
            deleted, _ = FollowUp.objects.filter(pk=row_id).delete()
            if not deleted:
                return None
            handler(payload)
    except Exception as exc:
        logger.exception("durable subscriber %s of %s failed; it will be retried", key, name)
        _postpone(row_id, f"{type(exc).__name__}: {exc}")
        return False
    return True


def deliver_due(*, limit: int = 500, now: dt.datetime | None = None) -> tuple[int, int]:
    """Deliver the owed rows whose time has come, oldest first; (delivered, failed).

    Idle workers call it every few seconds (omo.core.worker); rows the publishing process
    delivered right after commit are gone by then."""
    from omo.core.models import FollowUp

    now = now or timezone.now()
    due = list(
        FollowUp.objects.filter(next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("id", "event", "subscriber", "payload")[:limit]
    )
    delivered = failed = 0
    for row_id, name, key, payload in due:
        handler = _by_key.get(key)
        if handler is None:
            _postpone(row_id, f"no durable subscriber {key!r} in this process")
            failed += 1
            continue
        outcome = _run_durable(row_id, name, key, handler, payload, skip_locked=True)
        if outcome is True:
            delivered += 1
        elif outcome is False:
            failed += 1
    return delivered, failed


# --- delivery --------------------------------------------------------------------------------------


def _deliver(name: str, payload: dict[str, Any], owed: dict[str, int]) -> None:
    for handler in list(_subscribers.get(name, ())):
        key = _durable_keys.get(handler)
        if key is not None:
            row_id = owed.get(key)
            if row_id is not None:  # None: not wanted for this payload, or subscribed since
                _run_durable(row_id, name, key, handler, payload)
            continue
        try:
            handler(payload)
        except Exception:  # one subscriber failing must not break the others
            logger.exception("subscriber %s of %s failed", handler, name)


def _in_place(name: str, payloads: list[dict[str, Any]]) -> None:
    handlers = _in_transaction.get(name)
    if handlers:
        for payload in payloads:
            for handler in list(handlers):
                handler(payload)


def publish(name: str, **payload: Any) -> None:
    _checked(name, payload)
    (owed,) = _owe(name, [payload])
    _in_place(name, [payload])
    transaction.on_commit(lambda: _deliver(name, payload, owed))


def publish_many(name: str, payloads: Iterable[dict[str, Any]]) -> None:
    """`publish(name, **payload)` for each payload, in order, with one INSERT for the rows owed to
    durable subscribers and one commit hook for all of them (a bulk ingest publishes one event per
    order; a hook or an INSERT each cost more than the subscribers)."""
    payloads = list(payloads)
    for payload in payloads:
        _checked(name, payload)
    if not payloads:
        return
    owed = _owe(name, payloads)
    _in_place(name, payloads)

    def deliver() -> None:
        for payload, owed_one in zip(payloads, owed, strict=True):
            _deliver(name, payload, owed_one)

    transaction.on_commit(deliver)
