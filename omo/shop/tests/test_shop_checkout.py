"""Checkout and confirmation in the built-in shop: what is written, and what is refused and shown."""

from __future__ import annotations

import pytest
from django.test import Client

from omo.catalog.models import Reservation, StockLevel
from omo.commerce import shop_links
from omo.commerce.models import Cart, Order
from omo.core.audit import Actor
from omo.customers.models import Customer
from omo.loyalty import services as loyalty
from omo.shop.tests.test_shop_views import add, build_catalogue, page_text
from omo.testing import factories as f

SHIP = {
    "name": "林小美",
    "phone": "0912-345-678",
    "email": "mei@example.com",
    "fulfilment": "ship",
    "postal_code": "110",
    "city": "台北市",
    "district": "信義區",
    "line1": "松高路 1 號",
    "payment_method": "cod",
    "action": "place",
}


@pytest.fixture
def catalogue(brand, warehouse, store, other_store):
    return build_catalogue(brand, warehouse, store, other_store)


@pytest.fixture
def shopper() -> Client:
    return Client()


def checkout(shopper: Client, **changes):
    return shopper.post("/shop/herb/checkout/", {**SHIP, **changes})


def nothing_written() -> None:
    assert Order.objects.count() == 0
    assert Reservation.objects.count() == 0
    assert Customer.objects.count() == 0


# --- the happy paths ---------------------------------------------------------------------------


def test_checkout_page_says_no_card_payment_is_connected(catalogue, shopper):
    add(shopper, catalogue.black)
    response = shopper.get("/shop/herb/checkout/")
    html = page_text(response)
    assert response.status_code == 200
    assert "目前尚未串接線上刷卡" in html
    assert "貨到付款" in html and "門市付款" in html
    assert 'for="id_phone"' in html and 'for="id_line1"' in html and 'for="id_pickup_store"' in html
    assert "台北信義店（商品皆有庫存）" in html
    assert "高雄夢時代店（目前缺貨）" in html


def test_ship_home_pay_on_delivery(catalogue, shopper):
    shopper.get("/shop/herb/?ref=C123")
    add(shopper, catalogue.black, 2)
    response = checkout(shopper, note="請放管理室")
    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == shop_links.order_link(order)
    assert (order.fulfilment, order.payment_method, order.status) == ("ship", "cod", "placed")
    assert order.shipping_address == {  # spelled as in the county list
        "postal_code": "110",
        "city": "臺北市",
        "district": "信義區",
        "line1": "松高路 1 號",
    }
    assert (order.subtotal, order.shipping_total, order.total) == (178000, 0, 178000)
    assert order.ref == "C123"
    assert order.note == "請放管理室"
    assert order.contact_phone == "+886912345678"
    assert order.sales_channel == "web_shop"
    assert f"shop:{catalogue.brand.pk}:cart" not in shopper.session
    level = StockLevel.objects.get(variant=catalogue.black, location=catalogue.warehouse)
    assert (level.on_hand, level.reserved) == (5, 2)

    page = shopper.get(response["Location"])
    html = page_text(page)
    assert page.status_code == 200
    assert order.name in html
    assert "有機棉T恤 黑 / M × 2" in html
    assert "NT$1,780" in html and "免運" in html
    assert "宅配" in html and "貨到付款" in html
    assert "目前尚未串接線上刷卡" in html
    # A first order makes a new member, whose page this browser may open.
    assert 'href="/shop/herb/member/' in html


def test_pick_up_in_store_pay_in_store(catalogue, shopper):
    add(shopper, catalogue.white)  # not online, but 3 on the shelf in 高雄
    response = checkout(
        shopper,
        fulfilment="pickup",
        payment_method="pay_in_store",
        pickup_store=catalogue.other_store.pk,
        city="",
        line1="",
    )
    assert response.status_code == 302
    order = Order.objects.get()
    assert (order.fulfilment, order.payment_method) == ("pickup", "pay_in_store")
    assert order.pickup_store == catalogue.other_store
    assert order.shipping_total == 0 and order.shipping_address == {}
    html = page_text(shopper.get(response["Location"]))
    assert "門市取貨" in html and "高雄夢時代店" in html and "門市付款" in html


def test_submitting_twice_makes_one_order(catalogue, shopper):
    add(shopper, catalogue.black)
    checkout(shopper)
    again = checkout(shopper)
    assert again.status_code == 302 and again["Location"] == "/shop/herb/cart/"
    assert Order.objects.count() == 1


# --- refusals: shown next to the field, what was typed kept, nothing written --------------------


def test_checkout_without_a_cart_goes_back_to_the_cart(catalogue, shopper):
    response = shopper.get("/shop/herb/checkout/", follow=True)
    assert response.redirect_chain[-1][0] == "/shop/herb/cart/"
    assert "購物車是空的" in page_text(response)
    response = checkout(shopper)
    assert response.status_code == 302 and response["Location"] == "/shop/herb/cart/"
    nothing_written()


def test_checkout_of_an_emptied_cart_is_refused(catalogue, shopper):
    add(shopper, catalogue.black)
    shopper.post("/shop/herb/cart/update/", {"variant": catalogue.black.pk, "quantity": 0})
    assert shopper.get("/shop/herb/checkout/")["Location"] == "/shop/herb/cart/"
    response = checkout(shopper)
    assert response.status_code == 422
    assert "購物車是空的" in page_text(response)
    nothing_written()


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"phone": "12345"}, "phone", "請輸入有效的手機號碼"),
        ({"phone": ""}, "phone", "請輸入有效的手機號碼"),
        ({"name": "  "}, "name", "請填寫收件人姓名"),
        ({"email": "not-an-email"}, "email", "Email 格式不正確"),
        ({"city": ""}, "city", "請選擇縣市"),
        ({"district": "板橋區"}, "district", "請選擇這個縣市的鄉鎮市區"),
        ({"postal_code": "220"}, "postal_code", "郵遞區號與鄉鎮市區不符"),
        ({"invoice_kind": "mobile", "invoice_carrier": "/ab"}, "invoice_carrier", "手機條碼為「/」加 7 碼"),
        (
            {"invoice_kind": "donation", "invoice_donation_code": "12"},
            "invoice_donation_code",
            "捐贈碼為 3 至 7 碼數字",
        ),
        ({"line1": ""}, "line1", "宅配需要填寫地址"),
        ({"payment_method": "pay_in_store"}, "payment_method", "宅配請選擇貨到付款"),
        ({"fulfilment": "pickup", "payment_method": "pay_in_store"}, "pickup_store", "請選擇可以取貨的門市"),
    ],
)
def test_bad_input_is_shown_next_to_its_field(catalogue, shopper, changes, field, message):
    add(shopper, catalogue.black)
    response = checkout(shopper, **changes)
    html = page_text(response)
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert list(errors) == [field] and len(errors[field]) == 1
    assert message in errors[field][0]
    error_id = "payment-error" if field == "payment_method" else f"id_{field}-error"
    assert f'id="{error_id}"' in html
    # What the shopper typed is still there.
    assert 'value="松高路 1 號"' in html or changes.get("line1") == ""
    assert 'value="mei@example.com"' in html or "email" in changes
    nothing_written()


def test_bad_phone_keeps_everything_typed(catalogue, shopper):
    add(shopper, catalogue.black)
    html = page_text(checkout(shopper, phone="09", note="週末再送"))
    assert 'value="林小美"' in html and 'value="09"' in html and 'value="臺北市" selected' in html
    assert "週末再送" in html
    assert 'aria-invalid="true"' in html


def test_another_brands_store_cannot_be_the_pickup_store(catalogue, other_brand, shopper):
    foreign = f.make_store(other_brand, code="X1", name="別家門市")
    add(shopper, catalogue.white)
    response = checkout(shopper, fulfilment="pickup", payment_method="pay_in_store", pickup_store=foreign.pk)
    assert response.status_code == 422
    assert "pickup_store" in response.context["form"].errors
    nothing_written()


def test_out_of_stock_is_refused_and_nothing_is_written(catalogue, shopper):
    add(shopper, catalogue.black, 6)  # 5 ship online
    response = checkout(shopper)
    html = page_text(response)
    assert response.status_code == 409
    assert "庫存不足" in html and "剩 5 件" in html
    assert 'role="alert"' in html
    nothing_written()
    level = StockLevel.objects.get(variant=catalogue.black, location=catalogue.warehouse)
    assert (level.on_hand, level.reserved) == (5, 0)
    assert Cart.objects.get().checked_out_order is None  # the cart is still there to fix


def test_pickup_where_the_store_lacks_stock_is_refused(catalogue, shopper):
    add(shopper, catalogue.white)
    response = checkout(
        shopper, fulfilment="pickup", payment_method="pay_in_store", pickup_store=catalogue.store.pk
    )
    assert response.status_code == 409
    assert "庫存不足" in page_text(response)
    assert response.context["totals"].shipping == 0  # the summary still reflects pick-up
    assert f'<option value="{catalogue.store.pk}" selected>' in page_text(response)
    nothing_written()


# --- coupons and points --------------------------------------------------------------------------


@pytest.fixture
def coupon(brand, hq_admin):
    actor = Actor(brand=brand, user=hq_admin)
    created = loyalty.create_coupon(
        brand, actor=actor, name="折百", kind="amount_off", value=10000, min_spend=50000
    )
    loyalty.add_shared_code(created, code="HELLO100", max_uses=10, actor=actor)
    return created


def test_invalid_coupon_is_explained_next_to_the_field(catalogue, coupon, shopper):
    add(shopper, catalogue.black)
    applied = checkout(shopper, coupon_code="NOPE", action="apply_coupon")
    assert applied.status_code == 422
    assert "優惠碼 NOPE 不存在" in applied.context["form"].errors["coupon_code"][0]
    assert 'id="id_coupon_code-error"' in page_text(applied)
    placed = checkout(shopper, coupon_code="NOPE")
    assert placed.status_code == 422
    assert "優惠碼 NOPE 不存在" in placed.context["form"].errors["coupon_code"][0]
    nothing_written()


def test_coupon_is_applied_then_used(catalogue, coupon, shopper):
    add(shopper, catalogue.black)
    applied = checkout(shopper, coupon_code="hello100", action="apply_coupon")
    assert applied.status_code == 200
    html = page_text(applied)
    assert "已套用優惠碼 HELLO100，折抵 NT$100" in html
    assert "NT$890" in html  # 890 - 100 + 100 shipping
    assert Order.objects.count() == 0  # applying is not ordering
    checkout(shopper, coupon_code="hello100")
    order = Order.objects.get()
    assert (order.coupon_code, order.discount_total, order.total) == ("HELLO100", 10000, 89000)


def test_coupon_below_minimum_spend_is_refused(catalogue, brand, hq_admin, shopper):
    actor = Actor(brand=brand, user=hq_admin)
    big = loyalty.create_coupon(
        brand, actor=actor, name="滿三千", kind="amount_off", value=30000, min_spend=300000
    )
    loyalty.add_shared_code(big, code="BIG300", max_uses=None, actor=actor)
    add(shopper, catalogue.black)
    response = checkout(shopper, coupon_code="BIG300")
    assert response.status_code == 422
    assert "未達最低消費 NT$3,000" in response.context["form"].errors["coupon_code"][0]
    nothing_written()


@pytest.fixture
def member(brand, hq_admin):
    customer = f.make_customer(brand, name="林小美", phone="0912345678")
    loyalty.adjust_points(customer, 100, reason="開幕禮", actor=Actor(brand=brand, user=hq_admin))
    return customer


def test_points_need_a_recognised_member(catalogue, member, shopper):
    """Typing someone's phone number must not let you spend their points."""
    add(shopper, catalogue.black)
    html = page_text(shopper.get("/shop/herb/checkout/"))
    assert 'name="points"' not in html
    assert "會員請先開啟會員專屬連結" in html
    response = checkout(shopper, points=50)
    assert response.status_code == 422
    assert "請先開啟您的會員專屬連結" in response.context["form"].errors["points"][0]
    assert Order.objects.count() == 0
    assert loyalty.account_for(member).balance == 100


def test_recognised_member_sees_balance_and_spends_points(catalogue, member, shopper):
    shopper.get(shop_links.member_link(member))
    add(shopper, catalogue.black)
    page = page_text(shopper.get("/shop/herb/checkout/"))
    assert "您有 100 點，本單最多可折抵 100 點" in page
    assert 'value="林小美"' in page and 'value="+886912345678"' in page  # prefilled from the member

    response = checkout(shopper, points=30, phone="0987654321")  # sent to someone else's phone
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.customer == member  # the recognised member, not the typed phone
    assert order.points_redeemed == 30 and order.total == 89000 - 3000 + 10000
    assert loyalty.account_for(member).balance == 70
    assert 'href="/shop/herb/member/' in page_text(shopper.get(response["Location"]))


def test_too_many_points_are_refused_with_a_clear_message(catalogue, member, shopper):
    shopper.get(shop_links.member_link(member))
    add(shopper, catalogue.black)
    response = checkout(shopper, points=500)
    assert response.status_code == 422
    assert "點數不足或超過本單可折抵上限" in response.context["form"].errors["points"][0]
    assert Order.objects.count() == 0
    assert loyalty.account_for(member).balance == 100


def test_existing_member_recognised_only_by_phone_gets_no_member_link(catalogue, member, shopper):
    add(shopper, catalogue.black)
    response = checkout(shopper)
    order = Order.objects.get()
    assert order.customer == member  # the order still counts for the member (points on fulfilment)
    html = page_text(shopper.get(response["Location"]))
    assert "/member/" not in html
    assert "會員專屬連結將由門市或官方帳號提供給您" in html


# --- confirmation tokens -------------------------------------------------------------------------


def test_confirmation_token_is_signed_and_brand_scoped(catalogue, other_brand, shopper):
    add(shopper, catalogue.black)
    location = checkout(shopper)["Location"]
    token = location.rstrip("/").rsplit("/", 1)[-1]
    assert shopper.get(location).status_code == 200
    assert shopper.get(location.replace(token, token[:-2] + "xx")).status_code == 404
    assert shopper.get(f"/shop/other/orders/{token}/").status_code == 404
    order = Order.objects.get()
    assert f"/{order.pk}/" not in location
    assert shopper.get(f"/shop/herb/orders/{order.pk}/").status_code == 404


# --- Taiwan address pickers and e-invoice ----------------------------------------------------


def test_checkout_page_offers_every_county_and_district_with_postal_codes(catalogue, shopper):
    add(shopper, catalogue.black)
    html = shopper.get("/shop/herb/checkout/").content.decode()
    assert html.count('<optgroup label="') == 22
    assert html.count("data-postal-code=") == 368
    assert '<option value="信義區" data-postal-code="110">110 信義區</option>' in html
    assert 'name="invoice_kind" value="member" data-invoice-kind checked' in html


def test_every_wrong_field_is_shown_at_once_and_the_first_is_focused(catalogue, shopper):
    add(shopper, catalogue.black)
    response = checkout(
        shopper,
        name="",
        district="板橋區",
        postal_code="220",
        line1="",
        invoice_kind="company",
        invoice_tax_id="22099132",
    )
    assert response.status_code == 422
    errors = response.context["form"].errors
    assert list(errors) == ["name", "district", "line1", "invoice_tax_id", "invoice_company"]
    html = response.content.decode()
    assert "有 5 個欄位需要修正。" in html
    # The first invalid field, and only it, takes the focus (works without JavaScript).
    assert html.count(" autofocus") == 1
    assert 'id="id_name" name="name" type="text" value="" autocomplete="name" autofocus' in html
    nothing_written()


def test_company_invoice_is_stored_and_shown_to_the_shop(catalogue, shopper):
    add(shopper, catalogue.black)
    response = checkout(
        shopper,
        postal_code="",
        invoice_kind="company",
        invoice_tax_id="22099131",
        invoice_company="台灣積體電路製造股份有限公司",
    )
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.shipping_address["postal_code"] == "110"  # filled from the district
    assert (order.invoice_kind, order.invoice_tax_id, order.invoice_company) == (
        "company",
        "22099131",
        "台灣積體電路製造股份有限公司",
    )


def test_mobile_barcode_is_kept_in_capitals(catalogue, shopper):
    add(shopper, catalogue.black)
    response = checkout(shopper, invoice_kind="mobile", invoice_carrier="/abc+123")
    assert response.status_code == 302
    assert Order.objects.get().invoice_carrier == "/ABC+123"


def test_english_checkout_speaks_english(catalogue, shopper):
    add(shopper, catalogue.black)
    shopper.cookies["django_language"] = "en"
    response = checkout(shopper, invoice_kind="donation", invoice_donation_code="12")
    errors = response.context["form"].errors
    assert errors["invoice_donation_code"] == ["A donation code is 3 to 7 digits."]
    html = response.content.decode()
    assert "E-invoice" in html and "Taipei City 臺北市" in html
