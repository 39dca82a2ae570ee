"""What a stored rule tree mentions: its fields and the segments it reads (docs/segment-rules.md).

The engine (omo.segments.rules) validates and runs a tree; membership upkeep only needs to know
which events can change a segment and which segments must be refreshed before it. Both are read
from the stored JSON here, without parsing it again.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

# The events that can change a segment's membership, by the field names they change. A field of no
# family here (a field added to the engine later) counts as changed by every event, so a segment is
# refreshed too often rather than left wrong.
FAMILIES: dict[str, tuple[str, ...]] = {
    # RFM and lifecycle scores (CustomerScore) follow a customer's orders when they are rescored
    # after them; the nightly score run moves them for everyone and the daily refresh follows it
    "order": ("orders.", "rfm.", "lifecycle."),
    # a whole-brand score run (omo/segments/scores.py) moves every customer's scores at once
    "scores": ("rfm.", "lifecycle."),
    "tag": ("tag",),
    "profile": ("profile.", "home_store"),
    "consent": ("consent.", "reachable"),
    "binding": ("binding.",),
    "loyalty": ("loyalty.",),
    "tracking": ("events.",),
}
# Predictions move only when the model is fitted again (its own pass); the daily refresh follows it.
SCORED = ("predicted.",)
# Merges, splits and erasures change who can be a member at all.
EVERY_SEGMENT = "merge"


def conditions(tree: Any) -> Iterator[dict[str, Any]]:
    """Every condition of a tree (depth first); malformed parts are skipped."""
    if not isinstance(tree, dict):
        return
    if "field" in tree:
        yield tree
        return
    for key in ("all", "any"):
        children = tree.get(key)
        if isinstance(children, list):
            for child in children:
                yield from conditions(child)
    if "not" in tree:
        yield from conditions(tree["not"])


def fields(tree: Any) -> set[str]:
    return {str(condition.get("field")) for condition in conditions(tree)}


def segment_refs(tree: Any) -> set[int]:
    """The ids of the segments a tree reads (`{"field": "segment", "op": "in", "value": 12}`)."""
    refs: set[int] = set()
    for condition in conditions(tree):
        if condition.get("field") != "segment":
            continue
        value = condition.get("value")
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, int) and not isinstance(item, bool):
                refs.add(item)
    return refs


def family_of(field: str) -> str | None:
    for family, prefixes in FAMILIES.items():
        if field.startswith(prefixes):
            return family
    return None


def changed_by(tree: Any, cause: str) -> bool:
    """True when an event of `cause` (a key of FAMILIES, or "merge") can change the membership of a
    segment with this tree."""
    if cause == EVERY_SEGMENT:
        return True
    prefixes = FAMILIES.get(cause, ())
    for field in fields(tree):
        if field == "segment" or field.startswith(SCORED):
            continue
        if family_of(field) is None or (prefixes and field.startswith(prefixes)):
            return True
    return False


def in_dependency_order(trees: Iterable[tuple[int, Any]]) -> list[int]:
    """Segment ids ordered so that a segment comes after the segments it reads (the engine refuses
    cycles; a cycle that slipped in anyway keeps its members in id order)."""
    refs = {segment_id: segment_refs(tree) for segment_id, tree in trees}
    ordered: list[int] = []
    placed: set[int] = set()
    visiting: set[int] = set()

    def place(segment_id: int) -> None:
        if segment_id in placed or segment_id in visiting:
            return
        visiting.add(segment_id)
        for ref in sorted(refs.get(segment_id, ())):
            if ref in refs:
                place(ref)
        visiting.discard(segment_id)
        placed.add(segment_id)
        ordered.append(segment_id)

    for segment_id in sorted(refs):
        place(segment_id)
    return ordered
