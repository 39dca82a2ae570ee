"""HQ decides a merge suggestion: accepting it merges the customers it names (as they now are),
dismissing it closes it for good; what cannot be done is refused with a reason, nothing changed."""

from __future__ import annotations

from unittest import mock

import pytest

from omo.core.models import AuditLog
from omo.customers import identity, selectors, services
from omo.customers import merge as merging
from omo.customers.identity import Observation
from omo.customers.models import Customer, CustomerMerge, MergeSuggestion
from omo.customers.services import SuggestionError
from omo.staff.actors import actor_for_user
from omo.testing import factories as f


def open_suggestion(brand) -> MergeSuggestion:
    """Two verified LINE users who share an email: never merged automatically, suggested to HQ."""
    identity.resolve(
        brand, [Observation([("line", "Ua", True)]), Observation([("line", "Ub", True)])], source="t"
    )
    identity.resolve(brand, [Observation([("line", "Ua", True), ("email", "x@x.tw")])], source="t")
    identity.resolve(brand, [Observation([("line", "Ub", True), ("email", "x@x.tw")])], source="t")
    return MergeSuggestion.objects.get(brand=brand)


@pytest.fixture
def actor(hq_admin):
    return actor_for_user(hq_admin)


def test_the_queue_lists_open_suggestions_of_the_brand(brand, other_brand):
    suggestion = open_suggestion(brand)
    open_suggestion(other_brand)
    assert list(selectors.open_merge_suggestions(brand.pk)) == [suggestion]
    MergeSuggestion.objects.filter(pk=suggestion.pk).update(status="dismissed")
    assert not selectors.open_merge_suggestions(brand.pk).exists()


def test_accepting_merges_into_the_chosen_customer_and_closes_the_suggestion(brand, actor, hq_admin):
    suggestion = open_suggestion(brand)

    record = services.accept_merge_suggestion(
        suggestion.pk, survivor_id=suggestion.customer_b_id, actor=actor
    )

    assert (record.survivor_id, record.merged_id, record.automatic, record.actor) == (
        suggestion.customer_b_id,
        suggestion.customer_a_id,
        False,
        hq_admin,
    )
    assert record.reason == f"總部依合併建議 #{suggestion.pk} 合併"
    assert (record.trigger_kind, record.trigger_value) == ("email", "x@x.tw")
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.merge, suggestion.resolved_by) == ("merged", record, hq_admin)


def test_a_survivor_outside_the_suggestion_is_refused(brand, actor):
    suggestion = open_suggestion(brand)
    stranger = f.make_customer(brand, "路人", phone="+886911000009")

    for survivor_id in (stranger.pk, None):
        with pytest.raises(SuggestionError) as refused:
            services.accept_merge_suggestion(suggestion.pk, survivor_id=survivor_id, actor=actor)
        assert refused.value.field == "survivor"
    assert not CustomerMerge.objects.exists()
    assert MergeSuggestion.objects.get(pk=suggestion.pk).status == "open"


def test_a_customer_merged_elsewhere_is_followed_to_the_customer_it_now_is(brand, actor):
    suggestion = open_suggestion(brand)
    elsewhere = f.make_customer(brand, "丙", phone="+886911000003")
    merging.merge_customers(elsewhere, suggestion.customer_a_id)

    record = services.accept_merge_suggestion(
        suggestion.pk, survivor_id=suggestion.customer_a_id, actor=actor
    )

    assert (record.survivor_id, record.merged_id) == (elsewhere.pk, suggestion.customer_b_id)
    assert MergeSuggestion.objects.get(pk=suggestion.pk).status == "merged"


def test_customers_already_one_are_refused_without_a_merge(brand, actor):
    suggestion = open_suggestion(brand)
    between = f.make_customer(brand, "丙", phone="+886911000003")
    merging.merge_customers(between, suggestion.customer_a_id)
    merging.merge_customers(suggestion.customer_b_id, between)  # a → between → b: one customer now

    with mock.patch.object(merging, "merge_customers") as merge:
        with pytest.raises(SuggestionError) as refused:
            services.accept_merge_suggestion(suggestion.pk, survivor_id=suggestion.customer_a_id, actor=actor)

    merge.assert_not_called()
    assert (refused.value.field, refused.value.status) == ("customer", 409)
    assert f"#{suggestion.customer_b_id}" in refused.value.message
    assert MergeSuggestion.objects.get(pk=suggestion.pk).status == "open"  # to be dismissed


def test_a_customer_no_longer_in_the_brand_is_refused_without_a_merge(brand, other_brand, actor):
    suggestion = open_suggestion(brand)
    gone = f.make_customer(other_brand, "別的品牌", phone="+886911000004")
    MergeSuggestion.objects.filter(pk=suggestion.pk).update(customer_b=gone)

    with mock.patch.object(merging, "merge_customers") as merge:
        with pytest.raises(SuggestionError) as refused:
            services.accept_merge_suggestion(suggestion.pk, survivor_id=suggestion.customer_a_id, actor=actor)

    merge.assert_not_called()
    assert (refused.value.field, refused.value.status) == ("customer", 410)
    assert f"#{gone.pk}" in refused.value.message


def test_another_brands_or_a_decided_suggestion_is_refused(brand, other_brand, actor):
    theirs = open_suggestion(other_brand)
    with pytest.raises(SuggestionError) as refused:
        services.accept_merge_suggestion(theirs.pk, survivor_id=theirs.customer_a_id, actor=actor)
    assert refused.value.status == 404
    with pytest.raises(SuggestionError):
        services.dismiss_merge_suggestion(theirs.pk, actor=actor)
    assert MergeSuggestion.objects.get(pk=theirs.pk).status == "open"

    mine = open_suggestion(brand)
    services.dismiss_merge_suggestion(mine.pk, actor=actor)
    with pytest.raises(SuggestionError) as refused:
        services.accept_merge_suggestion(mine.pk, survivor_id=mine.customer_a_id, actor=actor)
    assert refused.value.status == 409
    assert not CustomerMerge.objects.exists()


def test_dismissing_closes_the_suggestion_for_good_and_is_audited(brand, actor, hq_admin):
    suggestion = open_suggestion(brand)

    dismissed = services.dismiss_merge_suggestion(suggestion.pk, actor=actor)

    suggestion.refresh_from_db()
    assert (
        (suggestion.status, suggestion.resolved_by)
        == ("dismissed", hq_admin)
        == (
            dismissed.status,
            dismissed.resolved_by,
        )
    )
    assert suggestion.resolved_at is not None
    entry = AuditLog.objects.get(action="merge_suggestion.dismissed")
    assert (entry.actor_user, entry.detail["customer_a"]) == (hq_admin, suggestion.customer_a_id)
    identity.resolve(brand, [Observation([("line", "Ub", True), ("email", "x@x.tw")])], source="t")
    assert MergeSuggestion.objects.count() == 1  # not suggested again
    assert Customer.objects.filter(merged_into__isnull=False).count() == 0
