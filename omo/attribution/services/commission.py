"""Commission: which rule applies to a clerk's sale in a month, and how much it earns."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Sequence
from zoneinfo import ZoneInfo

from omo.attribution.models import (
    Attribution,
    CommissionRule,
)
from omo.attribution.services.decision import BrandContext, OrderFacts

logger = logging.getLogger(__name__)

Rule = Attribution.Rule

# Link-preview fetchers open links to draw a preview; they are not the customer.


def month_of(moment: dt.datetime, zone: ZoneInfo) -> dt.date:
    local = moment.astimezone(zone)
    return dt.date(local.year, local.month, 1)


# How much each part of a rule's scope weighs: a clerk beats a category, which beats a store, and
# every combination ranks by the sum, so a rule naming more (or weightier) parts is more specific.
CLERK_WEIGHT, CATEGORY_WEIGHT, STORE_WEIGHT = 4, 2, 1


def specificity(rule: CommissionRule) -> int:
    return (
        (CLERK_WEIGHT if rule.clerk_id else 0)
        + (CATEGORY_WEIGHT if rule.category_id else 0)
        + (STORE_WEIGHT if rule.store_id else 0)
    )


def rule_for(
    rules: Sequence[CommissionRule],
    *,
    category_id: int | None,
    store_id: int | None,
    on: dt.date,
    clerk_id: int | None = None,
) -> CommissionRule | None:
    """The most specific rule in force on `on` for this clerk, category and store, or None.

    Specificity: clerk (4) + category (2) + store (1), so clerk+category > clerk+store > clerk >
    category+store > category > store > brand-wide. Ties (equally specific rules in force on the
    same day, which the rule service refuses but older rows may hold) go to the one that started
    latest, then the newest row.
    """
    best: CommissionRule | None = None
    for rule in rules:
        if rule.clerk_id and rule.clerk_id != clerk_id:
            continue
        if rule.category_id and rule.category_id != category_id:
            continue
        if rule.store_id and rule.store_id != store_id:
            continue
        if rule.starts_on > on or (rule.ends_on is not None and rule.ends_on < on):
            continue
        if best is None or (specificity(rule), rule.starts_on, rule.pk) > (
            specificity(best),
            best.starts_on,
            best.pk,
        ):
            best = rule
    return best


def rate_for(
    rules: Sequence[CommissionRule],
    *,
    category_id: int | None,
    store_id: int | None,
    on: dt.date,
    clerk_id: int | None = None,
) -> int:
    """Basis points of the percentage rule that applies (0 when none does, or it pays a fixed amount)."""
    rule = rule_for(rules, category_id=category_id, store_id=store_id, on=on, clerk_id=clerk_id)
    if rule is None or rule.kind != CommissionRule.Kind.PERCENT:
        return 0
    return rule.rate_bp


def line_commission(rule: CommissionRule | None, line_basis: int, quantity: int) -> int:
    """What one line earns under its rule: a percentage of its basis, or the fixed amount per item."""
    if rule is None:
        return 0
    if rule.kind == CommissionRule.Kind.FIXED:
        return rule.fixed_amount * quantity
    return round_div(line_basis * rule.rate_bp, 10000)


def round_div(numerator: int, denominator: int) -> int:
    """Integer division rounding half away from zero (money stays in integer minor units)."""
    if denominator == 0:
        return 0
    sign = -1 if (numerator < 0) != (denominator < 0) else 1
    quotient, remainder = divmod(abs(numerator), abs(denominator))
    if remainder * 2 >= abs(denominator):
        quotient += 1
    return sign * quotient


def commission_for(
    order: OrderFacts,
    lines: Iterable[Sequence[int | None]],
    *,
    store_id: int | None,
    ctx: BrandContext,
    clerk_id: int | None = None,
) -> tuple[int, int]:
    """(basis, amount) for an attributed order: each line under the rule that applies to it.

    lines: (line total, product category id[, quantity]); quantity 1 when not given. Order-level
    discounts (coupons, points) are spread over the lines by their share; shipping and tax earn
    nothing. A percentage rule earns on the line's share; a fixed rule earns its amount per item.
    """
    on = order.placed_at.astimezone(ctx.zone).date()
    net = max(0, order.subtotal - order.discount_total)
    basis = amount = 0
    line_list = [tuple(line) for line in lines]
    if not line_list:
        line_list = [(order.subtotal, None, 0)]  # no lines: a percentage still earns, no items to pay for
    for line in line_list:
        line_total = int(line[0] or 0)
        category_id = line[1]
        quantity = int(line[2] or 0) if len(line) > 2 else 1
        line_basis = round_div(line_total * net, order.subtotal) if order.subtotal else 0
        basis += line_basis
        rule = rule_for(ctx.rules, category_id=category_id, store_id=store_id, on=on, clerk_id=clerk_id)
        amount += line_commission(rule, line_basis, quantity)
    return basis, amount
