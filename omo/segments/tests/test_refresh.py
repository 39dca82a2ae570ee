"""Materialised membership: versioned swap, count history, dependents, static lists after merges."""

from __future__ import annotations

import datetime as dt

import pytest
import time_machine
from django.utils import timezone

from omo.core.models import AuditLog
from omo.customers import services as customers
from omo.customers.merge import merge_customers
from omo.segments import selectors, services
from omo.segments.models import Segment, SegmentCount, SegmentMember
from omo.testing import factories as f

VIP = {"field": "tag", "op": "has", "value": "VIP"}
NOON = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)


def _ids(segment: Segment) -> set[int]:
    return set(selectors.current_members(segment).values_list("pk", flat=True))


@time_machine.travel(NOON, tick=False)
def test_create_materialises_version_1_and_counts_it(hq, vip, plain):
    segment = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)

    segment.refresh_from_db()
    assert (segment.version, segment.member_count, segment.refreshed_at) == (1, 1, NOON)
    assert _ids(segment) == {vip.pk}
    [count] = SegmentCount.objects.filter(segment=segment)
    assert (count.version, count.members, count.added, count.removed, count.reason) == (1, 1, 1, 0, "created")


def test_refresh_swaps_versions_and_keeps_only_the_new_rows(hq, vip, plain):
    segment = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)
    customers.update_customer(plain, actor=hq, tags=["VIP"])
    customers.update_customer(vip, actor=hq, tags=[])

    count = services.refresh(segment, "tag")

    assert (count.version, count.members, count.added, count.removed, count.reason) == (2, 1, 1, 1, "tag")
    assert _ids(segment) == {plain.pk}
    assert set(SegmentMember.objects.filter(segment=segment).values_list("version", flat=True)) == {2}
    assert list(
        SegmentCount.objects.filter(segment=segment).order_by("version").values_list("members", flat=True)
    ) == [1, 1]


def test_a_reader_during_a_refresh_sees_the_old_version(hq, vip, plain, monkeypatch):
    segment = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)
    customers.update_customer(plain, actor=hq, tags=["VIP"])
    seen: list[set[int]] = []
    insert = services._insert_select

    def insert_then_read(segment_id, version, query):
        insert(segment_id, version, query)
        # The new rows are written but the segment still points at version 1.
        seen.append(_ids(segment))
        seen.append(set(selectors.members_for(hq, segment).values_list("pk", flat=True)))

    monkeypatch.setattr(services, "_insert_select", insert_then_read)
    services.refresh(segment, "tag")

    assert seen == [{vip.pk}, {vip.pk}]
    assert _ids(segment) == {vip.pk, plain.pk}


def test_an_edited_rule_is_refreshed_at_once_and_audited(hq, vip, plain):
    segment = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)
    services.update_segment(segment, actor=hq, rule={"not": VIP}, name="非 VIP")

    segment.refresh_from_db()
    assert segment.name == "非 VIP"
    assert _ids(segment) == {plain.pk}
    assert SegmentCount.objects.filter(segment=segment).first().reason == "edited"
    assert AuditLog.objects.filter(
        brand=hq.brand, action="segment.updated", target_id=str(segment.pk)
    ).exists()


def test_a_segment_reading_another_is_marked_stale_when_that_one_changes(hq, vip, plain):
    base = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)
    reader = services.create_segment(
        hq.brand, actor=hq, name="不是 VIP", rule={"field": "segment", "op": "not_in", "value": base.pk}
    )
    assert _ids(reader) == {plain.pk}
    customers.update_customer(plain, actor=hq, tags=["VIP"])

    services.refresh(base, "tag")

    reader.refresh_from_db()
    assert reader.stale_since is not None and reader.stale_reason == "segment"


def test_bad_rules_name_the_path(hq):
    with pytest.raises(services.SegmentError) as caught:
        services.create_segment(
            hq.brand, actor=hq, name="壞", rule={"all": [VIP, {"field": "nope", "op": "eq"}]}
        )
    assert caught.value.field == "rule.all[1].field"
    assert caught.value.code == "invalid_rule"
    assert not Segment.objects.exists()


def test_names_are_checked(hq):
    with pytest.raises(services.SegmentError) as caught:
        services.create_segment(hq.brand, actor=hq, name="  ", rule=VIP)
    assert caught.value.field == "name"
    with pytest.raises(services.SegmentError) as caught:
        services.create_segment(hq.brand, actor=hq, name="x" * 121, rule=VIP)
    assert caught.value.field == "name"


def test_a_segment_read_by_another_cannot_be_deleted(hq, vip):
    base = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)
    services.create_segment(
        hq.brand, actor=hq, name="讀者", rule={"field": "segment", "op": "in", "value": base.pk}
    )

    with pytest.raises(services.SegmentError) as caught:
        services.delete_segment(base, actor=hq)
    assert caught.value.status == 409 and "讀者" in caught.value.message
    assert Segment.objects.filter(pk=base.pk).exists()


def test_ready_made_segments_keep_their_rule_and_cannot_be_deleted(hq, vip):
    ready = Segment.objects.create(
        brand=hq.brand, kind=Segment.Kind.READY_MADE, key="vip", name="VIP", rule=VIP
    )
    services.refresh(ready, "daily")
    assert _ids(ready) == {vip.pk}
    with pytest.raises(services.SegmentError):
        services.update_segment(ready, actor=hq, rule={"not": VIP})
    with pytest.raises(services.SegmentError):
        services.delete_segment(ready, actor=hq)
    services.update_segment(ready, actor=hq, description="標記為 VIP 的顧客")


def test_deleting_a_segment_takes_its_rows(hq, vip):
    segment = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)
    services.delete_segment(segment, actor=hq)
    assert not SegmentMember.objects.exists() and not SegmentCount.objects.exists()


def test_a_static_segment_follows_a_merge_and_drops_erased_customers(brand, hq, vip, plain):
    segment = services.create_segment(brand, actor=hq, name="名單", kind=Segment.Kind.STATIC)
    services.upload_static_list(segment, b"phone\n0912000001\n", actor=hq)
    assert _ids(segment) == {vip.pk}

    merge_customers(plain, vip, actor=hq, reason="同一人")  # vip merged into plain
    services.refresh(segment, "merge")

    assert _ids(segment) == {plain.pk}


def test_merged_customers_leave_rule_segments(brand, hq, vip):
    twin = f.make_customer(brand, name="林VIP 二號", phone="+886912000009", tags=["VIP"])
    segment = services.create_segment(brand, actor=hq, name="VIP", rule=VIP)
    assert _ids(segment) == {vip.pk, twin.pk}
    merge_customers(vip, twin, actor=hq, reason="同一人")
    services.refresh(segment, "merge")
    assert _ids(segment) == {vip.pk}


def test_segments_of_a_customer(hq, vip, plain):
    segment = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)
    assert list(selectors.segments_of(vip)) == [segment]
    assert list(selectors.segments_of(plain)) == []


def test_refresh_time_is_now(hq, vip):
    segment = services.create_segment(hq.brand, actor=hq, name="VIP", rule=VIP)
    segment.refresh_from_db()
    assert abs((timezone.now() - segment.refreshed_at).total_seconds()) < 60


def test_erasure_takes_the_customer_out_of_every_segment(brand, hq, vip, plain):
    from omo.customers import privacy

    segment = services.create_segment(brand, actor=hq, name="VIP", rule=VIP)
    exported = privacy.collect(vip)
    assert [row["segment"] for row in exported["segments"]] == ["VIP"]
    privacy.erase_customer(vip, actor=hq, reason="本人要求")
    assert _ids(segment) == set()
