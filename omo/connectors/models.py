"""Shopify connections, the webhooks they deliver, what we last applied per Shopify record, and the
privacy requests Shopify forwards (customers/data_request, customers/redact, shop/redact).

Credentials (Admin API access token, webhook signing secret) are Fernet-encrypted at rest, like an
Inbox's LINE secrets.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.commerce.models import SalesChannel
from omo.core.crypto import EncryptedJSONField
from omo.core.models import BrandScoped

DEFAULT_API_VERSION = "2025-07"
DEFAULT_SYNC_INTERVAL_HOURS = 24
MAX_SYNC_INTERVAL_HOURS = 168


class ShopifyConnection(BrandScoped):
    """One Shopify store of a brand. secrets = {"access_token", "webhook_secret"}."""

    class SyncStatus(models.TextChoices):
        NEVER = "never", _("尚未同步")
        QUEUED = "queued", _("排隊中")
        RUNNING = "running", _("同步中")
        DONE = "done", _("完成")
        FAILED = "failed", _("失敗")

    name = models.CharField(_("名稱"), max_length=120)
    shop_domain = models.CharField(_("商店網域"), max_length=255, help_text="e.g. herb.myshopify.com")
    secrets = EncryptedJSONField(blank=True, default=dict)
    api_version = models.CharField(_("API 版本"), max_length=7, default=DEFAULT_API_VERSION)
    sales_channel = models.CharField(
        _("訂單銷售通路"), max_length=20, choices=SalesChannel.choices, default=SalesChannel.EXTERNAL_WEB
    )
    # Empty: OMO_SHOPIFY_API_BASE or https://{shop_domain}. Set for a stand-in or a proxy.
    api_base = models.CharField(_("API 位址（選填）"), max_length=300, blank=True)
    is_active = models.BooleanField(_("啟用"), default=True)
    # Set by the app/uninstalled webhook (Shopify's time): the store removed our app, so its token no
    # longer works. Data is kept; HQ entering a new access token reinstalls (clears this).
    uninstalled_at = models.DateTimeField(_("解除安裝時間"), null=True, blank=True)
    # Scheduled product sync (omo.core.schedule → connectors.sync_due_products); 0 = only on demand.
    sync_interval_hours = models.PositiveSmallIntegerField(
        _("自動同步間隔（小時）"), default=DEFAULT_SYNC_INTERVAL_HOURS
    )
    sync_status = models.CharField(max_length=8, choices=SyncStatus.choices, default=SyncStatus.NEVER)
    sync_error = models.TextField(blank=True)
    # When the current sync was queued or started: a queued/running sync older than
    # services.SYNC_STALE_AFTER is taken as lost (dead worker) and may be started again.
    sync_started_at = models.DateTimeField(null=True, blank=True)
    last_synced_at = models.DateTimeField(null=True, blank=True)
    last_sync_counts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "shop_domain"], name="shopify_shop_once_per_brand")
        ]
        ordering = ["id"]
        verbose_name = _("Shopify 連線")
        verbose_name_plural = _("Shopify 連線")

    def __str__(self) -> str:
        return f"{self.name} ({self.shop_domain})"

    @property
    def is_uninstalled(self) -> bool:
        return self.uninstalled_at is not None


class ShopifyWebhook(BrandScoped):
    """One delivery as received. Unique per delivery id, and per (topic, event id): redeliveries and
    the copies of one event sent to several subscriptions are no-ops."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待處理")
        WAITING = "waiting", _("等待訂單")
        PROCESSED = "processed", _("已處理")
        IGNORED = "ignored", _("略過")
        FAILED = "failed", _("失敗")

    connection = models.ForeignKey(ShopifyConnection, on_delete=models.CASCADE, related_name="webhooks")
    webhook_id = models.CharField(max_length=100)
    event_id = models.CharField(max_length=100, blank=True)
    topic = models.CharField(max_length=60)
    api_version = models.CharField(max_length=20, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True)
    # The Shopify id of the order a topic concerns (orders/*, refunds/create), so a refund that
    # arrives before its order can wait for it.
    order_ref = models.CharField(max_length=40, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    note = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "webhook_id"], name="shopify_webhook_once"),
            models.UniqueConstraint(
                fields=["connection", "topic", "event_id"],
                condition=~models.Q(event_id=""),
                name="shopify_event_once_per_topic",
            ),
        ]
        indexes = [
            models.Index(fields=["connection", "status", "id"], name="shopify_webhook_pending"),
            models.Index(fields=["connection", "order_ref"], name="shopify_webhook_order"),
        ]
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.topic} {self.webhook_id}"


class ShopifyRecord(BrandScoped):
    """What we last applied for one Shopify order, customer or product: its `updated_at`, so an
    older delivery that arrives late never overwrites a newer one, and the local row it maps to."""

    class Kind(models.TextChoices):
        ORDER = "order", _("訂單")
        CUSTOMER = "customer", _("顧客")
        PRODUCT = "product", _("商品")

    connection = models.ForeignKey(ShopifyConnection, on_delete=models.CASCADE, related_name="records")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    shopify_id = models.CharField(max_length=40)
    updated_at = models.DateTimeField(null=True, blank=True)
    local_id = models.BigIntegerField(null=True, blank=True)
    # Orders: Shopify line item ids in the order our OrderLines were created (refund lines map by them).
    extra = models.JSONField(default=dict, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["connection", "kind", "shopify_id"], name="shopify_record_once")
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.shopify_id}"


class PrivacyRequest(BrandScoped):
    """A mandatory compliance webhook, kept for HQ: what was asked and what we did about it."""

    class Kind(models.TextChoices):
        DATA_REQUEST = "customers/data_request", _("顧客資料查詢")
        CUSTOMER_REDACT = "customers/redact", _("刪除顧客個資")
        SHOP_REDACT = "shop/redact", _("刪除商店資料")

    class Status(models.TextChoices):
        OPEN = "open", _("待總部處理")
        DONE = "done", _("已處理")

    connection = models.ForeignKey(
        ShopifyConnection, on_delete=models.CASCADE, related_name="privacy_requests"
    )
    webhook = models.OneToOneField(ShopifyWebhook, on_delete=models.CASCADE, related_name="privacy_request")
    kind = models.CharField(max_length=30, choices=Kind.choices)
    shopify_customer_id = models.CharField(max_length=40, blank=True)
    email = models.CharField(max_length=254, blank=True)
    phone = models.CharField(max_length=40, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=6, choices=Status.choices, default=Status.OPEN)
    outcome = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name = _("Shopify 個資請求")
        verbose_name_plural = _("Shopify 個資請求")

    def __str__(self) -> str:
        return f"{self.kind} {self.shopify_customer_id or self.connection.shop_domain}"
