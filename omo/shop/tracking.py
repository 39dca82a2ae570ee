"""The built-in shop tracks itself: what its pages hand to the browser script (static
shop/omo-track.js), the shop's own write key per brand, and linking the visitor's anonymous id to
the buyer when an order is placed, so shop browsing lands on the buyer's timeline.

The events follow the Segment e-commerce v2 spec (Product Viewed, Product Added, Product Removed,
Cart Viewed, Checkout Started, Order Completed) with its property names; prices are in major units.
Events that only the server can confirm (an add to cart that succeeded, a removal) are handed to
the next page the browser loads in a short-lived cookie, so a redirect after a form post loses
nothing and no session is written for it.

The write key is derived from the installation's secret key and the brand, so the page can carry
it while the database keeps only its hash, like any write key. A browser write key is public by
nature: it lets anyone send events to this brand, nothing more (it cannot read anything).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from typing import Any, cast

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

from omo.core.models import Brand
from omo.core.money import to_major
from omo.tracking import services as tracking

SOURCE_NAME = "網路商店（內建）"
ANONYMOUS_COOKIE = "ajs_anonymous_id"
PENDING_COOKIE = "omo_track_next"
MAX_PENDING = 5
MAX_COOKIE = 3000
_ANONYMOUS_ID = re.compile(r"^[A-Za-z0-9_.:-]{8,64}$")
_CACHE_SECONDS = 600


def _derive(brand_id: int, purpose: str, length: int) -> str:
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"shop-write-key:{purpose}:{brand_id}".encode(), hashlib.sha256
    )
    return digest.hexdigest()[:length]


def write_key(brand: Brand) -> str | None:
    """The shop's write key for this brand (its TrackingSource is made on first use), or None when
    HQ revoked it (the shop then stops tracking)."""
    # The brand's creation time in the key: a brand id used again (a test database) starts afresh.
    cache_key = f"omo:shop-write-key:{brand.pk}:{brand.created_at.timestamp() if brand.created_at else 0}"
    cached = cache.get(cache_key)
    if cached is not None:
        return cached or None
    prefix = "s" + _derive(brand.pk, "prefix", 11)
    secret = f"{tracking.KEY_PREFIX}{prefix}_{_derive(brand.pk, 'secret', 40)}"
    source = tracking.ensure_source(brand, name=SOURCE_NAME, prefix=prefix, secret=secret)
    key = secret if source.brand_id == brand.pk and source.revoked_at is None else ""
    cache.set(cache_key, key, _CACHE_SECONDS)
    return key or None


def anonymous_id(request: HttpRequest) -> str:
    """The visitor's anonymous id from the first-party cookie (analytics.js writes it JSON-quoted)."""
    raw = request.COOKIES.get(ANONYMOUS_COOKIE, "").strip().strip('"')
    return raw if _ANONYMOUS_ID.match(raw) else ""


# --- what the pages hand to the script -----------------------------------------------------------


def money(minor: int | None, currency: str) -> float:
    return float(to_major(minor or 0, currency))


def product_properties(
    variant, *, brand: Brand, quantity: int | None = None, url: str = ""
) -> dict[str, Any]:
    product = variant.product
    props: dict[str, Any] = {
        "product_id": str(product.pk),
        "sku": variant.sku,
        "name": product.title,
        "brand": brand.name,
        "variant": variant.title,
        "price": money(variant.price, brand.currency),
        "currency": brand.currency,
    }
    # Only when already loaded with the product: a cart page must not query per line for it.
    if type(product).category.is_cached(product) and product.category is not None:
        props["category"] = product.category.name
    if quantity is not None:
        props["quantity"] = quantity
    if url:
        props["url"] = url
    return props


def queue(request: HttpRequest, event: str, properties: dict[str, Any]) -> None:
    """Hand an event to the next page this browser loads (after a redirect), in a short-lived
    cookie: no session write, and the page that shows it clears it (see `finish`)."""
    pending = getattr(request, "_omo_track_queued", None)
    if pending is None:
        pending = cast(Any, request)._omo_track_queued = _read_pending(request)
    pending.append({"event": event, "properties": properties})
    del pending[:-MAX_PENDING]


def _read_pending(request: HttpRequest) -> list[dict[str, Any]]:
    raw = request.COOKIES.get(PENDING_COOKIE, "")
    if not raw:
        return []
    try:
        events = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, binascii.Error):
        return []
    return [e for e in events if isinstance(e, dict) and isinstance(e.get("event"), str)][-MAX_PENDING:]


def finish(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Write what was queued for the next page, or clear what this page has shown."""
    queued = getattr(request, "_omo_track_queued", None)
    if queued:
        raw = (
            base64.urlsafe_b64encode(json.dumps(queued, separators=(",", ":")).encode()).decode().rstrip("=")
        )
        if len(raw) <= MAX_COOKIE:
            response.set_cookie(
                PENDING_COOKIE, raw, max_age=300, path="/shop/", samesite="Lax", httponly=True
            )
    elif getattr(request, "_omo_track_shown", False):
        response.delete_cookie(PENDING_COOKIE, path="/shop/", samesite="Lax")
    return response


def page_data(
    request: HttpRequest, brand: Brand, events: list[dict[str, Any]] | None = None
) -> dict[str, Any] | None:
    """The JSON the script reads: where to send, with which key, and the events of this page."""
    key = write_key(brand)
    if key is None:
        return None
    pending = []
    if PENDING_COOKIE in request.COOKIES and getattr(request, "_omo_track_queued", None) is None:
        pending = _read_pending(request)
        cast(Any, request)._omo_track_shown = True
    return {
        "writeKey": key,
        "endpoint": "/v1/batch",
        "cookie": ANONYMOUS_COOKIE,
        "events": [*pending, *(events or [])],
    }


# --- the buyer ------------------------------------------------------------------------------------


def link_visitor(brand: Brand, customer_id: int | None, visitor: str) -> int:
    """The order's buyer is this browser's visitor: link the anonymous id to the customer (identity
    resolution) and put the visitor's earlier events on the customer's timeline. Returns events moved."""
    return tracking.link_visitor(brand, customer_id, visitor, source="shop")
