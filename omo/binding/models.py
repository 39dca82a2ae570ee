"""Clerk codes and the 1:1 binding of a customer to a clerk, with full history."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.core.models import BrandScoped


class ClerkCode(BrandScoped):
    """A clerk's stable, unguessable code behind the QR and the /b/<code> link."""

    clerk = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="clerk_code"
    )
    code = models.CharField(max_length=24, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.code


class BindingPolicy(models.Model):
    class Rule(models.TextChoices):
        FIRST_KEEPS = "first_keeps", _("先綁定者保留")
        LATEST_WINS = "latest_wins", _("最後掃碼者取得")
        LOCKED_DAYS = "locked_days", _("鎖定 N 天後可改綁")

    brand = models.OneToOneField("core.Brand", on_delete=models.CASCADE, related_name="binding_policy")
    rule = models.CharField(max_length=12, choices=Rule.choices, default=Rule.FIRST_KEEPS)
    lock_days = models.PositiveIntegerField(default=90)

    def __str__(self) -> str:
        return self.rule


class Binding(BrandScoped):
    """Customer ↔ clerk from started_at until ended_at. At most one open binding per customer."""

    class Source(models.TextChoices):
        LIFF = "liff", _("LIFF 掃碼")
        MESSAGE_CODE = "message_code", _("預填訊息代碼")
        TRANSFER = "transfer", _("轉移綁定")
        RECOVERY = "recovery", _("顧客確認綁定")
        MANUAL = "manual", _("手動")
        MERGE = "merge", _("顧客合併")

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="bindings")
    clerk = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bindings")
    store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    source = models.CharField(max_length=14, choices=Source.choices)
    started_at = models.DateTimeField()
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_reason = models.CharField(max_length=120, blank=True)
    transfer = models.ForeignKey(
        "Transfer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=models.Q(ended_at__isnull=True),
                name="one_open_binding_per_customer",
            )
        ]
        indexes = [
            models.Index(fields=["clerk", "ended_at"], name="binding_by_clerk"),
            models.Index(fields=["customer", "started_at"], name="binding_history"),
        ]
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.customer_id}→{self.clerk_id}"


class Transfer(BrandScoped):
    """A move of one or all of a clerk's customers to another clerk, spread over a store's clerks, or
    to the store team; undoable for 30 days."""

    class Mode(models.TextChoices):
        CLERK = "clerk", _("轉給一位店員")
        SPREAD = "spread", _("平均分配給門市店員")
        STORE = "store", _("交給門市團隊")

    mode = models.CharField(max_length=8, choices=Mode.choices, default=Mode.CLERK)
    from_clerk = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    to_clerk = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    to_store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    moved_bindings = models.JSONField(default=list, help_text="[[old binding id, new binding id or null]]")
    reason = models.CharField(max_length=200, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    undo_until = models.DateTimeField()
    undone_at = models.DateTimeField(null=True, blank=True)
    notified = models.PositiveIntegerField(default=0, help_text="customers told of their new clerk in chat")

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"transfer {self.pk}"

    @property
    def customer_count(self) -> int:
        return len(self.moved_bindings or [])


class RecoveryRequest(BrandScoped):
    """A clerk asked a customer (found by phone) to confirm the binding; made only on the customer's tap."""

    class Status(models.TextChoices):
        PENDING = "pending", _("等待顧客確認")
        CONFIRMED = "confirmed", _("已確認")
        DECLINED = "declined", _("已拒絕")
        EXPIRED = "expired", _("已過期")

    clerk = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    token = models.CharField(max_length=40, unique=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    answered_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"recovery {self.pk}"
