"""The brand's identity rules: which identifier kinds rank first, how many of each a customer may
hold, its deny-list, and how a raw value is cleaned (junk, denied and malformed values never match
and are never stored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from omo.core.models import Brand
from omo.customers.models import CustomerIdentity, CustomerSettings
from omo.customers.normalize import is_junk, normalize_email, normalize_phone

Kind = CustomerIdentity.Kind

DEFAULT_PRIORITY: tuple[str, ...] = (
    Kind.MEMBER_NUMBER,
    Kind.USER_ID,
    Kind.SHOPIFY,
    Kind.LINE,
    Kind.MESSENGER,
    Kind.INSTAGRAM,
    Kind.WHATSAPP,
    Kind.PHONE,
    Kind.EMAIL,
    Kind.EXTERNAL,
    Kind.ANONYMOUS,
)
# Kinds whose value is copied onto the customer's profile when the profile field is still empty.
PROFILE_FIELDS: dict[str, str] = {
    Kind.PHONE: "phone",
    Kind.EMAIL: "email",
    Kind.MEMBER_NUMBER: "member_number",
}
MAX_VALUE = 255
KINDS = frozenset(Kind.values)
# A phone already in E.164 form (as every profile and identifier stores it) is taken as it is:
# parsing it again costs more than the rest of resolution together.
E164 = re.compile(r"\+[1-9][0-9]{7,14}")


@dataclass(frozen=True)
class Rules:
    brand_id: int
    cap: int
    priority: tuple[str, ...]
    deny: frozenset[str]
    region: str

    def rank(self, kind: str) -> int:
        try:
            return self.priority.index(kind)
        except ValueError:
            return len(self.priority)

    def cap_of(self, kind: str) -> int:
        return 1 if kind == Kind.MEMBER_NUMBER else self.cap


def settings_for(brand: Brand | int) -> CustomerSettings:
    """The brand's identity and retention settings, created with the defaults on first use."""
    brand_id = brand if isinstance(brand, int) else brand.pk
    found = CustomerSettings.objects.filter(brand_id=brand_id).first()
    if found is not None:
        return found
    created, _ = CustomerSettings.objects.get_or_create(
        brand_id=brand_id, defaults={"identity_priority": list(DEFAULT_PRIORITY)}
    )
    return created


def rules_for(brand: Brand) -> Rules:
    config = settings_for(brand)
    priority = [k for k in (config.identity_priority or []) if k in Kind.values]
    priority += [k for k in DEFAULT_PRIORITY if k not in priority]
    deny = frozenset(str(v).strip().lower() for v in (config.identity_deny_list or []) if str(v).strip())
    return Rules(
        brand_id=brand.pk,
        cap=max(1, config.max_identifiers_per_kind),
        priority=tuple(priority),
        deny=deny,
        region=brand.country or "TW",
    )


def clean(rules: Rules, kind: str, raw: object) -> str | None:
    """The value as stored for this kind, or None when it is junk, denied or malformed."""
    if raw is None or isinstance(raw, bool):
        return None
    value = str(raw).strip()
    if not value or is_junk(value) or value.lower() in rules.deny:
        return None
    if kind == Kind.PHONE and E164.fullmatch(value):
        pass
    elif kind == Kind.PHONE:
        try:
            value = normalize_phone(value, rules.region)
        except ValueError:
            return None
    elif kind == Kind.EMAIL:
        try:
            value = normalize_email(value)
        except ValueError:
            return None
    if len(value) > MAX_VALUE or value.lower() in rules.deny:
        return None
    return value
