"""Catalogue over the REST API: categories, products with variants and images, stock and its ledger."""

from __future__ import annotations

import io

import pytest
from django.test import override_settings
from PIL import Image

from omo.catalog.models import Product, ProductImage, StockLevel, StockMovement, Variant
from omo.core.models import AuditLog
from omo.testing import factories as f

PRODUCT = {
    "handle": "linen-shirt",
    "title": "亞麻襯衫",
    "title_en": "Linen shirt",
    "description": "透氣",
    "variants": [
        {"sku": "LIN-S", "title": "S", "price": 128000, "compare_at_price": 158000, "options": {"size": "S"}},
        {"sku": "LIN-M", "title": "M", "price": 128000},
    ],
    "image_urls": ["https://img.example/linen.jpg"],
}


def test_create_product_with_variants_and_image(api, brand):
    category = api.post("/api/v1/categories", {"name": "上衣", "name_en": "Tops"}).json()
    response = api.post("/api/v1/products", {**PRODUCT, "category_id": category["id"]})

    assert response.status_code == 201, response.content
    data = response.json()
    product = Product.objects.get(brand=brand)
    assert (data["id"], data["handle"], data["title"], data["category_id"], data["status"]) == (
        product.pk,
        "linen-shirt",
        "亞麻襯衫",
        category["id"],
        "active",
    )
    assert [
        (v["sku"], v["price"], v["compare_at_price"], v["currency"], v["options"]) for v in data["variants"]
    ] == [
        ("LIN-S", 128000, 158000, "TWD", {"size": "S"}),
        ("LIN-M", 128000, None, "TWD", {}),
    ]
    assert [(i["src"], i["url"]) for i in data["images"]] == [("https://img.example/linen.jpg",) * 2]
    assert AuditLog.objects.filter(action="product.created", target_id=str(product.pk)).exists()


def test_duplicate_sku_is_409_and_creates_nothing(api, brand):
    f.make_product(brand, variants=[("LIN-S", "", 100)])
    response = api.post("/api/v1/products", PRODUCT)
    assert response.status_code == 409
    assert response.json()["field"] == "variants[0].sku"
    assert not Product.objects.filter(handle="linen-shirt").exists()


@pytest.mark.parametrize(
    ("change", "status", "field"),
    [
        ({"handle": "has space"}, 422, "handle"),
        ({"variants": [{"sku": "X", "price": -1}]}, 422, "price"),
        ({"variants": [{"sku": "X"}]}, 422, "price"),
        ({"image_urls": ["javascript:alert(1)"]}, 422, "image_urls[0]"),
        ({"category_id": 999999}, 422, "category_id"),
    ],
)
def test_bad_products_name_the_field(api, brand, change, status, field):
    response = api.post("/api/v1/products", {**PRODUCT, **change})
    assert response.status_code == status
    body = response.json()
    named = body.get("field") or body["detail"][0]["loc"][-1]
    assert named == field


def test_list_products_searches_and_paginates_without_n_plus_1(api, brand, django_assert_max_num_queries):
    for n in range(3):
        f.make_product(brand, f"商品{n}", variants=[(f"SKU-{n}", "", 1000), (f"SKU-{n}b", "", 1000)])
    with django_assert_max_num_queries(6):
        data = api.get("/api/v1/products", limit=2).json()
    assert (data["total"], len(data["items"])) == (3, 2)
    assert [item["title"] for item in api.get("/api/v1/products", q="SKU-1b").json()["items"]] == ["商品1"]


def test_update_product_and_variant(api, brand):
    product = f.make_product(brand, variants=[("V-1", "", 1000)])
    variant = product.variants.get()
    assert (
        api.patch(f"/api/v1/products/{product.pk}", {"title": "新名", "status": "draft"}).json()["title"]
        == "新名"
    )
    response = api.patch(f"/api/v1/variants/{variant.pk}", {"price": 2500})
    assert response.status_code == 200 and response.json()["price"] == 2500
    product.refresh_from_db()
    assert product.status == "draft"


def test_add_variant_to_product(api, brand):
    product = f.make_product(brand, variants=[("V-1", "", 1000)])
    response = api.post(
        f"/api/v1/products/{product.pk}/variants", {"sku": "V-2", "title": "L", "price": 1200}
    )
    assert response.status_code == 201
    assert response.json()["sort_order"] == 1
    assert list(product.variants.values_list("sku", flat=True)) == ["V-1", "V-2"]


def test_image_by_url_and_by_upload(api, brand, tmp_path):
    product = f.make_product(brand)
    by_url = api.post(
        f"/api/v1/products/{product.pk}/images", {"url": "https://img.example/a.png", "alt": "正面"}
    )
    assert by_url.status_code == 201 and by_url.json()["alt"] == "正面"
    with override_settings(MEDIA_ROOT=tmp_path):
        upload = api.client.post(
            f"/api/v1/products/{product.pk}/images/upload",
            {"file": _png("side.png"), "alt": "側面"},
            **api._headers(),
        )
        assert upload.status_code == 201, upload.content
        assert upload.json()["src"].startswith("/media/products/side")
        bad = api.client.post(
            f"/api/v1/products/{product.pk}/images/upload",
            {"file": _png("x.txt", "text/plain")},
            **api._headers(),
        )
        assert bad.status_code == 422 and bad.json()["field"] == "file"
        image_id = upload.json()["id"]
        assert api.delete(f"/api/v1/products/{product.pk}/images/{image_id}").status_code == 204
    assert list(ProductImage.objects.values_list("alt", flat=True)) == ["正面"]


def _png(name: str, content_type: str = "image/png"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), "#D9CBB0").save(buffer, "PNG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type=content_type)


# --- stock ------------------------------------------------------------------------------------


@pytest.fixture
def shirt(brand):
    return f.make_product(brand, variants=[("TEE-M", "M", 59000)]).variants.get()


def test_adjust_and_set_stock_write_the_ledger(api, brand, store, warehouse, shirt):
    added = api.post(
        "/api/v1/stock/adjust", {"sku": "TEE-M", "location_code": "WH", "delta": 10, "reason": "receipt"}
    )
    assert added.status_code == 200, added.content
    assert {k: added.json()[k] for k in ("sku", "location_code", "on_hand", "reserved", "available")} == {
        "sku": "TEE-M",
        "location_code": "WH",
        "on_hand": 10,
        "reserved": 0,
        "available": 10,
    }
    counted = api.post(
        "/api/v1/stock/set", {"sku": "TEE-M", "location_code": "WH", "on_hand": 7, "note": "盤點"}
    )
    assert counted.json()["on_hand"] == 7

    ledger = api.get("/api/v1/stock/movements", sku="TEE-M").json()
    assert ledger["total"] == 2
    assert [(m["on_hand_delta"], m["reason"], m["note"]) for m in ledger["items"]] == [
        (-3, "adjustment", "盤點"),
        (10, "receipt", ""),
    ]
    levels = api.get("/api/v1/stock", sku="TEE-M").json()["items"]
    assert [(level["location_code"], level["available"]) for level in levels] == [("WH", 7)]


def test_removing_reserved_stock_is_409(api, brand, warehouse, shirt):
    level = f.set_stock(shirt, warehouse, 5)
    StockLevel.objects.filter(pk=level.pk).update(reserved=4)
    response = api.post("/api/v1/stock/adjust", {"sku": "TEE-M", "location_code": "WH", "delta": -2})
    assert response.status_code == 409
    assert response.json()["code"] == "stock_conflict"
    assert StockLevel.objects.get(pk=level.pk).on_hand == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"sku": "NOPE", "location_code": "WH", "delta": 1}, "sku"),
        ({"sku": "TEE-M", "location_code": "NOPE", "delta": 1}, "location_code"),
        ({"sku": "TEE-M", "location_code": "WH", "delta": 0}, "delta"),
    ],
)
def test_bad_stock_adjustments_name_the_field(api, brand, warehouse, shirt, body, field):
    response = api.post("/api/v1/stock/adjust", body)
    assert response.status_code == 422
    assert response.json()["field"] == field
    assert not StockMovement.objects.exists()


def test_negative_count_is_422(api, brand, warehouse, shirt):
    response = api.post("/api/v1/stock/set", {"sku": "TEE-M", "location_code": "WH", "on_hand": -1})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "on_hand"


def test_store_manager_key_may_not_change_stock_outside_its_store(brand, warehouse, shirt):
    manager_api = f.ApiClient(f.make_api_key(brand, role="store_manager"))
    response = manager_api.post("/api/v1/stock/adjust", {"sku": "TEE-M", "location_code": "WH", "delta": 1})
    assert response.status_code == 403
    assert not StockMovement.objects.exists()


def test_clerk_reads_catalogue_but_may_not_write(clerk_api, brand, shirt):
    assert clerk_api.get("/api/v1/products").json()["total"] == 1
    response = clerk_api.post("/api/v1/categories", {"name": "x"})
    assert response.status_code == 403
    assert response.json()["detail"] == "role clerk may not catalog.write"
    assert Variant.objects.count() == 1
