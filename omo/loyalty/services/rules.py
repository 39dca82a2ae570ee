"""The brand's points rules and tiers, as the brand sets them (console, API); every change audited.

Points rules live on `LoyaltyProgram` (created with the defaults on first read: 1 point per NT$100,
1 point = NT$1, at most 50% of a subtotal paid in points, points expire after 12 months, tiers by
365 days of spend). Tiers: a name, a spend threshold (minor units, unique per brand, 0 or more) and
an earn multiplier (percent); ordered by threshold, a higher tier never earns less than a lower one.
A change to tiers applies to each member at the next tier recompute (order, refund or the nightly job).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy

from omo.core import audit
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.loyalty.models import LoyaltyAccount, LoyaltyProgram, Tier
from omo.loyalty.services.errors import LoyaltyError

# field -> (minimum, maximum, zh label)
PROGRAM_LIMITS: dict[str, tuple[int, int, str | Promise]] = {
    "earn_points": (1, 1000, gettext_lazy("每次累積點數")),
    "earn_per_amount": (1, 10**12, gettext_lazy("每累積一次的消費金額")),
    "point_value": (0, 10**9, gettext_lazy("每點折抵金額")),
    "max_redeem_percent": (0, 100, gettext_lazy("點數折抵上限（%）")),
    "expiry_months": (0, 120, gettext_lazy("點數效期（月）")),
    "tier_window_days": (1, 1095, gettext_lazy("等級計算期間（天）")),
}
MIN_MULTIPLIER = 0
MAX_MULTIPLIER = 1000
MAX_NAME = 40


class RulesError(LoyaltyError):
    def __init__(self, field: str, message: str, *, status: int = 422, code: str | None = None):
        super().__init__(field, message, status=status, code=code)


def _whole(field: str, raw: Any, low: int, high: int, label: str | Promise) -> int:
    if isinstance(raw, bool):
        raw = None
    try:
        value = int(str(raw).strip())
    except (TypeError, ValueError):
        raise RulesError(field, gettext("%(label)s須為整數") % {"label": label}) from None
    if not low <= value <= high:
        raise RulesError(
            field, gettext("%(label)s須介於 %(low)s 到 %(high)s") % {"label": label, "low": low, "high": high}
        )
    return value


def update_program(brand: Brand, *, actor: Actor, **values: Any) -> LoyaltyProgram:
    """Change any of the points rules in PROGRAM_LIMITS; what is not given is kept."""
    unknown = sorted(set(values) - set(PROGRAM_LIMITS))
    if unknown:
        raise RulesError(unknown[0], gettext("不認得的設定：%(name)s") % {"name": unknown[0]})
    cleaned = {
        name: _whole(name, raw, *PROGRAM_LIMITS[name]) for name, raw in values.items() if raw is not None
    }
    with transaction.atomic():
        program, _ = LoyaltyProgram.objects.select_for_update().get_or_create(brand=brand)
        before = {name: getattr(program, name) for name in PROGRAM_LIMITS}
        for name, value in cleaned.items():
            setattr(program, name, value)
        program.save()
        after = {name: getattr(program, name) for name in PROGRAM_LIMITS}
        audit.record(actor, "loyalty_program.changed", program, before=before, after=after)
    return program


def _tier_values(
    brand: Brand, tier: Tier | None, *, name: Any, name_en: Any, threshold: Any, earn_multiplier_percent: Any
) -> dict[str, Any]:
    text = str(name or "").strip()
    if not text:
        raise RulesError("name", gettext("請填寫等級名稱"))
    if len(text) > MAX_NAME:
        raise RulesError("name", gettext("等級名稱最多 %(max_name)s 字") % {"max_name": MAX_NAME})
    english = str(name_en or "").strip()
    if len(english) > MAX_NAME:
        raise RulesError("name_en", gettext("英文名稱最多 %(max_name)s 字") % {"max_name": MAX_NAME})
    spend = _whole("threshold", threshold, 0, 10**15, "消費門檻")
    multiplier = _whole(
        "earn_multiplier_percent", earn_multiplier_percent, MIN_MULTIPLIER, MAX_MULTIPLIER, "點數倍率（%）"
    )
    others = Tier.objects.select_for_update().filter(brand=brand)
    if tier is not None:
        others = others.exclude(pk=tier.pk)
    rows = list(others.order_by("threshold"))
    if any(row.name == text for row in rows):
        raise RulesError("name", gettext("已有名為「%(text)s」的等級") % {"text": text}, code="conflict")
    clash = next((row for row in rows if row.threshold == spend), None)
    if clash is not None:
        raise RulesError(
            "threshold",
            gettext("門檻與「%(name)s」相同；每個等級的門檻須不同") % {"name": clash.name},
            code="conflict",
        )
    below = [row for row in rows if row.threshold < spend]
    above = [row for row in rows if row.threshold > spend]
    if below and below[-1].earn_multiplier_percent > multiplier:
        raise RulesError(
            "earn_multiplier_percent",
            gettext("點數倍率不可低於較低等級「%(name)s」的 %(earn_multiplier_percent)s%%")
            % {"name": below[-1].name, "earn_multiplier_percent": below[-1].earn_multiplier_percent},
        )
    if above and above[0].earn_multiplier_percent < multiplier:
        raise RulesError(
            "earn_multiplier_percent",
            gettext("點數倍率不可高於較高等級「%(name)s」的 %(earn_multiplier_percent)s%%")
            % {"name": above[0].name, "earn_multiplier_percent": above[0].earn_multiplier_percent},
        )
    return {"name": text, "name_en": english, "threshold": spend, "earn_multiplier_percent": multiplier}


def _snapshot(tier: Tier) -> dict[str, Any]:
    return {
        "name": tier.name,
        "name_en": tier.name_en,
        "threshold": tier.threshold,
        "earn_multiplier_percent": tier.earn_multiplier_percent,
    }


def create_tier(
    brand: Brand,
    *,
    name: Any,
    threshold: Any,
    earn_multiplier_percent: Any = 100,
    name_en: Any = "",
    actor: Actor,
) -> Tier:
    with transaction.atomic():
        values = _tier_values(
            brand,
            None,
            name=name,
            name_en=name_en,
            threshold=threshold,
            earn_multiplier_percent=earn_multiplier_percent,
        )
        tier = Tier.objects.create(brand=brand, **values)
        audit.record(actor, "tier.created", tier, after=values)
    return tier


def update_tier(tier: Tier, *, actor: Actor, **changes: Any) -> Tier:
    """Change a tier; fields not given are kept (name, name_en, threshold, earn_multiplier_percent)."""
    unknown = sorted(set(changes) - {"name", "name_en", "threshold", "earn_multiplier_percent"})
    if unknown:
        raise RulesError(unknown[0], gettext("不認得的欄位：%(name)s") % {"name": unknown[0]})
    with transaction.atomic():
        locked = Tier.objects.select_for_update().get(pk=tier.pk, brand=actor.brand)
        before = _snapshot(locked)
        merged = {**before, **{name: value for name, value in changes.items() if value is not None}}
        values = _tier_values(locked.brand, locked, **merged)
        for name, value in values.items():
            setattr(locked, name, value)
        locked.save()
        audit.record(actor, "tier.changed", locked, before=before, after=values)
    return locked


def delete_tier(tier: Tier, *, actor: Actor) -> int:
    """Delete a tier; its members have no tier until their next recompute. Returns how many they were."""
    with transaction.atomic():
        locked = Tier.objects.select_for_update().get(pk=tier.pk, brand=actor.brand)
        members = LoyaltyAccount.objects.filter(brand=actor.brand, tier=locked).count()
        audit.record(actor, "tier.deleted", locked, before=_snapshot(locked), members=members)
        locked.delete()
    return members
