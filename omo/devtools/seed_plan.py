"""What every chunk of the demo's streamed data is generated from: the plan fixed before the first
customer (stores, catalogue, coupons, time look-ups), the tables and counters a chunk writes, and
how much of each id range and counter one chunk gets (`strides`, `hard_limits`).
"""

from __future__ import annotations

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass, field

DAY = 86400
TAIPEI = zoneinfo.ZoneInfo("Asia/Taipei")

# The streamed tables, in the order a chunk writes them (parents before children).
TABLES = (
    "customers",
    "identities",
    "accounts",
    "codes",
    "orders",
    "lines",
    "refunds",
    "redemptions",
    "points",
)
# Numbers that appear in the data (order names, external ids): each chunk counts in its own block.
COUNTERS = ("pos", "web", "external", "marketplace", "refunds", "adjust")


@dataclass
class StoreInfo:
    id: int
    code: str
    hours: list[list[tuple[int, int]]]  # per weekday (mon=0), ranges of local seconds of day
    clerks: list[tuple[int, str]]  # (user id, employee code)
    manager: tuple[int, str]


@dataclass
class StreamPlan:
    """Everything fixed before the first customer: built once by the seeder, read by every chunk
    (forked worker processes inherit it)."""

    seed: int
    today: dt.date
    customers: int
    chunk: int
    orders_per_customer: float
    brand_id: int
    now_t: int
    window_start_t: int
    program_start_t: int
    anniversary: tuple[int, int]
    day0: int
    day_text: list[str]
    tod_text: list[str]
    plus_year: list[int]
    weekdays: list[int]
    store_cum: list[float]
    online_cum: list[float]
    online_hours: list[int]
    surnames: tuple[tuple[str, str, float], ...]
    surname_table: list[int]
    given_f: tuple[tuple[str, str], ...]
    given_m: tuple[tuple[str, str], ...]
    email_domains: tuple[str, ...]
    districts: tuple[tuple[str, str, str], ...]
    roads: tuple[str, ...]
    tags: tuple[str, ...]
    home_store_table: list[int]
    stores: list[StoreInfo]
    variants: list[tuple[int, int, str, int, str]]  # (id, product id, sku, price, title)
    variant_table: list[int]
    tiers: list[tuple[int, int, int]]  # (threshold, id, earn multiplier %)
    coupons: dict[str, int]
    shared_codes: dict[str, int]
    welcome_cap: int
    freeship_cap: int
    earn_points: int
    earn_per_amount: int
    point_value: int
    max_redeem_percent: int
    agent_ids: list[int]
    shipping_fee: int
    free_shipping_from: int
    postgres: bool
    tails: dict[str, str] = field(default_factory=dict)  # COPY text of the columns we leave to defaults

    @property
    def chunks(self) -> int:
        return -(-self.customers // self.chunk)

    def chunk_range(self, index: int) -> tuple[int, int]:
        start = index * self.chunk
        return start, min(self.customers, start + self.chunk)


# --- how much room a chunk gets ------------------------------------------------------------------


def strides(plan: StreamPlan) -> dict[str, int]:
    """Ids and counter values one chunk may use, per table and counter.

    Customers, accounts, identities (3) and personal codes (1) per customer are hard limits; the
    rest follow the orders, whose count per chunk varies: room for the mean plus a margin of about
    six standard deviations (a customer's order count has a coefficient of variation of ~1.4), so
    a chunk that needs more is a once-in-never event, which `ChunkGenerator.fits` still handles.
    """
    c = plan.chunk
    orders = plan.orders_per_customer * 1.08  # walk-in shoppers' POS orders come on top
    margin = 1 + 8 / math.sqrt(c)

    def room(per_customer: float) -> int:
        return math.ceil(per_customer * c * margin) + 64

    return {
        "customers": c,
        "identities": 3 * c,
        "accounts": c,
        "codes": c,
        "orders": room(orders),
        "lines": room(orders * 1.7),
        "refunds": room(orders * 0.035),
        "redemptions": room(orders * 0.05),
        "points": room(orders * 1.12 + 0.3),
        # Order numbers by channel (POS ~57% of orders, web shop ~30%, 91APP ~5%, marketplaces
        # ~8%), with room to spare: numbers stay dense enough to look like a shop's.
        "pos": room(orders * 0.64),
        "web": room(orders * 0.34),
        "external": room(orders * 0.065),
        "marketplace": room(orders * 0.095),
        "adjust": c,
    }


def hard_limits(plan: StreamPlan) -> dict[str, int]:
    """What a chunk can never exceed (180 orders a customer, plus walk-ins at a tenth of POS)."""
    c = plan.chunk
    orders = 200 * c
    return {
        "customers": c,
        "identities": 3 * c,
        "accounts": c,
        "codes": c,
        "orders": orders,
        "lines": 5 * orders,
        "refunds": orders,
        "redemptions": orders,
        "points": 3 * orders + 3 * c,
        "pos": orders,
        "web": orders,
        "external": orders,
        "marketplace": orders,
        "adjust": c,
    }


@dataclass
class ChunkRows:
    index: int
    customers: int
    text: dict[str, str]
    used: dict[str, int]  # ids per table and values per counter this chunk took
    coupon_uses: dict[str, int]
    totals: dict[str, int]  # orders_total, refunded_total, points_balance
