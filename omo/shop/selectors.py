"""Reads for the built-in shop's pages. Every function takes the brand explicitly (tenancy) and
answers in a fixed, small number of queries, whatever the number of products or orders."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import OuterRef, Prefetch, Q, QuerySet, Subquery
from django.http import Http404
from django.utils import timezone

from omo.catalog import inventory
from omo.catalog.models import Category, Location, Product, ProductImage, Variant
from omo.commerce import selectors as commerce_selectors
from omo.commerce.models import Cart, CartLine, Order
from omo.core.models import Brand
from omo.customers import services as customer_services
from omo.customers.models import Customer
from omo.loyalty import services as loyalty
from omo.loyalty.models import CouponCode, LoyaltyAccount, PointsEntry, Tier
from omo.staff.models import Store

PAGE_SIZE = 24
SEARCH_MAX_LENGTH = 100


# --- catalogue ---------------------------------------------------------------------------------


def categories(brand: Brand) -> list[Category]:
    return list(Category.objects.filter(brand=brand))


def category_by_slug(brand: Brand, slug: str) -> Category:
    category = Category.objects.filter(brand=brand, slug=slug).first()
    if category is None:
        raise Http404("no such category")
    return category


def listing(brand: Brand, *, category: Category | None = None, query: str = "") -> QuerySet[Product]:
    """Active products that have something to sell, newest first, each annotated with the price of
    its cheapest active variant (`from_price`, `from_compare_at`) and its images prefetched."""
    cheapest = Variant.objects.filter(product=OuterRef("pk"), is_active=True).order_by(
        "price", "sort_order", "id"
    )
    products = Product.objects.filter(brand=brand, status=Product.Status.ACTIVE)
    if category is not None:
        # A parent category also shows what sits in its direct children.
        products = products.filter(Q(category=category) | Q(category__parent=category))
    query = query.strip()[:SEARCH_MAX_LENGTH]
    if query:
        # SKU and barcode live on variants; a subquery keeps one row per product (no DISTINCT).
        variant_match = (
            Variant.objects.filter(brand=brand)
            .filter(Q(sku__icontains=query) | Q(barcode=query))
            .values("product_id")
        )
        products = products.filter(
            Q(title__icontains=query) | Q(title_en__icontains=query) | Q(pk__in=variant_match)
        )
    return (
        products.annotate(
            from_price=Subquery(cheapest.values("price")[:1]),
            from_compare_at=Subquery(cheapest.values("compare_at_price")[:1]),
        )
        .filter(from_price__isnull=False)
        .prefetch_related(Prefetch("images", queryset=ProductImage.objects.order_by("sort_order", "id")))
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class ProductPage:
    product: Product
    variants: list[Variant]
    images: list[ProductImage]


def product_page(brand: Brand, handle: str) -> ProductPage:
    """A product of this brand by handle; Http404 for another brand's handle, a draft or no variants."""
    product = (
        Product.objects.select_related("category")
        .filter(brand=brand, handle=handle, status=Product.Status.ACTIVE)
        .first()
    )
    if product is None:
        raise Http404("no such product")
    variants = list(product.variants.filter(is_active=True).order_by("sort_order", "id"))
    if not variants:
        raise Http404("nothing to sell")
    return ProductPage(product, variants, list(product.images.order_by("sort_order", "id")))


def variant_ids_for(brand: Brand, handle: str) -> list[int]:
    ids = list(
        Variant.objects.filter(
            brand=brand, is_active=True, product__handle=handle, product__status=Product.Status.ACTIVE
        )
        .order_by("sort_order", "id")
        .values_list("id", flat=True)
    )
    if not ids:
        raise Http404("no such product")
    return ids


def sellable_variant(brand: Brand, variant_id: int) -> Variant:
    variant = (
        Variant.objects.select_related("product")
        .filter(pk=variant_id, brand=brand, is_active=True, product__status=Product.Status.ACTIVE)
        .first()
    )
    if variant is None:
        raise Http404("no such item")
    return variant


# --- stock -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreStock:
    code: str
    name: str
    available: int


@dataclass(frozen=True)
class VariantStock:
    variant_id: int
    online: int
    stores: list[StoreStock]

    @property
    def in_any_store(self) -> bool:
        return any(store.available > 0 for store in self.stores)

    @property
    def can_add(self) -> bool:
        # Out of stock online but on a store's shelf is still a sale: the shopper picks it up.
        return self.online > 0 or self.in_any_store

    @property
    def pickup_only(self) -> bool:
        return self.online <= 0 and self.in_any_store

    def as_json(self) -> dict:
        return {
            "id": self.variant_id,
            "online": self.online,
            "stores": [{"code": s.code, "name": s.name, "available": s.available} for s in self.stores],
            "can_add": self.can_add,
            "pickup_only": self.pickup_only,
        }


def stock_for(variant_ids: list[int]) -> dict[int, VariantStock]:
    """Live stock for the product page in two queries (per-location rows and the online sum)."""
    per_location = inventory.availability(variant_ids)
    online = inventory.online_available(variant_ids)
    result = {}
    for variant_id in variant_ids:
        stores = [
            StoreStock(row.location_code, row.location_name, max(row.available, 0))
            for row in per_location[variant_id]
            if row.kind == Location.Kind.STORE
        ]
        result[variant_id] = VariantStock(variant_id, max(online[variant_id], 0), stores)
    return result


# --- carts -------------------------------------------------------------------------------------


def open_cart(brand: Brand, token: str | None) -> Cart | None:
    """The brand's cart with this token that can still be changed, or None."""
    if not token:
        return None
    return Cart.objects.filter(brand=brand, token=token, checked_out_order__isnull=True).first()


def cart_by_token(brand: Brand, token: str) -> Cart:
    """Any cart of this brand by token (also a checked-out one); Http404 for another brand's token."""
    cart = Cart.objects.filter(brand=brand, token=token).first()
    if cart is None:
        raise Http404("no such cart")
    return cart


def cart_lines(cart: Cart) -> list[CartLine]:
    return list(
        cart.lines.select_related("variant__product").prefetch_related(
            Prefetch("variant__product__images", queryset=ProductImage.objects.order_by("sort_order", "id"))
        )
    )


def cart_item_count(cart: Cart | None) -> int:
    if cart is None:
        return 0
    return sum(cart.lines.values_list("quantity", flat=True))


@dataclass(frozen=True)
class PickupStore:
    store: Store
    status: str  # all | some | none: how much of the cart this store has on its shelf


def pickup_stores(brand: Brand, lines: list[CartLine]) -> list[PickupStore]:
    """Stores that can hand out orders, each with whether it holds the whole cart."""
    stores = list(
        Store.objects.filter(brand=brand, is_active=True, location__isnull=False, location__is_active=True)
        .select_related("location")
        .order_by("code")
    )
    wanted = {line.variant_id: line.quantity for line in lines}
    stock = inventory.availability(list(wanted)) if wanted else {}
    result = []
    for store in stores:
        covered = 0
        for variant_id, quantity in wanted.items():
            here = next((a.available for a in stock[variant_id] if a.location_id == store.location.pk), 0)
            covered += here >= quantity
        status = "all" if wanted and covered == len(wanted) else "some" if covered else "none"
        result.append(PickupStore(store, status))
    return result


def pickup_store(brand: Brand, store_id: int | None) -> Store | None:
    if not store_id:
        return None
    return Store.objects.filter(brand=brand, pk=store_id, is_active=True).first()


# --- orders ------------------------------------------------------------------------------------


def shop_order(brand: Brand, external_id: str) -> Order:
    order = (
        Order.objects.select_related("pickup_store", "customer")
        .prefetch_related("lines")
        .filter(brand=brand, source="shop", external_id=external_id)
        .first()
    )
    if order is None:
        raise Http404("no such order")
    return order


def existing_customer(brand: Brand, *, phone: str, email: str) -> Customer | None:
    """The customer a checkout with this contact would be matched to (None: a new one is created)."""
    try:
        clean_phone, clean_email = customer_services.clean_contact(brand, phone=phone, email=email)
    except customer_services.CustomerError:
        return None  # checkout itself will refuse the contact and say why
    if not (clean_phone or clean_email):
        return None
    return customer_services.find_customer(brand, phone=clean_phone, email=clean_email)


# --- the member page -----------------------------------------------------------------------------

MEMBER_LEDGER_SIZE = 20
MEMBER_ORDERS_SIZE = 50


@dataclass(frozen=True)
class MemberCoupon:
    code: CouponCode
    state: str  # usable | used | expired | upcoming | inactive

    @property
    def coupon(self):
        return self.code.coupon


def _coupon_state(code: CouponCode, now) -> str:
    coupon = code.coupon
    if code.max_uses is not None and code.times_used >= code.max_uses:
        return "used"
    if not coupon.is_active:
        return "inactive"
    if coupon.ends_at and now >= coupon.ends_at:
        return "expired"
    if coupon.starts_at and now < coupon.starts_at:
        return "upcoming"
    return "usable"


@dataclass(frozen=True)
class MemberPage:
    customer: Customer
    account: LoyaltyAccount
    tier: Tier | None
    next_tier: Tier | None
    to_next_tier: int  # minor units still to spend
    progress_percent: int
    ledger: list[PointsEntry]
    coupons: list[MemberCoupon]
    orders: list[Order]
    more_orders: bool


def member_page(customer: Customer) -> MemberPage:
    account = loyalty.account_for(customer)
    tiers = list(Tier.objects.filter(brand_id=customer.brand_id).order_by("threshold"))
    tier = next((t for t in tiers if t.pk == account.tier_id), None)
    spend = account.rolling_spend
    next_tier = next((t for t in tiers if t.threshold > spend), None)
    if next_tier is not None:
        floor = tier.threshold if tier is not None else 0
        span = max(next_tier.threshold - floor, 1)
        progress = max(0, min(100, (spend - floor) * 100 // span))
        to_next = next_tier.threshold - spend
    else:
        progress, to_next = 100, 0
    ledger = list(
        PointsEntry.objects.filter(customer=customer).order_by("-created_at", "-id")[:MEMBER_LEDGER_SIZE]
    )
    now = timezone.now()
    coupons = [
        MemberCoupon(code, _coupon_state(code, now))
        for code in CouponCode.objects.filter(brand_id=customer.brand_id, customer=customer)
        .select_related("coupon")
        .order_by("-created_at", "-id")
    ]
    orders = list(
        commerce_selectors.customer_orders(customer).select_related("pickup_store")[: MEMBER_ORDERS_SIZE + 1]
    )
    return MemberPage(
        customer=customer,
        account=account,
        tier=tier,
        next_tier=next_tier,
        to_next_tier=to_next,
        progress_percent=progress,
        ledger=ledger,
        coupons=coupons,
        orders=orders[:MEMBER_ORDERS_SIZE],
        more_orders=len(orders) > MEMBER_ORDERS_SIZE,
    )
