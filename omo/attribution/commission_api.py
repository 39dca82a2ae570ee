"""REST endpoints for commission: the rules (/commission/rules) and the monthly statements of every
clerk with the payroll CSV (/commission/statements, `format=csv`).

Rules: read with `rules.read`, changed with `rules.write` (HQ admins), audited by the service.
Statements: `commission.read` (HQ roles see the brand, a store manager's key their store; clerk
keys are refused). Amounts are integer minor units (TWD: NT$1 = 100), except in the CSV (NT$).
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from django.http import HttpRequest, HttpResponse
from ninja import Query, Router, Schema, Status
from pydantic import Field

from omo.attribution import selectors, statements
from omo.attribution.models import CommissionRule
from omo.attribution.services import commission_rules
from omo.attribution.services.commission import specificity
from omo.core.api import ApiError, ErrorOut, actor_of, allow, get_or_404
from omo.core.audit import Actor
from omo.staff.models import Store

router = Router(tags=["commission"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 422: ErrorOut}


class RuleOut(Schema):
    id: int
    kind: str = Field(..., description="percent | fixed")
    rate_bp: int = Field(..., description="percent rules: basis points of the line's sales (500 = 5%)")
    fixed_amount: int = Field(..., description="fixed rules: minor units per item sold (5000 = NT$50)")
    starts_on: dt.date
    ends_on: dt.date | None = Field(None, description="inclusive; null = no end")
    clerk_id: int | None = None
    category_id: int | None = None
    store_id: int | None = None
    specificity: int = Field(..., description="clerk 4 + category 2 + store 1: the higher wins")
    sentence_zh: str
    sentence_en: str


class RuleList(Schema):
    precedence_zh: list[str]
    precedence_en: list[str]
    items: list[RuleOut]


class RuleIn(Schema):
    kind: Literal["percent", "fixed"] = "percent"
    rate_bp: int = Field(0, description="0–10000 (basis points: 500 = 5%) for percent rules")
    fixed_amount: int = Field(0, description="minor units per item, ≥ 0, for fixed rules")
    starts_on: dt.date
    ends_on: dt.date | None = None
    clerk_id: int | None = Field(None, description="a staff member of the brand; null = any clerk")
    category_id: int | None = Field(None, description="a product category; null = any")
    store_id: int | None = Field(None, description="the store credited with the sale; null = any")


class RulePatch(Schema):
    kind: Literal["percent", "fixed"] | None = None
    rate_bp: int | None = None
    fixed_amount: int | None = None
    starts_on: dt.date | None = None
    ends_on: dt.date | None = None
    clerk_id: int | None = None
    category_id: int | None = None
    store_id: int | None = None


def rule_out(rule: CommissionRule) -> dict[str, Any]:
    words = commission_rules.describe(rule)
    return {
        **commission_rules.snapshot(rule),
        "id": rule.pk,
        "specificity": specificity(rule),
        "sentence_zh": words.zh,
        "sentence_en": words.en,
    }


def _rules(actor: Actor):
    return commission_rules.rules_of(actor.brand)


@router.get("/commission/rules", auth=allow("rules.read"), response={200: RuleList, **ERRORS})
def list_commission_rules(request: HttpRequest):
    """Every rule of the brand (newest start first) and the precedence in sentences."""
    actor = actor_of(request)
    return {
        "precedence_zh": [s.zh for s in commission_rules.PRECEDENCE],
        "precedence_en": [s.en for s in commission_rules.PRECEDENCE],
        "items": [rule_out(rule) for rule in _rules(actor)],
    }


@router.post("/commission/rules", auth=allow("rules.write"), response={201: RuleOut, **ERRORS})
def create_commission_rule(request: HttpRequest, data: RuleIn):
    """A new rule; 409 `commission_rule_overlap` when a rule for the same scope has overlapping dates."""
    actor = actor_of(request)
    rule = commission_rules.create_rule(actor.brand, actor=actor, **data.model_dump())
    return Status(201, rule_out(commission_rules.rules_of(actor.brand).get(pk=rule.pk)))


@router.get("/commission/rules/{rule_id}", auth=allow("rules.read"), response={200: RuleOut, **ERRORS})
def get_commission_rule(request: HttpRequest, rule_id: int):
    return rule_out(get_or_404(_rules(actor_of(request)), "commission rule", pk=rule_id))


@router.patch("/commission/rules/{rule_id}", auth=allow("rules.write"), response={200: RuleOut, **ERRORS})
def update_commission_rule(request: HttpRequest, rule_id: int, data: RulePatch):
    """Change some fields (e.g. set `ends_on` before adding the next rate); the rest are kept."""
    actor = actor_of(request)
    rule = get_or_404(_rules(actor), "commission rule", pk=rule_id)
    changes = data.model_dump(exclude_unset=True)
    for name in ("kind", "starts_on", "rate_bp", "fixed_amount"):
        if name in changes and changes[name] is None:
            raise ApiError(422, "invalid", f"{name} may not be null", field=name)
    commission_rules.update_rule(rule, actor=actor, **changes)
    return rule_out(_rules(actor).get(pk=rule_id))


@router.delete("/commission/rules/{rule_id}", auth=allow("rules.write"), response={204: None, **ERRORS})
def delete_commission_rule(request: HttpRequest, rule_id: int):
    """Remove a rule; commission already booked under it stays."""
    actor = actor_of(request)
    commission_rules.delete_rule(get_or_404(_rules(actor), "commission rule", pk=rule_id), actor=actor)
    return Status(204, None)


# --- statements ---------------------------------------------------------------------------------


class MonthQuery(Schema):
    month: str | None = Field(None, description="YYYY-MM in the brand's time zone; empty = this month")
    store: int | None = Field(None, description="only this store's clerks")
    format: Literal["json", "csv"] = Field(
        "json",
        description="csv = the payroll CSV: one row per clerk (staff code, name, store, month, orders, "
        "sales, deductions, commission), UTF-8 with a BOM, amounts in NT$",
    )


class StatementRowOut(Schema):
    staff_id: int
    name: str
    employee_code: str
    store_id: int | None
    store_name: str
    is_active: bool
    orders: int = Field(..., description="orders credited to the clerk in the month")
    sales: int = Field(..., description="their sales after order discounts, minor units")
    deducted_sales: int = Field(
        ..., description="sales taken back by refunds and cancellations dated in the month"
    )
    deducted: int = Field(..., description="commission taken back by those refunds and cancellations")
    commission: int = Field(..., description="net commission of the month, minor units")


class StoreTotalOut(Schema):
    store_id: int | None
    store_name: str
    clerks: int
    orders: int
    sales: int
    deducted_sales: int
    deducted: int
    commission: int


class StatementOut(Schema):
    month: str
    currency: str = "TWD"
    items: list[StatementRowOut]
    stores: list[StoreTotalOut]
    total: StoreTotalOut


class StatementLineOut(Schema):
    kind: str = Field(..., description="sale | reversal (refund) | cancel")
    order_id: int
    order_number: str
    placed_at: dt.datetime
    sales_channel: str
    rule: str
    reason_zh: str
    reason_en: str
    basis: int
    amount: int


class ClerkStatementOut(Schema):
    month: str
    currency: str = "TWD"
    clerk: StatementRowOut
    lines: list[StatementLineOut]


def _month(actor: Actor, value: str | None) -> dt.date:
    try:
        return selectors.parse_month(value, zone=selectors.brand_zone(actor.brand))
    except ValueError as exc:
        raise ApiError(422, "invalid_month", str(exc), field="month") from None


def _statement(actor: Actor, query: MonthQuery) -> statements.MonthStatement:
    month = _month(actor, query.month)
    if query.store is not None and not Store.objects.filter(brand=actor.brand, pk=query.store).exists():
        raise ApiError(404, "not_found", "store not found", field="store")
    return statements.monthly_statement(actor, month, store_id=query.store)


@router.get("/commission/statements", auth=allow("commission.read"), response={200: StatementOut, **ERRORS})
def list_commission_statements(request: HttpRequest, query: Query[MonthQuery]):
    """Every clerk of the key's scope with the month's orders, sales, deductions and commission,
    plus totals per store and overall; `format=csv` gives the payroll CSV instead."""
    statement = _statement(actor_of(request), query)
    if query.format == "csv":
        response = HttpResponse(statements.payroll_csv(statement), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="payroll-{statement.month:%Y-%m}.csv"'
        return response
    return {
        "month": f"{statement.month:%Y-%m}",
        "items": [row.__dict__ for row in statement.rows],
        "stores": [total.__dict__ for total in statement.stores],
        "total": statement.total.__dict__,
    }


@router.get(
    "/commission/statements/{staff_id}",
    auth=allow("commission.read"),
    response={200: ClerkStatementOut, **ERRORS},
)
def get_commission_statement(request: HttpRequest, staff_id: int, month: str | None = None):
    """One clerk's month with every ledger line (sales, refunds and cancellations) and its reason."""
    actor = actor_of(request)
    person = statements.visible_person(actor, staff_id)
    if person is None:
        raise ApiError(404, "not_found", "staff member not found")
    chosen = _month(actor, month)
    summary = statements.monthly_statement(actor, chosen, store_id=person.store_id)
    row = next((r for r in summary.rows if r.staff_id == person.pk), None)
    if row is None:  # inactive and nothing this month: an empty statement
        row = statements.StatementRow(
            person.pk,
            str(person),
            person.employee_code,
            person.username,
            person.store_id,
            person.store.name if person.store else "",
            person.is_active,
        )
    return {
        "month": f"{chosen:%Y-%m}",
        "clerk": row.__dict__,
        "lines": [line.__dict__ for line in statements.statement_lines(actor, person, chosen)],
    }
