"""LINE Login ID-token verification for the LIFF binding flow (platforms.md §A10).

The LIFF page must never send profile data (`getProfile()`, `getDecodedIDToken()`); it sends the raw
ID token and we ask LINE who it belongs to. `OMO_LINE_API_BASE` points this at the local stand-in
in demo and tests. Plain HTTP (no SDK): line-bot-sdk does not cover the LINE Login endpoints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import requests
from django.conf import settings

from omo.core.errors import DomainError

VERIFY_PATH = "/oauth2/v2.1/verify"
TIMEOUT = (3.0, 5.0)


class IdTokenError(DomainError, ValueError):
    """The token was refused (`retryable` False) or LINE could not be reached (`retryable` True)."""

    status = 400
    code = "invalid_id_token"

    def __init__(self, message: str, *, retryable: bool = False) -> None:
        if retryable:
            super().__init__(message, status=503, code="line_login_unavailable")
        else:
            super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class LineIdentity:
    user_id: str  # `sub`: the LINE user id, the same as the Messaging API's under one provider
    name: str
    picture: str


def verify_id_token(id_token: str, *, login_channel_id: str) -> LineIdentity:
    if not id_token or len(id_token) > 4096:
        raise IdTokenError("missing or oversized ID token")
    if not login_channel_id:
        raise IdTokenError("the brand's LINE Login channel id is not configured")
    try:
        response = requests.post(
            f"{settings.OMO_LINE_API_BASE}{VERIFY_PATH}",
            data={"id_token": id_token, "client_id": login_channel_id},
            timeout=TIMEOUT,
        )
    except requests.RequestException as exc:
        raise IdTokenError(f"LINE Login is unreachable: {exc.__class__.__name__}", retryable=True) from exc
    body: dict[str, Any]
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 500:
        raise IdTokenError(f"LINE Login answered {response.status_code}", retryable=True)
    if response.status_code != 200:
        raise IdTokenError(
            str(body.get("error_description") or body.get("error") or f"HTTP {response.status_code}")
        )
    sub = str(body.get("sub") or "")
    if body.get("aud") != login_channel_id or not sub:
        raise IdTokenError("the ID token was issued for another channel")
    return LineIdentity(user_id=sub, name=str(body.get("name") or ""), picture=str(body.get("picture") or ""))
