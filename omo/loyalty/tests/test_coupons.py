"""Coupon rules: kinds, minimum spend, validity window, owner, cap."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone, translation

from omo.core.audit import Actor
from omo.loyalty import services as loyalty
from omo.testing import factories as f


@pytest.fixture
def actor(brand, hq_admin):
    return Actor(brand=brand, user=hq_admin)


def test_kinds(brand, actor):
    amount = loyalty.create_coupon(brand, actor=actor, name="折百", kind="amount_off", value=10000)
    percent = loyalty.create_coupon(brand, actor=actor, name="九折", kind="percent_off", value=10)
    ship = loyalty.create_coupon(brand, actor=actor, name="免運", kind="free_shipping")
    loyalty.add_shared_code(amount, code="A100", max_uses=None, actor=actor)
    loyalty.add_shared_code(percent, code="P10", max_uses=None, actor=actor)
    loyalty.add_shared_code(ship, code="SHIP", max_uses=None, actor=actor)
    assert loyalty.quote_coupon(brand, "a100", subtotal=50000, shipping=10000).discount == 10000
    assert loyalty.quote_coupon(brand, "A100", subtotal=5000, shipping=0).discount == 5000  # never below zero
    assert loyalty.quote_coupon(brand, "P10", subtotal=123400, shipping=0).discount == 12340
    quote = loyalty.quote_coupon(brand, "SHIP", subtotal=1000, shipping=10000)
    assert quote.free_shipping and quote.discount == 0


def test_refusals_say_why(brand, actor):
    now = timezone.now()
    owner = f.make_customer(brand, phone="0911111111")
    stranger = f.make_customer(brand, phone="0922222222", name="路人")
    future = loyalty.create_coupon(
        brand, actor=actor, name="未來", kind="amount_off", value=100, starts_at=now + dt.timedelta(days=1)
    )
    past = loyalty.create_coupon(
        brand,
        actor=actor,
        name="過去",
        kind="amount_off",
        value=100,
        ends_at=now - dt.timedelta(days=1),
        starts_at=now - dt.timedelta(days=9),
    )
    minimum = loyalty.create_coupon(
        brand, actor=actor, name="滿千", kind="amount_off", value=100, min_spend=100000
    )
    personal = loyalty.create_coupon(brand, actor=actor, name="生日", kind="amount_off", value=100)
    loyalty.add_shared_code(future, code="FUTURE", max_uses=None, actor=actor)
    loyalty.add_shared_code(past, code="PAST", max_uses=None, actor=actor)
    loyalty.add_shared_code(minimum, code="MIN", max_uses=None, actor=actor)
    [code] = loyalty.issue_codes(personal, [owner], actor=actor, prefix="BD")
    cases = {"FUTURE": "not valid yet", "PAST": "expired", "MIN": "minimum spend", "NOPE": "does not exist"}
    for code_text, words in cases.items():
        with pytest.raises(loyalty.CouponError) as err, translation.override("en"):
            loyalty.quote_coupon(brand, code_text, subtotal=50000, shipping=0)
        assert words in err.value.message and "優惠碼" not in err.value.message  # one language
        assert err.value.field == "coupon_code"
    with pytest.raises(loyalty.CouponError, match="限本人使用"):
        loyalty.quote_coupon(brand, code.code, subtotal=50000, shipping=0, customer=stranger)
    assert loyalty.quote_coupon(brand, code.code, subtotal=50000, shipping=0, customer=owner).discount == 100


def test_other_brand_code_does_not_exist_here(brand, other_brand, actor, other_admin):
    other = loyalty.create_coupon(
        other_brand, actor=Actor(brand=other_brand, user=other_admin), name="x", kind="amount_off", value=100
    )
    loyalty.add_shared_code(
        other, code="THEIRS", max_uses=None, actor=Actor(brand=other_brand, user=other_admin)
    )
    with pytest.raises(loyalty.CouponError, match="不是本品牌的優惠碼") as refused:
        loyalty.quote_coupon(brand, "THEIRS", subtotal=50000, shipping=0)
    # Named, so a till can say so, without telling which brand it belongs to.
    assert refused.value.code == "coupon_other_brand"
    assert other_brand.name not in refused.value.message


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "gift", "value": 1}, "kind"),
        ({"kind": "percent_off", "value": 150}, "value"),
        ({"kind": "amount_off", "value": 0}, "value"),
        ({"kind": "amount_off", "value": 100, "min_spend": -1}, "min_spend"),
    ],
)
def test_bad_coupon_definitions(brand, actor, kwargs, field):
    with pytest.raises(loyalty.LoyaltyError) as err:
        loyalty.create_coupon(brand, actor=actor, name="x", **kwargs)
    assert err.value.field == field
