"""Product cards: one card message of up to 10 products (or variants), each button a tracked link.

The clerk app and the conversations API send cards through `send_product_card`, so the products a
card may show, its shape (omo/platforms/line/flex.py renders it) and its delivery are decided once.

The tracked links (`/r/<token>`, naming the brand, the clerk, the customer and the conversation)
belong to omo.attribution, which sits above the inbox: it registers the function that issues one
(`register_link_issuer`, from its AppConfig.ready), so the inbox never imports it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Min, Prefetch, Q

from omo.binding import services as binding
from omo.catalog.line_images import product_line_image_url
from omo.catalog.models import Product, ProductImage, Variant
from omo.catalog.selectors import visible_products, visible_variants
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.inbox.models import Conversation, Message
from omo.inbox.outbound import OutboundError, queue_message
from omo.staff.models import User

MAX_CARDS = 10  # a product decision: ten products read well on a phone (LINE itself allows 12 bubbles)
MAX_ALT_TEXT = 400


class CardError(FieldError, ValueError):
    """A refusal that names the field (products, variants, alt_text, …)."""


@dataclass(frozen=True)
class IssuedLink:
    url: str  # absolute /r/<token> URL the button opens
    link_id: int
    token: str  # the <token> of that URL, for the LIFF form of the link


# (brand, clerk or None, product, customer, conversation id) -> the tracked link for one product
LinkIssuer = Callable[..., IssuedLink]

_link_issuer: LinkIssuer | None = None


def register_link_issuer(issuer: LinkIssuer) -> None:
    """Called once by omo.attribution: how a card gets the tracked link of one product."""
    global _link_issuer
    _link_issuer = issuer


def _issue_link(conversation: Conversation, clerk: User | None, product: Product) -> IssuedLink:
    if _link_issuer is None:
        raise RuntimeError("no tracked-link issuer registered: is omo.attribution in INSTALLED_APPS?")
    return _link_issuer(
        conversation.brand,
        clerk=clerk,
        product=product,
        customer=conversation.customer,
        conversation_id=conversation.pk,
    )


def image_url(product: Product) -> str:
    """The product's first image that LINE can show (HTTPS JPEG or PNG within its limits, see
    omo.catalog.line_images), as an absolute URL; '' without one. Images must be prefetched."""
    return product_line_image_url(list(product.images.all()))


def _wanted(ids: Sequence[int], field: str) -> list[int]:
    try:
        return list(dict.fromkeys(int(pk) for pk in ids))
    except (TypeError, ValueError) as exc:
        raise CardError(field, "must be a list of ids") from exc


def _images() -> Prefetch:
    return Prefetch("images", queryset=ProductImage.objects.order_by("sort_order", "id"))


def _products(actor: Actor, ids: list[int]) -> dict[int, Product]:
    return {
        p.pk: p
        for p in visible_products(actor)
        .filter(status=Product.Status.ACTIVE, pk__in=ids)
        .annotate(from_price=Min("variants__price", filter=Q(variants__is_active=True)))
        .prefetch_related(_images())
    }


def _variants(actor: Actor, ids: list[int]) -> dict[int, Variant]:
    return {
        v.pk: v
        for v in visible_variants(actor)
        .filter(is_active=True, product__status=Product.Status.ACTIVE, pk__in=ids)
        .select_related("product")
        .prefetch_related(
            Prefetch("product__images", queryset=ProductImage.objects.order_by("sort_order", "id"))
        )
    }


def send_product_card(
    conversation: Conversation,
    *,
    actor: Actor,
    sender: User | None,
    product_ids: Sequence[int] = (),
    variant_ids: Sequence[int] = (),
    alt_text: str = "",
    purpose: str | None = None,
    idempotency_key: str = "",
) -> Message:
    """Queue one card message: a card per product (from its lowest active price) and per variant
    (its own title and price), products first. The caller has checked that `actor` may answer in
    the conversation and that `sender` (the clerk the links credit; None: the brand) may.

    Refused with CardError: no items, more than 10, or an item that is not for sale to this actor
    (404, naming the ids); and whatever queue_message refuses (its field).
    """
    products_wanted = _wanted(product_ids, "product_ids")
    variants_wanted = _wanted(variant_ids, "variant_ids")
    count = len(products_wanted) + len(variants_wanted)
    if not count:
        raise CardError("product_ids", "choose at least one product")
    if count > MAX_CARDS:
        raise CardError("product_ids", f"at most {MAX_CARDS} products per card")
    products = _products(actor, products_wanted)
    missing = [pk for pk in products_wanted if pk not in products]
    if missing:
        raise CardError("product_ids", f"not for sale here: {missing}", status=404)
    variants = _variants(actor, variants_wanted)
    missing = [pk for pk in variants_wanted if pk not in variants]
    if missing:
        raise CardError("variant_ids", f"not for sale here: {missing}", status=404)
    brand = conversation.brand
    inbox = conversation.inbox
    # On LINE with LIFF, the card opens the shop through LIFF, which signs the customer in with LINE.
    through_liff = inbox.platform == "line" and binding.liff_ready(inbox)

    def url(link: IssuedLink) -> str:
        return binding.shop_liff_url(inbox, link.token) if through_liff else link.url

    with transaction.atomic():
        cards: list[dict[str, Any]] = []
        for product_id in products_wanted:
            product = products[product_id]
            link = _issue_link(conversation, sender, product)
            cards.append(
                {
                    "title": product.title,
                    "price": getattr(product, "from_price", None),
                    "currency": brand.currency,
                    "image_url": image_url(product),
                    "url": url(link),
                    "product_id": product.pk,
                    "link_id": link.link_id,
                }
            )
        for variant_id in variants_wanted:
            variant = variants[variant_id]
            link = _issue_link(conversation, sender, variant.product)
            cards.append(
                {
                    "title": variant.product.title,
                    "subtitle": variant.title,
                    "price": variant.price,
                    "currency": brand.currency,
                    "image_url": image_url(variant.product),
                    "url": url(link),
                    "product_id": variant.product_id,
                    "variant_id": variant.pk,
                    "link_id": link.link_id,
                }
            )
        names = "、".join(card["title"] for card in cards[:3])
        who = str(sender) if sender is not None else brand.name
        default_alt = f"{who}推薦：{names}" + (f" 等 {len(cards)} 件商品" if len(cards) > 3 else "")
        alt = (alt_text or default_alt).strip()[:MAX_ALT_TEXT]
        try:
            return queue_message(
                conversation,
                kind=Message.Kind.FLEX,
                payload={"cards": cards, "alt_text": alt},
                sender=sender,
                purpose=purpose,
                idempotency_key=idempotency_key,
            )
        except OutboundError as exc:
            raise CardError(exc.field, exc.message, status=exc.status, code=exc.code) from exc
