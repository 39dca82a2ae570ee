"""A POS sale handed over in store takes its units off the store's stock when it is posted: once
(a re-post changes nothing), with movements, never refused for missing stock, back on the shelf
when the sale is cancelled or refunded with restock."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from omo.catalog.models import Reservation, StockLevel, StockMovement
from omo.commerce import services
from omo.commerce.schemas import OrderIn
from omo.testing import factories as f

PLACED = "2026-11-20T15:30:00+08:00"


@pytest.fixture
def tee(brand):
    return f.make_product(brand, "短T", variants=[("TEE-M", "M", 59000)]).variants.get()


@pytest.fixture
def shelf(store, tee, warehouse):
    """5 units in 台北信義店, 40 in the online warehouse."""
    f.set_stock(tee, warehouse, 40)
    return f.set_stock(tee, store.location, 5)


def sale(**overrides):
    order = {
        "source": "pos",
        "external_id": "TPE01-000123",
        "sales_channel": "pos",
        "store_code": "TPE01",
        "placed_at": PLACED,
        "lines": [{"sku": "TEE-M", "quantity": 2, "unit_price": 59000}],
        "status": "paid",
    }
    order.update(overrides)
    return order


def levels(tee, store, warehouse):
    return (
        StockLevel.objects.get(variant=tee, location=store.location).on_hand,
        StockLevel.objects.get(variant=tee, location=warehouse).on_hand,
    )


def test_a_posted_pos_sale_leaves_the_stores_stock_once(api, tee, store, warehouse, shelf):
    first = api.post("/api/v1/orders", sale())
    again = api.post("/api/v1/orders", sale())

    assert first.status_code == 201, first.content
    assert again.status_code == 200
    assert levels(tee, store, warehouse) == (3, 40)
    [movement] = StockMovement.objects.filter(reason=StockMovement.Reason.SALE)
    assert (movement.location_id, movement.on_hand_delta, movement.reserved_delta, movement.reference) == (
        store.location.pk,
        -2,
        0,
        f"order:{first.json()['id']}",
    )
    assert Reservation.objects.get().status == Reservation.Status.COMMITTED


def test_a_till_key_posts_its_stores_sale(brand, tee, store, warehouse, shelf):
    till = f.ApiClient(f.make_api_key(brand, role="store_manager", store=store))

    response = till.post("/api/v1/orders", sale())

    assert response.status_code == 201, response.content
    assert levels(tee, store, warehouse) == (3, 40)


def test_the_request_can_leave_stock_alone(api, tee, store, warehouse, shelf):
    response = api.post("/api/v1/orders", sale(decrement_stock=False))

    assert response.status_code == 201
    assert levels(tee, store, warehouse) == (5, 40)
    assert not StockMovement.objects.filter(reason=StockMovement.Reason.SALE).exists()


def test_a_shipped_pos_order_and_a_cancelled_one_take_nothing_by_default(api, tee, store, warehouse, shelf):
    api.post("/api/v1/orders", sale(external_id="S-ship", fulfilment="ship"))
    api.post("/api/v1/orders", sale(external_id="S-void", status="cancelled"))

    assert levels(tee, store, warehouse) == (5, 40)


def test_a_sale_beyond_the_records_is_recorded_and_takes_what_is_there(api, tee, store, warehouse, shelf):
    StockLevel.objects.filter(variant=tee, location=store.location).update(reserved=1)

    response = api.post("/api/v1/orders", sale(lines=[{"sku": "TEE-M", "quantity": 7, "unit_price": 59000}]))

    assert response.status_code == 201, response.content
    level = StockLevel.objects.get(variant=tee, location=store.location)
    assert (level.on_hand, level.reserved) == (1, 1)  # the held unit stays held
    movement = StockMovement.objects.get(reason=StockMovement.Reason.SALE)
    assert movement.on_hand_delta == -4
    assert "3" in movement.note and "not on record" in movement.note


def test_cancelling_the_sale_puts_its_units_back_once(api, tee, store, warehouse, shelf):
    order_id = api.post("/api/v1/orders", sale()).json()["id"]

    cancelled = api.post(f"/api/v1/orders/{order_id}/cancel", {"reason": "收銀作廢"})
    again = api.post(f"/api/v1/orders/{order_id}/cancel", {"reason": "收銀作廢"})

    assert cancelled.status_code == 200, cancelled.content
    assert again.status_code == 409
    assert levels(tee, store, warehouse) == (5, 40)
    returned = StockMovement.objects.get(reason=StockMovement.Reason.RETURN)
    assert (returned.location_id, returned.on_hand_delta) == (store.location.pk, 2)


def test_a_refund_with_restock_puts_the_units_back_in_the_store(api, tee, store, warehouse, shelf):
    order = api.post("/api/v1/orders", sale()).json()
    line_id = order["lines"][0]["id"]

    refund = api.post(
        f"/api/v1/orders/{order['id']}/refunds",
        {"external_id": "RF-1", "lines": [{"line_id": line_id, "quantity": 1}], "restock": True},
    )
    repeat = api.post(
        f"/api/v1/orders/{order['id']}/refunds",
        {"external_id": "RF-1", "lines": [{"line_id": line_id, "quantity": 1}], "restock": True},
    )

    assert refund.status_code == 201, refund.content
    assert repeat.status_code == 200
    assert levels(tee, store, warehouse) == (4, 40)


def test_another_stores_till_may_not_post_this_stores_sale(brand, tee, store, other_store, warehouse, shelf):
    theirs = f.ApiClient(f.make_api_key(brand, role="store_manager", store=other_store))

    response = theirs.post("/api/v1/orders", sale())

    assert response.status_code == 403 and response.json()["field"] == "store_code"
    assert levels(tee, store, warehouse) == (5, 40)


def test_weaker_roles_and_other_brands_move_no_stock(
    clerk_api, other_api, brand, tee, store, warehouse, shelf
):
    agent = f.ApiClient(f.make_api_key(brand, role="hq_agent"))

    assert clerk_api.post("/api/v1/orders", sale()).status_code == 403
    assert agent.post("/api/v1/orders", sale()).status_code == 403
    assert other_api.post("/api/v1/orders", sale()).status_code == 422  # no store TPE01 there
    assert levels(tee, store, warehouse) == (5, 40)


def test_a_batch_of_pos_sales_takes_their_units_once(api, tee, store, warehouse, shelf):
    orders = [
        sale(external_id="B-1"),
        sale(external_id="B-2", decrement_stock=False),
        sale(external_id="B-3"),
    ]

    first = api.post("/api/v1/orders/batch", {"orders": orders})
    again = api.post("/api/v1/orders/batch", {"orders": orders})

    assert first.status_code == 200, first.content
    assert (first.json()["created"], again.json()["existing"]) == (3, 3)
    assert levels(tee, store, warehouse) == (1, 40)
    assert StockMovement.objects.filter(reason=StockMovement.Reason.SALE).count() == 2


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_tills_selling_the_last_units_at_once_never_take_more_than_there_is(brand, tee, store, warehouse):
    f.set_stock(tee, store.location, 5)
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def sell(i: int) -> None:
        try:
            barrier.wait()
            data = OrderIn.model_validate(
                sale(external_id=f"C-{i}", lines=[{"sku": "TEE-M", "quantity": 4, "unit_price": 59000}])
            )
            services.record_order(brand, data, actor=None)
        except Exception as exc:  # collected and asserted on below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sell, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert errors == []
    assert StockLevel.objects.get(variant=tee, location=store.location).on_hand == 0
    taken = sorted(StockMovement.objects.filter(reason="sale").values_list("on_hand_delta", flat=True))
    assert taken == [-4, -1]
