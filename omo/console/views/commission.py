"""Commission in the console: the rules under 設定 → 分潤規則, and HQ's monthly statement of every
clerk (總覽 → 分潤月結) with one clerk's lines and the payroll CSV.

Rules: HQ roles see them (rules.read, brand-wide pages); only HQ admins change them (rules.write),
through omo.attribution.services.commission_rules, which validates and audits. Statements:
commission.read; a store manager sees only their store; clerks never reach the console.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.http import require_POST

from omo.attribution import selectors as attribution_selectors
from omo.attribution import statements
from omo.attribution.models import CommissionRule
from omo.attribution.services import commission_rules
from omo.attribution.services.commission import specificity
from omo.catalog.selectors import visible_categories
from omo.console.access import ConsoleRequest, actor_for, console_view, forbidden
from omo.console.forms import DateInput
from omo.console.pages import render_page
from omo.core.errors import DomainError
from omo.core.money import to_minor
from omo.staff.roles import Scope
from omo.staff.selectors import visible_staff, visible_stores

READ = "rules.read"
WRITE = "rules.write"


# --- rules ---------------------------------------------------------------------------------------


class CommissionRuleForm(forms.Form):
    kind = forms.ChoiceField(
        label=pgettext_lazy("commission", "分潤方式"),
        choices=(
            ("percent", pgettext_lazy("commission", "銷售額百分比")),
            ("fixed", pgettext_lazy("commission", "每件固定金額（NT$）")),
        ),
        widget=forms.RadioSelect,
        initial="percent",
    )
    rate = forms.CharField(
        label=pgettext_lazy("commission", "分潤比例（%）"),
        required=False,
        help_text=pgettext_lazy("commission", "例如 5 或 2.5，0–100。"),
    )
    fixed_amount = forms.CharField(
        label=pgettext_lazy("commission", "每件金額（NT$）"),
        required=False,
        help_text=pgettext_lazy("commission", "每售出一件給付的金額，例如 50。"),
    )
    starts_on = forms.DateField(label=pgettext_lazy("commission", "生效日"), widget=DateInput())
    ends_on = forms.DateField(
        label=pgettext_lazy("commission", "結束日（含）"),
        required=False,
        widget=DateInput(),
        help_text=pgettext_lazy("commission", "留空表示不限。"),
    )
    clerk = forms.ChoiceField(label=pgettext_lazy("commission", "店員"), required=False)
    category = forms.ChoiceField(label=pgettext_lazy("commission", "商品分類"), required=False)
    store = forms.ChoiceField(label=pgettext_lazy("commission", "門市"), required=False)

    def __init__(self, *args: Any, request: ConsoleRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        actor = actor_for(request)
        anyone = ("", pgettext("commission", "不限"))
        self._choose(
            "clerk",
            [anyone]
            + [
                (str(person.pk), f"{person}{f'（{person.employee_code}）' if person.employee_code else ''}")
                for person in visible_staff(actor).filter(is_active=True).order_by("store_id", "username")
            ],
        )
        self._choose(
            "category",
            [anyone] + [(str(c.pk), c.name) for c in visible_categories(actor).order_by("name")],
        )
        self._choose(
            "store", [anyone] + [(str(s.pk), s.name) for s in visible_stores(actor).order_by("code")]
        )

    def _choose(self, name: str, choices: list[tuple[str, str]]) -> None:
        field = self.fields[name]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def clean_rate(self) -> int:
        raw = (self.cleaned_data.get("rate") or "").strip()
        if not raw:
            return 0
        try:
            basis_points = Decimal(raw) * 100
        except InvalidOperation:
            raise forms.ValidationError(pgettext("commission", "請填寫數字，例如 5 或 2.5。")) from None
        if basis_points != basis_points.to_integral_value():
            raise forms.ValidationError(pgettext("commission", "比例最多到小數點後兩位。"))
        return int(basis_points)

    def clean_fixed_amount(self) -> int:
        raw = (self.cleaned_data.get("fixed_amount") or "").strip()
        if not raw:
            return 0
        try:
            return to_minor(raw, "TWD")
        except ValueError:
            raise forms.ValidationError(pgettext("commission", "請填寫金額，例如 50。")) from None

    def values(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "kind": data["kind"],
            "rate_bp": data["rate"],
            "fixed_amount": data["fixed_amount"],
            "starts_on": data["starts_on"],
            "ends_on": data["ends_on"],
            "clerk_id": data["clerk"] or None,
            "category_id": data["category"] or None,
            "store_id": data["store"] or None,
        }


RULE_FIELDS = {"rate_bp": "rate", "clerk_id": "clerk", "category_id": "category", "store_id": "store"}


def _dollars(minor: int) -> str:
    """Minor units as the form shows them: 5000 → "50", 1250 → "12.5"."""
    whole, cents = divmod(minor, 100)
    return str(whole) if not cents else f"{whole}.{cents:02d}".rstrip("0")


def _initial(rule: CommissionRule) -> dict[str, Any]:
    return {
        "kind": rule.kind,
        "rate": commission_rules.percent_text(rule.rate_bp).rstrip("%") if rule.kind == "percent" else "",
        "fixed_amount": _dollars(rule.fixed_amount) if rule.kind == "fixed" else "",
        "starts_on": rule.starts_on,
        "ends_on": rule.ends_on,
        "clerk": str(rule.clerk_id or ""),
        "category": str(rule.category_id or ""),
        "store": str(rule.store_id or ""),
    }


def _show_error(form: forms.Form, exc: DomainError) -> None:
    name = RULE_FIELDS.get(exc.field or "", exc.field)
    form.add_error(name if name in form.fields else None, exc.message)


def _rows(brand) -> list[dict[str, Any]]:
    return [
        {"rule": rule, "words": commission_rules.describe(rule), "specificity": specificity(rule)}
        for rule in commission_rules.rules_of(brand)
    ]


@console_view(READ, brand_wide=True)
def commission_rules_page(request: ConsoleRequest) -> HttpResponse:
    may_write = request.user.can(WRITE)
    if request.method == "POST" and not may_write:
        return forbidden(request, pgettext("console", "只有總部管理員可以變更品牌規則。"), show_home=True)
    brand = request.user.brand
    form = CommissionRuleForm(request.POST or None, request=request)
    if request.method == "POST" and form.is_valid():
        try:
            commission_rules.create_rule(brand, actor=actor_for(request), **form.values())
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, pgettext("commission", "已新增分潤規則。"))
            return redirect("console:commission_rules")
    return render_page(
        request,
        "console/settings/commission_rules.html",
        {
            "form": form,
            "rows": _rows(brand),
            "precedence": commission_rules.PRECEDENCE,
            "may_write": may_write,
        },
        status=400 if request.method == "POST" else 200,
    )


@console_view(WRITE, brand_wide=True)
def commission_rule_edit(request: ConsoleRequest, pk: int) -> HttpResponse:
    rule = commission_rules.rules_of(request.user.brand).filter(pk=pk).first()
    if rule is None:
        raise Http404
    form = CommissionRuleForm(request.POST or None, request=request, initial=_initial(rule))
    if request.method == "POST" and form.is_valid():
        try:
            commission_rules.update_rule(rule, actor=actor_for(request), **form.values())
        except DomainError as exc:
            _show_error(form, exc)
        else:
            messages.success(request, pgettext("commission", "已更新分潤規則。"))
            return redirect("console:commission_rules")
    return render_page(
        request,
        "console/settings/commission_rule_edit.html",
        {"form": form, "rule": rule, "words": commission_rules.describe(rule)},
        status=400 if request.method == "POST" else 200,
    )


@require_POST
@console_view(WRITE, brand_wide=True)
def commission_rule_delete(request: ConsoleRequest, pk: int) -> HttpResponse:
    rule = commission_rules.rules_of(request.user.brand).filter(pk=pk).first()
    if rule is None:
        raise Http404
    commission_rules.delete_rule(rule, actor=actor_for(request))
    messages.success(request, pgettext("commission", "已刪除分潤規則；已入帳的分潤不變。"))
    return redirect("console:commission_rules")


# --- monthly statements ----------------------------------------------------------------------------

STATEMENTS = "commission.read"


def _month(request: ConsoleRequest) -> tuple[dt.date, str | None]:
    """The month asked for (this month when none), and a sentence when it could not be read."""
    zone = attribution_selectors.brand_zone(request.user.brand)
    raw = (request.GET.get("month") or "").strip()
    try:
        return attribution_selectors.parse_month(raw, zone=zone), None
    except ValueError:
        return attribution_selectors.parse_month("", zone=zone), pgettext(
            "commission", "月份格式須為 YYYY-MM（例如 2026-11），已改為顯示本月。"
        )


def _store_filter(request: ConsoleRequest) -> int | None:
    if request.user.scope != Scope.BRAND:
        return None
    raw = request.GET.get("store") or ""
    if not raw.isdigit():
        return None
    store_id = int(raw)
    return store_id if visible_stores(actor_for(request)).filter(pk=store_id).exists() else None


def _shift(month: dt.date, months: int) -> dt.date:
    index = month.year * 12 + month.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


@console_view(STATEMENTS)
def commission_statements(request: ConsoleRequest) -> HttpResponse:
    actor = actor_for(request)
    month, month_error = _month(request)
    store_id = _store_filter(request)
    statement = statements.monthly_statement(actor, month, store_id=store_id)
    if request.GET.get("format") == "csv":
        return _payroll(statement)
    this_month = attribution_selectors.parse_month("", zone=attribution_selectors.brand_zone(actor.brand))
    choices = [
        (pgettext("commission", "本月"), this_month),
        (pgettext("commission", "上個月"), _shift(this_month, -1)),
    ]
    query = {"store": str(store_id)} if store_id else {}
    return render_page(
        request,
        "console/commission/statements.html",
        {
            "statement": statement,
            "month": month,
            "month_error": month_error,
            "month_value": f"{month:%Y-%m}",
            "quick_months": [
                {"label": label, "value": f"{value:%Y-%m}", "active": value == month}
                for label, value in choices
            ],
            "stores": visible_stores(actor).order_by("code") if request.user.scope == Scope.BRAND else [],
            "store_id": store_id,
            "csv_url": "?" + urlencode({**query, "month": f"{month:%Y-%m}", "format": "csv"}),
            "scope_store": request.user.store if request.user.scope == Scope.STORE else None,
        },
    )


def _payroll(statement: statements.MonthStatement) -> HttpResponse:
    response = HttpResponse(statements.payroll_csv(statement), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="payroll-{statement.month:%Y-%m}.csv"'
    return response


@console_view(STATEMENTS)
def commission_statement_detail(request: ConsoleRequest, staff_id: int) -> HttpResponse:
    actor = actor_for(request)
    person = statements.visible_person(actor, staff_id)
    if person is None:
        raise Http404
    month, month_error = _month(request)
    summary = statements.monthly_statement(actor, month, store_id=person.store_id)
    row = next((r for r in summary.rows if r.staff_id == person.pk), None)
    return render_page(
        request,
        "console/commission/statement_detail.html",
        {
            "person": person,
            "row": row,
            "month": month,
            "month_value": f"{month:%Y-%m}",
            "month_error": month_error,
            "lines": statements.statement_lines(actor, person, month),
        },
    )
