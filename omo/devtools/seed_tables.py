"""The demo's streamed tables (customers, identities, loyalty, orders, lines, refunds, points, coupon
codes and redemptions): the row layout each chunk writes in (omo/devtools/seed_stream.py), and the
fast removal of a demo brand with all its rows.
"""

from __future__ import annotations

from django.db import DatabaseError, connection, models, transaction

from omo.catalog.models import (
    Category,
    Product,
    ProductImage,
    Reservation,
    StockLevel,
    StockMovement,
    Variant,
)
from omo.commerce.models import Order, OrderLine, Refund
from omo.core.models import Brand
from omo.customers.models import Customer, CustomerIdentity
from omo.loyalty.models import (
    Coupon,
    CouponCode,
    CouponRedemption,
    LoyaltyAccount,
    PointsEntry,
    Tier,
)

# --- the streamed tables ------------------------------------------------------------------------


# Row layouts of the streamed tables: seed_stream writes the fields of a row in exactly this order.
CUSTOMER_COLS = (
    "id",
    "brand_id",
    "name",
    "phone",
    "email",
    "birthday",
    "member_number",
    "home_store_id",
    "tags",
    "notes",
    "created_at",
    "updated_at",
    "search_text",
)
IDENTITY_COLS = ("id", "brand_id", "customer_id", "kind", "value", "verified", "source", "created_at")
ACCOUNT_COLS = (
    "id",
    "brand_id",
    "customer_id",
    "balance",
    "lifetime_earned",
    "tier_id",
    "rolling_spend",
    "tier_updated_at",
)
ORDER_COLS = (
    "id",
    "brand_id",
    "source",
    "external_id",
    "name",
    "sales_channel",
    "store_id",
    "staff_id",
    "staff_code",
    "customer_id",
    "contact_name",
    "contact_phone",
    "contact_email",
    "fulfilment",
    "shipping_address",
    "pickup_store_id",
    "payment_method",
    "currency",
    "subtotal",
    "discount_total",
    "shipping_total",
    "tax_total",
    "total",
    "refunded_total",
    "discounts",
    "coupon_code",
    "points_redeemed",
    "status",
    "ref",
    "note",
    "placed_at",
    "paid_at",
    "fulfilled_at",
    "cancelled_at",
    "created_at",
)
LINE_COLS = (
    "id",
    "brand_id",
    "order_id",
    "variant_id",
    "product_id",
    "sku",
    "title",
    "quantity",
    "unit_price",
    "discount",
    "total",
    "refunded_quantity",
    "placed_at",
)
REFUND_COLS = (
    "id",
    "brand_id",
    "order_id",
    "external_id",
    "amount",
    "reason",
    "lines",
    "restock",
    "created_by_id",
    "created_at",
)
POINTS_COLS = (
    "id",
    "brand_id",
    "customer_id",
    "delta",
    "kind",
    "order_id",
    "reason",
    "idempotency_key",
    "expires_at",
    "actor_id",
    "created_at",
)
CODE_COLS = ("id", "brand_id", "coupon_id", "code", "customer_id", "max_uses", "times_used", "created_at")
REDEMPTION_COLS = ("id", "brand_id", "code_id", "order_id", "customer_id", "amount", "created_at")

STREAMED: tuple[tuple[str, type[models.Model], tuple[str, ...]], ...] = (
    ("customers", Customer, CUSTOMER_COLS),
    ("identities", CustomerIdentity, IDENTITY_COLS),
    ("accounts", LoyaltyAccount, ACCOUNT_COLS),
    ("codes", CouponCode, CODE_COLS),
    ("orders", Order, ORDER_COLS),
    ("lines", OrderLine, LINE_COLS),
    ("refunds", Refund, REFUND_COLS),
    ("redemptions", CouponRedemption, REDEMPTION_COLS),
    ("points", PointsEntry, POINTS_COLS),
)


# --- removing a demo brand quickly ----------------------------------------------------------------

# Children before parents. These are deleted with one DELETE per table; everything else that
# belongs to the brand goes through Django's collector afterwards, when these are already empty.
_RAW_DELETE_ORDER: tuple[type[models.Model], ...] = (
    PointsEntry,
    CouponRedemption,
    CouponCode,
    Coupon,
    LoyaltyAccount,
    Refund,
    Reservation,
    OrderLine,
    Order,
    CustomerIdentity,
    Customer,
    StockMovement,
    StockLevel,
    ProductImage,
    Variant,
    Product,
    Category,
    Tier,
)


def purge_brand(brand: Brand) -> None:
    """Delete a brand and all its rows, fast even with millions of orders.

    Rows of other apps that point at the big tables are handled first through the ORM (their
    on_delete rules apply), so this stays correct when new apps add relations.
    """
    raw = set(_RAW_DELETE_ORDER)
    with transaction.atomic():
        # Children go first, so the per-row foreign-key checks PostgreSQL would run (millions of
        # index probes) prove nothing; skip them where we are allowed to.
        replica = _try_replica_role()
        for model in _RAW_DELETE_ORDER:
            for rel in model._meta.related_objects:
                other = rel.related_model
                if other in raw or not isinstance(rel, models.ManyToOneRel):
                    continue
                related = other._base_manager.filter(**{f"{rel.field.name}__brand_id": brand.pk})
                if rel.on_delete is models.SET_NULL:
                    related.update(**{rel.field.name: None})
                elif rel.on_delete is not models.DO_NOTHING:
                    related.delete()
            with connection.cursor() as cursor:
                cursor.execute(f'DELETE FROM "{model._meta.db_table}" WHERE brand_id = %s', [brand.pk])
        if replica:
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL session_replication_role = origin")
        brand.delete()


def _try_replica_role(local: bool = True) -> bool:
    """Turn off foreign-key triggers for this transaction (or session); False when not allowed."""
    if connection.vendor != "postgresql":
        return False
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"SET {'LOCAL ' if local else ''}session_replication_role = replica")
    except DatabaseError:
        return False
    return True
