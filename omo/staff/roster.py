"""The roster: who is on duty at which store when, kept by HQ admins and store managers.

Verbs (create, update, delete, CSV import) take the acting user as `actor` and raise
RosterError(field, message, status) on bad input or a refused edit. Reads for other apps:
`duty_state` (inbox routing asks it whether a clerk is in a shift) and `overlapping`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from dataclasses import dataclass, field
from typing import TypedDict

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext

from omo.core import audit
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.imports import ImportFileError, decode_csv, read_rows
from omo.staff.models import Shift, Store, User
from omo.staff.roles import Role


class RosterError(FieldError, ValueError):
    status = 400


# --- reads ---------------------------------------------------------------------------------------


def _shifts_of(staff: User) -> QuerySet[Shift]:
    """The staff member's shifts: none for an account without a brand (it has no roster)."""
    if staff.brand_id is None:
        return Shift.objects.none()
    return Shift.objects.filter(brand_id=staff.brand_id, staff=staff)


def duty_state(staff: User, at: dt.datetime) -> tuple[bool, bool]:
    """(has any shift at all, is in a shift at `at`), answered in one query."""
    counts = _shifts_of(staff).aggregate(
        any=Count("id"), now=Count("id", filter=Q(starts_at__lte=at, ends_at__gt=at))
    )
    return counts["any"] > 0, counts["now"] > 0


def overlapping(staff: User, starts_at: dt.datetime, ends_at: dt.datetime) -> QuerySet[Shift]:
    """This staff member's shifts that overlap [starts_at, ends_at)."""
    return _shifts_of(staff).filter(starts_at__lt=ends_at, ends_at__gt=starts_at)


# --- verbs ---------------------------------------------------------------------------------------


def _check_roster(actor: Actor, staff: User | None, store: Store | None) -> Store:
    """The store the shift is at, once the actor may edit its roster."""
    if staff is None or staff.brand_id != actor.brand.pk:
        raise RosterError("staff", "no such staff member in this brand", status=404)
    if store is None or store.brand_id != actor.brand.pk:
        raise RosterError("store", "no such store in this brand", status=404)
    if actor.role == Role.HQ_ADMIN:
        return store
    if actor.role == Role.STORE_MANAGER and actor.store_id and store.pk == actor.store_id:
        return store
    raise RosterError("actor", "only HQ admins and the store's manager edit its roster", status=403)


def _check_times(starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    if timezone.is_naive(starts_at) or timezone.is_naive(ends_at):
        raise RosterError("starts_at", "times need a time zone")
    if ends_at <= starts_at:
        raise RosterError("ends_at", "a shift ends after it starts")
    if ends_at - starts_at > dt.timedelta(hours=24):
        raise RosterError("ends_at", "a shift lasts at most 24 hours")


@transaction.atomic
def create_shift(
    staff: User, *, starts_at: dt.datetime, ends_at: dt.datetime, actor: Actor, store: Store | None = None
) -> Shift:
    store = _check_roster(actor, staff, store or staff.store)
    _check_times(starts_at, ends_at)
    if overlapping(staff, starts_at, ends_at).exists():
        raise RosterError("starts_at", "overlaps another shift of this staff member")
    shift = Shift.objects.create(
        brand_id=actor.brand.pk, staff=staff, store=store, starts_at=starts_at, ends_at=ends_at
    )
    audit.record(actor, "roster.shift_created", shift, staff=staff.pk)
    return shift


@transaction.atomic
def update_shift(shift: Shift, *, starts_at: dt.datetime, ends_at: dt.datetime, actor: Actor) -> Shift:
    _check_roster(actor, shift.staff, shift.store)
    _check_times(starts_at, ends_at)
    if overlapping(shift.staff, starts_at, ends_at).exclude(pk=shift.pk).exists():
        raise RosterError("starts_at", "overlaps another shift of this staff member")
    shift.starts_at, shift.ends_at = starts_at, ends_at
    shift.save(update_fields=["starts_at", "ends_at"])
    audit.record(actor, "roster.shift_updated", shift)
    return shift


@transaction.atomic
def delete_shift(shift: Shift, *, actor: Actor) -> None:
    _check_roster(actor, shift.staff, shift.store)
    audit.record(actor, "roster.shift_deleted", shift, staff=shift.staff_id)
    shift.delete()


def shifts_between(
    actor: Actor, *, start: dt.datetime, end: dt.datetime, store: Store | None = None
) -> list[Shift]:
    """The shifts overlapping [start, end) that the actor may see: all of the brand for HQ, the
    manager's store for a store manager, their own for anyone else; optionally one store's."""
    shifts = Shift.objects.select_related("staff", "store").filter(
        brand_id=actor.brand.pk, starts_at__lt=end, ends_at__gt=start
    )
    if actor.role == Role.STORE_MANAGER:
        # every shift is at a store: a manager without one sees none
        shifts = shifts.filter(store_id=actor.store_id) if actor.store_id is not None else shifts.none()
    elif actor.role != Role.HQ_ADMIN and actor.role != Role.HQ_AGENT:
        shifts = shifts.filter(staff_id=actor.user_id)
    if store is not None:
        shifts = shifts.filter(store_id=store.pk)
    return list(shifts.order_by("starts_at", "staff_id"))


ROSTER_COLUMNS = ("employee_code", "date", "start", "end")


class RowError(TypedDict):
    row: int
    field: str
    message: str


@dataclass
class RosterImportReport:
    created: int = 0
    errors: list[RowError] = field(default_factory=list)


def import_roster_csv(text: str, *, actor: Actor) -> RosterImportReport:
    """Roster CSV: employee_code,date,start,end[,store_code], e.g. `E001,2025-03-01,11:00,20:00`.

    Times are the brand's local time; an end before the start runs past midnight. Each bad row is
    reported with its number and field; the good rows are imported (all or nothing per row).
    """
    report = RosterImportReport()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = [h.strip() for h in reader.fieldnames or []]
    missing = [c for c in ROSTER_COLUMNS if c not in header]
    if missing:
        raise RosterError(
            "file", f"missing columns: {', '.join(missing)} (need {', '.join(ROSTER_COLUMNS)}[,store_code])"
        )
    tz = zoneinfo.ZoneInfo(actor.brand.time_zone or "Asia/Taipei")
    for number, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        staff = User.objects.filter(brand_id=actor.brand.pk, employee_code=row["employee_code"]).first()
        if staff is None:
            report.errors.append({"row": number, "field": "employee_code", "message": "no such employee"})
            continue
        store = staff.store
        if row.get("store_code"):
            store = Store.objects.filter(brand_id=actor.brand.pk, code=row["store_code"]).first()
            if store is None:
                report.errors.append({"row": number, "field": "store_code", "message": "no such store"})
                continue
        try:
            day = dt.date.fromisoformat(row["date"])
        except ValueError:
            report.errors.append({"row": number, "field": "date", "message": "use YYYY-MM-DD"})
            continue
        times = []
        for column in ("start", "end"):
            try:
                times.append(dt.time.fromisoformat(row[column]))
            except ValueError:
                report.errors.append({"row": number, "field": column, "message": "use HH:MM"})
                break
        if len(times) != 2:
            continue
        starts_at = dt.datetime.combine(day, times[0], tzinfo=tz)
        ends_at = dt.datetime.combine(day, times[1], tzinfo=tz)
        if ends_at <= starts_at:
            ends_at += dt.timedelta(days=1)
        try:
            create_shift(staff, starts_at=starts_at, ends_at=ends_at, actor=actor, store=store)
        except RosterError as exc:
            report.errors.append({"row": number, "field": exc.field, "message": exc.message})
            continue
        report.created += 1
    return report


# --- roster file upload ------------------------------------------------------------------------

SHIFT_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d")
SHIFT_STORE_COLUMNS = ("store", "store_code", "store_name")


@dataclass
class ShiftImportReport(RosterImportReport):
    rows: int = 0
    applied: bool = True  # False: all-or-nothing and a row was bad, so nothing was kept


class _RollBack(Exception):
    pass


def _shift_time(value: str, column: str) -> dt.time:
    for pattern in ("%H:%M", "%H:%M:%S"):  # spreadsheets write 9:00 as well as 09:00
        try:
            return dt.datetime.strptime(value, pattern).time()
        except ValueError:
            continue
    raise RosterError(column, gettext("時間格式為 HH:MM"))


def _shift_row(row: dict[str, str], *, actor: Actor, tz: zoneinfo.ZoneInfo) -> Shift:
    code = row.get("employee_code", "")
    staff = User.objects.filter(brand_id=actor.brand.pk, employee_code=code).first() if code else None
    if staff is None:
        raise RosterError("employee_code", gettext("查無此員工編號"))
    store = staff.store
    wanted = next((row[c] for c in SHIFT_STORE_COLUMNS if row.get(c)), "")
    if wanted:
        stores = Store.objects.filter(brand_id=actor.brand.pk)
        store = stores.filter(code=wanted).first() or stores.filter(name=wanted).first()
        if store is None:
            raise RosterError("store", gettext("查無此門市代碼或名稱"))
    if store is None:
        raise RosterError("store", gettext("員工未指定門市，請填門市欄"))
    day = None
    for pattern in SHIFT_DATE_FORMATS:
        try:
            day = dt.datetime.strptime(row.get("date", ""), pattern).date()
            break
        except ValueError:
            continue
    if day is None:
        raise RosterError("date", gettext("日期格式為 YYYY-MM-DD"))
    times = [_shift_time(row.get(column, ""), column) for column in ("start", "end")]
    starts_at = dt.datetime.combine(day, times[0], tzinfo=tz)
    ends_at = dt.datetime.combine(day, times[1], tzinfo=tz)
    if ends_at <= starts_at:  # a night shift runs past midnight
        ends_at += dt.timedelta(days=1)
    return create_shift(staff, starts_at=starts_at, ends_at=ends_at, actor=actor, store=store)


def import_shifts(raw: bytes, *, actor: Actor, all_or_nothing: bool = False) -> ShiftImportReport:
    """An uploaded roster CSV: UTF-8 (with or without BOM) or Big5, read by the import engine.

    Columns employee_code,date,start,end and optionally store (a store code or name; also
    store_code / store_name). Dates YYYY-MM-DD or YYYY/MM/DD in the brand's time zone; an end
    before the start runs past midnight. Every bad row is reported with its number and column.
    all_or_nothing: one bad row (or one clashing with an earlier row) and nothing is kept.
    """
    try:
        header, rows = read_rows(decode_csv(raw))
    except ImportFileError as exc:
        raise RosterError("file", exc.message) from exc
    missing = [c for c in ROSTER_COLUMNS if c not in header]
    if missing:
        raise RosterError(
            "file", f"missing columns: {', '.join(missing)} (need {', '.join(ROSTER_COLUMNS)}[,store])"
        )
    tz = zoneinfo.ZoneInfo(actor.brand.time_zone or "Asia/Taipei")
    report = ShiftImportReport(rows=len(rows))
    try:
        with transaction.atomic():
            for number, row in rows:
                try:
                    with transaction.atomic():
                        _shift_row(row, actor=actor, tz=tz)
                except RosterError as exc:
                    report.errors.append({"row": number, "field": exc.field, "message": exc.message})
                    continue
                report.created += 1
            if all_or_nothing and report.errors:
                raise _RollBack
    except _RollBack:
        report.created, report.applied = 0, False
    return report
