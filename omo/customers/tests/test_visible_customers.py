"""One rule for who sees which customer: the API, the console and the clerk app agree."""

from __future__ import annotations

import pytest
from django.utils import timezone

from omo.binding.models import Binding
from omo.commerce.models import Order
from omo.console import selectors as console_selectors
from omo.core import apikeys
from omo.core.audit import Actor
from omo.customers.selectors import may_see_customer, visible_customers
from omo.inbox.models import Contact, Conversation, Inbox
from omo.staff.actors import actor_for_api_key, actor_for_user
from omo.testing import factories as f


def _order(brand, customer, *, store, staff=None) -> Order:
    return Order.objects.create(
        brand=brand,
        source="pos",
        external_id=f"O-{customer.pk}-{store.pk}-{staff.pk if staff else 0}",
        sales_channel="pos",
        store=store,
        staff=staff,
        customer=customer,
        placed_at=timezone.now(),
        status=Order.Status.PAID,
        total=1000,
    )


def _conversation(brand, customer, **fields) -> Conversation:
    inbox = Inbox.objects.filter(brand=brand).first() or Inbox.objects.create(
        brand=brand, platform="webchat", name="web"
    )
    contact = Contact.objects.create(
        brand=brand, inbox=inbox, external_user_id=f"u{customer.pk}", customer=customer
    )
    return Conversation.objects.create(brand=brand, inbox=inbox, contact=contact, customer=customer, **fields)


@pytest.fixture
def people(brand, store, other_store, clerk):
    regular = f.make_customer(brand, name="常客", phone="+886911000001", home_store_id=store.pk)
    bought_here = f.make_customer(brand, name="來店買過", phone="+886911000002", home_store_id=other_store.pk)
    _order(brand, bought_here, store=store)
    sold_by_clerk = f.make_customer(
        brand, name="店員賣過", phone="+886911000003", home_store_id=other_store.pk
    )
    _order(brand, sold_by_clerk, store=other_store, staff=clerk)
    bound = f.make_customer(brand, name="綁定", phone="+886911000004", home_store_id=other_store.pk)
    Binding.objects.create(
        brand=brand, customer=bound, clerk=clerk, store=store, source="manual", started_at=timezone.now()
    )
    chatting = f.make_customer(brand, name="指派對話", phone="+886911000005", home_store_id=other_store.pk)
    _conversation(brand, chatting, queue=Conversation.Queue.CLERK, assignee=clerk, store=other_store)
    elsewhere = f.make_customer(brand, name="別店", phone="+886911000006", home_store_id=other_store.pk)
    _order(brand, elsewhere, store=other_store)
    return {
        "regular": regular,
        "bought_here": bought_here,
        "sold_by_clerk": sold_by_clerk,
        "bound": bound,
        "chatting": chatting,
        "elsewhere": elsewhere,
    }


def _names(queryset) -> set[str]:
    return set(queryset.values_list("name", flat=True))


def test_hq_sees_every_customer_of_the_brand_and_none_of_another(brand, other_brand, hq_admin, people):
    f.make_customer(other_brand, name="別家", phone="+886911000009")
    assert _names(visible_customers(actor_for_user(hq_admin))) == {c.name for c in people.values()}


def test_a_store_manager_sees_the_store_regulars_its_buyers_and_its_bindings(manager, people):
    assert _names(visible_customers(actor_for_user(manager))) == {"常客", "來店買過", "綁定"}


def test_a_clerk_sees_only_the_customers_bound_to_them(clerk, people):
    # Not whom they sold to, nor the customer of a conversation assigned to them: the clerk app
    # lists the bound ones, and the record of the others stays with their own clerk or store.
    assert _names(visible_customers(actor_for_user(clerk))) == {"綁定"}


def test_a_clerk_key_sees_what_the_clerk_sees(brand, clerk, people):
    key = apikeys.authenticate(f.make_api_key(brand, role="clerk", staff=clerk))
    assert _names(visible_customers(actor_for_api_key(key))) == {"綁定"}


def test_a_store_managers_key_sees_what_the_store_manager_sees(brand, store, manager, people):
    key = apikeys.authenticate(f.make_api_key(brand, role="store_manager", store=store))
    # The key is not the manager: customers bound to the manager in person are not the key's.
    assert _names(visible_customers(actor_for_api_key(key))) == {"常客", "來店買過", "綁定"}


def test_the_console_and_the_api_use_the_same_rule(manager, people):
    assert _names(console_selectors.customers_for(manager)) == _names(
        visible_customers(actor_for_user(manager))
    )


def test_a_narrowed_actor_without_a_store_or_clerk_sees_nobody(brand, people):
    assert not visible_customers(Actor(brand=brand, role="store_manager")).exists()
    assert not visible_customers(Actor(brand=brand, role="clerk")).exists()


def test_another_brands_customer_is_never_visible_even_by_id(brand, other_brand, hq_admin, people):
    theirs = f.make_customer(other_brand, name="別家", phone="+886911000009")
    actor = actor_for_user(hq_admin)
    assert may_see_customer(actor, theirs) is False
    assert may_see_customer(actor, people["regular"]) is True
