"""Every field and operator of the rule engine, members and explanations agreeing."""

from __future__ import annotations

import datetime as dt

import pytest

from omo.binding.models import Binding
from omo.catalog.models import Category
from omo.customers.models import Consent, Customer
from omo.inbox.models import Contact, Inbox
from omo.loyalty.models import LoyaltyAccount, Tier
from omo.segments.models import ClvFit, CustomerPrediction
from omo.segments.rules import RuleError, parse
from omo.segments.tests.rules_data import NOW, check, customer, order, score
from omo.testing import factories as f
from omo.tracking.models import TrackedEvent

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("eq", 2, {"two"}),
        ("ne", 2, {"none", "one", "three"}),
        ("gt", 1, {"two", "three"}),
        ("gte", 1, {"one", "two", "three"}),
        ("lt", 2, {"none", "one"}),
        ("lte", 2, {"none", "one", "two"}),
        ("between", [1, 2], {"one", "two"}),
        ("eq", 0, {"none"}),
    ],
)
def test_numeric_operators(brand, op, value, expected):
    people = {name: customer(brand, name) for name in ("none", "one", "two", "three")}
    for name, count in (("one", 1), ("two", 2), ("three", 3)):
        for _ in range(count):
            order(brand, people[name], 100)
    check(brand, {"field": "orders.count", "op": op, "value": value}, {people[n] for n in expected})


def test_order_windows_by_days_and_by_calendar_dates_in_the_brand_time_zone(brand):
    a = customer(brand, "A")
    b = customer(brand, "B")
    # 2026-05-31 23:30 in Taipei is still 15:30 UTC on the 31st; 2026-06-01 00:30 Taipei is 31 May UTC.
    order(
        brand,
        a,
        100,
        days_ago=(NOW - dt.datetime(2026, 5, 31, 15, 30, tzinfo=dt.UTC)).total_seconds() / 86400,
    )
    order(
        brand,
        b,
        100,
        days_ago=(NOW - dt.datetime(2026, 5, 31, 16, 30, tzinfo=dt.UTC)).total_seconds() / 86400,
    )
    check(
        brand,
        {"field": "orders.count", "op": "gte", "value": 1, "from": "2026-06-01", "to": "2026-06-30"},
        {b},
    )
    check(brand, {"field": "orders.count", "op": "gte", "value": 1, "to": "2026-05-31"}, {a})
    check(brand, {"field": "orders.count", "op": "gte", "value": 1, "last_days": 14}, set())
    check(brand, {"field": "orders.count", "op": "gte", "value": 1, "last_days": 15}, {a, b})


def test_orders_by_category_with_subcategories_and_by_product(brand):
    tops = f.make_category(brand, "上衣", slug="tops")
    tees = Category.objects.create(brand=brand, name="T 恤", slug="tees", parent=tops)
    shoes = f.make_category(brand, "鞋", slug="shoes")
    tee = f.make_product(brand, title="白 T", category=tees)
    boot = f.make_product(brand, title="靴子", category=shoes)
    a = customer(brand, "A")
    b = customer(brand, "B")
    order(brand, a, 800, lines=[(tee, 300), (boot, 500)])
    order(brand, b, 500, lines=[(boot, 500)])
    order(brand, b, 300, lines=[(tee, 300)], status="cancelled")
    check(brand, {"field": "orders.count", "op": "gte", "value": 1, "category": tops.pk}, {a})
    check(brand, {"field": "orders.spend", "op": "eq", "value": 300, "category": [tops.pk]}, {a})
    check(brand, {"field": "orders.spend", "op": "eq", "value": 500, "product": boot.pk}, {a, b})
    check(brand, {"field": "orders.count", "op": "eq", "value": 1, "product": [tee.pk, boot.pk]}, {a, b})


def test_profile_fields(brand, store, other_store):
    a = customer(brand, "A", phone="+886911111111", email="a@example.com", birthday=dt.date(1990, 6, 3))
    b = customer(brand, "B", member_number="M1", home_store=store)
    c = customer(brand, "C", home_store=other_store, birthday=dt.date(1985, 12, 24))
    check(brand, {"field": "profile.has_phone", "op": "eq", "value": True}, {a})
    check(brand, {"field": "profile.has_email", "op": "eq", "value": False}, {b, c})
    check(brand, {"field": "profile.has_member_number", "op": "eq", "value": True}, {b})
    check(brand, {"field": "profile.birthday_month", "op": "eq", "value": 6}, {a})
    check(brand, {"field": "profile.birthday_month", "op": "in", "value": [6, 12]}, {a, c})
    check(brand, {"field": "profile.birthday_month", "op": "ne", "value": 6}, {b, c})
    check(brand, {"field": "home_store", "op": "in", "value": [store.pk]}, {b})
    check(brand, {"field": "home_store", "op": "not_in", "value": [store.pk]}, {a, c})
    for who, days in ((a, 100), (b, 5), (c, 0)):
        Customer.objects.filter(pk=who.pk).update(created_at=NOW - dt.timedelta(days=days, hours=1))
    check(brand, {"field": "profile.signup_days", "op": "gte", "value": 30}, {a})
    check(brand, {"field": "profile.signup_days", "op": "lte", "value": 5}, {b, c})
    check(brand, {"field": "profile.signup_days", "op": "ne", "value": 5}, {a, c})


def test_consent_latest_decision_and_defaults(brand):
    line = Inbox.objects.create(brand=brand, platform="line", name="LINE")
    follower = customer(brand, "follower")
    Contact.objects.create(
        brand=brand, inbox=line, external_user_id="U1", customer=follower, is_follower=True
    )
    blocked = customer(brand, "blocked")
    Contact.objects.create(
        brand=brand, inbox=line, external_user_id="U2", customer=blocked, is_follower=True, blocked_at=NOW
    )
    opted_out = customer(brand, "opted out", phone="+886922222222")
    Contact.objects.create(
        brand=brand, inbox=line, external_user_id="U3", customer=opted_out, is_follower=True
    )
    at = NOW - dt.timedelta(days=3)
    for granted, when in ((True, at), (False, at + dt.timedelta(hours=1))):
        Consent.objects.create(
            brand=brand,
            customer=opted_out,
            platform="line",
            purpose="marketing",
            granted=granted,
            source="console",
            recorded_at=when,
        )
    sms = customer(brand, "sms")
    # Two decisions at the same moment: the later row holds.
    for granted in (False, True):
        Consent.objects.create(
            brand=brand,
            customer=sms,
            platform="sms",
            purpose="marketing",
            granted=granted,
            source="console",
            recorded_at=at,
        )
    marketing_line = {"field": "consent.marketing", "op": "eq", "value": True, "platform": "line"}
    check(brand, marketing_line, {follower})  # the default for a follower that did not block
    check(brand, {**marketing_line, "value": False}, {blocked, opted_out, sms})
    check(brand, {"field": "consent.marketing", "op": "eq", "value": True, "platform": "sms"}, {sms})
    check(
        brand,
        {"field": "consent.transactional", "op": "eq", "value": True, "platform": "email"},
        {follower, blocked, opted_out, sms},
    )
    check(brand, {"field": "reachable", "op": "eq", "value": True, "platform": "line"}, {follower, opted_out})
    check(brand, {"field": "reachable", "op": "eq", "value": True, "platform": "sms"}, {opted_out})
    check(
        brand,
        {"field": "reachable", "op": "eq", "value": False, "platform": "messenger"},
        {follower, blocked, opted_out, sms},
    )


def test_binding_fields(brand, store, other_store, clerk):
    other_clerk = f.make_user(brand, "clerk2", role="clerk", store=other_store)
    a = customer(brand, "A")
    b = customer(brand, "B")
    c = customer(brand, "C")
    Binding.objects.create(
        brand=brand,
        customer=a,
        clerk=clerk,
        store=store,
        source="liff",
        started_at=NOW - dt.timedelta(days=40, hours=1),
    )
    Binding.objects.create(
        brand=brand,
        customer=b,
        clerk=other_clerk,
        store=other_store,
        source="liff",
        started_at=NOW - dt.timedelta(days=2),
    )
    Binding.objects.create(
        brand=brand,
        customer=c,
        clerk=clerk,
        store=store,
        source="liff",
        started_at=NOW - dt.timedelta(days=90),
        ended_at=NOW - dt.timedelta(days=50),
    )
    check(brand, {"field": "binding.bound", "op": "eq", "value": True}, {a, b})
    check(brand, {"field": "binding.clerk", "op": "in", "value": [clerk.pk]}, {a})
    check(brand, {"field": "binding.clerk", "op": "not_in", "value": [clerk.pk]}, {b, c})
    check(brand, {"field": "binding.store", "op": "in", "value": [other_store.pk]}, {b})
    check(brand, {"field": "binding.days", "op": "gte", "value": 30}, {a})
    check(brand, {"field": "binding.days", "op": "eq", "value": 40}, {a})
    check(brand, {"field": "binding.days", "op": "between", "value": [0, 2]}, {b})
    check(brand, {"field": "binding.days", "op": "lt", "value": 2}, set())


def test_loyalty_fields(brand):
    gold = Tier.objects.create(brand=brand, name="金卡", threshold=3000000)
    silver = Tier.objects.create(brand=brand, name="銀卡", threshold=1000000)
    a = customer(brand, "A")
    b = customer(brand, "B")
    c = customer(brand, "C")
    LoyaltyAccount.objects.create(brand=brand, customer=a, balance=500, tier=gold)
    LoyaltyAccount.objects.create(brand=brand, customer=b, balance=20, tier=silver)
    check(brand, {"field": "loyalty.points", "op": "gte", "value": 100}, {a})
    check(brand, {"field": "loyalty.points", "op": "lt", "value": 100}, {b, c})
    check(brand, {"field": "loyalty.tier", "op": "in", "value": [gold.pk, silver.pk]}, {a, b})
    check(brand, {"field": "loyalty.tier", "op": "not_in", "value": [gold.pk]}, {b, c})


def _event(brand, who, name, days_ago, **properties):
    TrackedEvent.objects.create(
        brand=brand,
        type="track",
        event=name,
        message_id=f"m-{TrackedEvent.objects.count()}",
        customer=who,
        properties=properties,
        received_at=NOW,
        timestamp=NOW - dt.timedelta(days=days_ago),
    )


def test_event_counts_with_property_filters(brand):
    a = customer(brand, "A")
    b = customer(brand, "B")
    _event(brand, a, "Product Viewed", 1, category="shoes", price=1200)
    _event(brand, a, "Product Viewed", 3, category="shoes", price=800)
    _event(brand, a, "Product Viewed", 40, category="shoes", price=800)
    _event(brand, b, "Product Viewed", 2, category="shoes2", price="cheap")
    _event(brand, b, "Order Completed", 2, paid=True, note=None)
    _event(brand, a, "Order Completed", 2, paid=1)
    done = {"field": "events.count", "event": "Order Completed", "op": "gte", "value": 1}
    check(brand, {**done, "where": [{"property": "paid", "op": "eq", "value": True}]}, {b})
    check(brand, {**done, "where": [{"property": "paid", "op": "eq", "value": 1}]}, {a})
    check(brand, {**done, "where": [{"property": "note", "op": "eq", "value": None}]}, {b})
    check(brand, {**done, "where": [{"property": "note", "op": "exists", "value": False}]}, {a})
    viewed = {"field": "events.count", "event": "Product Viewed", "last_days": 30}
    check(brand, {**viewed, "op": "gte", "value": 2}, {a})
    check(
        brand,
        {
            **viewed,
            "op": "gte",
            "value": 1,
            "where": [{"property": "category", "op": "eq", "value": "shoes"}],
        },
        {a},
    )
    check(
        brand,
        {**viewed, "op": "eq", "value": 1, "where": [{"property": "price", "op": "gt", "value": 1000}]},
        {a},
    )
    check(
        brand,
        {
            **viewed,
            "op": "gte",
            "value": 1,
            "where": [{"property": "category", "op": "in", "value": ["shoes2", "bags"]}],
        },
        {b},
    )
    check(
        brand,
        {**viewed, "op": "eq", "value": 1, "where": [{"property": "category", "op": "ne", "value": "shoes"}]},
        {b},
    )
    check(brand, {**viewed, "op": "eq", "value": 0, "where": [{"property": "color", "op": "exists"}]}, {a, b})
    check(
        brand,
        {**viewed, "op": "eq", "value": 1, "where": [{"property": "price", "op": "lt", "value": 1000}]},
        {a},
    )
    check(
        brand,
        {**viewed, "op": "gte", "value": 1, "where": [{"property": "price", "op": "eq", "value": "cheap"}]},
        {b},
    )
    check(
        brand,
        {**viewed, "op": "gte", "value": 1, "where": [{"property": "price", "op": "eq", "value": 800.0}]},
        {a},
    )
    check(
        brand,
        {**viewed, "op": "gte", "value": 1, "where": [{"property": "price", "op": "eq", "value": "800"}]},
        set(),
    )
    check(brand, {"field": "events.count", "event": "Order Completed", "op": "eq", "value": 0}, set())


def test_predictions_and_recency(brand):
    a = customer(brand, "A")
    b = customer(brand, "B")
    fit = ClvFit.objects.create(
        brand=brand,
        fitted_at=NOW,
        calibration_end=NOW.date(),
        customers=2,
        repeat_customers=1,
        enough_history=True,
    )
    for who, p_alive, orders_90, spend in ((a, 0.9, 1.5, 250000), (b, 0.2, 0.1, 10000)):
        CustomerPrediction.objects.create(
            brand=brand,
            customer=who,
            fit=fit,
            p_alive=p_alive,
            expected_orders_30d=0,
            expected_orders_90d=orders_90,
            expected_orders_365d=0,
            expected_spend_365d=spend,
            fitted_at=NOW,
        )
    score(a, recency_days=10)
    check(brand, {"field": "predicted.p_alive", "op": "gte", "value": 0.5}, {a})
    check(brand, {"field": "predicted.expected_orders_90d", "op": "lt", "value": 1}, {b})
    check(brand, {"field": "predicted.expected_spend_365d", "op": "gte", "value": 2000}, {a})
    check(brand, {"field": "rfm.recency_days", "op": "lte", "value": 30}, {a})


@pytest.mark.parametrize(
    ("tree", "path"),
    [
        ({"field": "consent.marketing", "op": "eq", "value": True}, "platform"),
        ({"field": "reachable", "op": "eq", "value": True, "platform": "fax"}, "platform"),
        ({"field": "events.count", "op": "gte", "value": 1}, "event"),
        (
            {
                "field": "events.count",
                "op": "gte",
                "value": 1,
                "event": "X",
                "where": [{"property": "a__b", "op": "eq", "value": 1}],
            },
            "where[0].property",
        ),
        (
            {
                "field": "events.count",
                "op": "gte",
                "value": 1,
                "event": "X",
                "where": [{"property": "a", "op": "gt", "value": "1"}],
            },
            "where[0].value",
        ),
        (
            {"field": "orders.count", "op": "gte", "value": 1, "last_days": 30, "from": "2026-01-01"},
            "last_days",
        ),
        ({"field": "orders.count", "op": "gte", "value": 1, "from": "2026-02-01", "to": "2026-01-01"}, "to"),
        ({"field": "orders.count", "op": "gte", "value": 1, "from": "2026-02-30"}, "from"),
        ({"field": "orders.count", "op": "gte", "value": -1}, "value"),
        ({"field": "orders.count", "op": "gte", "value": True}, "value"),
        ({"field": "orders.spend", "op": "gte", "value": 10.5}, "value"),
        ({"field": "orders.count", "op": "gte", "value": 1, "channel": ["online", "fax"]}, "channel[1]"),
        ({"field": "profile.birthday_month", "op": "eq", "value": 13}, "value"),
        ({"field": "lifecycle.top20", "op": "eq", "value": "yes"}, "value"),
        ({"field": "rfm.cell", "op": "eq", "value": "565"}, "value"),
        ({"field": "tag", "op": "has", "value": ""}, "value"),
        ({"field": "segment", "op": "in", "value": [1]}, "value"),
    ],
)
def test_bad_parameters_name_the_path(brand, tree, path):
    with pytest.raises(RuleError) as caught:
        parse(brand, tree)
    assert caught.value.path == path


def test_ids_of_another_brand_are_refused(brand, other_brand, store):
    theirs = f.make_store(other_brand, code="X1", name="別家店")
    their_clerk = f.make_user(other_brand, "their-clerk")
    cases = [
        (
            {"all": [{"field": "orders.count", "op": "gte", "value": 1, "store": [store.pk, theirs.pk]}]},
            "all[0].store[1]",
        ),
        ({"field": "home_store", "op": "in", "value": [theirs.pk]}, "value[0]"),
        ({"field": "binding.clerk", "op": "in", "value": [their_clerk.pk]}, "value[0]"),
        ({"field": "orders.count", "op": "gte", "value": 1, "store": theirs.pk}, "store"),
    ]
    for tree, path in cases:
        with pytest.raises(RuleError) as caught:
            parse(brand, tree)
        assert caught.value.path == path
        assert str(theirs.pk) in caught.value.message or str(their_clerk.pk) in caught.value.message
