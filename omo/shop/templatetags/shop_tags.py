"""Template helpers for the built-in shop (`{% load shop_tags %}`); named apart from the console's."""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from django import template
from django.db.models import Model
from django.utils.translation import get_language

from omo.core.money import format_money

register = template.Library()


@register.filter
def money(minor: int | None, currency: str = "TWD") -> str:
    """`{{ variant.price|money }}` → NT$1,280 (amounts are integer minor units)."""
    if minor in (None, ""):
        return ""
    return format_money(int(minor), currency or "TWD")


@register.filter
def localized(obj: Model, field: str = "title") -> str:
    """`{{ product|localized }}` → title_en when the page is in English and one exists, else title.

    Catalogue rows carry their English name in a sibling `<field>_en` column."""
    value = getattr(obj, field, "") or ""
    if (get_language() or "").startswith("en"):
        return getattr(obj, f"{field}_en", "") or value
    return value


@register.filter
def first_image(images: Any) -> Any:
    """The first of a prefetched image list without another query (`.all()` reuses the prefetch)."""
    items = list(images.all()) if hasattr(images, "all") else list(images or [])
    return items[0] if items else None


@register.filter
def get_item(mapping: Any, key: Hashable) -> Any:
    """`{{ stock_by_variant|get_item:variant.pk }}`: a dict lookup by a variable key."""
    try:
        return mapping.get(key)
    except AttributeError:
        return None
