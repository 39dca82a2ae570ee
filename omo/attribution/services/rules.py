"""The brand's attribution rules: the click window (days), whether the bound clerk is credited, and
the order the rules are tried in.

Read with `rules_for` (30 days, bound clerk not credited, POS staff id > clerk coupon > clerk link >
bound clerk, when never set); changed with `update_rules` only, audited as
`attribution_settings.changed`. `precedence` says the order in sentences with the window filled in;
`decide` follows the same order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext

from omo.attribution.models import Attribution, AttributionSettings
from omo.attribution.services.clicks import AttributionError
from omo.attribution.services.decision import DEFAULT_PRECEDENCE, effective_precedence
from omo.core import audit
from omo.core.audit import Actor
from omo.core.models import Brand

MIN_WINDOW_DAYS = 1
MAX_WINDOW_DAYS = 90
DEFAULT_WINDOW_DAYS = 30

Rule = Attribution.Rule


@dataclass(frozen=True)
class Step:
    rule: str
    sentence_zh: str
    sentence_en: str
    active: bool = True


def rules_for(brand: Brand | int) -> AttributionSettings:
    brand_id = brand if isinstance(brand, int) else brand.pk
    found = AttributionSettings.objects.filter(brand_id=brand_id).first()
    return found or AttributionSettings(brand_id=brand_id, window_days=DEFAULT_WINDOW_DAYS)


def _sentences(conf: AttributionSettings) -> dict[str, Step]:
    days = conf.window_days
    bound = conf.credit_bound_clerk
    return {
        Rule.POS_STAFF: Step(
            Rule.POS_STAFF,
            "門市 POS 訂單：歸屬給結帳的店員（POS 銷售人員編號）。",
            "A store POS sale credits the clerk who rang it up (the POS staff id).",
        ),
        Rule.CLERK_COUPON: Step(
            Rule.CLERK_COUPON,
            "訂單使用店員的專屬優惠碼：歸屬給該店員。",
            "An order using a clerk's coupon code credits that clerk.",
        ),
        Rule.LINK_CLICK: Step(
            Rule.LINK_CLICK,
            f"顧客在下單前 {days} 天內點擊過店員的導購連結：歸屬給最後一次點擊的連結所屬店員。",
            f"A link click within {days} days before the order credits the clerk whose link it was "
            "(the last click wins).",
        ),
        Rule.BOUND_CLERK: Step(
            Rule.BOUND_CLERK,
            "顧客下單時已綁定店員：歸屬給綁定的店員。" if bound else "綁定店員不取得業績（未開啟）。",
            "An order by a bound customer credits the bound clerk."
            if bound
            else "The bound clerk is not credited (turned off).",
            active=bound,
        ),
    }


def precedence(conf: AttributionSettings) -> list[Step]:
    """The rules in the order they are tried, each as a sentence; the first that applies credits."""
    sentences = _sentences(conf)
    return [sentences[rule] for rule in effective_precedence(conf.precedence)]


def moved(order: list[str], rule: str, direction: str) -> list[str]:
    """The order with `rule` one place up or down (unchanged at either end)."""
    result = list(order)
    if rule not in result or direction not in ("up", "down"):
        raise AttributionError("precedence", gettext("不認得的規則或方向"), status=422)
    index = result.index(rule)
    other = index - 1 if direction == "up" else index + 1
    if 0 <= other < len(result):
        result[index], result[other] = result[other], result[index]
    return result


def _precedence(raw: Any) -> list[str]:
    names = ", ".join(DEFAULT_PRECEDENCE)
    if not isinstance(raw, list | tuple) or sorted(map(str, raw)) != sorted(DEFAULT_PRECEDENCE):
        raise AttributionError(
            "precedence",
            gettext("歸屬順序須把每條規則各列一次：%(names)s") % {"names": names},
            status=422,
        )
    return [str(rule) for rule in raw]


def _window(raw: Any) -> int:
    try:
        days = int(str(raw).strip())
    except (TypeError, ValueError):
        raise AttributionError("window_days", gettext("歸屬天數須為整數"), status=422) from None
    if not MIN_WINDOW_DAYS <= days <= MAX_WINDOW_DAYS:
        raise AttributionError(
            "window_days",
            gettext("歸屬天數須介於 %(min_window_days)s 到 %(max_window_days)s 天")
            % {"min_window_days": MIN_WINDOW_DAYS, "max_window_days": MAX_WINDOW_DAYS},
            status=422,
        )
    return days


def _snapshot(conf: AttributionSettings) -> dict[str, Any]:
    return {
        "window_days": conf.window_days,
        "credit_bound_clerk": conf.credit_bound_clerk,
        "precedence": list(effective_precedence(conf.precedence)),
    }


def update_rules(
    brand: Brand,
    *,
    window_days: Any = None,
    credit_bound_clerk: bool | None = None,
    precedence: Any = None,
    actor: Actor,
) -> AttributionSettings:
    """Change the window, whether the bound clerk is credited and/or the order of the rules; what is
    not given is kept.

    Applies to orders attributed from now on; past attributions keep their reason.
    """
    changes: dict[str, Any] = {}
    if window_days is not None:
        changes["window_days"] = _window(window_days)
    if credit_bound_clerk is not None:
        if not isinstance(credit_bound_clerk, bool):
            raise AttributionError("credit_bound_clerk", gettext("須為是或否"), status=422)
        changes["credit_bound_clerk"] = credit_bound_clerk
    if precedence is not None:
        changes["precedence"] = _precedence(precedence)
    with transaction.atomic():
        conf, _ = AttributionSettings.objects.select_for_update().get_or_create(
            brand=brand, defaults={"window_days": DEFAULT_WINDOW_DAYS}
        )
        before = _snapshot(conf)
        for name, value in changes.items():
            setattr(conf, name, value)
        conf.save(update_fields=["window_days", "credit_bound_clerk", "precedence"])
        after = _snapshot(conf)
        audit.record(actor, "attribution_settings.changed", conf, before=before, after=after)
    return conf
