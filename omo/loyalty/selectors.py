"""Who sees which loyalty rows. Tiers and coupons are the brand's offer, read by every role that
reads loyalty; a customer's points and codes are reached through the customer, so they follow
omo.customers.selectors.visible_customers."""

from __future__ import annotations

from django.db.models import Count, QuerySet, Sum
from django.db.models.functions import Coalesce

from omo.core.audit import Actor
from omo.loyalty.models import Coupon, CouponCode, LoyaltyAccount, Tier


def visible_tiers(actor: Actor) -> QuerySet[Tier]:
    return Tier.objects.filter(brand=actor.brand)


def visible_coupons(actor: Actor) -> QuerySet[Coupon]:
    return Coupon.objects.filter(brand=actor.brand)


def visible_coupon_codes(actor: Actor) -> QuerySet[CouponCode]:
    return CouponCode.objects.filter(brand=actor.brand)


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
