"""Tenancy (Brand), API keys, the audit log, the worker heartbeat and the follow-ups owed to durable subscribers."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Brand(models.Model):
    """A tenant: one retail company. Every business row carries brand_id."""

    name = models.CharField(_("名稱"), max_length=120)
    slug = models.SlugField(max_length=60, unique=True)
    currency = models.CharField(max_length=3, default="TWD")
    country = models.CharField(max_length=2, default="TW", help_text="default region for phone numbers")
    time_zone = models.CharField(max_length=64, default="Asia/Taipei")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("品牌")
        verbose_name_plural = _("品牌")

    def __str__(self) -> str:
        return self.name


class BrandScoped(models.Model):
    """Abstract base for every row that belongs to a brand."""

    brand = models.ForeignKey(Brand, on_delete=models.CASCADE, related_name="+")

    class Meta:
        abstract = True


class HashedKey(BrandScoped):
    """Abstract base for a brand's secret keys (API keys, tracking write keys): the secret is shown
    once; only its SHA-256 is stored, found by a public prefix; revocable. See omo.core.apikeys."""

    name = models.CharField(max_length=120)
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None


class ApiKey(HashedKey):
    """A brand's key for `Authorization: Bearer`. Only a SHA-256 of the secret is stored."""

    role = models.CharField(max_length=20, default="hq_admin")
    # A store manager's key works for one store; a clerk's key acts as that clerk (own customers
    # and sales). Both fail closed: if the store or clerk goes away the key sees nothing.
    store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("API 金鑰")
        verbose_name_plural = _("API 金鑰")


class AuditLog(BrandScoped):
    """Who did what to which object, when and from where. Written by omo.core.audit.record."""

    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_api_key = models.ForeignKey(
        ApiKey, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=80)
    target_type = models.CharField(max_length=60, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "-created_at"], name="audit_brand_time")]
        verbose_name = _("稽核紀錄")
        verbose_name_plural = _("稽核紀錄")

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label} {self.action}"


class WorkerHeartbeat(models.Model):
    """Each `omo worker` process writes its heartbeat here; /healthz reads it."""

    worker_id = models.CharField(max_length=100, unique=True)
    hostname = models.CharField(max_length=200)
    pid = models.IntegerField()
    started_at = models.DateTimeField()
    last_seen_at = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return self.worker_id


class ImportKind(models.TextChoices):
    """`ImportJob.Kind`; named on its own so the API's documents tell it from a coupon's `Kind`."""

    PRODUCTS = "products", _("商品")
    STOCK = "stock", _("庫存")
    CUSTOMERS = "customers", _("顧客")
    ORDERS = "orders", _("訂單")


class ImportJob(BrandScoped):
    """A CSV import: its rows are checked, then applied (all valid rows, or none if any fails)."""

    Kind = ImportKind

    class Mode(models.TextChoices):
        VALID_ROWS = "valid_rows", _("匯入正確的列，回報錯誤列")
        ALL_OR_NOTHING = "all_or_nothing", _("任何一列有錯就全部不匯入")

    class Status(models.TextChoices):
        QUEUED = "queued", _("排隊中")
        RUNNING = "running", _("匯入中")
        DONE = "done", _("完成")
        REJECTED = "rejected", _("未匯入（有錯誤）")
        FAILED = "failed", _("失敗")

    kind = models.CharField(max_length=12, choices=Kind.choices)
    mode = models.CharField(max_length=16, choices=Mode.choices, default=Mode.VALID_ROWS)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    filename = models.CharField(max_length=250, blank=True)
    content = models.TextField(help_text="the uploaded CSV, decoded to text")
    total_rows = models.PositiveIntegerField(default=0)
    processed_rows = models.PositiveIntegerField(default=0)
    applied_rows = models.PositiveIntegerField(default=0)
    error_rows = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text='[{"row": 3, "field": "price", "error": "..."}]'
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.kind} import #{self.pk}"

    @property
    def progress_percent(self) -> int:
        return int(100 * self.processed_rows / self.total_rows) if self.total_rows else 0


class PeriodicRun(models.Model):
    """When a periodic job was last enqueued; the conditional UPDATE on it lets many workers share
    one schedule without enqueuing a job twice."""

    name = models.CharField(max_length=100, unique=True)
    last_enqueued_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class FollowUp(BrandScoped):
    """A delivery owed to a durable subscriber of a domain event (omo.core.events), written in the
    event's own transaction and deleted in the subscriber's: a row that exists is work not yet
    done. One row per event and subscriber, so each subscriber's done-mark commits with its own
    writes and one failing subscriber is retried alone."""

    event = models.CharField(max_length=60)
    subscriber = models.CharField(max_length=100)
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField()
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["next_attempt_at", "id"], name="core_followup_due")]

    def __str__(self) -> str:
        return f"{self.event} → {self.subscriber} #{self.pk}"
