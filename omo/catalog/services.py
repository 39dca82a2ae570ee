"""Catalogue verbs: categories, products with variants and images. Used by the API and CSV import."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.validators import URLValidator, validate_unicode_slug
from django.db import transaction
from django.utils.text import slugify

from omo.catalog import line_images, tasks
from omo.catalog.models import Category, Product, ProductImage, Variant
from omo.core import audit
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.models import Brand


class CatalogError(FieldError, ValueError):
    """A refusal naming the field: a bad value (422), or a clash with existing rows (409)."""

    @property
    def conflict(self) -> bool:
        return self.status == 409


IMAGE_TYPES = {"image/jpeg", "image/png", "image/webp", "image/gif"}
MAX_IMAGE_BYTES = 5 * 1024 * 1024


def check_handle(handle: str) -> str:
    handle = (handle or "").strip()
    try:
        validate_unicode_slug(handle)
    except ValidationError as exc:
        raise CatalogError("handle", "use letters, digits, - or _ only (e.g. organic-tee)") from exc
    return handle


def check_url(url: str, field: str = "url") -> str:
    url = (url or "").strip()
    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError as exc:
        raise CatalogError(field, f"not an http(s) URL: {url!r}") from exc
    return url


# --- categories -------------------------------------------------------------------------------


@transaction.atomic
def create_category(
    brand: Brand,
    *,
    actor: Actor | None,
    name: str,
    name_en: str = "",
    slug: str = "",
    parent_id: int | None = None,
    sort_order: int = 0,
) -> Category:
    name = name.strip()
    if not name:
        raise CatalogError("name", "is required")
    slug = slugify(slug or name, allow_unicode=True)[:80]
    if not slug:
        raise CatalogError("slug", "is required")
    if Category.objects.filter(brand=brand, slug=slug).exists():
        raise CatalogError("slug", f"{slug} already exists", status=409)
    if parent_id is not None and not Category.objects.filter(brand=brand, pk=parent_id).exists():
        raise CatalogError("parent_id", f"no category {parent_id}")
    category = Category.objects.create(
        brand=brand, name=name, name_en=name_en, slug=slug, parent_id=parent_id, sort_order=sort_order
    )
    if actor is not None:
        audit.record(actor, "category.created", category, name=name)
    return category


def category_named(brand: Brand, name: str, *, actor: Actor | None = None) -> Category:
    """The category whose slug or name is `name`, created when there is none (CSV import)."""
    name = name.strip()
    found = Category.objects.filter(brand=brand, slug=slugify(name, allow_unicode=True)).first()
    found = found or Category.objects.filter(brand=brand, name=name).first()
    return found or create_category(brand, actor=actor, name=name)


@transaction.atomic
def update_category(category: Category, *, actor: Actor, **changes: Any) -> Category:
    if "parent_id" in changes and changes["parent_id"] is not None:
        if changes["parent_id"] == category.pk:
            raise CatalogError("parent_id", "a category cannot be its own parent")
        if not Category.objects.filter(brand_id=category.brand_id, pk=changes["parent_id"]).exists():
            raise CatalogError("parent_id", f"no category {changes['parent_id']}")
    if "name" in changes and not (changes["name"] or "").strip():
        raise CatalogError("name", "is required")
    for field, value in changes.items():
        setattr(category, field, value)
    category.save()
    audit.record(actor, "category.updated", category, fields=sorted(changes))
    return category


# --- products and variants --------------------------------------------------------------------


def _check_category(brand: Brand, category_id: int | None) -> None:
    if category_id is not None and not Category.objects.filter(brand=brand, pk=category_id).exists():
        raise CatalogError("category_id", f"no category {category_id}")


def _check_sku_free(brand_id: int, sku: str, *, product: Product | None = None, field: str = "sku") -> None:
    owner = Variant.objects.filter(brand_id=brand_id, sku=sku).select_related("product").first()
    if owner is not None and (product is None or owner.product_id != product.pk):
        raise CatalogError(field, f"sku {sku} already belongs to product {owner.product.handle}", status=409)


def _check_prices(price: int, compare_at_price: int | None, prefix: str = "") -> None:
    if price < 0:
        raise CatalogError(f"{prefix}price", "must not be negative")
    if compare_at_price is not None and compare_at_price < 0:
        raise CatalogError(f"{prefix}compare_at_price", "must not be negative")


@transaction.atomic
def create_product(
    brand: Brand,
    *,
    actor: Actor | None,
    handle: str,
    title: str,
    title_en: str = "",
    description: str = "",
    category_id: int | None = None,
    vendor: str = "",
    status: str = Product.Status.ACTIVE,
    variants: list[dict[str, Any]] | None = None,
    image_urls: list[str] | None = None,
) -> Product:
    """A product with its variants (dicts of sku, title, barcode, price, compare_at_price, options)."""
    handle = check_handle(handle)
    if not title.strip():
        raise CatalogError("title", "is required")
    if Product.objects.filter(brand=brand, handle=handle).exists():
        raise CatalogError("handle", f"{handle} already exists", status=409)
    _check_category(brand, category_id)
    product = Product.objects.create(
        brand=brand,
        handle=handle,
        title=title.strip(),
        title_en=title_en,
        description=description,
        category_id=category_id,
        vendor=vendor,
        status=status,
    )
    for index, variant in enumerate(variants or []):
        add_variant(product, actor=None, field_prefix=f"variants[{index}].", sort_order=index, **variant)
    for index, url in enumerate(image_urls or []):
        add_image(product, actor=None, url=check_url(url, f"image_urls[{index}]"), sort_order=index)
    if actor is not None:
        audit.record(actor, "product.created", product, handle=handle)
    return product


PRODUCT_FIELDS = ("title", "title_en", "description", "category_id", "vendor", "status", "handle")


@transaction.atomic
def update_product(product: Product, *, actor: Actor | None, **changes: Any) -> Product:
    unknown = set(changes) - set(PRODUCT_FIELDS)
    if unknown:
        raise CatalogError(sorted(unknown)[0], "cannot be changed")
    if "handle" in changes:
        changes["handle"] = check_handle(changes["handle"])
        clash = Product.objects.filter(brand_id=product.brand_id, handle=changes["handle"]).exclude(
            pk=product.pk
        )
        if clash.exists():
            raise CatalogError("handle", f"{changes['handle']} already exists", status=409)
    if "title" in changes and not (changes["title"] or "").strip():
        raise CatalogError("title", "is required")
    if "category_id" in changes:
        _check_category(product.brand, changes["category_id"])
    for field, value in changes.items():
        setattr(product, field, value)
    product.save()
    if actor is not None:
        audit.record(actor, "product.updated", product, fields=sorted(changes))
    return product


@transaction.atomic
def add_variant(
    product: Product,
    *,
    actor: Actor | None,
    sku: str,
    price: int,
    title: str = "",
    barcode: str = "",
    compare_at_price: int | None = None,
    options: dict | None = None,
    is_active: bool = True,
    sort_order: int | None = None,
    field_prefix: str = "",
) -> Variant:
    sku = (sku or "").strip()
    if not sku:
        raise CatalogError(f"{field_prefix}sku", "is required")
    _check_sku_free(product.brand_id, sku, field=f"{field_prefix}sku")
    _check_prices(price, compare_at_price, field_prefix)
    if sort_order is None:
        sort_order = product.variants.count()
    variant = Variant.objects.create(
        brand_id=product.brand_id,
        product=product,
        sku=sku,
        title=title,
        barcode=barcode,
        price=price,
        compare_at_price=compare_at_price,
        options=options or {},
        is_active=is_active,
        sort_order=sort_order,
        currency=product.brand.currency,
    )
    if actor is not None:
        audit.record(actor, "variant.created", variant, sku=sku)
    return variant


VARIANT_FIELDS = ("title", "barcode", "price", "compare_at_price", "options", "is_active", "sort_order")


@transaction.atomic
def update_variant(variant: Variant, *, actor: Actor | None, **changes: Any) -> Variant:
    unknown = set(changes) - set(VARIANT_FIELDS)
    if unknown:
        raise CatalogError(sorted(unknown)[0], "cannot be changed")
    _check_prices(
        changes.get("price", variant.price), changes.get("compare_at_price", variant.compare_at_price)
    )
    for field, value in changes.items():
        setattr(variant, field, value)
    variant.save()
    if actor is not None:
        audit.record(actor, "variant.updated", variant, fields=sorted(changes))
    return variant


@transaction.atomic
def add_image(
    product: Product,
    *,
    actor: Actor | None,
    url: str = "",
    file: UploadedFile | None = None,
    alt: str = "",
    sort_order: int | None = None,
) -> ProductImage:
    """An image hosted elsewhere (url) or uploaded (file: JPEG, PNG, WebP or GIF up to 5 MB)."""
    if bool(url) == bool(file):
        raise CatalogError("url", "send either a url or a file")
    if file is not None:
        if (file.content_type or "") not in IMAGE_TYPES:
            raise CatalogError(
                "file", f"{file.content_type} is not an image type ({', '.join(sorted(IMAGE_TYPES))})"
            )
        if file.size and file.size > MAX_IMAGE_BYTES:
            raise CatalogError("file", "is larger than 5 MB")
        raw = file.read()
        file.seek(0)
        # A JPEG/PNG copy within LINE's limits when the original is not one (WebP, GIF, large);
        # refuses, naming the field, a file that is not a readable image.
        line_copy = line_images.line_copy(raw)
    else:
        url = check_url(url)
    if sort_order is None:
        sort_order = product.images.count()
    image = ProductImage(
        brand_id=product.brand_id, product=product, url=url, alt=alt[:200], sort_order=sort_order
    )
    if file is not None:
        image.file.save(file.name or "image", file, save=False)
        line_images.store_line_copy(image, line_copy)
    image.save()
    if file is None:  # hosted elsewhere: its LINE copy is made in the background (line_copies.py)
        brand_id = product.brand_id
        transaction.on_commit(lambda: tasks.make_line_copies.enqueue(brand_id))
    if actor is not None:
        audit.record(actor, "product.image_added", product, image_id=image.pk)
    return image


@transaction.atomic
def remove_image(image: ProductImage, *, actor: Actor) -> None:
    product = image.product
    image_id = image.pk
    if image.file:
        image.file.delete(save=False)
    line_images.delete_line_copy(image)
    image.delete()
    audit.record(actor, "product.image_removed", product, image_id=image_id)


@transaction.atomic
def upsert_product_row(
    brand: Brand,
    *,
    actor: Actor | None,
    handle: str,
    title: str,
    sku: str,
    price: int,
    title_en: str = "",
    category: str = "",
    description: str = "",
    barcode: str = "",
    variant_title: str = "",
    compare_at_price: int | None = None,
    image_url: str = "",
) -> Variant:
    """One CSV row: create or update the product (by handle) and its variant (by sku)."""
    handle = check_handle(handle)
    product = Product.objects.filter(brand=brand, handle=handle).first()
    category_id = category_named(brand, category, actor=actor).pk if category.strip() else None
    fields: dict[str, Any] = {"title": title}
    if title_en:
        fields["title_en"] = title_en
    if description:
        fields["description"] = description
    if category_id is not None:
        fields["category_id"] = category_id
    if product is None:
        product = create_product(brand, actor=None, handle=handle, **fields)
    elif any(getattr(product, key) != value for key, value in fields.items()):
        update_product(product, actor=None, **fields)
    _check_sku_free(brand.pk, sku, product=product)
    variant = Variant.objects.filter(brand=brand, sku=sku).first()
    if variant is None:
        variant = add_variant(
            product,
            actor=None,
            sku=sku,
            price=price,
            title=variant_title,
            barcode=barcode,
            compare_at_price=compare_at_price,
        )
    else:
        update_variant(
            variant,
            actor=None,
            price=price,
            title=variant_title or variant.title,
            barcode=barcode or variant.barcode,
            compare_at_price=compare_at_price,
        )
    if image_url and not product.images.filter(url=image_url).exists():
        add_image(product, actor=None, url=image_url)
    return variant
