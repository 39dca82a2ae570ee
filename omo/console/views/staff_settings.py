"""設定 → 門市 / 員工: open, edit and close stores (HQ admin); add, edit and deactivate staff (HQ
admin: anyone; store manager: the clerks of their own store). The rules live in omo.staff.services;
these pages parse the form, call one service and show its refusal next to the field it names."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache

from omo.binding.selectors import bound_bindings
from omo.console.access import ConsoleRequest, actor_for, console_view, forbidden
from omo.console.pages import render_page
from omo.core.access import Scope
from omo.core.errors import DomainError
from omo.staff import services
from omo.staff.models import Store, User
from omo.staff.roles import Role
from omo.staff.selectors import store_directory, visible_staff

DAY_LABELS = (
    ("mon", pgettext_lazy("weekday", "週一")),
    ("tue", pgettext_lazy("weekday", "週二")),
    ("wed", pgettext_lazy("weekday", "週三")),
    ("thu", pgettext_lazy("weekday", "週四")),
    ("fri", pgettext_lazy("weekday", "週五")),
    ("sat", pgettext_lazy("weekday", "週六")),
    ("sun", pgettext_lazy("weekday", "週日")),
)
_SPAN = re.compile(r"^\s*(\d{1,2}:\d{2})\s*[-–~]\s*(\d{1,2}:\d{2})\s*$")


def _apply(form: forms.Form, exc: DomainError) -> None:
    """Show a service's refusal next to the field it names (hours errors on the first day)."""
    field = exc.field
    if field == "opening_hours":
        field = "hours_mon"
    if field == "store_id":
        field = "store"
    form.add_error(field if field in form.fields else None, exc.message)


class StoreForm(forms.Form):
    code = forms.CharField(label=pgettext_lazy("console", "門市代碼"), max_length=30)
    name = forms.CharField(label=pgettext_lazy("console", "門市名稱"), max_length=120)
    name_en = forms.CharField(label=pgettext_lazy("console", "英文名稱"), max_length=120, required=False)
    city = forms.CharField(label=pgettext_lazy("console", "城市"), max_length=40, required=False)
    address = forms.CharField(label=pgettext_lazy("console", "地址"), max_length=250, required=False)
    phone = forms.CharField(label=pgettext_lazy("console", "電話"), max_length=30, required=False)
    is_active = forms.BooleanField(label=pgettext_lazy("console", "營業中"), required=False, initial=True)

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        for day, label in DAY_LABELS:
            self.fields[f"hours_{day}"] = forms.CharField(
                label=label,
                required=False,
                help_text=pgettext_lazy("console", "例如 10:00-21:30；多個時段以逗號分隔；空白為公休"),
            )

    @staticmethod
    def initial_for(store: Store) -> dict[str, Any]:
        initial: dict[str, Any] = {
            name: getattr(store, name) for name in services.STORE_FIELDS if name != "opening_hours"
        }
        for day, _label in DAY_LABELS:
            spans = (store.opening_hours or {}).get(day, [])
            initial[f"hours_{day}"] = ", ".join(f"{opens}-{closes}" for opens, closes in spans)
        return initial

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        hours: dict[str, list[list[str]]] = {}
        for day, _label in DAY_LABELS:
            raw = (data.get(f"hours_{day}") or "").strip()
            spans = []
            for part in filter(None, (p.strip() for p in raw.split(","))):
                match = _SPAN.match(part)
                if not match:
                    self.add_error(f"hours_{day}", pgettext("console", "請以 10:00-21:30 的格式填寫"))
                    break
                spans.append([time.zfill(5) for time in match.groups()])
            if spans:
                hours[day] = spans
        data["opening_hours"] = hours
        return data

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in services.STORE_FIELDS}


def _stores_for_staff(request: ConsoleRequest):
    stores = store_directory(actor_for(request)).filter(is_active=True).order_by("code")
    if request.user.scope != Scope.BRAND:
        stores = stores.filter(pk=request.user.store_id or 0)
    return stores


class StaffForm(forms.Form):
    username = forms.CharField(label=pgettext_lazy("console", "帳號"), max_length=150)
    display_name = forms.CharField(label=pgettext_lazy("console", "顯示名稱"), max_length=80, required=False)
    employee_code = forms.CharField(label=pgettext_lazy("console", "員工編號"), max_length=40, required=False)
    role = forms.ChoiceField(label=pgettext_lazy("console", "角色"), choices=Role.choices, initial=Role.CLERK)
    store = forms.ModelChoiceField(
        label=pgettext_lazy("console", "門市"), queryset=Store.objects.none(), required=False
    )
    email = forms.EmailField(label=pgettext_lazy("console", "電子郵件"), required=False)
    phone = forms.CharField(label=pgettext_lazy("console", "電話"), max_length=30, required=False)
    password = forms.CharField(
        label=pgettext_lazy("console", "初始密碼"),
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=pgettext_lazy("console", "留白則由系統產生，只顯示一次。"),
    )
    is_active = forms.BooleanField(label=pgettext_lazy("console", "啟用"), required=False, initial=True)

    def __init__(self, *args: Any, request: ConsoleRequest, member: User | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = _stores_for_staff(request)  # type: ignore[attr-defined]
        if request.user.scope != Scope.BRAND:  # a store manager: clerks of their store only
            self.fields["role"].choices = [(Role.CLERK, Role.CLERK.label)]  # type: ignore[attr-defined]
            self.fields["store"].required = True
        if member is None:
            del self.fields["is_active"]
        else:
            del self.fields["username"]
            self.fields["password"].label = pgettext_lazy("console", "新密碼")
            self.fields["password"].help_text = pgettext_lazy("console", "留白則不變更。")
            if request.user.scope != Scope.BRAND:
                del self.fields["role"]
                del self.fields["store"]


def _member(request: ConsoleRequest, pk: int) -> User:
    member = visible_staff(actor_for(request)).select_related("store").filter(pk=pk).first()
    if member is None:
        raise Http404
    return member


@console_view("stores.write", brand_wide=True)
def store_create(request: ConsoleRequest) -> HttpResponse:
    form = StoreForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            store = services.create_store(request.user.brand, actor=actor_for(request), **form.values())
        except DomainError as exc:
            _apply(form, exc)
        else:
            messages.success(request, pgettext("console", "已新增門市「%(name)s」。") % {"name": store.name})
            return redirect("console:stores")
    return render_page(request, "console/settings/store_form.html", {"form": form, "store": None})


@console_view("stores.write", brand_wide=True)
def store_edit(request: ConsoleRequest, pk: int) -> HttpResponse:
    store = store_directory(actor_for(request)).filter(pk=pk).first()
    if store is None:
        raise Http404
    form = StoreForm(request.POST or None, initial=StoreForm.initial_for(store))
    if request.method == "POST" and form.is_valid():
        try:
            services.update_store(store, actor=actor_for(request), **form.values())
        except DomainError as exc:
            _apply(form, exc)
        else:
            messages.success(request, pgettext("console", "已更新門市「%(name)s」。") % {"name": store.name})
            return redirect("console:stores")
    active_staff = store.staff.filter(is_active=True).count()
    return render_page(
        request,
        "console/settings/store_form.html",
        {"form": form, "store": store, "active_staff": active_staff},
    )


@console_view("staff.write")
@never_cache
def staff_create(request: ConsoleRequest) -> HttpResponse:
    """On success a generated password is rendered into this one response and never shown again."""
    form = StaffForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            member, generated = services.create_staff(
                request.user.brand,
                actor=actor_for(request),
                username=data["username"],
                role=data["role"],
                store_id=data["store"].pk if data["store"] else None,
                display_name=data["display_name"],
                employee_code=data["employee_code"],
                email=data["email"],
                phone=data["phone"],
                password=data["password"] or None,
            )
        except DomainError as exc:
            _apply(form, exc)
        else:
            if generated is None:
                messages.success(request, pgettext("console", "已新增員工「%(name)s」。") % {"name": member})
                return redirect("console:staff")
            return render_page(
                request, "console/settings/staff_created.html", {"member": member, "password": generated}
            )
    return render_page(request, "console/settings/staff_form.html", {"form": form, "member": None})


@console_view("staff.write")
def staff_edit(request: ConsoleRequest, pk: int) -> HttpResponse:
    member = _member(request, pk)
    if request.user.scope != Scope.BRAND and member.role != Role.CLERK:
        return forbidden(request, pgettext("console", "店長只能管理自己門市的店員。"), show_home=True)
    initial = {
        "display_name": member.display_name,
        "employee_code": member.employee_code,
        "role": member.role,
        "store": member.store_id,
        "email": member.email,
        "phone": member.phone,
        "is_active": member.is_active,
    }
    form = StaffForm(request.POST or None, request=request, member=member, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes: dict[str, Any] = {
            name: data[name]
            for name in ("display_name", "employee_code", "email", "phone", "is_active", "role")
            if name in form.fields
        }
        if "store" in form.fields:
            changes["store_id"] = data["store"].pk if data["store"] else None
        if data["password"]:
            changes["password"] = data["password"]
        was_active = member.is_active
        try:
            services.update_staff(member, actor=actor_for(request), **changes)
        except DomainError as exc:
            _apply(form, exc)
        else:
            messages.success(request, pgettext("console", "已更新員工「%(name)s」。") % {"name": member})
            still_bound = bound_bindings(member).count() if member.role == Role.CLERK else 0
            if was_active and not member.is_active and still_bound and request.user.can("bindings.transfer"):
                # A departing clerk's customers would wait on nobody: send the manager to move them.
                messages.warning(
                    request,
                    pgettext("console", "%(name)s 已停用，仍綁定 %(n)s 位顧客，請轉移給其他店員。")
                    % {"name": member, "n": still_bound},
                )
                return redirect("console:staff_transfer", pk=member.pk)
            return redirect("console:staff")
    bound = bound_bindings(member).count() if member.role == Role.CLERK else 0
    return render_page(
        request,
        "console/settings/staff_form.html",
        {
            "form": form,
            "member": member,
            "bound": bound,
            "may_transfer": bound > 0 and request.user.can("bindings.transfer"),
        },
    )
