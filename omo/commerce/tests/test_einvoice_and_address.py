"""Taiwan delivery addresses and e-invoice choices: the shipped list, the number checks, and
checkout refusing every wrong field at once."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from omo.commerce import addresses, einvoice, services
from omo.commerce.models import Order
from omo.commerce.personal_data import CommerceData
from omo.testing import factories as f

# --- the county / district / postal code list --------------------------------------------------


def test_the_list_has_22_counties_and_368_districts():
    counties = addresses.counties()
    assert len(counties) == 22
    assert sum(len(county.districts) for county in counties.values()) == 368
    assert len(counties["臺北市"].districts) == 12
    assert len(counties["新北市"].districts) == 29
    assert len(counties["臺南市"].districts) == 37
    assert len(counties["高雄市"].districts) == 38
    assert len(counties["屏東縣"].districts) == 33


def test_every_postal_code_is_three_digits_and_unique_outside_two_cities():
    seen: dict[str, str] = {}
    for county in addresses.counties().values():
        for district, code in county.districts.items():
            assert len(code) == 3 and code.isdigit(), (county.name, district)
            if code in seen and seen[code] != county.name:
                pytest.fail(f"{code} in {seen[code]} and {county.name}")
            seen[code] = county.name
    # Hsinchu City and Chiayi City share one code across their districts
    assert set(addresses.counties()["新竹市"].districts.values()) == {"300"}
    assert set(addresses.counties()["嘉義市"].districts.values()) == {"600"}


@pytest.mark.parametrize(
    ("county", "district", "code"),
    [
        ("臺北市", "信義區", "110"),
        ("台北市", "信義區", "110"),  # 台 as people type it
        ("基隆市", "信義區", "201"),  # same district name, another county
        ("新北市", "板橋區", "220"),
        ("桃園市", "中壢區", "320"),
        ("臺中市", "西屯區", "407"),
        ("高雄市", "那瑪夏區", "849"),
        ("臺東縣", "太麻里鄉", "963"),
        ("連江縣", "東引鄉", "212"),
        ("金門縣", "烏坵鄉", "896"),
    ],
)
def test_postal_code_of_a_district(county, district, code):
    assert addresses.postal_code(county, district) == code


def test_a_district_of_another_county_has_no_postal_code():
    assert addresses.postal_code("臺北市", "板橋區") is None
    assert addresses.postal_code("火星市", "信義區") is None


def test_address_errors_name_every_problem():
    assert addresses.address_errors({}) == {
        "city": "is required for home delivery",
        "district": "is required for home delivery",
        "line1": "is required for home delivery",
    }
    assert addresses.address_errors(
        {"city": "臺北市", "district": "板橋區", "postal_code": "220", "line1": "x"}
    ) == {"district": "is not a district of 臺北市"}
    assert addresses.address_errors(
        {"city": "臺北市", "district": "信義區", "postal_code": "220", "line1": "x"}
    ) == {"postal_code": "is 110 for 臺北市信義區"}
    assert addresses.address_errors(
        {"city": "臺北市", "district": "信義區", "postal_code": "11a", "line1": "x"}
    ) == {"postal_code": "is 3 digits (or 3+2 / 3+3)"}
    assert addresses.address_errors({"city": "火星市", "district": "信義區", "line1": "x"}) == {
        "city": "is not a county or city of Taiwan"
    }
    # 3+2 postal codes are fine when their first three digits match
    assert (
        addresses.address_errors(
            {"city": "臺北市", "district": "信義區", "postal_code": "11049", "line1": "x"}
        )
        == {}
    )


def test_cleaned_address_spells_names_from_the_list_and_fills_the_postal_code():
    assert addresses.cleaned({"city": "台中市", "district": "西屯區", "line1": " 台灣大道  三段 99 號 "}) == {
        "postal_code": "407",
        "city": "臺中市",
        "district": "西屯區",
        "line1": "台灣大道 三段 99 號",
    }


# --- e-invoice numbers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "tax_id",
    [
        "22099131",  # TSMC
        "04541302",  # Hon Hai
        "96979933",  # Chunghwa Telecom
        "10458575",  # 7th digit 7, valid with 28 → 1 counted as 0 (sum 20)
        "10458574",  # 7th digit 7, valid with 28 → 1 (sum 20)
        "10458570",  # sum 15: divisible by 5 (the 2023 rule), not by 10
    ],
)
def test_valid_business_numbers(tax_id):
    assert einvoice.is_tax_id(tax_id)


@pytest.mark.parametrize(
    "tax_id",
    [
        "22099132",  # one digit off
        "12345678",
        "04541303",
        "10458576",  # 7th digit 7, neither 1 nor 0 makes it divide by 5
        "2209913",  # 7 digits
        "220991311",  # 9 digits
        "2209913A",
        "",
        "２２０９９１３１",  # full-width digits are not digits here
    ],
)
def test_invalid_business_numbers(tax_id):
    assert not einvoice.is_tax_id(tax_id)


def test_the_seventh_digit_rule_only_applies_to_a_seven():
    # 10458565: sum 21 with a 6 in 7th place (6×4 = 24 → 6) is invalid; the +1 leeway is only for a 7
    assert not einvoice.is_tax_id("10458565")


@pytest.mark.parametrize("code", ["/ABC+123", "/1234567", "/A.B-C+D", "/.......", "/ZZZZZZZ"])
def test_valid_mobile_barcodes(code):
    assert einvoice.is_mobile_barcode(code)


@pytest.mark.parametrize("code", ["ABC+1234", "/abc+123", "/ABC+12", "/ABC+1234", "/ABC 123", "/ABC*123", ""])
def test_invalid_mobile_barcodes(code):
    assert not einvoice.is_mobile_barcode(code)


@pytest.mark.parametrize(
    ("code", "ok"),
    [("123", True), ("8585", True), ("1234567", True), ("12", False), ("12345678", False), ("12a4", False)],
)
def test_donation_codes(code, ok):
    assert einvoice.is_donation_code(code) is ok


def test_invoice_errors_by_kind():
    assert einvoice.invoice_errors("member") == {}
    assert einvoice.invoice_errors("mobile", carrier="/ABC+123") == {}
    assert set(einvoice.invoice_errors("mobile", carrier="ABC")) == {"invoice_carrier"}
    assert set(einvoice.invoice_errors("company", tax_id="12345678")) == {"invoice_tax_id", "invoice_company"}
    assert einvoice.invoice_errors("company", tax_id="22099131", company="台灣積體電路製造") == {}
    assert set(einvoice.invoice_errors("donation", donation_code="12")) == {"invoice_donation_code"}
    assert set(einvoice.invoice_errors("paper")) == {"invoice_kind"}


# --- checkout ------------------------------------------------------------------------------------

ADDRESS = {"postal_code": "", "city": "台北市", "district": "信義區", "line1": "松高路 1 號"}


@pytest.fixture
def shirt(brand, warehouse):
    product = f.make_product(brand, "有機棉T恤", variants=[("TEE-BLK-M", "黑 / M", 89000)])
    variant = product.variants.get()
    f.set_stock(variant, warehouse, 5)
    return variant


def test_checkout_stores_the_invoice_choice_and_the_cleaned_address(brand, shirt):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 1)
    order = services.checkout(
        cart,
        contact=services.Contact(name="林小美", phone="0912-345-678", address=ADDRESS),
        fulfilment="ship",
        payment_method="cod",
        invoice=services.Invoice(
            kind="company", tax_id="22099131", company=" 台積  公司 ", carrier="/IGNORED"
        ),
    )
    order.refresh_from_db()
    assert order.shipping_address == {
        "postal_code": "110",
        "city": "臺北市",
        "district": "信義區",
        "line1": "松高路 1 號",
    }
    assert (order.invoice_kind, order.invoice_tax_id, order.invoice_company) == (
        "company",
        "22099131",
        "台積 公司",
    )
    assert (order.invoice_carrier, order.invoice_donation_code) == ("", "")


def test_checkout_without_an_invoice_choice_uses_the_member_carrier(brand, shirt):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 1)
    order = services.checkout(
        cart,
        contact=services.Contact(name="林小美", phone="0912-345-678", address=ADDRESS),
        fulfilment="ship",
        payment_method="cod",
    )
    assert order.invoice_kind == "member"


def test_checkout_names_every_wrong_field_at_once_and_writes_nothing(brand, shirt):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 1)
    with pytest.raises(services.CheckoutInvalid) as err:
        services.checkout(
            cart,
            contact=services.Contact(
                name="",
                phone="",
                address={"city": "臺北市", "district": "板橋區", "postal_code": "220", "line1": ""},
            ),
            fulfilment="ship",
            payment_method="cod",
            invoice=services.Invoice(kind="mobile", carrier="/abc"),
        )
    assert list(err.value.errors) == [
        "name",
        "phone",
        "address.district",
        "address.line1",
        "invoice_carrier",
    ]
    assert err.value.field == "name"  # the first field of the form
    assert err.value.body()["errors"] == err.value.errors
    assert Order.objects.count() == 0


def test_checkout_refuses_a_postal_code_that_does_not_match_the_district(brand, shirt):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 1)
    with pytest.raises(services.CheckoutInvalid) as err:
        services.checkout(
            cart,
            contact=services.Contact(
                name="林小美", phone="0912-345-678", address={**ADDRESS, "postal_code": "220"}
            ),
            fulfilment="ship",
            payment_method="cod",
        )
    assert err.value.errors == {"address.postal_code": "is 110 for 臺北市信義區"}


def test_checkout_refuses_a_bad_business_number_with_the_company_name_missing(brand, shirt):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 1)
    with pytest.raises(services.CheckoutInvalid) as err:
        services.checkout(
            cart,
            contact=services.Contact(name="林小美", phone="0912-345-678", address=ADDRESS),
            fulfilment="ship",
            payment_method="cod",
            invoice=services.Invoice(kind="company", tax_id="22099132"),
        )
    assert list(err.value.errors) == ["invoice_tax_id", "invoice_company"]


# --- where the choice is read: the order API and the console order page ---------------------------


@pytest.fixture
def shop_order(brand, shirt):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 1)
    return services.checkout(
        cart,
        contact=services.Contact(name="林小美", phone="0912-345-678", address=ADDRESS),
        fulfilment="ship",
        payment_method="cod",
        invoice=services.Invoice(kind="donation", donation_code="8585"),
    )


def test_order_api_shows_the_invoice_and_the_address(api, shop_order):
    response = api.get(f"/api/v1/orders/{shop_order.pk}")
    assert response.status_code == 200
    body = response.json()
    assert body["invoice"] == {
        "kind": "donation",
        "carrier": "",
        "tax_id": "",
        "company": "",
        "donation_code": "8585",
    }
    assert body["shipping_address"]["postal_code"] == "110"


def test_order_api_refuses_another_brand_and_a_weaker_store_key(other_api, brand, shop_order):
    assert other_api.get(f"/api/v1/orders/{shop_order.pk}").status_code == 404
    store_key = f.ApiClient(f.make_api_key(brand, role="store_manager"))
    assert store_key.get(f"/api/v1/orders/{shop_order.pk}").status_code == 404  # an online order


def test_console_order_page_shows_the_invoice_choice(console, shop_order, manager):
    body = console.get(reverse("console:order_detail", args=[shop_order.pk])).content.decode()
    assert 'data-testid="order-invoice">捐贈發票 · 捐贈碼 <span class="mono">8585</span>' in body
    # a store manager does not see the web shop's orders
    weaker = Client()
    weaker.force_login(manager)
    other = weaker.get(reverse("console:order_detail", args=[shop_order.pk]))
    assert other.status_code == 404


def test_console_order_page_in_english(console, shop_order):
    console.cookies["django_language"] = "en"
    body = console.get(reverse("console:order_detail", args=[shop_order.pk])).content.decode()
    assert "E-invoice" in body and "Donate the invoice · Donation code" in body


def test_personal_data_export_carries_the_invoice_and_erasure_blanks_the_barcode(brand, shirt):
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 1)
    order = services.checkout(
        cart,
        contact=services.Contact(name="林小美", phone="0912-345-678", address=ADDRESS),
        fulfilment="ship",
        payment_method="cod",
        invoice=services.Invoice(kind="mobile", carrier="/ABC+123"),
    )
    handler = CommerceData()
    exported = handler.export(brand.pk, [order.customer_id])["orders"]
    assert "/ABC+123" in str(exported)
    assert "/ABC+123" in handler.needles(brand.pk, [order.customer_id])
