"""Shopify's email/SMS marketing consent (customers/create|update and the customer inside an order)
into the append-only consent ledger: source "shopify", Shopify's consent_updated_at, never older
than what is known, and only "subscribed" grants marketing."""

from __future__ import annotations

import datetime as dt

import pytest

from omo.connectors.models import ShopifyWebhook
from omo.connectors.shopify.tests.conftest import deliver, fixture
from omo.customers import consent
from omo.customers.models import Consent, Customer
from omo.testing import factories as f

pytestmark = pytest.mark.django_db

TAIPEI = dt.timezone(dt.timedelta(hours=8))


def rows(customer: Customer) -> list[tuple[str, bool, str, str, dt.datetime]]:
    return [
        (row.platform, row.granted, row.source, row.note, row.recorded_at)
        for row in Consent.objects.filter(customer=customer, purpose="marketing").order_by(
            "recorded_at", "id"
        )
    ]


def note(webhook_id: str) -> str:
    return ShopifyWebhook.objects.get(webhook_id=webhook_id).note


def test_a_subscribed_email_is_recorded_and_an_undated_not_subscribed_sms_is_not(brand, connection):
    deliver(connection, "customers/create", "customers_create", webhook_id="wh-1")

    customer = Customer.objects.get(brand=brand)
    assert rows(customer) == [
        (
            "email",
            True,
            "shopify",
            "Shopify email_marketing_consent: subscribed (single_opt_in)",
            dt.datetime(2025, 3, 2, 10, 11, 12, tzinfo=TAIPEI),
        )
    ]
    assert consent.may_message(customer, "email", "marketing")[0] is True
    assert consent.may_message(customer, "sms", "marketing")[0] is False
    assert "email marketing consent granted (subscribed, 2025-03-02T10:11:12+08:00)" in note("wh-1")


def test_a_newer_update_withdraws_email_and_grants_sms_at_shopifys_times(brand, connection):
    deliver(connection, "customers/create", "customers_create", webhook_id="wh-1")
    deliver(connection, "customers/update", "customers_update", webhook_id="wh-2")  # same consent again
    customer = Customer.objects.get(brand=brand)
    assert len(rows(customer)) == 1

    deliver(connection, "customers/update", "customers_update_consent_changed", webhook_id="wh-3")

    assert rows(customer)[1:] == [
        (
            "sms",
            True,
            "shopify",
            "Shopify sms_marketing_consent: subscribed (confirmed_opt_in)",
            dt.datetime(2025, 3, 20, 8, 59, 30, tzinfo=TAIPEI),
        ),
        (
            "email",
            False,
            "shopify",
            "Shopify email_marketing_consent: unsubscribed (single_opt_in)",
            dt.datetime(2025, 3, 20, 9, 0, tzinfo=TAIPEI),
        ),
    ]
    assert consent.may_message(customer, "email", "marketing")[0] is False
    assert consent.may_message(customer, "sms", "marketing")[0] is True

    # The same delivery again (another webhook id, e.g. a second subscription): nothing new.
    deliver(connection, "customers/update", "customers_update_consent_changed", webhook_id="wh-4")
    assert len(rows(customer)) == 3


def test_a_consent_older_than_the_known_one_is_not_recorded(brand, connection, hq_admin):
    deliver(connection, "customers/create", "customers_create", webhook_id="wh-1")
    customer = Customer.objects.get(brand=brand)
    # The customer told a clerk on 1 April they want emails (recorded in the console).
    consent.record_consent(
        customer,
        platform="email",
        purpose="marketing",
        granted=True,
        source="console",
        at=dt.datetime(2025, 4, 1, 12, 0, tzinfo=TAIPEI),
    )
    # Shopify's customer changed later (a new name) but its consent dates from 25 March.
    late = fixture("customers_update_consent_changed") | {"updated_at": "2025-04-05T10:00:00+08:00"}
    late["email_marketing_consent"] = {
        "state": "unsubscribed",
        "opt_in_level": None,
        "consent_updated_at": "2025-03-25T10:00:00+08:00",
    }

    deliver(connection, "customers/update", late, webhook_id="wh-late")

    email_rows = [row for row in rows(customer) if row[0] == "email"]
    assert [(granted, source) for _, granted, source, _, _ in email_rows] == [
        (True, "shopify"),
        (True, "console"),
    ]
    assert consent.may_message(customer, "email", "marketing")[0] is True
    assert ShopifyWebhook.objects.get(webhook_id="wh-late").status == "processed"


@pytest.mark.parametrize("state", ["pending", "not_subscribed", "invalid", "redacted"])
def test_states_other_than_subscribed_do_not_grant_marketing(brand, connection, state):
    document = fixture("customers_create")
    document["email_marketing_consent"] = {
        "state": state,
        "opt_in_level": "confirmed_opt_in",
        "consent_updated_at": "2025-03-02T10:11:12+08:00",
    }

    deliver(connection, "customers/create", document, webhook_id="wh-1")

    customer = Customer.objects.get(brand=brand)
    assert rows(customer) == [
        (
            "email",
            False,
            "shopify",
            f"Shopify email_marketing_consent: {state} (confirmed_opt_in)",
            dt.datetime(2025, 3, 2, 10, 11, 12, tzinfo=TAIPEI),
        )
    ]
    assert consent.may_message(customer, "email", "marketing")[0] is False


def test_an_unreadable_consent_is_named_and_the_rest_still_applies(brand, connection):
    document = fixture("customers_create")
    document["email_marketing_consent"] = {
        "state": "maybe",
        "consent_updated_at": "2025-03-02T10:11:12+08:00",
    }
    document["sms_marketing_consent"] = {"state": "subscribed", "consent_updated_at": "yesterday"}

    deliver(connection, "customers/create", document, webhook_id="wh-1")

    customer = Customer.objects.get(brand=brand)
    assert customer.name == "陳 雅婷" and rows(customer) == []
    receipt = ShopifyWebhook.objects.get(webhook_id="wh-1")
    assert receipt.status == "processed"
    assert (
        "email_marketing_consent.state: 'maybe' is not one of subscribed, unsubscribed, not_subscribed, "
        "pending, invalid, redacted; consent not recorded" in receipt.note
    )
    assert (
        "sms_marketing_consent.consent_updated_at: not an ISO 8601 time with offset: 'yesterday'; "
        "consent not recorded" in receipt.note
    )


def test_a_subscribed_state_without_a_date_takes_the_customers_updated_at(brand, connection):
    document = fixture("customers_create")
    document["sms_marketing_consent"] = {
        "state": "subscribed",
        "opt_in_level": None,
        "consent_updated_at": None,
    }

    deliver(connection, "customers/create", document, webhook_id="wh-1")

    customer = Customer.objects.get(brand=brand)
    created_at = dt.datetime(2025, 3, 2, 10, 11, 12, tzinfo=TAIPEI)  # the customer's updated_at
    assert ("sms", True, "shopify", "Shopify sms_marketing_consent: subscribed", created_at) in rows(customer)


def test_the_customer_inside_an_order_carries_consent_too(brand, connection):
    f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "M", 128000), ("TEE-L", "L", 128000)])

    deliver(connection, "orders/create", "orders_create_with_consent", webhook_id="wh-order")

    customer = Customer.objects.get(brand=brand)
    assert rows(customer) == [
        (
            "email",
            False,
            "shopify",
            "Shopify email_marketing_consent: pending (confirmed_opt_in)",
            dt.datetime(2025, 3, 10, 14, 4, tzinfo=TAIPEI),
        ),
        (
            "sms",
            True,
            "shopify",
            "Shopify sms_marketing_consent: subscribed (single_opt_in)",
            dt.datetime(2025, 3, 10, 14, 4, 30, tzinfo=TAIPEI),
        ),
    ]
    assert consent.may_message(customer, "email", "marketing")[0] is False  # pending: not confirmed yet


def test_an_erased_customer_gets_no_consent_from_shopify(brand, connection):
    deliver(connection, "customers/create", "customers_create", webhook_id="wh-1")
    customer = Customer.objects.get(brand=brand)
    Consent.objects.filter(customer=customer).delete()
    Customer.objects.filter(pk=customer.pk).update(erased_at=dt.datetime(2025, 3, 5, tzinfo=dt.UTC))

    deliver(connection, "customers/update", "customers_update_consent_changed", webhook_id="wh-2")

    assert rows(customer) == []
