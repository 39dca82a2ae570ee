"""Refresh on events (orders, tags, bindings, tracking, merges), debounced in a task; the daily pass."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django_tasks_db.models import DBTaskResult

from omo.binding import services as binding
from omo.commerce import services as commerce
from omo.commerce.schemas import OrderIn
from omo.core import schedule
from omo.customers import services as customers
from omo.segments import selectors, services, stale, tasks
from omo.segments.models import Segment, SegmentCount, SegmentMember
from omo.tracking import services as tracking

VIP = {"field": "tag", "op": "has", "value": "VIP"}
BUYERS = {"field": "orders.count", "op": "gte", "value": 1, "last_days": 30}
NOW = dt.datetime(2026, 12, 1, 2, 0, tzinfo=dt.UTC)


def _ids(segment: Segment) -> set[int]:
    return set(selectors.current_members(segment).values_list("pk", flat=True))


def _refreshes() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=tasks.refresh_stale.module_path))


def _order(brand, store, customer, external_id: str = "A-1") -> None:
    commerce.record_order(
        brand,
        OrderIn.model_validate(
            {
                "source": "pos",
                "external_id": external_id,
                "sales_channel": "pos",
                "store_code": store.code,
                "placed_at": NOW.isoformat(),
                "customer": {"phone": customer.phone},
                "lines": [{"title": "茶包", "quantity": 1, "unit_price": 50000}],
            }
        ),
        actor=None,
    )


@time_machine.travel(NOW, tick=False)
def test_an_order_marks_order_segments_stale_and_the_task_refreshes_them(
    brand, store, hq, vip, plain, django_capture_on_commit_callbacks
):
    buyers = services.create_segment(brand, actor=hq, name="近 30 天有消費", rule=BUYERS)
    tagged = services.create_segment(brand, actor=hq, name="VIP", rule=VIP)
    assert _ids(buyers) == set()

    with django_capture_on_commit_callbacks(execute=True):
        _order(brand, store, plain)

    buyers.refresh_from_db()
    tagged.refresh_from_db()
    assert (buyers.stale_since, buyers.stale_reason) == (NOW, "order")
    assert tagged.stale_since is None  # an order does not change who has a tag
    assert _ids(buyers) == set()  # not refreshed in the request
    [queued] = _refreshes()
    assert queued.args_kwargs["args"] == [brand.pk]
    assert queued.run_after == NOW + stale.REFRESH_DELAY

    tasks.refresh_stale.call(brand.pk)

    buyers.refresh_from_db()
    assert _ids(buyers) == {plain.pk}
    assert buyers.stale_since is None
    assert SegmentCount.objects.filter(segment=buyers).first().reason == "order"


@time_machine.travel(NOW, tick=False)
def test_a_burst_of_changes_enqueues_one_refresh(
    brand, store, hq, plain, vip, django_capture_on_commit_callbacks
):
    services.create_segment(brand, actor=hq, name="近 30 天有消費", rule=BUYERS)
    with django_capture_on_commit_callbacks(execute=True):
        _order(brand, store, plain, "A-1")
    with django_capture_on_commit_callbacks(execute=True):
        _order(brand, store, vip, "A-2")
    assert len(_refreshes()) == 1


def test_a_tag_change_refreshes_tag_segments(brand, hq, vip, plain, django_capture_on_commit_callbacks):
    tagged = services.create_segment(brand, actor=hq, name="VIP", rule=VIP)
    with django_capture_on_commit_callbacks(execute=True):
        customers.update_customer(plain, actor=hq, name="陳大文")  # no tag changed
    tagged.refresh_from_db()
    assert tagged.stale_since is None

    with django_capture_on_commit_callbacks(execute=True):
        customers.update_customer(plain, actor=hq, tags=["VIP"])
    tagged.refresh_from_db()
    assert tagged.stale_reason == "tag"

    tasks.refresh_stale.call(brand.pk)
    assert _ids(tagged) == {vip.pk, plain.pk}


def test_a_binding_refreshes_segments_that_read_bindings(
    brand, clerk, hq, plain, django_capture_on_commit_callbacks
):
    by_clerk = services.create_segment(
        brand, actor=hq, name="綁定店員", rule={"field": "binding.clerk", "op": "in", "value": [clerk.pk]}
    )
    tagged = services.create_segment(brand, actor=hq, name="VIP", rule=VIP)
    with django_capture_on_commit_callbacks(execute=True):
        binding.bind_customer(plain, clerk, source="manual")
    by_clerk.refresh_from_db()
    tagged.refresh_from_db()
    assert by_clerk.stale_reason == "binding"
    assert tagged.stale_since is None
    assert len(_refreshes()) == 1

    tasks.refresh_stale.call(brand.pk)
    assert _ids(by_clerk) == {plain.pk}


def test_tracked_events_refresh_segments_that_read_them(brand, hq, plain, django_capture_on_commit_callbacks):
    viewers = services.create_segment(
        brand,
        actor=hq,
        name="看過商品",
        rule={"field": "events.count", "op": "gte", "value": 1, "event": "Product Viewed"},
    )
    source, _key = tracking.create_source(brand, name="web", actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        tracking.ingest(
            source,
            [{"type": "identify", "userId": "u-1", "messageId": "m-1", "traits": {"phone": plain.phone}}],
        )
    viewers.refresh_from_db()
    viewers.stale_since = None
    viewers.save()
    with django_capture_on_commit_callbacks(execute=True):
        result = tracking.ingest(
            source,
            [{"type": "track", "event": "Product Viewed", "userId": "u-1", "messageId": "m-2"}],
        )
    assert not result.rejected
    viewers.refresh_from_db()
    assert viewers.stale_reason == "tracking"

    tasks.refresh_stale.call(brand.pk)
    assert _ids(viewers) == {plain.pk}


def test_a_profile_change_refreshes_profile_segments(brand, hq, plain, django_capture_on_commit_callbacks):
    with_email = services.create_segment(
        brand, actor=hq, name="有 Email", rule={"field": "profile.has_email", "op": "eq", "value": True}
    )
    tagged = services.create_segment(brand, actor=hq, name="VIP", rule=VIP)
    with django_capture_on_commit_callbacks(execute=True):
        customers.update_customer(plain, actor=hq, email="")
    with_email.refresh_from_db()
    tagged.refresh_from_db()
    assert (with_email.stale_reason, tagged.stale_since) == ("profile", None)
    tasks.refresh_stale.call(brand.pk)
    assert _ids(with_email) == set()


def test_a_merge_marks_every_segment(brand, hq, vip, plain, django_capture_on_commit_callbacks):
    from omo.customers.merge import merge_customers

    static = services.create_segment(brand, actor=hq, name="名單", kind=Segment.Kind.STATIC)
    tagged = services.create_segment(brand, actor=hq, name="VIP", rule=VIP)
    with django_capture_on_commit_callbacks(execute=True):
        merge_customers(vip, plain, actor=hq, reason="同一人")
    assert set(Segment.objects.filter(stale_since__isnull=False).values_list("pk", flat=True)) == {
        static.pk,
        tagged.pk,
    }


def test_a_rule_the_engine_now_refuses_keeps_its_members_and_stops_retrying(brand, hq, vip):
    broken = Segment.objects.create(
        brand=brand, name="壞掉", rule={"field": "segment", "op": "in", "value": 999999}, stale_since=NOW
    )
    tasks.refresh_stale.call(brand.pk)
    broken.refresh_from_db()
    assert broken.stale_since is None and broken.version == 0


def test_the_daily_pass_refreshes_relative_time_rules(brand, store, hq, plain, other_brand):
    with time_machine.travel(NOW, tick=False):
        _order(brand, store, plain)
        buyers = services.create_segment(brand, actor=hq, name="近 30 天有消費", rule=BUYERS)
        assert _ids(buyers) == {plain.pk}

    with time_machine.travel(NOW + dt.timedelta(days=31), tick=False):
        assert tasks.daily_refresh_all_brands.call() == 1  # the other brand has no segments
        [queued] = DBTaskResult.objects.filter(task_path=tasks.daily_refresh.module_path)
        tasks.daily_refresh.call(*queued.args_kwargs["args"])

    assert _ids(buyers) == set()
    count = SegmentCount.objects.filter(segment=buyers).first()
    assert (count.reason, count.removed) == ("daily", 1)


def test_the_daily_pass_is_scheduled_at_four():
    [job] = [job for job in schedule.registered() if job.name == "segments.daily_refresh"]
    assert job.at == dt.time(4, 0) and job.task_path == tasks.daily_refresh_all_brands.module_path


@pytest.mark.parametrize("cause", ["order", "tag", "binding", "tracking"])
def test_static_segments_only_follow_merges(brand, hq, cause):
    services.create_segment(brand, actor=hq, name="名單", kind=Segment.Kind.STATIC)
    assert stale.mark_stale(brand.pk, cause) == 0
    assert stale.mark_stale(brand.pk, "merge") == 1


def test_a_segment_without_a_rule_or_list_is_left_alone(brand, hq, vip):
    """A ready-made segment whose members another pass writes keeps them."""
    kept = Segment.objects.create(
        brand=brand, kind=Segment.Kind.READY_MADE, key="kept", name="別處計算", version=1
    )
    SegmentMember.objects.create(segment=kept, version=1, customer=vip)
    tasks.refresh_brand(brand)
    assert _ids(kept) == {vip.pk}
