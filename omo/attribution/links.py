"""Signed tokens: the tracked link `/r/<token>` and the `ref` an order carries into the shop.

Two token kinds, both made with django.core.signing so they cannot be forged or re-pointed:

- link token (salt "omo.attr.link"): names a LinkIssue row (which holds clerk, customer, product,
  conversation) plus its brand and issued-at (TimestampSigner), e.g. ``Lb2.5:1tXyz…:sig``.
  It expires after settings.OMO_TRACKED_LINK_MAX_AGE seconds (None = never), read at
  verification time so a brand can shorten it for links already sent.
- ref (salt "omo.attr.ref"): what the shop stores on the cart and the order. ``l<link id>`` for a
  product-card click, ``c<clerk id>`` for a clerk's own cart or link. Timestamped, so the
  attribution window can be applied to a cart link too.

Both use only ``[A-Za-z0-9_:.-]`` so they pass the ref filter (omo.commerce.refs).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.core import signing

from omo.core.errors import DomainError

LINK_SALT = "omo.attr.link"
REF_SALT = "omo.attr.ref"


class LinkError(DomainError):
    """A tracked link that cannot be honoured; `status` is the HTTP answer (400 tampered, 410 expired)."""

    status = 400
    code = "link_invalid"
    reason = "invalid"


class LinkExpired(LinkError):
    status = 410
    code = "link_expired"
    reason = "expired"


class LinkInvalid(LinkError):
    status = 400
    code = "link_invalid"
    reason = "invalid"


def _b36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    if number == 0:
        return "0"
    out = []
    while number:
        number, rem = divmod(number, 36)
        out.append(digits[rem])
    return "".join(reversed(out))


def _from_b36(text: str) -> int:
    return int(text, 36)


def link_token(link_id: int, brand_id: int) -> str:
    return signing.TimestampSigner(salt=LINK_SALT).sign(f"L{_b36(link_id)}.{_b36(brand_id)}")


@dataclass(frozen=True)
class LinkClaim:
    link_id: int
    brand_id: int
    signed_at: dt.datetime


def read_link_token(token: str, *, max_age: int | None = None) -> LinkClaim:
    """Who a link token names, or LinkInvalid (tampered, malformed) / LinkExpired."""
    signer = signing.TimestampSigner(salt=LINK_SALT)
    age = max_age if max_age is not None else getattr(settings, "OMO_TRACKED_LINK_MAX_AGE", None)
    if not token or len(token) > 200:
        raise LinkInvalid("malformed link")
    try:
        value = signer.unsign(token, max_age=age)
    except signing.SignatureExpired as exc:
        raise LinkExpired("link expired") from exc
    except signing.BadSignature as exc:
        raise LinkInvalid("link signature does not match") from exc
    kind, _, rest = value.partition("L")
    link_part, _, brand_part = rest.partition(".")
    if kind or not link_part or not brand_part:
        raise LinkInvalid("malformed link")
    try:
        link_id, brand_id = _from_b36(link_part), _from_b36(brand_part)
    except ValueError as exc:
        raise LinkInvalid("malformed link") from exc
    signed_at = _timestamp_of(token)
    return LinkClaim(link_id, brand_id, signed_at)


def _timestamp_of(token: str) -> dt.datetime:
    stamp = token.split(signing.Signer().sep)[-2]
    seconds = signing.b62_decode(stamp)
    return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)


# --- refs ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ref:
    kind: str  # "link" | "clerk"
    id: int
    signed_at: dt.datetime


def link_ref(link_id: int) -> str:
    return signing.TimestampSigner(salt=REF_SALT).sign(f"l{_b36(link_id)}")


def clerk_ref(clerk_id: int) -> str:
    """The ref a clerk's own cart (endless aisle) or shared shop link carries."""
    return signing.TimestampSigner(salt=REF_SALT).sign(f"c{_b36(clerk_id)}")


_REF_SIGNER = signing.TimestampSigner(salt=REF_SALT)


def read_ref(ref: str) -> Ref | None:
    """The clerk or link a ref names, or None when it is missing, foreign or tampered with.

    Never raises: an order with a bad ref is still an order, it just earns nobody credit by ref.
    """
    if not ref or len(ref) > 200:
        return None
    try:
        value = _REF_SIGNER.unsign(ref)
    except signing.BadSignature:
        return None
    kind, body = value[:1], value[1:]
    if kind not in ("l", "c") or not body:
        return None
    try:
        number = _from_b36(body)
    except ValueError:
        return None
    return Ref("link" if kind == "l" else "clerk", number, _timestamp_of(ref))
