"""Screen-specific reads behind the console pages, composed from each app's `visible_<things>`.

Who sees which rows is decided once per app (omo.customers.selectors.visible_customers,
omo.commerce.selectors.visible_orders, omo.catalog.selectors, omo.loyalty.selectors,
omo.staff.selectors) for the API, the console and the clerk app alike; the functions here only add
a screen's filters, ordering and what its template shows. Views never start a query from
`Model.objects` themselves, so a row of another brand (or, for a store manager, of another store)
is simply not found (404). Lists select or prefetch what their templates show, so a page costs the
same number of queries whatever its length.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from django.db.models import Count, Q, QuerySet

from omo.attribution.models import Attribution
from omo.catalog import selectors as catalog_selectors
from omo.catalog.models import Category, Location
from omo.commerce import selectors as commerce_selectors
from omo.commerce.models import Order, OrderLine, Refund
from omo.commerce.selectors import visible_orders
from omo.core.models import ApiKey, AuditLog
from omo.customers import search as customer_search
from omo.customers.models import Customer
from omo.customers.selectors import visible_customers
from omo.customers.services import CustomerError, clean_contact
from omo.loyalty import selectors as loyalty_selectors
from omo.loyalty.models import Coupon, CouponCode, CouponRedemption, LoyaltyAccount, PointsEntry
from omo.staff.actors import as_actor
from omo.staff.models import Store, User
from omo.staff.selectors import visible_staff, visible_stores

if TYPE_CHECKING:
    from omo.staff.requests import BrandStaff


def _local_day_start(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=tz)


def _brand_tz(user: BrandStaff) -> ZoneInfo:
    return ZoneInfo(user.brand.time_zone)


def phone_variants(user: BrandStaff, query: str) -> list[str]:
    """What a typed phone may be stored as: as typed, and normalised to E.164 for the brand's country."""
    variants = [query]
    try:
        normalised, _email = clean_contact(user.brand, phone=query)
    except CustomerError:
        return variants
    if normalised and normalised != query:
        variants.append(normalised)
    return variants


def _digits(query: str) -> str:
    return re.sub(r"\D", "", query)


# --- stores --------------------------------------------------------------------------------------


def stores_for(user: BrandStaff) -> QuerySet[Store]:
    return visible_stores(as_actor(user))


def store_settings_list(user: BrandStaff) -> QuerySet[Store]:
    return (
        visible_stores(as_actor(user))
        .select_related("location")
        .annotate(staff_count=Count("staff", filter=Q(staff__is_active=True)))
        .order_by("code")
    )


# --- orders --------------------------------------------------------------------------------------


def orders_for(user: BrandStaff) -> QuerySet[Order]:
    """The orders this user may see (omo.commerce.selectors.visible_orders)."""
    return visible_orders(as_actor(user))


@dataclass(frozen=True)
class OrderFilters:
    sales_channel: str = ""
    store_id: int | None = None
    status: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None  # inclusive
    query: str = ""
    customer_id: int | None = None


def order_list(user: BrandStaff, filters: OrderFilters) -> QuerySet[Order]:
    orders = orders_for(user).select_related("store", "customer")
    tz = _brand_tz(user)
    if filters.sales_channel:
        orders = orders.filter(sales_channel=filters.sales_channel)
    if filters.store_id is not None:
        orders = orders.filter(store_id=filters.store_id)
    if filters.status:
        orders = orders.filter(status=filters.status)
    if filters.date_from:
        orders = orders.filter(placed_at__gte=_local_day_start(filters.date_from, tz))
    if filters.date_to:
        orders = orders.filter(placed_at__lt=_local_day_start(filters.date_to + dt.timedelta(days=1), tz))
    if filters.customer_id is not None:
        orders = orders.filter(customer_id=filters.customer_id)
    if filters.query:
        phones = phone_variants(user, filters.query)
        orders = orders.filter(
            Q(name__icontains=filters.query)
            | Q(external_id=filters.query)
            | Q(contact_phone__in=phones)
            | Q(customer__phone__in=phones)
        )
    return orders.order_by("-placed_at", "-id")


def order_detail(user: BrandStaff, pk: int) -> Order:
    """Raises Order.DoesNotExist outside the user's brand or store."""
    return orders_for(user).select_related("store", "customer", "staff", "pickup_store").get(pk=pk)


def order_attribution(order: Order) -> Attribution | None:
    return Attribution.objects.select_related("clerk").filter(order=order).first()


def order_lines(order: Order) -> QuerySet[OrderLine]:
    return order.lines.select_related("variant", "product").order_by("id")


def order_refunds(order: Order) -> QuerySet[Refund]:
    return order.refunds.select_related("created_by").order_by("id")


def coupon_redemption(order: Order) -> CouponRedemption | None:
    return CouponRedemption.objects.select_related("code__coupon").filter(order=order).first()


def audit_for(user: BrandStaff, target_type: str, target_id: int, limit: int = 50) -> QuerySet[AuditLog]:
    return AuditLog.objects.filter(
        brand_id=user.brand_id, target_type=target_type, target_id=str(target_id)
    ).select_related("actor_user", "actor_api_key")[:limit]


# --- customers -----------------------------------------------------------------------------------


def customers_for(user: BrandStaff) -> QuerySet[Customer]:
    """The customers this user may see (omo.customers.selectors.visible_customers)."""
    return visible_customers(as_actor(user))


def customer_list(user: BrandStaff, query: str = "") -> QuerySet[Customer]:
    """Search by name, phone typed any way (or 4+ of its digits), email, member number or chat
    display name (omo.customers.search), within the viewer's scope."""
    customers = customers_for(user).select_related("home_store", "loyalty__tier")
    if query:
        customers = customer_search.search(
            customers, query, brand_id=user.brand_id, country=user.brand.country
        )
    return customers.order_by("-id")


def customer_detail(user: BrandStaff, pk: int) -> Customer:
    return customers_for(user).select_related("brand", "home_store", "loyalty__tier").get(pk=pk)


def loyalty_account(customer: Customer) -> LoyaltyAccount | None:
    try:
        return customer.loyalty  # selected with the customer
    except LoyaltyAccount.DoesNotExist:
        return None


def customer_orders(customer: Customer, limit: int = 50) -> QuerySet[Order]:
    """Every sales channel; the customer 360 shows the whole history whatever the viewer's scope."""
    return commerce_selectors.customer_orders(customer)[:limit]


def points_ledger(customer: Customer, limit: int = 50) -> QuerySet[PointsEntry]:
    return customer.points_entries.filter(brand_id=customer.brand_id).select_related("order", "actor")[:limit]


def customer_coupon_codes(customer: Customer) -> QuerySet[CouponCode]:
    return customer.coupon_codes.filter(brand_id=customer.brand_id).select_related("coupon").order_by("-id")


# --- catalogue and stock -------------------------------------------------------------------------


def categories_for(user: BrandStaff) -> QuerySet[Category]:
    return catalog_selectors.visible_categories(as_actor(user)).order_by("sort_order", "name")


def locations_for(user: BrandStaff) -> QuerySet[Location]:
    return catalog_selectors.active_locations(as_actor(user))


# --- loyalty -------------------------------------------------------------------------------------


def coupon_detail(user: BrandStaff, pk: int) -> Coupon:
    return loyalty_selectors.coupon_list(as_actor(user)).get(pk=pk)


def coupon_codes(coupon: Coupon) -> QuerySet[CouponCode]:
    return coupon.codes.filter(brand_id=coupon.brand_id).select_related("customer").order_by("-id")


# --- settings ------------------------------------------------------------------------------------


def staff_list(user: BrandStaff) -> QuerySet[User]:
    return visible_staff(as_actor(user)).select_related("store").order_by("role", "username")


def api_keys_for(user: BrandStaff) -> QuerySet[ApiKey]:
    return (
        ApiKey.objects.filter(brand_id=user.brand_id)
        .select_related("created_by", "store", "staff")
        .order_by("-created_at", "-id")
    )


@dataclass(frozen=True)
class AuditFilters:
    action: str = ""
    actor: str = ""
    target_type: str = ""
    target_id: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None


def audit_list(user: BrandStaff, filters: AuditFilters) -> QuerySet[AuditLog]:
    entries = AuditLog.objects.filter(brand_id=user.brand_id).select_related("actor_user", "actor_api_key")
    tz = _brand_tz(user)
    if filters.action:
        # "customer." lists every customer action; a full name matches exactly that one.
        entries = entries.filter(action__startswith=filters.action)
    if filters.actor:
        entries = entries.filter(actor_label__icontains=filters.actor)
    if filters.target_type:
        entries = entries.filter(target_type=filters.target_type)
    if filters.target_id:
        entries = entries.filter(target_id=filters.target_id)
    if filters.date_from:
        entries = entries.filter(created_at__gte=_local_day_start(filters.date_from, tz))
    if filters.date_to:
        entries = entries.filter(created_at__lt=_local_day_start(filters.date_to + dt.timedelta(days=1), tz))
    return entries.order_by("-created_at", "-id")


def audit_target_types(user: BrandStaff) -> list[str]:
    """Distinct kinds of object the brand's log names, for the filter."""
    return list(
        AuditLog.objects.filter(brand_id=user.brand_id)
        .exclude(target_type="")
        .order_by("target_type")
        .values_list("target_type", flat=True)
        .distinct()[:100]
    )


def audit_actions(user: BrandStaff) -> list[str]:
    """Distinct action names seen for the brand, for the filter's suggestions."""
    return list(
        AuditLog.objects.filter(brand_id=user.brand_id)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()[:200]
    )
