"""CSV row parsers for products (one row per variant) and stock levels."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator, validate_unicode_slug

from omo.catalog import inventory, services
from omo.catalog.models import Location, StockMovement, Variant
from omo.core.imports import ImportContext, Importer, RowInvalid, RowsInvalid, Unit
from omo.core.money import to_minor


def amount(record: dict[str, str], column: str, currency: str, *, required: bool = True) -> int | None:
    """Major units as people type them ('1,280', '1280.5') -> minor units, naming the column."""
    raw = record.get(column, "").replace("NT$", "").replace("$", "").strip()
    if not raw:
        if required:
            raise RowInvalid(column, "is required")
        return None
    try:
        value = to_minor(raw, currency)
    except ValueError as exc:
        raise RowInvalid(column, str(exc)) from exc
    if value < 0:
        raise RowInvalid(column, "must not be negative")
    return value


def text(record: dict[str, str], column: str, max_length: int, *, required: bool = False) -> str:
    value = record.get(column, "").strip()
    if required and not value:
        raise RowInvalid(column, "is required")
    if len(value) > max_length:
        raise RowInvalid(column, f"is longer than {max_length} characters")
    return value


def whole_number(record: dict[str, str], column: str, *, minimum: int | None = None) -> int:
    raw = record.get(column, "").replace(",", "").strip()
    if not raw:
        raise RowInvalid(column, "is required")
    try:
        value = int(raw)
    except ValueError:
        try:
            as_float = float(raw)
        except ValueError:
            raise RowInvalid(column, f"not a whole number: {raw!r}") from None
        if not as_float.is_integer():
            raise RowInvalid(column, f"not a whole number: {raw!r}") from None
        value = int(as_float)
    if minimum is not None and value < minimum:
        raise RowInvalid(column, f"must be at least {minimum}")
    return value


def variant_by_sku(ctx: ImportContext, sku: str) -> Variant | None:
    variants = ctx.memo("variants")
    if sku not in variants:
        variants[sku] = Variant.objects.filter(brand=ctx.brand, sku=sku).select_related("product").first()
    return variants[sku]


@dataclass
class ProductRow:
    handle: str
    title: str
    title_en: str
    category: str
    description: str
    sku: str
    barcode: str
    variant_title: str
    price: int
    compare_at_price: int | None
    image_url: str


class ProductsImporter(Importer):
    kind = "products"
    required = ("handle", "title", "sku", "price")
    optional = (
        "title_en",
        "category",
        "description",
        "barcode",
        "variant_title",
        "compare_at_price",
        "image_url",
    )

    def check(self, unit: Unit, ctx: ImportContext) -> ProductRow:
        record = unit.records[0]
        problems = []
        values: dict[str, object] = {}
        currency = ctx.brand.currency
        for column, parse in (
            ("handle", lambda: _handle(record)),
            ("title", lambda: text(record, "title", 200, required=True)),
            ("title_en", lambda: text(record, "title_en", 200)),
            ("category", lambda: text(record, "category", 120)),
            ("description", lambda: record.get("description", "")),
            ("sku", lambda: text(record, "sku", 64, required=True)),
            ("barcode", lambda: text(record, "barcode", 64)),
            ("variant_title", lambda: text(record, "variant_title", 120)),
            ("price", lambda: amount(record, "price", currency)),
            ("compare_at_price", lambda: amount(record, "compare_at_price", currency, required=False)),
            ("image_url", lambda: _image_url(record)),
        ):
            try:
                values[column] = parse()
            except RowsInvalid as exc:
                problems.extend(exc.problems)
        if problems:
            raise RowsInvalid(problems)
        row = ProductRow(**values)  # type: ignore[arg-type]
        owner = variant_by_sku(ctx, row.sku)
        if owner is not None and owner.product.handle != row.handle:
            raise RowInvalid(
                "sku", f"sku {row.sku} belongs to product {owner.product.handle}, not {row.handle}"
            )
        return row

    def apply(self, parsed: ProductRow, ctx: ImportContext) -> None:
        try:
            variant = services.upsert_product_row(
                ctx.brand,
                actor=None,
                handle=parsed.handle,
                title=parsed.title,
                sku=parsed.sku,
                price=parsed.price,
                title_en=parsed.title_en,
                category=parsed.category,
                description=parsed.description,
                barcode=parsed.barcode,
                variant_title=parsed.variant_title,
                compare_at_price=parsed.compare_at_price,
                image_url=parsed.image_url,
            )
        except services.CatalogError as exc:
            raise RowInvalid(exc.field, exc.message) from exc
        ctx.memo("variants")[parsed.sku] = variant


def _handle(record: dict[str, str]) -> str:
    handle = text(record, "handle", 120, required=True)
    try:
        validate_unicode_slug(handle)
    except ValidationError:
        raise RowInvalid("handle", "use letters, digits, - or _ only (e.g. organic-tee)") from None
    return handle


def _image_url(record: dict[str, str]) -> str:
    url = text(record, "image_url", 1000)
    if url:
        try:
            URLValidator(schemes=["http", "https"])(url)
        except ValidationError:
            raise RowInvalid("image_url", f"not an http(s) URL: {url!r}") from None
    return url


@dataclass
class StockRow:
    variant: Variant
    location: Location
    on_hand: int


class StockImporter(Importer):
    kind = "stock"
    required = ("sku", "location_code", "on_hand")

    def check(self, unit: Unit, ctx: ImportContext) -> StockRow:
        record = unit.records[0]
        problems = []
        variant = location = None
        on_hand = 0
        try:
            sku = text(record, "sku", 64, required=True)
            variant = variant_by_sku(ctx, sku)
            if variant is None:
                raise RowInvalid("sku", f"no variant with sku {sku!r}")
        except RowsInvalid as exc:
            problems.extend(exc.problems)
        try:
            code = text(record, "location_code", 30, required=True)
            locations = ctx.memo("locations")
            if code not in locations:
                locations[code] = Location.objects.filter(brand=ctx.brand, code=code).first()
            location = locations[code]
            if location is None:
                raise RowInvalid("location_code", f"no location with code {code!r}")
        except RowsInvalid as exc:
            problems.extend(exc.problems)
        try:
            on_hand = whole_number(record, "on_hand", minimum=0)
        except RowsInvalid as exc:
            problems.extend(exc.problems)
        if problems:
            raise RowsInvalid(problems)
        assert variant is not None and location is not None
        return StockRow(variant, location, on_hand)

    def apply(self, parsed: StockRow, ctx: ImportContext) -> None:
        try:
            inventory.set_stock(
                parsed.variant,
                parsed.location,
                parsed.on_hand,
                reason=StockMovement.Reason.IMPORT,
                note=f"CSV import #{ctx.job_id}",
            )
        except inventory.StockError as exc:
            raise RowInvalid("on_hand", str(exc)) from exc
