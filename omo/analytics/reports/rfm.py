"""RFM grid: customers by recency score (R) × frequency score (F), 5 × 5, from the scores the
segments app keeps per customer (omo.segments.models.CustomerScore: quintiles 1-5, recency
reversed, so R5 bought most recently and F5 most often).

Each cell has its customers, their net spend (all time, `CustomerScore.spend`) and their mean M
score; prospects (no order, scores 0) are counted apart. The grid is a snapshot as of the last
scoring (`computed_at`): the period does not apply; the store, clerk and channel filters narrow
to the customers who have ever bought under them. One query for the grid, one for the members of
a cell (paged).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Avg, Count, Max, QuerySet, Sum

from omo.analytics.reports.filters import ReportFilters
from omo.analytics.reports.sql import without_jit
from omo.segments.models import CustomerScore

SCORES = (5, 4, 3, 2, 1)


@dataclass(frozen=True)
class Cell:
    r: int
    f: int
    customers: int = 0
    spend: int = 0
    mean_m: float | None = None


@dataclass(frozen=True)
class RfmGrid:
    cells: dict[tuple[int, int], Cell] = field(default_factory=dict)
    prospects: int = 0
    computed_at: dt.datetime | None = None

    def cell(self, r: int, f: int) -> Cell:
        return self.cells.get((r, f), Cell(r, f))

    @property
    def customers(self) -> int:
        return sum(cell.customers for cell in self.cells.values())

    @property
    def spend(self) -> int:
        return sum(cell.spend for cell in self.cells.values())

    @property
    def rows(self) -> list[list[Cell]]:
        """R5 first, each row F1..F5 (the grid as a marketer reads it: best in the top right)."""
        return [[self.cell(r, f) for f in reversed(SCORES)] for r in SCORES]


def scores(filters: ReportFilters) -> QuerySet[CustomerScore]:
    return CustomerScore.objects.filter(filters.customers(), brand=filters.brand).order_by()


def rfm_grid(filters: ReportFilters) -> RfmGrid:
    grouped = (
        scores(filters)
        .values("r", "f")
        .annotate(customers=Count("customer_id"), spend=Sum("spend"), mean_m=Avg("m"), at=Max("computed_at"))
    )
    cells: dict[tuple[int, int], Cell] = {}
    prospects = 0
    computed_at = None
    with without_jit():
        rows = list(grouped)
    for row in rows:
        if row["at"] is not None and (computed_at is None or row["at"] > computed_at):
            computed_at = row["at"]
        if not row["r"] or not row["f"]:
            prospects += row["customers"]
            continue
        cells[(row["r"], row["f"])] = Cell(
            row["r"], row["f"], row["customers"], int(row["spend"] or 0), row["mean_m"]
        )
    return RfmGrid(cells=cells, prospects=prospects, computed_at=computed_at)


def cell_members(filters: ReportFilters, r: int, f: int) -> QuerySet[CustomerScore]:
    """The customers of one cell, best spend first (the caller intersects with whom the viewer may see)."""
    if r not in SCORES or f not in SCORES:
        raise ValueError("R and F are scores from 1 to 5")
    return scores(filters).filter(r=r, f=f).order_by("-spend", "customer_id")
