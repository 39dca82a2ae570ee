"""What the apps above customers hold about a person, and what they do with it on request.

Customers owns the person (the profile, identifiers, consents, merge records); the apps in the
layers above own the rest (orders, chats, bindings, points, events, clicks, raw payloads). Each of
those apps writes one handler for what it stores (`omo/<app>/personal_data.py`) and registers it
from its `AppConfig.ready()`:

    register(CommerceData())

The customers services then run every handler inside their own transaction, in a stable order
(`order`, then the app label), without knowing the apps:

- PDPA export (`omo.customers.privacy.collect`): `export` adds sections to the zip;
- PDPA erasure (`erase_customer`): `needles` names the values to search for before anything is
  erased, then `erase` blanks the app's rows and returns counts;
- merge and split (`omo.customers.merge`): `moves` are re-pointed as they are (one statement on
  PostgreSQL), `merge` settles what needs a decision and writes what it did to the snapshot, `split`
  puts it back from the snapshot;
- retention (`omo.customers.retention.purge_brand`): `purge` deletes the app's expired raw rows.

`holds` lists the app's models with a foreign key to Customer; a test checks that every such
model in the installation belongs to a registered handler, so a new app cannot forget erasure.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet

if TYPE_CHECKING:
    from omo.core.models import Brand
    from omo.customers.models import Customer, CustomerSettings

Rows = list[dict[str, Any]]
Moves = Sequence[tuple[type[Model], str]]  # (model, customer field)
CHUNK = 5000  # rows per UPDATE when re-pointing


def move_back(model: type[Model], ids: list[int], from_id: int, to_id: int, field: str = "customer") -> None:
    """Re-point these rows from one customer (or conversation) to another, in chunks; rows that
    point elsewhere by now are left alone."""
    for start in range(0, len(ids), CHUNK):
        model._default_manager.filter(pk__in=ids[start : start + CHUNK], **{f"{field}_id": from_id}).update(
            **{f"{field}_id": to_id}
        )


@dataclass
class Erasure:
    """One erasure: the person's customer ids (survivor first) and what to search for."""

    brand_id: int
    customer_ids: list[int]
    identity_values: list[str]  # the person's identifiers, read before they were deleted
    needles: set[str]  # the person's values worth searching for in free text and JSON
    now: dt.datetime


@dataclass
class Merge:
    """One merge in progress: handlers record what they moved or changed in `snapshot`."""

    brand: Brand
    survivor: Customer
    merged: Customer
    now: dt.datetime
    snapshot: dict[str, Any]
    binding_resolution: str = ""  # how two open bindings were settled, in words (shown to staff)


@dataclass
class Split:
    """One split in progress: handlers put back what the snapshot says and name what they could not."""

    brand: Brand
    survivor: Customer
    merged: Customer
    snapshot: dict[str, Any]
    not_restored: list[str] = field(default_factory=list)
    moved_back: set[str] = field(default_factory=set)  # model labels already put back

    def moved(self, model: type[Model]) -> list[int]:
        return list(self.snapshot.get("moved", {}).get(model._meta.label_lower, []))

    def put_back(self, model: type[Model], field: str = "customer") -> None:
        """The model's rows the merge moved go back from the survivor to the merged customer."""
        move_back(model, self.moved(model), self.survivor.pk, self.merged.pk, field)
        self.moved_back.add(model._meta.label_lower)


@runtime_checkable
class PersonalData(Protocol):
    """One app's handler (see the module docstring; PersonalDataHandler does nothing by default)."""

    @property
    def app_label(self) -> str: ...

    @property
    def order(self) -> int: ...

    @property
    def holds(self) -> Sequence[str]: ...

    def moves(self) -> Moves: ...

    def export(self, brand_id: int, customer_ids: list[int]) -> dict[str, Rows]: ...

    def needles(self, brand_id: int, customer_ids: list[int]) -> list[str]: ...

    def erase(self, erasure: Erasure) -> dict[str, int]: ...

    def merge(self, merge: Merge) -> None: ...

    def split(self, split: Split) -> None: ...

    def purge(
        self, brand_id: int, *, retention: CustomerSettings, now: dt.datetime, chunk: int
    ) -> dict[str, int]: ...


class PersonalDataHandler:
    """A handler that does nothing; apps override what applies to what they store."""

    app_label: ClassVar[str] = ""
    # Handlers run, and their export sections appear, by order and then app label.
    order: ClassVar[int] = 100
    holds: ClassVar[Sequence[str]] = ()  # "app.Model" labels of the app's models that point at a Customer

    def moves(self) -> Moves:
        """(model, customer field) re-pointed to the survivor as they are on a merge, and back on a split."""
        return ()

    def export(self, brand_id: int, customer_ids: list[int]) -> dict[str, Rows]:
        return {}

    def needles(self, brand_id: int, customer_ids: list[int]) -> list[str]:
        return []

    def erase(self, erasure: Erasure) -> dict[str, int]:
        return {}

    def merge(self, merge: Merge) -> None:
        """Runs before `moves` are re-pointed."""

    def split(self, split: Split) -> None:
        """Runs after `moves` were put back."""

    def purge(
        self, brand_id: int, *, retention: CustomerSettings, now: dt.datetime, chunk: int
    ) -> dict[str, int]:
        return {}


_handlers: dict[str, PersonalData] = {}


def register(handler: PersonalData) -> None:
    """Add one app's handler (from its AppConfig.ready); an app registers once."""
    if not isinstance(handler, PersonalData) or not handler.app_label:
        raise ImproperlyConfigured(f"{handler!r} is not a personal-data handler with an app_label")
    if handler.app_label in _handlers:
        raise ImproperlyConfigured(
            f"a personal-data handler for {handler.app_label} is registered already "
            f"({type(_handlers[handler.app_label]).__qualname__})"
        )
    _handlers[handler.app_label] = handler


def unregister(app_label: str) -> PersonalData | None:
    """For tests that register a handler of their own."""
    return _handlers.pop(app_label, None)


def handlers() -> list[PersonalData]:
    """Every registered handler, in the order they run (and export sections appear)."""
    return sorted(_handlers.values(), key=lambda handler: (handler.order, handler.app_label))


def rows(queryset: QuerySet[Any], *, exclude: tuple[str, ...] = ()) -> Rows:
    """Every concrete column of the rows, as plain dicts (an export section)."""
    fields = [f.attname for f in queryset.model._meta.concrete_fields if f.attname not in exclude]
    return [dict(row) for row in queryset.values(*fields)]
