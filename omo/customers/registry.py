"""What customers reads from the apps above it without importing them, filled in their AppConfig.ready().

- Chat contacts (the inbox): whether a customer can be reached on a messaging platform (consent)
  and the display names their contacts go by (search).
- Identifier sources (inbox contacts, order contact details, tracked events): what the identity
  batch (`omo.customers.tasks.resolve_history`) walks after the customers' own identifiers.

- Customer insights (segments): the predicted value and the RFM scores the customer API shows.

With nothing registered a customer has no chat contacts and the batch walks the customers only.
Registering twice fails loudly: two apps answering the same question is a wiring mistake.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import ImproperlyConfigured

if TYPE_CHECKING:
    from omo.core.models import Brand
    from omo.customers.identity import Observation
    from omo.customers.models import Customer


class ChatReach(Protocol):
    """One chat contact of a customer, as far as consent cares."""

    blocked_at: dt.datetime | None
    is_follower: bool


class ChatContacts(Protocol):
    def reach(self, customer: Customer, platform: str) -> Sequence[ChatReach]:
        """The customer's contacts on that messaging platform (any order)."""
        ...

    def display_names(self, customer_ids: list[int]) -> dict[int, list[str]]:
        """Non-empty display names of the customers' contacts, by customer, oldest contact first."""
        ...

    def display_name_rows_sql(self) -> str:
        """SQL selecting (customer_id, display_name, id) of every contact: the PostgreSQL backfill
        of search text joins it for a whole range of customers at once."""
        ...


class _NoChat:
    def reach(self, customer: Customer, platform: str) -> Sequence[ChatReach]:
        return []

    def display_names(self, customer_ids: list[int]) -> dict[int, list[str]]:
        return {}

    def display_name_rows_sql(self) -> str:
        return "SELECT NULL::bigint AS customer_id, ''::text AS display_name, NULL::bigint AS id WHERE false"


_chat_contacts: ChatContacts | None = None


def register_chat_contacts(provider: ChatContacts) -> None:
    global _chat_contacts
    if _chat_contacts is not None:
        raise ImproperlyConfigured(f"chat contacts are answered by {_chat_contacts!r} already")
    _chat_contacts = provider


def chat_contacts() -> ChatContacts:
    return _chat_contacts if _chat_contacts is not None else _NoChat()


@dataclass(frozen=True)
class IdentifierSource:
    name: str  # the batch's source name (observations are recorded as "batch:<name>")
    rank: int  # sources are walked by rank, after the customers' own identifiers
    walk: Callable[[Brand, int], Iterator[list[Observation]]]  # (brand, chunk) -> chunks
    # After every source was walked: rows without a customer linked to the one their ids lead to now.
    link: Callable[[Brand, int], int] | None = None


_sources: dict[str, IdentifierSource] = {}


def register_identifier_source(source: IdentifierSource) -> None:
    if source.name in _sources or source.name == "customers":
        raise ImproperlyConfigured(f"an identifier source named {source.name} is registered already")
    _sources[source.name] = source


def identifier_sources() -> list[IdentifierSource]:
    return sorted(_sources.values(), key=lambda source: (source.rank, source.name))


class CustomerInsights(Protocol):
    """What the insight layer knows about a customer, for the customer API."""

    def predictions(self, customer: Customer) -> dict[str, Any] | None:
        """The latest predicted value (p_alive, expected orders, expected spend, fitted_at), or None."""
        ...

    def rfm(self, customer: Customer) -> dict[str, Any] | None:
        """The RFM scores (r, f, m 1-5) and the named segment, or None."""
        ...


_insights: CustomerInsights | None = None


def register_customer_insights(provider: CustomerInsights) -> None:
    global _insights
    if _insights is not None:
        raise ImproperlyConfigured(f"customer insights are answered by {_insights!r} already")
    _insights = provider


def customer_insights() -> CustomerInsights | None:
    """None while no app answers: the API then shows no predictions and no RFM."""
    return _insights
