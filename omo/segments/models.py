"""Segments and the per-customer scores they can be built on.

Membership is materialised: `SegmentMember` rows carry the segment's version they belong to. A
refresh writes the rows of version n + 1, then in one transaction points the segment at n + 1 and
deletes the rows of version n; readers always filter on `segment.version`, so they see either the old
or the new membership, never a mix. Every refresh appends a `SegmentCount` (history of counts).

`CustomerScore` holds one row per customer: RFM (quintile scores, recency reversed, and the named
RFM segment) and the lifecycle groups of the ready-made segments. `ClvFit` is one fit of the BG/NBD
and Gamma-Gamma models on a brand's order history; `CustomerPrediction` the scores it gave each
customer.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from omo.core.models import BrandScoped


class Segment(BrandScoped):
    class Kind(models.TextChoices):
        RULE = "rule", _("條件分眾")
        STATIC = "static", _("名單分眾")
        READY_MADE = "ready_made", _("內建分眾")

    kind = models.CharField(_("類型"), max_length=12, choices=Kind.choices, default=Kind.RULE)
    # Ready-made segments have a stable key per brand ("rfm_champions", "dormant", ...); "" otherwise.
    key = models.CharField(max_length=40, blank=True, default="")
    name = models.CharField(_("名稱"), max_length=120)
    description = models.CharField(_("說明"), max_length=300, blank=True, default="")
    # The validated rule tree (omo.segments.rules); None for a static segment.
    rule = models.JSONField(null=True, blank=True)
    # The membership version readers see (SegmentMember.version); 0 before the first refresh.
    version = models.PositiveIntegerField(default=0)
    member_count = models.PositiveIntegerField(default=0)
    refreshed_at = models.DateTimeField(null=True, blank=True)
    # Set when something that can change the membership happened; cleared by the refresh.
    stale_since = models.DateTimeField(null=True, blank=True)
    # What made it stale first ("order", "tag", "binding", "tracking", "segment", "merge"): the
    # reason of the refresh that follows (SegmentCount.reason).
    stale_reason = models.CharField(max_length=20, blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["brand", "key"], condition=~models.Q(key=""), name="segment_key_per_brand"
            ),
        ]
        ordering = ["kind", "name", "id"]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="+")
    version = models.PositiveIntegerField()
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["segment", "version", "customer"], name="segment_member_key"),
        ]
        indexes = [models.Index(fields=["customer"], name="segment_member_customer")]

    def __str__(self) -> str:
        return f"segment {self.segment_id} v{self.version}: customer {self.customer_id}"


class SegmentCount(models.Model):
    """One refresh of a segment: the history of its size."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="counts")
    version = models.PositiveIntegerField()
    at = models.DateTimeField()
    members = models.PositiveIntegerField()
    added = models.PositiveIntegerField(default=0)
    removed = models.PositiveIntegerField(default=0)
    # Why it ran: "created", "edited", "order", "tracking", "tag", "binding", "daily", "csv", ...
    reason = models.CharField(max_length=20)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"segment {self.segment_id} v{self.version}: {self.members}"


class CustomerScore(BrandScoped):
    """RFM and the lifecycle groups of one customer, recomputed for the whole brand at once."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    orders = models.PositiveIntegerField(default=0)  # counted orders, all channels (frequency)
    spend = models.BigIntegerField(default=0)  # net spend, minor units (monetary)
    orders_12m = models.PositiveIntegerField(default=0)
    spend_12m = models.BigIntegerField(default=0)
    first_order_at = models.DateTimeField(null=True, blank=True)
    last_order_at = models.DateTimeField(null=True, blank=True)
    recency_days = models.PositiveIntegerField(null=True, blank=True)  # None: never ordered
    # Quintile scores 1-5 (recency reversed: 5 = most recent); 0 for a prospect (no order).
    r = models.PositiveSmallIntegerField(default=0)
    f = models.PositiveSmallIntegerField(default=0)
    m = models.PositiveSmallIntegerField(default=0)
    # One of omo.segments.rfm's ten named segments ("champions", ...), or "prospect".
    rfm_segment = models.CharField(max_length=24, default="prospect")
    value_group = models.CharField(max_length=12, default="potential")  # loyal / general / potential
    activity = models.CharField(max_length=12, default="prospect")  # active / dormant / prospect
    channel_mix = models.CharField(max_length=12, default="none")  # omo / online / store / none
    top20 = models.BooleanField(default=False)  # in the top 20% by 12-month spend
    computed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["brand", "rfm_segment"], name="score_rfm_segment"),
            models.Index(fields=["brand", "r", "f", "m"], name="score_rfm_cell"),
        ]

    def __str__(self) -> str:
        return f"customer {self.customer_id}: R{self.r}F{self.f}M{self.m} {self.rfm_segment}"


class ClvFit(BrandScoped):
    """One fit of BG/NBD (purchase count) and Gamma-Gamma (spend per order) on a brand's history."""

    fitted_at = models.DateTimeField()
    calibration_end = models.DateField()
    time_unit = models.CharField(max_length=8, default="day")  # "day" or "week"
    customers = models.PositiveIntegerField()
    repeat_customers = models.PositiveIntegerField()
    # {"bgnbd": {"r", "alpha", "a", "b", "log_likelihood"}, "gamma_gamma": {"p", "q", "gamma"}}
    params = models.JSONField(default=dict)
    # False when the history is too short or too small to show predictions (the reason says why).
    enough_history = models.BooleanField(default=False)
    reason = models.CharField(max_length=200, blank=True, default="")

    class Meta:
        ordering = ["-fitted_at", "-id"]

    def __str__(self) -> str:
        return f"CLV fit of brand {self.brand_id} at {self.fitted_at:%Y-%m-%d}"


class CustomerPrediction(BrandScoped):
    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    fit = models.ForeignKey(ClvFit, on_delete=models.CASCADE, related_name="+")
    p_alive = models.FloatField()
    expected_orders_30d = models.FloatField()
    expected_orders_90d = models.FloatField()
    expected_orders_365d = models.FloatField()
    expected_spend_365d = models.BigIntegerField()  # minor units
    fitted_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"customer {self.customer_id}: p_alive {self.p_alive:.2f}"


class ScoreRun(models.Model):
    """The last whole-brand score run (omo.segments.scores): what one customer's update after an
    order reuses (thresholds, repurchase interval) and what the groups page shows."""

    brand = models.OneToOneField("core.Brand", on_delete=models.CASCADE, primary_key=True, related_name="+")
    computed_at = models.DateTimeField(null=True, blank=True)  # None: asked for, never run
    # Days without an order after which a buyer is dormant: measured, or the default.
    repurchase_days = models.PositiveIntegerField(default=90)
    repurchase_measured = models.BooleanField(default=False)
    repurchase_gaps = models.PositiveIntegerField(default=0)  # gaps the measurement saw
    # {"r": [4 recency-day cut points], "f": [4 order counts], "m": [4 minor-unit amounts],
    #  "top20": minor units of 12-month spend or None}
    thresholds = models.JSONField(default=dict)
    # customers, buyers, per group and named RFM segment
    counts = models.JSONField(default=dict)
    seconds = models.FloatField(default=0)
    # An on-demand run was queued then (cleared when a run starts); repeats meanwhile are no-ops.
    requested_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"scores of brand {self.brand_id} at {self.computed_at}"
