"""Acting on an order from its console page: the forms its state allows, field errors, roles, the
history in words."""

from __future__ import annotations

import pytest
from django.urls import reverse

from omo.commerce import services
from omo.commerce.models import Order, OrderAction, Refund
from omo.commerce.schemas import OrderIn
from omo.testing import factories as f


def record(brand, *, external_id="O-1", store_code="TPE01", status="placed", fulfilment=None) -> Order:
    data = {
        "source": "pos",
        "external_id": external_id,
        "sales_channel": "pos" if store_code else "web_shop",
        "store_code": store_code,
        "placed_at": "2026-11-20T10:00:00+08:00",
        "status": status,
        "lines": [{"sku": "TEE-M", "quantity": 2, "unit_price": 50000}],
    }
    if fulfilment:
        data["fulfilment"] = fulfilment
    order, _ = services.record_order(brand, OrderIn.model_validate(data), actor=None)
    return Order.objects.get(pk=order.pk)


@pytest.fixture
def placed(brand, store, other_store):
    f.make_product(brand, "短T", variants=[("TEE-M", "M", 50000)])
    return record(brand, fulfilment="ship")


def url(name: str, order: Order) -> str:
    return reverse(f"console:{name}", args=[order.pk])


def shown(client, order: Order) -> set[str]:
    return set(client.get(url("order_detail", order)).context["action_forms"])


def test_the_page_shows_only_the_actions_the_state_allows(console, placed):
    assert shown(console, placed) == {"pay", "fulfil", "cancel"}
    console.post(url("order_pay", placed), {})
    assert shown(console, placed) == {"fulfil", "cancel", "refund"}
    console.post(url("order_fulfil", placed), {"carrier": "hct", "tracking_number": "123"})
    assert shown(console, placed) == {"refund"}


def test_mark_paid_then_the_history_says_who_did_it(console, hq_admin, placed):
    response = console.post(url("order_pay", placed), {"note": "匯款末五碼 12345"})
    assert response.status_code == 302
    assert Order.objects.get(pk=placed.pk).status == "paid"
    page = console.get(url("order_detail", placed)).content.decode()
    assert "訂單已標記為已付款" in page  # the confirmation
    assert f"{hq_admin.get_username()} 將訂單標記為已付款。 備註：匯款末五碼 12345" in page


def test_fulfil_a_shipment_needs_its_carrier(console, placed):
    response = console.post(url("order_fulfil", placed), {"tracking_number": "123"})
    assert response.status_code == 400
    assert "carrier" in response.context["action_forms"]["fulfil"].errors
    assert Order.objects.get(pk=placed.pk).status == "placed"

    response = console.post(url("order_fulfil", placed), {"carrier": "tcat", "tracking_number": "901234"})
    assert response.status_code == 302
    page = console.get(url("order_detail", placed)).content.decode()
    assert 'href="https://www.t-cat.com.tw/Inquire/TraceDetail.aspx?BillID=901234"' in page
    assert "以黑貓宅急便出貨，追蹤號碼 901234。" in page


def test_cancel_needs_a_reason_and_stores_it(console, placed):
    response = console.post(url("order_cancel", placed), {"reason": ""})
    assert response.status_code == 400
    assert "請填寫取消原因" in response.content.decode()
    assert Order.objects.get(pk=placed.pk).status == "placed"

    assert console.post(url("order_cancel", placed), {"reason": "顧客改買別款"}).status_code == 302
    order = Order.objects.get(pk=placed.pk)
    assert (order.status, order.cancel_reason) == ("cancelled", "顧客改買別款")
    assert shown(console, order) == set()
    assert "取消了訂單，原因：顧客改買別款。" in console.get(url("order_detail", order)).content.decode()


def test_an_action_the_state_no_longer_allows_is_a_clear_409(console, placed):
    console.post(url("order_pay", placed), {})
    response = console.post(url("order_pay", placed), {})  # an old tab
    assert response.status_code == 409
    assert "訂單目前為「已付款」，無法執行此動作" in response.content.decode()
    assert OrderAction.objects.filter(order=placed).count() == 1


def refund_form(client, order: Order) -> dict:
    form = client.get(url("order_detail", order)).context["action_forms"]["refund"]
    return {"token": form.initial["token"]}


def test_refund_by_lines_with_restock_once_per_form(console, placed):
    console.post(url("order_pay", placed), {})
    line = placed.lines.get()
    data = {**refund_form(console, placed), f"line_{line.pk}": "1", "reason": "瑕疵", "restock": "on"}

    assert console.post(url("order_refund", placed), data).status_code == 302
    assert console.post(url("order_refund", placed), data).status_code == 302  # a double submit
    refund = Refund.objects.get()
    assert (refund.amount, refund.reason, refund.restock) == (50000, "瑕疵", True)
    assert Order.objects.get(pk=placed.pk).refunded_total == 50000
    assert (
        "退款 NT$500，原因：瑕疵。 商品已退回庫存。"
        in console.get(url("order_detail", placed)).content.decode()
    )


def test_refund_beyond_what_is_left_is_a_field_error(console, placed):
    console.post(url("order_pay", placed), {})
    data = {**refund_form(console, placed), "amount": "1000.01", "reason": "x"}
    response = console.post(url("order_refund", placed), data)
    assert response.status_code == 400
    assert "超過可退款金額 NT$1,000" in str(response.context["action_forms"]["refund"].errors["amount"])
    empty = console.post(url("order_refund", placed), {**refund_form(console, placed), "reason": "x"})
    assert empty.status_code == 400
    assert "請填寫退款金額" in empty.content.decode()
    assert Refund.objects.count() == 0


def test_the_store_manager_acts_on_their_store_only(client_for, brand, manager, placed):
    elsewhere = record(brand, external_id="O-KHH", store_code="KHH01")
    client = client_for(manager)
    assert shown(client, placed) == {"pay", "fulfil", "cancel"}
    assert client.post(url("order_pay", placed), {}).status_code == 302
    for name in ("order_pay", "order_fulfil", "order_cancel", "order_refund"):
        assert client.post(url(name, elsewhere), {"reason": "x"}).status_code == 404, name
    assert Order.objects.get(pk=elsewhere.pk).status == "placed"


def test_hq_agents_and_clerks_only_read(client_for, hq_agent, clerk, placed):
    agent = client_for(hq_agent)
    assert shown(agent, placed) == set()
    assert "data-order-actions" not in agent.get(url("order_detail", placed)).content.decode()
    for user in (hq_agent, clerk):
        client = client_for(user)
        for name in ("order_pay", "order_fulfil", "order_cancel"):
            assert client.post(url(name, placed), {"reason": "x"}).status_code == 403, (user.role, name)
    assert Order.objects.get(pk=placed.pk).status == "placed"


def test_another_brand_gets_404(client_for, other_admin, placed):
    client = client_for(other_admin)
    for name in ("order_pay", "order_fulfil", "order_cancel", "order_refund"):
        assert client.post(url(name, placed), {"reason": "x", "carrier": "hct"}).status_code == 404, name
    assert Order.objects.get(pk=placed.pk).status == "placed"


def test_actions_are_post_only(console, placed):
    assert console.get(url("order_pay", placed)).status_code == 405


def test_the_history_and_actions_read_in_english_too(console, placed):
    console.post(url("order_fulfil", placed), {"carrier": "tcat", "tracking_number": "901234"})
    page = console.get(url("order_detail", placed), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "shipped the order with T-Cat (黑貓宅急便), tracking number 901234." in page
    assert "Payment was collected at the same time." in page
