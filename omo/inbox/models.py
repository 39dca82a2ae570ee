"""Inboxes (connected accounts), platform contacts, conversations, messages, routing data.

Designed for every platform; LINE is the first adapter. Platform credentials are encrypted.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from omo.core.crypto import EncryptedJSONField
from omo.core.models import BrandScoped


class Platform(models.TextChoices):
    LINE = "line", "LINE"
    MESSENGER = "messenger", "Messenger"
    INSTAGRAM = "instagram", "Instagram"
    WHATSAPP = "whatsapp", "WhatsApp"
    WEBCHAT = "webchat", _("網站聊天")


class Inbox(BrandScoped):
    """One connected account on one platform, e.g. the brand's LINE official account.

    LINE: external_id = channel id, handle = basic id (@…), bot_user_id = webhook `destination`,
    secrets = {"channel_secret", "access_token"}, config = {"login_channel_id", "liff_id",
    "plan": {"included": 3000, "extra_price": 20}} (extra price in minor units per message).
    """

    platform = models.CharField(max_length=12, choices=Platform.choices)
    name = models.CharField(_("名稱"), max_length=120)
    external_id = models.CharField(max_length=64, blank=True)
    handle = models.CharField(max_length=64, blank=True)
    bot_user_id = models.CharField(max_length=64, blank=True)
    secrets = EncryptedJSONField(blank=True, default=dict)
    config = models.JSONField(default=dict, blank=True)
    is_active = models.BooleanField(default=True)
    quota_exhausted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("收件匣")
        verbose_name_plural = _("收件匣")

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.name}"


class WebhookReceipt(models.Model):
    """A platform event as received, unique per platform event id: redeliveries are no-ops."""

    class Status(models.TextChoices):
        PENDING = "pending", _("待處理")
        PROCESSED = "processed", _("已處理")
        IGNORED = "ignored", _("略過")
        FAILED = "failed", _("失敗")

    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="receipts")
    event_id = models.CharField(max_length=80)
    event_type = models.CharField(max_length=40)
    occurred_at = models.DateTimeField(null=True, blank=True)
    payload = models.JSONField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True)
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["inbox", "event_id"], name="receipt_once_per_event")]
        indexes = [models.Index(fields=["status", "id"], name="receipt_pending")]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class WebhookIntake(models.Model):
    """A webhook request stored whole by the edge while a processing task already waits (busy times).

    One row per request instead of one per event: the edge's transaction stays small. The waiting
    `process_receipts` task splits it into WebhookReceipts (one per event id, a redelivery is a
    no-op) and deletes it before it processes any receipt (omo/platforms/tasks.py). No database
    foreign key and no index but the primary key (nothing else to maintain per insert); deleting
    an inbox deletes its intakes through Django.
    """

    id = models.BigAutoField(primary_key=True)
    inbox = models.ForeignKey(
        Inbox, on_delete=models.CASCADE, db_constraint=False, db_index=False, related_name="+"
    )
    body = models.BinaryField()
    received_at = models.DateTimeField()
    # Quarantine: a request that cannot be split into receipts is set aside with the reason (a
    # sentence) instead of blocking the inbox; people retry or discard it (omo/platforms/quarantine.py).
    # Database defaults: the edge's INSERT names only the three columns above.
    failed_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True, db_default="")

    def __str__(self) -> str:
        return f"intake {self.pk} of inbox {self.inbox_id}"


class Contact(BrandScoped):
    """A person as one inbox knows them (LINE user id, PSID…), linked to our Customer."""

    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="contacts")
    external_user_id = models.CharField(max_length=80)
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="contacts")
    display_name = models.CharField(max_length=120, blank=True)
    picture_url = models.URLField(max_length=1000, blank=True)
    language = models.CharField(max_length=10, blank=True)
    is_follower = models.BooleanField(default=False)
    blocked_at = models.DateTimeField(null=True, blank=True)
    followed_at = models.DateTimeField(null=True, blank=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    profile_fetched_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inbox", "external_user_id"], name="contact_once_per_inbox")
        ]

    def __str__(self) -> str:
        return self.display_name or self.external_user_id

    @property
    def reachable(self) -> bool:
        return self.blocked_at is None


class Conversation(BrandScoped):
    """One customer's thread on one inbox, routed to a clerk, a store team or HQ."""

    class Queue(models.TextChoices):
        CLERK = "clerk", _("綁定店員")
        STORE = "store", _("門市團隊")
        HQ = "hq", _("總部客服")

    class Status(models.TextChoices):
        OPEN = "open", _("處理中")
        RESOLVED = "resolved", _("已結案")

    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="conversations")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="conversations")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="conversations")
    queue = models.CharField(max_length=6, choices=Queue.choices, default=Queue.HQ)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="assigned_conversations",
    )
    store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    labels = models.JSONField(default=list, blank=True)
    unread_count = models.PositiveIntegerField(default=0)
    last_message_at = models.DateTimeField(null=True, blank=True)
    last_message_preview = models.CharField(max_length=200, blank=True)
    waiting_since = models.DateTimeField(null=True, blank=True, help_text="oldest unanswered inbound message")
    sla_due_at = models.DateTimeField(null=True, blank=True)
    reply_token = models.CharField(max_length=200, blank=True)
    reply_token_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inbox", "customer"], name="one_conversation_per_customer")
        ]
        indexes = [
            models.Index(fields=["brand", "assignee", "-last_message_at"], name="conv_by_assignee"),
            models.Index(fields=["brand", "queue", "store", "-last_message_at"], name="conv_by_queue"),
            models.Index(fields=["sla_due_at"], name="conv_sla_due"),
        ]

    def __str__(self) -> str:
        return f"conversation {self.pk}"


class Message(BrandScoped):
    class Direction(models.TextChoices):
        INBOUND = "in", _("顧客")
        OUTBOUND = "out", _("品牌")
        INTERNAL = "internal", _("內部")

    class Kind(models.TextChoices):
        TEXT = "text", _("文字")
        IMAGE = "image", _("圖片")
        VIDEO = "video", _("影片")
        AUDIO = "audio", _("語音")
        FILE = "file", _("檔案")
        LOCATION = "location", _("位置")
        STICKER = "sticker", _("貼圖")
        FLEX = "flex", _("商品卡片")
        POSTBACK = "postback", _("按鈕回應")
        NOTE = "note", _("內部備註")
        EVENT = "event", _("系統事件")

    class Status(models.TextChoices):
        RECEIVED = "received", _("已收到")
        QUEUED = "queued", _("傳送中")
        SENT = "sent", _("已送出")
        FAILED = "failed", _("傳送失敗")

    class SentVia(models.TextChoices):
        REPLY = "reply", _("回覆訊息（免費）")
        PUSH = "push", _("推播訊息（計費）")

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    kind = models.CharField(max_length=10, choices=Kind.choices)
    text = models.TextField(blank=True)
    payload = models.JSONField(default=dict, blank=True)
    attachment = models.FileField(upload_to="inbox/", blank=True)
    status = models.CharField(max_length=10, choices=Status.choices)
    failure_reason = models.CharField(max_length=300, blank=True)
    external_id = models.CharField(max_length=80, null=True, blank=True)
    sender = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_via = models.CharField(max_length=6, choices=SentVia.choices, blank=True)
    # The store an outgoing message counts for in the LINE cost meter, fixed when it is queued: the
    # sender's store then (a clerk who moves later keeps last month's pushes where they were), or
    # the conversation's store for a message without a sender (automations, binding answers).
    store = models.ForeignKey(
        "staff.Store", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    retry_key = models.UUIDField(null=True, blank=True)
    # The API's Idempotency-Key: the same key on the same conversation answers the first message.
    idempotency_key = models.CharField(max_length=120, blank=True, default="")
    attempts = models.PositiveSmallIntegerField(default=0)
    # Now by default; an inbound message gets its event time in the same INSERT (timeline order).
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    # Not a column: set on the inbound message omo.inbox.ingest.record_inbound_message returns,
    # False when the platform's message id was recorded already (a redelivery).
    is_new: bool

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["brand", "external_id"], name="message_external_id_once"),
            models.UniqueConstraint(
                fields=["conversation", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="message_idempotency_key_once",
            ),
        ]
        indexes = [models.Index(fields=["conversation", "created_at"], name="message_timeline")]

    def __str__(self) -> str:
        return f"{self.direction} {self.kind}"


class CannedReply(BrandScoped):
    """A saved answer; owner empty = brand-wide. Body may use {customer_name}, {clerk_name}, {store_name}."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    title = models.CharField(max_length=80)
    shortcut = models.CharField(max_length=30, blank=True)
    body = models.TextField(max_length=5000)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class InboxSettings(models.Model):
    """Per-brand routing settings."""

    brand = models.OneToOneField("core.Brand", on_delete=models.CASCADE, related_name="inbox_settings")
    sla_minutes = models.PositiveIntegerField(default=10)
    store_team_sees_clerk_customers = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"inbox settings {self.brand_id}"
