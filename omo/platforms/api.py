"""REST endpoints for connected platform accounts (inboxes): connect a LINE official account,
list, read, change (settings, message plan, rotated secret/token, reconnect) and disconnect.

An inbox holds the channel secret and access token, the same trust as an API key, so every route
needs `apikeys.manage` (HQ admins) and rows are read through omo.inbox.selectors.visible_inboxes.
Secrets are never returned: only whether each is set and the access token's last four characters.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest
from ninja import Router, Schema, Status
from pydantic import Field

from omo.core.api import ErrorOut, actor_of, allow, get_or_404
from omo.inbox import selectors as inbox_selectors
from omo.inbox.models import Inbox
from omo.platforms import quarantine
from omo.platforms.line import connect

router = Router(tags=["inboxes"])

PERMISSION = "apikeys.manage"
ERRORS: dict[int, type[Schema]] = {
    401: ErrorOut,
    403: ErrorOut,
    404: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
    502: ErrorOut,
}


class PlanOut(Schema):
    included: int = Field(..., description="messages a month included in the LINE plan")
    extra_price: int = Field(
        ..., description="price of each message beyond the plan, minor units (TWD: 20 = NT$0.20)"
    )


class SecretsOut(Schema):
    channel_secret_set: bool
    access_token_set: bool
    access_token_last4: str


class LastWebhookOut(Schema):
    received_at: dt.datetime | None
    events: int
    processed: int
    failed: int
    pending: int
    signature_failed_at: dt.datetime | None
    outcome: str = Field(..., description="none | processed | pending | failed | signature_failed")


class InboxOut(Schema):
    id: int
    platform: str
    name: str
    channel_id: str
    basic_id: str
    bot_user_id: str
    is_active: bool
    webhook_url: str
    login_channel_id: str
    liff_id: str
    plan: PlanOut
    secrets: SecretsOut
    last_webhook: LastWebhookOut
    created_at: dt.datetime


class WebhookTestOut(Schema):
    success: bool
    timestamp: str
    statusCode: int  # noqa: N815 (LINE's name)
    reason: str
    detail: str


class BotOut(Schema):
    display_name: str
    basic_id: str


class ConnectOut(Schema):
    inbox_id: int
    inbox: InboxOut
    webhook_url: str
    bot: BotOut
    webhook_set: bool
    webhook_test: WebhookTestOut | None
    webhook_error: str
    notes: list[str]


class ConnectIn(Schema):
    platform: Literal["line"] = "line"
    channel_id: str = Field(..., min_length=1, max_length=20, description="Messaging API channel ID")
    channel_secret: str = Field(..., min_length=1, max_length=64, description="32 hexadecimal characters")
    access_token: str = Field(
        ..., min_length=1, max_length=1000, description="long-lived channel access token"
    )
    name: str = Field("", max_length=120, description="empty: the bot's display name")
    login_channel_id: str = Field("", max_length=20)
    liff_id: str = Field("", max_length=40)
    plan_included: int = Field(connect.DEFAULT_PLAN["included"], ge=0)
    plan_extra_price: int = Field(connect.DEFAULT_PLAN["extra_price"], ge=0, description="minor units")


class InboxPatch(Schema):
    name: str | None = Field(None, max_length=120)
    login_channel_id: str | None = Field(None, max_length=20)
    liff_id: str | None = Field(None, max_length=40)
    plan_included: int | None = Field(None, ge=0)
    plan_extra_price: int | None = Field(None, ge=0, description="minor units")
    channel_secret: str | None = Field(None, max_length=64, description="a new channel secret")
    access_token: str | None = Field(None, max_length=1000, description="a new token, checked against LINE")
    is_active: bool | None = Field(None, description="true reconnects a disconnected inbox")


def inbox_out(inbox: Inbox) -> dict[str, Any]:
    config = inbox.config or {}
    secrets = inbox.secrets or {}
    plan = {**connect.DEFAULT_PLAN, **(config.get("plan") or {})}
    last = inbox_selectors.last_webhook(inbox)
    token = secrets.get("access_token", "")
    return {
        "id": inbox.pk,
        "platform": inbox.platform,
        "name": inbox.name,
        "channel_id": inbox.external_id,
        "basic_id": inbox.handle,
        "bot_user_id": inbox.bot_user_id,
        "is_active": inbox.is_active,
        "webhook_url": connect.webhook_url(inbox),
        "login_channel_id": config.get("login_channel_id", ""),
        "liff_id": config.get("liff_id", ""),
        "plan": {"included": int(plan["included"]), "extra_price": int(plan["extra_price"])},
        "secrets": {
            "channel_secret_set": bool(secrets.get("channel_secret")),
            "access_token_set": bool(token),
            "access_token_last4": token[-4:] if len(token) >= 8 else "",
        },
        "last_webhook": {
            "received_at": last.received_at,
            "events": last.events,
            "processed": last.processed,
            "failed": last.failed,
            "pending": last.pending,
            "signature_failed_at": last.signature_failed_at,
            "outcome": last.outcome,
        },
        "created_at": inbox.created_at,
    }


def _inbox(request: HttpRequest, inbox_id: int) -> Inbox:
    return get_or_404(inbox_selectors.visible_inboxes(actor_of(request)), "inbox", pk=inbox_id)


@router.get("/inboxes", auth=allow(PERMISSION), response={200: list[InboxOut], **ERRORS})
def list_inboxes(request: HttpRequest):
    """The brand's connected accounts (secrets never shown)."""
    return [inbox_out(inbox) for inbox in inbox_selectors.visible_inboxes(actor_of(request))]


@router.post("/inboxes", auth=allow(PERMISSION), response={201: ConnectOut, **ERRORS})
def connect_inbox(request: HttpRequest, data: ConnectIn):
    """Connect a LINE official account: the token is checked with LINE (401 → 422, nothing saved);
    over HTTPS the webhook URL is set on LINE and tested, otherwise `notes` says where to paste it."""
    actor = actor_of(request)
    result = connect.connect_line(actor.brand, actor=actor, **data.model_dump(exclude={"platform"}))
    return Status(201, {**result.as_dict(), "inbox": inbox_out(result.inbox)})


@router.get("/inboxes/{inbox_id}", auth=allow(PERMISSION), response={200: InboxOut, **ERRORS})
def get_inbox(request: HttpRequest, inbox_id: int):
    """One connected account, with its last webhook and what became of it."""
    return inbox_out(_inbox(request, inbox_id))


@router.patch("/inboxes/{inbox_id}", auth=allow(PERMISSION), response={200: InboxOut, **ERRORS})
def patch_inbox(request: HttpRequest, inbox_id: int, data: InboxPatch):
    """Change the name, LINE Login channel, LIFF id, message plan; rotate the secret or token
    (a new token is checked with LINE first); `is_active: true` reconnects."""
    actor = actor_of(request)
    inbox = _inbox(request, inbox_id)
    given = data.model_dump(exclude_unset=True, exclude_none=True)
    rotate = {key: given.pop(key) for key in ("channel_secret", "access_token") if key in given}
    is_active = given.pop("is_active", None)
    if rotate:
        inbox = connect.rotate_credentials(inbox, actor=actor, **rotate)
    if given:
        inbox = connect.update_settings(inbox, actor=actor, **given)
    if is_active is True and not inbox.is_active:
        inbox = connect.reconnect(inbox, actor=actor)
    elif is_active is False and inbox.is_active:
        inbox = connect.disconnect(inbox, actor=actor)
    return inbox_out(inbox)


@router.delete("/inboxes/{inbox_id}", auth=allow(PERMISSION), response={204: None, **ERRORS})
def delete_inbox(request: HttpRequest, inbox_id: int):
    """Disconnect: the inbox becomes inactive, its webhooks are answered 404, history is kept."""
    connect.disconnect(_inbox(request, inbox_id), actor=actor_of(request))
    return Status(204, None)


# --- quarantine: webhook rows that could not be processed (omo/platforms/quarantine.py) ------------


class QuarantinedOut(Schema):
    kind: Literal["intake", "receipt"] = Field(
        ..., description="intake: a whole request that could not be split; receipt: one event that failed"
    )
    id: int
    received_at: dt.datetime
    failed_at: dt.datetime | None
    event_type: str = Field(..., description="the platform's event type (empty for an intake)")
    reason: str = Field(
        ..., description="why it could not be processed, in a sentence of the request's language"
    )
    reason_code: str = Field(
        ...,
        description="the reason as a stable code: unparseable, not_stored, not_stored_nul, processing_failed, "
        "processing_failed_nul, unknown (an older row whose sentence is kept as its detail)",
    )
    reason_params: dict[str, str] = Field(
        ..., description="the reason's facts (detail: the error's first line; error: its type)"
    )


class QuarantineOut(Schema):
    total: int
    items: list[QuarantinedOut] = Field(..., description="the newest 100")


@router.get("/inboxes/{inbox_id}/quarantine", auth=allow(PERMISSION), response={200: QuarantineOut, **ERRORS})
def list_quarantine(request: HttpRequest, inbox_id: int):
    """Webhook requests and events of this inbox that could not be processed, newest first, with the
    reason. They no longer hold up the others; retry or discard each one."""
    total, rows = quarantine.listing(_inbox(request, inbox_id))
    return {"total": total, "items": [{**row.__dict__, "reason": row.reason} for row in rows]}


@router.post(
    "/inboxes/{inbox_id}/quarantine/{kind}/{row_id}/retry",
    auth=allow(PERMISSION),
    response={202: None, **ERRORS},
)
def retry_quarantined(request: HttpRequest, inbox_id: int, kind: Literal["intake", "receipt"], row_id: int):
    """Put one quarantined row back in line; the inbox's processing task runs it again (202)."""
    quarantine.retry(_inbox(request, inbox_id), kind, row_id, actor=actor_of(request))
    return Status(202, None)


@router.delete(
    "/inboxes/{inbox_id}/quarantine/{kind}/{row_id}", auth=allow(PERMISSION), response={204: None, **ERRORS}
)
def discard_quarantined(request: HttpRequest, inbox_id: int, kind: Literal["intake", "receipt"], row_id: int):
    """Give up on one quarantined row: an intake is deleted with its raw body; a receipt is kept as
    ignored so that a redelivery of its event stays a no-op."""
    quarantine.discard(_inbox(request, inbox_id), kind, row_id, actor=actor_of(request))
    return Status(204, None)
