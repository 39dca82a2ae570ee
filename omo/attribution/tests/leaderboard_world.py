"""A small, hand-built brand for leaderboard tests: every figure below is worked out by hand.

All times are relative to now and fall in the last 30 days (the period the tests read), except the
rows that are meant to fall before it. Stores: A (TPE01) and B (KHH01).

Sales (orders placed in the period, net of refunds, cancelled orders excluded):
  amy (A)  o1 card click 1,000 − refund 300 = 700; o2 cart link 2,000; o3 POS at store B 500;
           o4 card click 1,000 cancelled → 0;  o8 placed before the period → not counted
           = NT$3,200 (320000), 3 orders, 2 through a clerk link
  ben (A)  o5 card click 3,000 fully refunded → 0, not an order; o6 POS at A 800
           = NT$800 (80000), 1 order, 0 through a link
  cat (B)  o7 card click 1,000 = NT$1,000 (100000), 1 order, 1 through a link
Cards sent in the period: amy 2 cards + 1 cart link (a failed card, a card before the period and a
  binding-recovery flex do not count) = 3; ben 1; cat 0.
Bound at the close of the period: amy Y and U (U moved from ben to amy mid-period) = 2;
  ben X (moved from amy to ben mid-period) = 1; Z unbound mid-period → nobody; cat W = 1.
First replies: amy 600 s, 120 s, 300 s → median 300; ben 1800 s, 200 s → median 1000.
Stores (by the attribution's store): A = o1 700 + o2 2,000 + o5 0 + o6 800 = 350000, 3 orders, 2 via
  link, 4 cards, 3 bound (Y, U, X), replies median 300; B = o3 500 + o7 1,000 = 150000, 2 orders,
  1 via link, 0 cards, 1 bound (W), no replies.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import dataclass

from django.test import TestCase
from django.utils import timezone

from omo.attribution import links, services
from omo.binding.models import Binding
from omo.commerce import services as commerce
from omo.commerce.models import Order
from omo.commerce.schemas import OrderIn, RefundIn
from omo.inbox.models import Contact, Conversation, Inbox, Message
from omo.staff.models import Store, User
from omo.testing import factories as f

PHONE_UA = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Safari Line/13.20.0"
)
_phones = itertools.count(911000001)


@dataclass
class World:
    amy: User
    ben: User
    cat: User
    store_a: Store
    store_b: Store
    orders: dict[str, Order]


_now: list[dt.datetime] = []


def ago(days: float = 0, *, minutes: float = 0, seconds: float = 0) -> dt.datetime:
    """A moment before the world was built (one fixed "now", so differences are exact)."""
    base = _now[-1] if _now else timezone.now()
    return base - dt.timedelta(days=days, minutes=minutes, seconds=seconds)


def customer(brand, name: str):
    return f.make_customer(brand, name, phone=f"+886{next(_phones)}")


def record(
    brand, key: str, *, placed_at, quantity: int = 1, unit_price: int = 100000, who=None, **extra
) -> Order:
    data = {
        "source": "api",
        "external_id": key,
        "name": key.upper(),
        "sales_channel": extra.pop("sales_channel", "web_shop"),
        "placed_at": placed_at.isoformat(),
        "status": "paid",
        "lines": [{"sku": "LB-TEE", "title": "T", "quantity": quantity, "unit_price": unit_price}],
        **extra,
    }
    if who is not None:
        data["customer"] = {"phone": who.phone, "name": who.name}
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = commerce.record_order(brand, OrderIn.model_validate(data), actor=None)
    return Order.objects.get(pk=order.pk)


def card_order(brand, key: str, clerk, product, *, placed_at, quantity: int = 1) -> Order:
    """A customer clicks the clerk's card a day before ordering."""
    who = customer(brand, f"顧客{key}")
    link = services.issue_link(brand, clerk=clerk, product=product, customer=who)
    services.record_click(link, user_agent=PHONE_UA, at=placed_at - dt.timedelta(days=1))
    return record(brand, key, placed_at=placed_at, quantity=quantity, who=who)


def message(
    conversation, direction: str, at, *, sender=None, kind="text", payload=None, status=None
) -> Message:
    row = Message.objects.create(
        brand_id=conversation.brand_id,
        conversation=conversation,
        direction=direction,
        kind=kind,
        text="…",
        payload=payload or {},
        status=status or ("received" if direction == "in" else "sent"),
        sender=sender,
    )
    Message.objects.filter(pk=row.pk).update(created_at=at)
    return row


def conversation(brand, inbox, name: str) -> Conversation:
    who = customer(brand, name)
    contact = Contact.objects.create(brand=brand, inbox=inbox, external_user_id=f"u{who.pk}", customer=who)
    return Conversation.objects.create(brand=brand, inbox=inbox, contact=contact, customer=who)


def bind(brand, who, clerk, started_at, ended_at=None) -> Binding:
    return Binding.objects.create(
        brand=brand,
        customer=who,
        clerk=clerk,
        store_id=clerk.store_id,
        source="manual",
        started_at=started_at,
        ended_at=ended_at,
    )


def build(brand, store_a: Store, store_b: Store) -> World:
    _now[:] = [timezone.now().replace(microsecond=0)]
    product = f.make_product(brand, "排行T恤", variants=[("LB-TEE", "M", 100000)])
    amy = f.make_user(brand, "amy", role="clerk", store=store_a, employee_code="A01", display_name="Amy 林")
    ben = f.make_user(brand, "ben", role="clerk", store=store_a, employee_code="B01", display_name="Ben 陳")
    cat = f.make_user(brand, "cat", role="clerk", store=store_b, employee_code="C01", display_name="Cat 王")
    orders: dict[str, Order] = {}

    # --- orders --------------------------------------------------------------------------------------
    orders["o1"] = card_order(brand, "o1", amy, product, placed_at=ago(20))
    with TestCase.captureOnCommitCallbacks(execute=True):
        commerce.refund(orders["o1"], RefundIn(external_id="o1-r", amount=30000), actor=None)
    # The cart link's ref is signed now, so the order that follows it is placed now.
    orders["o2"] = record(
        brand,
        "o2",
        placed_at=timezone.now(),
        quantity=2,
        ref=links.clerk_ref(amy.pk),
        who=customer(brand, "甲"),
    )
    orders["o3"] = record(
        brand,
        "o3",
        placed_at=ago(15),
        unit_price=50000,
        sales_channel="pos",
        staff_code="A01",
        store_code=store_b.code,
    )
    orders["o4"] = card_order(brand, "o4", amy, product, placed_at=ago(12))
    with TestCase.captureOnCommitCallbacks(execute=True):
        commerce.cancel(orders["o4"], actor=None, reason="顧客取消")
    orders["o5"] = card_order(brand, "o5", ben, product, placed_at=ago(10), quantity=3)
    with TestCase.captureOnCommitCallbacks(execute=True):
        commerce.refund(orders["o5"], RefundIn(external_id="o5-r", amount=300000), actor=None)
    orders["o6"] = record(
        brand,
        "o6",
        placed_at=ago(9),
        unit_price=80000,
        sales_channel="pos",
        staff_code="B01",
        store_code=store_a.code,
    )
    orders["o7"] = card_order(brand, "o7", cat, product, placed_at=ago(8))
    orders["o8"] = card_order(brand, "o8", amy, product, placed_at=ago(40))
    orders["o9"] = record(brand, "o9", placed_at=ago(7), who=customer(brand, "無歸屬"))
    for key in orders:
        orders[key].refresh_from_db()

    # --- cards and cart links ---------------------------------------------------------------------------
    inbox = Inbox.objects.create(brand=brand, platform="webchat", name="web")
    chat = conversation(brand, inbox, "卡片顧客")
    card = {"cards": [{"title": "T", "link_id": 1}, {"title": "U", "link_id": 2}], "alt_text": "推薦"}
    message(chat, "out", ago(18), sender=amy, kind="flex", payload=card)
    message(chat, "out", ago(17), sender=amy, kind="flex", payload=card)
    message(chat, "out", ago(16), sender=amy, payload={"cart_token": "abc", "url": "http://x/"})
    message(chat, "out", ago(16, minutes=5), sender=amy, kind="flex", payload=card, status="failed")
    message(chat, "out", ago(35), sender=amy, kind="flex", payload=card)
    message(chat, "out", ago(14), sender=amy, kind="flex", payload={"line": {"type": "flex"}})
    message(chat, "out", ago(11), sender=ben, kind="flex", payload=card)

    # --- bindings (history) ------------------------------------------------------------------------------
    x, y, z, w, u = (customer(brand, name) for name in ("X", "Y", "Z", "W", "U"))
    bind(brand, x, amy, ago(60), ended_at=ago(10))
    bind(brand, x, ben, ago(10))
    bind(brand, y, amy, ago(40))
    bind(brand, z, ben, ago(20), ended_at=ago(5))
    bind(brand, w, cat, ago(3))
    bind(brand, u, ben, ago(50), ended_at=ago(15))
    bind(brand, u, amy, ago(15))

    # --- first replies -------------------------------------------------------------------------------------
    one = conversation(brand, inbox, "回覆顧客一")
    t0 = ago(20)
    message(one, "in", t0)
    message(one, "in", t0 + dt.timedelta(minutes=1))  # still the same wait
    message(one, "out", t0 + dt.timedelta(minutes=2), kind="text")  # a bot: no sender, no reply
    message(one, "internal", t0 + dt.timedelta(minutes=3), sender=amy, kind="note")  # a note is no reply
    message(one, "out", t0 + dt.timedelta(minutes=10), sender=amy)  # amy: 600 s
    message(one, "in", t0 + dt.timedelta(hours=1))
    message(one, "out", t0 + dt.timedelta(hours=1, minutes=2), sender=amy)  # amy: 120 s
    message(one, "in", t0 + dt.timedelta(hours=3))
    message(one, "out", t0 + dt.timedelta(hours=3, minutes=1), sender=amy, status="failed")  # not sent
    message(one, "out", t0 + dt.timedelta(hours=3, minutes=30), sender=ben)  # ben: 1800 s
    two = conversation(brand, inbox, "回覆顧客二")
    message(two, "in", ago(31))  # the wait starts before the period…
    message(two, "in", ago(28))  # …so this one starts none
    message(two, "out", ago(28, minutes=-5), sender=amy)
    message(two, "in", ago(6))
    message(two, "out", ago(6, seconds=-300), sender=amy)  # amy: 300 s
    message(two, "in", ago(4))
    message(two, "out", ago(4, seconds=-200), sender=ben)  # ben: 200 s
    three = conversation(brand, inbox, "回覆顧客三")
    message(three, "in", ago(2))  # never answered: left out
    return World(amy, ben, cat, store_a, store_b, orders)


def other_brand_sales(other_brand) -> User:
    """Another brand's clerk with a sale and a binding in the same period."""
    store = f.make_store(other_brand, code="OTH01", name="別家門市")
    product = f.make_product(other_brand, "別家T恤", variants=[("LB-TEE", "M", 100000)])
    stranger = f.make_user(other_brand, "otherclerk", role="clerk", store=store, display_name="別家店員")
    card_order(other_brand, "x1", stranger, product, placed_at=ago(5))
    bind(other_brand, customer(other_brand, "別家顧客"), stranger, ago(5))
    return stranger
