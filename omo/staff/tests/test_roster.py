"""The roster: shift verbs with their checks, the CSV imports, and the reads routing relies on."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.contrib.contenttypes.models import ContentType

from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.staff import roster
from omo.staff.models import Shift
from omo.testing import factories as f

pytestmark = pytest.mark.django_db

TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")


def taipei(day: int, hour: int, minute: int = 0) -> dt.datetime:
    """March 2025 in Taipei: the 3rd is a Monday."""
    return dt.datetime(2025, 3, day, hour, minute, tzinfo=TAIPEI)


def actor_of(user):
    return Actor(brand=user.brand, user=user, role=user.role)


def test_roster_crud_and_csv_import(brand, store, other_store, clerk, manager, hq_admin):
    shift = roster.create_shift(
        clerk, starts_at=taipei(3, 11), ends_at=taipei(3, 20), actor=actor_of(manager)
    )
    with pytest.raises(roster.RosterError, match="overlaps"):
        roster.create_shift(clerk, starts_at=taipei(3, 19), ends_at=taipei(3, 21), actor=actor_of(manager))
    with pytest.raises(roster.RosterError, match="ends after"):
        roster.update_shift(shift, starts_at=taipei(3, 20), ends_at=taipei(3, 11), actor=actor_of(manager))
    far = f.make_user(brand, "far", role="store_manager", store=other_store)
    with pytest.raises(roster.RosterError) as refused:
        roster.delete_shift(shift, actor=actor_of(far))
    assert refused.value.status == 403
    roster.delete_shift(shift, actor=actor_of(manager))

    csv_text = (
        "employee_code,date,start,end\n"
        "E001,2025-03-04,11:00,20:00\n"
        "E404,2025-03-04,11:00,20:00\n"
        "E001,2025-03-05,25:00,20:00\n"
        "E001,03/06/2025,11:00,20:00\n"
        "E001,2025-03-07,18:00,02:00\n"
    )
    report = roster.import_roster_csv(csv_text, actor=actor_of(hq_admin))
    assert report.created == 2
    assert [(e["row"], e["field"]) for e in report.errors] == [
        (3, "employee_code"),
        (4, "start"),
        (5, "date"),
    ]
    night = Shift.objects.get(starts_at=taipei(7, 18))
    assert night.ends_at == taipei(8, 2)
    with pytest.raises(roster.RosterError, match="missing columns"):
        roster.import_roster_csv("name,day\n", actor=actor_of(hq_admin))


def test_the_table_kept_its_name_and_the_content_type_is_staffs():
    assert Shift._meta.db_table == "inbox_shift"
    assert ContentType.objects.get_for_model(Shift).app_label == "staff"
    assert not ContentType.objects.filter(app_label="inbox", model="shift").exists()


def test_duty_state_counts_only_the_staff_members_own_shifts(brand, store, clerk, manager):
    assert roster.duty_state(clerk, taipei(3, 12)) == (False, False)
    roster.create_shift(clerk, starts_at=taipei(3, 11), ends_at=taipei(3, 20), actor=actor_of(manager))
    assert roster.duty_state(clerk, taipei(3, 11)) == (True, True)
    assert roster.duty_state(clerk, taipei(3, 20)) == (True, False)  # the end is not in the shift
    assert roster.duty_state(manager, taipei(3, 12)) == (False, False)


def test_an_account_without_a_brand_has_no_roster(brand, store, clerk, manager, django_assert_num_queries):
    roster.create_shift(clerk, starts_at=taipei(3, 11), ends_at=taipei(3, 20), actor=actor_of(manager))
    root = f.make_user(None, "root", role="hq_admin")
    with django_assert_num_queries(0):
        assert roster.duty_state(root, taipei(3, 12)) == (False, False)
        assert not roster.overlapping(root, taipei(3, 0), taipei(4, 0)).exists()


def test_an_edit_is_audited_under_the_staff_shift(brand, store, clerk, manager):
    shift = roster.create_shift(
        clerk, starts_at=taipei(3, 11), ends_at=taipei(3, 20), actor=actor_of(manager)
    )
    entry = AuditLog.objects.get(action="roster.shift_created")
    assert (entry.target_type, entry.target_id, entry.detail) == (
        "staff.shift",
        str(shift.pk),
        {"staff": clerk.pk},
    )


def test_bad_times_are_refused_and_nothing_is_written(brand, store, clerk, manager):
    naive = dt.datetime(2025, 3, 3, 11)
    with pytest.raises(roster.RosterError) as no_zone:
        roster.create_shift(
            clerk, starts_at=naive, ends_at=naive + dt.timedelta(hours=8), actor=actor_of(manager)
        )
    assert no_zone.value.field == "starts_at"
    with pytest.raises(roster.RosterError, match="at most 24 hours"):
        roster.create_shift(clerk, starts_at=taipei(3, 11), ends_at=taipei(4, 12), actor=actor_of(manager))
    assert not Shift.objects.exists()
    assert not AuditLog.objects.filter(action__startswith="roster.").exists()


def test_another_brand_can_neither_edit_nor_see_the_roster(
    brand, other_brand, store, clerk, manager, other_admin
):
    shift = roster.create_shift(
        clerk, starts_at=taipei(3, 11), ends_at=taipei(3, 20), actor=actor_of(manager)
    )
    outsider = actor_of(other_admin)
    with pytest.raises(roster.RosterError) as refused:
        roster.create_shift(clerk, starts_at=taipei(4, 11), ends_at=taipei(4, 20), actor=outsider)
    assert (refused.value.field, refused.value.status) == ("staff", 404)
    with pytest.raises(roster.RosterError) as refused:
        roster.delete_shift(shift, actor=outsider)
    assert refused.value.status == 404
    assert roster.shifts_between(outsider, start=taipei(1, 0), end=taipei(9, 0)) == []
    assert Shift.objects.filter(pk=shift.pk).exists()


def test_a_clerk_may_not_edit_the_roster_and_sees_only_their_own_shifts(
    brand, store, other_store, clerk, manager, hq_admin, hq_agent
):
    other_clerk = f.make_user(brand, "other-clerk", role="clerk", store=other_store)
    mine = roster.create_shift(clerk, starts_at=taipei(3, 11), ends_at=taipei(3, 20), actor=actor_of(manager))
    theirs = roster.create_shift(
        other_clerk, starts_at=taipei(3, 11), ends_at=taipei(3, 20), actor=actor_of(hq_admin)
    )
    with pytest.raises(roster.RosterError) as refused:
        roster.create_shift(clerk, starts_at=taipei(4, 11), ends_at=taipei(4, 20), actor=actor_of(clerk))
    assert refused.value.status == 403
    week = {"start": taipei(3, 0), "end": taipei(10, 0)}
    assert roster.shifts_between(actor_of(clerk), **week) == [mine]
    assert roster.shifts_between(actor_of(manager), **week) == [mine]
    assert {s.pk for s in roster.shifts_between(actor_of(hq_agent), **week)} == {mine.pk, theirs.pk}
    assert roster.shifts_between(actor_of(hq_admin), store=other_store, **week) == [theirs]


def test_an_uploaded_roster_in_big5_with_store_names(brand, store, other_store, clerk, hq_admin):
    raw = "employee_code,date,start,end,store\nE001,2025/03/04,9:00,18:00,高雄夢時代店\n".encode("big5")
    report = roster.import_shifts(raw, actor=actor_of(hq_admin))
    assert (report.rows, report.created, report.errors, report.applied) == (1, 1, [], True)
    shift = Shift.objects.get()
    assert (shift.store, shift.starts_at, shift.ends_at) == (other_store, taipei(4, 9), taipei(4, 18))


def test_an_uploaded_roster_all_or_nothing_keeps_nothing_when_a_row_is_bad(brand, store, clerk, hq_admin):
    raw = (
        b"employee_code,date,start,end\n"
        b"E001,2025-03-04,11:00,20:00\n"
        b"E001,2025-03-04,19:00,21:00\n"  # clashes with the row above
        b"E404,2025-03-05,11:00,20:00\n"
    )
    report = roster.import_shifts(raw, actor=actor_of(hq_admin), all_or_nothing=True)
    assert (report.created, report.applied) == (0, False)
    assert [(e["row"], e["field"]) for e in report.errors] == [(3, "starts_at"), (4, "employee_code")]
    assert not Shift.objects.exists()
    with pytest.raises(roster.RosterError, match="missing columns"):
        roster.import_shifts(b"name,day\n", actor=actor_of(hq_admin))
