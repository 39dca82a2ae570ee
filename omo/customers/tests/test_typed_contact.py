"""Contact details typed by a customer whose identity is proven (signed in with LINE at checkout):
they join that customer, and a value held by someone else only opens a merge suggestion."""

from __future__ import annotations

import pytest

from omo.customers import merge as merging
from omo.customers import services
from omo.customers.models import Customer, CustomerIdentity, MergeSuggestion
from omo.testing import factories as f


def line_customer(brand, user_id: str = "U" + "1" * 32):
    return services.customer_for_identifier(brand, "line", user_id, name="林小姐", source="t", verified=True)


def test_a_new_phone_and_email_join_the_signed_in_customer_and_fill_the_profile(brand):
    customer = line_customer(brand)

    others = services.add_typed_contact(
        customer, phone="0912-345-678", email="Lin@Example.com", source="shop"
    )

    assert others == []
    customer.refresh_from_db()
    assert (customer.phone, customer.email) == ("+886912345678", "lin@example.com")
    held = set(CustomerIdentity.objects.filter(customer=customer).values_list("kind", "value", "verified"))
    assert ("phone", "+886912345678", False) in held and ("email", "lin@example.com", False) in held
    assert "0912345678" in customer.search_text
    assert not MergeSuggestion.objects.exists()


def test_a_phone_held_by_another_customer_opens_a_suggestion_and_merges_nothing(brand):
    customer = line_customer(brand)
    other = f.make_customer(brand, "王小明", phone="+886912345678")

    others = services.add_typed_contact(customer, phone="0912345678", source="shop")

    assert others == [other.pk]
    assert Customer.objects.filter(brand=brand, merged_into__isnull=True).count() == 2
    assert CustomerIdentity.objects.get(kind="phone", value="+886912345678").customer_id == other.pk
    customer.refresh_from_db()
    assert customer.phone == ""  # the profile does not take a phone that is someone else's
    suggestion = MergeSuggestion.objects.get()
    assert {suggestion.customer_a_id, suggestion.customer_b_id} == {customer.pk, other.pk}
    assert (suggestion.kind, suggestion.value, suggestion.status) == ("phone", "+886912345678", "open")
    assert "結帳時填寫了已屬於另一位顧客的手機" in suggestion.reason
    # The same checkout again does not open a second suggestion.
    services.add_typed_contact(customer, phone="0912345678", source="shop")
    assert MergeSuggestion.objects.count() == 1


def test_a_phone_of_a_customer_merged_into_the_signed_in_one_is_theirs_already(brand):
    customer = line_customer(brand)
    old = f.make_customer(brand, "舊資料", phone="+886912345678")
    merging.merge_customers(customer, old)

    assert services.add_typed_contact(customer, phone="0912345678", source="shop") == []
    assert not MergeSuggestion.objects.exists()


def test_junk_and_values_over_the_cap_are_not_stored(brand):
    from omo.customers.identity import settings_for

    config = settings_for(brand)
    config.max_identifiers_per_kind = 1
    config.save()
    customer = line_customer(brand)
    services.add_typed_contact(customer, phone="0911111111", source="shop")

    services.add_typed_contact(customer, phone="0922222222", email="null", source="shop")

    phones = list(
        CustomerIdentity.objects.filter(customer=customer, kind="phone").values_list("value", flat=True)
    )
    assert phones == ["+886911111111"]
    assert not CustomerIdentity.objects.filter(kind="email").exists()


def test_suggest_merge_keeps_a_reason_and_refuses_another_brand(brand, other_brand):
    a = f.make_customer(brand, "甲", phone="+886911000001")
    b = f.make_customer(brand, "乙", phone="+886911000002")
    assert services.suggest_merge(a, b, kind="product_card", value="#7", reason="從商品卡片下單") is True
    assert services.suggest_merge(b, a, kind="product_card", value="#7", reason="again") is False
    suggestion = MergeSuggestion.objects.get()
    assert (suggestion.kind, suggestion.reason) == ("product_card", "從商品卡片下單")
    stranger = f.make_customer(other_brand, "丙", phone="+886911000003")
    with pytest.raises(services.CustomerError) as refused:
        services.suggest_merge(a, stranger, kind="product_card", value="#7", reason="x")
    assert refused.value.status == 404
