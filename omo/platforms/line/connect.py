"""Connecting a brand's LINE official account: checked against LINE when saved, and its later life
(rotate the secret and token, edit name / LINE Login / LIFF / message plan, disconnect, reconnect).

Order of a connect, so that a wrong token saves nothing and the webhook LINE tests can find us:
1. inputs checked (channel id digits, secret 32 hex characters, token present, plan numbers);
2. `GET /v2/bot/info` with the token, outside any transaction: 401 → LineAccountError, nothing saved;
3. one transaction: refuse a channel id already connected (any brand), create the inbox, audit;
4. after the commit: when the public URL (settings.BASE_URL, OMO_BASE_URL) is HTTPS, set the
   webhook URL on LINE and run LINE's webhook test (LINE posts to us, so the inbox must exist);
   otherwise LINE would refuse the URL, so we do not call it and say where to paste it instead.

The channel secret cannot be checked by any API call: a wrong one shows as signature failures on
the inbox's last-webhook line (omo.inbox.selectors.last_webhook).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db import transaction

from omo.core import audit
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.models import Brand
from omo.inbox import selectors as inbox_selectors
from omo.inbox import services as inbox_services
from omo.inbox.models import Inbox, Platform
from omo.platforms import forget_adapter
from omo.platforms.base import PlatformError
from omo.platforms.line import account
from omo.platforms.line.types import BotInfo, WebhookTest

CHANNEL_ID = re.compile(r"^[0-9]{6,20}$")
CHANNEL_SECRET = re.compile(r"^[0-9a-fA-F]{32}$")
LIFF_ID = re.compile(r"^[0-9]{6,20}-[A-Za-z0-9]{4,20}$")
MAX_TOKEN = 1000
MAX_INCLUDED = 10_000_000
MAX_EXTRA_PRICE = 100_000  # minor units (NT$1,000) per message: anything above is a typo
DEFAULT_PLAN = {"included": 200, "extra_price": 0}  # LINE Taiwan's free (communication) plan
SECRET_HINT = (
    "LINE cannot check the channel secret: if it is wrong, webhooks are refused and the inbox page "
    "shows “signature failed” on its last-webhook line."
)


class LineAccountError(FieldError, ValueError):
    """A refused LINE account setting, naming the field."""

    status = 422


@dataclass
class ConnectResult:
    inbox: Inbox
    webhook_url: str
    bot: BotInfo
    webhook_set: bool = False
    webhook_test: WebhookTest | None = None
    webhook_error: str = ""
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "inbox_id": self.inbox.pk,
            "webhook_url": self.webhook_url,
            "bot": {"display_name": self.bot.display_name, "basic_id": self.bot.basic_id},
            "webhook_set": self.webhook_set,
            "webhook_test": self.webhook_test.as_dict() if self.webhook_test else None,
            "webhook_error": self.webhook_error,
            "notes": self.notes,
        }


def webhook_url(inbox: Inbox) -> str:
    return f"{settings.BASE_URL}/webhooks/line/{inbox.pk}"


def public_url_is_https() -> bool:
    return settings.BASE_URL.lower().startswith("https://")


def http_note() -> str:
    return (
        f"This installation's public URL ({settings.BASE_URL}) is not HTTPS and LINE only accepts "
        "HTTPS webhook URLs, so omo did not set it on LINE: serve omo over HTTPS (OMO_BASE_URL) or "
        "paste the webhook URL in the LINE Developers console yourself once it is reachable over HTTPS."
    )


# --- input checks --------------------------------------------------------------------------------


def _channel_id(value: Any) -> str:
    channel_id = str(value or "").strip()
    if not CHANNEL_ID.match(channel_id):
        raise LineAccountError(
            "channel_id", "must be the channel ID shown in the LINE Developers console (digits only)"
        )
    return channel_id


def _channel_secret(value: Any) -> str:
    secret = str(value or "").strip()
    if not CHANNEL_SECRET.match(secret):
        raise LineAccountError(
            "channel_secret",
            "must be the 32 hexadecimal characters shown as Channel secret (Basic settings tab)",
        )
    return secret.lower()


def _access_token(value: Any) -> str:
    token = str(value or "").strip()
    if not token:
        raise LineAccountError("access_token", "is required (Messaging API tab → Channel access token)")
    if len(token) > MAX_TOKEN or any(c.isspace() for c in token):
        raise LineAccountError(
            "access_token", "must be the long-lived channel access token, pasted without spaces"
        )
    return token


def _name(value: Any) -> str:
    name = str(value or "").strip()
    if len(name) > 120:
        raise LineAccountError("name", "must be at most 120 characters")
    return name


def _login_channel_id(value: Any) -> str:
    login = str(value or "").strip()
    if login and not CHANNEL_ID.match(login):
        raise LineAccountError(
            "login_channel_id", "must be the LINE Login channel ID (digits only), or empty"
        )
    return login


def _liff_id(value: Any) -> str:
    liff = str(value or "").strip()
    if liff and not LIFF_ID.match(liff):
        raise LineAccountError(
            "liff_id", "must look like 1234567890-AbCdEfGh (LIFF tab of the LINE Login channel), or empty"
        )
    return liff


def clean_plan(included: Any, extra_price: Any) -> dict[str, int]:
    """The message plan: included messages a month, and the price of each extra one in minor units.

    `extra_price` may be given in minor units (int) or as NT$ (a string such as "0.2" from a form).
    """
    try:
        included_count = int(str(included).strip())
    except (TypeError, ValueError):
        raise LineAccountError("plan_included", "must be a whole number of messages a month") from None
    if not 0 <= included_count <= MAX_INCLUDED:
        raise LineAccountError("plan_included", f"must be between 0 and {MAX_INCLUDED}")
    if isinstance(extra_price, int) and not isinstance(extra_price, bool):
        minor = extra_price
    else:
        try:
            minor_decimal = Decimal(str(extra_price).strip()) * 100
        except (InvalidOperation, ValueError):
            raise LineAccountError("plan_extra_price", "must be an amount in NT$, e.g. 0.2") from None
        if minor_decimal != minor_decimal.to_integral_value():
            raise LineAccountError("plan_extra_price", "must have at most two decimals (NT$0.01)")
        minor = int(minor_decimal)
    if not 0 <= minor <= MAX_EXTRA_PRICE:
        raise LineAccountError("plan_extra_price", "must be between NT$0 and NT$1,000 per message")
    return {"included": included_count, "extra_price": minor}


def _check_token(access_token: str) -> BotInfo:
    try:
        return account.bot_info(access_token)
    except account.LineRefused as exc:
        if exc.status == 401:
            raise LineAccountError(
                "access_token",
                "LINE refused this channel access token (401): copy it again from the Messaging API tab",
            ) from exc
        if exc.status == 429 or exc.status >= 500:
            raise PlatformError(
                f"LINE could not check the token now ({exc.status}); nothing was saved, try again later."
            ) from exc
        raise LineAccountError(
            "access_token", f"LINE refused the check ({exc.status}): {exc.message}"
        ) from exc
    except PlatformError as exc:
        raise PlatformError(
            f"LINE could not be reached to check the token; nothing was saved. ({exc.message})"
        ) from exc


def _refuse_duplicate(channel_id: str, brand: Brand, *, instance: Inbox | None = None) -> None:
    existing = inbox_selectors.inbox_of_account(Platform.LINE, channel_id)
    if existing is None or (instance is not None and existing.pk == instance.pk):
        return
    if existing.brand_id == brand.pk:
        raise LineAccountError(
            "channel_id",
            f"this LINE channel is already connected as “{existing.name}”",
            status=409,
            code="conflict",
        )
    raise LineAccountError(
        "channel_id", "this LINE channel is already connected to another brand", status=409, code="conflict"
    )


# --- verbs -----------------------------------------------------------------------------------------


def connect_line(
    brand: Brand,
    *,
    actor: Actor,
    channel_id: Any,
    channel_secret: Any,
    access_token: Any,
    name: Any = "",
    login_channel_id: Any = "",
    liff_id: Any = "",
    plan_included: Any = DEFAULT_PLAN["included"],
    plan_extra_price: Any = DEFAULT_PLAN["extra_price"],
) -> ConnectResult:
    """Connect a LINE official account; see the module doc for the order of the steps."""
    values: dict[str, Any] = {
        "channel_id": _channel_id(channel_id),
        "channel_secret": _channel_secret(channel_secret),
        "access_token": _access_token(access_token),
        "name": _name(name),
        "login_channel_id": _login_channel_id(login_channel_id),
        "liff_id": _liff_id(liff_id),
        "plan": clean_plan(plan_included, plan_extra_price),
    }
    _refuse_duplicate(values["channel_id"], brand)
    bot = _check_token(values["access_token"])
    with transaction.atomic():
        _refuse_duplicate(values["channel_id"], brand)
        inbox = inbox_services.create_inbox(
            brand,
            platform=Platform.LINE,
            name=values["name"] or bot.display_name or f"LINE {bot.basic_id}",
            external_id=values["channel_id"],
            handle=bot.basic_id,
            bot_user_id=bot.user_id,
            secrets={"channel_secret": values["channel_secret"], "access_token": values["access_token"]},
            config={
                "login_channel_id": values["login_channel_id"],
                "liff_id": values["liff_id"],
                "plan": values["plan"],
            },
        )
        audit.record(
            actor,
            "inbox.line_connected",
            inbox,
            channel_id=inbox.external_id,
            basic_id=bot.basic_id,
            token_last4=values["access_token"][-4:],
        )
    result = ConnectResult(inbox=inbox, webhook_url=webhook_url(inbox), bot=bot, notes=[SECRET_HINT])
    _set_webhook(result, values["access_token"], actor=actor)
    return result


def _set_webhook(result: ConnectResult, access_token: str, *, actor: Actor) -> None:
    """Set and test the webhook URL on LINE (HTTPS only), recording what LINE answered."""
    if not public_url_is_https():
        result.notes.insert(0, http_note())
        return
    try:
        account.set_webhook_endpoint(access_token, result.webhook_url)
        result.webhook_set = True
        result.webhook_test = account.test_webhook_endpoint(access_token, result.webhook_url)
    except account.LineRefused as exc:
        result.webhook_error = f"LINE refused the webhook URL ({exc.status}): {exc.message}"
    except PlatformError as exc:
        result.webhook_error = f"LINE could not be reached to set the webhook URL: {exc.message}"
    audit.record(
        actor,
        "inbox.line_webhook_set",
        result.inbox,
        url=result.webhook_url,
        webhook_set=result.webhook_set,
        test=result.webhook_test.as_dict() if result.webhook_test else None,
        error=result.webhook_error,
    )


def set_webhook(inbox: Inbox, *, actor: Actor) -> ConnectResult:
    """Set (again) and test the webhook URL of a connected inbox."""
    access_token = (inbox.secrets or {}).get("access_token", "")
    bot = BotInfo(display_name=inbox.name, basic_id=inbox.handle, user_id=inbox.bot_user_id)
    result = ConnectResult(inbox=inbox, webhook_url=webhook_url(inbox), bot=bot)
    _set_webhook(result, access_token, actor=actor)
    return result


def rotate_credentials(
    inbox: Inbox, *, actor: Actor, channel_secret: Any = "", access_token: Any = ""
) -> Inbox:
    """New channel secret and/or access token; a new token is checked against LINE (same bot) first."""
    secret = _channel_secret(channel_secret) if str(channel_secret or "").strip() else ""
    token = _access_token(access_token) if str(access_token or "").strip() else ""
    if not secret and not token:
        raise LineAccountError("access_token", "enter a new channel secret or channel access token")
    if token:
        bot = _check_token(token)
        if inbox.bot_user_id and bot.user_id != inbox.bot_user_id:
            raise LineAccountError("access_token", "this token belongs to another LINE official account")
    with transaction.atomic():
        locked = Inbox.objects.select_for_update().get(pk=inbox.pk)
        secrets = dict(locked.secrets or {})
        rotated = []
        fields: dict[str, Any] = {}
        if secret:
            secrets["channel_secret"] = secret
            rotated.append("channel_secret")
            # Failures under the old secret say nothing about the new one.
            config = dict(locked.config or {})
            if config.pop("signature_failed_at", None) is not None:
                fields["config"] = config
        if token:
            secrets["access_token"] = token
            rotated.append("access_token")
        inbox_services.update_inbox(locked, secrets=secrets, **fields)
        audit.record(
            actor,
            "inbox.line_rotated",
            locked,
            rotated=rotated,
            token_last4=secrets.get("access_token", "")[-4:],
        )
    forget_adapter(inbox.pk)
    return locked


SETTINGS = ("name", "login_channel_id", "liff_id", "plan_included", "plan_extra_price")


def update_settings(inbox: Inbox, *, actor: Actor, **changes: Any) -> Inbox:
    """Name, LINE Login channel id, LIFF id and the message plan; only the given ones change."""
    unknown = set(changes) - set(SETTINGS)
    if unknown:
        raise LineAccountError(sorted(unknown)[0], "cannot be changed")
    with transaction.atomic():
        locked = Inbox.objects.select_for_update().get(pk=inbox.pk)
        config = dict(locked.config or {})
        fields: dict[str, Any] = {}
        if "name" in changes:
            name = _name(changes["name"])
            if not name:
                raise LineAccountError("name", "is required")
            fields["name"] = name
        if "login_channel_id" in changes:
            config["login_channel_id"] = _login_channel_id(changes["login_channel_id"])
        if "liff_id" in changes:
            config["liff_id"] = _liff_id(changes["liff_id"])
        if "plan_included" in changes or "plan_extra_price" in changes:
            plan = {**DEFAULT_PLAN, **(config.get("plan") or {})}
            config["plan"] = clean_plan(
                changes.get("plan_included", plan["included"]),
                changes["plan_extra_price"] if "plan_extra_price" in changes else int(plan["extra_price"]),
            )
        changed = sorted(
            [k for k, v in fields.items() if getattr(locked, k) != v]
            + [
                k
                for k in ("login_channel_id", "liff_id", "plan")
                if config.get(k) != (locked.config or {}).get(k)
            ]
        )
        fields["config"] = config
        inbox_services.update_inbox(locked, **fields)
        audit.record(actor, "inbox.updated", locked, fields=changed)
    return locked


def disconnect(inbox: Inbox, *, actor: Actor) -> Inbox:
    """Stop using the account: inactive, webhooks answered 404, history and credentials kept."""
    with transaction.atomic():
        locked = Inbox.objects.select_for_update().get(pk=inbox.pk)
        if not locked.is_active:
            return locked
        inbox_services.update_inbox(locked, is_active=False)
        audit.record(actor, "inbox.disconnected", locked, channel_id=locked.external_id)
    forget_adapter(inbox.pk)
    return locked


def reconnect(inbox: Inbox, *, actor: Actor) -> Inbox:
    """Use a disconnected account again, after checking its token still works."""
    _check_token((inbox.secrets or {}).get("access_token", ""))
    with transaction.atomic():
        locked = Inbox.objects.select_for_update().get(pk=inbox.pk)
        _refuse_duplicate(locked.external_id, locked.brand, instance=locked)
        inbox_services.update_inbox(locked, is_active=True)
        audit.record(actor, "inbox.reconnected", locked, channel_id=locked.external_id)
    forget_adapter(inbox.pk)
    return locked
