"""Stores, staff users with their role and scope, and the roster of their shifts."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.core.models import Brand, BrandScoped
from omo.staff.roles import ROLE_SCOPE, Role, role_allows


class Store(BrandScoped):
    """A physical shop. Opening hours: {"mon": [["10:00", "21:30"]], ..., "sun": []}."""

    code = models.CharField(_("門市代碼"), max_length=30)
    name = models.CharField(_("門市名稱"), max_length=120)
    name_en = models.CharField(max_length=120, blank=True)
    city = models.CharField(_("城市"), max_length=40, blank=True)
    address = models.CharField(_("地址"), max_length=250, blank=True)
    phone = models.CharField(_("電話"), max_length=30, blank=True)
    opening_hours = models.JSONField(_("營業時間"), default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["brand", "code"], name="store_code_per_brand")]
        ordering = ["code"]
        verbose_name = _("門市")
        verbose_name_plural = _("門市")

    def __str__(self) -> str:
        return self.name


class User(AbstractUser):
    """A person who signs in: HQ admin, HQ agent, store manager or clerk of one brand.

    Django superusers may have no brand; they use /admin/ only.
    """

    brand = models.ForeignKey(Brand, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    role = models.CharField(_("角色"), max_length=20, choices=Role.choices, default=Role.CLERK)
    store = models.ForeignKey(Store, null=True, blank=True, on_delete=models.SET_NULL, related_name="staff")
    display_name = models.CharField(_("顯示名稱"), max_length=80, blank=True)
    employee_code = models.CharField(_("員工編號"), max_length=40, blank=True)
    photo_url = models.URLField(blank=True)
    phone = models.CharField(max_length=30, blank=True)
    preferred_language = models.CharField(max_length=10, default="zh-hant")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "employee_code"],
                condition=~models.Q(employee_code=""),
                name="employee_code_per_brand",
            )
        ]
        verbose_name = _("員工")
        verbose_name_plural = _("員工")

    def __str__(self) -> str:
        return self.display_name or self.username

    @property
    def scope(self) -> str:
        return ROLE_SCOPE[self.role]

    def can(self, permission: str) -> bool:
        return self.brand_id is not None and self.is_active and role_allows(self.role, permission)


class Shift(BrandScoped):
    """A roster entry: this staff member is on duty at this store between these times."""

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="shifts")
    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="shifts")
    starts_at = models.DateTimeField()
    ends_at = models.DateTimeField()

    class Meta:
        db_table = "inbox_shift"  # the table kept its name when the roster moved here from inbox
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_at__gt=models.F("starts_at")), name="shift_ends_after_start"
            )
        ]
        indexes = [models.Index(fields=["staff", "starts_at"], name="shift_by_staff")]

    def __str__(self) -> str:
        return f"{self.staff_id} {self.starts_at:%Y-%m-%d %H:%M}"
