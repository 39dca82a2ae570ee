"""The cart: showing it, adding and changing lines, and opening a cart someone shared as a link."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from omo.catalog import inventory
from omo.commerce import services
from omo.commerce.models import Cart
from omo.commerce.refs import clean_ref
from omo.core.models import Brand
from omo.shop import selectors
from omo.shop import tracking as shop_tracking
from omo.shop.forms import (
    AddToCartForm,
    CartLineForm,
)
from omo.shop.session import ShopSession
from omo.shop.views.base import cart_url, render_shop, shop_view


def current_cart(brand: Brand, shop: ShopSession) -> Cart | None:
    cart = selectors.open_cart(brand, shop.cart_token)
    if cart is None and shop.cart_token:
        shop.forget_cart()  # checked out elsewhere (e.g. a second tab) or gone
    return cart


@never_cache
@require_GET
@shop_view
def cart(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    current = current_cart(brand, shop)
    lines = selectors.cart_lines(current) if current is not None else []
    totals: services.CartTotals | None = None
    online: dict[int, int] = {}
    track_events: list[dict[str, object]] = []
    if current is not None and lines:
        totals = services.cart_totals(current)
        online = inventory.online_available([line.variant_id for line in lines])
        track_events = [
            {
                "event": "Cart Viewed",
                "properties": {
                    "cart_id": current.token,
                    "products": [
                        shop_tracking.product_properties(line.variant, brand=brand, quantity=line.quantity)
                        for line in lines
                    ],
                },
            }
        ]
    shop.set_item_count(sum(line.quantity for line in lines))
    rows = [
        {
            "line": line,
            "total": line.quantity * line.variant.price,
            "online": online.get(line.variant_id, 0),
            "short": line.quantity > online.get(line.variant_id, 0),
        }
        for line in lines
    ]
    return render_shop(
        request,
        brand,
        shop,
        "cart.html",
        {
            "cart": current,
            "rows": rows,
            "totals": totals,
            "free_shipping_over": services.FREE_SHIPPING_OVER,
            "shipping_fee": services.SHIPPING_FEE,
            "track_events": track_events,
        },
    )


@require_POST
@shop_view
def cart_add(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("請選擇規格與數量（1–99）。"))
        return redirect(cart_url(brand))
    variant = selectors.sellable_variant(brand, form.cleaned_data["variant"])
    current = current_cart(brand, shop) or services.new_cart(brand, ref=shop.ref)
    try:
        services.add_to_cart(current, variant, form.cleaned_data["quantity"])
    except services.OrderError as exc:
        messages.error(request, _("無法加入購物車：%(reason)s") % {"reason": exc.message})
    else:
        messages.success(request, _("已加入購物車：%(item)s") % {"item": variant})
        shop_tracking.queue(
            request,
            "Product Added",
            {
                "cart_id": current.token,
                **shop_tracking.product_properties(
                    variant, brand=brand, quantity=form.cleaned_data["quantity"]
                ),
            },
        )
    shop.remember_cart(current.token, selectors.cart_item_count(current))
    return redirect(cart_url(brand))


@require_POST
@shop_view
def cart_update(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    """Change a line's quantity; 0 (or the remove button) takes it out."""
    current = current_cart(brand, shop)
    form = CartLineForm(request.POST)
    if current is None:
        messages.error(request, _("購物車已失效，請重新加入商品。"))
        return redirect(cart_url(brand))
    if not form.is_valid():
        messages.error(request, _("數量需介於 0 到 99。"))
        return redirect(cart_url(brand))
    line = get_object_or_404(current.lines.select_related("variant"), variant_id=form.cleaned_data["variant"])
    quantity = 0 if "remove" in request.POST else form.cleaned_data["quantity"]
    before = line.quantity
    try:
        services.set_cart_line(current, line.variant, quantity)
    except services.OrderError as exc:
        messages.error(request, exc.message)
    else:
        if quantity != before:
            shop_tracking.queue(
                request,
                "Product Added" if quantity > before else "Product Removed",
                {
                    "cart_id": current.token,
                    **shop_tracking.product_properties(
                        line.variant, brand=brand, quantity=abs(quantity - before)
                    ),
                },
            )
        if quantity == 0:
            messages.success(request, _("已移除：%(item)s") % {"item": line.variant})
    shop.set_item_count(selectors.cart_item_count(current))
    return redirect(cart_url(brand))


@never_cache
@require_GET
@shop_view
def cart_link(request: HttpRequest, brand: Brand, shop: ShopSession, token: str) -> HttpResponse:
    """/shop/<brand>/cart/<token>/: open a cart someone (usually a clerk) built and sent as a link."""
    linked = selectors.cart_by_token(brand, token)
    if linked.checked_out_order_id:
        messages.info(request, _("這個購物車已經完成結帳。"))
        return redirect(cart_url(brand))
    ref = clean_ref(request.GET.get("ref"))
    if ref:
        services.set_cart_ref(linked, ref)
    elif not linked.ref and shop.ref:
        services.set_cart_ref(linked, shop.ref)
    elif linked.ref:
        shop.set_ref(linked.ref)  # the clerk who built it also gets credit for a later cart
    shop.remember_cart(linked.token, selectors.cart_item_count(linked))
    return redirect(cart_url(brand))
