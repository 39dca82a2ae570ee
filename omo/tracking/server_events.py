"""Events the server records itself, so every channel lands on one customer timeline.

Orders from every sales channel, chat messages in and out, tracked-link clicks, clerk bindings,
points and coupons become `TrackedEvent` rows next to what browsers and SDKs send to /v1/*:
`source` is None, `customer` is set, `timestamp` is when the thing happened and `message_id` is
deterministic (`omo:order:<id>:completed`, `omo:message:<id>` ...), so replaying a domain event
is a no-op (the unique (brand, message_id) constraint drops the copy).

Subscribers run after the publishing transaction commits (omo.core.events) and write set-wise:
each handler reads what it needs in one or two queries and inserts every row with one bulk
INSERT. A batch of ingested orders (`orders.batch_recorded`) and its bulk points are written by a
task (omo.tracking.tasks), three queries in all whatever the batch size, so the ingest request
does not pay for them; the per-order `order.recorded` events of that batch are skipped.

Event names follow the Segment e-commerce v2 spec where one exists (Order Completed, Order
Refunded, Order Cancelled, Product Clicked); the others are ours: Message Received, Message Sent,
Link Clicked, Clerk Bound, Clerk Unbound, Points Earned/Redeemed/Expired/Adjusted, Coupon Issued,
Coupon Redeemed. Money is in major units (e.g. 1280.0), as the spec's `total` and `price` are.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from django.db.models import F
from django.utils import timezone

from omo.attribution.models import Click
from omo.binding.models import Binding
from omo.commerce.models import Order, OrderLine, Refund, SalesChannel
from omo.core import events as domain_events
from omo.core.money import exponent
from omo.inbox.models import Message
from omo.loyalty.models import CouponCode, CouponRedemption, PointsEntry
from omo.tracking.bulk import insert_events
from omo.tracking.models import TrackedEvent

PREFIX = "omo:"
MESSAGE_PREVIEW = 120
# Points ledger kinds -> event names. A refund's claw-back and a cancellation's refund of
# redeemed points are adjustments the customer did not ask for; the kind stays in properties.
POINTS_EVENTS = {
    "earn": "Points Earned",
    "redeem": "Points Redeemed",
    "expire": "Points Expired",
    "adjust": "Points Adjusted",
    "reverse": "Points Adjusted",
    "restore": "Points Adjusted",
}


def _money(minor: int | None, currency: str) -> float:
    return (minor or 0) / 10 ** exponent(currency)


def _event(
    brand_id: int,
    customer_id: int,
    name: str,
    message_id: str,
    at: dt.datetime,
    properties: dict[str, Any],
    *,
    now: dt.datetime,
) -> TrackedEvent:
    return TrackedEvent(
        brand_id=brand_id,
        source=None,
        type=TrackedEvent.Type.TRACK,
        event=name,
        message_id=message_id,
        user_id="",
        anonymous_id="",
        customer_id=customer_id,
        properties=properties,
        context={"library": {"name": "omo-server"}},
        original_timestamp=at,
        received_at=now,
        timestamp=at,
    )


def save(rows: Sequence[TrackedEvent]) -> int:
    """One bulk INSERT; rows whose message_id is already stored are dropped. Returns rows offered."""
    insert_events(rows)
    return len(rows)


# --- orders -------------------------------------------------------------------------------------


def _products_by_order(order_ids: Iterable[int]) -> dict[int, list[dict[str, Any]]]:
    products: dict[int, list[dict[str, Any]]] = defaultdict(list)
    rows = (
        OrderLine.objects.filter(order_id__in=list(order_ids))
        .order_by("order_id", "id")
        .values_list("order_id", "product_id", "sku", "title", "quantity", "unit_price", "order__currency")
    )
    for order_id, product_id, sku, title, quantity, unit_price, currency in rows:
        item: dict[str, Any] = {
            "sku": sku,
            "name": title,
            "quantity": quantity,
            "price": _money(unit_price, currency),
        }
        if product_id is not None:
            item["product_id"] = str(product_id)
        products[order_id].append(item)
    return products


def _order_rows(order_ids: Sequence[int]) -> list[dict[str, Any]]:
    return [
        dict(row)
        for row in Order.objects.filter(pk__in=list(order_ids), customer_id__isnull=False).values(
            "id",
            "brand_id",
            "customer_id",
            "name",
            "sales_channel",
            "store_id",
            "status",
            "currency",
            "subtotal",
            "discount_total",
            "shipping_total",
            "tax_total",
            "total",
            "coupon_code",
            "placed_at",
            "cancelled_at",
            store_name=F("store__name"),
        )
    ]


def _order_properties(row: dict[str, Any], products: list[dict[str, Any]] | None) -> dict[str, Any]:
    currency = row["currency"]
    labels = dict(SalesChannel.choices)
    props: dict[str, Any] = {
        "order_id": str(row["id"]),
        "order_number": row["name"] or f"#{row['id']}",
        "affiliation": str(labels.get(row["sales_channel"], row["sales_channel"])),
        "sales_channel": row["sales_channel"],
        "currency": currency,
        "total": _money(row["total"], currency),
    }
    if row["store_id"] is not None:
        props["store_id"] = row["store_id"]
        props["store"] = row["store_name"] or ""
    if products is not None:
        props.update(
            subtotal=_money(row["subtotal"], currency),
            revenue=_money(row["total"] - row["shipping_total"] - row["tax_total"], currency),
            shipping=_money(row["shipping_total"], currency),
            tax=_money(row["tax_total"], currency),
            discount=_money(row["discount_total"], currency),
            products=products,
        )
        if row["coupon_code"]:
            props["coupon"] = row["coupon_code"]
    return props


def record_orders(order_ids: Sequence[int], *, now: dt.datetime | None = None) -> int:
    """Order Completed (or Order Cancelled for one recorded already cancelled) for each order that
    has a customer: two reads and one insert for the whole list."""
    if not order_ids:
        return 0
    now = now or timezone.now()
    rows = _order_rows(order_ids)
    products = _products_by_order(row["id"] for row in rows)
    events = []
    for row in rows:
        props = _order_properties(row, products.get(row["id"], []))
        if row["status"] == "cancelled":
            at = row["cancelled_at"] or row["placed_at"]
            events.append(
                _event(
                    row["brand_id"],
                    row["customer_id"],
                    "Order Cancelled",
                    f"{PREFIX}order:{row['id']}:cancelled",
                    at,
                    props,
                    now=now,
                )
            )
        else:
            events.append(
                _event(
                    row["brand_id"],
                    row["customer_id"],
                    "Order Completed",
                    f"{PREFIX}order:{row['id']}:completed",
                    row["placed_at"],
                    props,
                    now=now,
                )
            )
    return save(events)


def record_order_cancelled(order_id: int, *, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    rows = _order_rows([order_id])
    events = [
        _event(
            row["brand_id"],
            row["customer_id"],
            "Order Cancelled",
            f"{PREFIX}order:{row['id']}:cancelled",
            row["cancelled_at"] or now,
            _order_properties(row, None),
            now=now,
        )
        for row in rows
    ]
    return save(events)


def record_refund(refund_id: int, *, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    refund = Refund.objects.filter(pk=refund_id).values("id", "order_id", "amount", "created_at").first()
    if refund is None:
        return 0
    rows = _order_rows([refund["order_id"]])
    events = []
    for row in rows:
        props = _order_properties(row, None)
        props.update(refund_id=str(refund["id"]), amount=_money(refund["amount"], row["currency"]))
        events.append(
            _event(
                row["brand_id"],
                row["customer_id"],
                "Order Refunded",
                f"{PREFIX}order:{row['id']}:refund:{refund['id']}",
                refund["created_at"],
                props,
                now=now,
            )
        )
    return save(events)


# --- chat ---------------------------------------------------------------------------------------


def record_messages(message_ids: Sequence[int], *, now: dt.datetime | None = None) -> int:
    """Message Received / Message Sent; internal notes stay off the customer's timeline."""
    now = now or timezone.now()
    rows = Message.objects.filter(pk__in=list(message_ids), direction__in=["in", "out"]).values(
        "id",
        "brand_id",
        "direction",
        "kind",
        "text",
        "created_at",
        "sender_id",
        "conversation_id",
        customer_id=F("conversation__customer_id"),
        platform=F("conversation__inbox__platform"),
        inbox_name=F("conversation__inbox__name"),
    )
    events = []
    for row in rows:
        name = "Message Received" if row["direction"] == "in" else "Message Sent"
        props: dict[str, Any] = {
            "message_id": str(row["id"]),
            "conversation_id": row["conversation_id"],
            "platform": row["platform"],
            "inbox": row["inbox_name"],
            "kind": row["kind"],
            "preview": (row["text"] or "")[:MESSAGE_PREVIEW],
        }
        if row["sender_id"]:
            props["staff_id"] = row["sender_id"]
        events.append(
            _event(
                row["brand_id"],
                row["customer_id"],
                name,
                f"{PREFIX}message:{row['id']}",
                row["created_at"],
                props,
                now=now,
            )
        )
    return save(events)


# --- tracked links ------------------------------------------------------------------------------


def record_clicks(click_ids: Sequence[int], *, now: dt.datetime | None = None) -> int:
    """Product Clicked (a product link) or Link Clicked; link previews and unknown visitors skipped."""
    now = now or timezone.now()
    rows = Click.objects.filter(pk__in=list(click_ids), is_preview=False, customer_id__isnull=False).values(
        "id",
        "brand_id",
        "customer_id",
        "clicked_at",
        "clerk_id",
        "link_id",
        target=F("link__target"),
        product_id=F("link__product_id"),
        product_name=F("link__product__title"),
        clerk_name=F("clerk__display_name"),
    )
    events = []
    for row in rows:
        props: dict[str, Any] = {"link_id": row["link_id"], "url": row["target"]}
        if row["clerk_id"]:
            props["clerk_id"] = row["clerk_id"]
            props["clerk"] = row["clerk_name"] or ""
        if row["product_id"]:
            props.update(product_id=str(row["product_id"]), name=row["product_name"] or "")
        name = "Product Clicked" if row["product_id"] else "Link Clicked"
        events.append(
            _event(
                row["brand_id"],
                row["customer_id"],
                name,
                f"{PREFIX}click:{row['id']}",
                row["clicked_at"],
                props,
                now=now,
            )
        )
    return save(events)


# --- bindings -----------------------------------------------------------------------------------


def record_binding(binding_id: int, *, ended: bool, reason: str = "", now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    row = (
        Binding.objects.filter(pk=binding_id)
        .values(
            "id",
            "brand_id",
            "customer_id",
            "clerk_id",
            "store_id",
            "source",
            "started_at",
            "ended_at",
            "ended_reason",
            clerk_name=F("clerk__display_name"),
            store_name=F("store__name"),
        )
        .first()
    )
    if row is None:
        return 0
    props: dict[str, Any] = {
        "binding_id": row["id"],
        "clerk_id": row["clerk_id"],
        "clerk": row["clerk_name"] or "",
        "store_id": row["store_id"],
        "store": row["store_name"] or "",
        "source": row["source"],
    }
    if ended:
        props["reason"] = reason or row["ended_reason"]
        event = _event(
            row["brand_id"],
            row["customer_id"],
            "Clerk Unbound",
            f"{PREFIX}binding:{row['id']}:ended",
            row["ended_at"] or now,
            props,
            now=now,
        )
    else:
        event = _event(
            row["brand_id"],
            row["customer_id"],
            "Clerk Bound",
            f"{PREFIX}binding:{row['id']}:bound",
            row["started_at"],
            props,
            now=now,
        )
    return save([event])


# --- loyalty ------------------------------------------------------------------------------------


def record_points(entry_ids: Sequence[int], *, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    rows = PointsEntry.objects.filter(pk__in=list(entry_ids)).values(
        "id", "brand_id", "customer_id", "delta", "kind", "reason", "order_id", "created_at", "expires_at"
    )
    events = []
    for row in rows:
        props: dict[str, Any] = {"points": row["delta"], "kind": row["kind"], "reason": row["reason"]}
        if row["order_id"]:
            props["order_id"] = str(row["order_id"])
        if row["expires_at"]:
            props["expires_at"] = row["expires_at"].isoformat()
        events.append(
            _event(
                row["brand_id"],
                row["customer_id"],
                POINTS_EVENTS.get(row["kind"], "Points Adjusted"),
                f"{PREFIX}points:{row['id']}",
                row["created_at"],
                props,
                now=now,
            )
        )
    return save(events)


def record_coupons_issued(code_ids: Sequence[int], *, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    rows = CouponCode.objects.filter(pk__in=list(code_ids), customer_id__isnull=False).values(
        "id", "brand_id", "customer_id", "code", "created_at", "coupon_id", coupon_name=F("coupon__name")
    )
    events = [
        _event(
            row["brand_id"],
            row["customer_id"],
            "Coupon Issued",
            f"{PREFIX}coupon_code:{row['id']}:issued",
            row["created_at"],
            {"coupon_id": str(row["coupon_id"]), "coupon_name": row["coupon_name"], "coupon": row["code"]},
            now=now,
        )
        for row in rows
    ]
    return save(events)


def record_coupon_redeemed(redemption_id: int, *, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    row = (
        CouponRedemption.objects.filter(pk=redemption_id, customer_id__isnull=False)
        .values(
            "id",
            "brand_id",
            "customer_id",
            "order_id",
            "amount",
            "created_at",
            code_value=F("code__code"),
            coupon_id=F("code__coupon_id"),
            coupon_name=F("code__coupon__name"),
            currency=F("order__currency"),
        )
        .first()
    )
    if row is None:
        return 0
    props = {
        "coupon_id": str(row["coupon_id"]),
        "coupon_name": row["coupon_name"],
        "coupon": row["code_value"],
        # A till's redemption has no order yet (docs/pos.md): no order_id then.
        **({"order_id": str(row["order_id"])} if row["order_id"] else {}),
        "discount": _money(row["amount"], row["currency"] or "TWD"),
    }
    return save(
        [
            _event(
                row["brand_id"],
                row["customer_id"],
                "Coupon Redeemed",
                f"{PREFIX}coupon_redemption:{row['id']}",
                row["created_at"],
                props,
                now=now,
            )
        ]
    )


# --- domain event subscribers -------------------------------------------------------------------


def on_order_recorded(payload: dict[str, Any]) -> None:
    if payload["in_batch"]:
        return  # recorded with the whole batch by on_orders_batch_recorded
    record_orders([int(payload["order_id"])])


def on_orders_batch_recorded(payload: dict[str, Any]) -> None:
    # A bulk ingest answers its caller without paying for the timeline: a worker writes it.
    from omo.tracking import tasks

    tasks.record_orders.enqueue([int(order_id) for order_id in payload["order_ids"]])


def on_order_cancelled(payload: dict[str, Any]) -> None:
    record_order_cancelled(int(payload["order_id"]))


def on_order_refunded(payload: dict[str, Any]) -> None:
    record_refund(int(payload["refund_id"]))


def on_message_created(payload: dict[str, Any]) -> None:
    if payload["direction"] in ("in", "out"):
        record_messages([int(payload["message_id"])])


def on_link_clicked(payload: dict[str, Any]) -> None:
    record_clicks([int(payload["click_id"])])


def on_binding_created(payload: dict[str, Any]) -> None:
    record_binding(int(payload["binding_id"]), ended=False)


def on_binding_ended(payload: dict[str, Any]) -> None:
    record_binding(int(payload["binding_id"]), ended=True, reason=str(payload.get("reason") or ""))


def on_points_posted(payload: dict[str, Any]) -> None:
    entry_ids = [int(entry_id) for entry_id in payload["entry_ids"]]
    if len(entry_ids) > 1:  # a bulk earn from a batch of orders: in the background, like the orders
        from omo.tracking import tasks

        tasks.record_points.enqueue(entry_ids)
    else:
        record_points(entry_ids)


def on_coupons_issued(payload: dict[str, Any]) -> None:
    record_coupons_issued([int(code_id) for code_id in payload["code_ids"]])


def on_coupon_redeemed(payload: dict[str, Any]) -> None:
    record_coupon_redeemed(int(payload["redemption_id"]))


SUBSCRIPTIONS = {
    "order.recorded": on_order_recorded,
    "orders.batch_recorded": on_orders_batch_recorded,
    "order.cancelled": on_order_cancelled,
    "order.refunded": on_order_refunded,
    "message.created": on_message_created,
    "link.clicked": on_link_clicked,
    "binding.created": on_binding_created,
    "binding.ended": on_binding_ended,
    "points.posted": on_points_posted,
    "coupons.issued": on_coupons_issued,
    "coupon.redeemed": on_coupon_redeemed,
}


# Payloads a subscriber ignores get no follow-up row (a bulk ingest's orders come with the batch).
WANTED = {
    "order.recorded": domain_events.not_in_batch,
    "message.created": lambda payload: payload["direction"] in ("in", "out"),
}


def subscribe_all() -> None:
    """Called once from TrackingConfig.ready. Durable: a timeline row lost in a crash is written by
    the worker's retry, and a retry that finds the row already there is a no-op (unique message_id)."""
    for name, handler in SUBSCRIPTIONS.items():
        domain_events.subscribe(name, handler, durable=f"tracking.{name}", when=WANTED.get(name))
    from omo.tracking import sweep

    sweep.register()
