"""What every shop page goes through: the brand resolved from the URL (tenancy: every read below
takes it), a `?ref=` referral remembered, dates in the brand's local time, and the page frame.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from omo.commerce import services
from omo.commerce.refs import clean_ref
from omo.core.models import Brand
from omo.shop import selectors
from omo.shop import tracking as shop_tracking
from omo.shop.session import ShopSession

ShopView = Callable[..., HttpResponse]


def shop_view(view: ShopView) -> ShopView:
    """Resolve `<brand_slug>` (404 when unknown) and remember a `?ref=` referral.

    The referral goes into the session and onto the open cart at once, so an order placed later
    in the visit still carries the clerk who sent the shopper (the latest link wins).
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, brand_slug: str, *args: Any, **kwargs: Any) -> HttpResponse:
        brand = get_object_or_404(Brand, slug=brand_slug)
        shop = ShopSession(request, brand)
        ref = clean_ref(request.GET.get("ref"))
        if ref and ref != shop.ref:
            shop.set_ref(ref)
            cart = selectors.open_cart(brand, shop.cart_token)
            if cart is not None:
                services.set_cart_ref(cart, ref)
        # Dates on the pages (orders, points) read in the brand's local time.
        with timezone.override(_zone(brand.time_zone)):
            try:
                response = view(request, brand, shop, *args, **kwargs)
            except Http404:
                # Inside a known shop, a missing product or cart gets the shop's page with a way back.
                response = render_shop(request, brand, shop, "not_found.html", {}, status=404)
            return shop_tracking.finish(request, response)

    return wrapper


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Taipei")


def render_shop(
    request: HttpRequest,
    brand: Brand,
    shop: ShopSession,
    template: str,
    context: dict[str, Any],
    status: int = 200,
) -> HttpResponse:
    base = {
        "brand": brand,
        "cart_count": shop.item_count,
        "tracking": shop_tracking.page_data(request, brand, context.pop("track_events", None)),
    }
    return render(request, f"shop/{template}", {**base, **context}, status=status)


def cart_url(brand: Brand) -> str:
    return reverse("shop:cart", kwargs={"brand_slug": brand.slug})
