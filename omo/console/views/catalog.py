"""Products with their variants, and stock per location (on hand, reserved, available)."""

from __future__ import annotations

from django.http import Http404, HttpResponse

from omo.catalog import selectors
from omo.catalog.models import Product
from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.forms import ProductFilterForm, StockFilterForm
from omo.console.pages import paginate, render_page
from omo.console.views.catalog_edit import stock_form


@console_view("catalog.read")
def product_list(request: ConsoleRequest) -> HttpResponse:
    form = ProductFilterForm(request.GET, user=request.user)
    category = form.value("category")
    products = selectors.product_list(actor_for(request), form.query, category.pk if category else None)
    return render_page(
        request,
        "console/catalog/products.html",
        {"form": form, "page": paginate(request, products), "may_edit": request.user.can("catalog.write")},
    )


@console_view("catalog.read")
def product_detail(request: ConsoleRequest, pk: int) -> HttpResponse:
    try:
        product = selectors.product_detail(actor_for(request), pk)
    except Product.DoesNotExist as exc:
        raise Http404 from exc
    actor = actor_for(request)
    locations, rows = selectors.product_stock(actor, product)
    images = selectors.visible_product_images(actor).filter(product=product).order_by("sort_order", "id")
    return render_page(
        request,
        "console/catalog/product_detail.html",
        {
            "product": product,
            "locations": locations,
            "rows": rows,
            "images": images,
            "stock_form": stock_form(request, product) if rows else None,
            "may_edit": request.user.can("catalog.write"),
        },
    )


@console_view("catalog.read")
def stock_list(request: ConsoleRequest) -> HttpResponse:
    form = StockFilterForm(request.GET, user=request.user)
    location = form.value("location")
    levels = selectors.stock_list(
        actor_for(request),
        location_id=location.pk if location else None,
        query=form.query,
        low_at=form.value("low"),
    )
    return render_page(
        request, "console/catalog/stock.html", {"form": form, "page": paginate(request, levels)}
    )
