"""Outgoing webhooks: a brand's endpoints and the outbox of deliveries to them.

A WebhookEndpoint is a URL an integrator gave us, the topics it wants and a signing secret we made
(stored encrypted, shown once). A WebhookDelivery is one event for one endpoint: written when the
event happens (the outbox), then sent, retried and finally delivered or failed by a task.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.core.models import BrandScoped


class WebhookEndpoint(BrandScoped):
    url = models.URLField(_("網址"), max_length=500)
    description = models.CharField(_("說明"), max_length=200, blank=True)
    topics = models.JSONField(_("訂閱事件"), default=list)
    # Fernet ciphertext (omo.core.crypto); the clear secret is shown once when made or rotated.
    secret_encrypted = models.TextField()
    secret_hint = models.CharField(
        max_length=16, help_text="the secret's first characters, to tell secrets apart"
    )
    # After a rotation the old secret also signs until this moment, so receivers can switch over.
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    secret_rotated_at = models.DateTimeField(null=True, blank=True)
    is_active = models.BooleanField(default=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_reason = models.CharField(max_length=300, blank=True)
    paused_automatically = models.BooleanField(default=False)
    consecutive_failures = models.PositiveIntegerField(default=0)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_failure_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["brand", "is_active"], name="webhook_endpoint_active")]
        verbose_name = _("Webhook 端點")
        verbose_name_plural = _("Webhook 端點")

    def __str__(self) -> str:
        return self.url


class WebhookDelivery(BrandScoped):
    class Status(models.TextChoices):
        PENDING = "pending", _("等待傳送")
        SENDING = "sending", _("傳送中")
        DELIVERED = "delivered", _("已送達")
        FAILED = "failed", _("失敗")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    # The event's id: the same for every attempt and every endpoint that receives the event, and
    # derived from the domain row (order, merge, binding), so a repeated publication is one event.
    event_id = models.CharField(max_length=40)
    topic = models.CharField(max_length=60)
    body = models.TextField(help_text="the exact JSON sent, byte for byte the same on every attempt")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.CharField(max_length=500, blank=True)
    error = models.CharField(max_length=300, blank=True)
    duration_ms = models.PositiveIntegerField(null=True, blank=True)
    # One entry per attempt: {"at", "status", "error", "duration_ms"} (the latest 20).
    history = models.JSONField(default=list, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    failed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "event_id"], name="webhook_delivery_once_per_event")
        ]
        indexes = [
            models.Index(fields=["endpoint", "-created_at"], name="webhook_delivery_log"),
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]
        verbose_name = _("Webhook 傳送紀錄")
        verbose_name_plural = _("Webhook 傳送紀錄")

    def __str__(self) -> str:
        return f"{self.topic} {self.event_id} → {self.endpoint_id}"
