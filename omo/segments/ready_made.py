"""The ready-made segments every brand has out of the box (kind `ready_made`, a stable `key`).

Each one is a rule tree over the `lifecycle.*` and `rfm.*` fields (docs/segment-rules.md), which
read `CustomerScore`. `ensure_ready_made(brand)` creates the missing ones and brings the others'
name, definition and rule up to date; it runs when a brand is created (omo.core.brands) and after
every score run, which then marks them stale so that their membership is refreshed.

A segment's stored name and definition are zh-Hant; screens show the definition from here in the
reader's language, with the brand's measured repurchase interval where it matters.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db.models import Q
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import pgettext, pgettext_lazy

from omo.core.models import Brand
from omo.segments import rfm, stale
from omo.segments.models import ScoreRun, Segment
from omo.segments.rfm import DEFAULT_REPURCHASE_DAYS


@dataclass(frozen=True)
class Interval:
    """What a definition says about the repurchase interval."""

    days: int = DEFAULT_REPURCHASE_DAYS
    measured: bool = False


@dataclass(frozen=True)
class ReadyMade:
    key: str
    group: str  # value / activity / channel / top / rfm: the heading it is listed under
    name: Promise
    rule: dict[str, Any]
    members: Q  # the same condition on CustomerScore, for counting
    define: Callable[[Interval], str]  # the one-line definition, in the active language
    count_key: str  # its key in omo.segments.scores.group_counts


def _condition(field: str, value: Any, op: str = "eq") -> dict[str, Any]:
    return {"field": field, "op": op, "value": value}


def _fixed(text: Promise) -> Callable[[Interval], str]:
    return lambda interval: str(text)


def _interval_note(interval: Interval) -> str:
    if interval.measured:
        return pgettext("ready-made segment", "品牌實測的回購週期")
    return pgettext("ready-made segment", "預設值，訂單歷史還不足以量測回購週期")


def _active(interval: Interval) -> str:
    return pgettext("ready-made segment", "最近 {days} 天內（{note}）有下單的顧客。").format(
        days=interval.days, note=_interval_note(interval)
    )


def _dormant(interval: Interval) -> str:
    return pgettext("ready-made segment", "曾經下單，但已超過 {days} 天（{note}）沒有再下單的顧客。").format(
        days=interval.days, note=_interval_note(interval)
    )


GROUPS: dict[str, Promise] = {
    "value": pgettext_lazy("ready-made segment", "價值分群"),
    "activity": pgettext_lazy("ready-made segment", "活躍度"),
    "channel": pgettext_lazy("ready-made segment", "購買通路"),
    "top": pgettext_lazy("ready-made segment", "高消費顧客"),
    "rfm": pgettext_lazy("ready-made segment", "RFM 分群"),
}

_LIFECYCLE: tuple[ReadyMade, ...] = (
    ReadyMade(
        "loyal",
        "value",
        pgettext_lazy("ready-made segment", "忠實會員"),
        _condition("lifecycle.value_group", rfm.ValueGroup.LOYAL),
        Q(value_group=rfm.ValueGroup.LOYAL),
        _fixed(
            pgettext_lazy(
                "ready-made segment",
                "回購過（2 筆以上有效訂單）且屬於 RFM 冠軍顧客或忠誠顧客的顧客。",
            )
        ),
        "value_group.loyal",
    ),
    ReadyMade(
        "general",
        "value",
        pgettext_lazy("ready-made segment", "一般顧客"),
        _condition("lifecycle.value_group", rfm.ValueGroup.GENERAL),
        Q(value_group=rfm.ValueGroup.GENERAL),
        _fixed(pgettext_lazy("ready-made segment", "有有效訂單，但還不是忠實會員的顧客。")),
        "value_group.general",
    ),
    ReadyMade(
        "potential",
        "value",
        pgettext_lazy("ready-made segment", "潛在顧客"),
        _condition("lifecycle.value_group", rfm.ValueGroup.POTENTIAL),
        Q(value_group=rfm.ValueGroup.POTENTIAL),
        _fixed(
            pgettext_lazy(
                "ready-made segment", "已是品牌顧客（加入好友、註冊或留下資料），但還沒有任何有效訂單。"
            )
        ),
        "value_group.potential",
    ),
    ReadyMade(
        "active",
        "activity",
        pgettext_lazy("ready-made segment", "活躍客"),
        _condition("lifecycle.activity", rfm.Activity.ACTIVE),
        Q(activity=rfm.Activity.ACTIVE),
        _active,
        "activity.active",
    ),
    ReadyMade(
        "dormant",
        "activity",
        pgettext_lazy("ready-made segment", "沉睡客"),
        _condition("lifecycle.activity", rfm.Activity.DORMANT),
        Q(activity=rfm.Activity.DORMANT),
        _dormant,
        "activity.dormant",
    ),
    ReadyMade(
        "omo",
        "channel",
        pgettext_lazy("ready-made segment", "虛實融合顧客"),
        _condition("lifecycle.channel_mix", rfm.ChannelMix.OMO),
        Q(channel_mix=rfm.ChannelMix.OMO),
        _fixed(pgettext_lazy("ready-made segment", "在網路（官網、外部網店或電商平台）與門市都買過的顧客。")),
        "channel_mix.omo",
    ),
    ReadyMade(
        "online_only",
        "channel",
        pgettext_lazy("ready-made segment", "只在網路購買"),
        _condition("lifecycle.channel_mix", rfm.ChannelMix.ONLINE),
        Q(channel_mix=rfm.ChannelMix.ONLINE),
        _fixed(pgettext_lazy("ready-made segment", "只在網路下單、從未在門市購買的顧客。")),
        "channel_mix.online",
    ),
    ReadyMade(
        "store_only",
        "channel",
        pgettext_lazy("ready-made segment", "只在門市購買"),
        _condition("lifecycle.channel_mix", rfm.ChannelMix.STORE),
        Q(channel_mix=rfm.ChannelMix.STORE),
        _fixed(pgettext_lazy("ready-made segment", "只在門市（POS）購買、從未在網路下單的顧客。")),
        "channel_mix.store",
    ),
    ReadyMade(
        "top20",
        "top",
        pgettext_lazy("ready-made segment", "消費前 20% 顧客"),
        _condition("lifecycle.top20", True),
        Q(top20=True),
        _fixed(
            pgettext_lazy(
                "ready-made segment", "近 12 個月淨消費金額排名前 20% 的顧客（同額並列者一併計入）。"
            )
        ),
        "top20",
    ),
)

_RFM: tuple[ReadyMade, ...] = tuple(
    ReadyMade(
        f"rfm_{segment.key}",
        "rfm",
        segment.name,
        _condition("rfm.segment", [segment.key], op="in"),
        Q(rfm_segment=segment.key),
        _fixed(segment.definition),
        f"rfm.{segment.key}",
    )
    for segment in rfm.NAMED_SEGMENTS
)

READY_MADE: tuple[ReadyMade, ...] = _LIFECYCLE + _RFM
BY_KEY: dict[str, ReadyMade] = {definition.key: definition for definition in READY_MADE}


def interval_of(brand_id: int) -> Interval:
    run = ScoreRun.objects.filter(brand_id=brand_id, computed_at__isnull=False).first()
    return Interval(run.repurchase_days, run.repurchase_measured) if run else Interval()


def ensure_ready_made(brand: Brand) -> list[Segment]:
    """Create the brand's missing ready-made segments, update the others' name, definition and rule.
    A created or changed one is stale from now. Returns them in definition order."""
    interval = interval_of(brand.pk)
    now = timezone.now()
    with translation.override("zh-hant"):
        wanted = {
            definition.key: (str(definition.name), definition.define(interval)[:300], definition.rule)
            for definition in READY_MADE
        }
    existing = {segment.key: segment for segment in Segment.objects.filter(brand=brand, key__in=list(wanted))}
    missing = [
        Segment(
            brand=brand,
            kind=Segment.Kind.READY_MADE,
            key=key,
            name=name,
            description=description,
            rule=rule,
            stale_since=now,
        )
        for key, (name, description, rule) in wanted.items()
        if key not in existing
    ]
    Segment.objects.bulk_create(missing, ignore_conflicts=True)
    changed = []
    for key, segment in existing.items():
        name, description, rule = wanted[key]
        if (segment.kind, segment.name, segment.description, segment.rule) != (
            Segment.Kind.READY_MADE,
            name,
            description,
            rule,
        ):
            segment.kind, segment.name, segment.description, segment.rule = (
                Segment.Kind.READY_MADE,
                name,
                description,
                rule,
            )
            segment.stale_since = segment.stale_since or now
            changed.append(segment)
    if changed:
        Segment.objects.bulk_update(changed, ["kind", "name", "description", "rule", "stale_since"])
    order = {definition.key: index for index, definition in enumerate(READY_MADE)}
    return sorted(
        Segment.objects.filter(brand=brand, key__in=list(wanted)), key=lambda segment: order[segment.key]
    )


def mark_stale(brand_id: int, now: dt.datetime) -> int:
    """The scores changed: the segments that read them (every ready-made one, and any rule on RFM or
    lifecycle fields) are marked stale and their refresh is queued."""
    return stale.mark_stale(brand_id, "scores", now=now)
