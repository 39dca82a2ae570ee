"""REST endpoints for orders: ingest (one or a batch), list, read, pay, fulfil, cancel, refund."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db.models import Q
from django.http import HttpRequest
from ninja import Header, Query, Router, Schema, Status
from pydantic import Field, ValidationError

from omo.commerce import services
from omo.commerce.models import Carrier, Order, OrderAction, Refund, SalesChannel
from omo.commerce.schemas import OrderIn, RefundIn
from omo.commerce.selectors import allowed_actions, visible_orders, with_customer_visibility
from omo.commerce.tracking import tracking_url
from omo.core.api import ApiError, ErrorOut, PageParams, actor_of, allow, aware, get_or_404, page
from omo.core.audit import Actor
from omo.core.schemas import DictSchema
from omo.staff.selectors import visible_stores

router = Router(tags=["orders"])

MAX_BATCH = 500


# --- shapes -----------------------------------------------------------------------------------


class OrderLineOut(Schema):
    id: int
    sku: str
    title: str
    variant_id: int | None
    product_id: int | None
    quantity: int
    unit_price: int
    discount: int
    total: int
    refunded_quantity: int


class DiscountOut(Schema):
    code: str = ""
    kind: str = ""
    amount: int = 0


class RefundOut(Schema):
    id: int
    order_id: int
    external_id: str
    amount: int
    currency: str
    reason: str
    lines: list[dict[str, Any]]
    restock: bool
    created_at: dt.datetime

    @staticmethod
    def resolve_currency(refund: Refund) -> str:
        return refund.order.currency


def _customer_hidden(order: Order) -> bool:
    """A clerk's sale of someone else's customer: the order is theirs, the buyer is not."""
    return bool(getattr(order, "customer_hidden", False))


class OrderSummaryOut(Schema):
    id: int
    source: str
    external_id: str
    name: str
    sales_channel: str
    store_id: int | None
    store_code: str | None
    staff_code: str
    customer_id: int | None
    status: str
    currency: str
    subtotal: int
    discount_total: int
    shipping_total: int
    tax_total: int
    total: int
    refunded_total: int
    placed_at: dt.datetime
    paid_at: dt.datetime | None
    fulfilled_at: dt.datetime | None
    cancelled_at: dt.datetime | None

    @staticmethod
    def resolve_store_code(order: Order) -> str | None:
        return order.store.code if order.store is not None else None

    @staticmethod
    def resolve_customer_id(order: Order) -> int | None:
        return None if _customer_hidden(order) else order.customer_id


class OrderActionOut(Schema):
    kind: str = Field(..., description="paid | fulfilled | cancelled | refunded")
    actor: str = Field(..., description="user:<name>, api_key:<prefix> or system")
    reason: str
    detail: dict[str, Any]
    created_at: dt.datetime

    @staticmethod
    def resolve_actor(action: OrderAction) -> str:
        return action.actor_label


class InvoiceOut(Schema):
    kind: str = Field(
        ..., description='"member", "mobile", "company" or "donation"; "" when the channel did not ask'
    )
    carrier: str = Field(..., description='mobile barcode carrier ("/" and 7 characters) for "mobile"')
    tax_id: str = Field(..., description='the buyer\'s 8-digit business number (統一編號) for "company"')
    company: str = Field(..., description='the company name printed on the invoice for "company"')
    donation_code: str = Field(..., description='the charity\'s donation code (愛心碼) for "donation"')


class OrderOut(OrderSummaryOut):
    cancel_reason: str
    carrier: str
    tracking_number: str
    tracking_url: str | None
    allowed_actions: list[str] = Field(
        ..., description="what the order's state allows next: pay, fulfil, cancel, refund"
    )
    history: list[OrderActionOut] = Field(
        ..., description="the steps taken after the order was recorded, oldest first"
    )
    fulfilment: str
    payment_method: str
    contact_name: str
    contact_phone: str
    contact_email: str
    coupon_code: str
    points_redeemed: int
    ref: str
    note: str
    discounts: list[DiscountOut]
    lines: list[OrderLineOut]
    refunds: list[RefundOut]
    shipping_address: dict[str, str] = Field(
        ..., description="postal_code, city, district, line1 for home delivery; {} otherwise"
    )
    invoice: InvoiceOut

    @staticmethod
    def resolve_invoice(order: Order) -> dict[str, str]:
        hidden = _customer_hidden(order)
        return {
            "kind": order.invoice_kind,
            "carrier": "" if hidden else order.invoice_carrier,
            "tax_id": "" if hidden else order.invoice_tax_id,
            "company": "" if hidden else order.invoice_company,
            "donation_code": order.invoice_donation_code,
        }

    # A clerk's sale of a customer bound to someone else: the buyer's contact stays out.
    @staticmethod
    def resolve_contact_name(order: Order) -> str:
        return "" if _customer_hidden(order) else order.contact_name

    @staticmethod
    def resolve_contact_phone(order: Order) -> str:
        return "" if _customer_hidden(order) else order.contact_phone

    @staticmethod
    def resolve_contact_email(order: Order) -> str:
        return "" if _customer_hidden(order) else order.contact_email

    @staticmethod
    def resolve_shipping_address(order: Order) -> dict[str, str]:
        return {} if _customer_hidden(order) else order.shipping_address

    @staticmethod
    def resolve_tracking_url(order: Order) -> str | None:
        return tracking_url(order.carrier, order.tracking_number)

    @staticmethod
    def resolve_allowed_actions(order: Order) -> list[str]:
        return sorted(allowed_actions(order))

    @staticmethod
    def resolve_history(order: Order) -> list[OrderAction]:
        return list(order.actions.all())


class OrderPage(Schema):
    total: int
    limit: int
    offset: int
    items: list[OrderSummaryOut]


class BatchIn(Schema):
    orders: list[Any] = Field(
        ...,
        min_length=1,
        max_length=MAX_BATCH,
        description=f"up to {MAX_BATCH} orders, each shaped like OrderIn (POST /orders); each is checked on its own",
    )


class BatchItemOut(DictSchema):
    index: int
    status: str = Field(..., description="created | existing | rejected")
    order_id: int | None = None
    field: str | None = None
    error: str | None = None


class BatchOut(DictSchema):
    created: int
    existing: int
    rejected: int
    results: list[BatchItemOut]


class OrderFilters(Schema):
    sales_channel: SalesChannel | None = None
    store_code: str | None = None
    status: Order.Status | None = None
    customer_id: int | None = None
    placed_after: dt.datetime | None = Field(None, description="inclusive")
    placed_before: dt.datetime | None = Field(None, description="exclusive")


class PayIn(Schema):
    note: str = Field("", max_length=250, description="how it was paid, e.g. the bank transfer's last digits")


class FulfilIn(Schema):
    carrier: Carrier | None = Field(None, description="the carrier; needed with a tracking number")
    tracking_number: str = Field("", max_length=60)
    note: str = Field("", max_length=250)


class CancelIn(Schema):
    reason: str = Field("", max_length=250)


IDEMPOTENCY_KEY = Header(
    None,
    alias="Idempotency-Key",
    max_length=120,
    description="send the same key again (e.g. on a retry) to get the order back instead of a 409",
)


ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


# --- scope ------------------------------------------------------------------------------------


def _detail(actor: Actor, order_id: int) -> Order:
    orders = visible_orders(actor).select_related("store").prefetch_related("lines", "refunds", "actions")
    return get_or_404(
        with_customer_visibility(orders, actor),
        f"order {order_id}",
        pk=order_id,
    )


def _field_path(loc: tuple[Any, ...] | list[Any]) -> str:
    """('lines', 0, 'quantity') -> 'lines[0].quantity'."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path


def _check_till_sale(actor: Actor, data: OrderIn) -> None:
    """A till key records POS sales of its own store, nothing else."""
    if data.sales_channel != SalesChannel.POS:
        raise ApiError(403, "forbidden", "a store's till key records POS sales only", field="sales_channel")
    own = visible_stores(actor).filter(code=data.store_code).exists() if actor.store_id else False
    if not own:
        raise ApiError(
            403,
            "store_mismatch",
            f"this key may not record sales of store {data.store_code}",
            field="store_code",
        )


# --- endpoints --------------------------------------------------------------------------------


@router.post(
    "/orders", auth=allow("orders.write", "pos.sell"), response={200: OrderOut, 201: OrderOut, **ERRORS}
)
def record_order(request: HttpRequest, data: OrderIn):
    """Record an order from any sales channel. Idempotent on (source, external_id): the first
    receipt answers 201, a repeat answers 200 with the order recorded the first time. A store's
    till key (`pos.sell`) records POS sales of its own store only. A POS sale handed over in store
    takes its units off the store's stock (`decrement_stock`; docs/orders.md)."""
    actor = actor_of(request)
    if not actor.can("orders.write"):
        _check_till_sale(actor, data)
    order, created = services.record_order(actor.brand, data, actor=actor)
    return Status(201 if created else 200, _detail(actor, order.pk))


@router.post("/orders/batch", auth=allow("orders.write"), response={200: BatchOut, **ERRORS})
def record_orders(request: HttpRequest, data: BatchIn):
    """Record up to 500 orders. Each is checked on its own: a bad one is reported with the field
    (`orders[3].lines[0].quantity`) and the others are recorded."""
    actor = actor_of(request)
    results: list[dict[str, Any] | None] = [None] * len(data.orders)
    valid: list[OrderIn] = []
    positions: list[int] = []
    for index, raw in enumerate(data.orders):
        if not isinstance(raw, dict):
            results[index] = {
                "index": index,
                "status": "rejected",
                "field": f"orders[{index}]",
                "error": "must be a JSON object shaped like OrderIn",
            }
            continue
        try:
            valid.append(OrderIn.model_validate(raw))
            positions.append(index)
        except ValidationError as exc:
            first = exc.errors()[0]
            results[index] = {
                "index": index,
                "status": "rejected",
                "field": f"orders[{index}]" + (f".{_field_path(first['loc'])}" if first["loc"] else ""),
                "error": str(first["msg"]).removeprefix("Value error, "),
            }
    for outcome in services.record_orders(actor.brand, valid, actor=actor):
        index = positions[outcome.index]
        item: dict[str, Any] = {"index": index, "status": outcome.status}
        if outcome.order is not None:
            item["order_id"] = outcome.order.pk
        if outcome.status == "rejected":
            item["field"] = f"orders[{index}].{outcome.field}" if outcome.field else f"orders[{index}]"
            item["error"] = outcome.error
        results[index] = item
    counts = {"created": 0, "existing": 0, "rejected": 0}
    for result in results:
        assert result is not None
        counts[result["status"]] += 1
    return {**counts, "results": results}


@router.get("/orders", auth=allow("orders.read"), response={200: OrderPage, **ERRORS})
def list_orders(request: HttpRequest, filters: Query[OrderFilters], paging: Query[PageParams]):
    """Orders, newest first. Store managers see their store's orders only."""
    actor = actor_of(request)
    orders = with_customer_visibility(visible_orders(actor).select_related("store"), actor)
    if filters.sales_channel:
        orders = orders.filter(sales_channel=filters.sales_channel)
    if filters.store_code:
        orders = orders.filter(store__code=filters.store_code)
    if filters.status:
        orders = orders.filter(status=filters.status)
    if filters.customer_id is not None:
        # a clerk's sale of someone else's customer does not answer to that customer's id
        orders = orders.filter(Q(customer_id=filters.customer_id, customer_hidden=False))
    if filters.placed_after:
        orders = orders.filter(placed_at__gte=aware(filters.placed_after, actor))
    if filters.placed_before:
        orders = orders.filter(placed_at__lt=aware(filters.placed_before, actor))
    return page(orders.order_by("-placed_at", "-id"), paging)


@router.get("/orders/{order_id}", auth=allow("orders.read"), response={200: OrderOut, **ERRORS})
def get_order(request: HttpRequest, order_id: int):
    """One order with its lines, discounts and refunds."""
    return _detail(actor_of(request), order_id)


@router.post("/orders/{order_id}/pay", auth=allow("orders.manage"), response={200: OrderOut, **ERRORS})
def pay_order(
    request: HttpRequest,
    order_id: int,
    data: PayIn | None = None,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
):
    """Mark a placed order paid. 409 (`invalid_transition`) in any other state, unless the same
    `Idempotency-Key` already paid it. HQ admins, and store managers for their store's orders."""
    actor = actor_of(request)
    services.mark_paid(
        _detail(actor, order_id),
        actor=actor,
        note=data.note if data else "",
        idempotency_key=idempotency_key or "",
    )
    return _detail(actor, order_id)


@router.post("/orders/{order_id}/fulfil", auth=allow("orders.manage"), response={200: OrderOut, **ERRORS})
def fulfil_order(
    request: HttpRequest,
    order_id: int,
    data: FulfilIn | None = None,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
):
    """Goods handed over (shipped or picked up), with the carrier and tracking number: reserved
    stock leaves its location; a placed (pay on delivery) order is paid too. Not after a
    cancellation or a fulfilment (409)."""
    actor = actor_of(request)
    services.fulfil(
        _detail(actor, order_id),
        actor=actor,
        carrier=data.carrier.value if data and data.carrier else "",
        tracking_number=data.tracking_number if data else "",
        note=data.note if data else "",
        idempotency_key=idempotency_key or "",
    )
    return _detail(actor, order_id)


@router.post("/orders/{order_id}/cancel", auth=allow("orders.manage"), response={200: OrderOut, **ERRORS})
def cancel_order(
    request: HttpRequest,
    order_id: int,
    data: CancelIn | None = None,
    idempotency_key: str | None = IDEMPOTENCY_KEY,
):
    """Cancel a placed or paid order before it is fulfilled: reservations, points and coupon are
    given back. 409 once fulfilled, refunded or cancelled (unless the same `Idempotency-Key`)."""
    actor = actor_of(request)
    services.cancel(
        _detail(actor, order_id),
        actor=actor,
        reason=data.reason if data else "",
        idempotency_key=idempotency_key or "",
    )
    return _detail(actor, order_id)


@router.post(
    "/orders/{order_id}/refunds",
    auth=allow("orders.refund"),
    response={200: RefundOut, 201: RefundOut, **ERRORS},
)
def refund_order(request: HttpRequest, order_id: int, data: RefundIn):
    """Refund part or all of a paid order: an `amount`, `lines` (their share of the line totals), or
    both, within what was paid minus what was refunded (422 `amount` beyond it); `restock` puts the
    lines' units back in stock. Idempotent on `external_id`: a repeat answers 200 with the first."""
    actor = actor_of(request)
    refund, created = services.refund(_detail(actor, order_id), data, actor=actor)
    refund = Refund.objects.select_related("order").get(pk=refund.pk)
    return Status(201 if created else 200, refund)
