"""The built-in web shop at /shop/<brand>/: browse, product with live stock, cart, checkout,
confirmation and the member page.

Views parse input, resolve the brand from the URL (tenancy: every read below takes it) and call
one service or selector. Checkout rules live in omo.commerce.services.checkout; this module only
decides which page to show and where to put the message it gets back.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from omo.catalog import inventory
from omo.commerce import services, shop_links
from omo.commerce.models import Cart, Order
from omo.commerce.refs import clean_ref
from omo.core.models import Brand
from omo.core.money import format_money
from omo.customers.models import Customer
from omo.loyalty import services as loyalty
from omo.shop import selectors
from omo.shop import tracking as shop_tracking
from omo.shop.forms import (
    FRIENDLY_ERRORS,
    SERVICE_FIELD_TO_FORM_FIELD,
    AddToCartForm,
    CartLineForm,
    CheckoutForm,
)
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
                response = _render(request, brand, shop, "not_found.html", {}, status=404)
            return shop_tracking.finish(request, response)

    return wrapper


@functools.lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("Asia/Taipei")


def _render(
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


def _cart_url(brand: Brand) -> str:
    return reverse("shop:cart", kwargs={"brand_slug": brand.slug})


# --- browsing -------------------------------------------------------------------------------------


@require_GET
def brand_index(request: HttpRequest) -> HttpResponse:
    """/shop/: straight into the shop when there is one brand, else one link per brand."""
    brands = list(Brand.objects.order_by("name", "id"))
    if len(brands) == 1:
        url = reverse("shop:home", kwargs={"brand_slug": brands[0].slug})
        query = request.GET.urlencode()
        return HttpResponseRedirect(f"{url}?{query}" if query else url)
    return render(request, "shop/brands.html", {"brands": brands})


def _listing(
    request: HttpRequest, brand: Brand, shop: ShopSession, *, category=None, query: str = "", heading: str
) -> HttpResponse:
    products = selectors.listing(brand, category=category, query=query)
    page = Paginator(products, selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    keep = {"q": query} if query else {}
    return _render(
        request,
        brand,
        shop,
        "home.html",
        {
            "categories": selectors.categories(brand),
            "current_category": category,
            "query": query,
            "heading": heading,
            "page": page,
            "page_query": urlencode(keep),
        },
    )


@require_GET
@shop_view
def home(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    if query:
        return _listing(request, brand, shop, query=query, heading=_("「%(q)s」的搜尋結果") % {"q": query})
    return _listing(request, brand, shop, heading=_("全部商品"))


@require_GET
@shop_view
def search(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    heading = _("「%(q)s」的搜尋結果") % {"q": query} if query else _("全部商品")
    return _listing(request, brand, shop, query=query, heading=heading)


@require_GET
@shop_view
def category(request: HttpRequest, brand: Brand, shop: ShopSession, category_slug: str) -> HttpResponse:
    found = selectors.category_by_slug(brand, category_slug)
    return _listing(request, brand, shop, category=found, heading=str(found))


@require_GET
@shop_view
def product(request: HttpRequest, brand: Brand, shop: ShopSession, handle: str) -> HttpResponse:
    """The product page. It reads the catalogue and stock only, never orders, so it stays fast at
    any order volume (about seven indexed queries, asserted in the tests)."""
    page = selectors.product_page(brand, handle)
    stock = selectors.stock_for([variant.pk for variant in page.variants])
    selected = _selected_variant(request, page.variants, stock)
    variants_json = [
        {
            "id": v.pk,
            "title": v.title,
            "price": v.price,
            "price_display": format_money(v.price, brand.currency),
            "compare_at": v.compare_at_price,
            "compare_at_display": format_money(v.compare_at_price, brand.currency),
        }
        for v in page.variants
    ]
    return _render(
        request,
        brand,
        shop,
        "product.html",
        {
            "product": page.product,
            "images": page.images,
            "variants": page.variants,
            "selected": selected,
            "stock": stock[selected.pk],
            "stock_by_variant": stock,
            "track_events": [
                {
                    "event": "Product Viewed",
                    "properties": {
                        **shop_tracking.product_properties(selected, brand=brand, url=request.path),
                        **(
                            {"image_url": page.images[0].url}
                            if page.images and getattr(page.images[0], "url", "")
                            else {}
                        ),
                    },
                }
            ],
            "shop_data": {
                "variants": variants_json,
                "stock": {str(k): v.as_json() for k, v in stock.items()},
                "stock_url": reverse("shop:stock", kwargs={"brand_slug": brand.slug, "handle": handle}),
            },
        },
    )


def _selected_variant(request: HttpRequest, variants: list, stock: dict):
    wanted = request.GET.get("variant", "")
    for variant in variants:
        if str(variant.pk) == wanted:
            return variant
    # Otherwise the first one that can be bought, so the page opens on something addable.
    return next((v for v in variants if stock[v.pk].can_add), variants[0])


@never_cache
@require_GET
@shop_view
def stock_json(request: HttpRequest, brand: Brand, shop: ShopSession, handle: str) -> JsonResponse:
    """Live stock of every variant of a product; polled by the product page."""
    variant_ids = selectors.variant_ids_for(brand, handle)
    stock = selectors.stock_for(variant_ids)
    return JsonResponse({"variants": [stock[variant_id].as_json() for variant_id in variant_ids]})


# --- cart -----------------------------------------------------------------------------------------


def _open_cart(brand: Brand, shop: ShopSession) -> Cart | None:
    cart = selectors.open_cart(brand, shop.cart_token)
    if cart is None and shop.cart_token:
        shop.forget_cart()  # checked out elsewhere (e.g. a second tab) or gone
    return cart


@never_cache
@require_GET
@shop_view
def cart(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    current = _open_cart(brand, shop)
    lines = selectors.cart_lines(current) if current is not None else []
    totals = services.cart_totals(current) if lines else None
    online = inventory.online_available([line.variant_id for line in lines]) if lines else {}
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
    return _render(
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
            "track_events": [
                {
                    "event": "Cart Viewed",
                    "properties": {
                        "cart_id": current.token,
                        "products": [
                            shop_tracking.product_properties(
                                line.variant, brand=brand, quantity=line.quantity
                            )
                            for line in lines
                        ],
                    },
                }
            ]
            if lines
            else [],
        },
    )


@require_POST
@shop_view
def cart_add(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    form = AddToCartForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("請選擇規格與數量（1–99）。"))
        return redirect(_cart_url(brand))
    variant = selectors.sellable_variant(brand, form.cleaned_data["variant"])
    current = _open_cart(brand, shop) or services.new_cart(brand, ref=shop.ref)
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
    return redirect(_cart_url(brand))


@require_POST
@shop_view
def cart_update(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    """Change a line's quantity; 0 (or the remove button) takes it out."""
    current = _open_cart(brand, shop)
    form = CartLineForm(request.POST)
    if current is None:
        messages.error(request, _("購物車已失效，請重新加入商品。"))
        return redirect(_cart_url(brand))
    if not form.is_valid():
        messages.error(request, _("數量需介於 0 到 99。"))
        return redirect(_cart_url(brand))
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
    return redirect(_cart_url(brand))


@never_cache
@require_GET
@shop_view
def cart_link(request: HttpRequest, brand: Brand, shop: ShopSession, token: str) -> HttpResponse:
    """/shop/<brand>/cart/<token>/: open a cart someone (usually a clerk) built and sent as a link."""
    linked = selectors.cart_by_token(brand, token)
    if linked.checked_out_order_id:
        messages.info(request, _("這個購物車已經完成結帳。"))
        return redirect(_cart_url(brand))
    ref = clean_ref(request.GET.get("ref"))
    if ref:
        services.set_cart_ref(linked, ref)
    elif not linked.ref and shop.ref:
        services.set_cart_ref(linked, shop.ref)
    elif linked.ref:
        shop.set_ref(linked.ref)  # the clerk who built it also gets credit for a later cart
    shop.remember_cart(linked.token, selectors.cart_item_count(linked))
    return redirect(_cart_url(brand))


# --- checkout -------------------------------------------------------------------------------------


def _recognised_member(brand: Brand, shop: ShopSession) -> Customer | None:
    if shop.member_id is None:
        return None
    return Customer.objects.filter(brand=brand, pk=shop.member_id).first()


def _initial(member: Customer | None) -> dict[str, Any]:
    initial: dict[str, Any] = {"fulfilment": Order.Fulfilment.SHIP, "payment_method": Order.Payment.COD}
    if member is not None:
        initial.update(name=member.name, phone=member.phone, email=member.email)
    return initial


# The service's English refusals about the cart as a whole, in the shopper's words. Its stock
# refusals are already bilingual and pass through unchanged.
CART_REFUSALS = {
    "the cart is empty": gettext_lazy("購物車是空的，請先加入商品。"),
    "this cart has already been checked out": gettext_lazy("這個購物車已經完成結帳。"),
}


def _show_refusal(form: CheckoutForm, exc: services.OrderError) -> None:
    """Put the service's refusal next to the field it names (or at the top for the cart)."""
    field = SERVICE_FIELD_TO_FORM_FIELD.get(exc.field)
    message = FRIENDLY_ERRORS.get(exc.field) or CART_REFUSALS.get(exc.message, exc.message)
    form.add_error(field, str(message))


@never_cache
@require_http_methods(["GET", "POST"])
@shop_view
def checkout(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    current = _open_cart(brand, shop)
    if current is None:
        messages.error(request, _("購物車是空的，請先加入商品。"))
        return redirect(_cart_url(brand))
    lines = selectors.cart_lines(current)
    if not lines and request.method == "GET":
        messages.error(request, _("購物車是空的，請先加入商品。"))
        return redirect(_cart_url(brand))
    member = _recognised_member(brand, shop)
    status = 200
    coupon_applied = False
    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if not form.is_valid():
            status = 422
        elif request.POST.get("action") == "apply_coupon":
            coupon_applied = True
        else:
            placed = _place_order(current, brand, shop, form, member)
            if isinstance(placed, Order):
                # This browser's earlier browsing lands on the buyer's timeline.
                shop_tracking.link_visitor(brand, placed.customer_id, shop_tracking.anonymous_id(request))
                return redirect(shop_links.order_link(placed))
            status = placed
    else:
        form = CheckoutForm(initial=_initial(member))

    # What was typed and valid (a refusal removes only its own field), so the summary matches the
    # choices on the page, e.g. no delivery fee after a refused pick-up order.
    values = getattr(form, "cleaned_data", {})
    fulfilment = values.get("fulfilment") or Order.Fulfilment.SHIP
    coupon_code = (values.get("coupon_code") or "").strip()
    points = values.get("points") or 0
    totals = services.cart_totals(
        current,
        fulfilment=fulfilment,
        coupon_code=coupon_code,
        points=points if member is not None else 0,
        customer=current.customer or member,
    )
    if coupon_applied and coupon_code and totals.coupon_error:
        form.add_error("coupon_code", totals.coupon_error)
        status = 422
    points_info = _points_info(brand, member, totals) if member is not None else None
    return _render(
        request,
        brand,
        shop,
        "checkout.html",
        {
            "form": form,
            "cart": current,
            "lines": lines,
            "totals": totals,
            "coupon_ok": coupon_applied and totals.coupon is not None,
            "member": member,
            "points_info": points_info,
            "pickup_stores": selectors.pickup_stores(brand, lines),
            "free_shipping_over": services.FREE_SHIPPING_OVER,
            "shipping_fee": services.SHIPPING_FEE,
            "track_events": _checkout_started(brand, current, lines, totals, coupon_code)
            if request.method == "GET"
            else [],
        },
        status=status,
    )


def _checkout_started(
    brand: Brand, cart: Cart, lines: list, totals: services.CartTotals, coupon: str
) -> list:
    cur = brand.currency
    props: dict[str, Any] = {
        "checkout_id": cart.token,
        "value": shop_tracking.money(totals.total, cur),
        "revenue": shop_tracking.money(
            totals.subtotal - totals.coupon_discount - totals.points_discount, cur
        ),
        "shipping": shop_tracking.money(totals.shipping, cur),
        "discount": shop_tracking.money(totals.coupon_discount + totals.points_discount, cur),
        "currency": cur,
        "products": [
            shop_tracking.product_properties(line.variant, brand=brand, quantity=line.quantity)
            for line in lines
        ],
    }
    if coupon:
        props["coupon"] = coupon
    return [{"event": "Checkout Started", "properties": props}]


def _points_info(brand: Brand, member: Customer, totals: services.CartTotals) -> dict[str, int]:
    program = loyalty.program_for(brand)
    balance = loyalty.account_for(member).balance
    cap = loyalty.max_redeemable(program, totals.subtotal - totals.coupon_discount, balance)
    return {"balance": balance, "cap": cap, "point_value": program.point_value}


def _place_order(
    cart: Cart, brand: Brand, shop: ShopSession, form: CheckoutForm, member: Customer | None
) -> Order | int:
    """Check the cart out; the Order, or the HTTP status to answer with the form's errors."""
    data = form.cleaned_data
    points = data.get("points") or 0
    if points and member is None:
        form.add_error("points", _("請先開啟您的會員專屬連結，才能使用點數折抵。"))
        return 422
    if points and cart.customer_id not in (None, member.pk):
        form.add_error("points", _("這個購物車屬於其他會員，無法折抵點數。"))
        return 422
    if member is not None and cart.customer_id is None:
        services.assign_cart_customer(cart, member)
    # A first order makes a new member, and this browser may then open that member's page. An
    # existing member is not recognised from a typed phone number: anyone could type it.
    known_before = (
        cart.customer_id is not None
        or selectors.existing_customer(brand, phone=data["phone"], email=data["email"]) is not None
    )
    try:
        order = services.checkout(
            cart,
            contact=services.Contact(
                name=data["name"], phone=data["phone"], email=data["email"], address=form.address()
            ),
            fulfilment=data["fulfilment"],
            payment_method=data["payment_method"],
            pickup_store=selectors.pickup_store(brand, data.get("pickup_store")),
            coupon_code=(data.get("coupon_code") or "").strip(),
            points=points,
            note=(data.get("note") or "").strip(),
        )
    except services.OrderError as exc:
        _show_refusal(form, exc)
        return exc.status
    shop.forget_cart()
    if order.customer_id is not None and not known_before:
        shop.recognise_member(order.customer_id)
    return order


# --- after checkout -------------------------------------------------------------------------------


@never_cache
@require_GET
@shop_view
def order(request: HttpRequest, brand: Brand, shop: ShopSession, token: str) -> HttpResponse:
    key = shop_links.order_key_from_token(token)
    if key is None:
        raise Http404("tampered order token")
    placed = selectors.shop_order(brand, key)
    member_url = None
    if placed.customer_id is not None and placed.customer_id == shop.member_id:
        member_url = shop_links.member_link(placed.customer)
    return _render(
        request,
        brand,
        shop,
        "order.html",
        {"order": placed, "member_url": member_url, "track_events": [_order_completed(brand, placed)]},
    )


def _order_completed(brand: Brand, placed: Order) -> dict[str, Any]:
    """Order Completed for the confirmation page; its messageId makes a reload count once."""
    cur = placed.currency
    props: dict[str, Any] = {
        "order_id": str(placed.pk),
        "order_number": placed.display_number,
        "affiliation": str(_("網路商店")),
        "subtotal": shop_tracking.money(placed.subtotal, cur),
        "total": shop_tracking.money(placed.total, cur),
        "revenue": shop_tracking.money(placed.total - placed.shipping_total - placed.tax_total, cur),
        "shipping": shop_tracking.money(placed.shipping_total, cur),
        "tax": shop_tracking.money(placed.tax_total, cur),
        "discount": shop_tracking.money(placed.discount_total, cur),
        "currency": cur,
        "products": [
            {
                "product_id": str(line.product_id) if line.product_id else "",
                "sku": line.sku,
                "name": line.title,
                "price": shop_tracking.money(line.unit_price, cur),
                "quantity": line.quantity,
            }
            for line in placed.lines.all()
        ],
    }
    if placed.coupon_code:
        props["coupon"] = placed.coupon_code
    return {"event": "Order Completed", "properties": props, "messageId": f"shop:order:{placed.pk}:completed"}


@never_cache
@require_GET
@shop_view
def member(request: HttpRequest, brand: Brand, shop: ShopSession, token: str) -> HttpResponse:
    try:
        customer = shop_links.member_from_token(brand, token)
    except shop_links.MemberLinkError as exc:
        return _render(
            request, brand, shop, "member_link_error.html", {"reason": exc.reason}, status=exc.status
        )
    shop.recognise_member(customer.pk)
    return _render(request, brand, shop, "member.html", {"page": selectors.member_page(customer)})
