"""Products (search, category filter) and stock per location."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from omo.catalog.models import StockLevel, Variant
from omo.testing import factories as f


@pytest.fixture
def catalogue(brand, store, other_store, warehouse):
    tops = f.make_category(brand, "上衣")
    shoes = f.make_category(brand, "鞋款")
    tee = f.make_product(
        brand,
        "有機棉T恤",
        category=tops,
        variants=[("TEE-BLK-M", "黑 / M", 99000), ("TEE-BLK-L", "黑 / L", 109000)],
    )
    Variant.objects.filter(sku="TEE-BLK-M").update(barcode="4710000000017")
    runner = f.make_product(brand, "輕量跑鞋", category=shoes, variants=[("RUN-42", "42", 320000)])
    m, large = tee.variants.order_by("sort_order")
    f.set_stock(m, store.location, 5)
    f.set_stock(m, warehouse, 20)
    StockLevel.objects.filter(variant=m, location=warehouse).update(reserved=3)
    f.set_stock(large, other_store.location, 0)
    f.set_stock(runner.variants.get(), warehouse, 7)
    return {"tee": tee, "runner": runner, "tops": tops}


def titles(response) -> list[str]:
    return [product.title for product in response.context["page"].object_list]


@pytest.mark.parametrize("query", ["T恤", "tee-blk", "TEE-BLK-L", "4710000000017"])
def test_search_by_title_sku_or_barcode(console, catalogue, query):
    assert titles(console.get(reverse("console:products"), {"q": query})) == ["有機棉T恤"]


def test_category_filter_and_list_figures(console, catalogue):
    response = console.get(reverse("console:products"), {"category": catalogue["tops"].pk})
    [tee] = response.context["page"].object_list
    assert (tee.variant_count, tee.min_price, tee.max_price, tee.on_hand) == (2, 99000, 109000, 25)
    assert "NT$990 – NT$1,090" in response.content.decode()


def test_product_list_queries_do_not_grow(console, brand, catalogue):
    with CaptureQueriesContext(connection) as few:
        console.get(reverse("console:products"))
    for n in range(15):
        f.make_product(brand, f"商品{n}", variants=[(f"BULK-{n}-A", "A", 100), (f"BULK-{n}-B", "B", 200)])
    with CaptureQueriesContext(connection) as many:
        console.get(reverse("console:products"))
    assert len(many) == len(few)


def test_detail_shows_stock_per_location(console, catalogue, store, other_store, warehouse):
    response = console.get(reverse("console:product_detail", args=[catalogue["tee"].pk]))
    assert response.status_code == 200
    locations = response.context["locations"]
    rows = {row.variant.sku: row for row in response.context["rows"]}
    m = rows["TEE-BLK-M"]
    cells = dict(zip([location.pk for location in locations], m.cells, strict=True))
    assert (cells[store.location.pk].on_hand, cells[store.location.pk].available) == (5, 5)
    assert (cells[warehouse.pk].on_hand, cells[warehouse.pk].reserved, cells[warehouse.pk].available) == (
        20,
        3,
        17,
    )
    assert cells[other_store.location.pk] is None
    assert (m.on_hand, m.reserved, m.available) == (25, 3, 22)
    assert rows["TEE-BLK-L"].available == 0
    body = response.content.decode()
    assert '<td class="num" data-available>22</td>' in body


def test_stock_page_filters(console, catalogue, warehouse):
    response = console.get(reverse("console:stock"), {"location": warehouse.pk})
    assert {level.variant.sku for level in response.context["page"].object_list} == {"TEE-BLK-M", "RUN-42"}
    response = console.get(reverse("console:stock"), {"low": 0})
    assert [level.variant.sku for level in response.context["page"].object_list] == ["TEE-BLK-L"]
    response = console.get(reverse("console:stock"), {"q": "跑鞋"})
    assert [level.variant.sku for level in response.context["page"].object_list] == ["RUN-42"]
