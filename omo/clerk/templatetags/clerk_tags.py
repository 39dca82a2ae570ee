from __future__ import annotations

from django import template

from omo.core.money import format_money

register = template.Library()


@register.filter
def money(minor: int | None, currency: str = "TWD") -> str:
    return format_money(int(minor or 0), currency or "TWD")
