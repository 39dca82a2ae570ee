"""The three LINE calls behind connecting an official account (on the official SDK).

- `GET /v2/bot/info` with the channel access token: checks the token (401 when wrong) and gives
  the bot's displayName, basicId and userId (the `destination` of its webhooks);
- `PUT /v2/bot/channel/webhook/endpoint` `{"endpoint": …}`: sets the webhook URL (HTTPS only);
- `POST /v2/bot/channel/webhook/test` `{"endpoint": …}`: LINE posts an empty-events webhook to it
  and answers `{success, timestamp, statusCode, reason, detail}`.

Every call goes to settings.OMO_LINE_API_BASE (omo.platforms.line.adapter.api_bases), so tests
and the demo point them at the stand-in.
"""

from __future__ import annotations

import urllib3
from django.conf import settings
from linebot.v3.messaging import (
    ApiClient,
    ApiException,
    Configuration,
    MessagingApi,
    SetWebhookEndpointRequest,
    TestWebhookEndpointRequest,
)

from omo.platforms.base import PlatformError
from omo.platforms.line.adapter import _error_text, _json_or_empty, api_bases
from omo.platforms.line.types import BotInfo, WebhookTest


class LineRefused(PlatformError):
    """LINE answered with an error: `status` is its HTTP status (401 = wrong token)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def _messaging(access_token: str) -> tuple[ApiClient, MessagingApi]:
    configuration = Configuration(access_token=access_token, host=api_bases()[0])
    configuration.retries = urllib3.Retry(
        total=0, connect=0, read=0, redirect=0, status=0, raise_on_status=False
    )
    client = ApiClient(configuration)
    return client, MessagingApi(client)


def _timeout() -> float | tuple[float, float]:
    return getattr(settings, "OMO_LINE_HTTP_TIMEOUT", (3.0, 10.0))


def _refused(exc: ApiException) -> LineRefused:
    body = _json_or_empty(exc.body)
    return LineRefused(int(exc.status or 0), _error_text(body) or str(exc.reason or ""))


def bot_info(access_token: str) -> BotInfo:
    """The bot behind this token; LineRefused (401: wrong token) or PlatformError (unreachable)."""
    client, api = _messaging(access_token)
    with client:
        try:
            info = api.get_bot_info(_request_timeout=_timeout())
        except ApiException as exc:
            raise _refused(exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise PlatformError(f"LINE could not be reached: {exc}") from exc
    return BotInfo(display_name=info.display_name, basic_id=info.basic_id, user_id=info.user_id)


def set_webhook_endpoint(access_token: str, endpoint: str) -> None:
    client, api = _messaging(access_token)
    with client:
        try:
            api.set_webhook_endpoint(
                SetWebhookEndpointRequest(endpoint=endpoint), _request_timeout=_timeout()
            )
        except ApiException as exc:
            raise _refused(exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise PlatformError(f"LINE could not be reached: {exc}") from exc


def test_webhook_endpoint(access_token: str, endpoint: str) -> WebhookTest:
    client, api = _messaging(access_token)
    with client:
        try:
            result = api.test_webhook_endpoint(
                TestWebhookEndpointRequest(endpoint=endpoint), _request_timeout=(3.0, 30.0)
            )
        except ApiException as exc:
            raise _refused(exc) from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise PlatformError(f"LINE could not be reached: {exc}") from exc
    return WebhookTest(
        success=bool(result.success),
        timestamp=result.timestamp.isoformat() if result.timestamp else "",
        status_code=result.status_code,
        reason=result.reason,
        detail=result.detail,
    )
