"""HQ's monthly commission statement of every clerk, the per-clerk lines, and the payroll CSV.

Figures come from the commission ledger (CommissionEntry), by the month each entry counts in (the
month of the order for a sale, of the refund or cancellation for a deduction, in the brand's time
zone), so a statement never changes once the month is over unless a later entry is dated in it:

- **orders**: sale entries of the month (orders credited to the clerk);
- **sales**: their basis (attributed sales after order discounts, shipping and tax excluded);
- **deducted**: what refunds and cancellations dated in the month took back (sales and commission),
  shown as positive numbers;
- **commission**: the month's net commission (sales' commission less the deductions).

Who is listed: every active clerk and store manager (the people attribution credits) of the scope,
plus anyone else who has an entry in the month (a clerk who has left still gets paid). Scope:
HQ roles see the whole brand (optionally one store); a store manager sees only their store; others
see nothing (the pages and endpoints refuse them first). A person counts in their current store.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass, field

from django.db.models import Count, Q, Sum

from omo.attribution.models import Attribution, CommissionEntry
from omo.core.access import Scope
from omo.core.audit import Actor
from omo.staff.models import User
from omo.staff.roles import Role

CREDITED_ROLES = (Role.CLERK, Role.STORE_MANAGER)
DEDUCTIONS = (CommissionEntry.Kind.REVERSAL, CommissionEntry.Kind.CANCELLATION)


@dataclass
class StatementRow:
    staff_id: int
    name: str
    employee_code: str
    username: str
    store_id: int | None
    store_name: str
    is_active: bool
    orders: int = 0
    sales: int = 0
    deducted_sales: int = 0
    deducted: int = 0
    commission: int = 0


@dataclass
class StoreTotal:
    store_id: int | None
    store_name: str
    clerks: int = 0
    orders: int = 0
    sales: int = 0
    deducted_sales: int = 0
    deducted: int = 0
    commission: int = 0

    def add(self, row: StatementRow) -> None:
        self.clerks += 1
        self.orders += row.orders
        self.sales += row.sales
        self.deducted_sales += row.deducted_sales
        self.deducted += row.deducted
        self.commission += row.commission


@dataclass
class MonthStatement:
    month: dt.date
    rows: list[StatementRow] = field(default_factory=list)
    stores: list[StoreTotal] = field(default_factory=list)
    total: StoreTotal = field(default_factory=lambda: StoreTotal(None, ""))


def visible_clerks(actor: Actor, *, store_id: int | None = None) -> list[User] | None:
    """The staff whose statements this actor may read (optionally of one store), or None when the
    actor may read none (a clerk, or a store manager without a store)."""
    staff = User.objects.filter(brand=actor.brand).select_related("store")
    if actor.scope == Scope.STORE:
        if not actor.store_id:
            return None
        staff = staff.filter(store_id=actor.store_id)
    elif actor.scope != Scope.BRAND:
        return None
    if store_id is not None:
        staff = staff.filter(store_id=store_id)
    return list(staff.order_by("store__code", "store_id", "employee_code", "username", "id"))


def monthly_statement(actor: Actor, month: dt.date, *, store_id: int | None = None) -> MonthStatement:
    """Every clerk of the actor's scope (and `store_id`, if given) with the month's figures."""
    statement = MonthStatement(month)
    people = visible_clerks(actor, store_id=store_id)
    if people is None:
        return statement
    figures = {
        row["clerk_id"]: row
        for row in CommissionEntry.objects.filter(
            brand=actor.brand, month=month, clerk_id__in=[person.pk for person in people]
        )
        .values("clerk_id")
        .annotate(
            orders=Count("id", filter=Q(kind=CommissionEntry.Kind.SALE)),
            sales=Sum("basis", filter=Q(kind=CommissionEntry.Kind.SALE)),
            deducted_sales=Sum("basis", filter=Q(kind__in=DEDUCTIONS)),
            deducted=Sum("amount", filter=Q(kind__in=DEDUCTIONS)),
            commission=Sum("amount"),
        )
        .order_by("clerk_id")
    }
    stores: dict[int | None, StoreTotal] = {}
    for person in people:
        found = figures.get(person.pk)
        if found is None and not (person.is_active and person.role in CREDITED_ROLES):
            continue
        row = StatementRow(
            staff_id=person.pk,
            name=str(person),
            employee_code=person.employee_code,
            username=person.username,
            store_id=person.store_id,
            store_name=person.store.name if person.store else "",
            is_active=person.is_active,
        )
        if found is not None:
            row.orders = found["orders"] or 0
            row.sales = found["sales"] or 0
            row.deducted_sales = -(found["deducted_sales"] or 0)
            row.deducted = -(found["deducted"] or 0)
            row.commission = found["commission"] or 0
        statement.rows.append(row)
        total = stores.setdefault(person.store_id, StoreTotal(person.store_id, row.store_name))
        total.add(row)
        statement.total.add(row)
    statement.stores = list(stores.values())
    return statement


@dataclass(frozen=True)
class StatementLine:
    kind: str
    order_id: int
    order_number: str
    placed_at: dt.datetime
    sales_channel: str
    rule: str
    reason_zh: str
    reason_en: str
    basis: int
    amount: int


def statement_lines(actor: Actor, person: User, month: dt.date) -> list[StatementLine]:
    """One person's ledger entries of the month (sales and deductions), oldest first, with the
    attribution's reason in words."""
    entries = list(
        CommissionEntry.objects.filter(brand=actor.brand, clerk=person, month=month)
        .select_related("order")
        .order_by("order__placed_at", "created_at", "id")
    )
    decided = {
        row[0]: row[1:]
        for row in Attribution.objects.filter(
            brand=actor.brand, order_id__in={entry.order_id for entry in entries}
        ).values_list("order_id", "rule", "reason_zh", "reason_en")
    }
    lines = []
    for entry in entries:
        rule, reason_zh, reason_en = decided.get(entry.order_id, ("", "", ""))
        if entry.kind == CommissionEntry.Kind.CANCELLATION:
            reason_zh, reason_en = "訂單已取消，扣回分潤", "Order cancelled; commission taken back"
        elif entry.kind == CommissionEntry.Kind.REVERSAL:
            reason_zh, reason_en = (
                "訂單退款，依退款比例扣回分潤",
                "Order refunded; commission taken back pro rata",
            )
        lines.append(
            StatementLine(
                kind=entry.kind,
                order_id=entry.order_id,
                order_number=entry.order.display_number,
                placed_at=entry.order.placed_at,
                sales_channel=entry.order.sales_channel,
                rule=rule,
                reason_zh=reason_zh,
                reason_en=reason_en,
                basis=entry.basis,
                amount=entry.amount,
            )
        )
    return lines


def visible_person(actor: Actor, staff_id: int) -> User | None:
    """A staff member whose statement the actor may read, or None (another brand's, another store's)."""
    people = visible_clerks(actor)
    if people is None:
        return None
    return next((person for person in people if person.pk == staff_id), None)


PAYROLL_HEADER = [
    "員工編號 staff_code",
    "姓名 name",
    "門市 store",
    "月份 month",
    "訂單數 orders",
    "業績 sales (NT$)",
    "退貨取消扣回業績 deducted_sales (NT$)",
    "退貨取消扣回分潤 deducted_commission (NT$)",
    "分潤 commission (NT$)",
]


def nt_dollars(minor: int) -> str:
    """Minor units as NT$ with cents, a plain number Excel reads: 123456 → 1234.56."""
    sign = "-" if minor < 0 else ""
    whole, cents = divmod(abs(minor), 100)
    return f"{sign}{whole}.{cents:02d}"


def payroll_csv(statement: MonthStatement) -> str:
    """One row per person (UTF-8 with a BOM, so Excel in Taiwan opens the Chinese), amounts in NT$."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(PAYROLL_HEADER)
    for row in statement.rows:
        writer.writerow(
            [
                row.employee_code,
                row.name,
                row.store_name,
                f"{statement.month:%Y-%m}",
                row.orders,
                nt_dollars(row.sales),
                nt_dollars(row.deducted_sales),
                nt_dollars(row.deducted),
                nt_dollars(row.commission),
            ]
        )
    return out.getvalue()
