"""The Segment HTTP API: /v1/{batch,track,identify,page,screen,group,alias}.

Auth is HTTP Basic with the write key as username and an empty password, or `writeKey` in the
body. Bodies may be gzip-compressed (`Content-Encoding: gzip`), as the official clients send them.

Errors: 401 for a missing/wrong/revoked key, 400 for malformed JSON, a body over the limit
(32 KB for a single call, 500 KB for a batch) or, on a single call, an invalid message (the
error names the field, e.g. "userId or anonymousId is required").

A bad message inside a batch does not sink the batch: the official clients do not retry a 400,
so rejecting the whole batch would lose its valid messages. The valid ones are stored, the bad
ones are skipped and listed in the answer as `rejected: [{index, error}]` next to
`success: true`. A retried batch counts once since duplicates are dropped by `messageId`.
A batch none of whose messages is valid answers 400 naming the first bad one (`batch[0]: type
must be one of …`), with the same `rejected` list.
"""

from __future__ import annotations

import base64
import binascii
import json
import zlib
from typing import Any

try:
    import orjson
except ImportError:  # pragma: no cover - orjson is a pinned dependency; the standard library works too
    orjson = None  # type: ignore[assignment]

from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from omo.tracking import services
from omo.tracking.models import TrackingSource


class BadRequest(Exception):
    pass


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"success": False, "message": message}, status=status)


def _read_body(request: HttpRequest, limit: int, limit_name: str) -> bytes:
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise BadRequest(f"request exceeds the {limit_name} limit")
    return decode_body(request.body, request.headers.get("Content-Encoding", ""), limit, limit_name)


def decode_body(raw: bytes, content_encoding: str, limit: int, limit_name: str) -> bytes:
    """The body as JSON bytes: gunzipped when it says so, within `limit` either way (BadRequest)."""
    if len(raw) > limit:
        raise BadRequest(f"request exceeds the {limit_name} limit")
    encoding = content_encoding.strip().lower()
    if encoding in ("gzip", "x-gzip"):
        # Decompress at most limit + 1 bytes so a small gzip bomb cannot take memory.
        decompressor = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            data = decompressor.decompress(raw, limit + 1)
        except zlib.error as exc:
            raise BadRequest("body is not valid gzip") from exc
        if len(data) <= limit and not decompressor.eof:
            raise BadRequest("body is not valid gzip")
        raw = data
    elif encoding not in ("", "identity"):
        raise BadRequest(f"unsupported Content-Encoding {encoding!r}")
    if len(raw) > limit:
        raise BadRequest(f"request exceeds the {limit_name} limit")
    return raw


def parse(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw) if orjson is not None else json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("malformed JSON") from exc
    if not isinstance(body, dict):
        raise BadRequest("body must be a JSON object")
    return body


def _write_key(request: HttpRequest, body: dict[str, Any]) -> str:
    return write_key(request.headers.get("Authorization", ""), body)


def write_key(authorization: str, body: dict[str, Any]) -> str:
    """HTTP Basic with the write key as user name, or `writeKey` in the body."""
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.split(":", 1)[0]
    key = body.get("writeKey")
    return key if isinstance(key, str) else ""


def _authenticate(request: HttpRequest, body: dict[str, Any]) -> TrackingSource | None:
    return services.authenticate(_write_key(request, body))


def answer(call: services.Call, result: services.IngestResult) -> tuple[int, dict[str, Any]]:
    """Status and body of the answer to a checked call (the same for this view and the edge)."""
    if not call.is_batch:
        if result.rejected:
            return 400, {"success": False, "message": result.rejected[0]["error"]}
        return 200, {"success": True}
    if result.rejected and not result.accepted:
        # Nothing of the batch can be stored: a 400 that names the first bad field (its index).
        first = result.rejected[0]
        message = f"no message of the batch is valid; batch[{first['index']}]: {first['error']}"
        return 400, {"success": False, "message": message, "rejected": result.rejected}
    body: dict[str, Any] = {"success": True}
    if result.rejected:
        body["rejected"] = result.rejected
    return 200, body


def limit_of(call: str) -> tuple[int, str]:
    if call == services.BATCH:
        return services.MAX_BATCH_BYTES, "500 KB batch"
    return services.MAX_MESSAGE_BYTES, "32 KB message"


def _handle(request: HttpRequest, call_name: str | None) -> JsonResponse:
    received_at = timezone.now()
    call_name = call_name or services.BATCH
    limit, limit_name = limit_of(call_name)
    try:
        body = parse(_read_body(request, limit, limit_name))
    except BadRequest as exc:
        return _error(400, str(exc))
    source = _authenticate(request, body)
    if source is None:
        return _error(401, "invalid or missing write key")
    try:
        call = services.call_of(call_name, body)
    except services.InvalidMessage as exc:
        return _error(400, str(exc))
    status, answer_body = answer(call, services.ingest_call(source, call, received_at=received_at))
    return JsonResponse(answer_body, status=status)


def _view(call: str | None):
    @csrf_exempt
    @require_POST
    def view(request: HttpRequest) -> JsonResponse:
        return _handle(request, call)

    view.__name__ = f"tracking_{call or 'batch'}"
    return view


batch = _view(None)
track = _view("track")
identify = _view("identify")
page = _view("page")
screen = _view("screen")
group = _view("group")
alias = _view("alias")
