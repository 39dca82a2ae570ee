"""Messaging platforms: one adapter package per platform (line/, later meta/, whatsapp/…).

Entry points for the rest of omo (which never imports a platform SDK itself):

- `get_adapter(inbox)` → the inbox's `PlatformAdapter` (omo.platforms.base), cached per inbox and
  rebuilt when its credentials change.
- `adapter_class(platform)` → the adapter class; `verifier_class(platform)` → the SDK-free webhook
  verifier the edge uses (signature, shape, limits).
- `omo.platforms.edge.webhook_edge(app)` → the ASGI edge for `POST /webhooks/<platform>/<inbox id>`.
- `omo.platforms.tasks.process_receipts` → the task that turns stored receipts into domain actions.
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import TYPE_CHECKING

from django.utils.module_loading import import_string

from omo.platforms.base import PlatformAdapter, WebhookVerifier

if TYPE_CHECKING:
    from omo.inbox.models import Inbox

# Platform value (omo.inbox.models.Platform) → dotted path of its adapter class (SDK side) and of
# its webhook verifier (edge side, SDK-free: the edge must not wait for an SDK import).
ADAPTERS: dict[str, str] = {
    "line": "omo.platforms.line.adapter.LineAdapter",
}
VERIFIERS: dict[str, str] = {
    "line": "omo.platforms.line.webhook.LineWebhook",
}

_cache: dict[int, tuple[str, PlatformAdapter]] = {}
_cache_lock = threading.Lock()


class UnsupportedPlatform(LookupError):
    pass


def adapter_class(platform: str) -> type[PlatformAdapter]:
    try:
        return import_string(ADAPTERS[platform])
    except KeyError as exc:
        raise UnsupportedPlatform(f"no adapter for platform {platform!r}") from exc


def verifier_class(platform: str) -> type[WebhookVerifier]:
    try:
        return import_string(VERIFIERS[platform])
    except KeyError as exc:
        raise UnsupportedPlatform(f"no webhook verifier for platform {platform!r}") from exc


def _fingerprint(inbox: Inbox) -> str:
    # Credentials and API base decide the adapter; when either changes we build a new one.
    from django.conf import settings

    material = json.dumps(
        [
            inbox.platform,
            inbox.secrets,
            inbox.external_id,
            settings.OMO_LINE_API_BASE,
            getattr(settings, "OMO_LINE_DATA_API_BASE", None),
        ],
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(material.encode()).hexdigest()


def get_adapter(inbox: Inbox) -> PlatformAdapter:
    """The adapter for this inbox (reused across calls: it holds an HTTP connection pool)."""
    fingerprint = _fingerprint(inbox)
    with _cache_lock:
        cached = _cache.get(inbox.pk)
        if cached is not None and cached[0] == fingerprint:
            return cached[1]
    adapter = adapter_class(inbox.platform).for_inbox(inbox)  # type: ignore[attr-defined]
    with _cache_lock:
        _cache[inbox.pk] = (fingerprint, adapter)
    return adapter


def forget_adapter(inbox_id: int) -> None:
    with _cache_lock:
        _cache.pop(inbox_id, None)
