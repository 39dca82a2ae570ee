"""The built-in shop's browsing pages, product page with live stock, and cart.

`build_catalogue` is shared with the other shop test modules (checkout, member page, browser).
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from omo.catalog.models import Category, Location, Product, ProductImage, Variant
from omo.commerce import services
from omo.commerce.models import Cart, CartLine
from omo.core.models import Brand
from omo.shop import tracking as shop_tracking
from omo.staff.models import Store
from omo.testing import factories as f

# An inline picture, so browser tests and screenshots show an image without any network.
TEE_IMAGE = (
    "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 100'%3E"
    "%3Crect width='100' height='100' fill='%23e3f1ea'/%3E"
    "%3Cpath d='M30 25l12-7h16l12 7 12 12-10 10-6-5v40H34V42l-6 5-10-10z' fill='%230b5d3b'/%3E%3C/svg%3E"
)


@dataclass
class Catalogue:
    brand: Brand
    tops: Category
    bags: Category
    shirt: Product
    black: Variant  # 5 in the warehouse, 2 in 台北信義店
    white: Variant  # none online, 3 in 高雄夢時代店: pick-up only
    tote: Product
    tote_variant: Variant  # nothing anywhere: sold out
    warehouse: Location
    store: Store
    other_store: Store


def build_catalogue(brand: Brand, warehouse: Location, store: Store, other_store: Store) -> Catalogue:
    tops = f.make_category(brand, "上衣", slug="tops")
    tops.name_en = "Tops"
    tops.save()
    bags = f.make_category(brand, "包款", slug="bags")
    shirt = f.make_product(
        brand,
        "有機棉T恤",
        category=tops,
        variants=[("TEE-BLK-M", "黑 / M", 89000), ("TEE-WHT-M", "白 / M", 89000)],
    )
    Product.objects.filter(pk=shirt.pk).update(handle="organic-tee", title_en="Organic Cotton Tee")
    shirt.refresh_from_db()
    black, white = shirt.variants.order_by("sort_order")
    Variant.objects.filter(pk=black.pk).update(compare_at_price=120000, barcode="4710000000011")
    black.refresh_from_db()
    ProductImage.objects.create(brand=brand, product=shirt, url=TEE_IMAGE, alt="黑色T恤")
    tote = f.make_product(brand, "帆布托特包", category=bags, variants=[("BAG-TOTE", "", 129000)])
    Product.objects.filter(pk=tote.pk).update(handle="canvas-tote")
    tote.refresh_from_db()
    store_location = Location.objects.get(store=store)
    other_location = Location.objects.get(store=other_store)
    f.set_stock(black, warehouse, 5)
    f.set_stock(black, store_location, 2)
    f.set_stock(white, other_location, 3)
    return Catalogue(
        brand, tops, bags, shirt, black, white, tote, tote.variants.get(), warehouse, store, other_store
    )


@pytest.fixture
def catalogue(brand, warehouse, store, other_store) -> Catalogue:
    return build_catalogue(brand, warehouse, store, other_store)


@pytest.fixture
def shopper() -> Client:
    return Client()


def page_text(response) -> str:
    return response.content.decode()


# --- brand list, home, category, search --------------------------------------------------------


def test_shop_root_redirects_to_the_only_brand_keeping_the_ref(brand, shopper):
    response = shopper.get("/shop/?ref=C123")
    assert response.status_code == 302
    assert response["Location"] == "/shop/herb/?ref=C123"


def test_shop_root_lists_every_brand_when_there_are_several(brand, other_brand, shopper):
    response = shopper.get("/shop/")
    assert response.status_code == 200
    assert 'href="/shop/herb/"' in page_text(response)
    assert 'href="/shop/other/"' in page_text(response)


def test_unknown_brand_is_404(db, shopper):
    assert shopper.get("/shop/nobody/").status_code == 404


def test_home_shows_categories_and_products_with_prices(catalogue, other_brand, shopper):
    Product.objects.create(brand=catalogue.brand, title="草稿商品", handle="draft", status="draft")
    f.make_product(other_brand, "別家的帽子")
    response = shopper.get("/shop/herb/")
    html = page_text(response)
    assert response.status_code == 200
    assert "有機棉T恤" in html and "帆布托特包" in html
    assert "草稿商品" not in html and "別家的帽子" not in html
    assert "<del>" in html and "NT$1,200" in html  # compare-at price struck through
    assert "NT$890" in html and "NT$1,290" in html
    assert 'href="/shop/herb/c/tops/"' in html
    assert 'href="/shop/herb/p/organic-tee/"' in html
    assert 'lang="zh-Hant-TW"' in html


def test_home_paginates(brand, shopper):
    for index in range(30):
        f.make_product(brand, f"商品{index:02d}")
    first = page_text(shopper.get("/shop/herb/"))
    second = page_text(shopper.get("/shop/herb/?page=2"))
    assert first.count('class="product-card"') == 24
    assert second.count('class="product-card"') == 6
    assert "page=2" in first
    assert "第 2 / 2 頁" in second
    assert shopper.get("/shop/herb/?page=abc").status_code == 200  # a bad page number shows page 1


def test_category_page_shows_only_its_products(catalogue, shopper):
    html = page_text(shopper.get("/shop/herb/c/tops/"))
    assert "有機棉T恤" in html and "帆布托特包" not in html
    assert 'aria-current="page">上衣' in html
    assert shopper.get("/shop/herb/c/no-such/").status_code == 404


@pytest.mark.parametrize("query", ["棉T", "organic", "TEE-WHT", "tee-blk", "4710000000011"])
def test_search_matches_title_english_title_sku_and_barcode(catalogue, shopper, query):
    html = page_text(shopper.get("/shop/herb/search/", {"q": query}))
    assert "有機棉T恤" in html
    assert "帆布托特包" not in html


def test_search_without_results_says_so(catalogue, shopper):
    html = page_text(shopper.get("/shop/herb/search/", {"q": "沒有這種東西"}))
    assert "找不到符合「沒有這種東西」的商品" in html


def test_search_does_not_reach_another_brands_catalogue(catalogue, other_brand, shopper):
    f.make_product(other_brand, "別家的帽子", variants=[("HAT-1", "", 50000)])
    assert "別家的帽子" not in page_text(shopper.get("/shop/herb/search/", {"q": "HAT-1"}))


# --- product page and live stock ---------------------------------------------------------------


def test_product_page_shows_variants_price_and_live_stock(catalogue, shopper):
    response = shopper.get("/shop/herb/p/organic-tee/")
    html = page_text(response)
    assert response.status_code == 200
    assert "有機棉T恤" in html and "好穿" in html
    assert f'value="{catalogue.black.pk}" checked' in html
    assert "黑 / M" in html and "白 / M" in html
    assert "NT$890" in html and "NT$1,200" in html
    assert "線上可出貨 5 件" in html
    assert "台北信義店" in html and "2 件" in html
    assert "高雄夢時代店" not in html  # no stock row there for black
    assert response.context["stock"].can_add and not response.context["stock"].pickup_only
    # The page carries every variant's stock for the picker, so switching needs no round trip.
    assert 'id="shop-data"' in html
    data = response.context["shop_data"]
    assert data["stock"][str(catalogue.white.pk)]["pickup_only"] is True
    assert data["stock_url"] == "/shop/herb/p/organic-tee/stock.json"


def test_product_page_for_a_pickup_only_variant_offers_store_pickup(catalogue, shopper):
    html = page_text(shopper.get(f"/shop/herb/p/organic-tee/?variant={catalogue.white.pk}"))
    assert "線上暫無庫存" in html
    assert "高雄夢時代店" in html and "3 件" in html
    assert "加入購物車（門市取貨）" in html
    assert "結帳時可選擇有庫存的門市取貨" in html


def test_sold_out_product_cannot_be_added(catalogue, shopper):
    response = shopper.get("/shop/herb/p/canvas-tote/")
    assert response.status_code == 200
    assert response.context["stock"].can_add is False
    html = page_text(response)
    assert "已售完" in html
    assert " disabled>" in html


def test_product_page_is_lean_and_never_reads_orders(catalogue, shopper, django_assert_max_num_queries):
    """Session, brand, product, variants, images, stock per location, online stock: 7 queries, none
    on orders, so the page costs the same at 10 million orders as at ten."""
    add(shopper, catalogue.tote_variant)  # a visitor with a session and a cart, the costlier case
    shop_tracking.write_key(catalogue.tote_variant.product.brand)  # looked up once per brand, then cached
    with CaptureQueriesContext(connection) as queries:
        with django_assert_max_num_queries(7):
            response = shopper.get("/shop/herb/p/organic-tee/")
    assert response.status_code == 200
    assert not [q["sql"] for q in queries.captured_queries if "commerce_order" in q["sql"]]
    with django_assert_max_num_queries(5):
        assert shopper.get("/shop/herb/p/organic-tee/stock.json").status_code == 200


def test_another_brands_product_handle_is_404(catalogue, other_brand, shopper):
    f.make_product(other_brand, "別家的帽子")
    other_handle = Product.objects.get(brand=other_brand).handle
    response = shopper.get(f"/shop/herb/p/{other_handle}/")
    assert response.status_code == 404
    assert "找不到這個頁面" in page_text(response)
    assert shopper.get("/shop/other/p/organic-tee/").status_code == 404


def test_draft_product_is_404(catalogue, shopper):
    Product.objects.filter(pk=catalogue.shirt.pk).update(status="draft")
    assert shopper.get("/shop/herb/p/organic-tee/").status_code == 404
    assert shopper.get("/shop/herb/p/organic-tee/stock.json").status_code == 404


def test_stock_json_is_live_and_uncached(catalogue, shopper):
    response = shopper.get("/shop/herb/p/organic-tee/stock.json")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
    body = response.json()
    by_id = {row["id"]: row for row in body["variants"]}
    assert by_id[catalogue.black.pk]["online"] == 5
    assert by_id[catalogue.black.pk]["stores"] == [{"code": "TPE01", "name": "台北信義店", "available": 2}]
    assert by_id[catalogue.white.pk] == {
        "id": catalogue.white.pk,
        "online": 0,
        "can_add": True,
        "pickup_only": True,
        "stores": [{"code": "KHH01", "name": "高雄夢時代店", "available": 3}],
    }
    f.set_stock(catalogue.black, catalogue.warehouse, 1)
    again = {row["id"]: row for row in shopper.get("/shop/herb/p/organic-tee/stock.json").json()["variants"]}
    assert again[catalogue.black.pk]["online"] == 1


def test_stock_json_of_another_brands_product_is_404(catalogue, other_brand, shopper):
    assert shopper.get("/shop/other/p/organic-tee/stock.json").status_code == 404


def test_english_switch_translates_the_shop(catalogue, shopper):
    response = shopper.post("/i18n/setlang/", {"language": "en", "next": "/shop/herb/p/organic-tee/"})
    assert response.status_code == 302
    html = page_text(shopper.get("/shop/herb/p/organic-tee/"))
    assert '<html lang="en">' in html
    assert "Organic Cotton Tee" in html
    assert "Add to cart" in html
    assert "5 available for delivery" in html
    shopper.post("/i18n/setlang/", {"language": "zh-hant", "next": "/shop/herb/"})
    assert "加入購物車" in page_text(shopper.get("/shop/herb/p/organic-tee/"))


# --- cart --------------------------------------------------------------------------------------


def add(shopper: Client, variant: Variant, quantity: int = 1, brand_slug: str = "herb"):
    return shopper.post(f"/shop/{brand_slug}/cart/add/", {"variant": variant.pk, "quantity": quantity})


def session_cart(shopper: Client, brand: Brand) -> Cart:
    return Cart.objects.get(token=shopper.session[f"shop:{brand.pk}:cart"])


def test_add_to_cart_keeps_the_cart_in_the_session(catalogue, shopper):
    response = add(shopper, catalogue.black)
    assert response.status_code == 302 and response["Location"] == "/shop/herb/cart/"
    cart = session_cart(shopper, catalogue.brand)
    assert cart.brand == catalogue.brand
    assert list(cart.lines.values_list("variant_id", "quantity")) == [(catalogue.black.pk, 1)]

    page = shopper.get("/shop/herb/cart/")
    html = page_text(page)
    assert "已加入購物車" in html
    assert "有機棉T恤" in html
    assert page.context["totals"].subtotal == 89000
    assert page.context["totals"].shipping == 10000
    assert "NT$990" in html and "NT$100" in html
    assert "data-cart-count>1<" in html


def test_free_shipping_from_1500(catalogue, shopper):
    add(shopper, catalogue.black, 2)
    page = shopper.get("/shop/herb/cart/")
    assert page.context["totals"].shipping == 0
    assert "免運" in page_text(page) and "NT$1,780" in page_text(page)


def test_change_quantity_and_remove(catalogue, shopper):
    add(shopper, catalogue.black)
    add(shopper, catalogue.white)
    cart = session_cart(shopper, catalogue.brand)
    shopper.post("/shop/herb/cart/update/", {"variant": catalogue.black.pk, "quantity": 3, "update": ""})
    assert cart.lines.get(variant=catalogue.black).quantity == 3
    shopper.post("/shop/herb/cart/update/", {"variant": catalogue.white.pk, "quantity": 1, "remove": ""})
    assert list(cart.lines.values_list("variant_id", flat=True)) == [catalogue.black.pk]
    shopper.post("/shop/herb/cart/update/", {"variant": catalogue.black.pk, "quantity": 0})
    assert not cart.lines.exists()
    assert "購物車是空的" in page_text(shopper.get("/shop/herb/cart/"))


def test_cart_warns_when_more_is_wanted_than_ships_online(catalogue, shopper):
    add(shopper, catalogue.white)
    html = page_text(shopper.get("/shop/herb/cart/"))
    assert "線上暫無庫存，結帳時可選擇有庫存的門市取貨" in html


def test_bad_quantity_is_refused_with_a_message(catalogue, shopper):
    response = shopper.post(
        "/shop/herb/cart/add/", {"variant": catalogue.black.pk, "quantity": 500}, follow=True
    )
    assert "請選擇規格與數量" in page_text(response)
    assert not CartLine.objects.exists()


def test_another_brands_variant_cannot_be_added(catalogue, other_brand, shopper):
    foreign = f.make_product(other_brand, "別家的帽子").variants.get()
    assert add(shopper, foreign).status_code == 404
    assert add(shopper, catalogue.black, brand_slug="other").status_code == 404
    assert not CartLine.objects.exists()


def test_cart_link_opens_a_clerk_built_cart(catalogue, clerk, shopper):
    cart = services.new_cart(catalogue.brand, ref="clerk:E001", created_by=clerk)
    services.add_to_cart(cart, catalogue.black, 2)
    response = shopper.get(f"/shop/herb/cart/{cart.token}/")
    assert response.status_code == 302 and response["Location"] == "/shop/herb/cart/"
    page = shopper.get("/shop/herb/cart/")
    assert page.context["cart"].pk == cart.pk
    assert "data-cart-count>2<" in page_text(page)
    assert shopper.session[f"shop:{catalogue.brand.pk}:ref"] == "clerk:E001"


def test_cart_token_of_another_brand_is_404(catalogue, other_brand, shopper):
    cart = services.new_cart(catalogue.brand)
    assert shopper.get(f"/shop/other/cart/{cart.token}/").status_code == 404
    assert shopper.get("/shop/herb/cart/not-a-token/").status_code == 404
    assert f"shop:{other_brand.pk}:cart" not in shopper.session


def test_checked_out_cart_link_does_not_reopen(catalogue, shopper):
    cart = services.new_cart(catalogue.brand)
    services.add_to_cart(cart, catalogue.black, 1)
    services.checkout(
        cart,
        contact=services.Contact(
            name="林小美",
            phone="0912345678",
            address={"city": "台北市", "district": "信義區", "line1": "松高路 1 號"},
        ),
        fulfilment="ship",
        payment_method="cod",
    )
    response = shopper.get(f"/shop/herb/cart/{cart.token}/", follow=True)
    assert "這個購物車已經完成結帳" in page_text(response)
    assert f"shop:{catalogue.brand.pk}:cart" not in shopper.session


def test_ref_is_kept_in_the_session_and_copied_onto_the_cart(catalogue, shopper):
    shopper.get("/shop/herb/?ref=C123")
    add(shopper, catalogue.black)
    cart = session_cart(shopper, catalogue.brand)
    assert cart.ref == "C123"
    # A later clerk link wins, and reaches the cart that already exists.
    shopper.get("/shop/herb/p/organic-tee/?ref=C456")
    cart.refresh_from_db()
    assert cart.ref == "C456"
    # Junk is not stored.
    shopper.get("/shop/herb/?ref=<script>")
    cart.refresh_from_db()
    assert cart.ref == "C456"
