"""A hand-built month of orders, bindings, chats and scores for the report tests (exact figures
are worked out in test_reports.py). Local days are Asia/Taipei; November 2026 is the period."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.utils import timezone

from omo.analytics.tests.builders import make_customer, make_order
from omo.attribution.models import Attribution, Click, LinkIssue
from omo.binding.models import Binding
from omo.commerce.models import Order
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.inbox.models import Contact, Conversation, Inbox, Message
from omo.segments.models import CustomerScore
from omo.staff.models import Store, User
from omo.testing import factories as f

TPE = ZoneInfo("Asia/Taipei")
NOW = dt.datetime(2027, 1, 15, 12, 0, tzinfo=TPE)  # pinned: both November and December are over


def at(month: int, day: int, hour: int = 12, minute: int = 0, year: int = 2026) -> dt.datetime:
    return dt.datetime(year, month, day, hour, minute, tzinfo=TPE)


@dataclass
class Month:
    brand: Brand
    store: Store
    store2: Store
    clerk: User
    clerk2: User
    customers: dict[str, Customer]
    credited: Order  # A's web order, credited to `clerk` at `store`


def build_month(brand: Brand, store: Store) -> Month:
    store2 = f.make_store(brand, code="KHH01", name="高雄店")
    clerk = f.make_user(brand, "amy", role="clerk", store=store, display_name="Amy")
    clerk2 = f.make_user(brand, "ben", role="clerk", store=store2, display_name="Ben")
    c = {name: make_customer(brand, name) for name in "ABCDEFGH"}
    web = "web_shop"
    # A: OMO (POS at store + web credited to Amy), back in December
    make_order(brand, placed_at=at(11, 3), total=1000, store=store, customer=c["A"])
    credited = make_order(brand, placed_at=at(11, 10), total=3000, sales_channel=web, customer=c["A"])
    make_order(brand, placed_at=at(12, 5), total=100, sales_channel=web, customer=c["A"])
    # B: OMO; a cancelled order does not count
    make_order(brand, placed_at=at(11, 5), total=2000, store=store, customer=c["B"])
    make_order(brand, placed_at=at(11, 6), total=2000, sales_channel=web, customer=c["B"])
    make_order(
        brand, placed_at=at(11, 7), total=9999, store=store, customer=c["B"], status=Order.Status.CANCELLED
    )
    # C, D: online only; C back on the first day of December
    make_order(brand, placed_at=at(11, 2), total=1500, sales_channel=web, customer=c["C"])
    make_order(brand, placed_at=at(12, 1, 0, 0), total=100, sales_channel=web, customer=c["C"])
    make_order(brand, placed_at=at(11, 20), total=500, sales_channel="marketplace", customer=c["D"])
    # E, F: store only; E back on the last day of the following period, F partly refunded
    make_order(brand, placed_at=at(11, 15), total=1000, store=store2, customer=c["E"])
    make_order(brand, placed_at=at(12, 30, 23, 59), total=100, store=store2, customer=c["E"])
    make_order(brand, placed_at=at(11, 25), total=1000, refunded_total=500, store=store2, customer=c["F"])
    # G: only the "other" sales channel
    make_order(brand, placed_at=at(11, 11), total=700, sales_channel="other", customer=c["G"])
    # an anonymous till sale (no customer), and H just outside the period on both sides
    make_order(brand, placed_at=at(11, 12), total=5000, store=store)
    make_order(brand, placed_at=at(10, 31, 23, 30), total=8000, sales_channel=web, customer=c["H"])
    make_order(brand, placed_at=at(12, 31, 0, 0), total=100, store=store, customer=c["H"])
    Attribution.objects.create(
        brand=brand,
        order=credited,
        clerk=clerk,
        store=store,
        rule=Attribution.Rule.LINK_CLICK,
        reason_zh="點擊",
        reason_en="click",
        decided_at=at(11, 10),
    )
    return Month(brand, store, store2, clerk, clerk2, c, credited)


def add_bindings(month: Month) -> None:
    brand, c = month.brand, month.customers
    for customer, clerk, store, source, started in (
        (c["A"], month.clerk, month.store, Binding.Source.LIFF, at(11, 3)),
        (c["B"], month.clerk, month.store, Binding.Source.MANUAL, at(11, 12)),
        (c["C"], month.clerk2, month.store2, Binding.Source.MESSAGE_CODE, at(11, 20)),
        (c["D"], month.clerk2, month.store2, Binding.Source.LIFF, at(10, 31, 23, 59)),  # October
    ):
        Binding.objects.create(
            brand=brand, customer=customer, clerk=clerk, store=store, source=source, started_at=started
        )


def add_chats(month: Month) -> None:
    """Amy writes in two conversations (a failed send in a third does not count); 3 real clicks
    and a link preview on her links; Ben has one click."""
    brand, c = month.brand, month.customers
    inbox = Inbox.objects.create(brand=brand, platform="webchat", name="web")
    for index, name in enumerate("ABC"):
        contact = Contact.objects.create(
            brand=brand, inbox=inbox, external_user_id=f"u{index}", customer=c[name]
        )
        conversation = Conversation.objects.create(
            brand=brand, inbox=inbox, contact=contact, customer=c[name]
        )
        sends = {"A": 2, "B": 1, "C": 1}[name]
        for _ in range(sends):
            Message.objects.create(
                brand=brand,
                conversation=conversation,
                direction=Message.Direction.OUTBOUND,
                kind=Message.Kind.TEXT,
                status=Message.Status.FAILED if name == "C" else Message.Status.SENT,
                sender=month.clerk,
                created_at=at(11, 8),
            )
    link = LinkIssue.objects.create(brand=brand, clerk=month.clerk, target="/shop/x/", issued_at=at(11, 8))
    other = LinkIssue.objects.create(brand=brand, clerk=month.clerk2, target="/shop/y/", issued_at=at(11, 8))
    for preview in (False, False, False, True):
        Click.objects.create(
            brand=brand, link=link, clerk=month.clerk, clicked_at=at(11, 9), is_preview=preview
        )
    Click.objects.create(brand=brand, link=other, clerk=month.clerk2, clicked_at=at(11, 9))


def add_scores(month: Month) -> None:
    brand, c = month.brand, month.customers
    computed = timezone.now()
    prospect = make_customer(brand, "X")
    for customer, r, f_, m, spend in (
        (c["A"], 5, 5, 4, 4100),
        (c["B"], 5, 5, 5, 4000),
        (c["C"], 4, 1, 3, 1600),
        (prospect, 0, 0, 0, 0),
    ):
        CustomerScore.objects.create(
            brand=brand,
            customer=customer,
            r=r,
            f=f_,
            m=m,
            spend=spend,
            orders=2 if r else 0,
            rfm_segment="champions" if r == 5 else "prospect",
            computed_at=computed,
        )
