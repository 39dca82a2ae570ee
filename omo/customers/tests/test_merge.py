"""Merging moves everything to the survivor; splitting puts back exactly what moved."""

from __future__ import annotations

import datetime as dt

import pytest
from django.apps import apps
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from omo.attribution.models import Click, LinkIssue
from omo.binding.models import Binding, BindingPolicy
from omo.commerce.models import Cart, Order
from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.customers import merge as merging
from omo.customers import personal_data
from omo.customers.models import Consent, Customer, CustomerIdentity, CustomerMerge
from omo.inbox.models import Contact, Conversation, Inbox, Message
from omo.loyalty.models import Coupon, CouponCode, CouponRedemption, LoyaltyAccount, PointsEntry
from omo.testing import factories as f
from omo.tracking.models import TrackedEvent

AFFECTED = [
    Customer,
    CustomerIdentity,
    Consent,
    Order,
    Cart,
    Contact,
    Conversation,
    Message,
    Binding,
    LoyaltyAccount,
    PointsEntry,
    CouponCode,
    CouponRedemption,
    TrackedEvent,
    LinkIssue,
    Click,
]


def dump() -> dict[str, list[dict]]:
    """Every row of every table a merge touches, as plain values, ordered by id."""
    return {m._meta.label: [dict(r) for r in m.objects.order_by("pk").values()] for m in AFFECTED}


def _ident(customer, kind, value, verified=False):
    return CustomerIdentity.objects.create(
        brand_id=customer.brand_id, customer=customer, kind=kind, value=value, verified=verified
    )


def _world(brand, store, tag: str, *, clerk, inbox, started_at, points=0, extra_conversation=True):
    """A customer with one of everything a merge moves."""
    now = timezone.now()
    customer = Customer.objects.create(brand=brand, name=f"顧客{tag}", tags=[tag])
    _ident(customer, "email", f"{tag}@example.com")
    _ident(customer, "anonymous", f"anon-{tag}")
    order = Order.objects.create(
        brand=brand,
        source="t",
        external_id=f"o-{tag}",
        sales_channel="pos",
        customer=customer,
        total=1000,
        placed_at=now,
    )
    Cart.objects.create(brand=brand, token=f"cart-{tag}", customer=customer)
    contact = Contact.objects.create(brand=brand, inbox=inbox, external_user_id=f"U{tag}", customer=customer)
    if extra_conversation:
        conversation = Conversation.objects.create(
            brand=brand,
            inbox=inbox,
            contact=contact,
            customer=customer,
            unread_count=2,
            last_message_at=now - dt.timedelta(minutes=len(tag)),
            last_message_preview=f"hi {tag}",
        )
        Message.objects.create(
            brand=brand,
            conversation=conversation,
            direction="in",
            kind="text",
            text=f"hi {tag}",
            status="received",
        )
    Binding.objects.create(
        brand=brand, customer=customer, clerk=clerk, store=store, source="liff", started_at=started_at
    )
    if points:
        LoyaltyAccount.objects.create(brand=brand, customer=customer, balance=points, lifetime_earned=points)
        PointsEntry.objects.create(brand=brand, customer=customer, delta=points, kind="earn", created_at=now)
    coupon = Coupon.objects.create(brand=brand, name=f"券{tag}", kind="amount_off", value=100)
    code = CouponCode.objects.create(
        brand=brand, coupon=coupon, code=f"CODE{tag}", customer=customer, max_uses=1
    )
    CouponRedemption.objects.create(brand=brand, code=code, order=order, customer=customer, amount=100)
    TrackedEvent.objects.create(
        brand=brand,
        type="track",
        event="Viewed",
        message_id=f"m-{tag}",
        customer=customer,
        received_at=now,
        timestamp=now,
    )
    link = LinkIssue.objects.create(brand=brand, clerk=clerk, customer=customer, target="/x/", issued_at=now)
    Click.objects.create(brand=brand, link=link, clerk=clerk, customer=customer, clicked_at=now)
    Consent.objects.create(
        brand=brand,
        customer=customer,
        platform="line",
        purpose="marketing",
        granted=True,
        source="line.follow",
        recorded_at=now,
    )
    return customer


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def two(brand, store):
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE", handle="@herb")
    early = f.make_user(brand, "clerk-a", role="clerk", store=store)
    late = f.make_user(brand, "clerk-b", role="clerk", store=store)
    now = timezone.now()
    a = _world(
        brand, store, "a", clerk=early, inbox=inbox, started_at=now - dt.timedelta(days=10), points=300
    )
    b = _world(brand, store, "bb", clerk=late, inbox=inbox, started_at=now - dt.timedelta(days=1), points=50)
    return a, b, early, late


def test_merge_moves_everything_and_split_restores_exact_state(brand, two, hq_admin):
    a, b, early, late = two
    before = dump()
    actor = Actor(brand=brand, user=hq_admin, role="hq_admin")
    record = merging.merge_customers(a, b, actor=actor, reason="同一人")

    for model in (
        Order,
        Cart,
        Contact,
        PointsEntry,
        CouponCode,
        CouponRedemption,
        TrackedEvent,
        LinkIssue,
        Click,
        Consent,
        CustomerIdentity,
        Binding,
    ):
        assert not model.objects.filter(customer=b).exists(), model
    assert Customer.objects.get(pk=b.pk).merged_into_id == a.pk
    assert sorted(Customer.objects.get(pk=a.pk).tags) == ["a", "bb"]
    # One conversation per inbox: b's messages moved into a's thread, counts added up.
    survivor_conv = Conversation.objects.get(customer=a)
    assert survivor_conv.messages.count() == 2 and survivor_conv.unread_count == 4
    # Loyalty folded: the survivor holds both balances, the merged account is at zero.
    assert LoyaltyAccount.objects.get(customer=a).balance == 350
    assert LoyaltyAccount.objects.get(customer=b).balance == 0
    # first_keeps: the earlier binding (clerk a) stays open, the other was ended.
    assert list(
        Binding.objects.filter(customer=a, ended_at__isnull=True).values_list("clerk", flat=True)
    ) == [early.pk]
    assert "first_keeps" in record.binding_resolution
    assert AuditLog.objects.filter(action="customer.merged", actor_user=hq_admin).count() == 1

    merging.split(record, actor=actor)
    assert dump() == before
    assert CustomerMerge.objects.get(pk=record.pk).split_at is not None
    assert AuditLog.objects.filter(action="customer.split").count() == 1
    with pytest.raises(merging.MergeError):
        merging.split(record, actor=actor)


def test_a_split_puts_back_rows_that_no_handler_claims_any_more(brand, two, hq_admin):
    """A merge recorded while an app moved rows that its handler no longer names still splits exactly."""
    a, b, *_ = two
    before = dump()
    record = merging.merge_customers(a, b)
    assert record.snapshot["moved"]["attribution.click"]
    handler = personal_data.unregister("attribution")
    try:
        merging.split(record)
    finally:
        personal_data.register(handler)
    assert dump() == before


def test_merge_snapshot_keeps_its_shape(brand, two):
    """Splits read snapshots written long ago: the keys stay what they were."""
    a, b, *_ = two
    record = merging.merge_customers(a, b)
    assert set(record.snapshot) == {
        "moved",
        "survivor_fields",
        "merged_fields",
        "binding_ended",
        "loyalty",
        "messages",
        "conversation_fields",
    }
    assert set(record.snapshot["moved"]) == {
        "customers.customeridentity",
        "customers.consent",
        "commerce.order",
        "commerce.cart",
        "inbox.contact",
        "binding.binding",
        "loyalty.pointsentry",
        "loyalty.couponcode",
        "loyalty.couponredemption",
        "tracking.trackedevent",
        "attribution.linkissue",
        "attribution.click",
    }


def test_rows_made_after_the_merge_stay_with_the_survivor(brand, two):
    a, b, *_ = two
    record = merging.merge_customers(a, b)
    later = Order.objects.create(
        brand=brand,
        source="t",
        external_id="later",
        sales_channel="pos",
        customer=a,
        placed_at=timezone.now(),
    )
    merging.split(record)
    assert Order.objects.get(pk=later.pk).customer_id == a.pk
    assert Order.objects.filter(customer=b).count() == 1


def test_latest_wins_policy_keeps_the_later_binding(brand, two):
    a, b, early, late = two
    BindingPolicy.objects.create(brand=brand, rule="latest_wins")
    record = merging.merge_customers(a, b)
    assert Binding.objects.get(customer=a, ended_at__isnull=True).clerk_id == late.pk
    assert "latest_wins" in record.binding_resolution


def test_member_number_conflict_never_merges(brand):
    a = f.make_customer(brand, "甲", phone="+886911000001", member_number="M1")
    b = f.make_customer(brand, "乙", phone="+886911000002", member_number="M2")
    with pytest.raises(merging.MergeError) as caught:
        merging.merge_customers(a, b)
    assert caught.value.field == "member_number"
    assert not CustomerMerge.objects.exists()


def test_other_brand_is_never_merged(brand, other_brand):
    a = f.make_customer(brand, "甲", phone="+886911000001")
    b = f.make_customer(other_brand, "乙", phone="+886911000002")
    with pytest.raises(merging.MergeError):
        merging.merge_customers(a, b, brand=brand)
    with pytest.raises(merging.MergeError):
        merging.merge_customers(a, b)
    assert Customer.objects.get(pk=b.pk).merged_into_id is None


def test_identifiers_over_the_cap_stay_with_the_merged_customer(brand):
    a = f.make_customer(brand, "甲", phone="+886911000001")
    b = f.make_customer(brand, "乙", phone="+886911000002")
    for n in range(4):
        _ident(a, "email", f"a{n}@x.tw")
        _ident(b, "email", f"b{n}@x.tw")
    merging.merge_customers(a, b)
    assert CustomerIdentity.objects.filter(customer=a, kind="email").count() == 5
    assert CustomerIdentity.objects.filter(customer=b, kind="email").count() == 3


@hsettings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    a_points=st.integers(min_value=0, max_value=500),
    b_points=st.integers(min_value=0, max_value=500),
    a_member=st.booleans(),
    b_member=st.booleans(),
    b_fields=st.fixed_dictionaries(
        {"name": st.sampled_from(["", "乙"]), "email": st.sampled_from(["", "b@x.tw"])}
    ),
    policy=st.sampled_from(["first_keeps", "latest_wins", "locked_days"]),
)
def test_merge_then_split_is_exact_for_any_shape(
    brand, store, a_points, b_points, a_member, b_member, b_fields, policy
):
    BindingPolicy.objects.update_or_create(brand=brand, defaults={"rule": policy, "lock_days": 3})
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE")
    clerk = f.make_user(brand, f"c{Customer.objects.count()}", role="clerk", store=store)
    now = timezone.now()
    a = _world(
        brand,
        store,
        f"x{Customer.objects.count()}",
        clerk=clerk,
        inbox=inbox,
        started_at=now - dt.timedelta(days=5),
        points=a_points,
    )
    b = _world(
        brand,
        store,
        f"y{Customer.objects.count()}",
        clerk=clerk,
        inbox=inbox,
        started_at=now - dt.timedelta(days=1),
        points=b_points,
        extra_conversation=a_points % 2 == 0,
    )
    n = b.pk  # examples share the database: member numbers must differ between them
    Customer.objects.filter(pk=b.pk).update(**b_fields, member_number=f"MB{n}" if b_member else "")
    Customer.objects.filter(pk=a.pk).update(member_number=f"MA{n}" if a_member and not b_member else "")
    before = dump()
    record = merging.merge_customers(a.pk, b.pk, brand=brand)
    merging.split(record)
    assert dump() == before
    assert (
        apps.get_model("customers.CustomerMerge")
        .objects.filter(pk=record.pk, split_at__isnull=False)
        .exists()
    )
