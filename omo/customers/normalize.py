"""Normalising identifiers so that the same person always yields the same value."""

from __future__ import annotations

import functools
import re

import phonenumbers
from django.core.exceptions import ValidationError
from django.core.validators import validate_email

# Values that systems put in identifier fields when they have nothing; they must never match.
JUNK_VALUES = frozenset(
    {"", "null", "none", "nil", "0", "-1", "undefined", "anonymous", "n/a", "na", "unknown"}
)


def is_junk(value: str) -> bool:
    stripped = value.strip().lower()
    return stripped in JUNK_VALUES or (stripped != "" and set(stripped) <= {"0", "-"})


# Parsing and validating a number costs ~40 µs; order and message ingest see the same customers'
# numbers again and again, so recent answers are kept (a pure function of its arguments).
@functools.lru_cache(maxsize=65536)
def normalize_phone(raw: str, region: str = "TW") -> str:
    """'0912-345-678' -> '+886912345678'. Raises ValueError naming the problem."""
    raw = (raw or "").strip()
    if not raw:
        raise ValueError("phone is empty")
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number: {raw!r}") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number for region {region}: {raw!r}")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# A plain address (ASCII dot-atom, hostname labels, a letters-only TLD) that Django's EmailValidator
# always accepts: taken without running the validator, which costs more than the rest of resolving
# an identifier. Anything else still goes through the validator.
PLAIN_EMAIL = re.compile(
    r"[a-z0-9_+-]+(?:\.[a-z0-9_+-]+)*@[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
    r"(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*\.[a-z]{2,63}"
)


def normalize_email(raw: str) -> str:
    value = (raw or "").strip().lower()
    if len(value) <= 320 and PLAIN_EMAIL.fullmatch(value):
        return value
    try:
        validate_email(value)
    except ValidationError as exc:
        raise ValueError(f"not an email address: {raw!r}") from exc
    return value
