"""Identity resolution's PostgreSQL paths: COPY for new identifiers, array lookups, ANALYZE on the way.

Small batches use bulk_create on PostgreSQL too, so these tests lower the COPY threshold to send
every batch through COPY and check it keeps the rules the other path keeps.
"""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from omo.customers import identity, tasks
from omo.customers.identity import Observation, storage
from omo.customers.models import Customer, CustomerIdentity, CustomerMerge
from omo.customers.tests.test_identity import components, event_lists, fresh_brand, grouping

pytestmark = pytest.mark.postgres


@pytest.fixture
def copy_always(monkeypatch):
    monkeypatch.setattr(storage, "COPY_MIN_ROWS", 1)


def test_copy_skips_an_identifier_stored_meanwhile_or_refuses_the_batch(brand, copy_always):
    holder, newcomer = Customer.objects.create(brand=brand), Customer.objects.create(brand=brand)
    CustomerIdentity.objects.create(brand=brand, customer=holder, kind="email", value="a@x.tw")
    rows = [(newcomer.pk, "email", "a@x.tw", False), (newcomer.pk, "line", "Ua", True)]

    with pytest.raises(IntegrityError), transaction.atomic():
        storage.insert_identities(brand, rows, source="t", ignore_conflicts=False)
    assert not CustomerIdentity.objects.filter(customer=newcomer).exists()

    storage.insert_identities(brand, rows, source="batch:t", ignore_conflicts=True)
    stored = {
        (r.customer_id, r.kind, r.value, r.verified, r.source)
        for r in CustomerIdentity.objects.filter(brand=brand).exclude(customer=holder)
    }
    assert stored == {(newcomer.pk, "line", "Ua", True, "batch:t")}
    assert CustomerIdentity.objects.get(value="a@x.tw").customer_id == holder.pk
    assert CustomerIdentity.objects.get(value="Ua").created_at is not None
    # The staging table is left empty: a second batch in the same transaction stores only its own rows.
    storage.insert_identities(brand, [(newcomer.pk, "line", "Ub", True)], source="t", ignore_conflicts=False)
    assert CustomerIdentity.objects.filter(customer=newcomer).count() == 2


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(events=event_lists, order=st.randoms(use_true_random=False), batch_size=st.integers(1, 4))
def test_grouping_through_copy_does_not_depend_on_arrival_order(db, copy_always, events, order, batch_size):
    expected = components(events)
    arrivals = []
    for shuffled in (list(events), order.sample(events, len(events))):
        brand = fresh_brand()
        for start in range(0, len(shuffled), batch_size):
            chunk = shuffled[start : start + batch_size]
            identity.resolve(brand, [Observation(list(e)) for e in chunk], source="test")
        arrivals.append(grouping(brand))
    assert arrivals[0] == arrivals[1] == {g for g in expected if g}


def test_history_batch_through_copy_and_analyze_is_idempotent(brand, copy_always, monkeypatch):
    monkeypatch.setattr(tasks._Statistics, "MIN_ROWS", 1)  # ANALYZE after every growing chunk
    legacy = Customer.objects.bulk_create(
        [
            Customer(brand=brand, name=f"舊{n}", phone=f"+88691100{n:04d}", email=f"c{n}@x.tw")
            for n in range(20)
        ]
        + [Customer(brand=brand, name="重複", phone="+886911000003", member_number="M9")]
    )
    first = tasks.resolve_history(brand, chunk=7)
    assert (first.attached, first.merges, first.suggestions) == (41, 1, 0)
    merge = CustomerMerge.objects.get()
    # The duplicate holds a member number, so it survives the older profile.
    assert merge.survivor_id == legacy[20].pk and merge.merged_id == legacy[3].pk
    assert set(CustomerIdentity.objects.filter(customer=legacy[20]).values_list("kind", "value")) == {
        ("phone", "+886911000003"),
        ("email", "c3@x.tw"),
        ("member_number", "M9"),
    }
    second = tasks.resolve_history(brand, chunk=7)
    assert (second.attached, second.merges, second.suggestions) == (0, 0, 0)
