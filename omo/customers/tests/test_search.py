"""Customer search: every field, phone typed any way, kept current, scoped to the viewer."""

from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from omo.binding.models import Binding
from omo.core.audit import Actor
from omo.customers import search, services
from omo.customers.models import Customer
from omo.inbox import ingest
from omo.inbox.models import Inbox
from omo.testing import factories as f


@pytest.fixture
def people(brand):
    return {
        "chen": f.make_customer(
            brand, "陳怡君", phone="0912-345-678", email="Yijun.Chen@Example.com", member_number="M0001"
        ),
        "lin": f.make_customer(
            brand, "林志明", phone="+886933222111", email="lin@example.com", member_number="M0002"
        ),
        "amy": f.make_customer(
            brand, "Amy Wang", phone="", email="amy_w@example.com", member_number="VIP-77"
        ),
    }


def found(brand, query: str) -> set[str]:
    customers = Customer.objects.filter(brand=brand)
    return {c.name for c in search.search(customers, query, brand_id=brand.pk, country="TW")}


def test_search_text_holds_every_field(people):
    assert people["chen"].search_text == (
        " 陳怡君 陳 怡君 +886912345678 0912345678 yijun.chen@example.com m0001 "
    )


@pytest.mark.parametrize(
    "query, expected",
    [
        ("陳怡君", {"陳怡君"}),
        ("怡君", {"陳怡君"}),  # given name: two characters, matched as a word
        ("陳", {"陳怡君"}),  # surname alone
        ("amy", {"Amy Wang"}),
        ("wang", {"Amy Wang"}),
        ("0912-345-678", {"陳怡君"}),
        ("0912345678", {"陳怡君"}),
        ("912345678", {"陳怡君"}),
        ("+886 912 345 678", {"陳怡君"}),
        ("+886912345678", {"陳怡君"}),
        ("5678", {"陳怡君"}),  # a fragment of four digits
        ("3322", {"林志明"}),
        ("yijun.chen@example.com", {"陳怡君"}),
        ("YIJUN.CHEN@EXAMPLE.COM", {"陳怡君"}),
        ("amy_w@", {"Amy Wang"}),  # "_" is a character, not a wildcard
        ("@example.com", {"陳怡君", "林志明", "Amy Wang"}),
        ("M0002", {"林志明"}),
        ("m0002", {"林志明"}),
        ("vip-77", {"Amy Wang"}),
        ("123", set()),  # three digits are no phone fragment and match nothing else
        ("王小明", set()),
    ],
)
def test_search_by_every_field(brand, people, query, expected):
    assert found(brand, query) == expected


def test_line_display_name_is_searchable_and_follows_profile_updates(brand, people):
    inbox = Inbox.objects.create(brand=brand, platform="line", name="官方帳號")
    contact = ingest.get_or_create_contact(inbox, "U" + "a" * 32, display_name="Yumi🌸")
    assert found(brand, "yumi") == {contact.customer.name}
    ingest.update_contact_profile(
        contact, display_name="小雨 Rain", picture_url="", language="zh-TW", fetched_at=timezone.now()
    )
    assert found(brand, "rain") == {contact.customer.name}
    # A contact of an existing customer makes that customer findable by it.
    contact.customer = people["lin"]
    contact.save(update_fields=["customer"])
    search.refresh([people["lin"].pk])
    assert "林志明" in found(brand, "小雨 rain")


def test_updates_keep_search_text_current(brand, people, hq_admin):
    services.update_customer(
        people["lin"], actor=Actor(user=hq_admin, brand=brand), phone="0955-000-111", name="林志明二世"
    )
    assert found(brand, "0955000111") == {"林志明二世"}
    assert found(brand, "3322") == set()


def test_bulk_created_customers_are_searchable(brand):
    (first, second) = services.resolve_customers(
        brand,
        [{"name": "黃美玲", "phone": "0988777666"}, {"name": "", "email": "x@example.com"}],
        source="order",
    )
    assert found(brand, "美玲") == {"黃美玲"}
    assert found(brand, "7776") == {"黃美玲"}
    assert {
        c.pk for c in search.search(Customer.objects.filter(brand=brand), "x@example.com", brand_id=brand.pk)
    } == {second.pk}


def test_backfill_rebuilds_what_the_services_write(brand, people):
    inbox = Inbox.objects.create(brand=brand, platform="line", name="官方帳號")
    ingest.get_or_create_contact(inbox, "U" + "b" * 32, display_name="  Big   Bear ")
    contact = ingest.get_or_create_contact(inbox, "U" + "c" * 32, display_name="小熊")
    contact.customer = people["chen"]
    contact.save(update_fields=["customer"])
    search.refresh([people["chen"].pk])
    expected = dict(Customer.objects.filter(brand=brand).values_list("pk", "search_text"))
    Customer.objects.filter(brand=brand).update(search_text="")
    search.backfill(brand.pk, chunk=2)
    assert dict(Customer.objects.filter(brand=brand).values_list("pk", "search_text")) == expected
    assert "小熊" in expected[people["chen"].pk]


def test_other_brands_customers_are_never_found(brand, other_brand, people):
    f.make_customer(other_brand, "陳怡君", phone="0912345678")
    assert {
        c.brand_id for c in search.search(Customer.objects.filter(brand=brand), "陳怡君", brand_id=brand.pk)
    } == {brand.pk}


def test_merged_away_customers_are_left_out(brand, people):
    Customer.objects.filter(pk=people["amy"].pk).update(merged_into=people["lin"])
    assert found(brand, "amy") == set()


# --- where people search ------------------------------------------------------------------------


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_console_customer_list_searches_within_the_brand(brand, other_brand, people, hq_admin, other_admin):
    response = _client(hq_admin).get("/console/customers/", {"q": "怡君"})
    assert [c.name for c in response.context["page"].object_list] == ["陳怡君"]
    assert (
        list(_client(other_admin).get("/console/customers/", {"q": "怡君"}).context["page"].object_list) == []
    )


def test_console_store_manager_searches_only_their_store(brand, people, manager, store):
    Customer.objects.filter(pk=people["lin"].pk).update(home_store=store)
    client = _client(manager)
    assert [
        c.name for c in client.get("/console/customers/", {"q": "@example.com"}).context["page"].object_list
    ] == ["林志明"]


def test_clerk_searches_only_their_own_customers(brand, store, people, clerk):
    Binding.objects.create(
        brand=brand, customer=people["chen"], clerk=clerk, source="manual", started_at=timezone.now()
    )
    other = f.make_user(brand, "clerk-b", role="clerk", store=store)
    Binding.objects.create(
        brand=brand, customer=people["lin"], clerk=other, source="manual", started_at=timezone.now()
    )
    response = _client(clerk).get("/clerk/customers/", {"q": "0912-345-678"})
    assert [b.customer.name for b in response.context["bindings"]] == ["陳怡君"]
    assert _client(clerk).get("/clerk/customers/", {"q": "林志明"}).context["bindings"] == []
    assert (
        "沒有符合「林志明」的顧客"
        in _client(clerk).get("/clerk/customers/", {"q": "林志明"}).content.decode()
    )


def test_reindex_command(brand, people):
    from io import StringIO

    from django.core.management import CommandError, call_command

    Customer.objects.filter(brand=brand).update(search_text="")
    out = StringIO()
    call_command("reindex_customers", "--brand", str(brand.pk), stdout=out)
    assert "3 customers" in out.getvalue()
    assert found(brand, "怡君") == {"陳怡君"}
    with pytest.raises(CommandError, match="--brand: no brand with id 999999"):
        call_command("reindex_customers", "--brand", "999999")
