"""Static segments from a CSV of phones, emails and member numbers."""

from __future__ import annotations

import pytest

from omo.segments import selectors, services, static_list
from omo.segments.models import Segment, SegmentCount
from omo.testing import factories as f


@pytest.fixture
def listed(brand, hq):
    return services.create_segment(brand, actor=hq, name="展覽名單", kind=Segment.Kind.STATIC)


def _ids(segment):
    return set(selectors.current_members(segment).values_list("pk", flat=True))


def test_phones_emails_and_member_numbers_in_any_format(brand, hq, listed, vip, plain):
    third = f.make_customer(brand, name="王三", phone="+886912000003")
    raw = "手機,email,會員編號\n0912-000-003,,\n,CHEN@example.com ,\n,,M001\n0912000003,,\n".encode()

    count = services.upload_static_list(listed, raw, actor=hq, filename="名單.csv")

    assert _ids(listed) == {third.pk, plain.pk, vip.pk}
    assert (count.members, count.added, count.removed, count.reason) == (3, 3, 0, "csv")


def test_big5_files_are_read(brand, hq, listed, vip):
    services.upload_static_list(listed, "會員編號\nM001\n".encode("cp950"), actor=hq)
    assert _ids(listed) == {vip.pk}


def test_a_new_upload_replaces_the_list(brand, hq, listed, vip, plain):
    services.upload_static_list(listed, b"phone\n0912000001\n", actor=hq)
    count = services.upload_static_list(listed, b"phone\n0912000002\n", actor=hq)
    assert _ids(listed) == {plain.pk}
    assert (count.added, count.removed) == (1, 1)
    assert SegmentCount.objects.filter(segment=listed).count() == 2


def test_bad_rows_are_listed_and_nothing_is_written(brand, hq, listed, vip):
    services.upload_static_list(listed, b"phone\n0912000001\n", actor=hq)
    raw = b"phone,email\n0912000001,\n12345,\n,not-an-email\nnull,\n0987654321,\n"

    with pytest.raises(static_list.ListInvalid) as caught:
        services.upload_static_list(listed, raw, actor=hq)

    errors = caught.value.extra["errors"]
    assert [(e["row"], e["field"]) for e in errors] == [(3, "phone"), (4, "email"), (5, "row"), (6, "phone")]
    assert "12345" in errors[0]["error"] and "+886987654321" in errors[3]["error"]
    assert caught.value.message.startswith("第 3 列")
    assert _ids(listed) == {vip.pk}
    listed.refresh_from_db()
    assert listed.version == 1


@pytest.mark.parametrize(
    ("raw", "problem"),
    [
        (b"", "empty"),
        (b"name\nx\n", "phone"),
        (b"phone\n", "\u6c92\u6709\u8cc7\u6599\u5217"),
        (b"PK\x03\x04rest", "Excel"),
    ],
)
def test_bad_files_are_refused_whole(hq, listed, raw, problem):
    with pytest.raises(static_list.ListInvalid) as caught:
        services.upload_static_list(listed, raw, actor=hq)
    assert problem in caught.value.message
    assert caught.value.extra["errors"][0]["row"] is None


def test_another_brands_customers_are_not_found(other_brand, hq, listed):
    f.make_customer(other_brand, name="別家", phone="+886912000001")
    with pytest.raises(static_list.ListInvalid):
        services.upload_static_list(listed, b"phone\n0912000001\n", actor=hq)


def test_only_static_segments_take_a_list(brand, hq, vip):
    segment = services.create_segment(
        brand, actor=hq, name="VIP", rule={"field": "tag", "op": "has", "value": "VIP"}
    )
    with pytest.raises(services.SegmentError) as caught:
        services.upload_static_list(segment, b"phone\n0912000001\n", actor=hq)
    assert caught.value.status == 409
