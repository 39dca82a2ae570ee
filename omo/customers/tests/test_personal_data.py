"""The registries customers fills from the apps above it: personal-data handlers (export, erasure,
merge, split, retention), chat contacts and identifier sources. Every app that stores customer rows
has a handler that names them; registering twice fails; the order is stable. (That customers
imports nothing above it is config/tests/test_layers.py's.)"""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.core.exceptions import ImproperlyConfigured

from omo.core.audit import Actor
from omo.customers import consent, personal_data, privacy, registry, retention, search, tasks
from omo.customers.models import Customer
from omo.customers.personal_data import Erasure, PersonalDataHandler
from omo.inbox.models import Contact, Inbox
from omo.inbox.personal_data import ChatContactsOfInbox, InboxData
from omo.testing import factories as f


def _points_at_customer(model) -> bool:
    return any(
        field.concrete and field.is_relation and field.many_to_one | field.one_to_one
        for field in model._meta.get_fields()
        if getattr(field, "related_model", None) is Customer
    )


def test_every_app_holding_customer_rows_has_a_handler_that_names_them():
    by_app = {handler.app_label: handler for handler in personal_data.handlers()}
    holding = sorted(
        model._meta.label
        for model in apps.get_models()
        if model._meta.app_label != "customers" and _points_at_customer(model)
    )
    assert holding  # the check below would pass vacuously otherwise
    without_handler = [label for label in holding if label.split(".")[0] not in by_app]
    not_named = [
        label
        for label in holding
        if label.split(".")[0] in by_app and label not in by_app[label.split(".")[0]].holds
    ]
    assert without_handler == []
    assert not_named == []
    # and nothing stale: every model a handler names exists and points at a customer
    for handler in by_app.values():
        for label in handler.holds:
            assert label.split(".")[0] == handler.app_label
            assert _points_at_customer(apps.get_model(label)), label


def test_handlers_move_only_their_own_apps_rows():
    for handler in personal_data.handlers():
        for model, field in handler.moves():
            assert model._meta.app_label == handler.app_label
            assert model._meta.label in handler.holds
            assert model._meta.get_field(field).related_model is Customer


def test_handlers_run_in_a_stable_order():
    assert [handler.app_label for handler in personal_data.handlers()] == [
        "commerce",
        "loyalty",
        "binding",
        "platforms",
        "inbox",
        "tracking",
        "attribution",
        "connectors",
        "integrations",
        "segments",
    ]
    assert [name for name, _ in tasks.sources()] == ["customers", "contacts", "orders", "events"]


def test_registering_twice_or_something_else_fails_loudly():
    with pytest.raises(ImproperlyConfigured, match="inbox is registered already"):
        personal_data.register(InboxData())
    with pytest.raises(ImproperlyConfigured, match="not a personal-data handler"):
        personal_data.register(object())  # type: ignore[arg-type]
    with pytest.raises(ImproperlyConfigured, match="not a personal-data handler"):
        personal_data.register(PersonalDataHandler())  # no app label
    with pytest.raises(ImproperlyConfigured, match="answered by"):
        registry.register_chat_contacts(ChatContactsOfInbox())
    with pytest.raises(ImproperlyConfigured, match="contacts is registered already"):
        registry.register_identifier_source(
            registry.IdentifierSource("contacts", 1, lambda brand, chunk: iter(()))
        )
    with pytest.raises(ImproperlyConfigured, match="customers is registered already"):
        registry.register_identifier_source(
            registry.IdentifierSource("customers", 1, lambda brand, chunk: iter(()))
        )


class _Notes(PersonalDataHandler):
    """A stand-in app that keeps notes about people, to see the registry drive every service."""

    app_label = "notes"
    order = 5

    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def export(self, brand_id, customer_ids):
        return {"notes": [{"customer_id": pk, "text": "likes green"} for pk in customer_ids]}

    def needles(self, brand_id, customer_ids):
        return ["暗號甲乙"]

    def erase(self, erasure: Erasure):
        self.calls.append(
            ("erase", erasure.brand_id, tuple(erasure.customer_ids), "暗號甲乙" in erasure.needles)
        )
        return {"notes": 3}

    def purge(self, brand_id, *, retention, now, chunk):
        self.calls.append(("purge", brand_id, retention.event_retention_days, chunk))
        return {"notes": 1}


@pytest.fixture
def notes():
    handler = _Notes()
    personal_data.register(handler)
    yield handler
    personal_data.unregister("notes")


@pytest.mark.django_db
def test_a_registered_handler_takes_part_in_export_erasure_and_retention(notes, brand, other_brand):
    hq_admin = f.make_user(brand, "admin", role="hq_admin")
    customer = f.make_customer(brand, name="王曉明")
    actor = Actor(brand=brand, user=hq_admin, role="hq_admin")

    sections = privacy.collect(customer)
    assert list(sections)[:4] == [
        "profile",
        "identities",
        "consents",
        "notes",
    ]  # order 5: first after customers
    assert sections["notes"] == [{"customer_id": customer.pk, "text": "likes green"}]

    report = privacy.erase_customer(customer, actor=actor, reason="顧客來電要求刪除")
    assert report.counts["notes"] == 3
    assert notes.calls == [("erase", brand.pk, (customer.pk,), True)]

    counts = retention.purge_all(now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC), chunk=7)
    assert counts[brand.pk]["notes"] == 1 and counts[other_brand.pk]["notes"] == 1
    assert [call for call in notes.calls if call[0] == "purge"] == [
        ("purge", brand.pk, 730, 7),
        ("purge", other_brand.pk, 730, 7),
    ]


@pytest.mark.django_db
def test_two_apps_may_not_export_the_same_section(brand):
    class Clash(PersonalDataHandler):
        app_label = "clash"

        def export(self, brand_id, customer_ids):
            return {"orders": []}

    personal_data.register(Clash())
    try:
        with pytest.raises(ValueError, match="orders of clash is taken already"):
            privacy.collect(f.make_customer(brand))
    finally:
        personal_data.unregister("clash")


@pytest.mark.django_db
def test_without_a_chat_inbox_nobody_is_reachable_by_chat_and_search_has_no_display_names(brand, monkeypatch):
    customer = f.make_customer(brand, name="陳怡君", phone="+886912345678")
    inbox = Inbox.objects.create(brand=brand, platform="line", name="官方帳號")
    Contact.objects.create(
        brand=brand, inbox=inbox, external_user_id="U1", customer=customer, display_name="Amy"
    )
    assert registry.chat_contacts().display_names([customer.pk]) == {customer.pk: ["Amy"]}

    monkeypatch.setattr(registry, "_chat_contacts", None)
    assert consent.may_message(customer, "line", "transactional") == (False, consent.reason("no_contact"))
    assert consent.may_message(customer, "sms", "transactional")[0] is True  # the phone is enough
    search.refresh([customer.pk])
    customer.refresh_from_db()
    assert "amy" not in customer.search_text and "陳怡君" in customer.search_text
