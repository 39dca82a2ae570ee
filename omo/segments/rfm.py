"""The scoring rules of `CustomerScore`, written once and read two ways: as Python (one customer's
update after an order) and as SQL `CASE` expressions (the whole brand in one UPDATE). Both come from
the same tables below, so a customer scores the same either way. docs/rfm.md says every rule in words.

- Quintile scores 1-5 against four cut points per measure (the 20th, 40th, 60th and 80th percentile
  of the brand's buyers, nearest rank): a value at or below the first cut point scores 1, above the
  fourth 5. Recency is reversed: the fewest days since the last order score 5. Equal values always
  score the same. A prospect (no counted order) scores 0 on all three.
- The named RFM segment is read from a grid of R against FM, the mean of F and M rounded half up.
- Lifecycle groups: value group (loyal / general / potential), activity (active / dormant /
  prospect against the brand's repurchase interval), channel mix and the top 20% by 12-month spend.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass

from django.db.models import BooleanField, Case, CharField, F, IntegerField, Q, Value, When
from django.db.models.lookups import GreaterThanOrEqual, LessThanOrEqual
from django.utils.functional import Promise
from django.utils.translation import pgettext_lazy

PROSPECT = "prospect"


# Named segments on R (rows) against FM (columns), each a rectangle of the 5x5 grid; together they
# cover every cell exactly once (tests/test_rfm_rules.py checks it). The widely used ten-segment map.
@dataclass(frozen=True)
class NamedSegment:
    key: str
    name: Promise  # zh-Hant, translated
    english: str
    r: tuple[int, int]  # lowest and highest R
    fm: tuple[int, int]  # lowest and highest FM
    definition: Promise


NAMED_SEGMENTS: tuple[NamedSegment, ...] = (
    NamedSegment(
        "champions",
        pgettext_lazy("rfm", "冠軍顧客"),
        "Champions",
        (5, 5),
        (4, 5),
        pgettext_lazy("rfm", "最近才買、買得多也花得多（R 5，FM 4–5）。"),
    ),
    NamedSegment(
        "loyal",
        pgettext_lazy("rfm", "忠誠顧客"),
        "Loyal",
        (3, 4),
        (4, 5),
        pgettext_lazy("rfm", "經常購買、消費高，近期仍有往來（R 3–4，FM 4–5）。"),
    ),
    NamedSegment(
        "potential_loyalist",
        pgettext_lazy("rfm", "潛力忠誠顧客"),
        "Potential loyalist",
        (4, 5),
        (2, 3),
        pgettext_lazy("rfm", "近期購買、已買過幾次，有機會成為忠誠顧客（R 4–5，FM 2–3）。"),
    ),
    NamedSegment(
        "new",
        pgettext_lazy("rfm", "新顧客"),
        "New",
        (5, 5),
        (1, 1),
        pgettext_lazy("rfm", "剛完成第一次（或少量）購買（R 5，FM 1）。"),
    ),
    NamedSegment(
        "promising",
        pgettext_lazy("rfm", "有望顧客"),
        "Promising",
        (4, 4),
        (1, 1),
        pgettext_lazy("rfm", "不久前買過，但次數與金額都還少（R 4，FM 1）。"),
    ),
    NamedSegment(
        "need_attention",
        pgettext_lazy("rfm", "需要關注"),
        "Need attention",
        (3, 3),
        (3, 3),
        pgettext_lazy("rfm", "近期、次數與金額都居中，最近來得少了（R 3，FM 3）。"),
    ),
    NamedSegment(
        "about_to_sleep",
        pgettext_lazy("rfm", "即將沉睡"),
        "About to sleep",
        (3, 3),
        (1, 2),
        pgettext_lazy("rfm", "有一陣子沒買，次數與金額偏低（R 3，FM 1–2）。"),
    ),
    NamedSegment(
        "at_risk",
        pgettext_lazy("rfm", "流失風險"),
        "At risk",
        (1, 2),
        (3, 4),
        pgettext_lazy("rfm", "過去常買、花得不少，但已很久沒有購買（R 1–2，FM 3–4）。"),
    ),
    NamedSegment(
        "cant_lose",
        pgettext_lazy("rfm", "不能失去"),
        "Can't lose them",
        (1, 2),
        (5, 5),
        pgettext_lazy("rfm", "曾是最常買、花最多的顧客，卻已很久沒回來（R 1–2，FM 5）。"),
    ),
    NamedSegment(
        "hibernating",
        pgettext_lazy("rfm", "冬眠顧客"),
        "Hibernating",
        (1, 2),
        (1, 2),
        pgettext_lazy("rfm", "很久沒買，次數與金額也少（R 1–2，FM 1–2）。"),
    ),
)

SEGMENT_KEYS: tuple[str, ...] = tuple(segment.key for segment in NAMED_SEGMENTS)
BY_KEY: dict[str, NamedSegment] = {segment.key: segment for segment in NAMED_SEGMENTS}

# --- lifecycle rules -------------------------------------------------------------------------------

# Loyal: a repeat buyer in a top RFM segment (relative to the brand's own buyers, so a brand whose
# customers all buy often does not call most of them loyal).
LOYAL_SEGMENTS: tuple[str, ...] = ("champions", "loyal")
LOYAL_MIN_ORDERS = 2
DEFAULT_REPURCHASE_DAYS = 90
TOP_SHARE = 0.2  # top 20% by 12-month spend


class ValueGroup:
    LOYAL = "loyal"
    GENERAL = "general"
    POTENTIAL = "potential"


class Activity:
    ACTIVE = "active"
    DORMANT = "dormant"
    PROSPECT = PROSPECT


class ChannelMix:
    OMO = "omo"
    ONLINE = "online"
    STORE = "store"
    NONE = "none"


# --- Python: one customer --------------------------------------------------------------------------


def quintile(value: int, cuts: Sequence[int], *, reverse: bool = False) -> int:
    """1-5: 1 + how many cut points lie below `value` (reversed: 5 minus that)."""
    above = sum(1 for cut in cuts if value > cut)
    return 5 - above if reverse else 1 + above


def fm_of(f: int, m: int) -> int:
    """The mean of F and M, rounded half up (F 2, M 3 → 3)."""
    return (f + m + 1) // 2


def named_segment(r: int, f: int, m: int) -> str:
    if r == 0:
        return PROSPECT
    fm = fm_of(f, m)
    for segment in NAMED_SEGMENTS:
        if segment.r[0] <= r <= segment.r[1] and segment.fm[0] <= fm <= segment.fm[1]:
            return segment.key
    raise ValueError(f"no named segment for R{r} FM{fm}")  # the grid covers every cell


def value_group(orders: int, rfm_segment: str) -> str:
    if orders == 0:
        return ValueGroup.POTENTIAL
    if orders >= LOYAL_MIN_ORDERS and rfm_segment in LOYAL_SEGMENTS:
        return ValueGroup.LOYAL
    return ValueGroup.GENERAL


def activity(recency_days: int | None, repurchase_days: int) -> str:
    if recency_days is None:
        return Activity.PROSPECT
    return Activity.DORMANT if recency_days > repurchase_days else Activity.ACTIVE


def channel_mix(online_orders: int, store_orders: int) -> str:
    if online_orders and store_orders:
        return ChannelMix.OMO
    if online_orders:
        return ChannelMix.ONLINE
    if store_orders:
        return ChannelMix.STORE
    return ChannelMix.NONE


def in_top20(spend_12m: int, cut: int | None) -> bool:
    return cut is not None and spend_12m > 0 and spend_12m >= cut


# --- SQL: the whole brand in one UPDATE ------------------------------------------------------------


def quintile_sql(column: str, cuts: Sequence[int], *, reverse: bool = False) -> Case:
    """`quintile` as CASE over `column`; 0 where the customer has no counted order."""
    whens = [When(orders=0, then=Value(0))]
    for index, cut in enumerate(cuts):  # the first cut point the value does not exceed decides
        whens.append(When(**{f"{column}__lte": cut}, then=Value(5 - index if reverse else 1 + index)))
    return Case(*whens, default=Value(1 if reverse else 5), output_field=IntegerField())


def _fm_between(low: int, high: int) -> Q:
    """FM in low..high, as a condition on F + M (FM ≤ k ⇔ F + M ≤ 2k; FM ≥ k ⇔ F + M ≥ 2k - 1)."""
    total = F("f") + F("m")
    return GreaterThanOrEqual(total, 2 * low - 1) & LessThanOrEqual(total, 2 * high)


def named_segment_sql() -> Case:
    """`named_segment` as CASE over the r, f, m columns (written by an earlier UPDATE)."""
    whens = [When(r=0, then=Value(PROSPECT))]
    for segment in NAMED_SEGMENTS:
        whens.append(
            When(
                Q(r__gte=segment.r[0], r__lte=segment.r[1]) & _fm_between(*segment.fm),
                then=Value(segment.key),
            )
        )
    return Case(*whens, default=Value(PROSPECT), output_field=CharField())


def value_group_sql() -> Case:
    """`value_group` as CASE over orders and the r, f, m columns (already written): the loyal
    segments' cells of the grid, so that it can be set in the same UPDATE as rfm_segment."""
    in_loyal_segment = functools.reduce(
        operator.or_,
        (
            Q(r__gte=BY_KEY[key].r[0], r__lte=BY_KEY[key].r[1]) & _fm_between(*BY_KEY[key].fm)
            for key in LOYAL_SEGMENTS
        ),
    )
    return Case(
        When(orders=0, then=Value(ValueGroup.POTENTIAL)),
        When(Q(orders__gte=LOYAL_MIN_ORDERS) & in_loyal_segment, then=Value(ValueGroup.LOYAL)),
        default=Value(ValueGroup.GENERAL),
        output_field=CharField(),
    )


def activity_sql(repurchase_days: int) -> Case:
    return Case(
        When(recency_days__isnull=True, then=Value(Activity.PROSPECT)),
        When(recency_days__gt=repurchase_days, then=Value(Activity.DORMANT)),
        default=Value(Activity.ACTIVE),
        output_field=CharField(),
    )


def top20_sql(cut: int | None) -> Case | Value:
    if cut is None:
        return Value(False)
    return Case(
        When(spend_12m__gt=0, spend_12m__gte=cut, then=Value(True)),
        default=Value(False),
        output_field=BooleanField(),
    )
