"""The catalogue's background work: LINE copies of images that lack one (omo/catalog/line_copies.py)."""

from __future__ import annotations

from django_tasks import task

from omo.catalog import line_copies


@task()
def make_line_copies(brand_id: int, retry_problems: bool = False) -> dict[str, int]:
    """Make the LINE copies the brand's images lack; returns counts by outcome."""
    return line_copies.make_missing(brand_id, retry_problems=retry_problems)
