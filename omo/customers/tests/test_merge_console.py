"""Console merge pages: HQ admins only, another brand's rows are 404, every action is audited."""

from __future__ import annotations

from unittest import mock

import pytest
from django.test import Client
from django.urls import reverse

from omo.core.models import AuditLog
from omo.customers import identity, privacy
from omo.customers import merge as merging
from omo.customers.identity import Observation
from omo.customers.models import Customer, CustomerMerge, MergeSuggestion
from omo.staff.actors import actor_for_user
from omo.testing import factories as f


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def open_suggestion(brand) -> MergeSuggestion:
    identity.resolve(
        brand, [Observation([("line", "Ua", True)]), Observation([("line", "Ub", True)])], source="t"
    )
    identity.resolve(brand, [Observation([("line", "Ua", True), ("email", "x@x.tw")])], source="t")
    identity.resolve(brand, [Observation([("line", "Ub", True), ("email", "x@x.tw")])], source="t")
    return MergeSuggestion.objects.get(brand=brand)


PAGES = [
    ("get", "console:merge_queue", False),
    ("get", "console:merge_history", False),
    ("post", "console:merge_suggestion_merge", True),
    ("post", "console:merge_suggestion_dismiss", True),
    ("post", "console:merge_split", True),
]


@pytest.mark.parametrize("role_user", ["hq_agent", "manager", "clerk"])
def test_weaker_roles_are_refused_everywhere(request, brand, role_user):
    suggestion = open_suggestion(brand)
    record = merging.merge_customers(
        f.make_customer(brand, "甲", phone="+886911000001"),
        f.make_customer(brand, "乙", phone="+886911000002"),
    )
    client = signed_in(request.getfixturevalue(role_user))
    for method, name, with_pk in PAGES:
        pk = (record.pk if name == "console:merge_split" else suggestion.pk) if with_pk else None
        url = reverse(name, args=[pk] if with_pk else [])
        response = getattr(client, method)(url, {"survivor": suggestion.customer_a_id})
        assert response.status_code == 403, (role_user, name)
    assert MergeSuggestion.objects.get(pk=suggestion.pk).status == "open"
    assert CustomerMerge.objects.get(pk=record.pk).split_at is None


def test_other_brand_rows_are_not_found(brand, other_brand, other_admin):
    suggestion = open_suggestion(brand)
    record = merging.merge_customers(
        f.make_customer(brand, "甲", phone="+886911000001"),
        f.make_customer(brand, "乙", phone="+886911000002"),
    )
    client = signed_in(other_admin)
    assert (
        client.post(
            reverse("console:merge_suggestion_merge", args=[suggestion.pk]),
            {"survivor": suggestion.customer_a_id},
        ).status_code
        == 404
    )
    assert client.post(reverse("console:merge_suggestion_dismiss", args=[suggestion.pk])).status_code == 404
    assert client.post(reverse("console:merge_split", args=[record.pk])).status_code == 404
    queue = client.get(reverse("console:merge_queue"))
    assert queue.status_code == 200 and not queue.context["page"].object_list
    assert not client.get(reverse("console:merge_history")).context["page"].object_list
    assert client.get(reverse("console:merge_history"), {"customer": record.survivor_id}).status_code == 404
    assert MergeSuggestion.objects.get(pk=suggestion.pk).status == "open"


def test_hq_admin_merges_a_suggestion_then_splits_it(brand, console, hq_admin):
    suggestion = open_suggestion(brand)
    page = console.get(reverse("console:merge_queue"))
    assert list(page.context["page"].object_list) == [suggestion]
    assert "x@x.tw" in page.content.decode()

    bad = console.post(
        reverse("console:merge_suggestion_merge", args=[suggestion.pk]), {"survivor": "999999"}, follow=True
    )
    assert "survivor" in bad.content.decode()
    assert not CustomerMerge.objects.exists()

    console.post(
        reverse("console:merge_suggestion_merge", args=[suggestion.pk]),
        {"survivor": suggestion.customer_b_id},
    )
    record = CustomerMerge.objects.get()
    assert (record.survivor_id, record.merged_id, record.automatic, record.actor) == (
        suggestion.customer_b_id,
        suggestion.customer_a_id,
        False,
        hq_admin,
    )
    suggestion.refresh_from_db()
    assert (suggestion.status, suggestion.merge, suggestion.resolved_by) == ("merged", record, hq_admin)
    history = console.get(reverse("console:merge_history"), {"customer": record.merged_id})
    assert list(history.context["page"].object_list) == [record]

    console.post(reverse("console:merge_split", args=[record.pk]))
    record.refresh_from_db()
    assert record.split_at is not None and record.split_by == hq_admin
    assert Customer.objects.get(pk=record.merged_id).merged_into_id is None
    actions = set(AuditLog.objects.filter(actor_user=hq_admin).values_list("action", flat=True))
    assert {"customer.merged", "customer.split"} <= actions
    again = console.post(reverse("console:merge_split", args=[record.pk]), follow=True)
    assert "already split" in again.content.decode()


def test_hq_admin_dismisses_and_it_is_not_suggested_again(brand, console, hq_admin):
    suggestion = open_suggestion(brand)
    console.post(reverse("console:merge_suggestion_dismiss", args=[suggestion.pk]))
    suggestion.refresh_from_db()
    assert suggestion.status == "dismissed"
    assert AuditLog.objects.filter(action="merge_suggestion.dismissed", actor_user=hq_admin).count() == 1
    identity.resolve(brand, [Observation([("line", "Ub", True), ("email", "x@x.tw")])], source="t")
    assert MergeSuggestion.objects.count() == 1


def test_customer_page_links_to_merges_for_hq_admin_only(brand, console, hq_agent):
    customer = f.make_customer(brand, "甲", phone="+886911000001")
    url = reverse("console:customer_detail", args=[customer.pk])
    assert console.get(url).context["merges_link"].endswith(f"?customer={customer.pk}")
    assert signed_in(hq_agent).get(url).context["merges_link"] is None


def test_accepting_when_the_customers_are_already_one_is_a_message_not_an_error(brand, console):
    suggestion = open_suggestion(brand)
    between = f.make_customer(brand, "丙", phone="+886911000003")
    merging.merge_customers(between, suggestion.customer_a_id)
    merging.merge_customers(suggestion.customer_b_id, between)
    merges = CustomerMerge.objects.count()

    page = console.post(
        reverse("console:merge_suggestion_merge", args=[suggestion.pk]),
        {"survivor": suggestion.customer_a_id},
        follow=True,
    )

    assert page.status_code == 200 and page.redirect_chain[-1][0] == reverse("console:merge_queue")
    assert "已是同一位顧客" in page.content.decode()
    assert CustomerMerge.objects.count() == merges
    assert MergeSuggestion.objects.get(pk=suggestion.pk).status == "open"


def test_accepting_when_a_customer_is_gone_is_a_message_and_merges_nothing(brand, other_brand, console):
    suggestion = open_suggestion(brand)
    gone = f.make_customer(other_brand, "別的品牌", phone="+886911000004")
    MergeSuggestion.objects.filter(pk=suggestion.pk).update(customer_b=gone)

    with mock.patch.object(merging, "merge_customers") as merge:
        page = console.post(
            reverse("console:merge_suggestion_merge", args=[suggestion.pk]),
            {"survivor": suggestion.customer_a_id},
            follow=True,
        )

    assert page.status_code == 200
    assert f"顧客 #{gone.pk} 已不存在" in page.content.decode()
    merge.assert_not_called()


def test_accepting_an_erased_customer_or_a_decided_suggestion_is_a_message(brand, console, hq_admin):
    suggestion = open_suggestion(brand)
    privacy.erase_customer(
        Customer.objects.get(pk=suggestion.customer_b_id), actor=actor_for_user(hq_admin), reason="本人要求"
    )
    url = reverse("console:merge_suggestion_merge", args=[suggestion.pk])

    erased = console.post(url, {"survivor": suggestion.customer_a_id}, follow=True)
    assert erased.status_code == 200 and "erased" in erased.content.decode()
    assert not CustomerMerge.objects.exists()

    console.post(reverse("console:merge_suggestion_dismiss", args=[suggestion.pk]))
    decided = console.post(url, {"survivor": suggestion.customer_a_id}, follow=True)
    assert decided.status_code == 200 and "已有人處理過了" in decided.content.decode()
