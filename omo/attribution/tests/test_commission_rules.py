"""Commission rules: precedence (clerk > category > store > brand), percentage or fixed per item,
effective dates (a rate changing mid-month), validation with named errors, audit, and the API."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
import time_machine
from django.test import TestCase

from omo.attribution.models import CommissionEntry, CommissionRule
from omo.attribution.services import commission_rules
from omo.commerce import services as commerce
from omo.commerce.models import Order
from omo.commerce.schemas import OrderIn
from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.testing import factories as f

pytestmark = pytest.mark.django_db
TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=TAIPEI)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def tops(brand):
    return f.make_category(brand, "上衣", slug="tops")


@pytest.fixture
def pants(brand):
    return f.make_category(brand, "褲子", slug="pants")


@pytest.fixture
def catalogue(brand, tops, pants):
    f.make_product(brand, "T恤", category=tops, variants=[("TEE", "M", 100000)])  # NT$1,000
    f.make_product(brand, "長褲", category=pants, variants=[("PANT", "L", 200000)])  # NT$2,000


@pytest.fixture
def admin_actor(brand, hq_admin):
    return Actor(brand=brand, user=hq_admin, role="hq_admin")


def pos_order(brand, store, clerk, external_id, *, placed_at, lines):
    """A POS sale rung up by `clerk` at `store`: credited to the clerk by the POS staff id."""
    data = {
        "source": "api",
        "external_id": external_id,
        "sales_channel": "pos",
        "store_code": store.code,
        "staff_code": clerk.employee_code,
        "placed_at": placed_at.isoformat(),
        "status": "paid",
        "lines": [
            {"sku": sku, "title": sku, "quantity": quantity, "unit_price": price}
            for sku, quantity, price in lines
        ],
    }
    with TestCase.captureOnCommitCallbacks(execute=True):
        order, _ = commerce.record_order(brand, OrderIn.model_validate(data), actor=None)
    return Order.objects.get(pk=order.pk)


def entry_of(order) -> CommissionEntry:
    return CommissionEntry.objects.get(order=order, kind="sale")


def test_the_most_specific_rule_wins_per_clerk_category_and_store(
    brand, store, other_store, clerk, tops, catalogue, admin_actor
):
    other_clerk = f.make_user(brand, "amy", role="clerk", store=store, employee_code="E002")
    far_clerk = f.make_user(brand, "bob", role="clerk", store=other_store, employee_code="E003")
    start = dt.date(2026, 11, 1)
    create = commission_rules.create_rule
    create(brand, actor=admin_actor, rate_bp=100, starts_on=start)  # brand-wide 1%
    create(brand, actor=admin_actor, rate_bp=200, starts_on=start, store_id=store.pk)  # store 2%
    create(brand, actor=admin_actor, rate_bp=300, starts_on=start, category_id=tops.pk)  # tops 3%
    create(brand, actor=admin_actor, kind="fixed", fixed_amount=5000, starts_on=start, clerk_id=clerk.pk)

    at = dt.datetime(2026, 11, 10, 15, tzinfo=TAIPEI)
    mine = pos_order(brand, store, clerk, "p1", placed_at=at, lines=[("TEE", 2, 100000), ("PANT", 1, 200000)])
    amy = pos_order(
        brand, store, other_clerk, "p2", placed_at=at, lines=[("TEE", 1, 100000), ("PANT", 1, 200000)]
    )
    bob = pos_order(brand, other_store, far_clerk, "p3", placed_at=at, lines=[("PANT", 1, 200000)])

    # clerk rule (NT$50 an item) beats everything: 3 items
    assert (entry_of(mine).basis, entry_of(mine).amount) == (400000, 15000)
    # tops 3% of NT$1,000 + the store's 2% of NT$2,000 (pants have no category rule)
    assert (entry_of(amy).clerk_id, entry_of(amy).amount) == (other_clerk.pk, 3000 + 4000)
    # the other store has no store rule: brand-wide 1%
    assert entry_of(bob).amount == 2000


def test_a_rate_changing_mid_month_applies_by_the_order_date(brand, store, clerk, catalogue, admin_actor):
    old = commission_rules.create_rule(brand, actor=admin_actor, rate_bp=500, starts_on=dt.date(2026, 10, 1))
    commission_rules.update_rule(old, actor=admin_actor, ends_on=dt.date(2026, 11, 15))
    commission_rules.create_rule(brand, actor=admin_actor, rate_bp=800, starts_on=dt.date(2026, 11, 16))

    # 15 Nov 23:30 in Taipei is still the old rate's last day (15:30 UTC)
    before = pos_order(
        brand,
        store,
        clerk,
        "b",
        placed_at=dt.datetime(2026, 11, 15, 23, 30, tzinfo=TAIPEI),
        lines=[("TEE", 1, 100000)],
    )
    after = pos_order(
        brand,
        store,
        clerk,
        "a",
        placed_at=dt.datetime(2026, 11, 16, 0, 30, tzinfo=TAIPEI),
        lines=[("TEE", 1, 100000)],
    )

    assert entry_of(before).amount == 5000
    assert entry_of(after).amount == 8000
    assert entry_of(before).month == entry_of(after).month == dt.date(2026, 11, 1)


def test_a_rule_ending_before_the_order_no_longer_pays(brand, store, clerk, catalogue, admin_actor):
    commission_rules.create_rule(
        brand, actor=admin_actor, rate_bp=500, starts_on=dt.date(2026, 10, 1), ends_on=dt.date(2026, 10, 31)
    )
    order = pos_order(
        brand,
        store,
        clerk,
        "x",
        placed_at=dt.datetime(2026, 11, 1, 0, 5, tzinfo=TAIPEI),
        lines=[("TEE", 1, 100000)],
    )
    assert (entry_of(order).basis, entry_of(order).amount) == (100000, 0)


@pytest.mark.parametrize(
    ("values", "field", "code"),
    [
        ({"rate_bp": -1}, "rate_bp", "commission_rate_negative"),
        ({"rate_bp": 10001}, "rate_bp", "commission_rate_over_100"),
        ({"kind": "fixed", "fixed_amount": -100}, "fixed_amount", "commission_amount_negative"),
        ({"rate_bp": 100, "ends_on": dt.date(2026, 10, 31)}, "ends_on", "commission_dates_reversed"),
        ({"kind": "bonus"}, "kind", "commission_kind_unknown"),
        ({"rate_bp": "five"}, "rate_bp", "invalid"),
    ],
)
def test_bad_rules_are_refused_by_name_and_nothing_is_written(brand, admin_actor, values, field, code):
    with pytest.raises(commission_rules.AttributionError) as refused:
        commission_rules.create_rule(brand, actor=admin_actor, starts_on=dt.date(2026, 11, 1), **values)
    assert (refused.value.field, refused.value.code) == (field, code)
    assert CommissionRule.objects.count() == 0
    assert not AuditLog.objects.filter(action__startswith="commission_rule").exists()


def test_overlapping_rules_for_the_same_scope_are_refused(brand, store, admin_actor):
    first = commission_rules.create_rule(
        brand, actor=admin_actor, rate_bp=500, starts_on=dt.date(2026, 11, 1), store_id=store.pk
    )
    with pytest.raises(commission_rules.AttributionError) as refused:
        commission_rules.create_rule(
            brand, actor=admin_actor, rate_bp=600, starts_on=dt.date(2027, 1, 1), store_id=store.pk
        )
    assert (refused.value.code, refused.value.status, refused.value.extra["rule_id"]) == (
        "commission_rule_overlap",
        409,
        first.pk,
    )
    assert "2026-11-01" in refused.value.message
    # another scope (brand-wide) on the same dates is fine, and so is the same scope after an end
    commission_rules.create_rule(brand, actor=admin_actor, rate_bp=100, starts_on=dt.date(2026, 11, 1))
    commission_rules.update_rule(first, actor=admin_actor, ends_on=dt.date(2026, 12, 31))
    commission_rules.create_rule(
        brand, actor=admin_actor, rate_bp=600, starts_on=dt.date(2027, 1, 1), store_id=store.pk
    )
    # moving the old rule's end past the new start is an overlap too
    with pytest.raises(commission_rules.AttributionError) as moved:
        commission_rules.update_rule(first, actor=admin_actor, ends_on=dt.date(2027, 1, 1))
    assert moved.value.code == "commission_rule_overlap"
    first.refresh_from_db()
    assert first.ends_on == dt.date(2026, 12, 31)


def test_scope_of_another_brand_is_refused(brand, other_brand, admin_actor):
    foreign_store = f.make_store(other_brand, code="X1", name="別家門市")
    with pytest.raises(commission_rules.AttributionError) as refused:
        commission_rules.create_rule(
            brand, actor=admin_actor, rate_bp=100, starts_on=dt.date(2026, 11, 1), store_id=foreign_store.pk
        )
    assert (refused.value.field, refused.value.code) == ("store_id", "commission_scope_unknown")


def test_changes_are_audited(brand, admin_actor):
    rule = commission_rules.create_rule(brand, actor=admin_actor, rate_bp=100, starts_on=dt.date(2026, 11, 1))
    commission_rules.update_rule(rule, actor=admin_actor, rate_bp=150)
    commission_rules.delete_rule(rule, actor=admin_actor)
    logs = list(AuditLog.objects.filter(brand=brand).order_by("id").values_list("action", "detail"))
    assert [action for action, _ in logs] == [
        "commission_rule.created",
        "commission_rule.changed",
        "commission_rule.deleted",
    ]
    assert logs[1][1]["before"]["rate_bp"] == 100 and logs[1][1]["after"]["rate_bp"] == 150
    assert logs[2][1]["rule_id"] == rule.pk


def test_rules_read_as_sentences(brand, store, clerk, tops, admin_actor):
    rule = commission_rules.create_rule(
        brand,
        actor=admin_actor,
        kind="fixed",
        fixed_amount=5000,
        starts_on=dt.date(2026, 11, 1),
        ends_on=dt.date(2026, 11, 30),
        clerk_id=clerk.pk,
        category_id=tops.pk,
    )
    words = commission_rules.describe(commission_rules.rules_of(brand).get(pk=rule.pk))
    assert words.zh == "店員 clerk、分類「上衣」：每件 NT$50，2026-11-01 至 2026-11-30。"
    assert words.en == "Clerk clerk, category “上衣”: NT$50 per item, from 2026-11-01 to 2026-11-30."
    brand_wide = commission_rules.create_rule(
        brand, actor=admin_actor, rate_bp=1250, starts_on=dt.date(2026, 11, 1)
    )
    assert commission_rules.describe(brand_wide).zh == "全品牌：銷售額的 12.5%，2026-11-01 起，未設結束日。"


# --- API -------------------------------------------------------------------------------------------


def test_api_creates_reads_changes_and_deletes_a_rule(api, brand, store):
    created = api.post(
        "/api/v1/commission/rules", {"rate_bp": 500, "starts_on": "2026-11-01", "store_id": store.pk}
    )
    assert created.status_code == 201, created.content
    body = created.json()
    assert (body["kind"], body["rate_bp"], body["store_id"], body["specificity"]) == (
        "percent",
        500,
        store.pk,
        1,
    )
    assert body["sentence_en"] == "Store 台北信義店: 5% of sales, from 2026-11-01 onwards, no end date."

    listed = api.get("/api/v1/commission/rules").json()
    assert [item["id"] for item in listed["items"]] == [body["id"]]
    assert listed["precedence_en"][1].startswith("A rule for the clerk beats a rule for the product category")

    changed = api.patch(f"/api/v1/commission/rules/{body['id']}", {"ends_on": "2026-11-15"})
    assert changed.status_code == 200 and changed.json()["ends_on"] == "2026-11-15"

    overlap = api.post(
        "/api/v1/commission/rules", {"rate_bp": 600, "starts_on": "2026-11-15", "store_id": store.pk}
    )
    assert overlap.status_code == 409
    assert (overlap.json()["code"], overlap.json()["field"]) == ("commission_rule_overlap", "starts_on")

    too_high = api.post("/api/v1/commission/rules", {"rate_bp": 20000, "starts_on": "2026-12-01"})
    assert (too_high.status_code, too_high.json()["code"]) == (422, "commission_rate_over_100")

    assert api.delete(f"/api/v1/commission/rules/{body['id']}").status_code == 204
    assert api.get(f"/api/v1/commission/rules/{body['id']}").status_code == 404


def test_api_refuses_other_brands_and_weaker_roles(api, other_api, clerk_api, brand):
    rule = CommissionRule.objects.create(brand=brand, rate_bp=100, starts_on=dt.date(2026, 11, 1))
    assert other_api.get(f"/api/v1/commission/rules/{rule.pk}").status_code == 404
    assert other_api.patch(f"/api/v1/commission/rules/{rule.pk}", {"rate_bp": 9}).status_code == 404
    assert other_api.delete(f"/api/v1/commission/rules/{rule.pk}").status_code == 404
    assert other_api.get("/api/v1/commission/rules").json()["items"] == []
    assert clerk_api.get("/api/v1/commission/rules").status_code == 403
    agent = f.ApiClient(f.make_api_key(brand, role="hq_agent"))
    assert agent.get("/api/v1/commission/rules").status_code == 200
    assert (
        agent.post("/api/v1/commission/rules", {"rate_bp": 1, "starts_on": "2026-11-01"}).status_code == 403
    )
    assert agent.delete(f"/api/v1/commission/rules/{rule.pk}").status_code == 403
    rule.refresh_from_db()
    assert rule.rate_bp == 100
