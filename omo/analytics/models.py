"""Sales rollups: the dashboard's figures kept per brand and local day (omo/analytics/rollups/).

Scanning every order of the last 30 days does not scale (a large brand has close to a million in
that window), so the figures are kept per day as orders are recorded, cancelled and refunded:

- `SalesDay`: orders and net sales per day × store × sales channel;
- `ProductSalesDay`: revenue and units per day × store × product;
- `CustomerActivity` and `CustomerDay`: distinct customers over a window are not additive per day,
  so each customer's last order day (and last day they bought both online and in store) is kept,
  and `CustomerDay` counts customers by that day. Summing it over the days of a window ending
  today gives the customers who ordered in the window, exactly.

Keys are plain integers rather than foreign keys: 0 stands for "no store" and "unknown product" in
the sales tables and for "the whole brand" in the customer tables (so unique constraints hold; SQL
treats NULLs as distinct). Deleting a store or a product moves its cells to 0.
"""

from __future__ import annotations

from django.db import models

from omo.core.models import Brand, BrandScoped

NO_STORE = 0  # SalesDay / ProductSalesDay: an order without a store (most online orders)
UNKNOWN_PRODUCT = 0  # ProductSalesDay: a line whose product is unknown (e.g. an unmatched POS SKU)
WHOLE_BRAND = 0  # CustomerActivity / CustomerDay: every store and online together


class SalesRollup(models.Model):
    """The state of one brand's rollup. Writers lock it FOR SHARE, each chunk of a rebuild FOR UPDATE."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, primary_key=True, related_name="+")
    # Days are local days in this time zone; empty until a first build starts (no deltas before).
    # When the brand's time zone changes the rollup is rebuilt.
    time_zone = models.CharField(max_length=64, blank=True)
    # When a rebuild last finished; None while one runs (the dashboard reads the orders then).
    built_at = models.DateTimeField(null=True, blank=True)
    rebuild_requested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"sales rollup of brand {self.brand_id}"


class SalesDay(BrandScoped):
    day = models.DateField()
    store_id = models.BigIntegerField()  # NO_STORE or a store id
    sales_channel = models.CharField(max_length=20)
    orders = models.BigIntegerField(default=0)
    net = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "day", "store_id", "sales_channel"], name="sales_day_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} store {self.store_id} {self.sales_channel}: {self.orders} / {self.net}"


class ProductSalesDay(BrandScoped):
    day = models.DateField()
    store_id = models.BigIntegerField()  # NO_STORE or a store id
    product_id = models.BigIntegerField()  # UNKNOWN_PRODUCT or a product id
    revenue = models.BigIntegerField(default=0)
    units = models.BigIntegerField(default=0)
    lines = models.BigIntegerField(default=0)  # counted lines; 0 once all were cancelled

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "day", "store_id", "product_id"], name="product_sales_day_key"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} store {self.store_id} product {self.product_id}: {self.revenue}"


class CustomerActivity(BrandScoped):
    """One customer's last counted order day, overall (WHOLE_BRAND) and per store they bought in."""

    customer_id = models.BigIntegerField()
    scope = models.BigIntegerField()  # WHOLE_BRAND or a store id
    last_order_day = models.DateField(null=True)
    last_online_day = models.DateField(null=True)
    last_in_store_day = models.DateField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["customer_id", "scope"], name="customer_activity_key")]

    def __str__(self) -> str:
        return f"customer {self.customer_id} scope {self.scope}: {self.last_order_day}"


class CustomerDay(BrandScoped):
    """How many customers have their last order (and their OMO day) on `day`, per scope."""

    scope = models.BigIntegerField()
    day = models.DateField()
    customers = models.BigIntegerField(default=0)
    # customers whose earlier of (last online day, last in-store day) is `day`
    omo_customers = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "scope", "day"], name="customer_day_key")]

    def __str__(self) -> str:
        return f"{self.day} scope {self.scope}: {self.customers} / {self.omo_customers}"
