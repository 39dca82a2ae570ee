"""The LINE Messaging API adapter, on the official line-bot-sdk (v3).

Wire facts it follows (see ../shared/reference/platforms.md §A):
- signature = base64(HMAC-SHA256(channel secret, raw body)), header `x-line-signature`;
- webhook body `{"destination", "events": [...]}` with `events: []` as a connectivity check;
- content lives on another host (api-data.line.me); one `Configuration(host=…)` override redirects
  every API to the same host, which is how tests and the demo point us at the stand-in;
- a 409 on a retried push means LINE already accepted it; 429 is a rate limit *or* the monthly
  quota ("You have reached your monthly limit."), told apart by the message.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import urllib3
from django.conf import settings
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    MessagingApiBlob,
    MulticastRequest,
    PushMessageRequest,
    ReplyMessageRequest,
    ShowLoadingAnimationRequest,
)
from linebot.v3.messaging import Message as LineMessage
from linebot.v3.models.events import UnknownEvent
from linebot.v3.webhooks import Event

from omo.platforms.base import (
    Content,
    DeliveryOutcome,
    Endpoint,
    InboundEvent,
    OutboundRequest,
    PlatformAdapter,
    PlatformError,
    Profile,
    ReceiptRow,
    SendResult,
    SendStatus,
    stable_event_id,
)
from omo.platforms.line.webhook import (
    LINE_LIMITS,
    compute_signature,
    event_time,
    receipt_rows,
    verify_signature,
)

if TYPE_CHECKING:
    from omo.inbox.models import Inbox, Message

logger = logging.getLogger(__name__)

LINE_API_BASE = "https://api.line.me"
LINE_DATA_API_BASE = "https://api-data.line.me"
RETRY_KEY_HEADER = "X-Line-Retry-Key"
QUOTA_EXHAUSTED_MESSAGE = "You have reached your monthly limit."
INVALID_REPLY_TOKEN_MESSAGE = "Invalid reply token"
__all__ = ["LINE_LIMITS", "LineAdapter", "api_bases", "compute_signature", "validate_message"]


def api_bases() -> tuple[str, str]:
    """(messaging API base, content API base) from settings.

    OMO_LINE_DATA_API_BASE wins when set. Otherwise: the real content host when the API base is the
    real one, else the same override host (exactly what the SDK does when `Configuration.host` is
    set), so a single OMO_LINE_API_BASE points everything at a stand-in.
    """
    api = (settings.OMO_LINE_API_BASE or LINE_API_BASE).rstrip("/")
    data = getattr(settings, "OMO_LINE_DATA_API_BASE", None)
    if data:
        return api, data.rstrip("/")
    return api, (LINE_DATA_API_BASE if api == LINE_API_BASE else api)


def _json_or_empty(body: Any) -> dict[str, Any]:
    if isinstance(body, bytes | bytearray):
        body = body.decode("utf-8", "replace")
    if not body:
        return {}
    try:
        parsed = json.loads(body)
    except ValueError:
        return {"message": str(body)[:200]}
    return parsed if isinstance(parsed, dict) else {}


def _object(value: object) -> dict[str, Any]:
    """A JSON object of an event, or {} when the field is missing or not an object."""
    return value if isinstance(value, dict) else {}


def _header(headers: Any, name: str) -> str:
    if not headers:
        return ""
    value = headers.get(name) or headers.get(name.lower())
    return str(value or "")


def _error_text(body: Mapping[str, Any]) -> str:
    message = str(body.get("message") or "")
    details = body.get("details") or []
    parts = [
        f"{d.get('property', '')}: {d.get('message', '')}".strip(": ") for d in details if isinstance(d, dict)
    ]
    return "; ".join([message, *parts]) if parts else message


class LineAdapter(PlatformAdapter):
    """One LINE official account (Messaging API channel)."""

    platform = "line"
    limits = LINE_LIMITS

    def __init__(
        self,
        *,
        channel_secret: str,
        access_token: str,
        inbox_id: int | None = None,
        api_base: str | None = None,
        data_api_base: str | None = None,
        timeout: float | tuple[float, float] | None = None,
    ) -> None:
        default_api, default_data = api_bases()
        self.inbox_id = inbox_id
        self.channel_secret = channel_secret
        self.access_token = access_token
        self.api_base = (api_base or default_api).rstrip("/")
        self.data_api_base = (data_api_base or default_data).rstrip("/")
        self.timeout = (
            timeout if timeout is not None else getattr(settings, "OMO_LINE_HTTP_TIMEOUT", (3.0, 10.0))
        )
        self._client: ApiClient | None = None
        self._data_client: ApiClient | None = None

    @classmethod
    def for_inbox(cls, inbox: Inbox) -> LineAdapter:
        secrets = inbox.secrets or {}
        return cls(
            channel_secret=secrets.get("channel_secret", ""),
            access_token=secrets.get("access_token", ""),
            inbox_id=inbox.pk,
        )

    # --- SDK clients ---------------------------------------------------------------------------

    def _configuration(self, host: str) -> Configuration:
        configuration = Configuration(access_token=self.access_token, host=host)
        # One retry policy only: ours (omo.platforms.line.sending), which knows which calls are safe
        # to repeat. urllib3's own retries would re-send a push without us knowing.
        configuration.retries = urllib3.Retry(
            total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False
        )
        return configuration

    @property
    def client(self) -> ApiClient:
        if self._client is None:
            self._client = ApiClient(self._configuration(self.api_base))
        return self._client

    @property
    def data_client(self) -> ApiClient:
        if self._data_client is None:
            self._data_client = ApiClient(self._configuration(self.data_api_base))
        return self._data_client

    @property
    def messaging(self) -> MessagingApi:
        return MessagingApi(self.client)

    @property
    def blob(self) -> MessagingApiBlob:
        return MessagingApiBlob(self.data_client)

    # --- webhook (edge side: no SDK, no database) ----------------------------------------------

    def verify(self, headers: Mapping[str, str], raw_body: bytes) -> bool:
        return verify_signature(self.channel_secret, headers, raw_body)

    @classmethod
    def receipt_rows(cls, document: Any) -> list[ReceiptRow]:
        return receipt_rows(document)

    # --- webhook (task side) -------------------------------------------------------------------

    def parse(self, raw_body: bytes) -> list[InboundEvent]:
        document = json.loads(raw_body)
        return [self.parse_event(event) for event in document.get("events", []) if isinstance(event, dict)]

    def parse_event(self, event: dict[str, Any]) -> InboundEvent:
        known = True
        problem = ""
        try:
            model: Any = Event.from_dict(event)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # New event types, new message types, or fields the SDK does not accept: kept and
            # recorded with what is wrong, never an exception (LINE adds types without notice).
            known = False
            problem = sdk_problem(event, exc)
            try:
                model = UnknownEvent.new_from_json_dict(event)
            except (ValueError, TypeError):
                model = None
        source = _object(event.get("source"))
        context = _object(event.get("deliveryContext"))
        event_id = event.get("webhookEventId")
        return InboundEvent(
            event_id=event_id if isinstance(event_id, str) and event_id else stable_event_id(event),
            event_type=str(event.get("type") or "unknown"),
            occurred_at=event_time(event.get("timestamp")),
            source_type=str(source.get("type") or ""),
            user_id=source.get("userId") or None,
            chat_id=source.get("groupId") or source.get("roomId") or None,
            reply_token=event.get("replyToken") or None,
            is_redelivery=bool(context.get("isRedelivery")),
            standby=event.get("mode") == "standby",
            known=known,
            raw=event,
            model=model,
            problem=problem,
        )

    # --- sending -------------------------------------------------------------------------------

    def send(self, request: OutboundRequest) -> SendResult:
        endpoint = request.endpoint
        try:
            body: dict[str, Any] = {
                "messages": request.messages,
                "notificationDisabled": request.notification_disabled,
            }
            if endpoint is Endpoint.REPLY:
                reply = ReplyMessageRequest.from_dict({**body, "replyToken": request.reply_token})
                response = self.messaging.reply_message_with_http_info(reply, _request_timeout=self.timeout)
            elif endpoint is Endpoint.PUSH:
                push = PushMessageRequest.from_dict({**body, "to": request.to})
                response = self.messaging.push_message_with_http_info(
                    push, x_line_retry_key=request.retry_key, _request_timeout=self.timeout
                )
            else:
                multicast = MulticastRequest.from_dict({**body, "to": request.to})
                response = self.messaging.multicast_with_http_info(
                    multicast, x_line_retry_key=request.retry_key, _request_timeout=self.timeout
                )
        except ApiException as exc:
            return self._classify(exc, endpoint)
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            return SendResult(SendStatus.TRANSIENT, endpoint, error=f"{type(exc).__name__}: {exc}"[:300])
        except (ValueError, TypeError) as exc:  # the SDK's request models refused the body: never sent
            return SendResult(SendStatus.REJECTED, endpoint, error=f"invalid request: {exc}"[:300])
        sent = getattr(response.data, "sent_messages", None) or []
        return SendResult(
            SendStatus.SENT,
            endpoint,
            http_status=response.status_code,
            request_id=_header(response.headers, "x-line-request-id"),
            message_ids=[m.id for m in sent],
        )

    def _classify(self, exc: ApiException, endpoint: Endpoint) -> SendResult:
        status = int(exc.status or 0)
        body = _json_or_empty(exc.body)
        request_id = _header(exc.headers, "x-line-request-id")
        error = _error_text(body) or (exc.reason or "")
        if status == 409:
            # "The retry key is already accepted": the first attempt went through.
            ids = [
                str(m["id"]) for m in body.get("sentMessages") or [] if isinstance(m, dict) and m.get("id")
            ]
            accepted = _header(exc.headers, "x-line-accepted-request-id") or request_id
            return SendResult(SendStatus.ALREADY_ACCEPTED, endpoint, 409, accepted, ids, error)
        if status == 429:
            kind = SendStatus.QUOTA_EXHAUSTED if QUOTA_EXHAUSTED_MESSAGE in error else SendStatus.RATE_LIMITED
            return SendResult(kind, endpoint, 429, request_id, error=error)
        if status == 400 and endpoint is Endpoint.REPLY and INVALID_REPLY_TOKEN_MESSAGE in error:
            return SendResult(SendStatus.INVALID_REPLY_TOKEN, endpoint, 400, request_id, error=error)
        if status == 0 or status >= 500:
            return SendResult(SendStatus.TRANSIENT, endpoint, status, request_id, error=error)
        return SendResult(SendStatus.REJECTED, endpoint, status, request_id, error=error)

    def render(self, message: Message) -> list[dict[str, Any]]:
        from omo.platforms.line.render import render_message

        return render_message(message)

    def deliver(self, message: Message) -> DeliveryOutcome:
        from omo.platforms.line.sending import deliver

        return deliver(self, message)

    # --- reads ---------------------------------------------------------------------------------

    def fetch_profile(self, external_user_id: str) -> Profile | None:
        try:
            profile = self.messaging.get_profile(external_user_id, _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise PlatformError(f"profile {external_user_id}: HTTP {exc.status}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise PlatformError(f"profile {external_user_id}: {exc}") from exc
        return Profile(
            user_id=profile.user_id,
            display_name=profile.display_name or "",
            picture_url=profile.picture_url or "",
            status_message=profile.status_message or "",
            language=profile.language or "",
        )

    def fetch_content(self, message_id: str) -> Content | None:
        try:
            response = self.blob.get_message_content_with_http_info(message_id, _request_timeout=self.timeout)
        except ApiException as exc:
            if exc.status in (404, 410):
                return None
            raise PlatformError(f"content {message_id}: HTTP {exc.status}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise PlatformError(f"content {message_id}: {exc}") from exc
        if response.status_code == 202:  # large video/audio still being prepared
            return Content(ready=False)
        content_type = _header(response.headers, "content-type") or "application/octet-stream"
        return Content(data=bytes(response.data or b""), content_type=content_type.split(";")[0].strip())

    def content_status(self, message_id: str) -> str:
        """'processing' | 'succeeded' | 'failed' for video/audio being prepared."""
        try:
            return self.blob.get_message_content_transcoding_by_message_id(
                message_id, _request_timeout=self.timeout
            ).status
        except ApiException as exc:
            if exc.status == 404:
                return "failed"
            raise PlatformError(f"transcoding {message_id}: HTTP {exc.status}") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise PlatformError(f"transcoding {message_id}: {exc}") from exc

    def show_loading(self, user_id: str, seconds: int = 5) -> bool:
        """The '…' animation in a 1:1 chat while a clerk types (5–60 s, multiple of 5)."""
        seconds = min(60, max(5, 5 * round(seconds / 5)))
        try:
            self.messaging.show_loading_animation(
                ShowLoadingAnimationRequest(chat_id=user_id, loading_seconds=seconds),
                _request_timeout=self.timeout,
            )
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            logger.info("loading animation for %s failed: %s", user_id, exc)
            return False
        return True

    def quota(self) -> dict[str, Any]:
        """{'type': 'none'|'limited', 'limit': int|None, 'used': int} as LINE reports it (approximate)."""
        try:
            quota = self.messaging.get_message_quota(_request_timeout=self.timeout)
            used = self.messaging.get_message_quota_consumption(_request_timeout=self.timeout)
        except (ApiException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise PlatformError(f"quota: {exc}") from exc
        return {
            "type": str(getattr(quota.type, "value", quota.type)),
            "limit": quota.value,
            "used": used.total_usage,
        }


def validate_message(message: dict[str, Any]) -> dict[str, Any]:
    """Check one LINE message object with the SDK model; returns it unchanged or raises ValueError."""
    try:
        parsed = LineMessage.from_dict(message)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ValueError(f"invalid LINE message: {exc}") from exc
    if parsed is None:
        raise ValueError("invalid LINE message: empty")
    return message


def sdk_problem(event: Mapping[str, Any], exc: Exception) -> str:
    """Why the SDK's model refused a webhook event, in one sentence (recorded on its receipt)."""
    event_type = event.get("type")
    text = str(exc)
    if "failed to lookup discriminator value" in text:
        what = text.split(" failed to lookup", 1)[0]
        if what == "Event":
            return f"unknown LINE event type {event_type!r}"
        inner: Any = None
        try:
            inner = json.loads(text.split(" value from ", 1)[1].split(". Discriminator property", 1)[0])
        except (IndexError, ValueError):
            pass
        kind = inner.get("type") if isinstance(inner, dict) else None
        return f"LINE {event_type!r} event of a {what} type the LINE SDK does not know: {kind!r}"
    errors = getattr(exc, "errors", None)
    model = getattr(getattr(exc, "model", None), "__name__", "")
    if callable(errors):
        try:
            details = "; ".join(
                f"{'.'.join(str(part) for part in error.get('loc', ())) or '(event)'}: {error.get('msg', '')}"
                for error in errors()[:5]
            )
        except Exception:  # noqa: BLE001 — the sentence must not fail where the model did
            details = text.splitlines()[0] if text else type(exc).__name__
        return f"LINE {event_type!r} event does not match the LINE SDK's {model or 'model'}: {details}"
    first = text.splitlines()[0][:300] if text else type(exc).__name__
    return f"LINE {event_type!r} event does not match the LINE SDK's model: {first}"
