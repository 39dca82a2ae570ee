"""Checkout and the order's confirmation page. Checkout rules live in
omo.commerce.services.checkout; this module only decides which page to show and where to put the
message it gets back.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods

from omo.commerce import addresses, services, shop_links
from omo.commerce.models import Cart, CartLine, Order
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.loyalty import services as loyalty
from omo.shop import selectors
from omo.shop import tracking as shop_tracking
from omo.shop.forms import (
    FRIENDLY_ERRORS,
    SERVICE_FIELD_TO_FORM_FIELD,
    CheckoutForm,
)
from omo.shop.session import ShopSession
from omo.shop.views.base import cart_url, render_shop, shop_view
from omo.shop.views.cart import current_cart


def _recognised_member(brand: Brand, shop: ShopSession) -> Customer | None:
    if shop.member_id is None:
        return None
    return Customer.objects.filter(brand=brand, pk=shop.member_id).first()


def member_id(member: Customer | None) -> int | None:
    return member.pk if member is not None else None


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
    """Put the service's refusal next to the field it names (or at the top for the cart); a
    CheckoutInvalid puts each of its errors next to its field, all at once."""
    if isinstance(exc, services.CheckoutInvalid):
        for field_name, refused in exc.errors.items():
            form.add_error(
                SERVICE_FIELD_TO_FORM_FIELD.get(field_name),
                str(FRIENDLY_ERRORS.get(field_name) or refused),
            )
        return
    field = SERVICE_FIELD_TO_FORM_FIELD.get(exc.field or "")
    refusal = CART_REFUSALS.get(exc.message, exc.message)
    message = FRIENDLY_ERRORS.get(exc.field) or refusal
    form.add_error(field, str(message))


@never_cache
@require_http_methods(["GET", "POST"])
@shop_view
def checkout(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    current = current_cart(brand, shop)
    if current is None:
        messages.error(request, _("購物車是空的，請先加入商品。"))
        return redirect(cart_url(brand))
    lines = selectors.cart_lines(current)
    if not lines and request.method == "GET":
        messages.error(request, _("購物車是空的，請先加入商品。"))
        return redirect(cart_url(brand))
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
    field_errors = [name for name in form.errors if name != "__all__"]
    return render_shop(
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
            "tw_counties": addresses.picker_data() if brand.country == "TW" else None,
            # what was typed, spelled as in the list (台北市 → 臺北市) so the pickers keep it
            "chosen_city": addresses.normalise(str(form["city"].value() or "")),
            "chosen_district": addresses.normalise(str(form["district"].value() or "")),
            "first_error": field_errors[0] if field_errors else "",
            "field_error_count": len(field_errors),
            "checkout_messages": _client_messages(),
            "free_shipping_over": services.FREE_SHIPPING_OVER,
            "shipping_fee": services.SHIPPING_FEE,
            "track_events": _checkout_started(brand, current, lines, totals, coupon_code)
            if request.method == "GET"
            else [],
        },
        status=status,
    )


def _client_messages() -> dict[str, str]:
    """The sentences the page's own check shows before sending, the same as the server's."""
    messages_by_field = {
        form_field: str(FRIENDLY_ERRORS[service_field])
        for service_field, form_field in SERVICE_FIELD_TO_FORM_FIELD.items()
        if service_field in FRIENDLY_ERRORS
    }
    messages_by_field["line1"] = str(FRIENDLY_ERRORS["address.line1"])
    messages_by_field["summary"] = _("有 __N__ 個欄位需要修正。")
    return messages_by_field


def _checkout_started(
    brand: Brand, cart: Cart, lines: list[CartLine], totals: services.CartTotals, coupon: str
) -> list[dict[str, Any]]:
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
    if points:
        if member is None:
            form.add_error("points", _("請先開啟您的會員專屬連結，才能使用點數折抵。"))
            return 422
        if cart.customer_id not in (None, member.pk):
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
            # Signed in with LINE: the order and the phone typed join the customer holding that LINE user.
            contact_joins_customer=shop.signed_in_with_line and cart.customer_id == member_id(member),
            invoice=services.Invoice(**form.invoice()),
        )
    except services.OrderError as exc:
        _show_refusal(form, exc)
        return exc.status
    shop.forget_cart()
    if order.customer_id is not None and not known_before:
        shop.recognise_member(order.customer_id)
    return order


@never_cache
@require_GET
@shop_view
def order(request: HttpRequest, brand: Brand, shop: ShopSession, token: str) -> HttpResponse:
    key = shop_links.order_key_from_token(token)
    if key is None:
        raise Http404("tampered order token")
    placed = selectors.shop_order(brand, key)
    member_url = None
    if placed.customer is not None and placed.customer_id == shop.member_id:
        member_url = shop_links.member_link(placed.customer)
    return render_shop(
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
