"""Signed member links and the member page: points, tier, coupons and orders from every sales channel."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.core import signing
from django.test import Client, override_settings
from django.utils import timezone

from omo.commerce import services, shop_links
from omo.commerce.schemas import OrderIn
from omo.core.audit import Actor
from omo.customers.models import Customer
from omo.loyalty import services as loyalty
from omo.loyalty.models import Tier
from omo.shop import tracking as shop_tracking
from omo.testing import factories as f

ADDRESS = {"city": "台北市", "district": "信義區", "line1": "松高路 1 號"}


@pytest.fixture
def member(brand):
    return f.make_customer(brand, name="陳大文", phone="0912345678")


@pytest.fixture
def actor(brand, hq_admin):
    return Actor(brand=brand, user=hq_admin)


@pytest.fixture
def shopper() -> Client:
    return Client()


def pos_order(
    brand, external_id: str, amount: int, *, placed_at: str = "2026-01-10T15:30:00+08:00"
) -> OrderIn:
    return OrderIn.model_validate(
        {
            "source": "pos-erp",
            "external_id": external_id,
            "name": external_id,
            "sales_channel": "pos",
            "store_code": "TPE01",
            "placed_at": placed_at,
            "customer": {"phone": "0912345678"},
            "lines": [{"title": "門市商品", "quantity": 1, "unit_price": amount}],
            "status": "paid",
        }
    )


def web_order(brand, member, warehouse):
    variant = f.make_product(brand, "有機棉T恤", variants=[("TEE-1", "M", 89000)]).variants.get()
    f.set_stock(variant, warehouse, 5)
    cart = services.new_cart(brand, customer=member)
    services.add_to_cart(cart, variant, 1)
    return services.checkout(
        cart,
        contact=services.Contact(name="陳大文", phone="0912345678", address=ADDRESS),
        fulfilment="ship",
        payment_method="cod",
    )


# --- the link ----------------------------------------------------------------------------------


def test_member_link_round_trip(member, brand):
    link = shop_links.member_link(member)
    assert link.startswith("/shop/herb/member/") and link.endswith("/")
    token = link.split("/")[-2]
    assert shop_links.member_from_token(brand, token) == member


def test_member_link_of_another_brand_is_refused(member, other_brand):
    token = shop_links.member_token(member)
    with pytest.raises(shop_links.MemberLinkInvalid):
        shop_links.member_from_token(other_brand, token)


def test_expired_link_says_so(member, brand, monkeypatch):
    eight_days_ago = time.time() - 8 * 24 * 3600
    monkeypatch.setattr(signing.time, "time", lambda: eight_days_ago)
    token = shop_links.member_token(member)
    monkeypatch.undo()
    with pytest.raises(shop_links.MemberLinkExpired):
        shop_links.member_from_token(brand, token)
    with override_settings(OMO_MEMBER_LINK_MAX_AGE=30 * 24 * 3600):  # read at verification time
        assert shop_links.member_from_token(brand, token) == member


# --- the page ----------------------------------------------------------------------------------


def test_member_page_shows_everything_about_the_member(brand, member, store, warehouse, actor, shopper):
    Tier.objects.create(brand=brand, name="銀卡", name_en="Silver", threshold=100000)
    Tier.objects.create(brand=brand, name="金卡", name_en="Gold", threshold=500000)
    in_store, _ = services.record_order(
        brand, pos_order(brand, "TPE01-0001", 120000, placed_at=timezone.now().isoformat()), actor=None
    )
    online = web_order(brand, member, warehouse)
    services.fulfil(online, actor=actor)
    coupon = loyalty.create_coupon(brand, actor=actor, name="生日禮", kind="amount_off", value=20000)
    usable, used = loyalty.issue_codes(coupon, [member, member], actor=actor)
    used.times_used = 1
    used.save()

    response = shopper.get(shop_links.member_link(member))
    html = response.content.decode()
    assert response.status_code == 200
    assert "陳大文" in html
    # Tier: NT$1,200 (POS) + NT$990 (web incl. shipping, fulfilled) = NT$2,190 → 銀卡, NT$2,810 to 金卡.
    assert "銀卡" in html
    assert "近 12 個月消費 NT$2,190，再消費 NT$2,810 即可升級為「金卡」" in html
    assert '<progress max="100" value="29"' in html
    account = loyalty.account_for(member)
    assert account.balance == 12 + 8
    assert f"data-points-balance>{account.balance}<" in html
    assert "訂單 TPE01-0001" in html and f"訂單 {online.name}" in html
    assert usable.code in html and used.code in html
    assert "可使用" in html and "已使用" in html
    # Orders from every sales channel, with the store.
    assert 'data-order="TPE01-0001"' in html and f'data-order="{online.name}"' in html
    assert "門市 POS" in html and "台北信義店" in html and "官網商店" in html
    assert "NT$1,200" in html and "NT$990" in html
    assert in_store.customer == member
    # Opening the link recognises the member in this browser (points at checkout).
    assert shopper.session[f"shop:{brand.pk}:member"] == member.pk


def test_member_page_queries_do_not_grow_with_orders(
    brand, member, store, shopper, django_assert_max_num_queries
):
    link = shop_links.member_link(member)
    for index in range(12):
        services.record_order(brand, pos_order(brand, f"TPE01-{index:04d}", 50000), actor=None)
    shop_tracking.write_key(brand)  # the shop's tracking key: looked up once per brand, then cached
    with django_assert_max_num_queries(14):
        response = shopper.get(link)
    assert response.content.decode().count("data-order=") == 12


def test_tampered_link_is_a_friendly_403(member, shopper):
    link = shop_links.member_link(member)
    response = shopper.get(link[:-3] + "xx/")
    assert response.status_code == 403
    assert "這個會員連結無效" in response.content.decode()
    assert shopper.get("/shop/herb/member/garbage/").status_code == 403
    assert shopper.get("/shop/herb/member/1.1/").status_code == 403


def test_expired_link_is_a_friendly_410(member, shopper, monkeypatch):
    nine_days_ago = time.time() - 9 * 24 * 3600
    monkeypatch.setattr(signing.time, "time", lambda: nine_days_ago)
    link = shop_links.member_link(member)
    monkeypatch.undo()
    response = shopper.get(link)
    assert response.status_code == 410
    assert "這個會員連結已過期" in response.content.decode()
    assert f"shop:{member.brand_id}:member" not in shopper.session


def test_link_opened_in_another_brands_shop_is_403(member, other_brand, shopper):
    token = shop_links.member_token(member)
    assert shopper.get(f"/shop/other/member/{token}/").status_code == 403


def test_link_of_a_deleted_member_is_403(member, shopper):
    link = shop_links.member_link(member)
    Customer.objects.filter(pk=member.pk).delete()
    assert shopper.get(link).status_code == 403


def test_member_without_anything_yet(brand, member, shopper):
    html = shopper.get(shop_links.member_link(member)).content.decode()
    assert "一般會員" in html
    assert "近 12 個月消費 NT$0。" in html and "最高等級" not in html  # the brand has no tiers
    assert "還沒有點數紀錄" in html and "目前沒有優惠券" in html and "還沒有訂單" in html


def test_dates_read_in_the_brands_time_zone(brand, member, store, shopper):
    services.record_order(
        brand, pos_order(brand, "TPE01-LATE", 10000, placed_at="2026-01-10T23:30:00+08:00"), actor=None
    )
    html = shopper.get(shop_links.member_link(member)).content.decode()
    assert "2026-01-10 23:30" in html
    assert dt.datetime(2026, 1, 10, 15, 30, tzinfo=dt.UTC).strftime("%Y-%m-%d %H:%M") not in html
