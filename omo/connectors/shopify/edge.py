"""`POST /webhooks/shopify/<connection id>` answered before Django, like every external sender's
webhook: the shared edge (omo/core/edge.py) reads the body within the limit, the connection comes
from a short-lived cache, the delivery is checked (omo/connectors/shopify/webhooks.py) and stored
through the group-commit writer with its processing task, and Shopify gets its 200 once that is
committed (503 when it is not within its 5 seconds, so it retries).

The writer runs on a database thread (no event-loop committer): Shopify sends a few deliveries a
second at most, and the answer names duplicates, which the thread's transaction knows.
"""

from __future__ import annotations

import re
from typing import Any

from django.db.models.signals import post_delete, post_save

from omo.connectors.models import ShopifyConnection
from omo.connectors.shopify import webhooks
from omo.core.edge import (
    ASGIApp,
    AsyncPostgresCommitter,
    BodyTooLarge,
    DbRunner,
    Edge,
    GroupCommitWriter,
    Receive,
    Scope,
    Send,
    Stored,
    TtlCache,
    read_body,
    respond,
)

PATH = re.compile(r"^/webhooks/shopify/(?P<connection_id>[0-9]{1,18})/?$")
DEADLINE = 3.5  # seconds: Shopify waits 5 for an answer
MAX_ROWS = 200  # deliveries per transaction


class ReceiverCache(TtlCache):
    """connection id → webhooks.Receiver (or None for "no such connection")."""

    def __init__(self) -> None:
        super().__init__(30.0, 5.0)


receiver_cache = ReceiverCache()


def _forget(sender: type, instance: ShopifyConnection, **kwargs: Any) -> None:
    receiver_cache.forget(instance.pk)  # a new secret, an uninstall, switched off: look again


post_save.connect(_forget, sender=ShopifyConnection, dispatch_uid="omo.connectors.shopify.edge.saved")
post_delete.connect(_forget, sender=ShopifyConnection, dispatch_uid="omo.connectors.shopify.edge.deleted")


def _error(code: str, message: str) -> dict[str, str]:
    return {"error": code, "message": message}


class ShopifyEdge(Edge):
    """ASGI app: Shopify webhooks here, everything else to `app`."""

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        run_db: DbRunner | None = None,
        run_lookup: DbRunner | None = None,
        cache: ReceiverCache | None = None,
        deadline: float = DEADLINE,
    ) -> None:
        super().__init__(app, run_db=run_db, run_lookup=run_lookup, async_writer=False, name="shopify")
        self.cache = cache or receiver_cache
        self.deadline = deadline

    def new_writer(self, committer: AsyncPostgresCommitter | None) -> GroupCommitWriter:
        return GroupCommitWriter(
            self._run_db, max_rows=MAX_ROWS, commit_rows=webhooks.store_batch, start=lambda keys: None
        )

    def match(self, scope: Scope) -> int | None:
        found = PATH.match(scope["path"])
        return int(found["connection_id"]) if found else None

    async def _receiver(self, connection_id: int, *, reload: bool = False) -> webhooks.Receiver | None:
        found, receiver = (False, None) if reload else self.cache.get(connection_id)
        if not found:
            receiver = await self._run_lookup(webhooks.receiver_for, connection_id)
            self.cache.put(connection_id, receiver)
        return receiver

    async def handle(self, scope: Scope, receive: Receive, send: Send, connection_id: int) -> None:
        if scope["method"] != "POST":
            await respond(send, 405, _error("method_not_allowed", "use POST"), [(b"allow", b"POST")])
            return
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in scope["headers"]
        }
        too_large = _error("payload_too_large", f"the body is larger than {webhooks.MAX_WEBHOOK_BYTES} bytes")
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > webhooks.MAX_WEBHOOK_BYTES:
            await respond(send, 413, too_large)
            return
        try:
            raw_body = await read_body(receive, webhooks.MAX_WEBHOOK_BYTES)
        except BodyTooLarge:
            await respond(send, 413, too_large)
            return
        if raw_body is None:  # Shopify went away
            return
        receiver = await self._receiver(connection_id)
        if receiver is None:
            await respond(
                send, 404, _error("unknown_connection", "no active Shopify connection with this id")
            )
            return
        try:
            delivery = webhooks.check_delivery(receiver, headers, raw_body)
        except webhooks.WebhookRefused as refused:
            if refused.status != 401:
                await respond(send, refused.status, _error(refused.code, refused.message))
                return
            # The secret may have just changed on another machine: look once more.
            receiver = await self._receiver(connection_id, reload=True)
            try:
                if receiver is None:
                    raise refused
                delivery = webhooks.check_delivery(receiver, headers, raw_body)
            except webhooks.WebhookRefused as again:
                await respond(send, again.status, _error(again.code, again.message))
                return
        stored = await self.store(connection_id, [delivery], deadline=self.deadline)
        if stored is Stored.LATE:
            await respond(
                send, 503, _error("busy", "not stored in time; please retry"), [(b"retry-after", b"1")]
            )
        elif stored is Stored.FAILED:
            await respond(send, 500, _error("not_stored", "the delivery could not be stored; please retry"))
        else:
            await respond(send, 200, {"received": True, "duplicate": delivery.duplicate})


def shopify_edge(app: ASGIApp | None = None, **options: Any) -> ShopifyEdge:
    """Wrap an ASGI app (Django's) so that Shopify webhooks are answered by the edge first."""
    return ShopifyEdge(app, **options)
