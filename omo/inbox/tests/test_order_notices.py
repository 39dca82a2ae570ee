"""Order notices in the customer's LINE chat: the shop order's confirmation and the shipping
notice, sent through the ordinary outbound path to the LINE stand-in (which validates every body
with the SDK's request models): a free reply while a reply token is fresh, else a push."""

from __future__ import annotations

import pytest

from omo.commerce import services as commerce
from omo.commerce.models import Order
from omo.customers.consent import record_consent
from omo.inbox import ingest, order_notices, outbound
from omo.inbox.models import Message
from omo.shop.tests.test_shop_views import build_catalogue
from omo.testing import factories as f
from omo.testing.line import customer_of, say

CONTACT = commerce.Contact(
    name="林小姐",
    phone="0912-345-678",
    address={"postal_code": "110", "city": "台北市", "district": "信義區", "line1": "松高路 1 號"},
)


@pytest.fixture
def catalogue(brand, warehouse, store, other_store):
    return build_catalogue(brand, warehouse, store, other_store)


@pytest.fixture
def line_customer(line_inbox, line_user):
    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="林小姐")
    ingest.get_or_create_conversation(line_inbox, contact)
    return contact.customer


def place(brand, customer, variant, *, fulfilment="ship", pickup_store=None) -> Order:
    cart = commerce.new_cart(brand, customer=customer)
    commerce.add_to_cart(cart, variant, 2)
    return commerce.checkout(
        cart,
        contact=CONTACT,
        fulfilment=fulfilment,
        payment_method="cod" if fulfilment == "ship" else "pay_in_store",
        pickup_store=pickup_store,
    )


def notices(customer) -> list[Message]:
    return list(
        Message.objects.filter(conversation__customer=customer, payload__has_key="notice").order_by("pk")
    )


def deliver_all(customer) -> None:
    for message in notices(customer):
        outbound.deliver(message.pk)


def texts(line_standin, line_user) -> list[tuple[str, str]]:
    return [(d.via, m["text"]) for d in line_standin.delivered(line_user.user_id) for m in d.messages]


def test_a_shop_order_is_confirmed_in_line_by_push(
    brand, catalogue, line_customer, line_standin, line_user, django_capture_on_commit_callbacks, settings
):
    with django_capture_on_commit_callbacks(execute=True):
        order = place(brand, line_customer, catalogue.black)
    deliver_all(line_customer)

    ((via, text),) = texts(line_standin, line_user)
    assert via == "push"
    assert text.startswith("感謝您的訂購！\n訂單編號：" + order.name + "\n金額：NT$1,780\n付款方式：貨到付款")
    assert f"{settings.BASE_URL}/shop/herb/orders/" in text
    (message,) = notices(line_customer)
    assert (message.payload, message.sender_id, message.status) == (
        {"notice": "order_confirmed", "order_id": order.pk},
        None,
        "sent",
    )


def test_the_confirmation_is_a_free_reply_while_the_customers_reply_token_is_fresh(
    brand, catalogue, line_inbox, line_standin, line_user, django_capture_on_commit_callbacks
):
    say(line_inbox, line_standin, line_user, "我要下單")
    customer = customer_of(line_user)
    with django_capture_on_commit_callbacks(execute=True):
        place(brand, customer, catalogue.black)
    deliver_all(customer)
    assert [via for via, text in texts(line_standin, line_user) if text.startswith("感謝")] == ["reply"]


def test_shipping_notice_names_carrier_number_and_tracking_link_in_english_for_en(
    brand, catalogue, line_customer, line_standin, line_user, django_capture_on_commit_callbacks
):
    line_customer.contacts.update(language="en")
    order = place(brand, line_customer, catalogue.black)
    with django_capture_on_commit_callbacks(execute=True):
        commerce.fulfil(order, actor=None, carrier="tcat", tracking_number="901234567890")
    deliver_all(line_customer)

    ((via, text),) = texts(line_standin, line_user)
    assert via == "push"
    assert text == (
        f"Your order {order.name} has shipped!\nCarrier: T-Cat (黑貓宅急便)\nTracking number: 901234567890"
        "\nTrack your parcel: https://www.t-cat.com.tw/Inquire/TraceDetail.aspx?BillID=901234567890"
    )


def test_shipping_notice_in_chinese_and_none_for_a_pick_up(
    brand, catalogue, other_store, line_customer, django_capture_on_commit_callbacks
):
    shipped = place(brand, line_customer, catalogue.black)
    picked = place(brand, line_customer, catalogue.white, fulfilment="pickup", pickup_store=other_store)
    with django_capture_on_commit_callbacks(execute=True):
        commerce.fulfil(shipped, actor=None, carrier="hct", tracking_number="55")
        commerce.fulfil(picked, actor=None)
    (notice,) = notices(line_customer)
    assert notice.text == f"您的訂單 {shipped.name} 已出貨！\n物流：新竹物流\n追蹤號碼：55"


def test_no_notice_without_consent_blocked_or_without_line_and_never_twice(
    brand, catalogue, line_customer, django_capture_on_commit_callbacks
):
    record_consent(line_customer, platform="line", purpose="transactional", granted=False, source="console")
    with django_capture_on_commit_callbacks(execute=True):
        order = place(brand, line_customer, catalogue.black)
    assert notices(line_customer) == []

    record_consent(line_customer, platform="line", purpose="transactional", granted=True, source="console")
    record_consent(line_customer, platform="line", purpose="marketing", granted=False, source="console")
    assert (
        order_notices.send_notice(order, order_notices.CONFIRMED) is not None
    )  # marketing opt-out: still sent
    assert order_notices.send_notice(order, order_notices.CONFIRMED) is None  # a retry sends nothing more
    assert len(notices(line_customer)) == 1

    line_customer.contacts.update(blocked_at=order.placed_at)
    assert order_notices.send_notice(order, order_notices.SHIPPED) is None

    walk_in = f.make_customer(brand, "王小明", phone="+886911000001")
    with django_capture_on_commit_callbacks(execute=True):
        place(brand, walk_in, catalogue.black)
    assert not Message.objects.filter(conversation__customer=walk_in).exists()
