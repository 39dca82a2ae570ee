"""One dataset, a set of rules and their exact members: the suite runs this on SQLite and on
PostgreSQL (CI runs both), so the same rule gives the same members on either database."""

from __future__ import annotations

import datetime as dt

import pytest

from omo.binding.models import Binding
from omo.customers.models import Consent
from omo.inbox.models import Contact, Inbox
from omo.segments.rules import members, parse
from omo.segments.tests.rules_data import NOW, customer, order, score
from omo.tracking.models import TrackedEvent

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(brand, store, clerk):
    line = Inbox.objects.create(brand=brand, platform="line", name="LINE")
    made = {}

    def person(name, *, tags=(), follower=False, **kw):
        who = customer(brand, name, tags=list(tags), **kw)
        if follower:
            Contact.objects.create(
                brand=brand, inbox=line, external_user_id=f"U-{name}", customer=who, is_follower=True
            )
        made[name] = who
        return who

    def viewed(who, days_ago, **properties):
        TrackedEvent.objects.create(
            brand=brand,
            type="track",
            event="Product Viewed",
            message_id=f"m-{who.pk}-{days_ago}",
            customer=who,
            properties=properties,
            received_at=NOW,
            timestamp=NOW - dt.timedelta(days=days_ago),
        )

    # omo: bought online and in store, VIP, follows on LINE, viewed shoes last week.
    omo = person("omo", tags=["VIP"], follower=True)
    order(brand, omo, 2500, days_ago=10)
    order(brand, omo, 1800, days_ago=40, channel="pos", store=store)
    viewed(omo, 5, category="shoes")
    # online: two online orders only, VIP, follows, viewed.
    online = person("online", tags=["VIP"], follower=True)
    order(brand, online, 3000, days_ago=3)
    order(brand, online, 3000, days_ago=20, channel="marketplace")
    viewed(online, 2, category="shoes")
    # vip2: like omo but the tag is VIP2 (must not count as VIP).
    vip2 = person("vip2", tags=["VIP2"], follower=True)
    order(brand, vip2, 2500, days_ago=10)
    order(brand, vip2, 1800, days_ago=40, channel="pos", store=store)
    viewed(vip2, 5, category="shoes")
    # optout: like omo but withdrew marketing consent on LINE.
    optout = person("optout", tags=["VIP"], follower=True)
    order(brand, optout, 2500, days_ago=10)
    order(brand, optout, 1800, days_ago=40, channel="pos", store=store)
    viewed(optout, 5, category="shoes")
    Consent.objects.create(
        brand=brand,
        customer=optout,
        platform="line",
        purpose="marketing",
        granted=False,
        source="chat.opt_out",
        recorded_at=NOW - dt.timedelta(days=1),
    )
    # refunded: like omo but the online order was mostly refunded (spend too low).
    refunded = person("refunded", tags=["VIP"], follower=True)
    order(brand, refunded, 2500, days_ago=10, refunded=2400)
    order(brand, refunded, 1800, days_ago=40, channel="pos", store=store)
    viewed(refunded, 5, category="shoes")
    # stale: like omo but viewed 45 days ago, and the store order was cancelled.
    stale = person("stale", tags=["VIP"], follower=True)
    order(brand, stale, 2500, days_ago=10)
    order(brand, stale, 1800, days_ago=40, channel="pos", store=store, status="cancelled")
    viewed(stale, 45, category="shoes")
    # quiet: nothing at all, bound to the clerk.
    quiet = person("quiet")
    Binding.objects.create(
        brand=brand,
        customer=quiet,
        clerk=clerk,
        store=store,
        source="liff",
        started_at=NOW - dt.timedelta(days=100),
    )
    # merged away: would match everything but is merged into omo.
    ghost = person("ghost", tags=["VIP"], follower=True, merged_into=omo)
    order(brand, ghost, 9000, days_ago=5)
    score(
        omo, r=5, f=4, m=5, rfm_segment="champions", value_group="loyal", activity="active", channel_mix="omo"
    )
    score(
        online,
        r=5,
        f=3,
        m=4,
        rfm_segment="loyal",
        value_group="loyal",
        activity="active",
        channel_mix="online",
    )
    score(quiet, rfm_segment="prospect", value_group="potential", activity="prospect")
    return made


FIVE = {
    "all": [
        {"field": "orders.count", "op": "gte", "value": 1, "channel": "online", "last_days": 90},
        {"field": "orders.count", "op": "gte", "value": 1, "channel": "store", "last_days": 90},
        {"field": "orders.spend", "op": "gte", "value": 3000, "last_days": 90},
        {
            "field": "events.count",
            "op": "gte",
            "value": 1,
            "event": "Product Viewed",
            "last_days": 30,
            "where": [{"property": "category", "op": "eq", "value": "shoes"}],
        },
        {"field": "tag", "op": "has", "value": "VIP"},
        {"field": "consent.marketing", "op": "eq", "value": True, "platform": "line"},
    ]
}

RULES = [
    (FIVE, {"omo"}),
    ({"not": FIVE}, {"online", "vip2", "optout", "refunded", "stale", "quiet"}),
    ({"field": "tag", "op": "has", "value": "VIP"}, {"omo", "online", "optout", "refunded", "stale"}),
    ({"field": "orders.spend", "op": "gt", "value": 4000}, {"omo", "online", "vip2", "optout"}),
    (
        {
            "any": [
                {"field": "binding.bound", "op": "eq", "value": True},
                {"field": "rfm.segment", "op": "in", "value": ["champions"]},
            ]
        },
        {"omo", "quiet"},
    ),
    (
        {
            "all": [
                {"field": "lifecycle.value_group", "op": "eq", "value": "loyal"},
                {"not": {"field": "lifecycle.channel_mix", "op": "eq", "value": "omo"}},
            ]
        },
        {"online"},
    ),
    ({"field": "orders.count", "op": "eq", "value": 0}, {"quiet"}),
    (
        {"field": "events.count", "op": "eq", "value": 0, "event": "Product Viewed", "last_days": 30},
        {"stale", "quiet"},
    ),
    (
        {"field": "reachable", "op": "eq", "value": True, "platform": "line"},
        {"omo", "online", "vip2", "optout", "refunded", "stale"},
    ),
]


@pytest.mark.parametrize(("tree", "expected"), RULES, ids=[f"rule{n}" for n in range(len(RULES))])
def test_the_same_members_on_every_database(brand, people, tree, expected):
    rule = parse(brand, tree)
    found = set(members(brand, rule, now=NOW).values_list("name", flat=True))
    assert found == expected


def test_the_member_query_is_one_query(brand, people, django_assert_num_queries):
    rule = parse(brand, {"any": [FIVE, *(tree for tree, _expected in RULES[2:])]})
    with django_assert_num_queries(1):
        found = list(members(brand, rule, now=NOW).values_list("pk", flat=True))
    assert len(found) == 7
