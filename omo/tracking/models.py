"""Tracking sources (write keys) and the events they deliver."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.core.models import BrandScoped, HashedKey


class TrackingSourceKind(models.TextChoices):
    """`TrackingSource.Kind`; named on its own so the API's documents tell it from other `Kind`s."""

    WEB = "web", _("網站（瀏覽器）")
    SERVER = "server", _("伺服器")
    POS = "pos", _("POS")
    APP = "app", _("App")


class TrackingSource(HashedKey):
    """A Segment-style source. Only a SHA-256 of the write key is stored; the key is shown once.

    The built-in shop's own source has a derived key whose prefix starts with "s" (omo/shop/tracking.py);
    keys drawn at random have hexadecimal prefixes, so the two never collide."""

    Kind = TrackingSourceKind

    kind = models.CharField(_("類型"), max_length=10, choices=Kind.choices, default=Kind.WEB)

    @property
    def is_shop(self) -> bool:
        """The built-in shop's own source (made by the shop on first use, not by a person)."""
        return self.prefix.startswith("s")

    class Meta:
        verbose_name = _("追蹤來源")
        verbose_name_plural = _("追蹤來源")


class TrackedEvent(BrandScoped):
    """One Segment-spec message. `timestamp` is the skew-corrected time to query by."""

    class Type(models.TextChoices):
        TRACK = "track", "track"
        IDENTIFY = "identify", "identify"
        PAGE = "page", "page"
        SCREEN = "screen", "screen"
        GROUP = "group", "group"
        ALIAS = "alias", "alias"

    # None for events the server records itself (POS orders, chat messages, clicks, bindings...).
    source = models.ForeignKey(
        TrackingSource, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    type = models.CharField(max_length=10, choices=Type.choices)
    event = models.CharField(max_length=200, blank=True, help_text="track: event; page/screen: name")
    message_id = models.CharField(max_length=100)
    anonymous_id = models.CharField(max_length=255, blank=True)
    user_id = models.CharField(max_length=255, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    group_id = models.CharField(max_length=255, blank=True)
    previous_id = models.CharField(max_length=255, blank=True)
    properties = models.JSONField(default=dict, blank=True)
    traits = models.JSONField(default=dict, blank=True)
    context = models.JSONField(default=dict, blank=True)
    original_timestamp = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField()
    timestamp = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["brand", "message_id"], name="tracked_event_message_id_per_brand")
        ]
        indexes = [
            models.Index(fields=["brand", "customer", "timestamp"], name="tracked_event_by_customer"),
            models.Index(fields=["brand", "anonymous_id", "timestamp"], name="tracked_event_by_anonymous"),
            models.Index(fields=["brand", "type", "event", "timestamp"], name="tracked_event_by_event"),
        ]
        verbose_name = _("追蹤事件")
        verbose_name_plural = _("追蹤事件")

    def __str__(self) -> str:
        return f"{self.type} {self.event or self.message_id}"


class TrackingIntake(BrandScoped):
    """One tracking call as the edge received it, before its events are built and resolved.

    The ASGI edge (omo/tracking/edge.py) checks the write key, the limits and every message, and
    answers once this row is committed; a worker (`omo.tracking.tasks.process_intake`) turns the
    valid messages into TrackedEvent rows with identity resolution, many calls per transaction.
    Kept after processing for `receipt_retention_days`, like webhook receipts.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("待處理")
        PROCESSED = "processed", _("已處理")
        FAILED = "failed", _("失敗")

    source = models.ForeignKey(TrackingSource, on_delete=models.CASCADE, related_name="+")
    # "batch" for /v1/batch, else the single call's type (track, identify, page, ...)
    call = models.CharField(max_length=10)
    body = models.BinaryField(help_text="the JSON body, decompressed")
    # Indexes of messages the edge refused (and named in its answer); the worker skips them.
    rejected = models.JSONField(default=list, blank=True)
    received_at = models.DateTimeField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    events = models.PositiveIntegerField(default=0, help_text="events stored (duplicates not counted)")
    error = models.TextField(blank=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["status", "id"], name="tracking_intake_pending"),
            models.Index(fields=["brand", "received_at"], name="tracking_intake_by_brand"),
        ]
        verbose_name = _("追蹤接收紀錄")
        verbose_name_plural = _("追蹤接收紀錄")

    def __str__(self) -> str:
        return f"{self.call} {self.received_at:%Y-%m-%d %H:%M:%S}"
