"""Customers: identifiers normalised and unique per brand."""

from __future__ import annotations

import pytest
from django.core.validators import validate_email
from hypothesis import given
from hypothesis import strategies as st

from omo.core.audit import Actor
from omo.customers import services
from omo.customers.models import CustomerIdentity
from omo.customers.normalize import PLAIN_EMAIL, is_junk, normalize_email, normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0912-345-678", "+886912345678"),
        ("0912 345 678", "+886912345678"),
        ("+886 912 345 678", "+886912345678"),
        ("886912345678", "+886912345678"),
        ("02-2345-6789", "+886223456789"),
    ],
)
def test_taiwan_phone_numbers_become_e164(raw, expected):
    assert normalize_phone(raw if not raw.startswith("886") else "+" + raw) == expected


@pytest.mark.parametrize("raw", ["12", "abc", "0912", ""])
def test_bad_phone_numbers_are_refused(raw):
    with pytest.raises(ValueError):
        normalize_phone(raw)


@given(st.text(max_size=40))
def test_phone_normaliser_only_raises_value_error(raw):
    try:
        assert normalize_phone(raw).startswith("+")
    except ValueError:
        pass


def test_junk_values():
    for junk in ["null", "0", "-1", "undefined", "anonymous", "0000000", "NULL "]:
        assert is_junk(junk)
    assert not is_junk("0912345678")


def test_email_is_lowercased():
    assert normalize_email(" Mei@Example.COM ") == "mei@example.com"
    with pytest.raises(ValueError):
        normalize_email("not-an-email")


@given(st.from_regex(PLAIN_EMAIL, fullmatch=True))
def test_plain_emails_taken_without_the_validator_are_ones_it_accepts(plain):
    if len(plain) > 320:  # the fast path takes at most 320 characters (RFC 3696), as the validator
        with pytest.raises(ValueError):
            normalize_email(plain)
        return
    validate_email(plain)  # the fast path never lets through what the validator refuses
    assert normalize_email(f" {plain.upper()} ") == plain


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a@[127.0.0.1]", "a@[127.0.0.1]"),
        ("Mei@例子.台灣", "mei@例子.台灣"),
        ("a.b@localhost", "a.b@localhost"),
    ],
)
def test_emails_outside_the_plain_form_still_go_through_the_validator(raw, expected):
    assert normalize_email(raw) == expected


@pytest.mark.parametrize("raw", ["a@b", "a..b@x.tw", ".a@x.tw", "a@-x.tw", "a@x.t", "a@x.tw\nx", "a b@x.tw"])
def test_malformed_emails_are_refused(raw):
    with pytest.raises(ValueError):
        normalize_email(raw)


def test_create_writes_identities(brand):
    customer = services.create_customer(
        brand, actor=None, name="林小美", phone="0912345678", email="MEI@example.com", member_number="M0001"
    )
    kinds = dict(CustomerIdentity.objects.filter(customer=customer).values_list("kind", "value"))
    assert kinds == {"phone": "+886912345678", "email": "mei@example.com", "member_number": "M0001"}


def test_same_phone_twice_is_refused_but_other_brand_is_fine(brand, other_brand):
    services.create_customer(brand, actor=None, phone="0912345678")
    with pytest.raises(services.CustomerError) as err:
        services.create_customer(brand, actor=None, phone="0912-345-678")
    assert err.value.field in ("phone", "identity")
    services.create_customer(other_brand, actor=None, phone="0912345678")


def test_get_or_create_matches_and_ignores_junk(brand):
    first, created = services.get_or_create_customer(brand, actor=None, phone="0912345678", name="A")
    again, created_again = services.get_or_create_customer(brand, actor=None, phone="+886912345678")
    assert created and not created_again and first.pk == again.pk
    nobody, made = services.get_or_create_customer(brand, actor=None, phone="null", email="undefined")
    assert nobody is None and not made


def test_update_moves_identities_and_audits(brand, hq_admin):
    from omo.core.models import AuditLog

    customer = services.create_customer(brand, actor=None, phone="0912345678")
    services.update_customer(
        customer, actor=Actor(brand=brand, user=hq_admin), phone="0922333444", tags=["VIP", "VIP"]
    )
    values = set(CustomerIdentity.objects.filter(customer=customer).values_list("value", flat=True))
    assert values == {"+886922333444"}
    customer.refresh_from_db()
    assert customer.tags == ["VIP"]
    assert AuditLog.objects.filter(action="customer.updated").count() == 1
    with pytest.raises(services.CustomerError) as err:
        services.update_customer(customer, actor=Actor(brand=brand, user=hq_admin), brand_id=99)
    assert err.value.field == "brand_id"


def test_resolve_customers_in_bulk(brand):
    existing = services.create_customer(
        brand, actor=None, name="老顧客", phone="0911000111", member_number="M9"
    )
    refs = [
        {"phone": "0911-000-111"},  # existing by phone
        {"member_number": "M9", "phone": "0922000222"},  # existing by member number wins
        {"name": "新客", "phone": "0933000333"},
        {"email": "NEW@example.com", "phone": "0933000333"},  # same person as the previous ref
        {"phone": "12"},  # bad phone
        {"phone": "null", "email": "undefined"},  # nothing usable
        None,
    ]

    results = services.resolve_customers(brand, refs, source="pos")

    assert results[0] == existing and results[1] == existing
    assert results[2].pk is not None and results[3].pk == results[2].pk
    assert isinstance(results[4], services.CustomerError) and results[4].field == "phone"
    assert results[5] is None and results[6] is None
    identities = set(CustomerIdentity.objects.filter(customer=results[2]).values_list("kind", "value"))
    assert identities == {("phone", "+886933000333"), ("email", "new@example.com")}
    # a second run finds what the first created
    again = services.resolve_customers(brand, [{"email": "new@example.com"}], source="pos")
    assert again[0].pk == results[2].pk
