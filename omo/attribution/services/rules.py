"""The brand's attribution rules: the click window (days) and whether the bound clerk is credited.

Read with `rules_for` (30 days, bound clerk not credited, when never set); changed with
`update_rules` only, audited as `attribution_settings.changed`. The order of precedence is the
one `decide` applies (POS staff id > clerk coupon > clerk link > bound clerk); `precedence`
says it in sentences with the brand's window filled in.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction

from omo.attribution.models import Attribution, AttributionSettings
from omo.attribution.services.clicks import AttributionError
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


def precedence(conf: AttributionSettings) -> list[Step]:
    """The rules in the order they are tried, each as a sentence; the first that applies credits."""
    days = conf.window_days
    return [
        Step(
            Rule.POS_STAFF,
            "門市 POS 訂單：歸屬給結帳的店員（POS 銷售人員編號）。",
            "A store POS sale credits the clerk who rang it up (the POS staff id).",
        ),
        Step(
            Rule.CLERK_COUPON,
            "訂單使用店員的專屬優惠碼：歸屬給該店員。",
            "An order using a clerk's coupon code credits that clerk.",
        ),
        Step(
            Rule.LINK_CLICK,
            f"顧客在下單前 {days} 天內點擊過店員的導購連結：歸屬給最後一次點擊的連結所屬店員。",
            f"A link click within {days} days before the order credits the clerk whose link it was "
            "(the last click wins).",
        ),
        Step(
            Rule.BOUND_CLERK,
            "顧客下單時已綁定店員：歸屬給綁定的店員。"
            if conf.credit_bound_clerk
            else "綁定店員不取得業績（未開啟）。",
            "An order by a bound customer credits the bound clerk."
            if conf.credit_bound_clerk
            else "The bound clerk is not credited (turned off).",
            active=conf.credit_bound_clerk,
        ),
    ]


def _window(raw: Any) -> int:
    try:
        days = int(str(raw).strip())
    except (TypeError, ValueError):
        raise AttributionError(
            "window_days", "歸屬天數須為整數 / a whole number of days", status=422
        ) from None
    if not MIN_WINDOW_DAYS <= days <= MAX_WINDOW_DAYS:
        raise AttributionError(
            "window_days",
            f"歸屬天數須介於 {MIN_WINDOW_DAYS} 到 {MAX_WINDOW_DAYS} 天 / "
            f"between {MIN_WINDOW_DAYS} and {MAX_WINDOW_DAYS} days",
            status=422,
        )
    return days


def update_rules(
    brand: Brand, *, window_days: Any = None, credit_bound_clerk: bool | None = None, actor: Actor
) -> AttributionSettings:
    """Change the window and/or whether the bound clerk is credited; what is not given is kept.

    Applies to orders attributed from now on; past attributions keep their reason.
    """
    changes: dict[str, Any] = {}
    if window_days is not None:
        changes["window_days"] = _window(window_days)
    if credit_bound_clerk is not None:
        if not isinstance(credit_bound_clerk, bool):
            raise AttributionError("credit_bound_clerk", "須為是或否 / true or false", status=422)
        changes["credit_bound_clerk"] = credit_bound_clerk
    with transaction.atomic():
        conf, _ = AttributionSettings.objects.select_for_update().get_or_create(
            brand=brand, defaults={"window_days": DEFAULT_WINDOW_DAYS}
        )
        before = {"window_days": conf.window_days, "credit_bound_clerk": conf.credit_bound_clerk}
        for name, value in changes.items():
            setattr(conf, name, value)
        conf.save(update_fields=["window_days", "credit_bound_clerk"])
        after = {"window_days": conf.window_days, "credit_bound_clerk": conf.credit_bound_clerk}
        audit.record(actor, "attribution_settings.changed", conf, before=before, after=after)
    return conf
