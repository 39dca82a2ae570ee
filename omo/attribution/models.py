"""Tracked-link clicks, attribution decisions with reasons, commission rules and ledger."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.core.models import BrandScoped


class LinkIssue(BrandScoped):
    """A tracked link handed out (one per product in a card); the signed token names this row."""

    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    product = models.ForeignKey(
        "catalog.Product", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    conversation_id = models.BigIntegerField(null=True, blank=True)
    target = models.CharField(max_length=500, help_text="path inside the brand's shop, e.g. /shop/demo/p/x/")
    issued_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["clerk", "issued_at"], name="link_by_clerk")]

    def __str__(self) -> str:
        return f"link {self.pk}"


class Click(BrandScoped):
    link = models.ForeignKey(LinkIssue, on_delete=models.CASCADE, related_name="clicks")
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    clicked_at = models.DateTimeField()
    is_preview = models.BooleanField(default=False, help_text="a link-preview fetcher, not a person")
    user_agent = models.CharField(max_length=300, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    session_key = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["brand", "customer", "clicked_at"], name="click_by_customer")]

    def __str__(self) -> str:
        return f"click {self.pk}"


class Attribution(BrandScoped):
    """Which clerk an order is credited to, by which rule, and why in words."""

    class Rule(models.TextChoices):
        POS_STAFF = "pos_staff", _("POS 銷售人員")
        CLERK_COUPON = "clerk_coupon", _("店員優惠碼")
        LINK_CLICK = "link_click", _("店員導購連結")
        BOUND_CLERK = "bound_clerk", _("綁定店員")
        NONE = "none", _("無歸屬")

    order = models.OneToOneField("commerce.Order", on_delete=models.CASCADE, related_name="attribution")
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    rule = models.CharField(max_length=14, choices=Rule.choices)
    click = models.ForeignKey(Click, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    reason_zh = models.CharField(max_length=300)
    reason_en = models.CharField(max_length=300)
    decided_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["brand", "clerk", "decided_at"], name="attribution_by_clerk")]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.rule}"


class AttributionSettings(models.Model):
    brand = models.OneToOneField("core.Brand", on_delete=models.CASCADE, related_name="attribution_settings")
    window_days = models.PositiveIntegerField(default=30)
    credit_bound_clerk = models.BooleanField(default=False)
    # The order the rules are tried in, as Attribution.Rule values; empty = the default order
    # (pos_staff, clerk_coupon, link_click, bound_clerk).
    precedence = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return f"attribution settings {self.brand_id}"


class CommissionRule(BrandScoped):
    """What a credited sale earns, for a scope, between two dates (both inclusive, brand-local days).

    Scope: any of clerk, category and store (none = brand-wide). Kind: a percentage of the line's
    sales after order discounts (`rate_bp`, basis points: 500 = 5%), or a fixed amount per item sold
    (`fixed_amount`, minor units per unit of quantity: 5000 = NT$50 an item). The most specific rule
    in force wins, line by line (services.commission.rule_for); services.commission_rules validates
    and audits every change.
    """

    class Kind(models.TextChoices):
        PERCENT = "percent", _("銷售額百分比")
        FIXED = "fixed", _("每件固定金額")

    category = models.ForeignKey(
        "catalog.Category", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PERCENT)
    rate_bp = models.PositiveIntegerField(default=0)
    fixed_amount = models.BigIntegerField(default=0, help_text="minor units per item (kind fixed)")
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(rate_bp__lte=10000), name="commission_rate_max_100"),
            models.CheckConstraint(
                condition=models.Q(fixed_amount__gte=0), name="commission_fixed_not_negative"
            ),
        ]

    def __str__(self) -> str:
        if self.kind == self.Kind.FIXED:
            return f"{self.fixed_amount / 100:.2f} per item"
        return f"{self.rate_bp / 100:.2f}%"


class CommissionEntry(BrandScoped):
    """Append-only: a sale credits; a refund, or the order's cancellation, writes the reversing entry."""

    class Kind(models.TextChoices):
        SALE = "sale", _("銷售")
        REVERSAL = "reversal", _("退貨扣回")
        CANCELLATION = "cancel", _("取消扣回")

    clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="commission_entries"
    )
    order = models.ForeignKey("commerce.Order", on_delete=models.CASCADE, related_name="+")
    refund = models.ForeignKey(
        "commerce.Refund", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    kind = models.CharField(max_length=10, choices=Kind.choices)
    basis = models.BigIntegerField(help_text="attributed sales amount, minor units")
    amount = models.BigIntegerField(help_text="commission, minor units")
    month = models.DateField(help_text="first day of the month it counts in")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["order", "clerk"], condition=models.Q(kind="sale"), name="commission_sale_once"
            ),
            models.UniqueConstraint(
                fields=["refund", "clerk"],
                condition=models.Q(refund__isnull=False),
                name="commission_reversal_once",
            ),
            # A cancelled order is reversed once per clerk, however often the event arrives.
            models.UniqueConstraint(
                fields=["order", "clerk"], condition=models.Q(kind="cancel"), name="commission_cancel_once"
            ),
        ]
        indexes = [models.Index(fields=["brand", "clerk", "month"], name="commission_statement")]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount}"
