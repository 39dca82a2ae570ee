"""The rule engine's public API on the first fields: groups, tags, orders, scores, segments."""

from __future__ import annotations

import pytest
from django.utils import translation

from omo.core.errors import NotFound
from omo.segments.models import Segment, SegmentMember
from omo.segments.rules import RuleError, explain, field_catalogue, members, parse
from omo.segments.tests.rules_data import NOW, customer, order, score

pytestmark = pytest.mark.django_db


def ids(brand, tree):
    return set(members(brand, parse(brand, tree), now=NOW).values_list("pk", flat=True))


def test_tag_is_exact_on_a_json_list(brand):
    vip = customer(brand, "A", tags=["VIP", "新客"])
    vip2 = customer(brand, "B", tags=["VIP2", "vip"])
    none = customer(brand, "C", tags=[])
    assert ids(brand, {"field": "tag", "op": "has", "value": "VIP"}) == {vip.pk}
    assert ids(brand, {"field": "tag", "op": "has_not", "value": "VIP"}) == {vip2.pk, none.pk}
    assert ids(brand, {"field": "tag", "op": "has", "value": "新客"}) == {vip.pk}


def test_orders_count_and_spend_with_window_and_channel(brand, store):
    a = customer(brand, "A")
    b = customer(brand, "B")
    order(brand, a, 1000, days_ago=10)
    order(brand, a, 500, days_ago=20, channel="marketplace", refunded=200)
    order(brand, a, 9000, days_ago=5, status="cancelled")
    order(brand, b, 3000, days_ago=100, channel="pos", store=store)
    order(brand, b, 100, days_ago=2, channel="pos", store=store)
    tree = {"field": "orders.count", "op": "gte", "value": 2, "last_days": 90, "channel": "online"}
    assert ids(brand, tree) == {a.pk}
    assert ids(brand, {"field": "orders.count", "op": "eq", "value": 0, "channel": "store"}) == {a.pk}
    assert ids(brand, {"field": "orders.spend", "op": "eq", "value": 1300}) == {a.pk}
    assert ids(brand, {"field": "orders.spend", "op": "gte", "value": 3100, "store": store.pk}) == {b.pk}
    assert ids(brand, {"field": "orders.spend", "op": "between", "value": [0, 200], "last_days": 30}) == {
        b.pk
    }


def test_groups_and_not(brand):
    a = customer(brand, "A", tags=["VIP"])
    b = customer(brand, "B", tags=["VIP", "黑名單"])
    c = customer(brand, "C", tags=[])
    order(brand, a, 100)
    order(brand, c, 100)
    vip = {"field": "tag", "op": "has", "value": "VIP"}
    black = {"field": "tag", "op": "has", "value": "黑名單"}
    bought = {"field": "orders.count", "op": "gte", "value": 1}
    assert ids(brand, {"all": [vip, {"not": black}]}) == {a.pk}
    assert ids(brand, {"any": [black, bought]}) == {a.pk, b.pk, c.pk}
    assert ids(brand, {"not": {"any": [vip, bought]}}) == set()
    assert ids(brand, {"all": [{"any": [vip, bought]}, {"not": {"all": [vip, bought]}}]}) == {b.pk, c.pk}


def test_merged_and_erased_customers_are_never_members(brand):
    kept = customer(brand, "A", tags=["VIP"])
    customer(brand, "B", tags=["VIP"], merged_into=kept)
    customer(brand, "C", tags=["VIP"], erased_at=NOW)
    assert ids(brand, {"field": "tag", "op": "has", "value": "VIP"}) == {kept.pk}


def test_scores_and_segments(brand):
    a = customer(brand, "A")
    b = customer(brand, "B")
    c = customer(brand, "C")  # no score row
    score(a, r=5, f=5, m=5, rfm_segment="champions", value_group="loyal", activity="active", top20=True)
    score(b, r=2, f=1, m=3, rfm_segment="hibernating", value_group="general", activity="dormant")
    assert ids(brand, {"field": "rfm.segment", "op": "in", "value": ["champions", "loyal"]}) == {a.pk}
    assert ids(brand, {"field": "rfm.segment", "op": "ne", "value": "champions"}) == {b.pk, c.pk}
    assert ids(brand, {"field": "rfm.cell", "op": "eq", "value": "555"}) == {a.pk}
    assert ids(brand, {"field": "rfm.r", "op": "lte", "value": 2}) == {b.pk}
    assert ids(brand, {"field": "lifecycle.top20", "op": "eq", "value": True}) == {a.pk}
    assert ids(brand, {"field": "lifecycle.activity", "op": "not_in", "value": ["active"]}) == {b.pk, c.pk}
    seg = Segment.objects.create(brand=brand, name="常客", version=2)
    SegmentMember.objects.create(segment=seg, version=2, customer=a)
    SegmentMember.objects.create(segment=seg, version=1, customer=b)  # an old version
    assert ids(brand, {"field": "segment", "op": "in", "value": seg.pk}) == {a.pk}
    assert ids(brand, {"field": "segment", "op": "not_in", "value": seg.pk}) == {b.pk, c.pk}


@pytest.mark.parametrize(
    ("tree", "path"),
    [
        ({"field": "nope", "op": "eq", "value": 1}, "field"),
        ({"all": [{"field": "tag", "op": "eq", "value": "VIP"}]}, "all[0].op"),
        ({"all": [{"any": [{"field": "orders.count", "op": "gte", "value": "2"}]}]}, "all[0].any[0].value"),
        ({"not": {"field": "orders.count", "op": "gte", "value": 1, "last_dayz": 3}}, "not.last_dayz"),
        ({"field": "orders.count", "op": "between", "value": [1, 5, 7]}, "value"),
        ({"field": "rfm.segment", "op": "in", "value": ["champions", "kings"]}, "value[1]"),
        ({"all": []}, "all"),
        ({"both": []}, ""),
        ([], ""),
    ],
)
def test_bad_trees_name_the_path(brand, tree, path):
    with pytest.raises(RuleError) as caught:
        parse(brand, tree)
    assert caught.value.path == path


def test_segment_cycles(brand):
    a = Segment.objects.create(brand=brand, name="A")
    b = Segment.objects.create(brand=brand, name="B", rule={"field": "segment", "op": "in", "value": a.pk})
    with pytest.raises(RuleError) as caught:
        parse(brand, {"all": [{"field": "segment", "op": "in", "value": b.pk}]}, segment_id=a.pk)
    assert caught.value.path == "all[0].value"
    with pytest.raises(RuleError) as caught:
        parse(brand, {"field": "segment", "op": "not_in", "value": a.pk}, segment_id=a.pk)
    assert caught.value.path == "value"


def test_explain_in_both_languages(brand):
    a = customer(brand, "A", tags=[])
    order(brand, a, 100, days_ago=3)
    order(brand, a, 100, days_ago=4)
    order(brand, a, 100, days_ago=5)
    rule = parse(
        brand,
        {
            "all": [
                {"field": "orders.count", "op": "gte", "value": 2, "last_days": 90, "channel": "web_shop"},
                {"field": "tag", "op": "has", "value": "VIP"},
            ]
        },
    )
    with translation.override("zh-hant"):
        why = explain(brand, rule, a, now=NOW)
    assert why.member is False
    assert why.sentence == "符合：過去 90 天在官網商店下單 3 次（條件：至少 2 次）；不符合：沒有「VIP」標籤"
    assert [part.met for part in why.parts] == [True, False]
    assert why.parts[0].actual == 3


def test_field_catalogue_lists_every_field(brand, store):
    catalogue = {entry["field"]: entry for entry in field_catalogue(brand)}
    assert {"tag", "orders.count", "rfm.segment", "lifecycle.value_group", "segment"} <= set(catalogue)
    store_param = next(p for p in catalogue["orders.count"]["params"] if p["name"] == "store")
    assert store_param["choices"] == [{"value": store.pk, "label": store.name}]


def test_a_cycle_through_stored_segments_and_a_diamond(brand):
    a = Segment.objects.create(brand=brand, name="A")
    b = Segment.objects.create(brand=brand, name="B", rule={"field": "segment", "op": "in", "value": a.pk})
    # Editing A to refer to B closes a → b → a.
    with pytest.raises(RuleError) as caught:
        parse(
            brand,
            {
                "any": [
                    {"field": "tag", "op": "has", "value": "X"},
                    {"not": {"field": "segment", "op": "in", "value": b.pk}},
                ]
            },
            segment_id=a.pk,
        )
    assert caught.value.path == "any[1].not.value"
    assert f"#{a.pk} → #{b.pk} → #{a.pk}" in caught.value.message
    # A diamond (c refers to a and b, b refers to a) is no cycle.
    c = Segment.objects.create(
        brand=brand,
        name="C",
        rule={
            "all": [
                {"field": "segment", "op": "in", "value": a.pk},
                {"field": "segment", "op": "in", "value": b.pk},
            ]
        },
    )
    assert parse(brand, {"field": "segment", "op": "in", "value": c.pk}).segment_ids == {c.pk}


def test_depth_and_size_limits(brand):
    tree = {"field": "tag", "op": "has", "value": "VIP"}
    for _level in range(6):
        tree = {"not": tree}
    parse(brand, tree)
    with pytest.raises(RuleError) as caught:
        parse(brand, {"all": [tree]})
    assert caught.value.path == "all[0].not.not.not.not.not.not"
    many = {"any": [{"all": [{"field": "tag", "op": "has", "value": f"T{n}"}] * 5} for n in range(9)]}
    with pytest.raises(RuleError) as caught:
        parse(brand, many)
    assert caught.value.path == ""
    assert caught.value.status == 422
    assert caught.value.body()["field"] == "rule"


def test_errors_speak_the_active_language(brand):
    with translation.override("en"), pytest.raises(RuleError) as caught:
        parse(brand, {"all": [{"field": "orders.count", "op": "above", "value": 1}]})
    assert caught.value.message == (
        "The field orders.count has no operator “above”; use one of: eq, ne, gt, gte, lt, lte, between."
    )
    with translation.override("zh-hant"), pytest.raises(RuleError) as caught:
        parse(brand, {"field": "loyalty.color", "op": "eq", "value": 1})
    assert caught.value.message == "不認得的欄位 “loyalty.color”。"


def test_explain_in_english_with_not_and_a_merged_customer(brand):
    a = customer(brand, "A", tags=["VIP"])
    order(brand, a, 1200, days_ago=3, channel="pos")
    rule = parse(
        brand,
        {
            "all": [
                {"field": "orders.spend", "op": "gte", "value": 1000, "last_days": 30, "channel": "store"},
                {"not": {"field": "tag", "op": "has", "value": "黑名單"}},
            ]
        },
    )
    with translation.override("en"):
        why = explain(brand, rule, a, now=NOW)
    assert why.member is True
    assert why.sentence == (
        "Met: spent NT$1,200 in the last 30 days in store (condition: at least NT$1,000), has no “黑名單” tag"
    )
    assert [(part.met, part.favours) for part in why.parts] == [(True, True), (False, True)]
    b = customer(brand, "B", tags=["VIP"], merged_into=a)
    order(brand, b, 1200, days_ago=3, channel="pos")
    with translation.override("zh-hant"):
        why = explain(brand, rule, b, now=NOW)
    assert why.member is False
    assert why.sentence.startswith("顧客已合併至另一位顧客，不列入分眾。符合：")


def test_explain_refuses_another_brands_customer(brand, other_brand):
    theirs = customer(other_brand, "X", tags=["VIP"])
    rule = parse(brand, {"field": "tag", "op": "has", "value": "VIP"})
    with pytest.raises(NotFound):
        explain(brand, rule, theirs, now=NOW)


def test_field_catalogue_in_english_with_choices(brand, clerk):
    with translation.override("en"):
        catalogue = {entry["field"]: entry for entry in field_catalogue(brand)}
    assert catalogue["tag"]["label"] == "Tag"
    assert catalogue["orders.count"]["group_label"] == "Orders"
    assert [op["label"] for op in catalogue["orders.count"]["ops"]][:4] == [
        "equal to",
        "not equal to",
        "more than",
        "at least",
    ]
    channel = next(p for p in catalogue["orders.count"]["params"] if p["name"] == "channel")
    assert channel["choices"][:2] == [
        {"value": "online", "label": "Online (web shop, external web shops, marketplaces)"},
        {"value": "store", "label": "Store"},
    ]
    assert catalogue["binding.clerk"]["choices"] == [{"value": clerk.pk, "label": str(clerk)}]
    assert catalogue["segment"]["list_value"] is False
    assert {c["value"] for c in catalogue["rfm.segment"]["choices"]} >= {"champions", "cant_lose", "prospect"}
    last_days = next(p for p in catalogue["events.count"]["params"] if p["name"] == "last_days")
    assert last_days["excludes"] == ["from", "to"]
    event = next(p for p in catalogue["events.count"]["params"] if p["name"] == "event")
    assert event["required"] is True


def test_explain_an_event_count(brand):
    from omo.tracking.models import TrackedEvent

    a = customer(brand, "A")
    TrackedEvent.objects.create(
        brand=brand,
        type="track",
        event="Product Viewed",
        message_id="m1",
        customer=a,
        properties={"category": "shoes"},
        received_at=NOW,
        timestamp=NOW,
    )
    rule = parse(
        brand,
        {
            "field": "events.count",
            "op": "gte",
            "value": 2,
            "event": "Product Viewed",
            "last_days": 30,
            "where": [{"property": "category", "op": "eq", "value": "shoes"}],
        },
    )
    with translation.override("zh-hant"):
        why = explain(brand, rule, a, now=NOW)
    assert (
        why.sentence == "不符合：過去 30 天發生「Product Viewed」（category = shoes） 1 次（條件：至少 2 次）"
    )
    with translation.override("en"):
        why = explain(brand, rule, a, now=NOW)
    assert why.sentence == (
        "Not met: “Product Viewed” (category = shoes) in the last 30 days: 1 (condition: at least 2)"
    )
