"""REST endpoints for customers: create, read, update, search, identities."""

from __future__ import annotations

import datetime as dt
from typing import Any, TypedDict

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from omo.core.api import ApiError, ErrorOut, PageParams, actor_of, allow, get_or_404, page
from omo.core.audit import Actor
from omo.customers import registry, services
from omo.customers.models import Customer, CustomerIdentity
from omo.customers.normalize import normalize_email, normalize_phone
from omo.customers.selectors import visible_customers
from omo.staff.selectors import store_directory

router = Router(tags=["customers"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class CustomerIn(Schema):
    name: str = Field("", max_length=120)
    phone: str = Field("", max_length=40, description="any common format; stored as E.164")
    email: str = Field("", max_length=254)
    birthday: dt.date | None = None
    member_number: str = Field("", max_length=40)
    home_store_code: str = Field("", max_length=30)
    tags: list[str] = Field(default_factory=list, max_length=50)
    notes: str = Field("", max_length=5000)


class CustomerPatch(Schema):
    name: str | None = Field(None, max_length=120)
    phone: str | None = Field(None, max_length=40)
    email: str | None = Field(None, max_length=254)
    birthday: dt.date | None = None
    member_number: str | None = Field(None, max_length=40)
    home_store_code: str | None = Field(None, max_length=30, description="empty string clears it")
    tags: list[str] | None = Field(None, max_length=50)
    notes: str | None = Field(None, max_length=5000)


class CustomerOut(Schema):
    id: int
    name: str
    phone: str
    email: str
    birthday: dt.date | None
    member_number: str
    home_store_id: int | None
    home_store_code: str | None
    tags: list[str]
    notes: str
    created_at: dt.datetime
    updated_at: dt.datetime

    @staticmethod
    def resolve_home_store_code(customer: Customer) -> str | None:
        return customer.home_store.code if customer.home_store is not None else None


class PredictionsOut(Schema):
    p_alive: float = Field(description="probability that the customer still buys (BG/NBD), 0-1")
    expected_orders_30d: float
    expected_orders_90d: float
    expected_orders_365d: float
    expected_spend_365d: int = Field(description="expected net spend over the next 365 days, minor units")
    fitted_at: dt.datetime


class RfmOut(Schema):
    r: int = Field(description="recency score 1-5 (5 = most recent), 0 without orders")
    f: int
    m: int
    segment: str = Field(description="the named RFM segment, e.g. champions")
    computed_at: dt.datetime


class CustomerDetailOut(CustomerOut):
    predictions: PredictionsOut | None = Field(
        None,
        description="predicted value from the brand's latest fit (docs/predictions.md); null without one",
    )
    rfm: RfmOut | None = None

    @staticmethod
    def resolve_predictions(customer: Customer) -> dict[str, Any] | None:
        insights = registry.customer_insights()
        return insights.predictions(customer) if insights is not None else None

    @staticmethod
    def resolve_rfm(customer: Customer) -> dict[str, Any] | None:
        insights = registry.customer_insights()
        return insights.rfm(customer) if insights is not None else None


class CustomerPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[CustomerOut]


class CustomerFilters(Schema):
    q: str | None = Field(None, description="name contains, or exact phone, email or member number")
    name: str | None = Field(None, description="contains")
    phone: str | None = None
    email: str | None = None
    member_number: str | None = None


class IdentityOut(Schema):
    id: int
    kind: str
    value: str
    verified: bool
    source: str
    created_at: dt.datetime


def customer_for(actor: Actor, customer_id: int) -> Customer:
    """A customer the actor may see, or 404 (also used by the loyalty endpoints)."""
    return get_or_404(
        visible_customers(actor).select_related("home_store"), f"customer {customer_id}", pk=customer_id
    )


def _store_id(actor: Actor, code: str) -> int | None:
    if not code:
        return None
    store_id = store_directory(actor).filter(code=code).values_list("pk", flat=True).first()
    if store_id is None:
        raise ApiError(422, "invalid", f"no store with code {code!r}", field="home_store_code")
    return store_id


def _phone_or_raw(actor: Actor, raw: str) -> str:
    try:
        return normalize_phone(raw, actor.brand.country)
    except ValueError:
        return raw.strip()


def _email_or_raw(raw: str) -> str:
    try:
        return normalize_email(raw)
    except ValueError:
        return raw.strip().lower()


@router.get("/customers", auth=allow("customers.read"), response={200: CustomerPage, **ERRORS})
def list_customers(
    request: HttpRequest, filters: Query[CustomerFilters], paging: Query[PageParams]
) -> dict[str, Any]:
    """Search customers by name, phone, email or member number; newest first."""
    actor = actor_of(request)
    customers = visible_customers(actor).select_related("home_store")
    if filters.q:
        q = filters.q.strip()
        customers = customers.filter(
            Q(name__icontains=q)
            | Q(phone=_phone_or_raw(actor, q))
            | Q(email=_email_or_raw(q))
            | Q(member_number=q)
        )
    if filters.name:
        customers = customers.filter(name__icontains=filters.name.strip())
    if filters.phone:
        customers = customers.filter(phone=_phone_or_raw(actor, filters.phone))
    if filters.email:
        customers = customers.filter(email=_email_or_raw(filters.email))
    if filters.member_number:
        customers = customers.filter(member_number=filters.member_number.strip())
    return page(customers.order_by("-id"), paging)


@router.post("/customers", auth=allow("customers.write"), response={201: CustomerOut, **ERRORS})
def create_customer(request: HttpRequest, data: CustomerIn) -> Status[Customer]:
    actor = actor_of(request)
    fields = data.model_dump(exclude={"home_store_code"})
    customer = services.create_customer(
        actor.brand, actor=actor, home_store_id=_store_id(actor, data.home_store_code), **fields
    )
    return Status(201, Customer.objects.select_related("home_store").get(pk=customer.pk))


@router.get(
    "/customers/{customer_id}", auth=allow("customers.read"), response={200: CustomerDetailOut, **ERRORS}
)
def get_customer(request: HttpRequest, customer_id: int) -> Customer:
    """The customer, with their predicted value and RFM scores when the brand has them."""
    return customer_for(actor_of(request), customer_id)


@router.patch(
    "/customers/{customer_id}", auth=allow("customers.write"), response={200: CustomerOut, **ERRORS}
)
def update_customer(request: HttpRequest, customer_id: int, data: CustomerPatch) -> Customer:
    """Change some fields; identifiers (phone, email, member number) follow the profile."""
    actor = actor_of(request)
    customer = customer_for(actor, customer_id)
    changes = data.model_dump(exclude_unset=True)
    if "home_store_code" in changes:
        changes["home_store_id"] = _store_id(actor, changes.pop("home_store_code") or "")
    for text_field in ("name", "phone", "email", "member_number", "notes"):
        if text_field in changes and changes[text_field] is None:
            changes[text_field] = ""
    services.update_customer(customer, actor=actor, **changes)
    return customer_for(actor, customer_id)


@router.get(
    "/customers/{customer_id}/identities",
    auth=allow("customers.read"),
    response={200: list[IdentityOut], **ERRORS},
)
def list_identities(request: HttpRequest, customer_id: int) -> QuerySet[CustomerIdentity]:
    """Every identifier that recognises this customer (phone, email, member number, platform ids)."""
    customer = customer_for(actor_of(request), customer_id)
    return CustomerIdentity.objects.filter(brand_id=customer.brand_id, customer=customer).order_by(
        "kind", "id"
    )


# --- PDPA: export and erasure (omo/customers/privacy.py; HQ admin keys only) ------------------------


class EraseIn(Schema):
    reason: str = Field(
        ..., max_length=300, description="why the personal data is erased (kept in the audit log)"
    )


class EraseOut(Schema):
    id: int
    erased_at: dt.datetime
    erased_customer_ids: list[int]
    counts: dict[str, int]


class Erased(TypedDict):
    """What erase_customer answers (EraseOut)."""

    id: int
    erased_at: dt.datetime | None
    erased_customer_ids: list[int]
    counts: dict[str, int]


@router.get(
    "/customers/{customer_id}/export",
    auth=allow("customers.privacy"),
    response={200: None, **ERRORS},
    openapi_extra={
        "responses": {
            200: {  # the int key, as in `response`: a "200" string would be a second key in the JSON
                "description": "a zip of customer.json and one CSV per section",
                "content": {"application/zip": {}},
            }
        }
    },
)
def export_customer(request: HttpRequest, customer_id: int) -> HttpResponse:
    """Everything held about one customer (PDPA): profile, identities, consents, orders, points,
    coupons, bindings, conversations and messages, tracked events, clicks. Audited."""
    from omo.customers import privacy

    actor = actor_of(request)
    customer = customer_for(actor, customer_id)
    data = privacy.export_customer(customer, actor=actor)
    response = HttpResponse(data, content_type="application/zip")
    response["Content-Disposition"] = f'attachment; filename="{privacy.export_filename(customer)}"'
    return response


@router.post(
    "/customers/{customer_id}/erase", auth=allow("customers.privacy"), response={200: EraseOut, **ERRORS}
)
def erase_customer(request: HttpRequest, customer_id: int, data: EraseIn) -> Erased:
    """Erase one customer's personal data everywhere (PDPA); orders stay, anonymised. Cannot be undone."""
    from omo.customers import privacy

    actor = actor_of(request)
    customer = customer_for(actor, customer_id)
    report = privacy.erase_customer(customer, actor=actor, reason=data.reason)
    return {
        "id": customer.pk,
        "erased_at": customer.erased_at,
        "erased_customer_ids": report.customer_ids,
        "counts": report.counts,
    }
