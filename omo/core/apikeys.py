"""API keys: shown once, stored as a SHA-256 hash, looked up by prefix, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from django.utils import timezone

from omo.core import audit
from omo.core.audit import Actor
from omo.core.models import ApiKey, Brand
from omo.staff.roles import Role

KEY_PREFIX = "omo_"


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create_api_key(brand: Brand, *, name: str, role: str = Role.HQ_ADMIN, actor: Actor | None) -> tuple[ApiKey, str]:
    """Returns the key row and the full secret, which is never shown again."""
    if role not in Role.values:
        raise ValueError(f"unknown role {role!r}")
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey.objects.create(
        brand=brand,
        name=name,
        prefix=prefix,
        key_hash=_hash(secret),
        role=role,
        created_by=actor.user if actor and actor.user is not None else None,
    )
    if actor is not None:
        audit.record(actor, "api_key.created", key, name=name, role=role)
    return key, secret


def authenticate(raw: str) -> ApiKey | None:
    """The active key for a raw bearer token, or None. Constant-time on the secret."""
    if not raw.startswith(KEY_PREFIX):
        return None
    try:
        prefix = raw[len(KEY_PREFIX) :].split("_", 1)[0]
    except IndexError:
        return None
    key = ApiKey.objects.select_related("brand").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not hmac.compare_digest(key.key_hash, _hash(raw)):
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)  # at most one write a minute per key
    return key


def revoke_api_key(key: ApiKey, *, actor: Actor) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        audit.record(actor, "api_key.revoked", key, name=key.name)
    return key
