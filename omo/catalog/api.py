"""REST endpoints for the catalogue: categories, products with variants and images, stock."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest
from ninja import File, Form, Query, Router, Schema, Status, UploadedFile
from pydantic import Field

from omo.catalog import inventory, services
from omo.catalog import selectors as catalog_selectors
from omo.catalog.models import (
    Location,
    Product,
    ProductImage,
    ProductStatus,
    StockLevel,
    StockMovement,
    Variant,
)
from omo.core.api import ApiError, ErrorOut, PageParams, actor_of, allow, get_or_404, page
from omo.core.audit import Actor

router = Router(tags=["catalog"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# --- shapes -----------------------------------------------------------------------------------


class CategoryIn(Schema):
    name: str = Field(..., min_length=1, max_length=120)
    name_en: str = Field("", max_length=120)
    slug: str = Field("", max_length=80, description="made from the name when empty")
    parent_id: int | None = None
    sort_order: int = 0


class CategoryPatch(Schema):
    name: str | None = Field(None, min_length=1, max_length=120)
    name_en: str | None = Field(None, max_length=120)
    parent_id: int | None = None
    sort_order: int | None = None


class CategoryOut(Schema):
    id: int
    name: str
    name_en: str
    slug: str
    parent_id: int | None
    sort_order: int


class CategoryPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[CategoryOut]


class VariantIn(Schema):
    sku: str = Field(..., min_length=1, max_length=64)
    title: str = Field("", max_length=120)
    barcode: str = Field("", max_length=64)
    price: int = Field(..., ge=0, description="minor units (NT$1 = 100)")
    compare_at_price: int | None = Field(None, ge=0)
    options: dict[str, str] = Field(default_factory=dict)
    is_active: bool = True


class VariantPatch(Schema):
    title: str | None = Field(None, max_length=120)
    barcode: str | None = Field(None, max_length=64)
    price: int | None = Field(None, ge=0)
    compare_at_price: int | None = Field(None, ge=0)
    options: dict[str, str] | None = None
    is_active: bool | None = None
    sort_order: int | None = None


class VariantOut(Schema):
    id: int
    product_id: int
    sku: str
    title: str
    barcode: str
    options: dict[str, Any]
    price: int
    compare_at_price: int | None
    currency: str
    is_active: bool
    sort_order: int


class ImageOut(Schema):
    id: int
    src: str
    url: str
    alt: str
    sort_order: int


class ImageUrlIn(Schema):
    url: str = Field(..., min_length=1, max_length=1000)
    alt: str = Field("", max_length=200)


class ProductIn(Schema):
    handle: str = Field(..., min_length=1, max_length=120)
    title: str = Field(..., min_length=1, max_length=200)
    title_en: str = Field("", max_length=200)
    description: str = ""
    category_id: int | None = None
    vendor: str = Field("", max_length=120)
    status: ProductStatus = ProductStatus.ACTIVE
    variants: list[VariantIn] = Field(default_factory=list, max_length=200)
    image_urls: list[str] = Field(default_factory=list, max_length=50)


class ProductPatch(Schema):
    handle: str | None = Field(None, min_length=1, max_length=120)
    title: str | None = Field(None, min_length=1, max_length=200)
    title_en: str | None = Field(None, max_length=200)
    description: str | None = None
    category_id: int | None = None
    vendor: str | None = Field(None, max_length=120)
    status: ProductStatus | None = None


class ProductOut(Schema):
    id: int
    handle: str
    title: str
    title_en: str
    description: str
    category_id: int | None
    vendor: str
    status: str
    created_at: dt.datetime
    updated_at: dt.datetime
    variants: list[VariantOut]
    images: list[ImageOut]


class ProductPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[ProductOut]


class ProductFilters(Schema):
    q: str | None = Field(None, description="title, handle, SKU or barcode contains")
    category_id: int | None = None
    status: ProductStatus | None = None


class StockLevelOut(Schema):
    variant_id: int
    sku: str
    location_id: int
    location_code: str
    on_hand: int
    reserved: int
    available: int
    updated_at: dt.datetime

    @staticmethod
    def resolve_sku(level: StockLevel) -> str:
        return level.variant.sku

    @staticmethod
    def resolve_location_code(level: StockLevel) -> str:
        return level.location.code


class StockPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[StockLevelOut]


class StockFilters(Schema):
    sku: str | None = None
    variant_id: int | None = None
    location_code: str | None = None


class StockAdjustIn(Schema):
    sku: str = Field(..., min_length=1, max_length=64)
    location_code: str = Field(..., min_length=1, max_length=30)
    delta: int = Field(..., description="units added (positive) or removed (negative); not zero")
    reason: str = Field(
        StockMovement.Reason.ADJUSTMENT,
        description="receipt | adjustment | transfer | return",
        pattern="^(receipt|adjustment|transfer|return)$",
    )
    note: str = Field("", max_length=250)


class StockSetIn(Schema):
    sku: str = Field(..., min_length=1, max_length=64)
    location_code: str = Field(..., min_length=1, max_length=30)
    on_hand: int = Field(..., ge=0, description="the counted quantity")
    note: str = Field("", max_length=250)


class MovementOut(Schema):
    id: int
    variant_id: int
    sku: str
    location_id: int
    location_code: str
    on_hand_delta: int
    reserved_delta: int
    reason: str
    reference: str
    note: str
    actor_id: int | None
    created_at: dt.datetime

    @staticmethod
    def resolve_sku(movement: StockMovement) -> str:
        return movement.variant.sku

    @staticmethod
    def resolve_location_code(movement: StockMovement) -> str:
        return movement.location.code


class MovementPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[MovementOut]


class MovementFilters(StockFilters):
    reason: StockMovement.Reason | None = None


# --- helpers ----------------------------------------------------------------------------------


def _products(actor: Actor) -> QuerySet[Product]:
    return catalog_selectors.visible_products(actor).prefetch_related("variants", "images")


def _product(actor: Actor, product_id: int) -> Product:
    return get_or_404(_products(actor), f"product {product_id}", pk=product_id)


def _variant(actor: Actor, sku: str) -> Variant:
    found = catalog_selectors.visible_variants(actor).filter(sku=sku).first()
    if found is None:
        raise ApiError(422, "invalid", f"no variant with sku {sku!r}", field="sku")
    return found


def _location_for_write(actor: Actor, code: str) -> Location:
    location = catalog_selectors.visible_locations(actor).filter(code=code).first()
    if location is None:
        raise ApiError(422, "invalid", f"no location with code {code!r}", field="location_code")
    if not catalog_selectors.may_change_stock_at(actor, location):
        raise ApiError(
            403,
            "forbidden",
            f"role {actor.role} may change stock only at its own store",
            field="location_code",
        )
    return location


def _stock_levels(actor: Actor, filters: StockFilters) -> QuerySet[StockLevel]:
    levels = catalog_selectors.visible_stock_levels(actor).select_related("variant", "location")
    if filters.sku:
        levels = levels.filter(variant__sku=filters.sku)
    if filters.variant_id is not None:
        levels = levels.filter(variant_id=filters.variant_id)
    if filters.location_code:
        levels = levels.filter(location__code=filters.location_code)
    return levels


# --- categories -------------------------------------------------------------------------------


@router.get("/categories", auth=allow("catalog.read"), response={200: CategoryPage, **ERRORS})
def list_categories(request: HttpRequest, paging: Query[PageParams]):
    return page(catalog_selectors.visible_categories(actor_of(request)), paging)


@router.post("/categories", auth=allow("catalog.write"), response={201: CategoryOut, **ERRORS})
def create_category(request: HttpRequest, data: CategoryIn):
    actor = actor_of(request)
    return Status(201, services.create_category(actor.brand, actor=actor, **data.model_dump()))


@router.get("/categories/{category_id}", auth=allow("catalog.read"), response={200: CategoryOut, **ERRORS})
def get_category(request: HttpRequest, category_id: int):
    return get_or_404(
        catalog_selectors.visible_categories(actor_of(request)), f"category {category_id}", pk=category_id
    )


@router.patch("/categories/{category_id}", auth=allow("catalog.write"), response={200: CategoryOut, **ERRORS})
def update_category(request: HttpRequest, category_id: int, data: CategoryPatch):
    actor = actor_of(request)
    category = get_or_404(
        catalog_selectors.visible_categories(actor), f"category {category_id}", pk=category_id
    )
    return services.update_category(category, actor=actor, **data.model_dump(exclude_unset=True))


# --- products, variants, images ---------------------------------------------------------------


@router.get("/products", auth=allow("catalog.read"), response={200: ProductPage, **ERRORS})
def list_products(request: HttpRequest, filters: Query[ProductFilters], paging: Query[PageParams]):
    products = _products(actor_of(request))
    if filters.q:
        products = products.filter(
            Q(title__icontains=filters.q)
            | Q(handle__icontains=filters.q)
            | Q(variants__sku__icontains=filters.q)
            | Q(variants__barcode=filters.q)
        ).distinct()
    if filters.category_id is not None:
        products = products.filter(category_id=filters.category_id)
    if filters.status:
        products = products.filter(status=filters.status)
    return page(products.order_by("id"), paging)


@router.post("/products", auth=allow("catalog.write"), response={201: ProductOut, **ERRORS})
def create_product(request: HttpRequest, data: ProductIn):
    """A product with its variants (prices in minor units) and image URLs, all or nothing."""
    actor = actor_of(request)
    payload = data.model_dump()
    payload["variants"] = [variant.model_dump() for variant in data.variants]
    product = services.create_product(actor.brand, actor=actor, **payload)
    return Status(201, _product(actor, product.pk))


@router.get("/products/{product_id}", auth=allow("catalog.read"), response={200: ProductOut, **ERRORS})
def get_product(request: HttpRequest, product_id: int):
    return _product(actor_of(request), product_id)


@router.patch("/products/{product_id}", auth=allow("catalog.write"), response={200: ProductOut, **ERRORS})
def update_product(request: HttpRequest, product_id: int, data: ProductPatch):
    actor = actor_of(request)
    services.update_product(_product(actor, product_id), actor=actor, **data.model_dump(exclude_unset=True))
    return _product(actor, product_id)


@router.post(
    "/products/{product_id}/variants", auth=allow("catalog.write"), response={201: VariantOut, **ERRORS}
)
def add_variant(request: HttpRequest, product_id: int, data: VariantIn):
    actor = actor_of(request)
    return Status(201, services.add_variant(_product(actor, product_id), actor=actor, **data.model_dump()))


@router.patch("/variants/{variant_id}", auth=allow("catalog.write"), response={200: VariantOut, **ERRORS})
def update_variant(request: HttpRequest, variant_id: int, data: VariantPatch):
    actor = actor_of(request)
    variant = get_or_404(catalog_selectors.visible_variants(actor), f"variant {variant_id}", pk=variant_id)
    return services.update_variant(variant, actor=actor, **data.model_dump(exclude_unset=True))


@router.post("/products/{product_id}/images", auth=allow("catalog.write"), response={201: ImageOut, **ERRORS})
def add_image_url(request: HttpRequest, product_id: int, data: ImageUrlIn):
    """Add an image hosted elsewhere (http or https URL)."""
    actor = actor_of(request)
    return Status(
        201, services.add_image(_product(actor, product_id), actor=actor, url=data.url, alt=data.alt)
    )


@router.post(
    "/products/{product_id}/images/upload", auth=allow("catalog.write"), response={201: ImageOut, **ERRORS}
)
def upload_image(request: HttpRequest, product_id: int, file: File[UploadedFile], alt: Form[str] = ""):
    """Upload an image file (multipart/form-data: `file`, optional `alt`): JPEG, PNG, WebP or GIF, 5 MB max."""
    actor = actor_of(request)
    return Status(201, services.add_image(_product(actor, product_id), actor=actor, file=file, alt=alt))


@router.delete(
    "/products/{product_id}/images/{image_id}", auth=allow("catalog.write"), response={204: None, **ERRORS}
)
def remove_image(request: HttpRequest, product_id: int, image_id: int):
    actor = actor_of(request)
    image = get_or_404(
        ProductImage.objects.filter(brand=actor.brand, product_id=product_id).select_related("product"),
        f"image {image_id}",
        pk=image_id,
    )
    services.remove_image(image, actor=actor)
    return Status(204, None)


# --- stock ------------------------------------------------------------------------------------


@router.get("/stock", auth=allow("catalog.read"), response={200: StockPage, **ERRORS})
def list_stock(request: HttpRequest, filters: Query[StockFilters], paging: Query[PageParams]):
    """Stock levels per variant and location: on hand, reserved and available."""
    return page(_stock_levels(actor_of(request), filters).order_by("variant_id", "location_id"), paging)


@router.post("/stock/adjust", auth=allow("stock.write"), response={200: StockLevelOut, **ERRORS})
def adjust_stock(request: HttpRequest, data: StockAdjustIn):
    """Add (delta > 0) or remove (delta < 0) units; never below what is reserved (409)."""
    actor = actor_of(request)
    if data.delta == 0:
        raise ApiError(422, "invalid", "must not be zero", field="delta")
    variant, location = _variant(actor, data.sku), _location_for_write(actor, data.location_code)
    level = inventory.adjust_stock(variant, location, data.delta, reason=data.reason, note=data.note)
    return StockLevel.objects.select_related("variant", "location").get(pk=level.pk)


@router.post("/stock/set", auth=allow("stock.write"), response={200: StockLevelOut, **ERRORS})
def set_stock(request: HttpRequest, data: StockSetIn):
    """Set the counted quantity (stock take); the ledger records the difference."""
    actor = actor_of(request)
    variant, location = _variant(actor, data.sku), _location_for_write(actor, data.location_code)
    level = inventory.set_stock(variant, location, data.on_hand, note=data.note)
    return StockLevel.objects.select_related("variant", "location").get(pk=level.pk)


@router.get("/stock/movements", auth=allow("catalog.read"), response={200: MovementPage, **ERRORS})
def list_movements(request: HttpRequest, filters: Query[MovementFilters], paging: Query[PageParams]):
    """The stock ledger, newest first."""
    movements = catalog_selectors.visible_stock_movements(actor_of(request)).select_related(
        "variant", "location"
    )
    if filters.sku:
        movements = movements.filter(variant__sku=filters.sku)
    if filters.variant_id is not None:
        movements = movements.filter(variant_id=filters.variant_id)
    if filters.location_code:
        movements = movements.filter(location__code=filters.location_code)
    if filters.reason:
        movements = movements.filter(reason=filters.reason)
    return page(movements.order_by("-id"), paging)
