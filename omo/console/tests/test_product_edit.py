"""商品 in the console: add and edit products, variants, images and stock, with the refusals shown
next to their fields, nothing written when the input is bad, and store managers limited to their
own store's stock."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from omo.catalog.models import Product, ProductImage, StockLevel, StockMovement, Variant
from omo.core.models import AuditLog
from omo.testing import factories as f

NEW = {
    "title": "亞麻襯衫",
    "title_en": "Linen shirt",
    "handle": "",
    "vendor": "草本",
    "status": "active",
    "description": "透氣",
    "sku": "LIN-M",
    "variant_title": "白 / M",
    "price": "1280",
}

# The smallest valid PNG: what a phone's photo upload is, for the form.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6300010000000500010d0a2db40000000049454e44ae426082"
)


@pytest.fixture
def product(brand):
    return f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "白 / M", 59000)])


def test_an_admin_adds_a_product_with_its_first_variant(console, brand):
    response = console.post("/console/products/new/", NEW)

    product = Product.objects.get(brand=brand)
    assert response.status_code == 302 and response["Location"] == f"/console/products/{product.pk}/"
    assert (product.title, product.handle, product.status) == ("亞麻襯衫", "linen-shirt", "active")
    variant = product.variants.get()
    assert (variant.sku, variant.title, variant.price) == ("LIN-M", "白 / M", 128000)
    assert AuditLog.objects.filter(action="product.created", target_id=str(product.pk)).exists()
    page = console.get(f"/console/products/{product.pk}/").content.decode()
    assert "亞麻襯衫" in page and "NT$1,280" in page


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"title": ""}, "title", "必須"),
        ({"price": "-1"}, "price", "0"),
        ({"price": "abc"}, "price", "數字"),
        ({"handle": "has space"}, "handle", "不能有空白"),
        ({"sku": ""}, "sku", "必須"),
        ({"status": "sold"}, "status", "sold"),
    ],
)
def test_bad_product_inputs_are_named_and_nothing_is_saved(console, brand, change, field, message):
    response = console.post("/console/products/new/", {**NEW, **change})

    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors and message in " ".join(errors[field])
    assert not Product.objects.filter(brand=brand).exists()


def test_a_taken_handle_or_sku_is_a_sentence_and_nothing_is_half_made(console, brand, product):
    product.handle = "linen-shirt"
    product.save()

    taken_handle = console.post("/console/products/new/", NEW)
    assert "這個網址代稱已被其他商品使用" in taken_handle.content.decode()

    taken_sku = console.post("/console/products/new/", {**NEW, "handle": "linen-2", "sku": "TEE-M"})
    assert "這個 SKU 已被其他規格使用" in taken_sku.content.decode()
    assert Product.objects.filter(brand=brand).count() == 1  # the product was not made without its variant


def test_an_admin_edits_a_product_and_its_variant(console, product):
    data = {
        "title": "有機棉圓領T恤",
        "title_en": "Organic tee",
        "handle": product.handle,
        "vendor": "",
        "status": "archived",
        "description": "新版",
    }
    assert console.post(f"/console/products/{product.pk}/edit/", data).status_code == 302
    product.refresh_from_db()
    assert (product.title, product.status) == ("有機棉圓領T恤", "archived")
    logged = AuditLog.objects.get(action="product.updated", target_id=str(product.pk))
    assert set(logged.detail["fields"]) == {"title", "title_en", "status", "description"}

    variant = product.variants.get()
    response = console.post(
        f"/console/products/{product.pk}/variants/{variant.pk}/",
        {"title": "白 / M", "barcode": "4710000000017", "price": "490", "compare_at_price": "590"},
    )
    assert response.status_code == 302
    variant.refresh_from_db()
    assert (variant.price, variant.compare_at_price, variant.barcode, variant.is_active) == (
        49000,
        59000,
        "4710000000017",
        False,  # the box was left unticked: no longer sold
    )
    assert variant.sku == "TEE-M"


def test_an_admin_adds_a_second_variant(console, product):
    response = console.post(
        f"/console/products/{product.pk}/variants/new/",
        {"sku": "TEE-L", "title": "白 / L", "price": "590", "is_active": "on"},
    )
    assert response.status_code == 302
    assert list(product.variants.order_by("sort_order").values_list("sku", flat=True)) == ["TEE-M", "TEE-L"]

    clash = console.post(
        f"/console/products/{product.pk}/variants/new/", {"sku": "TEE-L", "price": "590", "is_active": "on"}
    )
    assert "這個 SKU 已被其他規格使用" in clash.content.decode()


def test_images_are_uploaded_linked_refused_and_removed(console, product, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("tee.png", PNG, content_type="image/png")
    assert (
        console.post(
            f"/console/products/{product.pk}/images/new/", {"file": upload, "alt": "正面"}
        ).status_code
        == 302
    )
    assert (
        console.post(
            f"/console/products/{product.pk}/images/new/", {"url": "https://cdn.example.com/tee-back.jpg"}
        ).status_code
        == 302
    )
    images = list(ProductImage.objects.filter(product=product).order_by("sort_order"))
    assert [bool(image.file) for image in images] == [True, False]
    page = console.get(f"/console/products/{product.pk}/").content.decode()
    assert images[0].src in page and "https://cdn.example.com/tee-back.jpg" in page

    neither = console.post(f"/console/products/{product.pk}/images/new/", {"alt": "x"})
    assert "擇一" in neither.content.decode()
    text = SimpleUploadedFile("notes.txt", b"hello", content_type="text/plain")
    wrong_type = console.post(f"/console/products/{product.pk}/images/new/", {"file": text})
    assert "不是 JPEG、PNG、WebP 或 GIF 圖片" in wrong_type.content.decode()
    assert ProductImage.objects.filter(product=product).count() == 2

    response = console.post(f"/console/products/{product.pk}/images/{images[1].pk}/remove/")
    assert response.status_code == 302
    assert list(ProductImage.objects.filter(product=product)) == [images[0]]
    assert AuditLog.objects.filter(action="product.image_removed").count() == 1


def test_stock_is_counted_received_and_never_below_what_is_reserved(console, product, store, hq_admin):
    variant = product.variants.get()
    location = store.location
    url = f"/console/products/{product.pk}/stock/"
    form = {"stock-variant": variant.pk, "stock-location": location.pk, "stock-note": "月盤"}

    assert console.post(url, {**form, "stock-mode": "set", "stock-quantity": "10"}).status_code == 302
    assert console.post(url, {**form, "stock-mode": "add", "stock-quantity": "5"}).status_code == 302
    assert console.post(url, {**form, "stock-mode": "remove", "stock-quantity": "2"}).status_code == 302
    assert StockLevel.objects.get(variant=variant, location=location).on_hand == 13
    movements = StockMovement.objects.filter(variant=variant).order_by("id")
    assert [(m.on_hand_delta, m.reason) for m in movements] == [
        (10, "adjustment"),
        (5, "receipt"),
        (-2, "adjustment"),
    ]
    assert {m.actor_id for m in movements} == {hq_admin.pk}

    StockLevel.objects.filter(variant=variant, location=location).update(reserved=12)
    refused = console.post(url, {**form, "stock-mode": "set", "stock-quantity": "3"})
    assert refused.status_code == 200
    assert "12 件已保留給訂單" in refused.content.decode()
    zero = console.post(url, {**form, "stock-mode": "add", "stock-quantity": "0"})
    assert "不能是 0" in zero.content.decode()
    assert StockLevel.objects.get(variant=variant, location=location).on_hand == 13


def test_a_store_manager_changes_only_their_own_stores_stock_and_no_product(
    client_for, brand, product, store, other_store, manager
):
    variant = product.variants.get()
    client = client_for(manager)
    page = client.get(f"/console/products/{product.pk}/").content.decode()
    assert "調整庫存" in page and "編輯商品" not in page

    url = f"/console/products/{product.pk}/stock/"
    own = {
        "stock-variant": variant.pk,
        "stock-location": store.location.pk,
        "stock-mode": "set",
        "stock-quantity": "4",
    }
    assert client.post(url, own).status_code == 302
    other = {**own, "stock-location": other_store.location.pk}
    response = client.post(url, other)
    assert response.status_code == 200 and "location" in response.context["form"].errors
    assert not StockLevel.objects.filter(location=other_store.location).exists()

    for path in ("/console/products/new/", f"/console/products/{product.pk}/edit/"):
        assert client.get(path).status_code == 403


def test_another_brands_product_is_not_found(client_for, other_admin, product):
    variant = product.variants.get()
    client = client_for(other_admin)
    for path in (
        f"/console/products/{product.pk}/edit/",
        f"/console/products/{product.pk}/variants/{variant.pk}/",
        f"/console/products/{product.pk}/images/new/",
        f"/console/products/{product.pk}/stock/",
    ):
        assert client.get(path).status_code == 404
    assert (
        client.post(f"/console/products/{product.pk}/variants/{variant.pk}/", {"price": "1"}).status_code
        == 404
    )
    assert Variant.objects.get(pk=variant.pk).price == 59000


def test_an_uploaded_image_is_served_at_its_address(console, product, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    upload = SimpleUploadedFile("tee.png", PNG, content_type="image/png")
    console.post(f"/console/products/{product.pk}/images/new/", {"file": upload})
    image = ProductImage.objects.get(product=product)

    served = console.get(image.src)

    assert served.status_code == 200 and served["Content-Type"] == "image/png"
    assert b"".join(served.streaming_content).startswith(b"\x89PNG")
    assert console.get("/media/../config/settings.py").status_code in (400, 404)  # never the file
