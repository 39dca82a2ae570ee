"""Browsing the shop: the brand index, home, search, a category, a product with its live stock."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from omo.catalog.models import Category, Variant
from omo.core.models import Brand
from omo.core.money import format_money
from omo.shop import selectors
from omo.shop import tracking as shop_tracking
from omo.shop.session import ShopSession
from omo.shop.views.base import render_shop, shop_view


@require_GET
def brand_index(request: HttpRequest) -> HttpResponse:
    """/shop/: straight into the shop when there is one brand, else one link per brand."""
    brands = list(Brand.objects.order_by("name", "id"))
    if len(brands) == 1:
        url = reverse("shop:home", kwargs={"brand_slug": brands[0].slug})
        query = request.GET.urlencode()
        return HttpResponseRedirect(f"{url}?{query}" if query else url)
    return render(request, "shop/brands.html", {"brands": brands})


def _listing(
    request: HttpRequest,
    brand: Brand,
    shop: ShopSession,
    *,
    category: Category | None = None,
    query: str = "",
    heading: str,
) -> HttpResponse:
    products = selectors.listing(brand, category=category, query=query)
    page = Paginator(products, selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    keep = {"q": query} if query else {}
    return render_shop(
        request,
        brand,
        shop,
        "home.html",
        {
            "categories": selectors.categories(brand),
            "current_category": category,
            "query": query,
            "heading": heading,
            "page": page,
            "page_query": urlencode(keep),
        },
    )


@require_GET
@shop_view
def home(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    if query:
        return _listing(request, brand, shop, query=query, heading=_("「%(q)s」的搜尋結果") % {"q": query})
    return _listing(request, brand, shop, heading=_("全部商品"))


@require_GET
@shop_view
def search(request: HttpRequest, brand: Brand, shop: ShopSession) -> HttpResponse:
    query = request.GET.get("q", "").strip()
    heading = _("「%(q)s」的搜尋結果") % {"q": query} if query else _("全部商品")
    return _listing(request, brand, shop, query=query, heading=heading)


@require_GET
@shop_view
def category(request: HttpRequest, brand: Brand, shop: ShopSession, category_slug: str) -> HttpResponse:
    found = selectors.category_by_slug(brand, category_slug)
    return _listing(request, brand, shop, category=found, heading=str(found))


@require_GET
@shop_view
def product(request: HttpRequest, brand: Brand, shop: ShopSession, handle: str) -> HttpResponse:
    """The product page. It reads the catalogue and stock only, never orders, so it stays fast at
    any order volume (about seven indexed queries, asserted in the tests)."""
    page = selectors.product_page(brand, handle)
    stock = selectors.stock_for([variant.pk for variant in page.variants])
    selected = _selected_variant(request, page.variants, stock)
    variants_json = [
        {
            "id": v.pk,
            "title": v.title,
            "price": v.price,
            "price_display": format_money(v.price, brand.currency),
            "compare_at": v.compare_at_price,
            "compare_at_display": format_money(v.compare_at_price, brand.currency),
        }
        for v in page.variants
    ]
    return render_shop(
        request,
        brand,
        shop,
        "product.html",
        {
            "product": page.product,
            "images": page.images,
            "variants": page.variants,
            "selected": selected,
            "stock": stock[selected.pk],
            "stock_by_variant": stock,
            "track_events": [
                {
                    "event": "Product Viewed",
                    "properties": {
                        **shop_tracking.product_properties(selected, brand=brand, url=request.path),
                        **({"image_url": page.images[0].url} if page.images and page.images[0].url else {}),
                    },
                }
            ],
            "shop_data": {
                "variants": variants_json,
                "stock": {str(k): v.as_json() for k, v in stock.items()},
                "stock_url": reverse("shop:stock", kwargs={"brand_slug": brand.slug, "handle": handle}),
            },
        },
    )


def _selected_variant(
    request: HttpRequest, variants: list[Variant], stock: dict[int, selectors.VariantStock]
) -> Variant:
    wanted = request.GET.get("variant", "")
    for variant in variants:
        if str(variant.pk) == wanted:
            return variant
    # Otherwise the first one that can be bought, so the page opens on something addable.
    return next((v for v in variants if stock[v.pk].can_add), variants[0])


@never_cache
@require_GET
@shop_view
def stock_json(request: HttpRequest, brand: Brand, shop: ShopSession, handle: str) -> JsonResponse:
    """Live stock of every variant of a product; polled by the product page."""
    variant_ids = selectors.variant_ids_for(brand, handle)
    stock = selectors.stock_for(variant_ids)
    return JsonResponse({"variants": [stock[variant_id].as_json() for variant_id in variant_ids]})
