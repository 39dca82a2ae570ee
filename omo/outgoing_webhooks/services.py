"""Outgoing webhooks: manage a brand's endpoints; turn domain events into deliveries (the outbox).

    endpoint, secret = create_endpoint(brand, url=..., description=..., topics=[...], actor=actor)
    update_endpoint / pause_endpoint / resume_endpoint / delete_endpoint / rotate_secret(..., actor=actor)
    send_test_event(endpoint, actor=actor) / redeliver(delivery, actor=actor)

Every change is audited. The secret is returned once (create, rotate) and stored encrypted.

Domain events (omo.core.events) reach `handler_for(topic)` after their transaction commits: for each
active endpoint of the brand subscribed to the topic it writes one WebhookDelivery (unique per
endpoint and event id) and enqueues its sending (omo.outgoing_webhooks.delivery) after that commit.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import pgettext

from omo.core import audit, crypto
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.models import Brand
from omo.core.outgoing_http import address_is_public
from omo.outgoing_webhooks import signing
from omo.outgoing_webhooks.models import WebhookDelivery, WebhookEndpoint
from omo.outgoing_webhooks.topics import TEST_TOPIC, TOPICS, event_id, new_event_id

logger = logging.getLogger(__name__)

MAX_URL = 500
MAX_DESCRIPTION = 200
ROTATION_GRACE = dt.timedelta(hours=24)  # the old secret also signs this long after a rotation
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
# Which endpoints a brand has is read for every event; a batch of a million attributed orders must
# not cost a million queries. Changes made in this process apply at once; in other processes
# within this many seconds.
ENDPOINTS_CACHE_SECONDS = 2.0


class WebhookError(FieldError, ValueError):
    status = 400


def allow_local() -> bool:
    """http:// to this machine and private addresses: for development and tests only."""
    return bool(getattr(settings, "OMO_WEBHOOK_ALLOW_LOCAL", settings.DEBUG))


def validate_url(raw: str) -> str:
    """The endpoint URL, or a WebhookError naming the problem (field "url")."""
    url = (raw or "").strip()
    if not url:
        raise WebhookError("url", pgettext("webhooks", "請輸入網址。"))
    if len(url) > MAX_URL:
        raise WebhookError("url", pgettext("webhooks", "網址最多 %(max)d 個字元。") % {"max": MAX_URL})
    parts = urlsplit(url)
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in ("https", "http") or not host:
        raise WebhookError(
            "url", pgettext("webhooks", "網址須以 https:// 開頭，例如 https://example.com/hooks/omo。")
        )
    try:
        URLValidator(schemes=["https", "http"])(url)
    except ValidationError as exc:
        raise WebhookError("url", pgettext("webhooks", "網址格式不正確。")) from exc
    if parts.username or parts.password:
        raise WebhookError("url", pgettext("webhooks", "網址不可包含帳號密碼；請改用簽章驗證來源。"))
    local = host in LOCAL_HOSTS
    if scheme == "http" and not (local and allow_local()):
        raise WebhookError(
            "url",
            pgettext(
                "webhooks",
                "須使用 https://：事件內容與簽章不可在網路上明文傳送（http:// 僅限開發環境的本機位址）。",
            ),
        )
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        literal = None
    if (local or (literal is not None and not address_is_public(host))) and not allow_local():
        raise WebhookError(
            "url", pgettext("webhooks", "不可傳送到本機或內部網路位址，請使用對外公開的網址。")
        )
    return url


def validate_topics(raw: Iterable[str]) -> list[str]:
    topics = sorted({str(topic).strip() for topic in raw or () if str(topic).strip()})
    if not topics:
        raise WebhookError("topics", pgettext("webhooks", "請至少選擇一種事件。"))
    unknown = [topic for topic in topics if topic not in TOPICS]
    if unknown:
        raise WebhookError(
            "topics", pgettext("webhooks", "沒有這種事件：%(names)s。") % {"names": ", ".join(unknown)}
        )
    return topics


def validate_description(raw: str) -> str:
    description = (raw or "").strip()
    if len(description) > MAX_DESCRIPTION:
        raise WebhookError(
            "description", pgettext("webhooks", "說明最多 %(max)d 個字元。") % {"max": MAX_DESCRIPTION}
        )
    return description


def _own(endpoint: WebhookEndpoint, actor: Actor) -> None:
    if endpoint.brand_id != actor.brand.pk:
        raise WebhookError("endpoint", "no such endpoint", status=404)


def _hint(secret: str) -> str:
    return secret[: len(signing.SECRET_PREFIX) + 4]


# --- which endpoints want an event (cached briefly per process) --------------------------------------------

_cache_lock = threading.Lock()
_endpoints_cache: dict[int, tuple[float, list[tuple[int, frozenset[str]]]]] = {}


def forget_endpoints(brand_id: int | None = None) -> None:
    with _cache_lock:
        if brand_id is None:
            _endpoints_cache.clear()
        else:
            _endpoints_cache.pop(brand_id, None)


def _changed(brand_id: int) -> None:
    forget_endpoints(brand_id)
    transaction.on_commit(lambda: forget_endpoints(brand_id))


def active_endpoints(brand_id: int) -> list[tuple[int, frozenset[str]]]:
    now = time.monotonic()
    cached = _endpoints_cache.get(brand_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    rows = [
        (pk, frozenset(topics))
        for pk, topics in WebhookEndpoint.objects.filter(brand_id=brand_id, is_active=True).values_list(
            "id", "topics"
        )
    ]
    with _cache_lock:
        _endpoints_cache[brand_id] = (now + ENDPOINTS_CACHE_SECONDS, rows)
    return rows


# --- managing endpoints ------------------------------------------------------------------------------------


def create_endpoint(
    brand: Brand, *, url: str, description: str = "", topics: Iterable[str], actor: Actor
) -> tuple[WebhookEndpoint, str]:
    """A new active endpoint and its signing secret (returned this once, stored encrypted)."""
    if actor.brand.pk != brand.pk:
        raise WebhookError("brand", "no such brand", status=404)
    url, description, topics = validate_url(url), validate_description(description), validate_topics(topics)
    secret = signing.new_secret()
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            brand=brand,
            url=url,
            description=description,
            topics=topics,
            secret_encrypted=crypto.encrypt(secret),
            secret_hint=_hint(secret),
            created_by=actor.user if actor.user is not None and actor.user.pk else None,
        )
        audit.record(actor, "webhook.created", endpoint, url=url, topics=topics)
        _changed(brand.pk)
    return endpoint, secret


def update_endpoint(
    endpoint: WebhookEndpoint, *, url: str, description: str = "", topics: Iterable[str], actor: Actor
) -> WebhookEndpoint:
    _own(endpoint, actor)
    url, description, topics = validate_url(url), validate_description(description), validate_topics(topics)
    before = {"url": endpoint.url, "description": endpoint.description, "topics": endpoint.topics}
    after = {"url": url, "description": description, "topics": topics}
    changes = {field: [before[field], after[field]] for field in after if before[field] != after[field]}
    if not changes:
        return endpoint
    with transaction.atomic():
        endpoint.url, endpoint.description, endpoint.topics = url, description, topics
        endpoint.save(update_fields=["url", "description", "topics", "updated_at"])
        audit.record(actor, "webhook.updated", endpoint, changes=changes)
        _changed(endpoint.brand_id)
    return endpoint


def pause_endpoint(endpoint: WebhookEndpoint, *, actor: Actor, reason: str = "") -> WebhookEndpoint:
    """Stop sending: new events are not queued for it; what is waiting is held until it resumes."""
    _own(endpoint, actor)
    if not endpoint.is_active:
        return endpoint
    reason = (reason or "").strip()[:300] or pgettext("webhooks", "由管理員暫停")
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            is_active=False,
            paused_at=timezone.now(),
            paused_reason=reason,
            paused_automatically=False,
            updated_at=timezone.now(),
        )
        audit.record(actor, "webhook.paused", endpoint, reason=reason)
        _changed(endpoint.brand_id)
    endpoint.refresh_from_db()
    return endpoint


def auto_pause(endpoint_id: int, reason: str) -> bool:
    """Pause an endpoint that keeps failing (or answered 410 Gone). True when this call paused it."""
    now = timezone.now()
    with transaction.atomic():
        paused = WebhookEndpoint.objects.filter(pk=endpoint_id, is_active=True).update(
            is_active=False,
            paused_at=now,
            paused_reason=reason[:300],
            paused_automatically=True,
            updated_at=now,
        )
        if paused:
            endpoint = WebhookEndpoint.objects.select_related("brand").get(pk=endpoint_id)
            audit.record(Actor.system(endpoint.brand), "webhook.auto_paused", endpoint, reason=reason[:300])
            _changed(endpoint.brand_id)
            logger.warning("webhook endpoint %s paused: %s", endpoint_id, reason)
    return bool(paused)


def resume_endpoint(endpoint: WebhookEndpoint, *, actor: Actor) -> WebhookEndpoint:
    """Send again: the failure count starts over and the held deliveries go out now."""
    from omo.outgoing_webhooks import delivery

    _own(endpoint, actor)
    if endpoint.is_active:
        return endpoint
    now = timezone.now()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            is_active=True,
            paused_at=None,
            paused_reason="",
            paused_automatically=False,
            consecutive_failures=0,
            updated_at=now,
        )
        held = list(
            WebhookDelivery.objects.filter(
                endpoint=endpoint, status=WebhookDelivery.Status.PENDING
            ).values_list("id", flat=True)
        )
        WebhookDelivery.objects.filter(pk__in=held).update(next_attempt_at=now)
        audit.record(actor, "webhook.resumed", endpoint, held_deliveries=len(held))
        _changed(endpoint.brand_id)
        for delivery_id in held:
            delivery.enqueue(delivery_id)
    endpoint.refresh_from_db()
    return endpoint


def delete_endpoint(endpoint: WebhookEndpoint, *, actor: Actor) -> None:
    """Remove the endpoint and its delivery log; the audit log keeps the record."""
    _own(endpoint, actor)
    with transaction.atomic():
        audit.record(actor, "webhook.deleted", endpoint, url=endpoint.url, topics=endpoint.topics)
        brand_id = endpoint.brand_id
        endpoint.delete()
        _changed(brand_id)


def rotate_secret(endpoint: WebhookEndpoint, *, actor: Actor) -> str:
    """A new secret (returned this once). The old one keeps signing too for ROTATION_GRACE."""
    _own(endpoint, actor)
    secret = signing.new_secret()
    now = timezone.now()
    with transaction.atomic():
        WebhookEndpoint.objects.filter(pk=endpoint.pk).update(
            previous_secret_encrypted=endpoint.secret_encrypted,
            previous_secret_expires_at=now + ROTATION_GRACE,
            secret_encrypted=crypto.encrypt(secret),
            secret_hint=_hint(secret),
            secret_rotated_at=now,
            updated_at=now,
        )
        audit.record(actor, "webhook.secret_rotated", endpoint, secret_hint=_hint(secret))
    endpoint.refresh_from_db()
    return secret


def signing_secrets(endpoint: WebhookEndpoint, now: dt.datetime | None = None) -> list[str]:
    """The secrets that sign a request now: the current one, then the previous during its grace."""
    now = now or timezone.now()
    found = [crypto.decrypt(endpoint.secret_encrypted)]
    if (
        endpoint.previous_secret_encrypted
        and endpoint.previous_secret_expires_at is not None
        and endpoint.previous_secret_expires_at > now
    ):
        found.append(crypto.decrypt(endpoint.previous_secret_encrypted))
    return found


def send_test_event(endpoint: WebhookEndpoint, *, actor: Actor) -> WebhookDelivery:
    """A `webhook.test` event to this endpoint only (paused or not: it is how one checks a fix)."""
    from omo.outgoing_webhooks import delivery

    _own(endpoint, actor)
    data = {
        "message": "這是一則測試事件 / This is a test event.",
        "endpoint_id": endpoint.pk,
        "sent_by": actor.label,
    }
    eid = new_event_id()
    with transaction.atomic():
        row = WebhookDelivery.objects.create(
            brand_id=endpoint.brand_id,
            endpoint=endpoint,
            event_id=eid,
            topic=TEST_TOPIC,
            body=envelope(eid, TEST_TOPIC, endpoint.brand_id, data),
            next_attempt_at=timezone.now(),
        )
        audit.record(actor, "webhook.test_sent", endpoint, event_id=eid, delivery_id=row.pk)
        delivery.enqueue(row.pk, force=True)
    return row


def redeliver(row: WebhookDelivery, *, actor: Actor) -> WebhookDelivery:
    """Send a delivered or failed event again: same event id and body, a fresh round of attempts."""
    from omo.outgoing_webhooks import delivery

    if row.brand_id != actor.brand.pk:
        raise WebhookError("delivery", "no such delivery", status=404)
    row.refresh_from_db(fields=["status"])
    if row.status not in (WebhookDelivery.Status.DELIVERED, WebhookDelivery.Status.FAILED):
        raise WebhookError("delivery", pgettext("webhooks", "這筆事件正在等待傳送，不需重送。"), status=409)
    with transaction.atomic():
        changed = WebhookDelivery.objects.filter(pk=row.pk, status=row.status).update(
            status=WebhookDelivery.Status.PENDING,
            attempts=0,
            next_attempt_at=timezone.now(),
            claimed_at=None,
            delivered_at=None,
            failed_at=None,
        )
        if changed:
            audit.record(
                actor, "webhook.redelivered", row.endpoint, event_id=row.event_id, delivery_id=row.pk
            )
            delivery.enqueue(row.pk, force=True)
    row.refresh_from_db()
    return row


# --- from domain events to deliveries ------------------------------------------------------------------------


def envelope(eid: str, topic: str, brand_id: int, data: dict[str, Any], at: dt.datetime | None = None) -> str:
    created = (at or timezone.now()).astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
    return json.dumps(
        {"id": eid, "type": topic, "created_at": created, "brand_id": brand_id, "data": data},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def record_event(topic: str, payload: dict[str, Any]) -> list[int]:
    """Write one delivery per active endpoint of the brand subscribed to `topic`; ids of those written."""
    from omo.outgoing_webhooks import delivery

    brand_id = int(payload["brand_id"])
    wanted = [pk for pk, topics in active_endpoints(brand_id) if topic in topics]
    if not wanted:
        return []
    # The cache may be a moment old: an endpoint paused or deleted meanwhile gets nothing.
    wanted = list(
        WebhookEndpoint.objects.filter(brand_id=brand_id, pk__in=wanted, is_active=True).values_list(
            "id", flat=True
        )
    )
    spec = TOPICS[topic]
    eid = event_id(brand_id, topic, payload[spec.key])
    body = envelope(eid, topic, brand_id, spec.data(payload))
    written: list[int] = []
    now = timezone.now()
    with transaction.atomic():
        for endpoint_id in wanted:
            try:
                with transaction.atomic():
                    row = WebhookDelivery.objects.create(
                        brand_id=brand_id,
                        endpoint_id=endpoint_id,
                        event_id=eid,
                        topic=topic,
                        body=body,
                        next_attempt_at=now,
                    )
            except IntegrityError:  # this event was already queued for this endpoint (published twice)
                continue
            written.append(row.pk)
            delivery.enqueue(row.pk)
    return written


def wanted_for(topic: str) -> Callable[[dict[str, Any]], bool]:
    """Whether an event of `topic` concerns any active endpoint of its brand (from the cache)."""

    def wanted(payload: dict[str, Any]) -> bool:
        return any(topic in topics for _, topics in active_endpoints(int(payload["brand_id"])))

    return wanted


def handler_for(topic: str) -> Callable[[dict[str, Any]], None]:
    def on_event(payload: dict[str, Any]) -> None:
        record_event(topic, payload)

    on_event.__name__ = f"webhooks_on_{topic.replace('.', '_')}"
    return on_event
