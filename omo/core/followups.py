"""Gap checks for `omo followups sweep`: follow-up work that should exist for rows written before the
durable subscribers did (or written around the services), found and repaired per brand.

Core cannot look into the apps above it, so each app registers the checks for what it keeps in
step (its AppConfig.ready, next to its durable subscriptions). A check returns how many gaps it
found and repairs them unless asked not to; a repair goes through the same idempotent functions the
subscribers use, so running the sweep twice, or while the subscribers run, changes nothing more.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TypeVar

from omo.core.models import Brand

# (brand, only rows written since, repair) -> gaps found
Check = Callable[[Brand, "dt.datetime | None", bool], int]

T = TypeVar("T")
CHUNK = 2_000


@dataclass(frozen=True)
class GapCheck:
    kind: str
    label: str
    check: Check


_checks: dict[str, GapCheck] = {}


def register(kind: str, label: str, check: Check) -> None:
    known = _checks.get(kind)
    if known is not None and known.check is not check:
        raise ValueError(f"gap check {kind!r} is already registered")
    _checks[kind] = GapCheck(kind, label, check)


def checks() -> list[GapCheck]:
    return [_checks[kind] for kind in sorted(_checks)]


def sweep(brand: Brand, *, since: dt.datetime | None = None, repair: bool = True) -> dict[str, int]:
    """Gaps found per kind for one brand (repaired unless `repair` is False)."""
    return {gap.kind: gap.check(brand, since, repair) for gap in checks()}


def chunked(items: Iterable[T], size: int = CHUNK) -> Iterator[list[T]]:
    chunk: list[T] = []
    for item in items:
        chunk.append(item)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
