"""Tracking services other apps call: a source with a derived write key (the built-in shop's), and
a browser visitor linked to the customer they turned out to be."""

from __future__ import annotations

import hashlib

import pytest
from django.utils import timezone

from omo.customers.models import CustomerIdentity
from omo.testing import factories as f
from omo.tracking import services
from omo.tracking.models import TrackedEvent, TrackingSource

SECRET = f"{services.KEY_PREFIX}sabc_0123456789"


def test_a_derived_source_is_made_once_and_its_key_works(brand):
    source = services.ensure_source(brand, name="網路商店", prefix="sabc", secret=SECRET)

    assert (source.brand_id, source.name, source.prefix) == (brand.pk, "網路商店", "sabc")
    assert source.key_hash == hashlib.sha256(SECRET.encode()).hexdigest()
    assert services.ensure_source(brand, name="again", prefix="sabc", secret=SECRET) == source
    assert TrackingSource.objects.count() == 1
    assert services.authenticate(SECRET) == source


def test_a_derived_source_is_found_as_it_is_even_when_revoked(brand, other_brand):
    source = services.ensure_source(brand, name="網路商店", prefix="sabc", secret=SECRET)
    services.revoke_source(source, actor=None)

    found = services.ensure_source(other_brand, name="網路商店", prefix="sabc", secret=SECRET)

    assert found == source and found.brand_id == brand.pk and found.revoked_at is not None
    assert services.authenticate(SECRET) is None


def test_a_secret_that_does_not_carry_the_prefix_is_refused(brand):
    with pytest.raises(ValueError):
        services.ensure_source(brand, name="網路商店", prefix="sother", secret=SECRET)
    assert not TrackingSource.objects.exists()


def event(brand, n: int, anonymous_id: str, customer=None) -> TrackedEvent:
    now = timezone.now()
    return TrackedEvent.objects.create(
        brand=brand,
        type="track",
        event="Product Viewed",
        message_id=f"m{n}",
        anonymous_id=anonymous_id,
        customer=customer,
        received_at=now,
        timestamp=now,
    )


def test_a_visitor_linked_to_a_customer_brings_their_events(brand, django_capture_on_commit_callbacks):
    buyer = f.make_customer(brand, "買家", phone="+886911000001")
    someone = f.make_customer(brand, "別人", phone="+886911000002")
    browsing = [event(brand, 1, "anon-12345678"), event(brand, 2, "anon-12345678")]
    theirs = event(brand, 3, "anon-12345678", customer=someone)  # already someone's: stays
    other_visitor = event(brand, 4, "anon-87654321")

    with django_capture_on_commit_callbacks(execute=True):
        moved = services.link_visitor(brand, buyer.pk, "anon-12345678", source="shop")

    assert moved == 2
    assert {e.pk: e.customer_id for e in TrackedEvent.objects.all()} == {
        browsing[0].pk: buyer.pk,
        browsing[1].pk: buyer.pk,
        theirs.pk: someone.pk,
        other_visitor.pk: None,
    }
    link = CustomerIdentity.objects.get(kind="anonymous", value="anon-12345678")
    assert (link.customer_id, link.source) == (buyer.pk, "shop")


def test_no_visitor_or_no_customer_links_nothing(brand):
    buyer = f.make_customer(brand, "買家", phone="+886911000001")
    event(brand, 1, "anon-12345678")
    assert services.link_visitor(brand, buyer.pk, "", source="shop") == 0
    assert services.link_visitor(brand, None, "anon-12345678", source="shop") == 0
    assert not CustomerIdentity.objects.filter(kind="anonymous").exists()
    assert TrackedEvent.objects.get().customer_id is None
