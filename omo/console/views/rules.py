"""The brand's rules under 設定: binding policy, attribution, inbox SLA and opening hours, points and tiers.

Who may do what: HQ (admins and agents) see every rule page, with the value in force (the default
when never set); only HQ admins change them (permission rules.write), every change audited by the
owning app's service. Store managers and clerks are refused (the pages are brand-wide settings).
Each page has the same rule at /api/v1/settings/... (see docs/settings.md).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.http import require_POST

from omo.attribution.services import rules as attribution_rules
from omo.binding import selectors as binding_selectors
from omo.binding.models import BindingPolicy
from omo.binding.services import policy as binding_policy
from omo.console.access import ConsoleRequest, actor_for, console_view, forbidden
from omo.console.pages import render_page
from omo.core.errors import DomainError
from omo.core.money import exponent
from omo.inbox import rules as inbox_rules
from omo.inbox import selectors as inbox_selectors
from omo.loyalty import selectors as loyalty_selectors
from omo.loyalty.models import Tier
from omo.loyalty.services import ledger
from omo.loyalty.services import rules as loyalty_rules
from omo.staff import hours
from omo.staff.models import Store
from omo.staff.selectors import visible_stores

DAY_LABELS = {
    "mon": pgettext_lazy("weekday", "週一"),
    "tue": pgettext_lazy("weekday", "週二"),
    "wed": pgettext_lazy("weekday", "週三"),
    "thu": pgettext_lazy("weekday", "週四"),
    "fri": pgettext_lazy("weekday", "週五"),
    "sat": pgettext_lazy("weekday", "週六"),
    "sun": pgettext_lazy("weekday", "週日"),
}

READ = "rules.read"
WRITE = "rules.write"


def _may_write(request: ConsoleRequest) -> bool:
    return request.user.can(WRITE)


def _refuse_write(request: ConsoleRequest) -> HttpResponse | None:
    if request.method == "POST" and not _may_write(request):
        return forbidden(request, pgettext("console", "只有總部管理員可以變更品牌規則。"), show_home=True)
    return None


def _show_error(form: forms.Form, exc: DomainError, fields: dict[str, str] | None = None) -> None:
    """Put a service's refusal on the form field it names (or on the form when it names none here)."""
    name = (fields or {}).get(exc.field or "", exc.field)
    form.add_error(name if name in form.fields else None, exc.message)


def _minor(currency: str) -> int:
    return 10 ** exponent(currency)


# --- binding policy ---------------------------------------------------------------------------


class BindingPolicyForm(forms.Form):
    rule = forms.ChoiceField(
        label=pgettext_lazy("console", "綁定規則"),
        choices=BindingPolicy.Rule.choices,
        widget=forms.RadioSelect,
    )
    lock_days = forms.CharField(
        label=pgettext_lazy("console", "鎖定天數"),
        required=False,
        help_text=pgettext_lazy("console", "只在「鎖定 N 天後可改綁」時需要，1–365 天。"),
    )


@console_view(READ, brand_wide=True)
def binding_settings(request: ConsoleRequest) -> HttpResponse:
    refused = _refuse_write(request)
    if refused is not None:
        return refused
    brand = request.user.brand
    current = binding_selectors.policy_for(brand.pk)
    form = BindingPolicyForm(
        request.POST or None, initial={"rule": current.rule, "lock_days": current.lock_days}
    )
    if request.method == "POST" and form.is_valid():
        try:
            binding_policy.update_policy(
                brand,
                rule=form.cleaned_data["rule"],
                lock_days=form.cleaned_data["lock_days"] or None,
                actor=actor_for(request),
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, pgettext("console", "已更新綁定規則。"))
            return redirect("console:rules_binding")
    choices = [
        {"value": value, "label": label, "explanation": binding_policy.explain(value, current.lock_days)}
        for value, label in BindingPolicy.Rule.choices
    ]
    return render_page(
        request,
        "console/settings/rules_binding.html",
        {
            "form": form,
            "policy": current,
            "explanation": binding_policy.explain(current.rule, current.lock_days),
            "choices": choices,
            "may_write": _may_write(request),
        },
        status=400 if request.method == "POST" else 200,
    )


# --- attribution --------------------------------------------------------------------------------


class AttributionForm(forms.Form):
    window_days = forms.CharField(
        label=pgettext_lazy("console", "導購連結歸屬天數"),
        help_text=pgettext_lazy("console", "顧客點擊店員連結後幾天內下單，業績算給該店員（1–90 天）。"),
    )
    credit_bound_clerk = forms.BooleanField(
        label=pgettext_lazy("console", "其他規則都不適用時，業績歸給綁定店員"), required=False
    )


@console_view(READ, brand_wide=True)
def attribution_settings(request: ConsoleRequest) -> HttpResponse:
    refused = _refuse_write(request)
    if refused is not None:
        return refused
    brand = request.user.brand
    current = attribution_rules.rules_for(brand)
    if request.method == "POST" and "move" in request.POST:
        rule, _, direction = request.POST["move"].partition(":")
        try:
            order = [step.rule for step in attribution_rules.precedence(current)]
            attribution_rules.update_rules(
                brand, precedence=attribution_rules.moved(order, rule, direction), actor=actor_for(request)
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, pgettext("console", "已更新歸屬順序。"))
        return redirect("console:rules_attribution")
    form = AttributionForm(
        request.POST or None,
        initial={"window_days": current.window_days, "credit_bound_clerk": current.credit_bound_clerk},
    )
    if request.method == "POST" and form.is_valid():
        try:
            attribution_rules.update_rules(
                brand,
                window_days=form.cleaned_data["window_days"],
                credit_bound_clerk=form.cleaned_data["credit_bound_clerk"],
                actor=actor_for(request),
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, pgettext("console", "已更新業績歸屬規則。"))
            return redirect("console:rules_attribution")
    return render_page(
        request,
        "console/settings/rules_attribution.html",
        {
            "form": form,
            "settings": current,
            "steps": attribution_rules.precedence(current),
            "may_write": _may_write(request),
        },
        status=400 if request.method == "POST" else 200,
    )


# --- inbox: SLA and opening hours ------------------------------------------------------------------


class SlaForm(forms.Form):
    sla_minutes = forms.CharField(
        label=pgettext_lazy("console", "首次回覆時限（分鐘）"),
        help_text=pgettext_lazy("console", "顧客等待超過此時間（只計門市營業時間）即升級處理，1–1440 分鐘。"),
    )


class HoursForm(forms.Form):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for day in hours.DAY_KEYS:
            self.fields[day] = forms.CharField(
                label=DAY_LABELS[day],
                required=False,
                help_text=pgettext_lazy("console", "例如 10:00-21:30；多個時段以逗號分隔；留空 = 公休。"),
            )


def _week_rows(stores: list[Store]) -> list[dict[str, Any]]:
    return [
        {
            "store": store,
            "days": [
                (DAY_LABELS[day], hours.day_text((store.opening_hours or {}).get(day)))
                for day in hours.DAY_KEYS
            ],
        }
        for store in stores
    ]


@console_view(READ, brand_wide=True)
def inbox_settings(request: ConsoleRequest) -> HttpResponse:
    refused = _refuse_write(request)
    if refused is not None:
        return refused
    brand = request.user.brand
    current = inbox_selectors.inbox_settings(brand.pk)
    form = SlaForm(request.POST or None, initial={"sla_minutes": current.sla_minutes})
    if request.method == "POST" and form.is_valid():
        try:
            inbox_rules.update_sla(
                brand, sla_minutes=form.cleaned_data["sla_minutes"], actor=actor_for(request)
            )
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, pgettext("console", "已更新回覆時限。"))
            return redirect("console:rules_inbox")
    stores = list(visible_stores(actor_for(request)).order_by("code"))
    return render_page(
        request,
        "console/settings/rules_inbox.html",
        {"form": form, "settings": current, "stores": _week_rows(stores), "may_write": _may_write(request)},
        status=400 if request.method == "POST" else 200,
    )


@console_view(READ, brand_wide=True)
def store_hours(request: ConsoleRequest, pk: int) -> HttpResponse:
    store = visible_stores(actor_for(request)).filter(pk=pk).first()
    if store is None:
        raise Http404
    refused = _refuse_write(request)
    if refused is not None:
        return refused
    week = store.opening_hours or {}
    form = HoursForm(
        request.POST or None, initial={day: hours.day_text(week.get(day)) for day in hours.DAY_KEYS}
    )
    if request.method == "POST" and form.is_valid():
        try:
            typed = {day: hours.parse_day_text(form.cleaned_data[day], day) for day in hours.DAY_KEYS}
            hours.set_opening_hours(store, typed, actor=actor_for(request))
        except DomainError as exc:
            _show_error(form, exc, {f"opening_hours.{day}": day for day in hours.DAY_KEYS})
        else:
            messages.success(request, pgettext("console", "已更新門市營業時間。"))
            return redirect("console:rules_inbox")
    return render_page(
        request,
        "console/settings/rules_store_hours.html",
        {"form": form, "store": store, "may_write": _may_write(request)},
        status=400 if request.method == "POST" else 200,
    )


# --- points and tiers ------------------------------------------------------------------------------


class ProgramForm(forms.Form):
    earn_points = forms.CharField(label=pgettext_lazy("console", "每次累積點數"))
    earn_per_amount = forms.CharField(label=pgettext_lazy("console", "每消費金額（元）"))
    point_value = forms.CharField(label=pgettext_lazy("console", "每點折抵金額（元）"))
    max_redeem_percent = forms.CharField(label=pgettext_lazy("console", "點數折抵上限（訂單金額 %）"))
    expiry_months = forms.CharField(
        label=pgettext_lazy("console", "點數效期（月）"), help_text=pgettext_lazy("console", "0 = 永不到期")
    )
    tier_window_days = forms.CharField(label=pgettext_lazy("console", "會員等級計算期間（天）"))


MONEY_FIELDS = ("earn_per_amount", "point_value")


class TierForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("console", "等級名稱"), required=False)
    name_en = forms.CharField(label=pgettext_lazy("console", "英文名稱"), required=False)
    threshold = forms.CharField(
        label=pgettext_lazy("console", "消費門檻（元）"),
        required=False,
        help_text=pgettext_lazy("console", "計算期間內的消費金額達到此門檻即升級；每個等級的門檻須不同。"),
    )
    earn_multiplier_percent = forms.CharField(
        label=pgettext_lazy("console", "點數倍率（%）"),
        required=False,
        help_text=pgettext_lazy("console", "100 = 一般累點；較高等級的倍率不可低於較低等級。"),
    )


def _to_minor(raw: Any, scale: int) -> Any:
    """Whole currency units typed on the page to minor units; anything else is left for the service to refuse."""
    try:
        return int(str(raw).strip().replace(",", "")) * scale
    except (TypeError, ValueError):
        return raw


def _tier_values(form: TierForm, scale: int) -> dict[str, Any]:
    data = form.cleaned_data
    return {
        "name": data["name"],
        "name_en": data["name_en"],
        "threshold": _to_minor(data["threshold"], scale),
        "earn_multiplier_percent": data["earn_multiplier_percent"] or 100,
    }


@console_view(READ, brand_wide=True)
def loyalty_settings(request: ConsoleRequest) -> HttpResponse:
    refused = _refuse_write(request)
    if refused is not None:
        return refused
    brand = request.user.brand
    scale = _minor(brand.currency)
    program = ledger.program_for(brand)
    shown = {name: getattr(program, name) for name in loyalty_rules.PROGRAM_LIMITS}
    for name in MONEY_FIELDS:
        shown[name] = shown[name] // scale if shown[name] % scale == 0 else shown[name] / scale
    posted = request.POST if request.POST.get("form") == "program" else None
    program_form = ProgramForm(posted, initial=shown, prefix="program")
    tier_posted = request.POST if request.POST.get("form") == "tier" else None
    tier_form = TierForm(tier_posted, prefix="tier", initial={"earn_multiplier_percent": 100})
    if request.method == "POST" and posted is not None and program_form.is_valid():
        values = dict(program_form.cleaned_data)
        for name in MONEY_FIELDS:
            values[name] = _to_minor(values[name], scale)
        try:
            loyalty_rules.update_program(brand, actor=actor_for(request), **values)
        except DomainError as exc:
            _show_error(program_form, exc)
        else:
            messages.success(request, pgettext("console", "已更新點數規則。"))
            return redirect("console:rules_loyalty")
    elif request.method == "POST" and tier_posted is not None and tier_form.is_valid():
        try:
            loyalty_rules.create_tier(brand, actor=actor_for(request), **_tier_values(tier_form, scale))
        except DomainError as exc:
            _show_error(tier_form, exc)
        else:
            messages.success(request, pgettext("console", "已新增會員等級。"))
            return redirect("console:rules_loyalty")
    elif request.method == "POST" and posted is None and tier_posted is None:
        messages.error(request, pgettext("console", "請從頁面上的表單送出。"))
    return render_page(
        request,
        "console/settings/rules_loyalty.html",
        {
            "program_form": program_form,
            "tier_form": tier_form,
            "program": program,
            "tiers": loyalty_selectors.tiers_with_members(actor_for(request)),
            "may_write": _may_write(request),
        },
        status=400 if request.method == "POST" else 200,
    )


def _tier(request: ConsoleRequest, pk: int) -> Tier:
    tier = loyalty_selectors.visible_tiers(actor_for(request)).filter(pk=pk).first()
    if tier is None:
        raise Http404
    return tier


@console_view(READ, brand_wide=True)
def tier_edit(request: ConsoleRequest, pk: int) -> HttpResponse:
    tier = _tier(request, pk)
    refused = _refuse_write(request)
    if refused is not None:
        return refused
    scale = _minor(request.user.brand.currency)
    form = TierForm(
        request.POST or None,
        initial={
            "name": tier.name,
            "name_en": tier.name_en,
            "threshold": tier.threshold // scale if tier.threshold % scale == 0 else tier.threshold / scale,
            "earn_multiplier_percent": tier.earn_multiplier_percent,
        },
    )
    if request.method == "POST" and form.is_valid():
        try:
            loyalty_rules.update_tier(tier, actor=actor_for(request), **_tier_values(form, scale))
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, pgettext("console", "已更新會員等級。"))
            return redirect("console:rules_loyalty")
    return render_page(
        request,
        "console/settings/rules_tier.html",
        {"form": form, "tier": tier, "may_write": _may_write(request)},
        status=400 if request.method == "POST" else 200,
    )


@console_view(WRITE, brand_wide=True)
@require_POST
def tier_delete(request: ConsoleRequest, pk: int) -> HttpResponse:
    tier = _tier(request, pk)
    members = loyalty_rules.delete_tier(tier, actor=actor_for(request))
    messages.success(
        request,
        pgettext("console", "已刪除會員等級「%(name)s」（%(members)s 位會員將於下次計算時重新分級）。")
        % {"name": tier.name, "members": members},
    )
    return redirect("console:rules_loyalty")
