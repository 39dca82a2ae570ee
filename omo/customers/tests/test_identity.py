"""Identity resolution: grouping, junk, caps, verified customers, member numbers, the batch job."""

from __future__ import annotations

import uuid
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from omo.core.models import Brand
from omo.customers import identity, tasks
from omo.customers.identity import Observation
from omo.customers.models import Customer, CustomerIdentity, CustomerMerge, CustomerSettings, MergeSuggestion
from omo.testing import factories as f
from omo.tracking.models import TrackedEvent
from omo.tracking.services import create_source, ingest

POOL = (
    [("phone", f"+8869110000{n:02d}") for n in range(4)]
    + [("email", f"p{n}@example.com") for n in range(4)]
    + [("anonymous", f"anon-{n}") for n in range(4)]
    + [("user_id", f"user-{n}") for n in range(3)]
)
JUNK = [
    ("anonymous", "null"),
    ("user_id", "0"),
    ("email", "undefined"),
    ("anonymous", "00000000"),
    ("user_id", "guest"),
]


def fresh_brand(cap: int = 50) -> Brand:
    brand = f.make_brand("識別測試", slug=f"ident-{uuid.uuid4().hex[:10]}")
    CustomerSettings.objects.create(brand=brand, max_identifiers_per_kind=cap, identity_deny_list=["guest"])
    return brand


def grouping(brand: Brand) -> set[frozenset]:
    groups: dict[int, set] = {}
    for customer_id, kind, value in CustomerIdentity.objects.filter(brand=brand).values_list(
        "customer_id", "kind", "value"
    ):
        groups.setdefault(customer_id, set()).add((kind, value))
    return {frozenset(g) for g in groups.values()}


def components(events: list[list[tuple[str, str]]]) -> set[frozenset]:
    """Connected components of the identifiers (junk dropped): what any arrival order must give."""
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for event in events:
        real = [i for i in event if i not in JUNK]
        for ident in real:
            find(ident)
        for a, b in zip(real, real[1:], strict=False):
            parent[find(a)] = find(b)
    groups: dict = {}
    for ident in parent:
        groups.setdefault(find(ident), set()).add(ident)
    return {frozenset(g) for g in groups.values()}


event_lists = st.lists(st.lists(st.sampled_from(POOL + JUNK), min_size=1, max_size=3), min_size=1, max_size=8)


@hsettings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=event_lists, order=st.randoms(use_true_random=False), batch_size=st.integers(1, 4))
def test_grouping_does_not_depend_on_arrival_order(db, events, order, batch_size):
    expected = components(events)
    arrivals = []
    for shuffled in (list(events), order.sample(events, len(events))):
        brand = fresh_brand()
        for start in range(0, len(shuffled), batch_size):
            chunk = shuffled[start : start + batch_size]
            identity.resolve(brand, [Observation(list(e)) for e in chunk], source="test")
        arrivals.append(grouping(brand))
        # No junk value is ever stored, so none can ever match.
        assert not CustomerIdentity.objects.filter(brand=brand, value__in=[v for _, v in JUNK]).exists()
    assert arrivals[0] == arrivals[1] == {g for g in expected if g}


def test_junk_values_never_match(brand):
    CustomerSettings.objects.create(brand=brand, identity_deny_list=["guest"])
    out = identity.resolve(
        brand,
        [
            Observation([("anonymous", v)])
            for v in ("null", "0", "-1", "undefined", "anonymous", "0000-0000", "guest")
        ]
        + [
            Observation([("phone", "0912345678"), ("anonymous", "null")]),
            Observation([("anonymous", "NULL")]),
        ],
        source="test",
    )
    assert out.customer_ids[:7] == [None] * 7 and out.customer_ids[8] is None
    assert CustomerIdentity.objects.filter(brand=brand).count() == 1
    assert Customer.objects.filter(brand=brand).count() == 1


def test_caps_are_respected(brand):
    CustomerSettings.objects.create(brand=brand, max_identifiers_per_kind=2)
    (first,) = identity.resolve(
        brand, [Observation([("member_number", "M1", True)])], source="t"
    ).customer_ids
    for n in range(4):
        identity.resolve(
            brand,
            [Observation([("email", f"e{n}@x.tw"), ("member_number", f"M{n + 2}")], customer_id=first)],
            source="t",
        )
    held = CustomerIdentity.objects.filter(customer_id=first)
    assert held.filter(kind="email").count() == 2
    assert list(held.filter(kind="member_number").values_list("value", flat=True)) == ["M1"]


def test_two_verified_customers_become_a_suggestion_not_a_merge(brand):
    a, b = identity.resolve(
        brand, [Observation([("line", "Ua", True)]), Observation([("line", "Ub", True)])], source="line"
    ).customer_ids
    identity.resolve(brand, [Observation([("line", "Ua", True), ("phone", "0912345678")])], source="t")
    identity.resolve(brand, [Observation([("line", "Ub", True), ("phone", "0912345678")])], source="t")
    assert not CustomerMerge.objects.exists()
    suggestion = MergeSuggestion.objects.get()
    assert {suggestion.customer_a_id, suggestion.customer_b_id} == {a, b}
    assert (suggestion.kind, suggestion.value, suggestion.status) == ("phone", "+886912345678", "open")
    # Seeing it again does not open a second one.
    identity.resolve(brand, [Observation([("line", "Ub", True), ("phone", "0912345678")])], source="t")
    assert MergeSuggestion.objects.count() == 1


def test_an_unverified_duplicate_is_merged_automatically(brand):
    verified, guest = identity.resolve(
        brand, [Observation([("line", "Ua", True)]), Observation([("email", "a@x.tw")])], source="t"
    ).customer_ids
    (result,) = identity.resolve(
        brand, [Observation([("email", "a@x.tw"), ("line", "Ua")])], source="t"
    ).customer_ids
    assert result == verified
    merge = CustomerMerge.objects.get()
    assert (merge.survivor_id, merge.merged_id, merge.automatic) == (verified, guest, True)
    assert (merge.trigger_kind, merge.trigger_value) == ("email", "a@x.tw")
    # The merged customer's identifiers lead to the survivor from now on.
    (again,) = identity.resolve(brand, [Observation([("email", "a@x.tw")])], source="t").customer_ids
    assert again == verified


def test_member_number_conflict_never_merges(brand):
    a, b = identity.resolve(
        brand,
        [Observation([("member_number", "M1"), ("email", "a@x.tw")]), Observation([("member_number", "M2")])],
        source="pos",
    ).customer_ids
    (result,) = identity.resolve(
        brand, [Observation([("member_number", "M2"), ("email", "a@x.tw")])], source="pos"
    ).customer_ids
    assert result == b  # the member number comes first in the priority order
    assert not CustomerMerge.objects.exists() and not MergeSuggestion.objects.exists()
    assert CustomerIdentity.objects.get(kind="email").customer_id == a


def test_other_brands_identifiers_never_match(brand, other_brand):
    (theirs,) = identity.resolve(other_brand, [Observation([("email", "a@x.tw")])], source="t").customer_ids
    (mine,) = identity.resolve(
        brand, [Observation([("email", "a@x.tw")], customer_id=theirs)], source="t"
    ).customer_ids
    assert mine != theirs
    assert Customer.objects.get(pk=mine).brand_id == brand.pk


def test_tracking_links_anonymous_id_to_the_user_and_follows_alias(brand):
    source, _ = create_source(brand, name="web", actor=None)
    ingest(source, [{"type": "track", "event": "Viewed", "anonymousId": "anon-1", "messageId": "1"}])
    ingest(
        source,
        [
            {
                "type": "identify",
                "userId": "u-1",
                "anonymousId": "anon-1",
                "messageId": "2",
                "traits": {"email": "U1@Example.com", "name": "阿明"},
            }
        ],
    )
    ingest(
        source,
        [
            {"type": "alias", "previousId": "anon-2", "userId": "u-1", "messageId": "3"},
            {"type": "page", "anonymousId": "anon-2", "messageId": "4"},
        ],
    )
    customer = Customer.objects.get(brand=brand)
    assert customer.name == "阿明" and customer.email == "u1@example.com"
    assert set(customer.identities.values_list("kind", "value")) == {
        ("user_id", "u-1"),
        ("anonymous", "anon-1"),
        ("anonymous", "anon-2"),
        ("email", "u1@example.com"),
    }
    got = dict(TrackedEvent.objects.values_list("message_id", "customer_id"))
    assert got == {"1": None, "2": customer.pk, "3": customer.pk, "4": customer.pk}
    # The batch job gives the first event, recorded before anyone knew, its customer.
    assert tasks.resolve_history(brand).events_linked == 1
    assert TrackedEvent.objects.get(message_id="1").customer_id == customer.pk


def test_batch_job_over_history_is_idempotent(brand):
    legacy = Customer.objects.bulk_create(
        [
            Customer(brand=brand, name=f"舊{n}", phone=f"+88691100{n:04d}", email=f"c{n}@x.tw")
            for n in range(20)
        ]
        + [
            Customer(brand=brand, name="重複", phone="+886911000003"),
            Customer(brand=brand, name="空", phone="0"),
        ]
    )
    first = tasks.resolve_history(brand, chunk=7)
    assert (first.attached, first.merges, first.suggestions) == (40, 1, 0)
    merge = CustomerMerge.objects.get()
    assert merge.survivor_id == legacy[3].pk and merge.merged_id == legacy[20].pk
    second = tasks.resolve_history(brand, chunk=7)
    assert (second.attached, second.merges, second.suggestions, second.events_linked) == (0, 0, 0, 0)
    # The merged customer is not read again: its identifiers already lead to the survivor.
    assert (first.identifiers, second.identifiers) == (41, 40)


def test_command_names_a_bad_brand_and_runs(brand):
    with pytest.raises(CommandError, match="--brand"):
        call_command("resolve_identities", "--brand", "nope")
    Customer.objects.create(brand=brand, phone="+886911000001")
    out = StringIO()
    call_command("resolve_identities", "--brand", str(brand.pk), stdout=out)
    assert '"attached": 1' in out.getvalue()
