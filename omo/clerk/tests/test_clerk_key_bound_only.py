"""A clerk's key sees the clerk's bound customers, as the clerk app lists them: a customer bound to
another clerk stays out of every endpoint (customers, loyalty, orders, conversations, bindings),
even when the clerk sold to them or answers a conversation of theirs handed over."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from omo.binding.models import Binding
from omo.clerk.tests.test_clerk_key_matches_app import NOW, _conversation, _order
from omo.inbox.models import Inbox
from omo.testing import factories as f


@pytest.fixture(autouse=True)
def pinned_clock():
    with time_machine.travel(NOW, tick=True):
        yield


@pytest.fixture
def theirs(brand, store, other_store, clerk):
    """A customer bound to another clerk, with an order, a conversation and the binding."""
    f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "M", 100000)])
    other_clerk = f.make_user(brand, "clerk-b", role="clerk", store=other_store, employee_code="E002")
    customer = f.make_customer(brand, "別人綁定的顧客", phone="+886911000007")
    binding = Binding.objects.create(
        brand=brand,
        customer=customer,
        clerk=other_clerk,
        store=other_store,
        source="manual",
        started_at=timezone.now() - dt.timedelta(days=3),
    )
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE")
    return {
        "customer": customer,
        "binding": binding,
        "order": _order(brand, "K-1", customer, other_store.code, staff_code="E002"),
        "conversation": _conversation(brand, inbox, customer, store=other_store),
    }


@pytest.fixture
def key(brand, clerk):
    return f.ApiClient(f.make_api_key(brand, role="clerk", staff=clerk))


def _ids(response) -> set[int]:
    assert response.status_code == 200, response.content
    return {row["id"] for row in response.json()["items"]}


def test_customers_and_their_loyalty(theirs, key):
    customer = theirs["customer"].pk
    assert customer not in _ids(key.get("/api/v1/customers"))
    assert _ids(key.get("/api/v1/customers?q=別人綁定")) == set()
    for path in ("", "/identities", "/loyalty", "/points"):
        assert key.get(f"/api/v1/customers/{customer}{path}").status_code == 404, path


def test_orders(theirs, key):
    order, customer = theirs["order"].pk, theirs["customer"].pk
    assert order not in _ids(key.get("/api/v1/orders"))
    assert key.get(f"/api/v1/orders/{order}").status_code == 404
    assert _ids(key.get(f"/api/v1/orders?customer_id={customer}")) == set()


def test_conversations(theirs, key):
    conversation, customer = theirs["conversation"].pk, theirs["customer"].pk
    assert conversation not in _ids(key.get("/api/v1/conversations"))
    assert key.get(f"/api/v1/conversations/{conversation}").status_code == 404
    assert key.get(f"/api/v1/conversations/{conversation}/messages").status_code == 404
    assert _ids(key.get(f"/api/v1/conversations?customer={customer}")) == set()


def test_bindings(theirs, key, clerk):
    customer = theirs["customer"].pk
    assert theirs["binding"].pk not in _ids(key.get("/api/v1/bindings"))
    assert _ids(key.get(f"/api/v1/bindings?customer_id={customer}")) == set()
    assert _ids(key.get(f"/api/v1/bindings?staff_id={theirs['binding'].clerk_id}")) == set()


def test_a_sale_to_them_is_the_clerks_without_the_buyer(brand, store, theirs, key):
    sale = _order(brand, "K-2", theirs["customer"], store.code, staff_code="E001")
    answer = key.get(f"/api/v1/orders/{sale.pk}")
    assert answer.status_code == 200
    body = answer.json()
    assert (body["customer_id"], body["contact_name"], body["contact_phone"]) == (None, "", "")
    assert key.get(f"/api/v1/customers/{theirs['customer'].pk}").status_code == 404


def test_a_conversation_handed_to_the_clerk_shows_its_messages_not_the_customer(theirs, key, clerk):
    conversation = theirs["conversation"]
    conversation.assignee = clerk
    conversation.queue = "clerk"
    conversation.save(update_fields=["assignee", "queue"])
    assert key.get(f"/api/v1/conversations/{conversation.pk}").status_code == 200
    assert key.get(f"/api/v1/conversations/{conversation.pk}/messages").status_code == 200
    assert key.get(f"/api/v1/customers/{theirs['customer'].pk}").status_code == 404
    assert theirs["customer"].pk not in _ids(key.get("/api/v1/customers"))
