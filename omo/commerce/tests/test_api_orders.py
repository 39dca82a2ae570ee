"""Orders over the REST API: ingest (single and batch), idempotency, validation, reads, life cycle."""

from __future__ import annotations

import copy

import pytest

from omo.commerce.models import Order, OrderLine, Refund
from omo.customers.models import Customer
from omo.loyalty.models import PointsEntry
from omo.testing import factories as f

PLACED = "2026-11-20T15:30:00+08:00"


def body(**overrides):
    order = {
        "source": "pos-erp",
        "external_id": "TPE01-000123",
        "name": "TPE01-000123",
        "sales_channel": "pos",
        "store_code": "TPE01",
        "staff_code": "E001",
        "placed_at": PLACED,
        "customer": {"phone": "0912345678", "name": "陳大文"},
        "lines": [{"sku": "TEE-M", "quantity": 2, "unit_price": 59000, "discount": 8000}],
        "discounts": [{"code": "", "kind": "member", "amount": 10000}],
        "shipping_total": 0,
        "status": "paid",
    }
    order.update(overrides)
    return order


@pytest.fixture
def tee(brand):
    return f.make_product(brand, "短T", variants=[("TEE-M", "M", 59000)]).variants.get()


# --- POST /orders -----------------------------------------------------------------------------


def test_record_order_answers_201_with_the_order(api, brand, store, clerk, tee):
    response = api.post("/api/v1/orders", body())

    assert response.status_code == 201, response.content
    data = response.json()
    order = Order.objects.get()
    assert data["id"] == order.pk
    assert (data["source"], data["external_id"], data["name"]) == ("pos-erp", "TPE01-000123", "TPE01-000123")
    assert (data["sales_channel"], data["store_code"], data["store_id"]) == ("pos", "TPE01", store.pk)
    assert data["status"] == "paid"
    assert data["currency"] == "TWD"
    assert (data["subtotal"], data["discount_total"], data["shipping_total"], data["total"]) == (
        110000,
        10000,
        0,
        100000,
    )
    assert data["refunded_total"] == 0
    assert data["placed_at"] == "2026-11-20T07:30:00Z"
    assert data["customer_id"] == Customer.objects.get(phone="+886912345678").pk
    assert data["discounts"] == [{"code": "", "kind": "member", "amount": 10000}]
    assert data["refunds"] == []
    [line] = data["lines"]
    assert line == {
        "id": OrderLine.objects.get().pk,
        "sku": "TEE-M",
        "title": "短T M",
        "variant_id": tee.pk,
        "product_id": tee.product_id,
        "quantity": 2,
        "unit_price": 59000,
        "discount": 8000,
        "total": 110000,
        "refunded_quantity": 0,
    }
    assert order.staff == clerk


def test_repeat_with_another_body_is_409_naming_what_differs(api, brand, store, tee):
    first = api.post("/api/v1/orders", body()).json()

    response = api.post(
        "/api/v1/orders",
        body(
            lines=[{"sku": "TEE-M", "quantity": 9, "unit_price": 1}],
            note="改過",
            placed_at="2026-11-21T15:30:00+08:00",
        ),
    )

    assert response.status_code == 409
    data = response.json()
    assert (data["code"], data["field"], data["fields"]) == (
        "order_conflict",
        "lines",
        ["lines", "note", "placed_at"],
    )
    assert data["order_id"] == first["id"]
    assert data["detail"] == (
        "order 'TPE01-000123' of 'pos-erp' was recorded with another body; these fields differ: lines, note, placed_at"
    )
    assert Order.objects.get().total == 100000 and Order.objects.count() == 1
    # another source may use the same external id: a new order
    assert api.post("/api/v1/orders", body(source="web-erp", note="改過")).status_code == 201


def test_an_order_recorded_before_digests_stays_idempotent(api, brand, store, tee):
    first = api.post("/api/v1/orders", body()).json()
    Order.objects.filter(pk=first["id"]).update(request_digest={})

    response = api.post("/api/v1/orders", body(note="不同"))

    assert response.status_code == 200 and response.json()["id"] == first["id"]


def test_repeat_answers_200_with_the_same_order_and_creates_nothing(api, brand, store, tee):
    first = api.post("/api/v1/orders", body()).json()
    counts = (
        Order.objects.count(),
        OrderLine.objects.count(),
        Customer.objects.count(),
        PointsEntry.objects.count(),
    )

    response = api.post("/api/v1/orders", body())
    # the same body in another shape: the same moment in UTC, a default sent explicitly
    same = api.post("/api/v1/orders", body(placed_at="2026-11-20T07:30:00Z", currency="TWD", note=""))

    assert response.status_code == 200 and same.status_code == 200, same.content
    assert response.json()["id"] == first["id"] == same.json()["id"]
    assert response.json()["total"] == 100000  # the first receipt stands
    assert (
        Order.objects.count(),
        OrderLine.objects.count(),
        Customer.objects.count(),
        PointsEntry.objects.count(),
    ) == counts


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b.pop("external_id"), "external_id"),
        (lambda b: b.update(placed_at="yesterday"), "placed_at"),
        (lambda b: b["lines"][0].update(quantity="two"), "quantity"),
        (lambda b: b["lines"][0].update(quantity=-1), "quantity"),
        (lambda b: b.update(lines=[]), "lines"),
        (lambda b: b.update(placed_at="2026-11-20T15:30:00"), "placed_at"),
        (lambda b: b.update(sales_channel="fax"), "sales_channel"),
    ],
    ids=[
        "missing-field",
        "not-a-date",
        "wrong-type",
        "negative-quantity",
        "no-lines",
        "naive-datetime",
        "unknown-channel",
    ],
)
def test_invalid_body_is_422_naming_the_field(api, brand, store, tee, change, field):
    order = body()
    change(order)

    response = api.post("/api/v1/orders", order)

    assert response.status_code == 422, response.content
    locations = [error["loc"] for error in response.json()["detail"]]
    assert any(loc[-1] == field or field in loc for loc in locations), locations
    assert Order.objects.count() == 0


def test_naive_datetime_message_asks_for_an_offset(api, brand, store, tee):
    response = api.post("/api/v1/orders", body(placed_at="2026-11-20T15:30:00"))
    [error] = response.json()["detail"]
    assert "time zone offset" in error["msg"]


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        (
            {"lines": [{"sku": "NOPE", "quantity": 1, "unit_price": 100}], "discounts": []},
            "lines[0].sku",
            "unknown sku 'NOPE'",
        ),
        ({"total": 1}, "total", "does not match"),
        ({"store_code": "XXX"}, "store_code", "no store with code 'XXX'"),
        ({"customer": {"phone": "123"}}, "customer.phone", "phone"),
    ],
    ids=["unknown-sku-without-title", "total-mismatch", "unknown-store", "bad-phone"],
)
def test_refusals_from_the_service_name_the_field(api, brand, store, tee, overrides, field, message):
    response = api.post("/api/v1/orders", body(**overrides))

    assert response.status_code == 422, response.content
    data = response.json()
    assert data["field"] == field
    assert data["code"] == "invalid"
    assert message in data["detail"]
    assert Order.objects.count() == 0


def test_unknown_sku_with_a_title_is_recorded_as_a_free_line(api, brand, store):
    response = api.post(
        "/api/v1/orders", body(lines=[{"sku": "OLD-1", "title": "舊款", "quantity": 1, "unit_price": 110000}])
    )
    assert response.status_code == 201
    [line] = response.json()["lines"]
    assert (line["sku"], line["title"], line["variant_id"]) == ("OLD-1", "舊款", None)


def test_malformed_json_is_400_with_a_clear_message(api, brand):
    response = api.post("/api/v1/orders", raw='{"source": "pos-erp",')
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"
    assert "not valid JSON" in response.json()["detail"]


def test_clerk_key_may_not_record_orders(clerk_api, brand, store, tee):
    response = clerk_api.post("/api/v1/orders", body())
    assert response.status_code == 403
    assert "orders.write" in response.json()["detail"]
    assert Order.objects.count() == 0


# --- POST /orders/batch -----------------------------------------------------------------------


def test_batch_with_bad_orders_applies_the_others(api, brand, store, tee):
    good = [body(external_id=f"B-{n}") for n in range(4)]
    bad_type = copy.deepcopy(good[1])
    bad_type["lines"][0]["quantity"] = "lots"
    bad_store = body(external_id="B-X", store_code="NOPE")
    api.post("/api/v1/orders", good[3])  # already recorded before the batch

    response = api.post("/api/v1/orders/batch", {"orders": [good[0], bad_type, good[2], bad_store, good[3]]})

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["created"], data["existing"], data["rejected"]) == (2, 1, 2)
    results = data["results"]
    assert [r["status"] for r in results] == ["created", "rejected", "created", "rejected", "existing"]
    assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
    assert results[1]["field"] == "orders[1].lines[0].quantity"
    assert "integer" in results[1]["error"]
    assert results[3]["field"] == "orders[3].store_code"
    assert results[3]["error"] == "no store with code 'NOPE'"
    assert results[0]["order_id"] == Order.objects.get(external_id="B-0").pk
    assert results[4]["order_id"] == Order.objects.get(external_id="B-3").pk
    assert set(Order.objects.values_list("external_id", flat=True)) == {"B-0", "B-2", "B-3"}


def test_batch_reports_a_model_level_error_on_the_order(api, brand, store, tee):
    response = api.post("/api/v1/orders/batch", {"orders": [body(store_code=""), "not an order"]})
    results = response.json()["results"]
    assert results[0]["field"] == "orders[0]"
    assert "store_code is required" in results[0]["error"]
    assert results[1]["status"] == "rejected" and results[1]["field"] == "orders[1]"


def test_batch_repeat_is_idempotent(api, brand, store, tee):
    orders = [body(external_id=f"R-{n}") for n in range(3)]
    first = api.post("/api/v1/orders/batch", {"orders": orders}).json()
    second = api.post("/api/v1/orders/batch", {"orders": orders}).json()
    assert [r["status"] for r in second["results"]] == ["existing"] * 3
    assert [r["order_id"] for r in second["results"]] == [r["order_id"] for r in first["results"]]
    assert Order.objects.count() == 3


def test_batch_repeat_with_another_body_is_rejected_naming_what_differs(api, brand, store, tee):
    orders = [body(external_id=f"R-{n}") for n in range(2)]
    api.post("/api/v1/orders/batch", {"orders": orders})
    orders[1] = body(external_id="R-1", note="改過")

    results = api.post("/api/v1/orders/batch", {"orders": orders}).json()["results"]

    assert [r["status"] for r in results] == ["existing", "rejected"]
    assert results[1]["field"] == "orders[1].note" and results[1]["error"].endswith(
        "these fields differ: note"
    )
    assert Order.objects.get(external_id="R-1").note == ""


def test_batch_refuses_more_than_500_orders(api, brand):
    response = api.post("/api/v1/orders/batch", {"orders": [{}] * 501})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "orders"


# --- reads ------------------------------------------------------------------------------------


@pytest.fixture
def three_orders(api, brand, store, other_store, tee):
    api.post("/api/v1/orders", body(external_id="A", placed_at="2026-11-01T10:00:00+08:00"))
    api.post(
        "/api/v1/orders", body(external_id="B", store_code="KHH01", placed_at="2026-11-02T10:00:00+08:00")
    )
    api.post(
        "/api/v1/orders",
        body(
            external_id="C",
            sales_channel="web_shop",
            store_code="",
            customer=None,
            placed_at="2026-11-03T10:00:00+08:00",
            status="placed",
        ),
    )
    return {o.external_id: o for o in Order.objects.all()}


def test_list_orders_newest_first_with_total(api, three_orders):
    response = api.get("/api/v1/orders", limit=2)
    data = response.json()
    assert response.status_code == 200
    assert (data["total"], data["limit"], data["offset"]) == (3, 2, 0)
    assert [o["external_id"] for o in data["items"]] == ["C", "B"]
    assert data["items"][1]["store_code"] == "KHH01"
    assert api.get("/api/v1/orders", limit=2, offset=2).json()["items"][0]["external_id"] == "A"


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"sales_channel": "web_shop"}, ["C"]),
        ({"store_code": "TPE01"}, ["A"]),
        ({"status": "placed"}, ["C"]),
        ({"placed_after": "2026-11-02T00:00:00+08:00"}, ["C", "B"]),
        ({"placed_before": "2026-11-02T00:00:00+08:00"}, ["A"]),
    ],
)
def test_list_orders_filters(api, three_orders, params, expected):
    assert [o["external_id"] for o in api.get("/api/v1/orders", **params).json()["items"]] == expected


def test_list_orders_by_customer(api, three_orders):
    customer = three_orders["A"].customer
    items = api.get("/api/v1/orders", customer_id=customer.pk).json()["items"]
    assert [o["external_id"] for o in items] == ["B", "A"]


def test_list_orders_rejects_a_page_larger_than_500(api, brand):
    response = api.get("/api/v1/orders", limit=501)
    assert response.status_code == 400
    assert response.json()["field"] == "limit"


def test_list_orders_makes_a_fixed_number_of_queries(api, three_orders, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        api.get("/api/v1/orders")


def test_store_manager_key_sees_only_its_stores_orders(brand, store, three_orders):
    manager_api = f.ApiClient(f.make_api_key(brand, role="store_manager", store=store))
    assert [o["external_id"] for o in manager_api.get("/api/v1/orders").json()["items"]] == ["A"]
    assert manager_api.get(f"/api/v1/orders/{three_orders['A'].pk}").status_code == 200
    assert manager_api.get(f"/api/v1/orders/{three_orders['B'].pk}").status_code == 404
    # A key for a store with no orders sees none.
    elsewhere = f.ApiClient(f.make_api_key(brand, role="store_manager"))
    assert elsewhere.get("/api/v1/orders").json()["total"] == 0


def test_get_order_from_another_brand_is_404(other_api, three_orders):
    response = other_api.get(f"/api/v1/orders/{three_orders['A'].pk}")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# --- life cycle -------------------------------------------------------------------------------


def test_pay_then_fulfil_then_refund(api, brand, three_orders):
    order = three_orders["C"]

    paid = api.post(f"/api/v1/orders/{order.pk}/pay")
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    fulfilled = api.post(f"/api/v1/orders/{order.pk}/fulfil")
    assert fulfilled.status_code == 200 and fulfilled.json()["status"] == "fulfilled"

    line_id = fulfilled.json()["lines"][0]["id"]
    refund = {
        "external_id": "RF-1",
        "amount": 50000,
        "reason": "尺寸不合",
        "lines": [{"line_id": line_id, "quantity": 1}],
    }
    first = api.post(f"/api/v1/orders/{order.pk}/refunds", refund)
    assert first.status_code == 201, first.content
    assert first.json()["amount"] == 50000 and first.json()["currency"] == "TWD"
    repeat = api.post(f"/api/v1/orders/{order.pk}/refunds", refund)
    assert repeat.status_code == 200 and repeat.json()["id"] == first.json()["id"]
    assert Refund.objects.count() == 1

    detail = api.get(f"/api/v1/orders/{order.pk}").json()
    assert (detail["status"], detail["refunded_total"]) == ("partially_refunded", 50000)
    assert detail["refunds"][0]["external_id"] == "RF-1"
    assert detail["lines"][0]["refunded_quantity"] == 1


def test_paying_a_paid_order_is_a_409(api, three_orders):
    response = api.post(f"/api/v1/orders/{three_orders['A'].pk}/pay")
    assert response.status_code == 409
    assert response.json()["field"] == "status"


def test_refund_above_the_total_is_422_naming_amount(api, three_orders):
    order = three_orders["A"]
    response = api.post(
        f"/api/v1/orders/{order.pk}/refunds", {"external_id": "RF-X", "amount": order.total + 1}
    )
    assert response.status_code == 422
    assert response.json()["field"] == "amount"


def test_cancel_with_reason(api, three_orders):
    response = api.post(f"/api/v1/orders/{three_orders['C'].pk}/cancel", {"reason": "客人取消"})
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


def test_clerk_key_may_read_but_not_change_orders(clerk_api, three_orders):
    assert clerk_api.get("/api/v1/orders").status_code == 200
    assert clerk_api.post(f"/api/v1/orders/{three_orders['C'].pk}/pay").status_code == 403
    assert (
        clerk_api.post(
            f"/api/v1/orders/{three_orders['A'].pk}/refunds", {"external_id": "x", "amount": 1}
        ).status_code
        == 403
    )
