"""Carts and orders from every sales channel, with lines and refunds."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from omo.commerce.einvoice import InvoiceKind
from omo.core.models import BrandScoped


class SalesChannel(models.TextChoices):
    POS = "pos", _("門市 POS")
    WEB_SHOP = "web_shop", _("官網商店")
    EXTERNAL_WEB = "external_web", _("外部網店")
    MARKETPLACE = "marketplace", _("電商平台")
    OTHER = "other", _("其他")


class Cart(BrandScoped):
    """A shopper's cart in the built-in shop, addressed by an unguessable token.

    Clerks can build one for a customer and send its link; `ref` then carries the clerk.
    """

    token = models.CharField(max_length=40, unique=True)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ref = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    checked_out_order = models.OneToOneField(
        "Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="source_cart"
    )

    def __str__(self) -> str:
        return self.token


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey("catalog.Variant", on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["cart", "variant"], name="one_line_per_variant_in_cart")
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.quantity}× {self.variant_id}"


class Carrier(models.TextChoices):
    """Taiwan carriers an order can be shipped with (see omo.commerce.tracking for their links)."""

    TCAT = "tcat", _("黑貓宅急便")
    HCT = "hct", _("新竹物流")
    POST = "post", _("中華郵政")
    SEVEN_ELEVEN = "seven_eleven", _("7-ELEVEN 交貨便")
    FAMILY_MART = "family_mart", _("全家店到店")
    OTHER = "other", _("其他")


class Order(BrandScoped):
    class Status(models.TextChoices):
        PLACED = "placed", _("已下單")
        PAID = "paid", _("已付款")
        FULFILLED = "fulfilled", _("已出貨 / 已取貨")
        CANCELLED = "cancelled", _("已取消")
        PARTIALLY_REFUNDED = "partially_refunded", _("部分退款")
        REFUNDED = "refunded", _("全額退款")

    class Fulfilment(models.TextChoices):
        SHIP = "ship", _("宅配")
        PICKUP = "pickup", _("門市取貨")
        IN_STORE = "in_store", _("門市現場")

    class Payment(models.TextChoices):
        COD = "cod", _("貨到付款")
        PAY_IN_STORE = "pay_in_store", _("門市付款")
        PAID_EXTERNALLY = "external", _("外部系統已收款")

    # (source, external_id) makes ingest idempotent; the built-in shop uses source "shop".
    source = models.CharField(max_length=60)
    external_id = models.CharField(max_length=120)
    name = models.CharField(_("訂單編號"), max_length=60, blank=True)
    sales_channel = models.CharField(_("銷售通路"), max_length=20, choices=SalesChannel.choices)
    store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="pos_orders"
    )
    staff_code = models.CharField(max_length=40, blank=True, help_text="employee code as sent by the POS")
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="orders"
    )
    contact_name = models.CharField(max_length=120, blank=True)
    contact_phone = models.CharField(max_length=20, blank=True)
    contact_email = models.EmailField(blank=True)
    fulfilment = models.CharField(max_length=10, choices=Fulfilment.choices, default=Fulfilment.SHIP)
    shipping_address = models.JSONField(default=dict, blank=True)
    pickup_store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    payment_method = models.CharField(max_length=20, choices=Payment.choices, default=Payment.PAID_EXTERNALLY)
    currency = models.CharField(max_length=3, default="TWD")
    subtotal = models.BigIntegerField(default=0)
    discount_total = models.BigIntegerField(default=0)
    shipping_total = models.BigIntegerField(default=0)
    tax_total = models.BigIntegerField(default=0)
    total = models.BigIntegerField(default=0)
    refunded_total = models.BigIntegerField(default=0)
    discounts = models.JSONField(default=list, blank=True, help_text='[{"code","kind","amount"}]')
    coupon_code = models.CharField(max_length=60, blank=True)
    points_redeemed = models.IntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PLACED)
    ref = models.CharField(max_length=200, blank=True, help_text="clerk referral carried from a link or cart")
    note = models.TextField(blank=True)
    # field name → keyed digest of the value first sent to POST /api/v1/orders (no personal data in
    # clear): a repeat with another body is refused naming the fields that differ. Empty for orders
    # recorded before it existed or by other paths (shop, Shopify, imports).
    request_digest = models.JSONField(default=dict, blank=True, editable=False)
    placed_at = models.DateTimeField(db_index=False)
    paid_at = models.DateTimeField(null=True, blank=True)
    fulfilled_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancel_reason = models.CharField(_("取消原因"), max_length=250, blank=True)
    carrier = models.CharField(_("物流業者"), max_length=20, choices=Carrier.choices, blank=True)
    tracking_number = models.CharField(_("追蹤號碼"), max_length=60, blank=True)
    # The shopper's e-invoice choice (omo.commerce.einvoice); empty for orders from other channels.
    invoice_kind = models.CharField(_("電子發票"), max_length=10, choices=InvoiceKind.choices, blank=True)
    invoice_carrier = models.CharField(_("手機條碼載具"), max_length=8, blank=True)
    invoice_tax_id = models.CharField(_("統一編號"), max_length=8, blank=True)
    invoice_company = models.CharField(_("發票抬頭"), max_length=120, blank=True)
    invoice_donation_code = models.CharField(_("捐贈碼"), max_length=7, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "source", "external_id"], name="order_idempotency_key"),
            models.CheckConstraint(condition=models.Q(total__gte=0), name="order_total_not_negative"),
            models.CheckConstraint(
                condition=models.Q(refunded_total__lte=models.F("total")), name="order_refund_within_total"
            ),
        ]
        indexes = [
            models.Index(fields=["brand", "placed_at"], name="order_brand_time"),
            models.Index(fields=["customer", "placed_at"], name="order_customer_time"),
            models.Index(fields=["brand", "store", "placed_at"], name="order_store_time"),
        ]
        ordering = ["-placed_at", "-id"]
        verbose_name = _("訂單")
        verbose_name_plural = _("訂單")

    def __str__(self) -> str:
        return self.display_number

    @property
    def display_number(self) -> str:
        return self.name or f"#{self.pk}"

    @property
    def net_total(self) -> int:
        return self.total - self.refunded_total


class OrderLine(BrandScoped):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    variant = models.ForeignKey(
        "catalog.Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sku = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=250)
    quantity = models.PositiveIntegerField()
    unit_price = models.BigIntegerField()
    discount = models.BigIntegerField(default=0)
    total = models.BigIntegerField()
    refunded_quantity = models.PositiveIntegerField(default=0)
    # Copied from the order so product reports read one table with one index.
    placed_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["brand", "placed_at", "product"], name="line_brand_time_product")]

    def __str__(self) -> str:
        return f"{self.quantity}× {self.title}"


class Refund(BrandScoped):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="refunds")
    external_id = models.CharField(max_length=120)
    amount = models.BigIntegerField()
    reason = models.CharField(max_length=250, blank=True)
    lines = models.JSONField(default=list, blank=True, help_text='[{"line_id", "quantity"}]')
    restock = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["order", "external_id"], name="refund_idempotency_key"),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="refund_amount_positive"),
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"refund {self.amount} on {self.order_id}"


class OrderAction(BrandScoped):
    """One step in an order's life after it was recorded (paid, fulfilled, cancelled, refunded):
    who took it, when and why. The order page's history reads these; `idempotency_key` lets an
    integrator retry a step safely."""

    class Kind(models.TextChoices):
        PAID = "paid", pgettext_lazy("order action", "標記已付款")
        FULFILLED = "fulfilled", pgettext_lazy("order action", "出貨 / 取貨")
        CANCELLED = "cancelled", pgettext_lazy("order action", "取消")
        REFUNDED = "refunded", pgettext_lazy("order action", "退款")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="actions")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(
        max_length=120, blank=True, help_text="user:<name>, api_key:<prefix> or system"
    )
    reason = models.CharField(max_length=250, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    idempotency_key = models.CharField(max_length=120, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "kind", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="order_action_idempotency_key",
            )
        ]
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} on {self.order_id}"
