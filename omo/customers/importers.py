"""CSV row parser for customers: create new ones, update those already known by an identifier."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field

from omo.core.imports import ImportContext, Importer, Problem, RowInvalid, RowsInvalid, Unit
from omo.customers import services
from omo.customers.models import Customer
from omo.customers.normalize import is_junk
from omo.staff.models import Store

TAG_SEPARATORS = re.compile(r"[;；]")
DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")


@dataclass
class CustomerRow:
    name: str
    phone: str
    email: str
    birthday: dt.date | None
    member_number: str
    home_store_id: int | None
    tags: list[str] = field(default_factory=list)
    notes: str = ""


def _birthday(raw: str) -> dt.date | None:
    raw = raw.strip()
    if not raw:
        return None
    for fmt in DATE_FORMATS:
        try:
            value = dt.datetime.strptime(raw, fmt).date()
        except ValueError:
            continue
        if value > dt.date.today() or value.year < 1900:
            raise RowInvalid("birthday", f"{raw} is not a plausible birthday")
        return value
    raise RowInvalid("birthday", f"not a date in YYYY-MM-DD form: {raw!r}")


class CustomersImporter(Importer):
    kind = "customers"
    required = ("name",)
    one_of = ("phone", "email", "member_number")
    optional = ("birthday", "home_store_code", "tags", "notes")

    def check(self, unit: Unit, ctx: ImportContext) -> CustomerRow:
        record = unit.records[0]
        problems: list[Problem] = []
        name = record.get("name", "")
        if len(name) > 120:
            problems.append(Problem(None, "name", "is longer than 120 characters"))
        phone = email = ""
        try:
            phone, email = services.clean_contact(
                ctx.brand, phone=record.get("phone", ""), email=record.get("email", "")
            )
        except services.CustomerError as exc:
            problems.append(Problem(None, exc.field, exc.message))
            # check the other contact on its own so both problems are reported at once
            other = {"phone": "email", "email": "phone"}[exc.field]
            try:
                services.clean_contact(ctx.brand, **{other: record.get(other, "")})
            except services.CustomerError as second:
                problems.append(Problem(None, second.field, second.message))
        member_number = record.get("member_number", "")
        member_number = "" if is_junk(member_number) else member_number
        if len(member_number) > 40:
            problems.append(Problem(None, "member_number", "is longer than 40 characters"))
        birthday = None
        try:
            birthday = _birthday(record.get("birthday", ""))
        except RowsInvalid as exc:
            problems.extend(exc.problems)
        home_store_id = None
        code = record.get("home_store_code", "")
        if code:
            stores = ctx.memo("stores")
            if code not in stores:
                stores[code] = (
                    Store.objects.filter(brand=ctx.brand, code=code).values_list("pk", flat=True).first()
                )
            home_store_id = stores[code]
            if home_store_id is None:
                problems.append(Problem(None, "home_store_code", f"no store with code {code!r}"))
        if not problems and not (phone or email or member_number):
            problems.append(Problem(None, "phone", "a customer needs a phone, an email or a member number"))
        if problems:
            raise RowsInvalid(problems)
        tags = [tag.strip() for tag in TAG_SEPARATORS.split(record.get("tags", "")) if tag.strip()]
        return CustomerRow(
            name, phone, email, birthday, member_number, home_store_id, tags, record.get("notes", "")
        )

    def apply(self, parsed: CustomerRow, ctx: ImportContext) -> None:
        existing: Customer | None = services.find_customer(
            ctx.brand, phone=parsed.phone, email=parsed.email, member_number=parsed.member_number
        )
        try:
            if existing is None:
                services.create_customer(
                    ctx.brand,
                    actor=None,
                    name=parsed.name,
                    phone=parsed.phone,
                    email=parsed.email,
                    birthday=parsed.birthday,
                    member_number=parsed.member_number,
                    home_store_id=parsed.home_store_id,
                    tags=parsed.tags,
                    notes=parsed.notes,
                    source="import",
                )
                return
            changes: dict[str, object] = {
                key: value
                for key, value in (
                    ("name", parsed.name),
                    ("phone", parsed.phone),
                    ("email", parsed.email),
                    ("birthday", parsed.birthday),
                    ("member_number", parsed.member_number),
                    ("home_store_id", parsed.home_store_id),
                    ("notes", parsed.notes),
                )
                if value and getattr(existing, key) != value
            }
            if parsed.tags and not set(parsed.tags) <= set(existing.tags):
                changes["tags"] = [*existing.tags, *parsed.tags]
            if changes:
                services.update_customer(existing, actor=ctx.actor, **changes)
        except services.CustomerError as exc:
            raise RowInvalid(
                exc.field if exc.field in ("phone", "email", "member_number") else "", exc.message
            ) from exc
