"""One identifier at a time: the customer of a platform user (found, or made on first sight),
attaching an identifier to a known customer, and a name that arrives after the customer."""

from __future__ import annotations

from unittest import mock

import pytest
from django.db import IntegrityError

from omo.core import events
from omo.customers import identity, services
from omo.customers import merge as merging
from omo.customers.models import Customer, CustomerIdentity
from omo.testing import factories as f


def test_an_unknown_platform_user_gets_a_new_customer_holding_the_id(
    brand, django_capture_on_commit_callbacks
):
    published = []
    events.subscribe("customer.created", published.append)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            customer = services.customer_for_identifier(
                brand, "line", "U1", name="小美", source="line inbox 1", verified=True
            )
    finally:
        events._subscribers["customer.created"].remove(published.append)

    assert (customer.brand_id, customer.name) == (brand.pk, "小美")
    held = CustomerIdentity.objects.get(brand=brand, kind="line", value="U1")
    assert (held.customer_id, held.verified, held.source) == (customer.pk, True, "line inbox 1")
    assert [p["customer_id"] for p in published] == [customer.pk]


def test_a_known_platform_user_is_the_customer_holding_the_id_after_merges(brand):
    first = services.customer_for_identifier(brand, "line", "U1", name="小美", source="t")
    survivor = f.make_customer(brand, "王小美", phone="+886911000001")
    merging.merge_customers(survivor, first)

    again = services.customer_for_identifier(brand, "line", "U1", name="別的名字", source="t")

    assert again == survivor
    assert Customer.objects.filter(brand=brand).count() == 2  # nobody new
    assert services.customer_for_identifier(brand, "line", "U2", source="t") != survivor


def test_the_same_id_in_another_brand_is_another_customer(brand, other_brand):
    mine = services.customer_for_identifier(brand, "line", "U1", source="t")
    theirs = services.customer_for_identifier(other_brand, "line", "U1", source="t")
    assert mine != theirs and theirs.brand_id == other_brand.pk


def test_losing_the_race_for_a_new_platform_user_returns_the_winner(brand):
    """A concurrent event of the same person stored the id between the look and the insert."""
    winner = f.make_customer(brand, "先到的", phone="")
    real_holder = identity.holder
    looks = []

    def holder_after_the_race(brand_id, kind, value):
        looks.append(value)
        if len(looks) == 1:  # the first look: not stored yet; then the other writer stores it
            identity.add_identity(winner, kind, value, source="other worker")
            return None
        return real_holder(brand_id, kind, value)

    with mock.patch.object(identity, "holder", holder_after_the_race):
        customer = services.customer_for_identifier(brand, "line", "U1", name="後到的", source="t")

    assert customer == winner
    assert not Customer.objects.filter(name="後到的").exists()  # ours was rolled back
    assert CustomerIdentity.objects.get(kind="line", value="U1").customer == winner


def test_an_identifier_is_attached_unless_someone_holds_it(brand):
    customer = f.make_customer(brand, "甲", phone="+886911000001")
    other = f.make_customer(brand, "乙", phone="+886911000002")

    assert identity.attach(customer, "shopify", "101", source="shopify") == customer.pk
    assert identity.attach(customer, "shopify", "101", source="shopify") == customer.pk  # already theirs
    assert identity.attach(other, "shopify", "101", source="shopify") == customer.pk  # held: not moved

    held = CustomerIdentity.objects.get(kind="shopify", value="101")
    assert (held.customer_id, held.verified, held.source) == (customer.pk, False, "shopify")


def test_an_identifier_stored_concurrently_names_its_holder(brand):
    customer = f.make_customer(brand, "甲", phone="+886911000001")
    other = f.make_customer(brand, "乙", phone="+886911000002")
    real_holder_id = identity.storage.holder_id
    looks = []

    def holder_id_after_the_race(brand_id, kind, value):
        looks.append(value)
        if len(looks) == 1:
            identity.add_identity(other, kind, value, source="other worker")
            return None
        return real_holder_id(brand_id, kind, value)

    with mock.patch.object(identity.storage, "holder_id", holder_id_after_the_race):
        assert identity.attach(customer, "shopify", "101", source="shopify") == other.pk
    assert CustomerIdentity.objects.get(kind="shopify", value="101").customer == other


def test_adding_an_identifier_the_brand_has_raises(brand):
    customer = f.make_customer(brand, "甲", phone="+886911000001")
    with pytest.raises(IntegrityError):
        identity.add_identity(customer, "phone", "+886911000001", source="t")


def test_a_name_fills_only_an_unnamed_customer(brand):
    unnamed = f.make_customer(brand, "", phone="+886911000001")
    named = f.make_customer(brand, "王小明", phone="+886911000002")

    assert services.name_if_unnamed(unnamed.pk, "小美" * 100) is True
    assert services.name_if_unnamed(named.pk, "小美") is False
    assert services.name_if_unnamed(unnamed.pk, "") is False

    unnamed.refresh_from_db()
    named.refresh_from_db()
    assert (unnamed.name, named.name) == ("小美" * 60, "王小明")
