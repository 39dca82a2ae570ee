"""Template helpers for the console: money, percentages, status badges and the sidebar icons."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import pgettext

from omo.console.audit_text import action_text, actor_text, detail_text, target_text
from omo.core.money import format_money
from omo.customers.models import CustomerIdentity
from omo.staff.roles import Role

register = template.Library()


@register.filter
def money(minor: int | None, currency: str = "TWD") -> str:
    """`{{ order.total|money:order.currency }}` → NT$1,280 (amounts are integer minor units)."""
    if minor in (None, ""):
        return ""
    return format_money(int(minor), currency or "TWD")


@register.filter
def audit_action(action: str) -> str:
    """`{{ entry.action|audit_action }}` → 修改商品 (the sentence for an audit code)."""
    return action_text(action)


@register.filter
def audit_target(entry) -> str:
    """`{{ entry|audit_target }}` → 商品 #12."""
    return target_text(entry.target_type, entry.target_id)


@register.filter
def audit_actor(label: str) -> str:
    """`{{ entry.actor_label|audit_actor }}` → 系統, API 金鑰 omo_ab12 (when no user is kept)."""
    return actor_text(label)


@register.filter
def audit_detail(detail: object) -> str:
    """`{{ entry.detail|audit_detail }}`: the facts as JSON, stored codes in words."""
    return detail_text(detail)


@register.filter
def audit_target_type(target_type: str) -> str:
    """`{{ "catalog.product"|audit_target_type }}` → 商品."""
    return target_text(target_type, "")


@register.filter
def identifier_kind(kind: str) -> str:
    """`{{ suggestion.kind|identifier_kind }}` → 手機 (a merge suggestion's shared identifier, in words)."""
    if kind == "product_card":
        return pgettext("console", "商品卡片連結")
    try:
        return str(CustomerIdentity.Kind(kind).label)
    except ValueError:
        return pgettext("console", "其他識別")


@register.filter
def percent(fraction: float | None, digits: int = 1) -> str:
    """0.4167 → 41.7%; None (nothing to divide by) → an em dash."""
    if fraction is None:
        return "—"
    return f"{fraction * 100:.{int(digits)}f}%"


@register.filter
def address(value: object) -> str:
    """A shipping address stored as JSON ({"city": ..., "line1": ...}) as one line of text."""
    if isinstance(value, dict):
        return " ".join(str(part) for part in value.values() if part not in (None, ""))
    return str(value or "")


@register.filter
def role_label(value: str) -> str:
    """'hq_admin' → 總部管理員 (an API key stores its role as the bare value)."""
    try:
        return str(Role(value).label)
    except ValueError:
        return value


# Order status → badge colour class in console.css.
_STATUS_TONE = {
    "placed": "info",
    "paid": "ok",
    "fulfilled": "ok",
    "cancelled": "muted",
    "partially_refunded": "warn",
    "refunded": "warn",
}


@register.simple_tag
def status_badge(value: str, label: str) -> SafeString:
    return format_html('<span class="badge badge-{}">{}</span>', _STATUS_TONE.get(value, "info"), label)


# Simple stroke icons drawn for the console (24×24, currentColor); no icon font is downloaded.
_ICONS = {
    "home": "M3 11l9-7 9 7v9a1 1 0 0 1-1 1h-5v-6H9v6H4a1 1 0 0 1-1-1z",
    "chat": "M4 5h16v11H9l-5 4z",
    "receipt": "M6 3h12v18l-3-2-3 2-3-2-3 2zM9 8h6M9 12h6M9 16h3",
    "users": "M16 20v-1a4 4 0 0 0-4-4H7a4 4 0 0 0-4 4v1M9.5 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z"
    "M21 20v-1a4 4 0 0 0-3-3.9M15 4.1a3.5 3.5 0 0 1 0 6.8",
    "box": "M3 7l9-4 9 4v10l-9 4-9-4zM3 7l9 4 9-4M12 11v10",
    "megaphone": "M3 10v4h3l7 5V5l-7 5zM17 9a4 4 0 0 1 0 6",
    "star": "M12 3l2.8 5.7 6.2.9-4.5 4.4 1 6.2-5.5-2.9-5.5 2.9 1-6.2L3 9.6l6.2-.9z",
    "upload": "M12 16V4M7 9l5-5 5 5M4 16v3a1 1 0 0 0 1 1h14a1 1 0 0 0 1-1v-3",
    "cog": "M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6zM12 2v3M12 19v3M2 12h3M19 12h3M4.9 4.9 7 7M17 17l2.1 2.1"
    "M4.9 19.1 7 17M17 7l2.1-2.1",
    "menu": "M4 6h16M4 12h16M4 18h16",
    "globe": "M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18zM3 12h18M12 3a14 14 0 0 1 0 18M12 3a14 14 0 0 0 0 18",
    "logout": "M15 4h4a1 1 0 0 1 1 1v14a1 1 0 0 1-1 1h-4M10 17l5-5-5-5M15 12H3",
    "copy": "M8 8h11v12H8zM5 16V4h11",
    "chart": "M4 20V4M4 20h16M8 16v-5M12 16V8M16 16v-3M20 16V6",
}


@register.simple_tag
def icon(name: str) -> SafeString:
    path = _ICONS.get(name)
    if path is None:
        return mark_safe("")
    # The path data is a constant from this module, never user input.
    return mark_safe(
        '<svg class="icon" viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" '
        f'stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true"><path d="{path}"/></svg>'
    )
