"""Identity resolution: which customer a set of identifiers seen together belongs to.

An *observation* is the identifiers one incoming thing carries (a tracked event's userId and
anonymousId, an order's phone, email and member number, a chat contact's platform user id),
optionally with the customer it is already known to belong to. `resolve` takes a batch of them and,
in a handful of queries for the whole batch:

- matches each identifier to the customer holding it (a merged customer's identifiers lead on to
  its survivor);
- attaches identifiers nobody holds yet to the customer the observation belongs to, within the
  brand's caps (one member number per customer ever, at most N of each other kind);
- creates a customer when nothing matched (only where the caller allows it);
- when one observation names two customers, merges them automatically unless both are verified
  or the merge would break a cap (then a MergeSuggestion goes to HQ's queue) or they hold different
  member numbers (never merged, not even by hand).

Junk values (`null`, `0`, `-1`, `undefined`, `anonymous`, all-zero ids, the brand's deny-list)
never match and are never stored. A customer is *verified* when it holds a verified identifier:
a platform user id that came in a signed webhook, or a member number (issued by the brand's own
POS or member system). Phone, email, userId and anonymous ids sent by a browser are not verified.

Where several customers match and may not be merged, the observation belongs to the one matched by
the identifier that comes first in the brand's priority order (CustomerSettings.identity_priority).

This package's top is its public face for the rest of omo: the rules (`rules`), reading stored
identities (`lookup`: also who holds one identifier), resolving a batch (`resolving`) and writing
identifiers and suggestions (`storage`: also attaching one identifier to a customer, race-safe on
the unique (brand, kind, value)) each sit in their own module. Other apps write identifiers only
through these (or omo.customers.services), never through CustomerIdentity's manager.
"""

from omo.customers.identity.lookup import holder, holder_id, live_customer_ids, lookup
from omo.customers.identity.resolving import Observation, Outcome, resolve
from omo.customers.identity.rules import Rules, clean, rules_for, settings_for
from omo.customers.identity.storage import add_identity, attach, suggest

__all__ = [
    "Observation",
    "Outcome",
    "Rules",
    "add_identity",
    "attach",
    "clean",
    "holder",
    "holder_id",
    "live_customer_ids",
    "lookup",
    "resolve",
    "rules_for",
    "settings_for",
    "suggest",
]
