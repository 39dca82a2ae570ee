"""Secrets at rest (platform tokens, channel secrets) are encrypted with Fernet.

The key comes from OMO_ENCRYPTION_KEY (a Fernet key) or, by default, is derived from
OMO_SECRET_KEY, so a database dump alone never reveals a brand's access tokens.
"""

from __future__ import annotations

import base64
import hashlib
import json
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import models
from django.db.backends.base.base import BaseDatabaseWrapper


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    configured = getattr(settings, "OMO_ENCRYPTION_KEY", None)
    if configured:
        return Fernet(configured.encode())
    digest = hashlib.sha256(("omo-encryption:" + secret).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plain: str) -> str:
    return _fernet(settings.SECRET_KEY).encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(settings.SECRET_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ValueError("cannot decrypt: wrong OMO_SECRET_KEY / OMO_ENCRYPTION_KEY?") from exc


def _load(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError("the encrypted value is not a JSON object")
    return value


class EncryptedJSONField(models.TextField[dict[str, Any], dict[str, Any]]):
    """A dict stored as Fernet ciphertext. Reads give the dict back; the column holds no clear text."""

    def from_db_value(
        self, value: str | None, expression: models.Expression, connection: BaseDatabaseWrapper
    ) -> dict[str, Any]:
        if not value:
            return {}
        return _load(decrypt(value))

    def to_python(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        if not value:
            return {}
        return _load(decrypt(value))

    def get_prep_value(self, value: Any) -> str:
        if not value:
            return ""
        return encrypt(json.dumps(value, sort_keys=True))
