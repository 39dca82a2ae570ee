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


def _specificity(rule: CommissionRule) -> int:
    return (2 if rule.category_id else 0) + (1 if rule.store_id else 0)


def rate_for(
    rules: Sequence[CommissionRule], *, category_id: int | None, store_id: int | None, on: dt.date
) -> int:
    """Basis points of the most specific rule in force: category+store > category > store > brand-wide.

    Ties (two rules equally specific) go to the one that started latest, then the newest row, so
    a new rate replaces an old one without editing it.
    """
    best: CommissionRule | None = None
    for rule in rules:
        if rule.category_id and rule.category_id != category_id:
            continue
        if rule.store_id and rule.store_id != store_id:
            continue
        if rule.starts_on > on or (rule.ends_on is not None and rule.ends_on < on):
            continue
        if best is None or (_specificity(rule), rule.starts_on, rule.pk) > (
            _specificity(best),
            best.starts_on,
            best.pk,
        ):
            best = rule
    return best.rate_bp if best else 0


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
    order: OrderFacts, lines: Iterable[tuple[int, int | None]], *, store_id: int | None, ctx: BrandContext
) -> tuple[int, int]:
    """(basis, amount) for an attributed order: each line at its category's rate, after order discounts.

    lines: (line total, product category id). Order-level discounts (coupons, points) are spread
    over the lines by their share; shipping and tax earn nothing.
    """
    on = order.placed_at.astimezone(ctx.zone).date()
    net = max(0, order.subtotal - order.discount_total)
    basis = amount = 0
    line_list = list(lines)
    if not line_list:
        line_list = [(order.subtotal, None)]
    for line_total, category_id in line_list:
        line_basis = round_div(line_total * net, order.subtotal) if order.subtotal else 0
        basis += line_basis
        amount += round_div(
            line_basis * rate_for(ctx.rules, category_id=category_id, store_id=store_id, on=on), 10000
        )
    return basis, amount
