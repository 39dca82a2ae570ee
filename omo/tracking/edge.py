"""The tracking edge: `POST /v1/{batch,track,identify,page,screen,group,alias}` answered before Django.

Why: the whole ingest in the request (validate, resolve identities, insert, commit) measured ~2,000
events/s on the 2-core reference machine, with most of it in identity resolution and commits per
request. Here, as for platform webhooks (omo/platforms/edge.py; the shared parts in omo/core/edge.py), the request only
does what its answer depends on:

1. read the body within the limit (32 KB for a single call, 500 KB for a batch; gzip is inflated
   within the limit too), parse it, find the source by its write key (401) from a short-lived cache,
2. check every message exactly as the Django view does (omo/tracking/services.py `check_call`), so
   the answer names the rejected messages the same way (`rejected: [{index, error}]`, or a 400 for
   a single call),
3. store the call as one TrackingIntake row through the group-commit writer (many concurrent calls,
   one transaction; on PostgreSQL on an asynchronous connection of the event loop), together with
   the waiting `process_intake` task, and answer 200 once it is committed (503 when that takes
   longer than the clients wait, so they retry; duplicates are dropped by messageId later).

The worker then builds the events of many calls at once, resolves their identities set-wise and
inserts them in one statement (`services.process_intakes`). Servers without this ASGI app (Django's
runserver, the test live server) reach the view in omo/tracking/views.py, which does it all in the request.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import connection, transaction
from django.db.models.signals import post_save
from django.utils import timezone

from omo.core import waiting
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
from omo.tracking import services, views
from omo.tracking.models import TrackingIntake, TrackingSource
from omo.tracking.tasks import INTAKE_KEY, process_intake

PATHS = {f"/v1/{name}{slash}": name for name in services.CALLS for slash in ("", "/")}
SOURCE_TTL = (
    10.0  # seconds a write key's source stays cached (a revocation reaches other processes within it)
)
MISSING_TTL = 5.0
COMMIT_TIMEOUT = 10.0  # the official clients wait 10-15 s; past this they are told to retry (503)
MAX_ROWS = 200  # calls per transaction


@dataclass(frozen=True)
class IntakeRow:
    brand_id: int
    source_id: int
    call: str
    body: bytes
    rejected: list[int]
    received_at: dt.datetime


# --- write keys ------------------------------------------------------------------------------------


class SourceCache(TtlCache[str, TrackingSource]):
    """write key → TrackingSource (or None for "no such active key")."""

    def __init__(self) -> None:
        super().__init__(SOURCE_TTL, MISSING_TTL)


source_cache = SourceCache()


def _forget_sources(sender: type, instance: TrackingSource, **kwargs: Any) -> None:
    source_cache.clear()  # a key was created or revoked: look again


post_save.connect(_forget_sources, sender=TrackingSource, dispatch_uid="omo.tracking.edge.forget_sources")


# --- storing calls ---------------------------------------------------------------------------------------

_COLUMNS = ("brand_id", "source_id", "call", "body", "rejected", "received_at", "status", "events", "error")


def commit_intakes(items: list[tuple[int, list[IntakeRow]]]) -> list[int]:
    """Store calls and make sure `process_intake` will run, in one transaction (sync, any thread)."""
    later: list[int] = []
    with transaction.atomic():
        TrackingIntake.objects.bulk_create(
            [
                TrackingIntake(
                    brand_id=row.brand_id,
                    source_id=row.source_id,
                    call=row.call,
                    body=row.body,
                    rejected=row.rejected,
                    received_at=row.received_at,
                )
                for _, rows in items
                for row in rows
            ]
        )
        waiting.ensure(process_intake, [INTAKE_KEY], after_commit=later)
    return later


def _insert_sql() -> str:
    ops = connection.ops
    table = ops.quote_name(TrackingIntake._meta.db_table)
    columns = ", ".join(ops.quote_name(name) for name in _COLUMNS)
    return (
        f"INSERT INTO {table} ({columns}) "  # noqa: S608 - names from the model
        "SELECT b, s, c, d, r::jsonb, t, %b, 0, '' "
        "FROM unnest(%b::bigint[], %b::bigint[], %b::text[], %b::bytea[], %b::text[], %b::timestamptz[])"
        " AS x(b, s, c, d, r, t)"
    )


def _insert_params(rows: list[tuple[int, IntakeRow]]) -> list[Any]:
    return [
        TrackingIntake.Status.PENDING.value,
        [row.brand_id for _, row in rows],
        [row.source_id for _, row in rows],
        [row.call for _, row in rows],
        [row.body for _, row in rows],
        ["[" + ",".join(map(str, row.rejected)) + "]" for _, row in rows],
        [row.received_at for _, row in rows],
    ]


def _start(keys: list[int]) -> None:
    waiting.start(process_intake, keys)


# --- the edge --------------------------------------------------------------------------------------------


class TrackingEdge(Edge):
    """ASGI app: the tracking API here, everything else to `app`."""

    not_found = {"success": False, "message": "no such endpoint"}

    def __init__(
        self,
        app: ASGIApp | None = None,
        *,
        run_db: DbRunner | None = None,
        run_lookup: DbRunner | None = None,
        async_writer: bool | None = None,
        commit_timeout: float = COMMIT_TIMEOUT,
        cache: SourceCache | None = None,
    ) -> None:
        super().__init__(app, run_db=run_db, run_lookup=run_lookup, async_writer=async_writer, name="intake")
        self.commit_timeout = commit_timeout
        self.cache = cache or source_cache

    def async_committer(self) -> AsyncPostgresCommitter:
        return AsyncPostgresCommitter(
            self._run_db,
            statement=_insert_sql,
            params=_insert_params,
            task=process_intake,
            fallback=commit_intakes,
        )

    def new_writer(self, committer: AsyncPostgresCommitter | None) -> GroupCommitWriter:
        return GroupCommitWriter(
            self._run_db, max_rows=MAX_ROWS, commit=committer, commit_rows=commit_intakes, start=_start
        )

    def match(self, scope: Scope) -> str | None:
        return PATHS.get(scope["path"])

    async def _source(self, key: str) -> TrackingSource | None:
        if not key:
            return None
        found, source = self.cache.get(key)
        if not found:
            source = await self._run_lookup(services.authenticate, key)
            self.cache.put(key, source)
        return source

    async def handle(self, scope: Scope, receive: Receive, send: Send, call_name: str) -> None:
        received_at = timezone.now()
        if scope["method"] != "POST":
            await respond(send, 405, {"success": False, "message": "use POST"}, [(b"allow", b"POST")])
            return
        limit, limit_name = views.limit_of(call_name)
        authorization = encoding = ""
        declared = 0
        for name, value in scope["headers"]:
            name = name.lower()
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"content-encoding":
                encoding = value.decode("latin-1")
            elif name == b"content-length" and value.isdigit():
                declared = int(value)
        too_large = {"success": False, "message": f"request exceeds the {limit_name} limit"}
        if declared > limit:
            await respond(send, 400, too_large)
            return
        try:
            body_bytes = await read_body(receive, limit)
        except BodyTooLarge:
            await respond(send, 400, too_large)
            return
        if body_bytes is None:  # the client went away
            return
        try:
            raw = views.decode_body(body_bytes, encoding, limit, limit_name)
            body = views.parse(raw)
        except views.BadRequest as exc:
            await respond(send, 400, {"success": False, "message": str(exc)})
            return
        source = await self._source(views.write_key(authorization, body))
        if source is None:
            await respond(send, 401, {"success": False, "message": "invalid or missing write key"})
            return
        try:
            call = services.call_of(call_name, body)
        except services.InvalidMessage as exc:
            await respond(send, 400, {"success": False, "message": str(exc)})
            return
        result = services.check_call(source, call, received_at=received_at)
        status, answer = views.answer(call, result)
        if status == 200 and result.accepted:
            row = IntakeRow(
                brand_id=source.brand_id,
                source_id=source.pk,
                call=call_name,
                body=raw,
                rejected=[item["index"] for item in result.rejected],
                received_at=received_at,
            )
            stored = await self.store(INTAKE_KEY, [row], deadline=self.commit_timeout)
            if stored is Stored.LATE:
                await respond(
                    send,
                    503,
                    {"success": False, "message": "not stored in time; please retry"},
                    [(b"retry-after", b"1")],
                )
                return
            if stored is Stored.FAILED:
                await respond(send, 500, {"success": False, "message": "not stored; please retry"})
                return
        await respond(send, status, answer)


def tracking_edge(app: ASGIApp | None = None, **options: Any) -> TrackingEdge:
    """Wrap an ASGI app (Django's) so that the tracking API is answered by the edge first."""
    return TrackingEdge(app, **options)
