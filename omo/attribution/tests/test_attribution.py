"""Tracked links, the attribution decision with its precedence and reasons, commission and refunds."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from omo.attribution import links, services
from omo.attribution.models import Attribution, AttributionSettings, Click, CommissionEntry, CommissionRule
from omo.binding.models import Binding, ClerkCode
from omo.commerce import services as commerce
from omo.commerce.models import Order
from omo.commerce.schemas import OrderIn, RefundIn
from omo.testing import factories as f

PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Safari Line/13.20.0"
)


@pytest.fixture
def product(brand):
    category = f.make_category(brand, "上衣", slug="tops")
    return f.make_product(brand, "有機棉T恤", category=category, variants=[("TEE-M", "M", 100000)])


@pytest.fixture
def customer(brand):
    return f.make_customer(brand, "林小姐", phone="+886911111111")


def _order(brand, external_id: str, *, customer=None, placed_at=None, **extra) -> Order:
    data = {
        "source": "api",
        "external_id": external_id,
        "sales_channel": extra.pop("sales_channel", "web_shop"),
        "placed_at": (placed_at or timezone.now()).isoformat(),
        "status": extra.pop("status", "paid"),
        "lines": [{"sku": "TEE-M", "title": "有機棉T恤 M", "quantity": 1, "unit_price": 100000}],
        **extra,
    }
    if customer is not None:
        data["customer"] = {"phone": customer.phone, "name": customer.name}
    # Subscribers run after commit; the test's transaction never commits, so run them on the way out.
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = commerce.record_order(brand, OrderIn.model_validate(data), actor=None)
    return Order.objects.get(pk=order.pk)


def _click(brand, clerk, customer, product, *, at=None, ua=PHONE_UA) -> Click:
    link = services.issue_link(brand, clerk=clerk, product=product, customer=customer)
    return services.record_click(link, user_agent=ua, at=at).click


# --- tracked links ---------------------------------------------------------------------------------------


def test_click_is_recorded_and_redirects_into_the_brand_shop_with_a_signed_ref(
    brand, clerk, customer, product
):
    link = services.issue_link(brand, clerk=clerk, product=product, customer=customer)
    url = services.link_url(link)
    assert url.startswith("http://") and "/r/" in url

    response = Client(HTTP_USER_AGENT=PHONE_UA).get(
        url.split("testserver")[-1].replace("http://127.0.0.1:8000", "")
    )

    assert response.status_code == 302
    target = response["Location"]
    assert target.startswith(f"/shop/herb/p/{product.handle}/?ref=")
    ref = links.read_ref(target.split("ref=")[1])
    assert ref is not None and ref.kind == "link" and ref.id == link.pk
    click = Click.objects.get()
    assert (click.clerk_id, click.customer_id, click.is_preview) == (clerk.pk, customer.pk, False)


@pytest.mark.parametrize(
    "agent",
    [
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Line/13.20.0 LinkPreview",
        "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
        "Twitterbot/1.0",
        "WhatsApp/2.23.20.0",
        "Googlebot/2.1",
        "",
    ],
)
def test_link_preview_fetchers_are_flagged_and_not_counted(agent, brand, clerk, customer, product):
    click = _click(brand, clerk, customer, product, ua=agent)
    assert click.is_preview is True
    order = _order(brand, "preview-1", customer=customer)
    assert order.attribution.rule == Attribution.Rule.NONE


def test_line_in_app_browser_is_a_person():
    assert services.is_preview_agent(PHONE_UA) is False


def test_tampered_token_gets_a_friendly_page_and_no_redirect(brand, clerk, product, client):
    link = services.issue_link(brand, clerk=clerk, product=product)
    token = links.link_token(link.pk, brand.pk)
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")

    response = client.get(f"/r/{tampered}")

    assert response.status_code == 400
    assert "Location" not in response
    body = response.content.decode()
    assert "連結無法開啟" in body and "This link is incomplete" in body
    assert Click.objects.count() == 0


def test_expired_token_is_410(brand, clerk, product, client, settings):
    link = services.issue_link(brand, clerk=clerk, product=product)
    token = links.link_token(link.pk, brand.pk)
    settings.OMO_TRACKED_LINK_MAX_AGE = -1

    response = client.get(f"/r/{token}")

    assert response.status_code == 410
    assert "已過期" in response.content.decode()


def test_token_of_another_brand_cannot_be_reused(brand, other_brand, clerk, product, client):
    link = services.issue_link(brand, clerk=clerk, product=product)
    forged = links.link_token(link.pk, other_brand.pk)  # right signature, wrong brand pairing
    assert client.get(f"/r/{forged}").status_code == 400


def test_hand_edited_target_never_leaves_the_shop(brand, clerk, product, client):
    link = services.issue_link(brand, clerk=clerk, product=product)
    link.target = "https://evil.example/phish"
    link.save()
    response = Client(HTTP_USER_AGENT=PHONE_UA).get(f"/r/{links.link_token(link.pk, brand.pk)}")
    assert response.status_code == 302
    assert response["Location"].startswith("/shop/herb/?ref=")


def test_issue_link_refuses_another_brands_product(brand, other_brand, clerk):
    foreign = f.make_product(other_brand, "別家商品")
    with pytest.raises(services.AttributionError) as error:
        services.issue_link(brand, clerk=clerk, product=foreign)
    assert error.value.field == "product"


# --- the decision ------------------------------------------------------------------------------------------


def test_link_click_within_window_credits_the_clerk_with_reason(brand, clerk, customer, product):
    clerk.display_name = "王小美"
    clerk.save()
    now = timezone.now()
    click = _click(brand, clerk, customer, product, at=now - dt.timedelta(days=2))

    order = _order(brand, "o-1", customer=customer, placed_at=now)

    attribution = Attribution.objects.get(order=order)
    assert (attribution.rule, attribution.clerk_id, attribution.click_id) == (
        "link_click",
        clerk.pk,
        click.pk,
    )
    assert attribution.store_id == clerk.store_id
    assert "點擊王小美傳送的商品卡片（2 天前），30 天內最後一次導購點擊" in attribution.reason_zh
    assert "Customer clicked 王小美's product card on" in attribution.reason_en
    assert "(2 days before), the last clerk link within 30 days" in attribution.reason_en


def test_last_click_wins_and_clicks_outside_window_do_not_count(brand, clerk, store, customer, product):
    other = f.make_user(brand, "clerk2", role="clerk", store=store)
    now = timezone.now()
    _click(brand, other, customer, product, at=now - dt.timedelta(days=40))
    late = _click(brand, clerk, customer, product, at=now - dt.timedelta(days=5))
    assert _order(brand, "o-1", customer=customer, placed_at=now).attribution.click_id == late.pk

    customer2 = f.make_customer(brand, "張先生", phone="+886922222222")
    _click(brand, other, customer2, product, at=now - dt.timedelta(days=31))
    assert _order(brand, "o-2", customer=customer2, placed_at=now).attribution.rule == "none"


def test_window_is_the_brands_setting(brand, clerk, customer, product):
    AttributionSettings.objects.create(brand=brand, window_days=7)
    now = timezone.now()
    _click(brand, clerk, customer, product, at=now - dt.timedelta(days=8))
    attribution = _order(brand, "o-1", customer=customer, placed_at=now).attribution
    assert attribution.rule == "none"
    assert "7 天內" in attribution.reason_zh


def test_order_ref_credits_the_link_even_when_the_shopper_is_a_new_customer(brand, clerk, customer, product):
    click = _click(brand, clerk, customer, product)
    ref = links.link_ref(click.link_id)
    stranger = f.make_customer(brand, "新顧客", phone="+886933333333")
    attribution = _order(brand, "o-1", customer=stranger, ref=ref).attribution
    assert (attribution.rule, attribution.clerk_id, attribution.click_id) == (
        "link_click",
        clerk.pk,
        click.pk,
    )


def test_a_forged_ref_earns_nothing(brand, clerk, customer, product):
    click = _click(brand, clerk, customer, product)
    forged = links.link_ref(click.link_id)[:-3] + "xyz"
    stranger = f.make_customer(brand, "新顧客", phone="+886933333333")
    assert _order(brand, "o-1", customer=stranger, ref=forged).attribution.rule == "none"


def test_clerk_cart_ref_credits_the_clerk(brand, clerk):
    attribution = _order(brand, "o-1", ref=links.clerk_ref(clerk.pk)).attribution
    assert (attribution.rule, attribution.clerk_id) == ("link_click", clerk.pk)
    assert "購物車連結" in attribution.reason_zh


def test_precedence_pos_staff_over_coupon_over_link(brand, clerk, store, customer, product):
    seller = f.make_user(
        brand, "seller", role="clerk", store=store, employee_code="E777", display_name="陳店員"
    )
    coupon_clerk = f.make_user(brand, "coupon", role="clerk", store=store, display_name="李店員")
    ClerkCode.objects.create(brand=brand, clerk=coupon_clerk, code="LEE123")
    _click(brand, clerk, customer, product)

    pos = _order(
        brand,
        "pos-1",
        customer=customer,
        sales_channel="pos",
        staff_code="E777",
        store_code="TPE01",
        discounts=[{"code": "LEE123", "amount": 0}],
    ).attribution
    assert (pos.rule, pos.clerk_id, pos.store_id) == ("pos_staff", seller.pk, store.pk)
    assert "E777" in pos.reason_zh

    coupon = _order(
        brand, "web-1", customer=customer, discounts=[{"code": "lee123-XMAS", "amount": 0}]
    ).attribution
    assert (coupon.rule, coupon.clerk_id) == ("clerk_coupon", coupon_clerk.pk)
    assert "LEE123-XMAS" in coupon.reason_zh

    assert _order(brand, "web-2", customer=customer).attribution.rule == "link_click"


def test_bound_clerk_only_when_the_brand_says_so_and_by_history(brand, clerk, store, customer):
    earlier = f.make_user(brand, "earlier", role="clerk", store=store)
    now = timezone.now()
    Binding.objects.create(
        brand=brand,
        customer=customer,
        clerk=earlier,
        source="manual",
        started_at=now - dt.timedelta(days=60),
        ended_at=now - dt.timedelta(days=10),
    )
    Binding.objects.create(
        brand=brand, customer=customer, clerk=clerk, source="manual", started_at=now - dt.timedelta(days=10)
    )
    assert _order(brand, "o-0", customer=customer, placed_at=now).attribution.rule == "none"

    AttributionSettings.objects.create(brand=brand, credit_bound_clerk=True)
    old = _order(brand, "o-1", customer=customer, placed_at=now - dt.timedelta(days=20)).attribution
    assert (old.rule, old.clerk_id) == ("bound_clerk", earlier.pk)
    new = _order(brand, "o-2", customer=customer, placed_at=now).attribution
    assert (new.rule, new.clerk_id) == ("bound_clerk", clerk.pk)


def test_decision_is_idempotent(brand, clerk, customer, product):
    _click(brand, clerk, customer, product)
    order = _order(brand, "o-1", customer=customer)
    first = order.attribution
    again = services.attribute_order(order.pk)
    assert again.pk == first.pk
    assert Attribution.objects.count() == 1
    assert CommissionEntry.objects.count() == 1


# --- commission ----------------------------------------------------------------------------------------------


def test_most_specific_commission_rule_wins(brand, clerk, store, customer, product):
    today = timezone.localdate()
    CommissionRule.objects.create(brand=brand, rate_bp=100, starts_on=today - dt.timedelta(days=30))
    CommissionRule.objects.create(
        brand=brand, store=store, rate_bp=200, starts_on=today - dt.timedelta(days=30)
    )
    CommissionRule.objects.create(
        brand=brand, category=product.category, rate_bp=300, starts_on=today - dt.timedelta(days=30)
    )
    CommissionRule.objects.create(
        brand=brand,
        category=product.category,
        store=store,
        rate_bp=500,
        starts_on=today - dt.timedelta(days=30),
    )
    CommissionRule.objects.create(
        brand=brand,
        category=product.category,
        store=store,
        rate_bp=900,
        starts_on=today - dt.timedelta(days=30),
        ends_on=today - dt.timedelta(days=1),
    )
    _click(brand, clerk, customer, product)
    order = _order(brand, "o-1", customer=customer)
    entry = CommissionEntry.objects.get(order=order)
    assert (entry.kind, entry.basis, entry.amount, entry.clerk_id) == ("sale", 100000, 5000, clerk.pk)
    assert entry.month == today.replace(day=1)


def test_refund_writes_a_proportional_reversal_once(brand, clerk, customer, product):
    CommissionRule.objects.create(
        brand=brand, rate_bp=1000, starts_on=timezone.localdate() - dt.timedelta(days=1)
    )
    _click(brand, clerk, customer, product)
    order = _order(brand, "o-1", customer=customer)
    with TestCase.captureOnCommitCallbacks(execute=True):
        refund, _ = commerce.refund(order, RefundIn(external_id="r1", amount=40000), actor=None)
    with TestCase.captureOnCommitCallbacks(execute=True):
        commerce.refund(order, RefundIn(external_id="r1", amount=40000), actor=None)
    services.reverse_for_refund(refund.pk)  # a repeat delivery of the event

    reversal = CommissionEntry.objects.get(kind="reversal")
    assert (reversal.basis, reversal.amount, reversal.refund_id) == (-40000, -4000, refund.pk)
    assert CommissionEntry.objects.count() == 2


def test_unattributed_orders_earn_no_commission(brand, customer):
    CommissionRule.objects.create(brand=brand, rate_bp=1000, starts_on=timezone.localdate())
    _order(brand, "o-1", customer=customer)
    assert CommissionEntry.objects.count() == 0


# --- batch ----------------------------------------------------------------------------------------------------


def test_batch_matches_the_live_path_and_is_idempotent(brand, clerk, customer, product, monkeypatch):
    CommissionRule.objects.create(
        brand=brand, rate_bp=500, starts_on=timezone.localdate() - dt.timedelta(days=40)
    )
    now = timezone.now()
    _click(brand, clerk, customer, product, at=now - dt.timedelta(days=3))
    monkeypatch.setattr(services, "on_order_recorded", lambda payload: None)
    from omo.core import events

    monkeypatch.setitem(events._subscribers, "order.recorded", [])
    orders = [_order(brand, f"b-{i}", customer=customer if i % 2 else None, placed_at=now) for i in range(6)]
    assert Attribution.objects.count() == 0

    stats = services.attribute_orders(brand, Order.objects.filter(brand=brand), chunk_size=4)
    assert stats.considered == 6 and stats.by_rule == {"link_click": 3, "none": 3}
    again = services.attribute_orders(brand, [o.pk for o in orders])
    assert again.considered == 0
    assert Attribution.objects.filter(rule="link_click", clerk=clerk).count() == 3
    assert CommissionEntry.objects.filter(clerk=clerk, amount=5000).count() == 3
    live = Attribution.objects.filter(rule="link_click").first()
    assert "3 天前" in live.reason_zh


def test_batch_is_scoped_to_the_brand(brand, other_brand, clerk, customer, monkeypatch):
    from omo.core import events

    monkeypatch.setitem(events._subscribers, "order.recorded", [])
    f.make_product(other_brand, "別家", variants=[("TEE-M", "M", 100000)])
    foreign = _order(other_brand, "x-1")
    stats = services.attribute_orders(brand, [foreign.pk])
    assert stats.considered == 0
    assert not Attribution.objects.exists()
