"""The versioned swap under real concurrency (PostgreSQL, READ COMMITTED): a reader on another
connection sees the old members until the refresh commits, two refreshes of one segment queue
behind the row lock, and a change marked during a refresh is refreshed again, not lost."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connections

from omo.customers import services as customers
from omo.segments import selectors, services, stale
from omo.segments.models import Segment, SegmentCount, SegmentMember

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

VIP = {"field": "tag", "op": "has", "value": "VIP"}


def _ids(segment: Segment) -> set[int]:
    return set(selectors.current_members(segment).values_list("pk", flat=True))


@pytest.fixture
def paused_refresh(monkeypatch):
    """Holds a refresh open after it wrote the new rows, until `release` is set."""
    written, release = threading.Event(), threading.Event()
    insert = services._insert_select

    def insert_and_wait(segment_id, version, query):
        insert(segment_id, version, query)
        if threading.current_thread().name == "refresher":
            written.set()
            release.wait(30)

    monkeypatch.setattr(services, "_insert_select", insert_and_wait)
    return written, release


def _start_refresh(segment: Segment, reason: str) -> threading.Thread:
    def run() -> None:
        try:
            services.refresh(Segment.objects.get(pk=segment.pk), reason)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, name="refresher")
    thread.start()
    return thread


def test_a_reader_sees_the_old_members_until_the_refresh_commits(hq, vip, plain, paused_refresh):
    written, release = paused_refresh
    segment = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)
    customers.update_customer(plain, actor=hq, tags=["VIP"])

    thread = _start_refresh(segment, "tag")
    assert written.wait(30)
    during = _ids(segment)  # this connection, while the refresh holds version 2 uncommitted
    release.set()
    thread.join(30)

    assert during == {vip.pk}
    assert _ids(segment) == {vip.pk, plain.pk}
    assert set(SegmentMember.objects.filter(segment=segment).values_list("version", flat=True)) == {2}


def test_a_mark_during_a_refresh_waits_and_marks_again(hq, vip, plain, paused_refresh):
    written, release = paused_refresh
    segment = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)

    thread = _start_refresh(segment, "daily")
    assert written.wait(30)
    marked: list[int] = []
    marker = threading.Thread(
        target=lambda: (marked.append(stale.mark_stale(hq.brand.pk, "tag")), connections.close_all())
    )
    marker.start()
    time.sleep(0.5)
    assert marked == []  # waits for the refresh's row lock
    release.set()
    thread.join(30)
    marker.join(30)

    segment.refresh_from_db()
    assert marked == [1] and segment.stale_since is not None and segment.version == 2


def test_two_refreshes_of_one_segment_queue_behind_each_other(hq, vip, plain):
    segment = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            barrier.wait()
            services.refresh(Segment.objects.get(pk=segment.pk), "daily")
        except BaseException as exc:  # collected and asserted on
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    segment.refresh_from_db()
    assert errors == []
    assert segment.version == 3
    assert list(
        SegmentCount.objects.filter(segment=segment).order_by("version").values_list("version", flat=True)
    ) == [1, 2, 3]
    assert _ids(segment) == {vip.pk}
