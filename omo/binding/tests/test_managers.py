"""What a store manager does with bindings: spread a departing clerk's customers over the store,
tell the customers on LINE (with consent), undo within 30 days, and recovery by phone with named
refusals."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest

from omo.binding import selectors, services
from omo.binding.models import BindingPolicy, RecoveryRequest, Transfer
from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.customers.consent import record_consent
from omo.customers.models import CustomerIdentity
from omo.devtools import line_webhook_sender as wh
from omo.inbox.models import Conversation, Message
from omo.platforms.tasks import process_pending
from omo.testing import factories as f
from omo.testing.clock import TAIPEI
from omo.testing.line import post_line_webhook

pytestmark = pytest.mark.django_db


def actor_of(user):
    return Actor(brand=user.brand, user=user, role=user.role)


_phones = itertools.count(1)


def bound(brand, clerk, n: int, prefix: str = "顧客"):
    customers = [
        f.make_customer(brand, name=f"{prefix}{i}", phone=f"+8869330{next(_phones):05d}") for i in range(n)
    ]
    for customer in customers:
        services.bind_customer(customer, clerk, source="manual")
    return customers


@pytest.fixture
def team(brand, store):
    """Two more clerks in the store: 阿美 with no customers, 小華 with two."""
    amei = f.make_user(brand, "amei", role="clerk", store=store, display_name="阿美")
    hua = f.make_user(brand, "hua", role="clerk", store=store, display_name="小華")
    bound(brand, hua, 2, prefix="小華的顧客")
    return amei, hua


@pytest.fixture
def line_customer(brand, clerk, line_inbox, line_standin, line_user):
    """A LINE friend bound to `clerk`, with phone +886912345678."""
    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, "哈囉"))
    process_pending(line_inbox.pk)
    customer = Conversation.objects.get().customer
    customer.phone = "+886912345678"
    customer.save()
    CustomerIdentity.objects.create(brand=brand, customer=customer, kind="phone", value="+886912345678")
    services.bind_customer(customer, clerk, source="manual")
    return customer


def test_spread_goes_to_the_clerk_with_the_fewest_customers_first(brand, store, clerk, manager, team):
    amei, hua = team
    leaving = bound(brand, clerk, 4)
    inactive = f.make_user(brand, "gone", role="clerk", store=store)
    inactive.is_active = False
    inactive.save()
    f.make_user(brand, "far", role="clerk", store=f.make_store(brand, code="TCH01", name="台中店"))

    transfer = services.transfer_bindings(clerk, spread=True, actor=actor_of(manager), reason="離職")

    # 阿美 0 → 1 → 2 (tie with 小華 at 2: lower id) → 3, then 小華 2 → 3: both end with three.
    assert [selectors.current_binding(c).clerk for c in leaving] == [amei, amei, amei, hua]
    assert selectors.bound_bindings(amei).count() == selectors.bound_bindings(hua).count() == 3
    assert (transfer.mode, transfer.to_store, transfer.to_clerk) == (Transfer.Mode.SPREAD, store, None)
    log = AuditLog.objects.get(action="binding.transferred")
    assert log.detail["mode"] == "spread" and log.detail["assigned"][str(leaving[3].pk)] == hua.pk
    result = services.undo_transfer(transfer, actor=actor_of(manager))
    assert sorted(result.restored) == sorted(c.pk for c in leaving)
    assert selectors.bound_bindings(clerk).count() == 4 and selectors.bound_bindings(amei).count() == 0


def test_spread_needs_another_active_clerk_and_stays_in_the_managers_store(
    brand, store, other_store, clerk, manager, hq_admin
):
    bound(brand, clerk, 1)
    with pytest.raises(services.BindingError) as alone:
        services.transfer_bindings(clerk, spread=True, actor=actor_of(manager))
    assert alone.value.code == "no_clerks"
    far = f.make_user(brand, "far", role="clerk", store=other_store)
    with pytest.raises(services.BindingError) as elsewhere:
        services.transfer_bindings(clerk, spread=True, to_store=other_store, actor=actor_of(manager))
    assert (elsewhere.value.code, elsewhere.value.status) == ("other_store", 403)
    with pytest.raises(services.BindingError) as to_far:
        services.transfer_bindings(clerk, to_clerk=far, actor=actor_of(manager))
    assert (to_far.value.code, to_far.value.status) == ("other_store", 403)
    # HQ may move a clerk's customers to another store's clerk
    transfer = services.transfer_bindings(clerk, to_clerk=far, actor=actor_of(hq_admin), notify=False)
    assert transfer.mode == Transfer.Mode.CLERK and selectors.bound_bindings(far).count() == 1
    assert AuditLog.objects.filter(action="binding.transferred").count() == 1


def test_the_customer_is_told_on_line_who_their_new_clerk_is(brand, clerk, manager, team, line_customer):
    amei, _ = team
    transfer = services.transfer_bindings(clerk, to_clerk=amei, actor=actor_of(manager))

    notice = Message.objects.get(direction="out", conversation__customer=line_customer)
    assert notice.kind == "text" and "阿美" in notice.text and "台北信義店" in notice.text
    assert notice.text.startswith("您好！您的專屬店員已改由 阿美")
    assert transfer.notified == 1


def test_no_notice_without_consent_or_when_asked_not_to(brand, clerk, manager, team, line_customer):
    amei, hua = team
    services.transfer_bindings(clerk, to_clerk=amei, actor=actor_of(manager), notify=False)
    assert not Message.objects.filter(direction="out").exists()

    record_consent(line_customer, platform="line", purpose="transactional", granted=False, source="console")
    transfer = services.transfer_bindings(amei, to_clerk=hua, actor=actor_of(manager))
    assert transfer.notified == 0 and not Message.objects.filter(direction="out").exists()
    assert selectors.current_binding(line_customer).clerk == hua  # the transfer itself went through


def test_undo_tells_the_customer_and_skips_one_bound_anew(brand, clerk, manager, team, line_customer):
    amei, hua = team
    BindingPolicy.objects.create(brand=brand, rule="latest_wins")
    (other,) = bound(brand, clerk, 1, prefix="別人")
    transfer = services.transfer_bindings(clerk, to_clerk=amei, actor=actor_of(manager), notify=False)
    services.bind_customer(other, hua, source="liff")  # the customer scanned 小華 since

    result = services.undo_transfer(transfer, actor=actor_of(manager))

    assert (result.restored, result.skipped) == ([line_customer.pk], [other.pk])
    assert selectors.current_binding(other).clerk == hua
    told = Message.objects.get(direction="out", conversation__customer=line_customer)
    assert told.text.startswith(f"您好！您的專屬店員已改由 {clerk}")
    assert AuditLog.objects.get(action="binding.transfer_undone").detail["skipped"] == [other.pk]


def test_undo_works_until_day_30_and_not_after(brand, clerk, manager, team, time_machine):
    amei, _ = team
    start = dt.datetime(2027, 3, 1, 10, 0, tzinfo=TAIPEI)
    time_machine.move_to(start, tick=False)
    bound(brand, clerk, 2)
    first = services.transfer_bindings(clerk, to_clerk=amei, actor=actor_of(manager), notify=False)
    assert first.undo_until == start + dt.timedelta(days=30)

    time_machine.move_to(start + dt.timedelta(days=30), tick=False)  # the last moment still counts
    assert len(services.undo_transfer(first, actor=actor_of(manager)).restored) == 2

    time_machine.move_to(start + dt.timedelta(days=31), tick=False)
    second = services.transfer_bindings(clerk, to_clerk=amei, actor=actor_of(manager), notify=False)
    time_machine.move_to(start + dt.timedelta(days=61, seconds=1), tick=False)
    with pytest.raises(services.BindingError) as late:
        services.undo_transfer(second, actor=actor_of(manager))
    assert (late.value.code, late.value.status) == ("undo_expired", 409)
    assert selectors.bound_bindings(amei).count() == 2
    assert Transfer.objects.get(pk=second.pk).undone_at is None


def test_undo_is_refused_to_weaker_roles_and_other_brands(brand, other_brand, other_store, clerk, team):
    amei, _ = team
    bound(brand, clerk, 1)
    admin = f.make_user(brand, "boss", role="hq_admin")
    transfer = services.transfer_bindings(clerk, to_clerk=amei, actor=actor_of(admin), notify=False)
    for user in (
        amei,
        f.make_user(brand, "agent2", role="hq_agent"),
        f.make_user(brand, "far-manager", role="store_manager", store=other_store),
    ):
        with pytest.raises(services.BindingError) as refused:
            services.undo_transfer(transfer, actor=actor_of(user))
        assert refused.value.status == 403
    with pytest.raises(services.BindingError) as outsider:
        services.undo_transfer(transfer, actor=actor_of(f.make_user(other_brand, "x", role="hq_admin")))
    assert outsider.value.status == 404
    assert Transfer.objects.get(pk=transfer.pk).undone_at is None


# --- recovery by phone ------------------------------------------------------------------------------


def test_recovery_by_phone_sends_the_confirmation_card(
    brand, store, manager, team, line_inbox, line_standin, line_user
):
    amei, _ = team
    post_line_webhook(line_inbox, wh.text_event(line_user.user_id, "哈囉"))
    process_pending(line_inbox.pk)
    customer = Conversation.objects.get().customer
    CustomerIdentity.objects.create(brand=brand, customer=customer, kind="phone", value="+886922000111")

    request = services.recover_by_phone("0922-000-111", amei, actor=actor_of(manager))

    assert (request.customer, request.clerk, request.status) == (
        customer,
        amei,
        RecoveryRequest.Status.PENDING,
    )
    assert Message.objects.filter(direction="out", kind="flex").count() == 1
    assert AuditLog.objects.filter(action="binding.recovery_requested").count() == 1


def test_recovery_refusals_are_named(brand, store, other_store, clerk, manager, team, line_customer):
    amei, hua = team
    with pytest.raises(services.BindingError) as none:
        services.recover_by_phone("0911-000-000", amei, actor=actor_of(manager))
    assert (none.value.code, none.value.status) == ("no_match", 404)
    with pytest.raises(services.BindingError) as bad:
        services.recover_by_phone("not a phone", amei, actor=actor_of(manager))
    assert bad.value.field == "phone"

    # first clerk keeps (the default): bound to `clerk`, so 阿美 may not ask
    with pytest.raises(services.BindingError) as kept:
        services.recover_by_phone("0912345678", amei, actor=actor_of(manager))
    assert (kept.value.code, kept.value.status) == ("bound_elsewhere", 409)
    assert kept.value.extra["clerk"] == str(clerk)
    with pytest.raises(services.BindingError) as same:
        services.recover_by_phone("0912345678", clerk, actor=actor_of(clerk))
    assert same.value.code == "already_bound"

    # locked for 90 days, then the customer may be asked again
    policy = BindingPolicy.objects.create(brand=brand, rule="locked_days", lock_days=90)
    with pytest.raises(services.BindingError, match="until"):
        services.recover_by_phone("0912345678", amei, actor=actor_of(manager))
    policy.rule = "latest_wins"
    policy.save()
    assert services.recover_by_phone("0912345678", amei, actor=actor_of(manager)).clerk == amei

    twin = f.make_customer(brand, name="同號碼", phone="+886955000000")
    twin.phone = "+886912345678"
    twin.save()
    with pytest.raises(services.BindingError) as several:
        services.recover_by_phone("0912345678", amei, actor=actor_of(manager))
    assert several.value.code == "several_matches"
    assert sorted(several.value.extra["customer_ids"]) == sorted([line_customer.pk, twin.pk])


def test_recovery_roles(brand, other_brand, other_store, clerk, manager, team, line_customer):
    amei, hua = team
    BindingPolicy.objects.create(brand=brand, rule="latest_wins")
    far = f.make_user(brand, "far", role="clerk", store=other_store)
    with pytest.raises(services.BindingError) as other_store_clerk:
        services.recover_by_phone("0912345678", far, actor=actor_of(manager))
    assert other_store_clerk.value.status == 403
    with pytest.raises(services.BindingError) as for_someone_else:
        services.recover_by_phone("0912345678", hua, actor=actor_of(amei))
    assert for_someone_else.value.status == 403
    outsider = f.make_user(other_brand, "x", role="hq_admin")
    with pytest.raises(services.BindingError) as other_brand_clerk:
        services.recover_by_phone("0912345678", amei, actor=actor_of(outsider))
    assert other_brand_clerk.value.status == 404
    assert not RecoveryRequest.objects.exists()
