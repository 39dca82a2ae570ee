"""Who sees which products and stock, and the catalogue reads the console and the clerk app share.

Products, locations and stock levels are read brand-wide by every role that may read the catalogue
(a clerk checks another store's stock for a customer); changing stock is narrowed to the actor's
own store unless its scope is the whole brand (`may_change_stock_at`).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from omo.catalog.models import Category, Location, Product, ProductImage, StockLevel, StockMovement, Variant
from omo.core.access import Scope
from omo.core.audit import Actor


def visible_categories(actor: Actor) -> QuerySet[Category]:
    return Category.objects.filter(brand=actor.brand)


def visible_products(actor: Actor) -> QuerySet[Product]:
    return Product.objects.filter(brand=actor.brand)


def visible_variants(actor: Actor) -> QuerySet[Variant]:
    return Variant.objects.filter(brand=actor.brand)


def visible_product_images(actor: Actor) -> QuerySet[ProductImage]:
    return ProductImage.objects.filter(brand=actor.brand)


def visible_locations(actor: Actor) -> QuerySet[Location]:
    return Location.objects.filter(brand=actor.brand)


def visible_stock_levels(actor: Actor) -> QuerySet[StockLevel]:
    return StockLevel.objects.filter(brand=actor.brand)


def visible_stock_movements(actor: Actor) -> QuerySet[StockMovement]:
    return StockMovement.objects.filter(brand=actor.brand)


def may_change_stock_at(actor: Actor, location: Location) -> bool:
    """Brand-wide roles change stock anywhere; a store's staff only at their own store."""
    if location.brand_id != actor.brand.pk:
        return False
    if actor.scope == Scope.BRAND:
        return True
    return actor.store_id is not None and location.store_id == actor.store_id


# --- the console's product and stock screens ------------------------------------------------------


def product_list(actor: Actor, query: str = "", category_id: int | None = None) -> QuerySet[Product]:
    products = visible_products(actor).select_related("category")
    if category_id is not None:
        products = products.filter(category_id=category_id)
    if query:
        matching_variant = Variant.objects.filter(product=OuterRef("pk")).filter(
            Q(sku__iexact=query) | Q(sku__icontains=query) | Q(barcode=query)
        )
        products = products.filter(
            Q(title__icontains=query) | Q(title_en__icontains=query) | Exists(matching_variant)
        )
    # The stock sum is a correlated subquery so it does not multiply the variant aggregates.
    on_hand = (
        StockLevel.objects.filter(variant__product=OuterRef("pk"))
        .order_by()
        .values("variant__product")
        .annotate(total=Sum("on_hand"))
        .values("total")
    )
    return products.annotate(
        variant_count=Count("variants"),
        min_price=Min("variants__price"),
        max_price=Max("variants__price"),
        on_hand=Coalesce(Subquery(on_hand), 0),
    ).order_by("-id")


def product_detail(actor: Actor, pk: int) -> Product:
    """Raises Product.DoesNotExist outside the actor's brand."""
    return visible_products(actor).select_related("category").get(pk=pk)


@dataclass(frozen=True)
class StockCell:
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


@dataclass(frozen=True)
class VariantStock:
    variant: Variant
    cells: list[StockCell | None]  # one per location, None where the variant was never stocked
    on_hand: int
    reserved: int

    @property
    def available(self) -> int:
        return self.on_hand - self.reserved


def active_locations(actor: Actor) -> QuerySet[Location]:
    return visible_locations(actor).filter(is_active=True).order_by("kind", "code")


def product_stock(actor: Actor, product: Product) -> tuple[list[Location], list[VariantStock]]:
    """Variants × locations in three queries; the matrix is assembled from the fetched rows."""
    locations = list(active_locations(actor))
    variants = list(visible_variants(actor).filter(product=product).order_by("sort_order", "id"))
    levels = {
        (level.variant_id, level.location_id): level
        for level in visible_stock_levels(actor).filter(variant__product=product)
    }
    rows = []
    for variant in variants:
        cells: list[StockCell | None] = []
        for location in locations:
            level = levels.get((variant.pk, location.pk))
            cells.append(StockCell(level.on_hand, level.reserved) if level else None)
        present = [cell for cell in cells if cell is not None]
        rows.append(
            VariantStock(
                variant=variant,
                cells=cells,
                on_hand=sum(cell.on_hand for cell in present),
                reserved=sum(cell.reserved for cell in present),
            )
        )
    return locations, rows


def stock_list(
    actor: Actor, *, location_id: int | None = None, query: str = "", low_at: int | None = None
) -> QuerySet[StockLevel]:
    levels = visible_stock_levels(actor).select_related("variant__product", "location")
    if location_id is not None:
        levels = levels.filter(location_id=location_id)
    if query:
        levels = levels.filter(
            Q(variant__sku__icontains=query)
            | Q(variant__barcode=query)
            | Q(variant__product__title__icontains=query)
        )
    if low_at is not None:
        levels = levels.annotate(free=F("on_hand") - F("reserved")).filter(free__lte=low_at)
    return levels.order_by("location__kind", "location__code", "variant__sku")
