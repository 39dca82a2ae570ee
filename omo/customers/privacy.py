"""PDPA (個資法) requests for one customer: export everything we hold, or erase the personal data.

    data = export_customer(customer, actor=actor)        # zip bytes: customer.json + one CSV per section
    report = erase_customer(customer, actor=actor, reason="顧客來電要求刪除")

Only HQ admins (people or API keys) may do either; both are audited (`customer.exported`,
`customer.erased`; the erasure entry holds counts, never the erased values).

Erasure removes the person everywhere while the accounting stays: orders, lines, refunds, points
and commission keep their amounts and their link to the (now anonymous) customer row; their
contact and shipping fields are blanked. Chat messages stay as rows (so conversation counts and
delivery history add up) with their text, payload and media removed. Webhook receipts keep their
row, so a platform's redelivery of an old event stays a no-op and cannot bring the data back.
A customer merged into this one is the same person and is erased with it.

Customers exports and erases its own rows (the profile, identifiers, consents, merge records) and
the audit log; every other app does its part through its handler (omo/customers/personal_data.py).
"""

from __future__ import annotations

import csv
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.db.models import Model, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.utils import timezone

from omo.core import audit, events
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.models import AuditLog
from omo.customers import personal_data
from omo.customers.models import Consent, Customer, CustomerIdentity, CustomerMerge, MergeSuggestion
from omo.staff.requests import StaffRequest
from omo.staff.roles import role_allows

ERASED = "[已刪除]"
PERMISSION = "customers.privacy"  # HQ admins (omo/staff/roles.py)
MAX_REASON = 300
ERASE_CONFIRMATION = "刪除"  # what staff type in the console to confirm; the API takes the reason only


class PrivacyError(FieldError, ValueError):
    status = 400


def may_handle_personal_data(role: str) -> bool:
    """Export and erasure are for HQ admins only (people and API keys)."""
    return role_allows(role, PERMISSION)


def _require(actor: Actor, customer: Customer) -> None:
    if customer.brand_id != actor.brand.pk:
        raise PrivacyError("customer", "no such customer", status=404)
    if not may_handle_personal_data(actor.role):
        raise PrivacyError("role", f"role {actor.role} may not export or erase personal data", status=403)


def person_ids(customer: Customer) -> list[int]:
    """The customer and every customer merged into it (directly or through another merge)."""
    ids, frontier = [customer.pk], [customer.pk]
    while frontier:
        frontier = list(
            Customer.objects.filter(brand_id=customer.brand_id, merged_into_id__in=frontier)
            .exclude(pk__in=ids)
            .values_list("pk", flat=True)
        )
        ids.extend(frontier)
    return ids


# --- export ----------------------------------------------------------------------------------------


def collect(customer: Customer) -> dict[str, list[dict[str, Any]]]:
    """Everything the brand holds about the person, section by section (rows as plain dicts)."""
    brand_id = customer.brand_id
    ids = person_ids(customer)
    sections = {
        "profile": personal_data.rows(Customer.objects.filter(brand_id=brand_id, pk__in=ids).order_by("id")),
        "identities": personal_data.rows(
            CustomerIdentity.objects.filter(brand_id=brand_id, customer_id__in=ids).order_by("id")
        ),
        "consents": personal_data.rows(
            Consent.objects.filter(brand_id=brand_id, customer_id__in=ids).order_by("recorded_at", "id")
        ),
    }
    for handler in personal_data.handlers():
        for name, section in handler.export(brand_id, ids).items():
            if name in sections:
                raise ValueError(f"export section {name} of {handler.app_label} is taken already")
            sections[name] = section
    return sections


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, cls=DjangoJSONEncoder)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _csv(rows: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({key: _cell(value) for key, value in row.items()})
    return ("\ufeff" + out.getvalue()).encode()  # BOM: Excel opens Traditional Chinese correctly


def export_customer(customer: Customer, *, actor: Actor) -> bytes:
    """A zip of customer.json (every section) and one CSV per section; audited as customer.exported."""
    _require(actor, customer)
    sections = collect(customer)
    buffer = io.BytesIO()
    exported_at = timezone.now()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        document = {
            "customer_id": customer.pk,
            "brand": actor.brand.name,
            "exported_at": exported_at,
            **sections,
        }
        archive.writestr(
            "customer.json", json.dumps(document, ensure_ascii=False, indent=2, cls=DjangoJSONEncoder)
        )
        for name, rows in sections.items():
            archive.writestr(f"{name}.csv", _csv(rows))
    audit.record(actor, "customer.exported", customer, sections={k: len(v) for k, v in sections.items()})
    return buffer.getvalue()


def export_filename(customer: Customer) -> str:
    return f"customer-{customer.pk}-{timezone.localdate():%Y%m%d}.zip"


# --- erasure ---------------------------------------------------------------------------------------


@dataclass
class ErasureReport:
    customer_ids: list[int]
    counts: dict[str, int] = field(default_factory=dict)


def _phone_forms(phone: str) -> set[str]:
    forms = {phone}
    if phone.startswith("+886"):
        forms.add("0" + phone[4:])  # the local form people type in Taiwan
    return forms


def _needles(customers: list[Customer], identity_values: list[str], extra: list[str]) -> set[str]:
    """The person's values worth searching for in free text and JSON (short ones would match noise)."""
    found: set[str] = set()
    for customer in customers:
        found |= {customer.name, customer.email, customer.member_number}
        found |= _phone_forms(customer.phone) if customer.phone else set()
    for value in [*identity_values, *extra]:
        found |= _phone_forms(value) if value.startswith("+") else {value}
    return {value.strip() for value in found if value and len(value.strip()) >= 2}


def scrub(value: Any, needles: set[str]) -> Any:
    """`value` with every string that contains one of the needles replaced by ERASED."""
    if isinstance(value, str):
        folded = value.casefold()
        return ERASED if any(needle.casefold() in folded for needle in needles) else value
    if isinstance(value, dict):
        return {key: scrub(item, needles) for key, item in value.items()}
    if isinstance(value, list):
        return [scrub(item, needles) for item in value]
    return value


def _mentioning(queryset: QuerySet, column: str, needles: set[str]) -> QuerySet:
    """Rows whose column (text or JSON) mentions a needle, as stored (JSON may escape non-ASCII)."""
    condition = Q()
    for needle in needles:
        condition |= Q(_as_text__icontains=needle)
        escaped = json.dumps(needle)[1:-1]
        if escaped != needle:
            condition |= Q(_as_text__icontains=escaped)
    if not condition:
        return queryset.none()
    return queryset.annotate(_as_text=Cast(column, TextField())).filter(condition)


def scrub_rows(queryset: QuerySet, column: str, needles: set[str]) -> int:
    """Scrub one JSON or text column of the rows that mention the person; returns rows changed."""
    changed = 0
    for row in _mentioning(queryset, column, needles).only("pk", column):
        value = getattr(row, column)
        if isinstance(value, str) and column_is_text(row, column):
            cleaned = value
            for needle in needles:
                cleaned = _replace_casefold(cleaned, needle)
            if "\\u" in cleaned:  # a JSON body stored as text with escaped characters
                try:
                    cleaned = json.dumps(scrub(json.loads(cleaned), needles), ensure_ascii=False)
                except ValueError:
                    pass
        else:
            cleaned = scrub(value, needles)
        if cleaned != value:
            type(row).objects.filter(pk=row.pk).update(**{column: cleaned})
            changed += 1
    return changed


def column_is_text(row: Model, column: str) -> bool:
    return row._meta.get_field(column).get_internal_type() in ("TextField", "CharField")


def _replace_casefold(text: str, needle: str) -> str:
    lowered, target = text.casefold(), needle.casefold()
    if target not in lowered or len(lowered) != len(text):
        return text.replace(needle, ERASED)
    out, start = [], 0
    while (index := lowered.find(target, start)) != -1:
        out.append(text[start:index])
        out.append(ERASED)
        start = index + len(target)
    out.append(text[start:])
    return "".join(out)


def _optional_model(label: str) -> type[Model] | None:
    try:
        return apps.get_model(label)
    except LookupError:
        return None


def erase_customer(customer: Customer, *, actor: Actor, reason: str) -> ErasureReport:
    """Remove the person's personal data everywhere (see the module docstring); all or nothing."""
    _require(actor, customer)
    reason = (reason or "").strip()
    if not reason:
        raise PrivacyError("reason", "say why the data is erased, e.g. the customer asked on 2025/03/01")
    if len(reason) > MAX_REASON:
        raise PrivacyError("reason", f"at most {MAX_REASON} characters")
    brand_id = customer.brand_id
    now = timezone.now()
    handlers = personal_data.handlers()
    with transaction.atomic():
        locked = Customer.objects.select_for_update().filter(brand_id=brand_id, pk=customer.pk).first()
        if locked is None:
            raise PrivacyError("customer", "no such customer", status=404)
        if locked.erased_at is not None:
            raise PrivacyError("customer", "this customer's personal data was already erased", status=409)
        ids = person_ids(locked)
        people = list(Customer.objects.filter(brand_id=brand_id, pk__in=ids))
        identities = CustomerIdentity.objects.filter(brand_id=brand_id, customer_id__in=ids)
        identity_values = list(identities.values_list("value", flat=True))
        # Every app names the person's values it holds before any app erases them.
        needles = _needles(
            people,
            identity_values,
            [value for handler in handlers for value in handler.needles(brand_id, ids)],
        )
        erasure = personal_data.Erasure(
            brand_id=brand_id, customer_ids=ids, identity_values=identity_values, needles=needles, now=now
        )
        counts: dict[str, int] = {}

        # The profile: nothing left that names or reaches the person; the row stays for orders.
        counts["customers"] = Customer.objects.filter(pk__in=ids).update(
            name="",
            phone="",
            email="",
            birthday=None,
            member_number="",
            tags=[],
            notes="",
            search_text="",
        )
        Customer.objects.filter(pk=locked.pk).update(erased_at=now)
        counts["identities"] = identities.delete()[0]
        # Consent decisions stay (proof of what the person agreed to), without free-text notes.
        Consent.objects.filter(brand_id=brand_id, customer_id__in=ids).exclude(note="").update(note="")

        # Chats, orders, points, bindings, events, clicks and raw payloads: each app its own.
        for handler in handlers:
            for name, count in handler.erase(erasure).items():
                counts[name] = counts.get(name, 0) + count

        # Identity resolution records name the values that matched.
        CustomerMerge.objects.filter(Q(survivor_id__in=ids) | Q(merged_id__in=ids), brand_id=brand_id).update(
            snapshot={"erased": True}, trigger_value="", reason="", binding_resolution=""
        )
        MergeSuggestion.objects.filter(
            Q(customer_a_id__in=ids) | Q(customer_b_id__in=ids), brand_id=brand_id
        ).update(value="", reason="")

        # The audit log keeps who did what, not the values: entries about the person lose their detail
        # values, and any other entry of the brand that mentions them is scrubbed.
        about = AuditLog.objects.filter(
            brand_id=brand_id, target_type="customers.customer", target_id__in=[str(pk) for pk in ids]
        )
        for entry in about.only("pk", "detail"):
            detail = entry.detail if isinstance(entry.detail, dict) else {}
            kept = {"fields": detail["fields"]} if isinstance(detail.get("fields"), list) else {}
            AuditLog.objects.filter(pk=entry.pk).update(detail={**kept, "erased": True})
        counts["audit_entries"] = scrub_rows(AuditLog.objects.filter(brand_id=brand_id), "detail", needles)

        # Django admin's own history, when the admin is installed.
        log_entry = _optional_model("admin.LogEntry")
        if log_entry is not None:
            log_entry._default_manager.filter(
                content_type__app_label="customers",
                content_type__model="customer",
                object_id__in=[str(i) for i in ids],
            ).update(object_repr="", change_message="")

        events.publish("customer.erased", brand_id=brand_id, customer_id=locked.pk)
        audit.record(
            actor,
            "customer.erased",
            locked,
            reason=scrub(reason, needles),
            merged_customers=ids[1:],
            counts=counts,
        )
    customer.refresh_from_db()
    return ErasureReport(customer_ids=ids, counts=counts)


def record_view(request: StaffRequest, customer: Customer, *, via: str) -> None:
    """Audit that a signed-in staff member saw the customer's personal data (`customer.viewed`)."""
    user = request.user
    actor = Actor.from_request(request, brand=user.brand, user=user, role=user.role)
    audit.record(actor, "customer.viewed", customer, via=via)
