"""Which orders of an import chunk are recorded together, so that recording them as one batch
(services.record_orders) leaves what recording them one by one leaves.

One by one, an order copies its customer's name, phone and email as they are at that moment
(contact_name / contact_phone / contact_email), and a customer made without a name keeps none
when a later order names it. In one batch, identity resolution sees all the batch's orders
first, so an earlier order would get what a later one adds. A run therefore ends before an order
that would change a customer an earlier order of the run already has:

- it brings an identifier nobody holds yet (attached to that customer, it may fill an empty
  phone, email or member number);
- it names two customers (they are merged);
- it names a customer that an earlier order of the run made without a name.

A run also holds orders of one source only (the source is noted on the identifiers it attaches).
The test is on identifiers, taken generously: a run ends more often than needed rather than less.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from itertools import count
from typing import Protocol, TypeVar

from omo.commerce.schemas import OrderIn
from omo.core.models import Brand
from omo.customers import identity

Identifier = tuple[str, str]


class _Order(Protocol):
    @property
    def data(self) -> OrderIn: ...

    @property
    def identifiers(self) -> frozenset[Identifier]: ...


Run = TypeVar("Run", bound=_Order)


@dataclass
class _People:
    """Which identifiers belong to one person, as far as the chunk can tell before writing."""

    owner: dict[Identifier, int]  # identifier -> person key (a customer id, or < 0: made in this chunk)
    parent: dict[int, int] = field(default_factory=dict)
    new_keys: Iterator[int] = field(default_factory=lambda: count(-1, -1))

    def find(self, key: int) -> int:
        while key in self.parent:
            key = self.parent[key]
        return key

    def person(self, identifiers: frozenset[Identifier]) -> tuple[set[int], list[Identifier]]:
        """(the people these identifiers lead to, the identifiers nobody holds yet)."""
        people = {self.find(self.owner[ident]) for ident in identifiers if ident in self.owner}
        return people, [ident for ident in identifiers if ident not in self.owner]

    def join(self, people: set[int], fresh: list[Identifier]) -> int:
        primary = min(people) if people else next(self.new_keys)
        for other in people - {primary}:
            self.parent[other] = primary
        for ident in fresh:
            self.owner[ident] = primary
        return primary


def runs(brand: Brand, orders: Sequence[Run]) -> Iterator[list[Run]]:
    """The chunk's orders, in order, cut into runs to be recorded one batch each."""
    wanted = {ident for order in orders for ident in order.identifiers}
    stored = identity.lookup(brand.pk, wanted) if wanted else {}
    people = _People({ident: into or customer_id for ident, (customer_id, _, into) in stored.items()})
    run: list[Run] = []
    used: set[int] = set()  # people the run's orders have
    nameless: set[int] = set()  # people the run made without a name
    for order in orders:
        named = order.data.customer is not None and bool(order.data.customer.name.strip())
        matched, fresh = people.person(order.identifiers)
        changes = bool(matched & used) and (
            len(matched) > 1 or bool(fresh) or (named and bool(matched & nameless))
        )
        if run and (changes or order.data.source != run[0].data.source):
            yield run
            run, used, nameless = [], set(), set()
        run.append(order)
        if not order.identifiers:
            continue
        primary = people.join(matched, fresh)
        used.add(primary)
        if not matched and not named:
            nameless.add(primary)
        elif named:
            nameless.discard(primary)
    if run:
        yield run
