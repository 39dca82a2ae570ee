"""The built-in shop's carts and checkout: lines, totals, shipping, stock allocation, placing the
order."""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field, replace

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext

from omo.catalog import inventory
from omo.catalog.models import Location, Variant
from omo.commerce import addresses, einvoice
from omo.commerce.einvoice import InvoiceKind
from omo.commerce.models import Cart, CartLine, Order, OrderLine, SalesChannel
from omo.commerce.services.recording import OrderError
from omo.core import audit, events
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.customers import services as customer_services
from omo.customers.models import Customer
from omo.loyalty import services as loyalty
from omo.staff.models import Store, User

logger = logging.getLogger(__name__)


def new_cart(
    brand: Brand, *, ref: str = "", customer: Customer | None = None, created_by: User | None = None
) -> Cart:
    return Cart.objects.create(
        brand=brand, token=secrets.token_urlsafe(18), ref=ref[:200], customer=customer, created_by=created_by
    )


def set_cart_line(cart: Cart, variant: Variant, quantity: int) -> None:
    if variant.brand_id != cart.brand_id or not variant.is_active:
        raise OrderError("variant", "this item is not for sale here", status=404)
    if quantity < 0 or quantity > 99:
        raise OrderError("quantity", "must be between 0 and 99")
    if cart.checked_out_order_id:
        raise OrderError("cart", "this cart has already been checked out", status=409)
    if quantity == 0:
        CartLine.objects.filter(cart=cart, variant=variant).delete()
    else:
        CartLine.objects.update_or_create(cart=cart, variant=variant, defaults={"quantity": quantity})
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())


def add_to_cart(cart: Cart, variant: Variant, quantity: int = 1) -> None:
    current = (
        CartLine.objects.filter(cart=cart, variant=variant).values_list("quantity", flat=True).first() or 0
    )
    set_cart_line(cart, variant, current + quantity)


def set_cart_ref(cart: Cart, ref: str) -> None:
    """The latest clerk referral the shopper arrived with; it is copied onto the order at checkout."""
    if cart.checked_out_order_id:
        return  # the order already carries the referral it was placed with
    cart.ref = ref[:200]
    Cart.objects.filter(pk=cart.pk, checked_out_order__isnull=True).update(
        ref=cart.ref, updated_at=timezone.now()
    )


def assign_cart_customer(cart: Cart, customer: Customer) -> None:
    """Make a recognised member the cart's customer, so checkout credits (and charges points to) them."""
    if customer.brand_id != cart.brand_id:
        raise OrderError("customer", "belongs to another brand", status=404)
    if cart.checked_out_order_id:
        raise OrderError("cart", "this cart has already been checked out", status=409)
    cart.customer = customer
    Cart.objects.filter(pk=cart.pk).update(customer=customer, updated_at=timezone.now())


@dataclass
class CartTotals:
    subtotal: int
    shipping: int
    coupon_discount: int
    points_discount: int
    total: int
    coupon: loyalty.CouponQuote | None
    coupon_error: str | None


SHIPPING_FEE = 10000  # NT$100 flat home delivery
FREE_SHIPPING_OVER = 150000  # free over NT$1,500


def cart_totals(
    cart: Cart,
    *,
    fulfilment: str = "ship",
    coupon_code: str = "",
    points: int = 0,
    customer: Customer | None = None,
) -> CartTotals:
    lines = list(cart.lines.select_related("variant"))
    subtotal = sum(line.quantity * line.variant.price for line in lines)
    shipping = SHIPPING_FEE if fulfilment == Order.Fulfilment.SHIP and subtotal < FREE_SHIPPING_OVER else 0
    quote: loyalty.CouponQuote | None = None
    coupon_error: str | None = None
    coupon_discount = 0
    if coupon_code:
        try:
            quote = loyalty.quote_coupon(
                cart.brand_id, coupon_code, subtotal=subtotal, shipping=shipping, customer=customer
            )
            coupon_discount = quote.discount
            if quote.free_shipping:
                shipping = 0
        except loyalty.CouponError as exc:
            coupon_error = exc.message
    points_discount = 0
    if points:
        program = loyalty.program_for(cart.brand_id)
        points_discount = points * program.point_value
    total = max(0, subtotal - coupon_discount - points_discount) + shipping
    return CartTotals(subtotal, shipping, coupon_discount, points_discount, total, quote, coupon_error)


@dataclass
class Contact:
    name: str
    phone: str
    email: str = ""
    address: dict[str, str] = field(default_factory=dict)  # {"postal_code", "city", "district", "line1"}


@dataclass
class Invoice:
    """The shopper's e-invoice choice (omo.commerce.einvoice); only the number its kind needs is kept."""

    kind: str = InvoiceKind.MEMBER
    carrier: str = ""
    tax_id: str = ""
    company: str = ""
    donation_code: str = ""

    def errors(self) -> dict[str, str]:
        return einvoice.invoice_errors(
            self.kind,
            carrier=self.carrier.strip(),
            tax_id=self.tax_id.strip(),
            company=self.company,
            donation_code=self.donation_code.strip(),
        )

    def order_fields(self) -> dict[str, str]:
        return {
            "invoice_kind": self.kind,
            "invoice_carrier": self.carrier.strip() if self.kind == InvoiceKind.MOBILE else "",
            "invoice_tax_id": self.tax_id.strip() if self.kind == InvoiceKind.COMPANY else "",
            "invoice_company": " ".join(self.company.split()) if self.kind == InvoiceKind.COMPANY else "",
            "invoice_donation_code": self.donation_code.strip() if self.kind == InvoiceKind.DONATION else "",
        }


class CheckoutInvalid(OrderError):
    """Every field the shopper has to fix, at once: `errors` maps field → message, in the form's
    order; `field` and `message` are the first of them."""

    def __init__(self, errors: dict[str, str]) -> None:
        field_name, message = next(iter(errors.items()))
        super().__init__(field_name, message, errors=errors)
        self.errors = errors


# The order of the fields on the checkout form, so the first error is the first field to fix.
FIELD_ORDER = (
    "name",
    "phone",
    "email",
    "fulfilment",
    "address.city",
    "address.district",
    "address.postal_code",
    "address.line1",
    "pickup_store",
    "payment_method",
    "invoice_kind",
    "invoice_carrier",
    "invoice_tax_id",
    "invoice_company",
    "invoice_donation_code",
)


def _in_form_order(errors: dict[str, str]) -> dict[str, str]:
    rank = {name: index for index, name in enumerate(FIELD_ORDER)}
    return dict(sorted(errors.items(), key=lambda item: rank.get(item[0], len(rank))))


def _contact_errors(
    brand: Brand,
    contact: Contact,
    fulfilment: str,
    payment_method: str,
    pickup_store: Store | None,
    invoice: Invoice,
) -> dict[str, str]:
    errors: dict[str, str] = {}
    if not contact.name.strip():
        errors["name"] = "is required"
    if not contact.phone.strip():
        errors["phone"] = "is required"
    allowed_payment: dict[str, str] = {
        Order.Fulfilment.SHIP: Order.Payment.COD,
        Order.Fulfilment.PICKUP: Order.Payment.PAY_IN_STORE,
    }
    if fulfilment not in allowed_payment:
        errors["fulfilment"] = "choose home delivery or pick-up in store"
    elif payment_method != allowed_payment[fulfilment]:
        errors["payment_method"] = f"with {fulfilment} the payment is {allowed_payment[fulfilment]}"
    if fulfilment == Order.Fulfilment.PICKUP and (pickup_store is None or pickup_store.brand_id != brand.pk):
        errors["pickup_store"] = "choose a store to pick up from"
    if fulfilment == Order.Fulfilment.SHIP:
        if brand.country == "TW":
            address_errors = addresses.address_errors(contact.address)
        else:
            address_errors = {
                key: "is required for home delivery"
                for key in ("city", "line1")
                if not (contact.address.get(key) or "").strip()
            }
        errors.update({f"address.{key}": message for key, message in address_errors.items()})
    errors.update(invoice.errors())
    return errors


def _allocate(
    brand_id: int, variant: Variant, quantity: int, fulfilment: str, pickup_store: Store | None
) -> Location:
    """Pick the location that will serve this line: the pickup store, or the first that can ship it."""
    if fulfilment == Order.Fulfilment.PICKUP:
        location = Location.objects.filter(store=pickup_store, is_active=True).first()
        if location is None:
            raise OrderError("pickup_store", "this store cannot hand out orders")
        return location
    candidates = inventory.shipping_locations(brand_id)
    stock = {a.location_id: a.available for a in inventory.availability([variant.pk])[variant.pk]}
    for location in candidates:
        if stock.get(location.pk, 0) >= quantity:
            return location
    if not candidates:
        raise OrderError("fulfilment", "no location ships online orders")
    return candidates[0]  # reserve() will refuse with the real available count


def checkout(
    cart: Cart,
    *,
    contact: Contact,
    fulfilment: str,
    payment_method: str,
    pickup_store: Store | None = None,
    coupon_code: str = "",
    points: int = 0,
    note: str = "",
    invoice: Invoice | None = None,
    actor: Actor | None = None,
    contact_joins_customer: bool = False,
) -> Order:
    """Turn a cart into an order, reserving stock, using the coupon and points, all or nothing.

    Contact, address, pick-up, payment and e-invoice are checked together: a refusal about them is
    a `CheckoutInvalid` naming every field to fix (`errors`), not only the first.

    The cart token is the order's idempotency key: submitting the same cart twice returns the
    order made the first time. `contact_joins_customer`: the cart's customer is proven (signed in
    with LINE), so the phone and email typed join them as identifiers; one held by another
    customer opens a merge suggestion instead (omo.customers.services.add_typed_contact).
    """
    brand = cart.brand
    existing = Order.objects.filter(brand=brand, source="shop", external_id=cart.token).first()
    if existing is not None:
        return existing
    invoice = invoice or Invoice()
    errors = _contact_errors(brand, contact, fulfilment, payment_method, pickup_store, invoice)
    phone, email = "", ""
    if "phone" not in errors and "email" not in errors:
        try:
            phone, email = customer_services.clean_contact(brand, phone=contact.phone, email=contact.email)
        except customer_services.CustomerError as exc:
            errors[exc.field or "phone"] = exc.message
        else:
            if not phone:
                errors["phone"] = "is required"
    if errors:
        raise CheckoutInvalid(_in_form_order(errors))
    if fulfilment == Order.Fulfilment.SHIP and brand.country == "TW":
        contact = replace(contact, address=addresses.cleaned(contact.address))
    lines = list(cart.lines.select_related("variant__product").order_by("variant_id"))
    if not lines:
        raise OrderError("cart", "the cart is empty")
    if points < 0:
        raise OrderError("points", "must not be negative")

    try:
        with transaction.atomic():
            return _place(
                cart,
                brand,
                lines,
                contact,
                phone,
                email,
                fulfilment,
                payment_method,
                pickup_store,
                coupon_code,
                points,
                note,
                invoice,
                actor,
                contact_joins_customer,
            )
    except IntegrityError:
        existing = Order.objects.filter(brand=brand, source="shop", external_id=cart.token).first()
        if existing is None:
            raise
        return existing


def _place(
    cart: Cart,
    brand: Brand,
    lines: list[CartLine],
    contact: Contact,
    phone: str,
    email: str,
    fulfilment: str,
    payment_method: str,
    pickup_store: Store | None,
    coupon_code: str,
    points: int,
    note: str,
    invoice: Invoice,
    actor: Actor | None,
    contact_joins_customer: bool = False,
) -> Order:
    customer = cart.customer
    if customer is None:
        customer, _ = customer_services.get_or_create_customer(
            brand, actor=None, name=contact.name, phone=phone, email=email, source="shop"
        )
        assert customer is not None  # matched or created: checkout refused an order without a phone
    totals = cart_totals(cart, fulfilment=fulfilment, coupon_code=coupon_code, customer=customer)
    if coupon_code and totals.coupon_error:
        raise OrderError("coupon_code", totals.coupon_error)
    program = loyalty.program_for(brand)
    if points:
        balance = loyalty.account_for(customer).balance
        cap = loyalty.max_redeemable(program, totals.subtotal - totals.coupon_discount, balance)
        if points > cap:
            raise OrderError("points", f"at most {cap} points can be used on this order (balance {balance})")
    now = timezone.now()
    points_discount = points * program.point_value
    discount_total = totals.coupon_discount + points_discount
    discounts: list[dict[str, str | int]] = []
    if totals.coupon is not None:
        discounts.append(
            {
                "code": totals.coupon.code.code,
                "kind": totals.coupon.code.coupon.kind,
                "amount": totals.coupon_discount,
            }
        )
    if points:
        discounts.append({"code": "", "kind": "points", "amount": points_discount})
    order = Order.objects.create(
        brand=brand,
        source="shop",
        external_id=cart.token,
        sales_channel=SalesChannel.WEB_SHOP,
        customer=customer,
        contact_name=contact.name.strip(),
        contact_phone=phone,
        contact_email=email,
        fulfilment=fulfilment,
        shipping_address=contact.address if fulfilment == Order.Fulfilment.SHIP else {},
        pickup_store=pickup_store if fulfilment == Order.Fulfilment.PICKUP else None,
        payment_method=payment_method,
        currency=brand.currency,
        subtotal=totals.subtotal,
        discount_total=discount_total,
        shipping_total=totals.shipping,
        total=totals.subtotal - discount_total + totals.shipping,
        discounts=discounts,
        coupon_code=totals.coupon.code.code if totals.coupon else "",
        points_redeemed=points,
        status=Order.Status.PLACED,
        ref=cart.ref,
        note=note[:2000],
        placed_at=now,
        **invoice.order_fields(),
    )
    Order.objects.filter(pk=order.pk).update(name=f"W{order.pk:07d}")
    order.name = f"W{order.pk:07d}"
    order_lines = []
    for line in lines:
        variant = line.variant
        order_line = OrderLine.objects.create(
            brand=brand,
            order=order,
            variant=variant,
            product_id=variant.product_id,
            sku=variant.sku,
            title=str(variant),
            quantity=line.quantity,
            unit_price=variant.price,
            total=line.quantity * variant.price,
            placed_at=now,
        )
        order_lines.append(order_line)
        location = _allocate(brand.pk, variant, line.quantity, fulfilment, pickup_store)
        try:
            inventory.reserve(
                variant, location, line.quantity, order_line=order_line, reference=f"order:{order.pk}"
            )
        except inventory.OutOfStock as exc:
            raise OrderError(
                "cart",
                gettext("%(variant)s 庫存不足，剩 %(available)s 件")
                % {"variant": variant, "available": exc.available, "sku": variant.sku},
                status=409,
            ) from exc
    if totals.coupon is not None:
        try:
            loyalty.redeem_coupon(totals.coupon, order=order, amount=totals.coupon_discount)
        except loyalty.CouponError as exc:
            raise OrderError("coupon_code", exc.message, status=409) from exc
    if points:
        try:
            loyalty.redeem_for_order(order, points)
        except loyalty.InsufficientPoints as exc:
            raise OrderError("points", str(exc), status=409) from exc
    Cart.objects.filter(pk=cart.pk).update(checked_out_order=order, customer=customer)
    if contact_joins_customer and cart.customer is not None:
        customer_services.add_typed_contact(customer, phone=phone, email=email, source="shop")
    if actor is not None and actor.user is not None:
        audit.record(actor, "order.placed", order)
    events.publish(
        "order.recorded",
        brand_id=brand.pk,
        order_id=order.pk,
        sales_channel=order.sales_channel,
        status=order.status,
        created=True,
        in_batch=False,
    )
    return order
