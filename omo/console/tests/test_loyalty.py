"""Tiers with member counts; coupons with their codes and usage."""

from __future__ import annotations

from django.urls import reverse

from omo.analytics.tests.builders import make_customer
from omo.loyalty.models import Coupon, CouponCode, LoyaltyAccount, Tier


def test_tiers_with_member_counts(console, brand, other_brand):
    silver = Tier.objects.create(brand=brand, name="銀卡", threshold=500000)
    gold = Tier.objects.create(brand=brand, name="金卡", threshold=2000000)
    for n in range(3):
        LoyaltyAccount.objects.create(brand=brand, customer=make_customer(brand, f"銀{n}"), tier=silver)
    LoyaltyAccount.objects.create(brand=brand, customer=make_customer(brand, "金"), tier=gold)
    their_tier = Tier.objects.create(brand=other_brand, name="別家VIP", threshold=1)
    LoyaltyAccount.objects.create(
        brand=other_brand, customer=make_customer(other_brand, "x"), tier=their_tier
    )
    response = console.get(reverse("console:tiers"))
    assert [(tier.name, members) for tier, members in response.context["tiers"]] == [("銀卡", 3), ("金卡", 1)]
    assert "別家VIP" not in response.content.decode()


def test_coupons_with_code_counts_and_usage(console, brand):
    shared = Coupon.objects.create(brand=brand, name="週年慶", kind="percent_off", value=15)
    CouponCode.objects.create(brand=brand, coupon=shared, code="ANNIV15", max_uses=100, times_used=42)
    personal = Coupon.objects.create(brand=brand, name="生日禮", kind="amount_off", value=20000)
    for n in range(4):
        CouponCode.objects.create(brand=brand, coupon=personal, code=f"BDAY{n}", max_uses=1, times_used=n % 2)
    Coupon.objects.create(brand=brand, name="尚未發碼", kind="free_shipping")
    response = console.get(reverse("console:coupons"))
    figures = {
        coupon.name: (coupon.code_count, coupon.times_used) for coupon in response.context["page"].object_list
    }
    assert figures == {"週年慶": (1, 42), "生日禮": (4, 2), "尚未發碼": (0, 0)}
    body = response.content.decode()
    assert "折扣 15%" in body and "折 NT$200" in body

    detail = console.get(reverse("console:coupon_detail", args=[personal.pk]))
    assert {code.code for code in detail.context["page"].object_list} == {"BDAY0", "BDAY1", "BDAY2", "BDAY3"}
