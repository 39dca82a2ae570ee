"""CSV row parser for orders: one row per order line; rows sharing source + external_id are one order."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from omo.catalog.importers import amount, variant_by_sku
from omo.catalog.models import Variant
from omo.commerce import import_runs, services
from omo.commerce.schemas import OrderIn
from omo.core.imports import ImportContext, Importer, Problem, RowInvalid, RowsInvalid, Unit
from omo.customers import services as customer_services
from omo.customers.normalize import is_junk
from omo.staff.models import Store

ORDER_COLUMNS = (
    "source",
    "external_id",
    "name",
    "sales_channel",
    "store_code",
    "staff_code",
    "placed_at",
    "customer_phone",
    "customer_email",
    "customer_name",
    "member_number",
    "shipping_total",
    "status",
)
# Columns that describe the order, not the line: later rows of an order must not contradict the first.
MUST_AGREE = ("sales_channel", "store_code", "placed_at", "status")
LINE_COLUMN = {
    "sku": "sku",
    "title": "title",
    "quantity": "quantity",
    "unit_price": "unit_price",
    "discount": "line_discount",
}
# Every column of the orders CSV, in the order docs/csv-import.md lists them (a header to write).
CSV_COLUMNS = (*ORDER_COLUMNS[:11], *LINE_COLUMN.values(), *ORDER_COLUMNS[11:])
CUSTOMER_COLUMN = {
    "name": "customer_name",
    "phone": "customer_phone",
    "email": "customer_email",
    "member_number": "member_number",
}
NAIVE_FORMATS = ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d")
LINE_PATH = re.compile(r"^lines\[(\d+)\]\.?(.*)$")


def parse_placed_at(raw: str, time_zone: str) -> dt.datetime:
    """ISO 8601 with an offset, or a spreadsheet's local time (read in the brand's time zone)."""
    raw = raw.strip()
    if not raw:
        raise RowInvalid("placed_at", "is required")
    value = raw.replace("/", "-")
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        for fmt in NAIVE_FORMATS:
            try:
                parsed = dt.datetime.strptime(value, fmt)
                break
            except ValueError:
                continue
        else:
            raise RowInvalid(
                "placed_at", f"not a date and time (e.g. 2026-11-23 14:05 or ISO 8601): {raw!r}"
            ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=zoneinfo.ZoneInfo(time_zone))
    return parsed


@dataclass
class ParsedOrder:
    rows: list[int]
    data: OrderIn
    # the customer's usable identifiers, as (kind, value): which orders of a chunk may be one person
    identifiers: frozenset[tuple[str, str]] = frozenset()


def _message(error: ErrorDetails) -> str:
    return str(error["msg"]).removeprefix("Value error, ")


class OrdersImporter(Importer):
    kind = "orders"
    batched = True
    chunk_rows = 1000
    required = ("source", "external_id", "sales_channel", "placed_at", "quantity", "unit_price")
    one_of = ("sku", "title")
    optional = (
        "name",
        "store_code",
        "staff_code",
        "customer_phone",
        "customer_email",
        "customer_name",
        "member_number",
        "line_discount",
        "shipping_total",
        "status",
    )

    def units(self, rows: list[tuple[int, dict[str, str]]]) -> list[Unit]:
        orders: dict[tuple[str, str], Unit] = {}
        for number, record in rows:
            key = (record.get("source", ""), record.get("external_id", ""))
            if not all(key):  # cannot be grouped: stands alone and fails its check
                key = ("", f"row {number}")
            unit = orders.setdefault(key, Unit([], []))
            unit.rows.append(number)
            unit.records.append(record)
        return list(orders.values())

    def _to_order_in(self, unit: Unit, ctx: ImportContext) -> OrderIn:
        first = unit.records[0]
        currency = ctx.brand.currency
        problems: list[Problem] = []
        for key in ("source", "external_id"):
            if not first.get(key):
                problems.append(Problem(unit.rows[0], key, "is required"))
        for row, record in zip(unit.rows[1:], unit.records[1:], strict=True):
            for column in MUST_AGREE:
                if record.get(column, "") and record.get(column, "") != first.get(column, ""):
                    problems.append(
                        Problem(row, column, f"differs from row {unit.rows[0]} of the same order")
                    )
        placed_at: dt.datetime | None = None
        try:
            placed_at = parse_placed_at(first.get("placed_at", ""), ctx.brand.time_zone)
        except RowsInvalid as exc:
            problems.extend(Problem(unit.rows[0], p.field, p.error) for p in exc.problems)
        shipping_total = 0
        try:
            shipping_total = amount(first, "shipping_total", currency, required=False) or 0
        except RowsInvalid as exc:
            problems.extend(Problem(unit.rows[0], p.field, p.error) for p in exc.problems)
        lines: list[dict[str, Any]] = []
        for row, record in zip(unit.rows, unit.records, strict=True):
            line: dict[str, Any] = {
                "sku": record.get("sku", ""),
                "title": record.get("title", ""),
                "quantity": record.get("quantity", ""),
            }
            for column, key, required in (
                ("unit_price", "unit_price", True),
                ("line_discount", "discount", False),
            ):
                try:
                    value = amount(record, column, currency, required=required)
                    if value is not None:
                        line[key] = value
                except RowsInvalid as exc:
                    problems.extend(Problem(row, p.field, p.error) for p in exc.problems)
            lines.append(line)
        if problems:
            raise RowsInvalid(problems)
        customer = {key: first.get(column, "") for key, column in CUSTOMER_COLUMN.items()}
        data: dict[str, Any] = {
            "source": first["source"],
            "external_id": first["external_id"],
            "name": first.get("name", ""),
            "sales_channel": first.get("sales_channel", ""),
            "store_code": first.get("store_code", ""),
            "staff_code": first.get("staff_code", ""),
            "placed_at": placed_at,
            "currency": currency,
            "customer": customer if any(customer.values()) else None,
            "lines": lines,
            "shipping_total": shipping_total,
            "status": first.get("status") or "paid",
        }
        try:
            return OrderIn.model_validate(data)
        except ValidationError as exc:
            raise RowsInvalid(
                [self._problem(unit, error["loc"], _message(error)) for error in exc.errors()]
            ) from exc

    def _problem(self, unit: Unit, loc: tuple[Any, ...] | list[Any], message: str) -> Problem:
        parts = list(loc)
        if (
            parts[:1] == ["lines"]
            and len(parts) >= 2
            and isinstance(parts[1], int)
            and parts[1] < len(unit.rows)
        ):
            column = (
                LINE_COLUMN.get(str(parts[2]), str(parts[2]))
                if len(parts) > 2
                else ("sku" if "sku" in message else "")
            )
            return Problem(unit.rows[parts[1]], column, message)
        if parts[:1] == ["customer"] and len(parts) > 1:
            return Problem(unit.rows[0], CUSTOMER_COLUMN.get(str(parts[1]), str(parts[1])), message)
        if not parts:
            return Problem(unit.rows[0], "store_code" if "store_code" in message else "", message)
        return Problem(unit.rows[0], str(parts[0]), message)

    def prepare(self, units: list[Unit], ctx: ImportContext) -> None:
        """The chunk's stores and SKUs in one query each (check then finds them in the memos)."""
        stores = ctx.memo("order_stores")
        codes = {unit.records[0].get("store_code", "") for unit in units} - stores.keys() - {""}
        if codes:
            found = {store.code: store for store in Store.objects.filter(brand=ctx.brand, code__in=codes)}
            stores.update({code: found.get(code) for code in codes})
        variants = ctx.memo("variants")
        skus = {record.get("sku", "") for unit in units for record in unit.records} - variants.keys() - {""}
        if skus:
            found_variants = {
                variant.sku: variant
                for variant in Variant.objects.filter(brand=ctx.brand, sku__in=skus).select_related("product")
            }
            variants.update({sku: found_variants.get(sku) for sku in skus})

    def check(self, unit: Unit, ctx: ImportContext) -> ParsedOrder:
        data = self._to_order_in(unit, ctx)
        problems: list[Problem] = []
        if data.store_code:
            stores = ctx.memo("order_stores")
            if data.store_code not in stores:
                stores[data.store_code] = Store.objects.filter(brand=ctx.brand, code=data.store_code).first()
            if stores[data.store_code] is None:
                problems.append(
                    Problem(unit.rows[0], "store_code", f"no store with code {data.store_code!r}")
                )
        for row, line in zip(unit.rows, data.lines, strict=True):
            if line.sku and not line.title and variant_by_sku(ctx, line.sku) is None:
                problems.append(Problem(row, "sku", f"unknown sku {line.sku!r} and no title given"))
        identifiers: frozenset[tuple[str, str]] = frozenset()
        if data.customer is not None:
            try:
                phone, email = customer_services.clean_contact(
                    ctx.brand, phone=data.customer.phone, email=data.customer.email
                )
            except customer_services.CustomerError as exc:
                problems.append(Problem(unit.rows[0], CUSTOMER_COLUMN.get(exc.field, exc.field), exc.message))
            else:
                member = data.customer.member_number.strip()
                identifiers = frozenset(
                    (kind, value)
                    for kind, value in (("phone", phone), ("email", email), ("member_number", member))
                    if value and not is_junk(value)
                )
        if problems:
            raise RowsInvalid(problems)
        return ParsedOrder(unit.rows, data, identifiers)

    def apply(self, parsed: ParsedOrder, ctx: ImportContext) -> None:
        try:
            services.record_order(
                ctx.brand,
                parsed.data,
                actor=ctx.actor,
                store_cache=ctx.memo("order_stores"),
                variant_cache=ctx.memo("order_variants"),
            )
        except services.OrderError as exc:
            raise _row_error(parsed, exc.field, exc.message) from exc

    def apply_many(self, parsed: list[ParsedOrder], ctx: ImportContext) -> list[RowsInvalid | None]:
        """A chunk's orders through the set-wise order batch (services.record_orders), as the batch
        API records them: one transaction, bulk writes, the follow-ups by batch (import_runs
        says which orders go together)."""
        outcomes: list[RowsInvalid | None] = []
        for orders in import_runs.runs(ctx.brand, parsed):
            results = services.record_orders(ctx.brand, [order.data for order in orders], actor=ctx.actor)
            for order, result in zip(orders, results, strict=True):
                if result.status == "rejected":
                    outcomes.append(_row_error(order, result.field or "", result.error or ""))
                else:
                    outcomes.append(None)
        return outcomes


def _row_error(parsed: ParsedOrder, field: str, message: str) -> RowInvalid:
    """An order's refusal (naming a field of OrderIn) as the CSV row and column it came from."""
    match = LINE_PATH.match(field)
    if match and int(match.group(1)) < len(parsed.rows):
        column = LINE_COLUMN.get(match.group(2), match.group(2))
        return RowInvalid(column, message, row=parsed.rows[int(match.group(1))])
    if field.startswith("customer."):
        field = field.removeprefix("customer.")
        return RowInvalid(CUSTOMER_COLUMN.get(field, field), message)
    return RowInvalid(field, message)
