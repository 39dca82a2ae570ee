"""The statement, cost and team pages cost the same number of queries for 3 clerks as for 12: one
query per list, never one per row. (The cost page has no pushes here: its per-row cost is checked
only for its empty lists.)"""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from omo.attribution.models import CommissionRule
from omo.attribution.tests import leaderboard_world as lw
from omo.inbox.models import Contact, Conversation, Inbox
from omo.testing import factories as f

pytestmark = pytest.mark.django_db
TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
PAGES = ("/console/commission/", "/console/cost/", "/console/inbox/team/")


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(dt.datetime(2026, 12, 7, 14, tzinfo=TAIPEI), tick=False):
        yield


def _add_clerks(brand, store, inbox, product, start: int, count: int) -> None:
    for n in range(start, start + count):
        clerk = f.make_user(brand, f"c{n}", role="clerk", store=store)
        lw.card_order(brand, f"q{n}", clerk, product, placed_at=timezone.now())
        customer = f.make_customer(brand, name=f"顧客{n}", phone=f"+8869120{n:05d}")
        contact = Contact.objects.create(
            brand=brand, inbox=inbox, external_user_id=f"U{n:032d}", customer=customer
        )
        Conversation.objects.create(
            brand=brand,
            inbox=inbox,
            contact=contact,
            customer=customer,
            queue=Conversation.Queue.CLERK,
            assignee=clerk,
            store=store,
            waiting_since=timezone.now() - dt.timedelta(minutes=n),
        )


def _queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_queries_do_not_grow_with_the_rows(client_for, brand, store, hq_admin):
    CommissionRule.objects.create(brand=brand, rate_bp=300, starts_on=dt.date(2026, 1, 1))
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE", external_id="1000000009")
    product = f.make_product(brand, "查詢T恤", variants=[("QRY-1", "M", 100000)])
    client = client_for(hq_admin)
    _add_clerks(brand, store, inbox, product, 0, 3)
    few = {path: _queries(client, path) for path in PAGES}
    _add_clerks(brand, store, inbox, product, 3, 9)
    many = {path: _queries(client, path) for path in PAGES}
    assert many == few
    # the rows were there to be counted: every clerk on the statement, every chat on the team page
    assert "c11" in client.get("/console/commission/").content.decode()
    assert "顧客11" in client.get("/console/inbox/team/").content.decode()
