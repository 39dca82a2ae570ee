"""Product cards as a LINE Flex carousel: one bubble per product (image, name, price, a link button).

The clerk app queues a platform-neutral card message:

    outbound.queue_message(conversation, kind="flex", payload={
        "cards": [{"title": "有機棉T恤", "price": 129000, "currency": "TWD",
                   "image_url": "https://…/1.jpg", "url": "https://…/r/<token>"}],
        "alt_text": "店員推薦 3 件商品",   # optional
    })

and the LINE adapter renders it here. Every carousel is checked with the SDK's FlexContainer and
FlexMessage models before it is sent, plus the limits the models do not check (size, counts).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from linebot.v3.messaging import FlexContainer, FlexMessage

from omo.catalog.line_images import is_line_url
from omo.core.money import format_money

MAX_PRODUCT_CARDS = 10  # product decision (the issue): up to 10 products per card; LINE allows 12 bubbles
MAX_ALT_TEXT = 1500
MAX_BUBBLE_BYTES = 30 * 1024
MAX_CAROUSEL_BYTES = 50 * 1024
MAX_URI = 1000
MAX_LABEL = 20
DEFAULT_BUTTON_LABEL = "查看商品"


@dataclass(frozen=True)
class ProductCard:
    title: str
    price: int | None  # minor units
    url: str  # the tracked link (/r/<token>) the button and the image open
    image_url: str = ""
    currency: str = "TWD"
    subtitle: str = ""
    button_label: str = DEFAULT_BUTTON_LABEL

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> ProductCard:
        return cls(
            title=str(data.get("title") or data.get("name") or "").strip(),
            price=data.get("price"),
            url=str(data.get("url") or ""),
            image_url=str(data.get("image_url") or ""),
            currency=str(data.get("currency") or "TWD"),
            subtitle=str(data.get("subtitle") or ""),
            button_label=str(data.get("button_label") or DEFAULT_BUTTON_LABEL),
        )


def _bubble(card: ProductCard) -> dict[str, Any]:
    if not card.title:
        raise ValueError("a product card needs a title")
    if not card.url or len(card.url) > MAX_URI:
        raise ValueError(f"a product card needs a link of at most {MAX_URI} characters")
    body: list[dict[str, Any]] = [
        {
            "type": "text",
            "text": card.title[:120],
            "weight": "bold",
            "size": "md",
            "wrap": True,
            "maxLines": 2,
        }
    ]
    if card.subtitle:
        body.append(
            {
                "type": "text",
                "text": card.subtitle[:120],
                "size": "xs",
                "color": "#888888",
                "wrap": True,
                "maxLines": 2,
            }
        )
    if card.price is not None:
        body.append(
            {
                "type": "text",
                "text": format_money(int(card.price), card.currency),
                "size": "lg",
                "weight": "bold",
                "color": "#111111",
            }
        )
    bubble: dict[str, Any] = {
        "type": "bubble",
        "size": "kilo",
        "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": body},
        "footer": {
            "type": "box",
            "layout": "vertical",
            "contents": [
                {
                    "type": "button",
                    "style": "primary",
                    "height": "sm",
                    "action": {"type": "uri", "label": card.button_label[:MAX_LABEL], "uri": card.url},
                }
            ],
        },
    }
    if card.image_url and is_line_url(card.image_url):
        # Only an HTTPS JPEG/PNG (LINE refuses anything else); a card whose picture LINE cannot
        # show goes without it rather than not at all.
        bubble["hero"] = {
            "type": "image",
            "url": card.image_url,
            "size": "full",
            "aspectRatio": "1:1",
            "aspectMode": "cover",
            "action": {"type": "uri", "label": card.title[:MAX_LABEL], "uri": card.url},
        }
    if len(json.dumps(bubble, ensure_ascii=False).encode()) > MAX_BUBBLE_BYTES:
        raise ValueError("a product card is larger than LINE's 30 KB per bubble")
    return bubble


def default_alt_text(cards: Sequence[ProductCard]) -> str:
    names = "、".join(card.title for card in cards[:5])
    more = f" 等 {len(cards)} 件" if len(cards) > 5 else ""
    return f"商品推薦：{names}{more}"[:400]


def product_carousel(
    cards: Sequence[ProductCard | Mapping[str, Any]], *, alt_text: str | None = None
) -> dict[str, Any]:
    """A LINE flex message object {"type": "flex", "altText", "contents": carousel}, validated."""
    parsed = [card if isinstance(card, ProductCard) else ProductCard.from_mapping(card) for card in cards]
    if not parsed:
        raise ValueError("a product card message needs at least one product")
    if len(parsed) > MAX_PRODUCT_CARDS:
        raise ValueError(f"at most {MAX_PRODUCT_CARDS} products per card message")
    contents = {"type": "carousel", "contents": [_bubble(card) for card in parsed]}
    if len(json.dumps(contents, ensure_ascii=False).encode()) > MAX_CAROUSEL_BYTES:
        raise ValueError("the product cards are larger than LINE's 50 KB per carousel")
    alt = (alt_text or default_alt_text(parsed)).strip()[:MAX_ALT_TEXT]
    message = {"type": "flex", "altText": alt, "contents": contents}
    validate_flex(message)
    return message


def validate_flex(message: Mapping[str, Any]) -> None:
    """Raise ValueError unless the SDK's models accept this flex message."""
    try:
        container = FlexContainer.from_dict(dict(message["contents"]))
        FlexMessage(alt_text=message["altText"], contents=container)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"invalid flex message: {exc}") from exc
    if not 0 < len(str(message["altText"])) <= MAX_ALT_TEXT:
        raise ValueError(f"altText must be 1 to {MAX_ALT_TEXT} characters")
