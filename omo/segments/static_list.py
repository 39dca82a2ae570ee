"""The CSV of a static segment: one customer per row, found by phone, email or member number.

The header names at least one of `phone` (手機), `email` and `member_number` (會員編號); a row may fill
any of them and is matched by the first one given in that order: member number, phone, email.
Phones and emails are normalised as everywhere else (omo.customers.normalize). A row that names
nobody, holds a malformed value or matches no customer is an error; the whole file is then refused with every bad row listed, so nothing is half-written.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.utils.translation import gettext

from omo.core.errors import DomainError
from omo.core.imports import Problem, decode_csv, read_rows
from omo.core.models import Brand
from omo.customers.models import Customer, CustomerIdentity
from omo.customers.normalize import is_junk, normalize_email, normalize_phone

MAX_ROWS = 100_000
MAX_BYTES = 10 * 1024 * 1024

# header name -> identifier kind
COLUMNS: dict[str, str] = {
    "member_number": CustomerIdentity.Kind.MEMBER_NUMBER,
    "會員編號": CustomerIdentity.Kind.MEMBER_NUMBER,
    "phone": CustomerIdentity.Kind.PHONE,
    "手機": CustomerIdentity.Kind.PHONE,
    "電話": CustomerIdentity.Kind.PHONE,
    "email": CustomerIdentity.Kind.EMAIL,
    "電子郵件": CustomerIdentity.Kind.EMAIL,
}
ORDER = (CustomerIdentity.Kind.MEMBER_NUMBER, CustomerIdentity.Kind.PHONE, CustomerIdentity.Kind.EMAIL)


class ListInvalid(DomainError):
    """The file cannot be used: the whole file (`problems` with row None) or some rows."""

    status = 422
    code = "invalid_list"

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        first = problems[0]
        if first.row:
            message = gettext("第 %(row)s 列：%(error)s") % {"row": first.row, "error": first.error}
        else:
            message = gettext("檔案：%(error)s") % {"error": first.error}
        more = len(problems) - 1
        if more:
            message += gettext("（另有 %(count)s 個錯誤）") % {"count": more}
        super().__init__(
            message,
            field="file",
            errors=[{"row": p.row, "field": p.field, "error": p.error} for p in problems],
        )


def _clean(kind: str, raw: str, region: str) -> str:
    if kind == CustomerIdentity.Kind.PHONE:
        return normalize_phone(raw, region)
    if kind == CustomerIdentity.Kind.EMAIL:
        return normalize_email(raw)
    return raw.strip()


PROFILE_FIELDS = {
    CustomerIdentity.Kind.PHONE: "phone",
    CustomerIdentity.Kind.EMAIL: "email",
    CustomerIdentity.Kind.MEMBER_NUMBER: "member_number",
}
LOOKUP_CHUNK = 5000


def _chunks(values: set[str]) -> Iterator[list[str]]:
    ordered = sorted(values)
    for start in range(0, len(ordered), LOOKUP_CHUNK):
        yield ordered[start : start + LOOKUP_CHUNK]


def _kind_label(kind: str) -> str:
    return str(CustomerIdentity.Kind(kind).label)


def read(brand: Brand, raw: bytes) -> list[int]:
    """The ids of the listed customers (each once), or ListInvalid naming every problem."""
    if len(raw) > MAX_BYTES:
        raise ListInvalid([Problem(None, "file", gettext("檔案超過 10 MB"))])
    try:
        header, rows = read_rows(decode_csv(raw))
    except DomainError as exc:
        raise ListInvalid([Problem(None, "file", exc.message)]) from exc
    columns = {name: COLUMNS[name] for name in header if name in COLUMNS}
    if not columns:
        raise ListInvalid(
            [
                Problem(
                    None,
                    "file",
                    gettext("第一列須有欄位名稱 phone（手機）、email 或 member_number（會員編號）"),
                )
            ]
        )
    if not rows:
        raise ListInvalid([Problem(None, "file", gettext("檔案沒有資料列"))])
    if len(rows) > MAX_ROWS:
        raise ListInvalid([Problem(None, "file", gettext("一次最多 %(max)s 列") % {"max": MAX_ROWS})])

    problems: list[Problem] = []
    wanted: list[tuple[int, str, str, str]] = []  # row, column, kind, clean value
    for number, record in rows:
        given = sorted(
            (
                (ORDER.index(kind), name, kind)
                for name, kind in columns.items()
                if record.get(name, "").strip()
            ),
        )
        given = [item for item in given if not is_junk(record[item[1]])]
        if not given:
            problems.append(Problem(number, "row", gettext("這一列沒有手機、Email 或會員編號")))
            continue
        _rank, name, kind = given[0]
        try:
            wanted.append((number, name, kind, _clean(kind, record[name], brand.country)))
        except ValueError:
            problems.append(
                Problem(
                    number,
                    name,
                    gettext("%(kind)s格式不正確：%(value)s")
                    % {"kind": _kind_label(kind), "value": record[name]},
                )
            )

    found: dict[tuple[str, str], int] = {}
    for kind in ORDER:
        for chunk in _chunks({value for _n, _c, k, value in wanted if k == kind}):
            identities = CustomerIdentity.objects.filter(
                brand=brand,
                kind=kind,
                value__in=chunk,
                customer__merged_into__isnull=True,
                customer__erased_at__isnull=True,
            ).values_list("value", "customer_id")
            found.update({(kind, value): customer_id for value, customer_id in identities})
    # Customers whose profile holds the value without an identity row (older data) are found too.
    missing = [(kind, value) for _n, _c, kind, value in wanted if (kind, value) not in found]
    for kind in ORDER:
        column = PROFILE_FIELDS[kind]
        for chunk in _chunks({value for k, value in missing if k == kind}):
            profiles = Customer.objects.filter(
                brand=brand, merged_into__isnull=True, erased_at__isnull=True, **{f"{column}__in": chunk}
            ).values_list(column, "pk")
            for value, customer_id in profiles:
                found.setdefault((kind, value), customer_id)

    customer_ids: list[int] = []
    seen: set[int] = set()
    for number, name, kind, value in wanted:
        customer_id = found.get((kind, value))
        if customer_id is None:
            problems.append(
                Problem(
                    number,
                    name,
                    gettext("找不到%(kind)s為 %(value)s 的顧客")
                    % {"kind": _kind_label(kind), "value": value},
                )
            )
        elif customer_id not in seen:
            seen.add(customer_id)
            customer_ids.append(customer_id)
    if problems:
        raise ListInvalid(sorted(problems, key=lambda p: (p.row or 0, p.field)))
    return customer_ids
