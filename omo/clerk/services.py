"""What a clerk does in the app: send product cards with tracked links, build and send a cart.

Reading and scoping conversations is omo.inbox.selectors' job; sending goes through
omo.inbox.outbound.queue_message, so delivery, retries and the free reply token are decided there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import transaction
from django.db.models import Prefetch, Q
from django.urls import reverse

from omo.attribution import links
from omo.attribution import services as attribution
from omo.catalog import inventory
from omo.catalog.models import Product, ProductImage, Variant
from omo.catalog.selectors import visible_products, visible_variants
from omo.commerce import services as commerce
from omo.core.errors import FieldError
from omo.core.money import format_money
from omo.inbox import cards
from omo.inbox import selectors as inbox_selectors
from omo.inbox.models import Conversation, Message
from omo.inbox.outbound import OutboundError, queue_message
from omo.staff.actors import actor_for_user

if TYPE_CHECKING:
    from omo.staff.requests import BrandStaff

MAX_CART_LINES = 20


class ClerkError(FieldError, ValueError):
    """A refusal that names the field; views answer 4xx with the message."""


# --- product picker ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantStock:
    id: int
    sku: str
    title: str
    price: int
    my_store: int
    other_stores: int
    online: int


@dataclass(frozen=True)
class PickerProduct:
    id: int
    title: str
    price: int
    price_display: str
    image_url: str
    variants: list[VariantStock]


def search_products(clerk: BrandStaff, query: str, *, limit: int = 20) -> list[PickerProduct]:
    """Active products of the clerk's brand by name, SKU or barcode, with stock where it matters."""
    query = (query or "").strip()[:100]
    products = visible_products(actor_for_user(clerk)).filter(status=Product.Status.ACTIVE)
    if query:
        products = products.filter(
            Q(title__icontains=query)
            | Q(title_en__icontains=query)
            | Q(variants__sku__iexact=query)
            | Q(variants__sku__istartswith=query)
            | Q(variants__barcode=query)
        ).distinct()
    products = products.prefetch_related(
        Prefetch("variants", queryset=Variant.objects.filter(is_active=True).order_by("sort_order", "id")),
        Prefetch("images", queryset=ProductImage.objects.order_by("sort_order", "id")),
    ).order_by("title", "id")[: max(1, min(limit, 50))]
    rows = list(products)
    variant_ids = [v.pk for p in rows for v in p.variants.all()]
    where = inventory.availability(variant_ids)
    online = inventory.online_available(variant_ids)
    result = []
    for product in rows:
        variants = []
        for variant in product.variants.all():
            here = sum(
                a.available for a in where[variant.pk] if clerk.store_id and a.store_id == clerk.store_id
            )
            elsewhere = sum(
                a.available
                for a in where[variant.pk]
                if a.store_id is not None and a.store_id != clerk.store_id
            )
            variants.append(
                VariantStock(
                    variant.pk,
                    variant.sku,
                    variant.title or variant.sku,
                    variant.price,
                    max(here, 0),
                    max(elsewhere, 0),
                    max(online[variant.pk], 0),
                )
            )
        if not variants:
            continue
        price = min(v.price for v in variants)
        result.append(
            PickerProduct(
                product.pk,
                product.title,
                price,
                format_money(price, "TWD"),
                cards.image_url(product),
                variants,
            )
        )
    return result


# --- product cards ---------------------------------------------------------------------------------------


def _check_conversation(conversation: Conversation, clerk: BrandStaff) -> None:
    if conversation.brand_id != clerk.brand_id:
        raise ClerkError("conversation", "not found", status=404)


def send_product_card(
    conversation: Conversation, *, clerk: BrandStaff, product_ids: Sequence[int], alt_text: str = ""
) -> Message:
    """One card message of up to 10 products, each button a tracked link naming clerk and customer
    (omo.inbox.cards, shared with the conversations API)."""
    _check_conversation(conversation, clerk)
    try:
        return cards.send_product_card(
            conversation,
            actor=actor_for_user(clerk),
            sender=clerk,
            product_ids=product_ids,
            alt_text=alt_text,
        )
    except cards.CardError as exc:
        field = "products" if exc.field == "product_ids" else exc.field
        raise ClerkError(field, exc.message, status=exc.status) from exc


# --- endless aisle ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CartSent:
    cart_token: str
    url: str
    message: Message


def send_cart(conversation: Conversation, *, clerk: BrandStaff, lines: Sequence[tuple[int, int]]) -> CartSent:
    """Build a cart for the customer (any variant, also ones the clerk's store lacks), send its link.

    The cart carries the clerk's signed ref, so the order it becomes is credited to the clerk.
    """
    _check_conversation(conversation, clerk)
    wanted: dict[int, int] = {}
    for variant_id, quantity in lines:
        if not 1 <= int(quantity) <= 99:
            raise ClerkError("quantity", "must be between 1 and 99")
        wanted[int(variant_id)] = wanted.get(int(variant_id), 0) + int(quantity)
    if not wanted:
        raise ClerkError("lines", "add at least one item")
    if len(wanted) > MAX_CART_LINES:
        raise ClerkError("lines", f"at most {MAX_CART_LINES} items")
    variants = {
        v.pk: v
        for v in visible_variants(actor_for_user(clerk))
        .filter(is_active=True, pk__in=wanted)
        .select_related("product")
    }
    missing = [pk for pk in wanted if pk not in variants]
    if missing:
        raise ClerkError("lines", f"not for sale here: {missing}", status=404)
    online = inventory.online_available(list(wanted))
    short = [variants[pk].sku for pk, qty in wanted.items() if online[pk] < qty]
    if short:
        raise ClerkError("lines", f"not enough stock to ship: {', '.join(short)}", status=409)
    brand = conversation.brand
    with transaction.atomic():
        cart = commerce.new_cart(
            brand, ref=links.clerk_ref(clerk.pk), customer=conversation.customer, created_by=clerk
        )
        for pk, qty in wanted.items():
            try:
                commerce.set_cart_line(cart, variants[pk], qty)
            except commerce.OrderError as exc:
                raise ClerkError("lines", exc.message, status=exc.status) from exc
        url = attribution.absolute(
            reverse("shop:cart_link", kwargs={"brand_slug": brand.slug, "token": cart.token})
        )
        total = sum(variants[pk].price * qty for pk, qty in wanted.items())
        text = (
            f"{clerk}為您準備好購物車了（{len(wanted)} 項，{format_money(total, brand.currency)}），"
            f"點此結帳、宅配到府：\n{url}\n"
            f"Your cart from {clerk} is ready — tap to check out, shipped to your home."
        )
        try:
            message = queue_message(
                conversation,
                kind=Message.Kind.TEXT,
                text=text,
                payload={"cart_token": cart.token, "url": url},
                sender=clerk,
            )
        except OutboundError as exc:
            raise ClerkError(exc.field, exc.message) from exc
    return CartSent(cart.token, url, message)


def card_summary(message: Message) -> list[dict[str, Any]]:
    """The cards of a flex message as the chat screen shows them (image, name, price, button)."""
    return list(inbox_selectors.product_cards(message))
