"""LINE Login ID tokens as the LINE stand-in mints and verifies them: compact JWTs signed with
HS256 under a key of the stand-in's own. The product never checks the signature itself: it sends
the token to the verify endpoint, here the stand-in's, as it would to LINE's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(key: bytes, header: str, payload: str) -> str:
    return _b64url(hmac.new(key, f"{header}.{payload}".encode(), hashlib.sha256).digest())


def sign(key: bytes, claims: dict[str, Any]) -> str:
    """The ID token carrying `claims`."""
    header = _b64url(json.dumps({"typ": "JWT", "alg": "HS256"}).encode())
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    return f"{header}.{payload}.{_signature(key, header, payload)}"


def read(key: bytes, token: str) -> dict[str, Any]:
    """The claims of a token signed with `key`; ValueError when it is malformed or not signed so."""
    header, payload, signature = token.split(".")
    if not hmac.compare_digest(signature, _signature(key, header, payload)):
        raise ValueError("signature mismatch")
    return json.loads(_b64url_decode(payload))
