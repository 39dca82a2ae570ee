"""Signed links into the built-in shop: the member page and the order confirmation.

Shoppers have no passwords. Whoever holds a member link sees that member's page, so the token is
signed (it cannot be forged or pointed at someone else) and expires after
settings.OMO_MEMBER_LINK_MAX_AGE seconds, read at verification time so a brand can shorten it.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

from omo.core.errors import DomainError
from omo.core.models import Brand
from omo.customers.models import Customer

MEMBER_SALT = "omo.member"
ORDER_SALT = "omo.shop.order"


class MemberLinkError(DomainError):
    """A member link that cannot be honoured; `status` is the HTTP answer the shop gives."""

    status = 403
    code = "member_link_invalid"
    reason = "invalid"


class MemberLinkExpired(MemberLinkError):
    status = 410
    code = "member_link_expired"
    reason = "expired"


class MemberLinkInvalid(MemberLinkError):
    status = 403
    code = "member_link_invalid"
    reason = "invalid"


def member_token(customer: Customer) -> str:
    return signing.TimestampSigner(salt=MEMBER_SALT).sign(f"{customer.pk}.{customer.brand_id}")


def member_link(customer: Customer) -> str:
    """Absolute path of the customer's member page, e.g. /shop/herb/member/<token>/."""
    return reverse("shop:member", kwargs={"brand_slug": customer.brand.slug, "token": member_token(customer)})


def member_from_token(brand: Brand, token: str) -> Customer:
    """The customer a member link was issued for, or MemberLinkExpired / MemberLinkInvalid."""
    signer = signing.TimestampSigner(salt=MEMBER_SALT)
    try:
        value = signer.unsign(token, max_age=settings.OMO_MEMBER_LINK_MAX_AGE)
    except signing.SignatureExpired as exc:
        raise MemberLinkExpired("member link expired") from exc
    except signing.BadSignature as exc:
        raise MemberLinkInvalid("member link is not valid") from exc
    customer_id, _, brand_id = value.partition(".")
    # The signature covers the brand too, so a link of one brand never opens a page of another.
    if not (customer_id.isdigit() and brand_id.isdigit()) or int(brand_id) != brand.pk:
        raise MemberLinkInvalid("member link belongs to another brand")
    customer = Customer.objects.filter(pk=int(customer_id), brand=brand).first()
    if customer is None:
        raise MemberLinkInvalid("member no longer exists")
    return customer


def order_token(order) -> str:
    """A confirmation token for a shop order. It signs the order's random idempotency key (the cart
    token), not its id, so confirmation URLs reveal nothing about order volume."""
    return signing.Signer(salt=ORDER_SALT).sign(order.external_id)


def order_key_from_token(token: str) -> str | None:
    """The external id a confirmation token was issued for, or None when it was tampered with."""
    try:
        return signing.Signer(salt=ORDER_SALT).unsign(token)
    except signing.BadSignature:
        return None


def order_link(order) -> str:
    return reverse("shop:order", kwargs={"brand_slug": order.brand.slug, "token": order_token(order)})
