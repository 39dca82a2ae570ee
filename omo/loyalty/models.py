"""Loyalty: an append-only points ledger with a balance row, tiers and coupons."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.core.models import Brand, BrandScoped


class LoyaltyProgram(models.Model):
    """A brand's rules. Default: 1 point per NT$100 paid, 1 point = NT$1, points live 12 months."""

    brand = models.OneToOneField(Brand, on_delete=models.CASCADE, related_name="loyalty_program")
    earn_points = models.PositiveIntegerField(default=1)
    earn_per_amount = models.PositiveBigIntegerField(default=10000, help_text="minor units per earn_points")
    point_value = models.PositiveIntegerField(default=100, help_text="minor units one point is worth")
    max_redeem_percent = models.PositiveSmallIntegerField(default=50, help_text="of the order subtotal")
    expiry_months = models.PositiveSmallIntegerField(default=12, help_text="0 = points never expire")
    tier_window_days = models.PositiveSmallIntegerField(default=365)

    def __str__(self) -> str:
        return f"loyalty of {self.brand_id}"


class Tier(BrandScoped):
    name = models.CharField(_("會員等級"), max_length=40)
    name_en = models.CharField(max_length=40, blank=True)
    threshold = models.BigIntegerField(_("門檻（近 12 個月消費）"), help_text="minor units")
    earn_multiplier_percent = models.PositiveIntegerField(default=100)

    class Meta:
        ordering = ["threshold"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "threshold"], name="tier_threshold_per_brand")
        ]

    def __str__(self) -> str:
        return self.name


class LoyaltyAccount(BrandScoped):
    """The running balance; changed only together with a PointsEntry in one transaction."""

    customer = models.OneToOneField("customers.Customer", on_delete=models.CASCADE, related_name="loyalty")
    balance = models.BigIntegerField(default=0)
    lifetime_earned = models.BigIntegerField(default=0)
    tier = models.ForeignKey(Tier, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    rolling_spend = models.BigIntegerField(default=0)
    tier_updated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(balance__gte=0), name="points_never_overdrawn")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.balance}"


class PointsEntry(BrandScoped):
    class Kind(models.TextChoices):
        EARN = "earn", _("消費回饋")
        REDEEM = "redeem", _("折抵")
        EXPIRE = "expire", _("到期")
        ADJUST = "adjust", _("手動調整")
        REVERSE = "reverse", _("退款扣回")
        RESTORE = "restore", _("取消退回")

    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="points_entries"
    )
    delta = models.BigIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    order = models.ForeignKey(
        "commerce.Order", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=250, blank=True)
    idempotency_key = models.CharField(max_length=120, null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Points spent or given back at a store's till: the store and the till's API key (the staff
    # member at the till, when the POS names one, is `actor`).
    store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    api_key = models.ForeignKey(
        "core.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "idempotency_key"], name="points_entry_once"),
            models.CheckConstraint(condition=~models.Q(delta=0), name="points_entry_not_zero"),
        ]
        indexes = [models.Index(fields=["customer", "created_at"], name="points_by_customer")]

    def __str__(self) -> str:
        return f"{self.kind} {self.delta:+}"


class Coupon(BrandScoped):
    """What a coupon gives. Codes that customers type live in CouponCode."""

    class Kind(models.TextChoices):
        AMOUNT_OFF = "amount_off", _("折抵金額")
        PERCENT_OFF = "percent_off", _("折扣百分比")
        FREE_SHIPPING = "free_shipping", _("免運費")

    name = models.CharField(_("優惠券名稱"), max_length=120)
    kind = models.CharField(max_length=15, choices=Kind.choices)
    value = models.BigIntegerField(default=0, help_text="minor units (amount_off) or percent (percent_off)")
    min_spend = models.BigIntegerField(default=0)
    starts_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(value__gte=0), name="coupon_value_not_negative"),
            models.CheckConstraint(
                condition=~models.Q(kind="percent_off") | models.Q(value__lte=100),
                name="coupon_percent_max_100",
            ),
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return self.name


class CouponCode(BrandScoped):
    """A code: single-use and issued to one customer, or shared with a redemption cap."""

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="codes")
    code = models.CharField(max_length=60)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.CASCADE, related_name="coupon_codes"
    )
    max_uses = models.PositiveIntegerField(null=True, blank=True, help_text="empty = no cap")
    times_used = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "code"], name="coupon_code_per_brand"),
            models.CheckConstraint(
                condition=models.Q(max_uses__isnull=True) | models.Q(times_used__lte=models.F("max_uses")),
                name="coupon_code_within_cap",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class CouponRedemption(BrandScoped):
    """One use of a code: on an order (web shop, checkout) or at a store's till, where the POS redeems
    it under its own sale id (`transaction_id`) before the sale reaches omo as an order, which is
    then linked by that id. A voided till sale reverses it (`reversed_at`): the use is given back."""

    code = models.ForeignKey(CouponCode, on_delete=models.CASCADE, related_name="redemptions")
    order = models.OneToOneField(
        "commerce.Order",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="coupon_redemption",
    )
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    amount = models.BigIntegerField(default=0)
    # Nullable rather than blank: the demo seed streams rows without these columns.
    transaction_id = models.CharField(
        max_length=120, null=True, blank=True, help_text="the POS sale's id (Idempotency-Key)"
    )
    store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # At a till: the till's API key and the staff member at the till, when the POS names one.
    api_key = models.ForeignKey(
        "core.ApiKey", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reversed_at = models.DateTimeField(null=True, blank=True)
    reverse_reason = models.CharField(max_length=250, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "transaction_id"],
                condition=models.Q(transaction_id__isnull=False),
                name="coupon_once_per_till_sale",
            )
        ]

    def __str__(self) -> str:
        return f"{self.code_id} on {self.order_id or self.transaction_id}"
