"""The console's sidebar: groups of links, each shown only when its page exists and may be opened.

Pages still to come (inbox, segments, campaigns, imports) are listed already with the URL name they
will use. An item whose URL name does not resolve yet is hidden, so a later change only has to add
the URL (in any app's urls.py, namespaced or not) and the link appears in the right place.

Who may see an item is read from the `requirement` that `console_view` attaches to the view, so the
sidebar can never offer a page that would answer 403.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from django.http import HttpRequest
from django.urls import NoReverseMatch, resolve, reverse
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

from omo.console.access import Requirement, may_open


@dataclass(frozen=True)
class NavItem:
    label: Promise
    url_name: str
    icon: str = ""
    active_for: tuple[str, ...] = ()  # more view names under which this item is highlighted


@dataclass(frozen=True)
class NavGroup:
    label: Promise
    icon: str
    items: tuple[NavItem, ...]


NAVIGATION: tuple[NavGroup, ...] = (
    NavGroup(
        pgettext_lazy("console nav", "總覽"),
        "home",
        (
            NavItem(pgettext_lazy("console nav", "營運總覽"), "console:dashboard"),
            NavItem(pgettext_lazy("console nav", "業績排行"), "console:leaderboard"),
            NavItem(
                pgettext_lazy("console nav", "分潤月結"),
                "console:commission_statements",
                active_for=("console:commission_statement_detail",),
            ),
            NavItem(pgettext_lazy("console nav", "訊息用量與費用"), "console:message_usage"),
        ),
    ),
    NavGroup(
        pgettext_lazy("console nav", "分析"),
        "chart",
        (
            NavItem(pgettext_lazy("console nav", "虛實融合貢獻"), "console:analytics_omo"),
            NavItem(pgettext_lazy("console nav", "顧客貢獻集中度"), "console:analytics_pareto"),
            NavItem(
                pgettext_lazy("console nav", "RFM 分析"),
                "console:analytics_rfm",
                active_for=("console:analytics_rfm_members",),
            ),
            NavItem(pgettext_lazy("console nav", "留存世代"), "console:analytics_cohorts"),
            NavItem(pgettext_lazy("console nav", "綁定趨勢"), "console:analytics_bindings"),
            NavItem(pgettext_lazy("console nav", "對話轉單漏斗"), "console:analytics_funnel"),
            NavItem(pgettext_lazy("console nav", "活躍與沉睡"), "console:analytics_lifecycle"),
        ),
    ),
    NavGroup(
        pgettext_lazy("console nav", "對話"),
        "chat",
        (
            NavItem(
                pgettext_lazy("console nav", "收件匣"),
                "console:inbox",
                active_for=("console:inbox_conversation",),
            ),
            NavItem(pgettext_lazy("console nav", "團隊對話"), "console:inbox_team"),
            NavItem(pgettext_lazy("console nav", "班表"), "console:inbox_roster"),
            NavItem(
                pgettext_lazy("console nav", "快速回覆"),
                "console:inbox_canned",
                active_for=("console:inbox_canned_edit",),
            ),
        ),
    ),
    NavGroup(
        pgettext_lazy("console nav", "訂單"),
        "receipt",
        (
            NavItem(
                pgettext_lazy("console nav", "訂單列表"),
                "console:orders",
                active_for=("console:order_detail",),
            ),
        ),
    ),
    NavGroup(
        pgettext_lazy("console nav", "顧客"),
        "users",
        (
            NavItem(
                pgettext_lazy("console nav", "顧客列表"),
                "console:customers",
                active_for=("console:customer_detail", "console:customer_privacy", "console:customer_erase"),
            ),
            NavItem(
                pgettext_lazy("console nav", "合併建議"),
                "console:merge_queue",
                active_for=("console:merge_history",),
            ),
            NavItem(
                pgettext_lazy("console nav", "綁定轉移紀錄"),
                "console:binding_transfers",
                active_for=("console:staff_transfer",),
            ),
            NavItem(pgettext_lazy("console nav", "以手機號碼綁定"), "console:binding_recovery"),
            NavItem(
                pgettext_lazy("console nav", "分眾"),
                "console:segments",
                active_for=("console:segment_detail", "console:segment_create", "console:segment_edit"),
            ),
            NavItem(pgettext_lazy("console nav", "顧客分群"), "console:segment_groups"),
            NavItem(pgettext_lazy("console nav", "預測顧客價值"), "console:segment_predictions"),
        ),
    ),
    NavGroup(
        pgettext_lazy("console nav", "商品與庫存"),
        "box",
        (
            NavItem(
                pgettext_lazy("console nav", "商品"),
                "console:products",
                active_for=("console:product_detail",),
            ),
            NavItem(pgettext_lazy("console nav", "庫存"), "console:stock"),
        ),
    ),
    NavGroup(
        pgettext_lazy("console nav", "行銷"),
        "megaphone",
        (NavItem(pgettext_lazy("console nav", "活動"), "console:campaigns"),),
    ),
    NavGroup(
        pgettext_lazy("console nav", "會員"),
        "star",
        (
            NavItem(pgettext_lazy("console nav", "會員等級"), "console:tiers"),
            NavItem(
                pgettext_lazy("console nav", "優惠券"),
                "console:coupons",
                active_for=("console:coupon_detail",),
            ),
            NavItem(pgettext_lazy("console nav", "門市折抵紀錄"), "console:till_redemptions"),
        ),
    ),
    NavGroup(
        pgettext_lazy("console nav", "匯入"),
        "upload",
        (NavItem(pgettext_lazy("console nav", "匯入作業"), "console:imports"),),
    ),
    NavGroup(
        pgettext_lazy("console nav", "設定"),
        "cog",
        (
            NavItem(
                pgettext_lazy("console nav", "門市"),
                "console:stores",
                active_for=("console:store_create", "console:store_edit"),
            ),
            NavItem(
                pgettext_lazy("console nav", "員工"),
                "console:staff",
                active_for=("console:staff_create", "console:staff_edit"),
            ),
            NavItem(
                pgettext_lazy("console nav", "API 金鑰"),
                "console:api_keys",
                active_for=("console:api_key_create",),
            ),
            NavItem(
                pgettext_lazy("console nav", "追蹤來源"),
                "console:tracking_sources",
                active_for=("console:tracking_source_create",),
            ),
            NavItem(
                pgettext_lazy("console nav", "Webhook"),
                "console:webhooks",
                active_for=("console:webhook_create", "console:webhook_detail", "console:webhook_delivery"),
            ),
            NavItem(pgettext_lazy("console nav", "綁定規則"), "console:rules_binding"),
            NavItem(pgettext_lazy("console nav", "業績歸屬規則"), "console:rules_attribution"),
            NavItem(
                pgettext_lazy("console nav", "分潤規則"),
                "console:commission_rules",
                active_for=("console:commission_rule_edit",),
            ),
            NavItem(
                pgettext_lazy("console nav", "回覆時限與營業時間"),
                "console:rules_inbox",
                active_for=("console:rules_store_hours",),
            ),
            NavItem(
                pgettext_lazy("console nav", "點數與會員等級"),
                "console:rules_loyalty",
                active_for=("console:rules_tier",),
            ),
            NavItem(pgettext_lazy("console nav", "個資與保存期限"), "console:privacy_settings"),
            NavItem(pgettext_lazy("console nav", "商品目錄"), "console:catalog_settings"),
            NavItem(
                pgettext_lazy("console nav", "平台帳號"),
                "console:platform_accounts",
                active_for=("console:platform_account_create", "console:platform_account_detail"),
            ),
            NavItem(
                pgettext_lazy("console nav", "Shopify"),
                "console:shopify",
                active_for=("console:shopify_create", "console:shopify_detail"),
            ),
            NavItem(pgettext_lazy("console nav", "稽核紀錄"), "console:audit"),
        ),
    ),
)


@functools.cache
def _target(url_name: str) -> tuple[str, Requirement] | None:
    """The URL and the requirement of a nav item's page, or None while the page does not exist.

    Cached per process: URL configuration does not change while a process runs.
    """
    try:
        url = reverse(url_name)
    except NoReverseMatch:
        return None
    requirement = getattr(resolve(url).func, "requirement", Requirement())
    return url, requirement


def navigation(request: HttpRequest) -> list[dict]:
    """The groups and links this user may open, with the current page marked active."""
    match = getattr(request, "resolver_match", None)
    current = match.view_name if match else ""
    groups = []
    for group in NAVIGATION:
        links = []
        for item in group.items:
            target = _target(item.url_name)
            if target is None or not may_open(request.user, target[1]):
                continue
            url, _requirement = target
            links.append(
                {
                    "label": item.label,
                    "url": url,
                    "active": current == item.url_name or current in item.active_for,
                }
            )
        if links:
            groups.append(
                {
                    "label": group.label,
                    "icon": group.icon,
                    "links": links,
                    "active": any(link["active"] for link in links),
                }
            )
    return groups


def planned_items() -> list[str]:
    """URL names of items whose page does not exist yet (for tests and for the curious)."""
    return [item.url_name for group in NAVIGATION for item in group.items if _target(item.url_name) is None]
