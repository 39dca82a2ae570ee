"""LINE Login: verify an ID token (from LIFF's `liff.getIDToken()`) on the server.

`POST {OMO_LINE_API_BASE}/oauth2/v2.1/verify`, form-encoded `id_token`, `client_id` (the LINE
Login channel id, Inbox.config["login_channel_id"]), optional `nonce` and `user_id`
(platforms.md §A10). Never trust profile data the browser sends; trust only what this returns.

    claims = verify_id_token(id_token, client_id=inbox.config["login_channel_id"])
    claims.user_id  # the same userId as in webhooks when both channels share a provider
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from omo.core.errors import DomainError
from omo.platforms.base import PlatformError
from omo.platforms.line.adapter import api_bases

_direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class InvalidIdToken(DomainError, ValueError):
    """LINE refused the token (expired, wrong audience, wrong nonce, forged)."""

    status = 400
    code = "invalid_id_token"


@dataclass(frozen=True)
class IdTokenClaims:
    user_id: str
    audience: str
    expires_at: int
    issued_at: int
    name: str = ""
    picture: str = ""
    email: str = ""
    nonce: str = ""
    raw: dict[str, Any] = field(default_factory=dict)


def verify_id_token(
    id_token: str,
    *,
    client_id: str,
    nonce: str | None = None,
    user_id: str | None = None,
    timeout: float = 5.0,
) -> IdTokenClaims:
    """The token's claims if LINE vouches for it; raises InvalidIdToken, or PlatformError when LINE is unreachable."""
    api, _ = api_bases()
    form = {"id_token": id_token, "client_id": client_id}
    if nonce:
        form["nonce"] = nonce
    if user_id:
        form["user_id"] = user_id
    request = urllib.request.Request(
        f"{api}/oauth2/v2.1/verify",
        data=urllib.parse.urlencode(form).encode(),
        method="POST",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    try:
        with _direct.open(request, timeout=timeout) as response:
            claims = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        body = exc.read()
        if 400 <= exc.code < 500:
            try:
                description = json.loads(body).get("error_description", "")
            except ValueError:
                description = body.decode("utf-8", "replace")[:200]
            raise InvalidIdToken(description or f"HTTP {exc.code}") from exc
        raise PlatformError(f"LINE Login verify: HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise PlatformError(f"LINE Login verify: {exc}") from exc
    if (
        claims.get("iss") != "https://access.line.me"
        or claims.get("aud") != client_id
        or not claims.get("sub")
    ):
        raise InvalidIdToken("unexpected claims")
    return IdTokenClaims(
        user_id=claims["sub"],
        audience=claims["aud"],
        expires_at=int(claims.get("exp", 0)),
        issued_at=int(claims.get("iat", 0)),
        name=claims.get("name", ""),
        picture=claims.get("picture", ""),
        email=claims.get("email", ""),
        nonce=claims.get("nonce", ""),
        raw=claims,
    )
