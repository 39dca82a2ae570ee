"""Customers and their identifiers. Identity resolution builds on CustomerIdentity rows."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.core.models import BrandScoped


class Customer(BrandScoped):
    name = models.CharField(_("姓名"), max_length=120, blank=True)
    phone = models.CharField(_("手機"), max_length=20, blank=True, help_text="E.164, e.g. +886912345678")
    email = models.EmailField(_("Email"), blank=True)
    birthday = models.DateField(_("生日"), null=True, blank=True)
    member_number = models.CharField(_("會員編號"), max_length=40, blank=True)
    home_store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="home_customers"
    )
    tags = models.JSONField(_("標籤"), default=list, blank=True)
    notes = models.TextField(_("備註"), blank=True)
    # Set when this customer was merged into another (the survivor); kept so a split can restore it.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="+", verbose_name=_("已合併至")
    )
    # Set when the customer's personal data was erased on request (PDPA); the row stays for orders.
    erased_at = models.DateTimeField(_("個資刪除時間"), null=True, blank=True)
    # Lower-cased name, phone (E.164 and local), email, member number and chat display names, for
    # search (a trigram GIN index on PostgreSQL). Kept current by omo.customers.search.
    search_text = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "member_number"],
                condition=~models.Q(member_number=""),
                name="member_number_per_brand",
            )
        ]
        indexes = [
            models.Index(fields=["brand", "phone"], name="customer_phone"),
            models.Index(fields=["brand", "email"], name="customer_email"),
            models.Index(fields=["brand", "-created_at"], name="customer_recent"),
        ]
        ordering = ["-id"]
        verbose_name = _("顧客")
        verbose_name_plural = _("顧客")

    def __str__(self) -> str:
        return self.name or self.phone or self.email or f"#{self.pk}"


class CustomerIdentity(BrandScoped):
    """One identifier of a customer: (kind, value) is unique per brand."""

    class Kind(models.TextChoices):
        PHONE = "phone", _("手機")
        EMAIL = "email", "Email"
        MEMBER_NUMBER = "member_number", _("會員編號")
        LINE = "line", "LINE"
        MESSENGER = "messenger", "Messenger"
        INSTAGRAM = "instagram", "Instagram"
        WHATSAPP = "whatsapp", "WhatsApp"
        SHOPIFY = "shopify", "Shopify"
        ANONYMOUS = "anonymous", _("匿名訪客")
        USER_ID = "user_id", _("外部會員 ID")
        EXTERNAL = "external", _("外部系統 ID")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    value = models.CharField(max_length=255)
    verified = models.BooleanField(default=False)
    source = models.CharField(max_length=40, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "kind", "value"], name="identity_unique_per_brand")
        ]
        indexes = [models.Index(fields=["customer", "kind"], name="identity_by_customer")]
        verbose_name = _("顧客識別")
        verbose_name_plural = _("顧客識別")

    def __str__(self) -> str:
        return f"{self.kind}:{self.value}"


class CustomerSettings(models.Model):
    """Per-brand rules for identity resolution and data retention (defaults from DESIGN.md §5)."""

    brand = models.OneToOneField("core.Brand", on_delete=models.CASCADE, related_name="customer_settings")
    max_identifiers_per_kind = models.PositiveSmallIntegerField(
        _("每種識別最多幾個"), default=5, help_text=_("會員編號永遠只有一個")
    )
    # Kinds in the order that decides which customer an event belongs to when several match.
    identity_priority = models.JSONField(_("識別優先順序"), default=list, blank=True)
    # Values that never match, on top of the built-in junk list (null, 0, -1, undefined, ...).
    identity_deny_list = models.JSONField(_("不比對的值"), default=list, blank=True)
    event_retention_days = models.PositiveIntegerField(_("原始事件保留天數"), default=730)
    receipt_retention_days = models.PositiveIntegerField(_("Webhook 收據保留天數"), default=30)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("顧客設定")
        verbose_name_plural = _("顧客設定")

    def __str__(self) -> str:
        return f"customer settings of brand {self.brand_id}"


class CustomerMerge(BrandScoped):
    """One merge of `merged` into `survivor`: who, why, which identifier, and what moved (for a split)."""

    survivor = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    merged = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    automatic = models.BooleanField(default=False)
    reason = models.TextField(blank=True)
    trigger_kind = models.CharField(max_length=20, blank=True)
    trigger_value = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Everything the merge changed, enough to undo it exactly: moved row ids per table, the
    # merged customer's profile fields before, survivor fields overwritten, binding settlement.
    snapshot = models.JSONField(default=dict)
    binding_resolution = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    split_at = models.DateTimeField(null=True, blank=True)
    split_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["brand", "-created_at"], name="merge_recent"),
            models.Index(fields=["survivor"], name="merge_by_survivor"),
            models.Index(fields=["merged"], name="merge_by_merged"),
        ]
        verbose_name = _("顧客合併")
        verbose_name_plural = _("顧客合併")


class MergeSuggestion(BrandScoped):
    """Two customers that share an identifier but may not be merged automatically; HQ decides."""

    class Status(models.TextChoices):
        OPEN = "open", _("待處理")
        MERGED = "merged", _("已合併")
        DISMISSED = "dismissed", _("不合併")

    customer_a = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    customer_b = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=20)
    value = models.CharField(max_length=255)
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    merge = models.ForeignKey(
        CustomerMerge, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "customer_a", "customer_b"],
                condition=models.Q(status="open"),
                name="one_open_suggestion_per_pair",
            )
        ]
        indexes = [models.Index(fields=["brand", "status", "-created_at"], name="suggestion_queue")]
        verbose_name = _("合併建議")
        verbose_name_plural = _("合併建議")


class Consent(BrandScoped):
    """One consent decision (append-only): the latest row per customer × platform × purpose holds."""

    class Platform(models.TextChoices):
        LINE = "line", "LINE"
        MESSENGER = "messenger", "Messenger"
        INSTAGRAM = "instagram", "Instagram"
        WHATSAPP = "whatsapp", "WhatsApp"
        SMS = "sms", _("簡訊")
        EMAIL = "email", "Email"

    class Purpose(models.TextChoices):
        MARKETING = "marketing", _("行銷")
        TRANSACTIONAL = "transactional", _("交易通知")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="consents")
    platform = models.CharField(max_length=20, choices=Platform.choices)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    granted = models.BooleanField()
    source = models.CharField(
        max_length=60, help_text="e.g. line.follow, line.unfollow, chat.opt_out, console, api"
    )
    note = models.CharField(max_length=255, blank=True)
    recorded_at = models.DateTimeField()
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["customer", "platform", "purpose", "-recorded_at"], name="consent_latest"),
        ]
        verbose_name = _("同意紀錄")
        verbose_name_plural = _("同意紀錄")
