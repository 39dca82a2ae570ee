"""Finding a customer by name, phone (typed any way), email, member number or chat display name.

`Customer.search_text` holds, lower-cased and space-separated, with a space at each end:
the name (and for a Chinese name its surname and given name as words of their own), the phone
in E.164 and in local form, the email, the member number and the display names of the
customer's chat contacts. It is kept current by the customer services and the contact profile
update (`refresh`), and rebuilt for existing rows by `backfill` (also `omo reindex_customers`).

A search is an exact look-up on identifiers first (a whole phone number typed any way, an email,
a member number): when that names customers, they are the answer. Otherwise a substring of
`search_text`. On PostgreSQL the trigram GIN index `customer_search_trgm`
serves `search_text LIKE '%q%'` for queries of three characters or more. A query of one or two
characters (a Chinese surname or given name such as 陳 or 怡君) has no trigram of its own, so it
is matched as a whole word (`LIKE '% q %'`), whose padded trigrams the index does have. A phone
fragment needs at least 4 digits. SQLite runs the same conditions without the index.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.db import connection, transaction
from django.db.models import Q, QuerySet

from omo.core import events
from omo.customers import registry
from omo.customers.models import Customer, CustomerIdentity
from omo.customers.normalize import normalize_email, normalize_phone

MIN_PHONE_DIGITS = 4
MIN_SUBSTRING = 3
_PHONE_LIKE = re.compile(r"^[\d\s()+\-.]+$")
_LATIN = re.compile(r"[a-z0-9@._\-+]")


def local_phone(e164: str) -> str:
    """'+886912345678' -> '0912345678' (Taiwan's trunk 0); other countries keep their digits."""
    if e164.startswith("+886"):
        return "0" + e164[4:]
    return e164.lstrip("+")


def name_words(name: str) -> list[str]:
    """The name as typed (lower-cased), plus surname and given name for a 2-4 character Chinese
    name without spaces, so that 陳 or 怡君 find 陳怡君 as whole words."""
    clean = " ".join((name or "").lower().split())
    if not clean:
        return []
    words = [clean]
    if " " not in clean and 2 <= len(clean) <= 4 and not _LATIN.search(clean):
        words += [clean[0], clean[1:]]
    return words


def build_search_text(
    *,
    name: str = "",
    phone: str = "",
    email: str = "",
    member_number: str = "",
    display_names: Iterable[str] = (),
) -> str:
    parts = name_words(name)
    if phone:
        parts += [phone, local_phone(phone)]
    if email:
        parts.append(email.lower())
    if member_number:
        parts.append(member_number.lower())
    seen = {
        p
        for p in (
            " ".join((name or "").lower().split()),
            phone,
            local_phone(phone) if phone else "",
            email.lower(),
            member_number.lower(),
        )
        if p
    }
    for display in display_names:
        clean = " ".join((display or "").lower().split())
        if clean and clean not in seen:
            seen.add(clean)
            parts.append(clean)
    return f" {' '.join(parts)} " if parts else ""


def search_text_for(customer: Customer, display_names: Iterable[str] = ()) -> str:
    if customer.erased_at is not None:
        return ""
    return build_search_text(
        name=customer.name,
        phone=customer.phone,
        email=customer.email,
        member_number=customer.member_number,
        display_names=display_names,
    )


def _display_names(customer_ids: list[int]) -> dict[int, list[str]]:
    return registry.chat_contacts().display_names(customer_ids)


def refresh(customer_ids: Iterable[int]) -> int:
    """Recompute search_text for these customers (three queries whatever their number)."""
    ids = sorted({int(pk) for pk in customer_ids})
    if not ids:
        return 0
    names = _display_names(ids)
    customers = list(
        Customer.objects.filter(pk__in=ids).only(
            "id", "name", "phone", "email", "member_number", "erased_at", "search_text"
        )
    )
    changed = []
    for customer in customers:
        text = search_text_for(customer, names.get(customer.pk, ()))
        if text != customer.search_text:
            customer.search_text = text
            changed.append(customer)
    _write_texts([(customer.pk, customer.search_text) for customer in changed])
    return len(changed)


def _write_texts(rows: list[tuple[int, str]]) -> None:
    """Set search_text by id. PostgreSQL: one UPDATE … FROM (VALUES …) per 1,000 rows (Django's
    bulk_update builds a CASE per row, which cost a third of a bulk order ingest)."""
    if not rows:
        return
    if connection.vendor != "postgresql":
        for pk, text in rows:
            Customer.objects.filter(pk=pk).update(search_text=text)
        return
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            chunk = rows[start : start + 1000]
            values = ", ".join(["(%s::bigint, %s::text)"] * len(chunk))
            cursor.execute(
                f"UPDATE customers_customer AS c SET search_text = v.t FROM (VALUES {values}) AS v(id, t) "  # noqa: S608
                "WHERE c.id = v.id",
                [value for row in chunk for value in row],
            )


# The same text as build_search_text, computed by PostgreSQL for a whole range of rows at once.
_BACKFILL_SQL = """
UPDATE customers_customer c SET search_text = CASE WHEN c.erased_at IS NOT NULL THEN '' ELSE (
    SELECT COALESCE(' ' || NULLIF(concat_ws(' ',
        NULLIF(n.name, ''),
        CASE WHEN position(' ' in n.name) = 0 AND char_length(n.name) BETWEEN 2 AND 4
                  AND n.name !~ '[a-z0-9@._+-]'
             THEN substr(n.name, 1, 1) || ' ' || substr(n.name, 2) END,
        NULLIF(c.phone, ''),
        CASE WHEN c.phone LIKE '+886%%' THEN '0' || substr(c.phone, 5)
             WHEN c.phone <> '' THEN ltrim(c.phone, '+') END,
        NULLIF(lower(c.email), ''),
        NULLIF(lower(c.member_number), ''),
        d.names
    ), '') || ' ', '')
    FROM (SELECT lower(regexp_replace(btrim(c.name), '\\s+', ' ', 'g')) AS name) n
    LEFT JOIN LATERAL (
        SELECT string_agg(x.display, ' ' ORDER BY x.first_id) AS names FROM (
            SELECT lower(regexp_replace(btrim(t.display_name), '\\s+', ' ', 'g')) AS display, min(t.id) AS first_id
            FROM ({contact_rows}) t
            WHERE t.customer_id = c.id AND btrim(t.display_name) <> ''
            GROUP BY 1
        ) x
        WHERE x.display NOT IN (
            n.name, lower(c.email), lower(c.member_number), c.phone,
            CASE WHEN c.phone LIKE '+886%%' THEN '0' || substr(c.phone, 5) ELSE ltrim(c.phone, '+') END
        )
    ) d ON true
) END
WHERE c.brand_id = %s AND c.id >= %s AND c.id < %s
"""


def backfill(brand_id: int | None = None, *, chunk: int = 20_000) -> int:
    """Rebuild search_text for every customer (of one brand, or all). Returns rows visited.

    PostgreSQL: one UPDATE per id range, computed in SQL. Elsewhere: `refresh` per chunk.
    """
    brands = (
        [brand_id]
        if brand_id is not None
        else list(Customer.objects.values_list("brand_id", flat=True).distinct().order_by("brand_id"))
    )
    total = 0
    backfill_sql = _BACKFILL_SQL.replace("{contact_rows}", registry.chat_contacts().display_name_rows_sql())
    for brand in brands:
        ids = Customer.objects.filter(brand_id=brand)
        first = ids.order_by("id").values_list("id", flat=True).first()
        last = ids.order_by("-id").values_list("id", flat=True).first()
        if first is None or last is None:
            continue
        for start in range(first, last + 1, chunk):
            if connection.vendor == "postgresql":
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(backfill_sql, [brand, start, start + chunk])
                    total += cursor.rowcount
            else:
                chunk_ids = list(ids.filter(id__gte=start, id__lt=start + chunk).values_list("id", flat=True))
                refresh(chunk_ids)
                total += len(chunk_ids)
    return total


# --- searching ----------------------------------------------------------------------------------


def _digits(query: str) -> str:
    return re.sub(r"\D", "", query)


def _exact_customer_ids(brand_id: int, country: str, query: str) -> Q:
    """Identifier rows that equal what was typed: phone in any format, email, member number."""
    values: dict[str, set[str]] = {}
    if _PHONE_LIKE.match(query) and len(_digits(query)) >= 8:
        try:
            values.setdefault(CustomerIdentity.Kind.PHONE, set()).add(normalize_phone(query, country))
        except ValueError:
            pass
    if "@" in query:
        try:
            values.setdefault(CustomerIdentity.Kind.EMAIL, set()).add(normalize_email(query))
        except ValueError:
            pass
    condition = Q()
    for kind, kind_values in values.items():
        condition |= Q(kind=kind, value__in=kind_values)
    condition |= Q(kind=CustomerIdentity.Kind.MEMBER_NUMBER, value=query.strip())
    return condition


def search(
    customers: QuerySet[Customer], query: str, *, brand_id: int, country: str = "TW"
) -> QuerySet[Customer]:
    """`customers` (already narrowed to the viewer's brand and scope) that match `query`.

    Merged-away customers are left out: their survivor holds their identifiers now.
    """
    typed = " ".join((query or "").split())
    if not typed:
        return customers
    lowered = typed.lower()
    # Exact identifiers first, as ids: a list (not a subquery) lets PostgreSQL OR the primary key
    # with the trigram index in one bitmap scan.
    exact_ids = list(
        CustomerIdentity.objects.filter(
            _exact_customer_ids(brand_id, country, typed), brand_id=brand_id
        ).values_list("customer_id", flat=True)[:100]
    )
    if exact_ids:
        # A whole phone number, email or member number names its customer: no substring search.
        return customers.filter(pk__in=exact_ids, merged_into__isnull=True)
    condition = Q()
    if _PHONE_LIKE.match(typed):
        # Digits typed any way: a part of the number, at least four digits of it.
        digits = _digits(typed)
        if len(digits) >= MIN_PHONE_DIGITS:
            condition |= Q(search_text__contains=digits)
    elif len(lowered) >= MIN_SUBSTRING:
        condition |= Q(search_text__contains=lowered)
    else:
        condition |= Q(search_text__contains=f" {lowered} ")
    if not condition:  # e.g. three digits: too few to be part of a phone number
        return customers.none()
    return customers.filter(condition, merged_into__isnull=True)


# --- keeping it current after merges, splits and erasure ------------------------------------------


def on_customers_changed(payload: dict) -> None:
    """customer.merged / customer.split: identifiers and contacts moved between the two."""
    refresh([payload["survivor_id"], payload["merged_id"]])


def on_customer_erased(payload: dict) -> None:
    refresh([payload["customer_id"]])


def subscribe() -> None:
    """Called once from CustomersConfig.ready."""
    # Durable: the refresh recomputes the customers' search rows, so a retry is harmless.
    events.subscribe("customer.merged", on_customers_changed, durable="customers.search_changed")
    events.subscribe("customer.split", on_customers_changed, durable="customers.search_changed")
    events.subscribe("customer.erased", on_customer_erased, durable="customers.search_erased")
