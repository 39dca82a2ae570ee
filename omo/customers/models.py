"""Customers and their identifiers. Identity resolution builds on CustomerIdentity rows."""

from __future__ import annotations

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
