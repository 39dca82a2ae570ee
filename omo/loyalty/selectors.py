"""Who sees which loyalty rows. Tiers and coupons are the brand's offer, read by every role that
reads loyalty; a customer's points and codes are reached through the customer, so they follow
omo.customers.selectors.visible_customers."""

from __future__ import annotations

from django.db.models import Count, Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from omo.core.audit import Actor
from omo.customers.selectors import visible_customers
from omo.loyalty.models import Coupon, CouponCode, LoyaltyAccount, Tier


def visible_tiers(actor: Actor) -> QuerySet[Tier]:
    return Tier.objects.filter(brand=actor.brand)


def visible_coupons(actor: Actor) -> QuerySet[Coupon]:
    return Coupon.objects.filter(brand=actor.brand)


def visible_coupon_codes(actor: Actor) -> QuerySet[CouponCode]:
    """Shared codes, and codes issued to a customer the actor sees (omo.customers.selectors): a
    store's or a clerk's key does not learn other customers' single-use codes."""
    codes = CouponCode.objects.filter(brand=actor.brand)
    if actor.brand_wide:
        return codes
    return codes.filter(Q(customer__isnull=True) | Q(customer__in=visible_customers(actor).values("pk")))


def tiers_with_members(actor: Actor) -> list[tuple[Tier, int]]:
    tiers = list(visible_tiers(actor).order_by("threshold"))
    members = dict(
        LoyaltyAccount.objects.filter(brand=actor.brand, tier__isnull=False)
        .order_by()
        .values_list("tier")
        .annotate(count=Count("id"))
    )
    return [(tier, members.get(tier.pk, 0)) for tier in tiers]


def coupon_list(actor: Actor) -> QuerySet[Coupon]:
    return (
        visible_coupons(actor)
        .annotate(code_count=Count("codes"), times_used=Coalesce(Sum("codes__times_used"), 0))
        .order_by("-id")
    )
