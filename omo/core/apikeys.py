"""API keys: shown once, stored as a SHA-256 hash, looked up by prefix, revocable.

`new_secret` and `find_active` are the mechanism for every HashedKey model (API keys here,
tracking write keys in omo.tracking.services).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import TypeVar

from django.db import transaction
from django.utils import timezone

from omo.core import access, audit
from omo.core.audit import Actor
from omo.core.errors import DomainError
from omo.core.models import ApiKey, Brand, HashedKey

KEY_PREFIX = "omo_"

K = TypeVar("K", bound=HashedKey)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret(key_prefix: str) -> tuple[str, str, str]:
    """(public prefix, full secret, its hash) for a new key whose secrets start with `key_prefix`."""
    prefix = secrets.token_hex(6)
    secret = f"{key_prefix}{prefix}_{secrets.token_urlsafe(32)}"
    return prefix, secret, _hash(secret)


def find_active(model: type[K], key_prefix: str, raw: str) -> K | None:
    """The active key of `model` for a raw secret, or None. Constant-time on the secret; notes its
    use at most once a minute."""
    if not raw or not raw.startswith(key_prefix):
        return None
    prefix = raw[len(key_prefix) :].split("_", 1)[0]
    key = (
        model._default_manager.select_related("brand").filter(prefix=prefix, revoked_at__isnull=True).first()
    )
    if key is None or not hmac.compare_digest(key.key_hash, _hash(raw)):
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        model._default_manager.filter(pk=key.pk).update(last_used_at=now)
    return key


class ApiKeyError(DomainError, ValueError):
    """A key that cannot be made as asked; `field` names the input at fault."""

    def __init__(self, field: str, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message, field=field, status=status, code=code)


def create_api_key(
    brand: Brand,
    *,
    name: str,
    role: str | None = None,
    actor: Actor | None,
    store_id: int | None = None,
    staff_id: int | None = None,
) -> tuple[ApiKey, str]:
    """Returns the key row and the full secret, which is never shown again.

    Without a role, the key gets the role a brand's first key has (full access). Raises ApiKeyError
    when the role and its store or clerk do not fit together.
    """
    policy = access.policy()
    role = role or policy.brand_owner_role
    if role not in policy.roles:
        raise ApiKeyError("role", f"unknown role {role!r}")
    store_id, staff_id = policy.key_scope(brand, role, store_id, staff_id)
    prefix, secret, key_hash = new_secret(KEY_PREFIX)
    key = ApiKey.objects.create(
        brand=brand,
        name=name,
        prefix=prefix,
        key_hash=key_hash,
        role=role,
        store_id=store_id,
        staff_id=staff_id,
        created_by=actor.user if actor and actor.user is not None else None,
    )
    if actor is not None:
        audit.record(
            actor, "api_key.created", key, name=name, role=role, store_id=store_id, staff_id=staff_id
        )
    return key, secret


def authenticate(raw: str) -> ApiKey | None:
    """The active key for a raw bearer token, or None. A clerk's key stops working when the clerk
    is deactivated or leaves the brand."""
    key = find_active(ApiKey, KEY_PREFIX, raw)
    if key is not None and access.rule(key.role).scope == access.Scope.OWN:
        holder_active = ApiKey.objects.filter(
            pk=key.pk, staff__isnull=False, staff__brand_id=key.brand_id, staff__is_active=True
        ).exists()
        if not holder_active:
            return None
    return key


def revoke_api_key(key: ApiKey, *, actor: Actor) -> ApiKey:
    """Revoke a key at once. A brand never loses its last active owner key (the role a brand's first
    key has, hq_admin) by the key's own hand, nor while no signed-in person could make a new one:
    without either, nobody could manage the brand's keys, users or settings again."""
    if key.revoked_at is not None:
        return key
    owner_role = access.policy().brand_owner_role
    with transaction.atomic():
        # Lock the brand's active owner keys so two revocations cannot each see the other as left.
        owner_keys = list(
            ApiKey.objects.select_for_update()
            .filter(brand_id=key.brand_id, role=owner_role, revoked_at__isnull=True)
            .values_list("pk", flat=True)
        )
        current = ApiKey.objects.select_for_update().get(pk=key.pk)
        if current.revoked_at is not None:  # revoked by another request meanwhile
            return current
        if (
            actor.api_key is not None
            and not ApiKey.objects.filter(pk=actor.api_key.pk, revoked_at__isnull=True).exists()
        ):
            raise ApiKeyError(
                "key_id",
                "the API key making this request was revoked meanwhile",
                status=409,
                code="actor_revoked",
            )
        if owner_keys == [key.pk]:
            if actor.api_key is not None and actor.api_key.pk == key.pk:
                raise ApiKeyError(
                    "key_id",
                    f"this is the brand's last active {owner_role} API key: it cannot revoke itself, "
                    f"or nobody without a console sign-in could manage keys again. Create another "
                    f"{owner_role} key first, then revoke this one with it.",
                    status=409,
                    code="last_admin_key",
                )
            managers = access.policy().key_managers
            if managers is not None and managers(key.brand) == 0:
                raise ApiKeyError(
                    "key_id",
                    f"this is the brand's last active {owner_role} API key and no active HQ admin "
                    f"can sign in to make a new one. Add an HQ admin or another {owner_role} key first.",
                    status=409,
                    code="last_admin_key",
                )
        key.revoked_at = current.revoked_at = timezone.now()
        current.save(update_fields=["revoked_at"])
        audit.record(actor, "api_key.revoked", key, name=key.name)
    return key
