"""Nightly loyalty upkeep: expire points, move tiers as the 12-month window rolls."""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from django_tasks import task

from omo.core.models import Brand
from omo.loyalty import services, spend
from omo.loyalty.models import LoyaltyAccount, Tier


def recompute_all_tiers(brand: Brand, *, now: dt.datetime | None = None) -> int:
    """Rolling spend and tier for every account of the brand, in set-based UPDATEs. Returns changes."""
    now = now or timezone.now()
    program = services.program_for(brand)
    since = now - dt.timedelta(days=program.tier_window_days)
    spent = spend.spend_since(since).filter(customer_id=OuterRef("customer_id")).values("spend")
    with transaction.atomic():
        LoyaltyAccount.objects.filter(brand=brand).update(rolling_spend=Coalesce(Subquery(spent), 0))
        changed = 0
        tiers = list(Tier.objects.filter(brand=brand).order_by("threshold"))
        for index, tier in enumerate(tiers):
            upper = tiers[index + 1].threshold if index + 1 < len(tiers) else None
            accounts = LoyaltyAccount.objects.filter(brand=brand, rolling_spend__gte=tier.threshold)
            if upper is not None:
                accounts = accounts.filter(rolling_spend__lt=upper)
            changed += accounts.exclude(tier=tier).update(tier=tier, tier_updated_at=now)
        if tiers:
            changed += (
                LoyaltyAccount.objects.filter(brand=brand, rolling_spend__lt=tiers[0].threshold)
                .exclude(tier__isnull=True)
                .update(tier=None, tier_updated_at=now)
            )
    return changed


@task()
def nightly_loyalty(brand_id: int) -> dict[str, int]:
    brand = Brand.objects.get(pk=brand_id)
    expired = services.expire_points(brand)
    moved = recompute_all_tiers(brand)
    return {"points_expired": expired, "tier_changes": moved}


@task()
def nightly_loyalty_all_brands() -> int:
    for brand_id in Brand.objects.values_list("pk", flat=True):
        nightly_loyalty.enqueue(brand_id)
    return Brand.objects.count()
