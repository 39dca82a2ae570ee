"""Consent: latest decision wins, follow / block on LINE, opt-out words through a signed webhook,
marketing sends refused without consent, and the console's consent page by brand and role."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django.urls import reverse

from omo.core import events
from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.customers import consent
from omo.customers.models import Consent
from omo.inbox.models import Contact, Conversation
from omo.inbox.outbound import OutboundError, queue_message
from omo.platforms.tasks import process_pending
from omo.testing import factories as f
from omo.testing.line import customer_of, follow, post_line_webhook

pytestmark = pytest.mark.django_db
wh = pytest.importorskip("omo.devtools.line_webhook_sender")


@pytest.fixture
def changes():
    seen: list[dict] = []
    events.subscribe("consent.changed", seen.append)
    yield seen
    events._subscribers["consent.changed"].remove(seen.append)


def test_latest_decision_holds_and_changes_are_published(brand, django_capture_on_commit_callbacks, changes):
    customer = f.make_customer(brand)
    t0 = dt.datetime(2025, 3, 1, 10, tzinfo=dt.UTC)
    assert consent.may_message(customer, "email", "marketing")[0] is False  # no email on file
    customer.email = "ming@example.com"
    customer.save()
    assert consent.may_message(customer, "email", "marketing") == (False, consent.reason("no_consent"))
    assert consent.may_message(customer, "email", "transactional")[0] is True  # by default

    with django_capture_on_commit_callbacks(execute=True):
        granted = consent.record_consent(
            customer, platform="email", purpose="marketing", granted=True, source="shop.signup", at=t0
        )
        # the same decision from the same source again is not a new row
        assert (
            consent.record_consent(
                customer, platform="email", purpose="marketing", granted=True, source="shop.signup"
            )
            is None
        )
        # an older withdrawal arriving late is kept in the history but does not hold
        consent.record_consent(
            customer,
            platform="email",
            purpose="marketing",
            granted=False,
            source="import",
            at=t0 - dt.timedelta(days=1),
        )
    assert granted is not None
    assert consent.may_message(customer, "email", "marketing") == (True, consent.reason("granted"))
    assert Consent.objects.filter(customer=customer).count() == 2
    assert changes == [
        {
            "brand_id": brand.pk,
            "customer_id": customer.pk,
            "platform": "email",
            "purpose": "marketing",
            "granted": True,
            "source": "shop.signup",
        }
    ]
    view = consent.current_consent(customer)
    assert view["email"]["purposes"]["marketing"]["granted"] is True
    assert view["email"]["purposes"]["marketing"]["source"] == "shop.signup"
    assert view["sms"]["purposes"]["marketing"]["granted"] is False
    assert view["line"]["reachable"] is False


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("platform", {"platform": "fax", "purpose": "marketing", "source": "console"}),
        ("purpose", {"platform": "line", "purpose": "spam", "source": "console"}),
        ("source", {"platform": "line", "purpose": "marketing", "source": " "}),
        ("note", {"platform": "line", "purpose": "marketing", "source": "console", "note": "x" * 300}),
    ],
)
def test_bad_consent_input_names_the_field(brand, field, kwargs):
    customer = f.make_customer(brand)
    with pytest.raises(consent.ConsentError) as raised:
        consent.record_consent(customer, granted=True, **kwargs)
    assert raised.value.field == field
    assert not Consent.objects.exists()


def test_block_makes_the_customer_unreachable_and_refollow_restores(line_inbox, line_standin, line_user):
    t = wh.now_ms() - 60_000
    follow(line_inbox, line_user, timestamp=t)
    customer = customer_of(line_user)
    post_line_webhook(line_inbox, wh.unfollow_event(line_user.user_id, timestamp=t + 1000))
    process_pending(line_inbox.pk)

    assert Contact.objects.get().reachable is False
    latest = Consent.objects.order_by("-recorded_at", "-id").first()
    assert (latest.granted, latest.source) == (False, "line.unfollow")
    assert consent.may_message(customer, "line", "marketing") == (False, consent.reason("blocked"))
    assert consent.may_message(customer, "line", "transactional") == (False, consent.reason("blocked"))
    conversation = Conversation.objects.get()
    for purpose in ("marketing", "transactional"):
        with pytest.raises(OutboundError):
            queue_message(conversation, kind="text", text="hi", purpose=purpose)
    assert consent.current_consent(customer)["line"]["reachable"] is False

    # a late follow older than the block changes nothing; a newer one (unblock) restores
    follow(line_inbox, line_user, timestamp=t + 500)
    assert consent.may_message(customer, "line", "marketing")[0] is False
    follow(line_inbox, line_user, timestamp=t + 2000, unblocked=True)
    assert consent.may_message(customer, "line", "marketing") == (True, consent.reason("granted"))
    assert Consent.objects.filter(customer=customer).count() == 3


def test_follower_without_any_row_counts_as_consenting_on_line(brand, line_inbox):
    customer = f.make_customer(brand)
    Contact.objects.create(
        brand=brand, inbox=line_inbox, external_user_id="U" + "1" * 32, customer=customer, is_follower=True
    )
    assert consent.may_message(customer, "line", "marketing") == (True, consent.reason("follower"))
    assert consent.may_message(customer, "messenger", "marketing") == (False, consent.reason("no_contact"))


# --- console ----------------------------------------------------------------------------------------


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_console_consent_page_and_recording(console, brand, hq_admin):
    customer = f.make_customer(brand, email="ming@example.com")
    page = console.get(reverse("console:customer_privacy", args=[customer.pk]))
    assert page.status_code == 200
    assert "同意紀錄" in page.content.decode()
    assert AuditLog.objects.filter(action="customer.consent_viewed", target_id=str(customer.pk)).exists()

    answer = console.post(
        reverse("console:customer_consent", args=[customer.pk]),
        {"platform": "email", "purpose": "marketing", "granted": "1", "note": "門市填寫同意書"},
    )
    assert answer.status_code == 302
    row = Consent.objects.get()
    assert (row.granted, row.source, row.note, row.recorded_by) == (
        True,
        "console",
        "門市填寫同意書",
        hq_admin,
    )
    entry = AuditLog.objects.get(action="consent.recorded")
    assert entry.detail == {"platform": "email", "purpose": "marketing", "granted": True, "source": "console"}

    bad = console.post(
        reverse("console:customer_consent", args=[customer.pk]), {"platform": "fax"}, follow=True
    )
    assert "平台" in bad.content.decode()
    assert Consent.objects.count() == 1

    detail = console.get(reverse("console:customer_detail", args=[customer.pk])).content.decode()
    assert "data-consent-panel" in detail and "data-export" in detail and "data-erase" in detail


def test_console_consent_tenancy_and_roles(
    brand, other_brand, store, other_store, hq_agent, manager, clerk, other_admin
):
    mine = f.make_customer(brand, home_store_id=store.pk)
    elsewhere = f.make_customer(brand, name="陳大文", phone="+886922333444", home_store_id=other_store.pk)
    page = reverse("console:customer_privacy", args=[mine.pk])
    record = reverse("console:customer_consent", args=[mine.pk])
    body = {"platform": "line", "purpose": "marketing", "granted": "0"}

    assert client_for(other_admin).get(page).status_code == 404  # another brand
    assert client_for(other_admin).post(record, body).status_code == 404
    assert client_for(clerk).get(page).status_code == 403  # clerks use their own app
    assert client_for(clerk).post(record, body).status_code == 403
    assert client_for(manager).get(page).status_code == 200
    assert (
        client_for(manager).get(reverse("console:customer_privacy", args=[elsewhere.pk])).status_code == 404
    )
    assert (
        client_for(manager).post(reverse("console:customer_consent", args=[elsewhere.pk]), body).status_code
        == 404
    )
    assert client_for(hq_agent).post(record, body).status_code == 302
    assert not Consent.objects.filter(customer=elsewhere).exists()
    assert Consent.objects.filter(customer=mine).count() == 1
    # the agent sees consent but not the export / erase buttons
    detail = client_for(hq_agent).get(reverse("console:customer_detail", args=[mine.pk])).content.decode()
    assert "data-consent-panel" in detail and "data-erase" not in detail


def test_staff_decision_is_audited_but_a_system_one_is_not(brand, hq_admin):
    customer = f.make_customer(brand)
    consent.record_consent(customer, platform="sms", purpose="marketing", granted=True, source="pos")
    assert not AuditLog.objects.filter(action="consent.recorded").exists()
    actor = Actor(brand=brand, user=hq_admin, role="hq_admin")
    consent.record_consent(
        customer, platform="sms", purpose="marketing", granted=False, source="console", actor=actor
    )
    assert AuditLog.objects.filter(action="consent.recorded", actor_user=hq_admin).count() == 1
