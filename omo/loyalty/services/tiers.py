"""Tiers: a customer's net spend over the program's rolling window (from the spend source that
commerce registers, omo/loyalty/spend.py) and the highest tier it reaches."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from omo.customers.models import Customer
from omo.loyalty import spend
from omo.loyalty.models import LoyaltyAccount, Tier
from omo.loyalty.services.ledger import account_for, program_for


def rolling_spend(customer: Customer, *, now: dt.datetime | None = None) -> int:
    program = program_for(customer.brand_id)
    since = (now or timezone.now()) - dt.timedelta(days=program.tier_window_days)
    spent = list(spend.spend_since(since).filter(customer_id=customer.pk).values_list("spend", flat=True))
    return int(spent[0] or 0) if spent else 0


def recompute_tier(customer: Customer, *, now: dt.datetime | None = None) -> LoyaltyAccount:
    account = account_for(customer)
    spent = rolling_spend(customer, now=now)
    tier = (
        Tier.objects.filter(brand_id=customer.brand_id, threshold__lte=spent).order_by("-threshold").first()
    )
    LoyaltyAccount.objects.filter(pk=account.pk).update(
        rolling_spend=spent, tier=tier, tier_updated_at=now or timezone.now()
    )
    account.refresh_from_db()
    return account
