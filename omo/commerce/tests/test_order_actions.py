"""Acting on orders over the API: pay, fulfil, cancel, refund; the state machine, roles, brands,
idempotency, the stored reasons and the history."""

from __future__ import annotations

import json

import pytest

from omo.catalog.models import StockLevel
from omo.commerce import services
from omo.commerce.models import Order, OrderAction, Refund
from omo.commerce.schemas import OrderIn, RefundIn
from omo.commerce.selectors import allowed_actions
from omo.commerce.services import Contact, lifecycle
from omo.commerce.tracking import tracking_url
from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.testing import factories as f


def record(brand, *, external_id="O-1", store_code="TPE01", status="placed", lines=None) -> Order:
    data = {
        "source": "pos",
        "external_id": external_id,
        "sales_channel": "pos" if store_code else "web_shop",
        "store_code": store_code,
        "placed_at": "2026-11-20T10:00:00+08:00",
        "status": status,
        "lines": lines or [{"sku": "TEE-M", "quantity": 2, "unit_price": 50000}],
    }
    order, _ = services.record_order(brand, OrderIn.model_validate(data), actor=None)
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def tee(brand):
    return f.make_product(brand, "短T", variants=[("TEE-M", "M", 50000)]).variants.get()


@pytest.fixture
def placed(brand, store, other_store, tee):
    return record(brand)


@pytest.fixture
def published(monkeypatch):
    seen: list[tuple[str, dict]] = []
    original = lifecycle.events.publish

    def spy(name, **payload):
        seen.append((name, payload))
        return original(name, **payload)

    monkeypatch.setattr(lifecycle.events, "publish", spy)
    return seen


def post(api, path, body=None, key=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {api.key}"}
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    return api.client.post(path, json.dumps(body or {}), content_type="application/json", **headers)


# --- the state machine ------------------------------------------------------------------------


def test_allowed_actions_follow_the_state(placed):
    assert allowed_actions(placed) == {"pay", "fulfil", "cancel"}
    placed.status = Order.Status.PAID
    assert allowed_actions(placed) == {"fulfil", "cancel", "refund"}
    placed.status = Order.Status.FULFILLED
    assert allowed_actions(placed) == {"refund"}
    placed.status = Order.Status.PARTIALLY_REFUNDED
    assert allowed_actions(placed) == {"fulfil", "refund"}
    placed.fulfilled_at = placed.placed_at
    assert allowed_actions(placed) == {"refund"}
    for done in (Order.Status.CANCELLED, Order.Status.REFUNDED):
        placed.status = done
        assert allowed_actions(placed) == frozenset()


# --- pay --------------------------------------------------------------------------------------


def test_pay_stores_the_note_audits_and_publishes(api, placed, published):
    response = post(api, f"/api/v1/orders/{placed.pk}/pay", {"note": "匯款末五碼 12345"})

    assert response.status_code == 200, response.content
    data = response.json()
    assert data["status"] == "paid" and data["paid_at"]
    assert data["allowed_actions"] == ["cancel", "fulfil", "refund"]
    assert [(h["kind"], h["reason"]) for h in data["history"]] == [("paid", "匯款末五碼 12345")]
    assert data["history"][0]["actor"].startswith("api_key:")
    assert AuditLog.objects.filter(action="order.paid", target_id=str(placed.pk)).count() == 1
    assert [name for name, _ in published] == ["order.paid"]


def test_paying_twice_is_a_409_naming_the_state(api, placed):
    assert post(api, f"/api/v1/orders/{placed.pk}/pay").status_code == 200
    again = post(api, f"/api/v1/orders/{placed.pk}/pay")
    assert again.status_code == 409
    body = again.json()
    assert (body["code"], body["field"], body["order_status"]) == ("invalid_transition", "status", "paid")
    assert body["allowed_actions"] == ["cancel", "fulfil", "refund"]
    assert OrderAction.objects.filter(order=placed).count() == 1


def test_a_retry_with_the_same_idempotency_key_is_answered_not_refused(api, placed, published):
    first = post(api, f"/api/v1/orders/{placed.pk}/pay", key="pay-1")
    retry = post(api, f"/api/v1/orders/{placed.pk}/pay", key="pay-1")
    other = post(api, f"/api/v1/orders/{placed.pk}/pay", key="pay-2")

    assert (first.status_code, retry.status_code, other.status_code) == (200, 200, 409)
    assert retry.json()["status"] == "paid"
    assert OrderAction.objects.filter(order=placed, kind="paid").count() == 1
    assert [name for name, _ in published] == ["order.paid"]  # once


def test_the_idempotency_key_is_in_the_openapi_document(api):
    document = api.get("/api/v1/openapi.json").json()
    for action in ("pay", "fulfil", "cancel"):
        parameters = document["paths"][f"/api/v1/orders/{{order_id}}/{action}"]["post"]["parameters"]
        assert "Idempotency-Key" in [p["name"] for p in parameters], action


# --- fulfil -----------------------------------------------------------------------------------


def test_fulfil_with_carrier_and_tracking_number(api, placed, published):
    response = post(
        api, f"/api/v1/orders/{placed.pk}/fulfil", {"carrier": "tcat", "tracking_number": "9012 3456"}
    )

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["status"], data["carrier"], data["tracking_number"]) == ("fulfilled", "tcat", "9012 3456")
    assert data["tracking_url"] == "https://www.t-cat.com.tw/Inquire/TraceDetail.aspx?BillID=9012%203456"
    assert data["paid_at"] is not None  # paid on delivery
    assert [name for name, _ in published] == ["order.paid", "order.fulfilled"]
    assert data["history"][0]["detail"]["paid_on_delivery"] is True


def test_only_known_carriers_have_a_tracking_link():
    assert tracking_url("hct", "123") is None
    assert tracking_url("tcat", "") is None
    assert tracking_url("tcat", "123") == "https://www.t-cat.com.tw/Inquire/TraceDetail.aspx?BillID=123"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"carrier": "dhl"}, "carrier"),
        ({"tracking_number": "123"}, "carrier"),
        ({"carrier": "hct", "tracking_number": "9" * 61}, "tracking_number"),
    ],
)
def test_fulfil_refuses_bad_shipping_details_by_field(api, placed, body, field):
    response = post(api, f"/api/v1/orders/{placed.pk}/fulfil", body)
    assert response.status_code == 422
    assert field in json.dumps(response.json())
    assert Order.objects.get(pk=placed.pk).status == "placed"


def test_fulfilled_orders_cannot_be_fulfilled_cancelled_or_paid(api, placed):
    assert post(api, f"/api/v1/orders/{placed.pk}/fulfil").status_code == 200
    for action in ("fulfil", "cancel", "pay"):
        response = post(api, f"/api/v1/orders/{placed.pk}/{action}", {"reason": "x"})
        assert response.status_code == 409, action
        assert response.json()["code"] == "invalid_transition"


# --- cancel -----------------------------------------------------------------------------------


def test_cancel_stores_the_reason_and_publishes(api, placed, published):
    response = post(api, f"/api/v1/orders/{placed.pk}/cancel", {"reason": "顧客改買別款"})
    assert response.status_code == 200
    data = response.json()
    assert (data["status"], data["cancel_reason"], data["allowed_actions"]) == (
        "cancelled",
        "顧客改買別款",
        [],
    )
    assert [name for name, _ in published] == ["order.cancelled"]
    for action in ("pay", "fulfil", "cancel"):
        assert post(api, f"/api/v1/orders/{placed.pk}/{action}").status_code == 409


# --- refunds ----------------------------------------------------------------------------------


def test_a_placed_order_cannot_be_refunded(api, placed):
    response = post(api, f"/api/v1/orders/{placed.pk}/refunds", {"external_id": "R", "amount": 100})
    assert response.status_code == 409
    assert Refund.objects.count() == 0


def test_refund_by_lines_computes_the_amount(api, placed, published):
    post(api, f"/api/v1/orders/{placed.pk}/pay")
    line = placed.lines.get()
    response = post(
        api,
        f"/api/v1/orders/{placed.pk}/refunds",
        {"external_id": "R-1", "lines": [{"line_id": line.pk, "quantity": 1}], "reason": "瑕疵"},
    )
    assert response.status_code == 201, response.content
    assert response.json()["amount"] == 50000
    order = Order.objects.get(pk=placed.pk)
    assert (order.status, order.refunded_total) == ("partially_refunded", 50000)
    assert (
        "order.refunded",
        {
            "brand_id": order.brand_id,
            "order_id": order.pk,
            "refund_id": response.json()["id"],
            "amount": 50000,
        },
    ) in published
    history = post(api, f"/api/v1/orders/{placed.pk}/refunds", {"external_id": "R-1", "amount": 1})
    assert history.status_code == 200  # the same external_id: the first refund, nothing new
    assert OrderAction.objects.filter(order=order, kind="refunded").get().reason == "瑕疵"


def test_over_refund_is_422_naming_amount_and_what_is_left(api, placed):
    post(api, f"/api/v1/orders/{placed.pk}/pay")
    assert (
        post(api, f"/api/v1/orders/{placed.pk}/refunds", {"external_id": "R-1", "amount": 60000}).status_code
        == 201
    )
    response = post(api, f"/api/v1/orders/{placed.pk}/refunds", {"external_id": "R-2", "amount": 40001})
    assert response.status_code == 422
    assert (response.json()["field"], response.json()["refundable"]) == ("amount", 40000)
    assert (
        post(api, f"/api/v1/orders/{placed.pk}/refunds", {"external_id": "R-3", "amount": 40000}).status_code
        == 201
    )
    order = Order.objects.get(pk=placed.pk)
    assert (order.status, order.refunded_total) == ("refunded", 100000)
    # Nothing left: a further refund is a state error, not a second refund.
    assert (
        post(api, f"/api/v1/orders/{placed.pk}/refunds", {"external_id": "R-4", "amount": 1}).status_code
        == 409
    )


def test_refund_needs_an_amount_or_lines(api, placed):
    post(api, f"/api/v1/orders/{placed.pk}/pay")
    response = post(api, f"/api/v1/orders/{placed.pk}/refunds", {"external_id": "R-1"})
    assert response.status_code == 422 and response.json()["field"] == "amount"


def test_refund_refuses_a_line_twice_or_of_another_order(api, brand, placed):
    post(api, f"/api/v1/orders/{placed.pk}/pay")
    line = placed.lines.get()
    other = record(brand, external_id="O-2")
    for lines, field in (
        ([{"line_id": line.pk, "quantity": 1}, {"line_id": line.pk, "quantity": 1}], "lines[1].line_id"),
        ([{"line_id": other.lines.get().pk, "quantity": 1}], "lines[0].line_id"),
        ([{"line_id": line.pk, "quantity": 3}], "lines[0].quantity"),
    ):
        response = post(api, f"/api/v1/orders/{placed.pk}/refunds", {"external_id": "R", "lines": lines})
        assert (response.status_code, response.json()["field"]) == (422, field)
    assert Refund.objects.count() == 0


# --- who may act ------------------------------------------------------------------------------


def test_a_store_manager_acts_on_their_stores_orders_only(brand, store, placed):
    elsewhere = record(brand, external_id="O-KHH", store_code="KHH01")
    manager_api = f.ApiClient(f.make_api_key(brand, role="store_manager", store=store))
    assert post(manager_api, f"/api/v1/orders/{placed.pk}/pay").status_code == 200
    for action in ("pay", "fulfil", "cancel"):
        assert post(manager_api, f"/api/v1/orders/{elsewhere.pk}/{action}").status_code == 404
    assert Order.objects.get(pk=elsewhere.pk).status == "placed"


def test_clerks_and_hq_agents_may_not_act(brand, clerk, placed):
    for role, kwargs in (("clerk", {"staff": clerk}), ("hq_agent", {})):
        client = f.ApiClient(f.make_api_key(brand, role=role, **kwargs))
        for action in ("pay", "fulfil", "cancel"):
            response = post(client, f"/api/v1/orders/{placed.pk}/{action}")
            assert response.status_code == 403, (role, action)
    assert Order.objects.get(pk=placed.pk).status == "placed"


def test_another_brand_gets_404(other_api, placed):
    for action in ("pay", "fulfil", "cancel"):
        assert post(other_api, f"/api/v1/orders/{placed.pk}/{action}").status_code == 404
    response = post(other_api, f"/api/v1/orders/{placed.pk}/refunds", {"external_id": "R", "amount": 1})
    assert response.status_code == 404
    assert Order.objects.get(pk=placed.pk).status == "placed"


def test_the_services_check_the_actor_too(brand, clerk, placed):
    """A caller that skips the view's check is still refused by the service."""
    with pytest.raises(services.OrderError) as refused:
        services.mark_paid(placed, actor=Actor(brand=brand, user=clerk, role="clerk"))
    assert refused.value.status == 403
    with pytest.raises(services.OrderError) as refused:
        services.refund(
            placed, RefundIn(external_id="R", amount=1), actor=Actor(brand=brand, user=clerk, role="clerk")
        )
    assert refused.value.status == 403


# --- stock ------------------------------------------------------------------------------------


@pytest.fixture
def shop_order(brand, warehouse):
    shirt = f.make_product(brand, "襯衫", variants=[("SH-M", "M", 89000)]).variants.get()
    f.set_stock(shirt, warehouse, 5)
    cart = services.new_cart(brand)
    services.add_to_cart(cart, shirt, 2)
    order = services.checkout(
        cart,
        contact=Contact(
            name="王小明",
            phone="0912345678",
            address={"city": "台北市", "district": "信義區", "line1": "信義路一段1號"},
        ),
        fulfilment="ship",
        payment_method="cod",
    )
    return order, shirt


def _level(shirt, warehouse):
    level = StockLevel.objects.get(variant=shirt, location=warehouse)
    return level.on_hand, level.reserved


def test_cancel_over_the_api_releases_the_reserved_stock(api, shop_order, warehouse):
    order, shirt = shop_order
    assert _level(shirt, warehouse) == (5, 2)
    assert post(api, f"/api/v1/orders/{order.pk}/cancel", {"reason": "缺貨"}).status_code == 200
    assert _level(shirt, warehouse) == (5, 0)


def test_a_full_refund_before_fulfilment_ends_the_reservation_without_restocking_twice(
    api, shop_order, warehouse
):
    order, shirt = shop_order
    post(api, f"/api/v1/orders/{order.pk}/pay")
    line = order.lines.get()
    response = post(
        api,
        f"/api/v1/orders/{order.pk}/refunds",
        {
            "external_id": "R",
            "amount": Order.objects.get(pk=order.pk).total,
            "restock": True,
            "lines": [{"line_id": line.pk, "quantity": 2}],
        },
    )
    assert response.status_code == 201, response.content
    assert _level(shirt, warehouse) == (5, 0)


def test_a_refund_after_fulfilment_restocks_when_asked(api, shop_order, warehouse):
    order, shirt = shop_order
    post(api, f"/api/v1/orders/{order.pk}/fulfil", {"carrier": "hct", "tracking_number": "1"})
    assert _level(shirt, warehouse) == (3, 0)
    line = order.lines.get()
    body = {"external_id": "R", "restock": True, "lines": [{"line_id": line.pk, "quantity": 1}]}
    assert post(api, f"/api/v1/orders/{order.pk}/refunds", body).status_code == 201
    assert _level(shirt, warehouse) == (4, 0)
