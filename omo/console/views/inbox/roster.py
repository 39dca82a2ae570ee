"""The roster screens: the week's shifts per store, adding and deleting a shift, importing a CSV.

Shifts decide who is on duty when a conversation is routed to a store; managers edit their own
stores' roster, HQ any store's (omo.staff.roster checks it again).
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from omo.console.access import ConsoleRequest, actor_for, console_view, forbidden
from omo.console.pages import render_page
from omo.console.views.inbox.common import form_error, refused
from omo.staff import roster as staff_roster
from omo.staff.models import Shift, Store, User
from omo.staff.roles import Role

if TYPE_CHECKING:
    from omo.staff.requests import BrandStaff

ROSTER_EDITORS = (Role.HQ_ADMIN, Role.STORE_MANAGER)


class ShiftForm(forms.Form):
    staff = forms.ModelChoiceField(
        label=pgettext_lazy("console", "員工"),
        queryset=User.objects.none(),
        error_messages={
            "invalid_choice": pgettext_lazy("console", "查無此員工：只能排本品牌（您管理範圍內）的員工。"),
            "required": pgettext_lazy("console", "請選擇員工。"),
        },
    )
    store = forms.ModelChoiceField(
        label=pgettext_lazy("console", "門市"),
        queryset=Store.objects.none(),
        error_messages={
            "invalid_choice": pgettext_lazy("console", "查無此門市：只能排本品牌（您管理範圍內）的門市。"),
            "required": pgettext_lazy("console", "請選擇門市。"),
        },
    )
    starts_at = forms.DateTimeField(
        label=pgettext_lazy("console", "開始時間"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "required": pgettext_lazy("console", "請填開始時間。"),
            "invalid": pgettext_lazy("console", "開始時間格式不正確。"),
        },
    )
    ends_at = forms.DateTimeField(
        label=pgettext_lazy("console", "結束時間"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "required": pgettext_lazy("console", "請填結束時間。"),
            "invalid": pgettext_lazy("console", "結束時間格式不正確。"),
        },
    )

    def __init__(self, *args: Any, user: BrandStaff, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff = User.objects.filter(brand_id=user.brand_id, is_active=True).order_by("username")
        stores = Store.objects.filter(brand_id=user.brand_id, is_active=True)
        if user.role == Role.STORE_MANAGER:
            assert user.store_id is not None  # console_view turns store managers without a store away
            staff = staff.filter(store_id=user.store_id)
            stores = stores.filter(pk=user.store_id)
        cast("forms.ModelChoiceField[User]", self.fields["staff"]).queryset = staff
        cast("forms.ModelChoiceField[Store]", self.fields["store"]).queryset = stores

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at:
            if ends_at <= starts_at:
                self.add_error("ends_at", pgettext("console", "結束時間必須晚於開始時間。"))
            elif ends_at - starts_at > dt.timedelta(hours=24):
                self.add_error("ends_at", pgettext("console", "一個班最長 24 小時。"))
            elif data.get("staff") and staff_roster.overlapping(data["staff"], starts_at, ends_at).exists():
                self.add_error("starts_at", pgettext("console", "與此員工的另一個班別時間重疊。"))
        return data


class ShiftImportForm(forms.Form):
    file = forms.FileField(
        label=pgettext_lazy("console", "CSV 檔案（UTF-8 或 Big5）"),
        error_messages={"required": pgettext_lazy("console", "請選擇要上傳的 CSV 檔案。")},
    )
    mode = forms.ChoiceField(
        label=pgettext_lazy("console", "錯誤處理"),
        choices=[
            ("valid_rows", pgettext_lazy("console", "匯入正確的列，回報錯誤列")),
            ("all_or_nothing", pgettext_lazy("console", "任何一列有錯就全部不匯入")),
        ],
        initial="valid_rows",
    )

    def clean_file(self) -> UploadedFile:
        upload = self.cleaned_data["file"]
        if upload.size > 2 * 1024 * 1024:
            raise forms.ValidationError(pgettext("console", "班表檔案超過 2 MB。"))
        return upload


def _week_start(request: ConsoleRequest) -> dt.date:
    today = timezone.localdate()
    try:
        day = dt.date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        day = today
    return day - dt.timedelta(days=day.weekday())


def _roster_stores(user: BrandStaff) -> QuerySet[Store]:
    stores = Store.objects.filter(brand_id=user.brand_id)
    if user.role == Role.STORE_MANAGER:
        assert user.store_id is not None  # console_view turns store managers without a store away
        stores = stores.filter(pk=user.store_id)
    return stores


def _render_roster(
    request: ConsoleRequest,
    *,
    form: ShiftForm | None = None,
    import_form: ShiftImportForm | None = None,
    report: staff_roster.ShiftImportReport | None = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    monday = _week_start(request)
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=zone)
    end = start + dt.timedelta(days=7)
    stores = _roster_stores(user)
    store: Store | None = None
    if request.GET.get("store"):
        store = stores.filter(pk=request.GET["store"]).first() if request.GET["store"].isdigit() else None
    shifts = staff_roster.shifts_between(actor_for(request), start=start, end=end, store=store)
    days = []
    for offset in range(7):
        day = monday + dt.timedelta(days=offset)
        days.append(
            {
                "date": day,
                "shifts": [s for s in shifts if timezone.localtime(s.starts_at).date() == day],
            }
        )
    return render_page(
        request,
        "console/inbox/roster.html",
        {
            "days": days,
            "monday": monday,
            "sunday": monday + dt.timedelta(days=6),
            "previous_week": monday - dt.timedelta(days=7),
            "next_week": monday + dt.timedelta(days=7),
            "stores": stores,
            "selected_store": store,
            "can_edit": user.role in ROSTER_EDITORS,
            "form": form or ShiftForm(user=user),
            "import_form": import_form or ShiftImportForm(),
            "report": report,
            "shift_count": len(shifts),
        },
        status=status,
    )


@console_view()
@never_cache
def roster(request: ConsoleRequest) -> HttpResponse:
    """The week's shifts; POST adds one (HQ admins anywhere, a store manager in their store)."""
    user = request.user
    if request.method != "POST":
        return _render_roster(request)
    if user.role not in ROSTER_EDITORS:
        return forbidden(request, pgettext("console", "只有總部管理員與店長可以編輯班表。"), show_home=True)
    form = ShiftForm(request.POST, user=user)
    if form.is_valid():
        try:
            shift = staff_roster.create_shift(
                form.cleaned_data["staff"],
                starts_at=form.cleaned_data["starts_at"],
                ends_at=form.cleaned_data["ends_at"],
                store=form.cleaned_data["store"],
                actor=actor_for(request),
            )
        except staff_roster.RosterError as exc:
            form_error(form, exc)
        else:
            messages.success(
                request,
                pgettext("console", "已新增 %(staff)s 的班別。") % {"staff": shift.staff},
            )
            local = timezone.localtime(shift.starts_at).date()
            return redirect(f"{reverse('console:inbox_roster')}?week={local.isoformat()}")
    return _render_roster(request, form=form, status=400)


@console_view()
@require_POST
def shift_delete(request: ConsoleRequest, pk: int) -> HttpResponse:
    user = request.user
    shift = Shift.objects.filter(brand_id=user.brand_id, pk=pk).select_related("staff", "store").first()
    if shift is None:
        raise Http404("no such shift")
    if user.role not in ROSTER_EDITORS:
        return forbidden(request, pgettext("console", "只有總部管理員與店長可以編輯班表。"), show_home=True)
    try:
        staff_roster.delete_shift(shift, actor=actor_for(request))
    except staff_roster.RosterError as exc:
        return refused(request, exc)
    messages.success(request, pgettext("console", "已刪除 %(staff)s 的班別。") % {"staff": shift.staff})
    week = timezone.localtime(shift.starts_at).date().isoformat()
    return redirect(f"{reverse('console:inbox_roster')}?week={week}")


@console_view()
@require_POST
def roster_import(request: ConsoleRequest) -> HttpResponse:
    user = request.user
    if user.role not in ROSTER_EDITORS:
        return forbidden(request, pgettext("console", "只有總部管理員與店長可以編輯班表。"), show_home=True)
    form = ShiftImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_roster(request, import_form=form, status=400)
    try:
        report = staff_roster.import_shifts(
            form.cleaned_data["file"].read(),
            actor=actor_for(request),
            all_or_nothing=form.cleaned_data["mode"] == "all_or_nothing",
        )
    except staff_roster.RosterError as exc:
        form.add_error("file", exc.message)
        return _render_roster(request, import_form=form, status=400)
    if report.created:
        messages.success(
            request, pgettext("console", "已匯入 %(count)s 個班別。") % {"count": report.created}
        )
    return _render_roster(request, report=report, import_form=ShiftImportForm(), status=200)
