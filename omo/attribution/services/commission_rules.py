"""The brand's commission rules: list, create, change and delete them, validated and audited.

A rule has a scope (any of clerk, product category and store; none of them = brand-wide), a kind
(a percentage of the line's sales after order discounts, or a fixed amount per item sold) and the
days it is in force (`starts_on` to `ends_on`, both inclusive, in the brand's time zone; no end =
open). The calculation (`commission.rule_for`) takes, for each order line, the most specific rule in
force on the order's local date; `PRECEDENCE` says the order in sentences.

Refusals, each with its own code: two rules for the same scope whose dates overlap
(`commission_rule_overlap`, 409), a negative rate or amount (`commission_rate_negative`,
`commission_amount_negative`), a rate above 100 % (`commission_rate_over_100`), an end before the
start (`commission_dates_reversed`), a clerk, category or store not of the brand
(`commission_scope_unknown`), an unknown kind (`commission_kind_unknown`). Nothing is written when
any is refused. Every change is audited as `commission_rule.created` / `.changed` / `.deleted`.

Rules apply to sales attributed after the change: the commission ledger is append-only, so entries
already written keep the amount they were written with.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils.translation import gettext

from omo.attribution.models import CommissionRule
from omo.attribution.services.clicks import AttributionError
from omo.catalog.models import Category
from omo.core import audit
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.staff.models import Store, User

Kind = CommissionRule.Kind
MAX_RATE_BP = 10000
FIELDS = ("kind", "rate_bp", "fixed_amount", "starts_on", "ends_on", "clerk_id", "category_id", "store_id")


@dataclass(frozen=True)
class Sentence:
    zh: str
    en: str


# The order in which a rule wins, as people read it (commission.rule_for is the same order).
PRECEDENCE: tuple[Sentence, ...] = (
    Sentence(
        "每一筆訂單明細只套用一條規則：在訂單成立日（品牌時區）有效、且範圍最明確的那一條。",
        "Each order line earns under one rule: the most specific rule in force on the day the order "
        "was placed (in the brand's time zone).",
    ),
    Sentence(
        "指定店員的規則優先於指定商品分類的規則，商品分類優先於門市，門市優先於全品牌規則。",
        "A rule for the clerk beats a rule for the product category, a category beats a store, and a "
        "store beats a brand-wide rule.",
    ),
    Sentence(
        "同時指定多項範圍的規則依權重加總比較（店員 4、分類 2、門市 1）：例如「店員＋分類」優先於只指定店員，"
        "「店員」優先於「分類＋門市」。",
        "A rule naming several of these ranks by their weights added up (clerk 4, category 2, store 1): "
        "clerk + category beats clerk alone, and clerk alone beats category + store.",
    ),
    Sentence(
        "百分比規則以折扣後的明細金額計算；固定金額規則每售出一件給付固定金額。運費與稅金不計分潤。",
        "A percentage rule pays that share of the line's sales after order discounts; a fixed rule pays "
        "its amount for each item sold. Shipping and tax earn nothing.",
    ),
    Sentence(
        "同一範圍的規則日期不可重疊；要在月中調整，請先設定舊規則的結束日，再新增從隔天開始的新規則。",
        "Rules for the same scope may not overlap in dates: to change a rate mid-month, end the old rule "
        "and add a new one starting the next day.",
    ),
    Sentence(
        "沒有任何規則適用時，該筆明細沒有分潤。規則變更只影響之後計算的訂單；已入帳的分潤不會改變。",
        "A line no rule applies to earns nothing. Changes apply to orders credited from then on; "
        "commission already booked does not change.",
    ),
)


def rules_of(brand: Brand | int) -> QuerySet[CommissionRule]:
    """The brand's rules, newest start first."""
    brand_id = brand if isinstance(brand, int) else brand.pk
    return (
        CommissionRule.objects.filter(brand_id=brand_id)
        .select_related("clerk", "category", "store")
        .order_by("-starts_on", "-id")
    )


def _int(name: str, raw: Any) -> int:
    if isinstance(raw, bool):
        raise AttributionError(name, gettext("須為整數"), code="invalid")
    try:
        return int(str(raw).strip())
    except (TypeError, ValueError):
        raise AttributionError(name, gettext("須為整數"), code="invalid") from None


def _date(name: str, raw: Any) -> dt.date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, dt.datetime):
        return raw.date()
    if isinstance(raw, dt.date):
        return raw
    try:
        return dt.date.fromisoformat(str(raw).strip())
    except ValueError:
        raise AttributionError(name, gettext("日期格式須為 YYYY-MM-DD"), code="invalid") from None


def _scope_id(brand: Brand, name: str, raw: Any) -> int | None:
    if raw is None or raw == "":
        return None
    pk = _int(name, raw)
    rows: QuerySet[Any] = {
        "clerk_id": User.objects.all(),
        "category_id": Category.objects.all(),
        "store_id": Store.objects.all(),
    }[name]
    if not rows.filter(brand=brand, pk=pk).exists():
        raise AttributionError(
            name,
            {
                "clerk_id": gettext("找不到此品牌的這位員工"),
                "category_id": gettext("找不到此品牌的這個商品分類"),
                "store_id": gettext("找不到此品牌的這家門市"),
            }[name],
            code="commission_scope_unknown",
        )
    return pk


def _validated(brand: Brand, values: dict[str, Any]) -> dict[str, Any]:
    """The rule's fields, checked: every refusal names its field and has its own code."""
    kind = str(values.get("kind") or Kind.PERCENT)
    if kind not in Kind.values:
        raise AttributionError(
            "kind", gettext("分潤方式須為 percent 或 fixed"), code="commission_kind_unknown"
        )
    rate_bp = _int("rate_bp", values.get("rate_bp") or 0)
    fixed_amount = _int("fixed_amount", values.get("fixed_amount") or 0)
    if rate_bp < 0:
        raise AttributionError("rate_bp", gettext("分潤比例不可為負數"), code="commission_rate_negative")
    if rate_bp > MAX_RATE_BP:
        raise AttributionError(
            "rate_bp",
            gettext("分潤比例不可超過 100%"),
            code="commission_rate_over_100",
        )
    if fixed_amount < 0:
        raise AttributionError(
            "fixed_amount",
            gettext("固定金額不可為負數"),
            code="commission_amount_negative",
        )
    if kind == Kind.PERCENT:
        fixed_amount = 0
    else:
        rate_bp = 0
    starts_on = _date("starts_on", values.get("starts_on"))
    if starts_on is None:
        raise AttributionError("starts_on", gettext("請填寫生效日"), code="required")
    ends_on = _date("ends_on", values.get("ends_on"))
    if ends_on is not None and ends_on < starts_on:
        raise AttributionError(
            "ends_on",
            gettext("結束日不可早於生效日"),
            code="commission_dates_reversed",
        )
    return {
        "kind": kind,
        "rate_bp": rate_bp,
        "fixed_amount": fixed_amount,
        "starts_on": starts_on,
        "ends_on": ends_on,
        "clerk_id": _scope_id(brand, "clerk_id", values.get("clerk_id")),
        "category_id": _scope_id(brand, "category_id", values.get("category_id")),
        "store_id": _scope_id(brand, "store_id", values.get("store_id")),
    }


def _check_overlap(brand: Brand, fields: dict[str, Any], *, exclude: int | None = None) -> None:
    """Refuse a rule whose scope equals another rule's and whose dates meet that rule's dates."""
    same_scope = CommissionRule.objects.filter(
        brand=brand,
        clerk_id=fields["clerk_id"],
        category_id=fields["category_id"],
        store_id=fields["store_id"],
    )
    if exclude is not None:
        same_scope = same_scope.exclude(pk=exclude)
    overlapping = same_scope.filter(Q(ends_on__isnull=True) | Q(ends_on__gte=fields["starts_on"]))
    if fields["ends_on"] is not None:
        overlapping = overlapping.filter(starts_on__lte=fields["ends_on"])
    other = overlapping.order_by("starts_on", "id").first()
    if other is not None:
        until = f"{other.ends_on:%Y-%m-%d}" if other.ends_on else gettext("不限")
        raise AttributionError(
            "starts_on",
            gettext("同一範圍已有規則 #%(pk)s（%(starts_on)s ～ %(until)s）的日期與此重疊")
            % {"pk": other.pk, "starts_on": f"{other.starts_on:%Y-%m-%d}", "until": until},
            status=409,
            code="commission_rule_overlap",
            rule_id=other.pk,
        )


def snapshot(rule: CommissionRule) -> dict[str, Any]:
    return {
        "kind": rule.kind,
        "rate_bp": rule.rate_bp,
        "fixed_amount": rule.fixed_amount,
        "starts_on": rule.starts_on.isoformat() if rule.starts_on else None,
        "ends_on": rule.ends_on.isoformat() if rule.ends_on else None,
        "clerk_id": rule.clerk_id,
        "category_id": rule.category_id,
        "store_id": rule.store_id,
    }


def _lock(brand: Brand) -> None:
    """Serialise rule changes of one brand, so two overlapping rules cannot both pass the check."""
    Brand.objects.select_for_update().filter(pk=brand.pk).first()


def create_rule(brand: Brand, *, actor: Actor, **values: Any) -> CommissionRule:
    """A new rule (see the module docstring for the fields and refusals)."""
    fields = _validated(brand, values)
    with transaction.atomic():
        _lock(brand)
        _check_overlap(brand, fields)
        rule = CommissionRule.objects.create(brand=brand, **fields)
        audit.record(actor, "commission_rule.created", rule, after=snapshot(rule))
    return rule


def update_rule(rule: CommissionRule, *, actor: Actor, **changes: Any) -> CommissionRule:
    """Change some of a rule's fields (what is not given is kept), checked as a whole afterwards."""
    unknown = set(changes) - set(FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise AttributionError(name, gettext("不認得的欄位"), code="invalid")
    brand = rule.brand
    with transaction.atomic():
        _lock(brand)
        current = CommissionRule.objects.select_for_update().get(pk=rule.pk, brand=brand)
        before = snapshot(current)
        merged = {**before, **changes}
        fields = _validated(brand, merged)
        _check_overlap(brand, fields, exclude=current.pk)
        for name, value in fields.items():
            setattr(current, name, value)
        current.save(update_fields=list(fields))
        audit.record(actor, "commission_rule.changed", current, before=before, after=snapshot(current))
    return current


def delete_rule(rule: CommissionRule, *, actor: Actor) -> None:
    """Remove a rule; commission already booked under it stays (the ledger is append-only)."""
    with transaction.atomic():
        before = snapshot(rule)
        pk = rule.pk
        deleted, _ = CommissionRule.objects.filter(pk=pk, brand_id=rule.brand_id).delete()
        if deleted:
            audit.record(actor, "commission_rule.deleted", None, rule_id=pk, before=before)


def percent_text(rate_bp: int) -> str:
    """Basis points as people write a percentage: 500 → "5%", 1250 → "12.5%"."""
    whole, rest = divmod(rate_bp, 100)
    return f"{whole}%" if not rest else f"{whole}.{rest:02d}".rstrip("0") + "%"


def money_text(minor: int) -> str:
    whole, cents = divmod(minor, 100)
    return f"NT${whole:,}" if not cents else f"NT${whole:,}.{cents:02d}"


def describe(rule: CommissionRule) -> Sentence:
    """The rule in words: who it is for, what it pays, and when."""
    zh_scope = [
        part
        for part in (
            f"店員 {rule.clerk}" if rule.clerk_id else "",
            f"分類「{rule.category.name}」" if rule.category_id and rule.category else "",
            f"門市 {rule.store.name}" if rule.store_id and rule.store else "",
        )
        if part
    ]
    en_scope = [
        part
        for part in (
            f"clerk {rule.clerk}" if rule.clerk_id else "",
            f"category “{rule.category.name}”" if rule.category_id and rule.category else "",
            f"store {rule.store.name}" if rule.store_id and rule.store else "",
        )
        if part
    ]
    if rule.kind == Kind.FIXED:
        zh_pay, en_pay = f"每件 {money_text(rule.fixed_amount)}", f"{money_text(rule.fixed_amount)} per item"
    else:
        zh_pay, en_pay = f"銷售額的 {percent_text(rule.rate_bp)}", f"{percent_text(rule.rate_bp)} of sales"
    zh_until = f"至 {rule.ends_on:%Y-%m-%d}" if rule.ends_on else "起，未設結束日"
    en_until = f"to {rule.ends_on:%Y-%m-%d}" if rule.ends_on else "onwards, no end date"
    return Sentence(
        f"{'、'.join(zh_scope) or '全品牌'}：{zh_pay}，{rule.starts_on:%Y-%m-%d} {zh_until}。",
        f"{', '.join(en_scope).capitalize() if en_scope else 'Brand-wide'}: {en_pay}, "
        f"from {rule.starts_on:%Y-%m-%d} {en_until}.",
    )
