"""Resolving a batch of observations: the in-memory picture of the customers it touches (a
union-find over existing and new customers), the merges and suggestions it leads to, and one
transaction that writes them.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from django.db import connection, transaction

from omo.core import bulk, events
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.customers import search
from omo.customers.identity.lookup import CUSTOMER_TABLE, IDENTITY_TABLE, live_customer_ids, lookup
from omo.customers.identity.rules import KINDS, PROFILE_FIELDS, Kind, Rules, clean, rules_for
from omo.customers.identity.storage import insert_identities, suggest
from omo.customers.models import Customer, CustomerIdentity


@dataclass
class Observation:
    """Identifiers seen together: [(kind, value)] or [(kind, value, verified)]."""

    identifiers: list[tuple] = field(default_factory=list)
    customer_id: int | None = None  # the customer it already belongs to, if known
    name: str = ""
    create: bool = True  # may a new customer be made when nothing matches


@dataclass
class _State:
    counts: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    verified: bool = False
    member: str | None = None
    name: str = ""
    profile: dict[str, str] = field(default_factory=dict)
    filled: set[str] = field(default_factory=set)  # profile fields an existing customer already has


@dataclass
class Outcome:
    customer_ids: list[int | None]
    created: list[Customer]
    merges: list = field(default_factory=list)  # CustomerMerge rows made
    suggestions: int = 0
    attached: int = 0
    identifiers: int = 0  # usable identifiers in the batch (junk and malformed ones dropped)


class _Batch:
    """The in-memory picture of the customers a batch touches; temporary customers have keys < 0."""

    def __init__(self, rules: Rules):
        self.rules = rules
        self.owner: dict[tuple[str, str], int] = {}
        self.parent: dict[int, int] = {}
        self.state: dict[int, _State] = {}
        self.new_keys = itertools.count(-1, -1)
        self.new_identities: dict[tuple[str, str], tuple[int, bool]] = {}
        self.upgrade: set[tuple[str, str]] = set()
        self.merges: list[tuple[int, int, str, str]] = []
        self.suggestions: dict[tuple[int, int], tuple[str, str, str]] = {}

    def find(self, key: int) -> int:
        root = key
        while root in self.parent:
            root = self.parent[root]
        while key != root:  # path compression
            self.parent[key], key = root, self.parent[key]
        return root

    def verdict(self, a: int, b: int) -> str:
        sa, sb = self.state[a], self.state[b]
        if sa.member and sb.member and sa.member != sb.member:
            return "member_number"
        if sa.verified and sb.verified:
            return "verified"
        for kind in set(sa.counts) | set(sb.counts):
            if sa.counts[kind] + sb.counts[kind] > self.rules.cap_of(kind):
                return "cap"
        return ""

    def survivor(self, a: int, b: int) -> tuple[int, int]:
        """(survivor, merged): an existing customer over a new one, then verified, member, oldest."""
        if (a < 0) != (b < 0):
            return (a, b) if a > 0 else (b, a)
        if a < 0:
            return (a, b) if a > b else (b, a)  # the one made first in this batch
        sa, sb = self.state[a], self.state[b]
        ka = (not sa.verified, not sa.member, a)
        kb = (not sb.verified, not sb.member, b)
        return (a, b) if ka <= kb else (b, a)

    def join(self, primary: int, other: int, trigger: tuple[str, str]) -> int:
        primary, other = self.find(primary), self.find(other)
        if primary == other:
            return primary
        problem = self.verdict(primary, other)
        if problem:
            if problem != "member_number":
                pair = (primary, other) if primary < other else (other, primary)
                self.suggestions.setdefault(pair, (trigger[0], trigger[1], problem))
            return primary
        keep, gone = self.survivor(primary, other)
        self.parent[gone] = keep
        sk, sg = self.state[keep], self.state.pop(gone)
        for kind, n in sg.counts.items():
            sk.counts[kind] += n
        sk.verified = sk.verified or sg.verified
        sk.member = sk.member or sg.member
        sk.name = sk.name or sg.name
        for name, value in sg.profile.items():
            sk.profile.setdefault(name, value)
        sk.filled |= sg.filled
        if gone > 0:
            self.merges.append((keep, gone, trigger[0], trigger[1]))
        return keep

    def attach(self, key: int, ident: tuple[str, str], verified: bool) -> None:
        kind, value = ident
        st = self.state[key]
        if kind == Kind.MEMBER_NUMBER and st.member and st.member != value:
            return  # one member number per customer, ever (its profile may hold it before its row exists)
        if st.counts[kind] >= self.rules.cap_of(kind):
            return
        self.owner[ident] = key
        self.new_identities[ident] = (key, verified)
        st.counts[kind] += 1
        st.verified = st.verified or verified
        if kind == Kind.MEMBER_NUMBER:
            st.member = value
        if kind in PROFILE_FIELDS:
            st.profile.setdefault(PROFILE_FIELDS[kind], value)


def _cleaned(rules: Rules, obs: Observation) -> list[tuple[str, str, bool]]:
    seen: dict[tuple[str, str], bool] = {}
    for item in obs.identifiers:
        kind, raw = item[0], item[1]
        verified = bool(item[2]) if len(item) > 2 else False
        if kind not in KINDS:
            raise ValueError(f"unknown identifier kind {kind!r}")
        value = clean(rules, kind, raw)
        if value is not None:
            seen[(kind, value)] = seen.get((kind, value), False) or verified
    return sorted(((k, v, ver) for (k, v), ver in seen.items()), key=lambda t: (rules.rank(t[0]), t[1]))


def _load_states(brand_id: int, batch: _Batch, ids: set[int]) -> None:
    ids = {i for i in ids if i > 0 and i not in batch.state}
    if not ids:
        return
    for i in ids:
        batch.state[i] = _State()
    if connection.vendor == "postgresql":  # arrays as one parameter each (see omo.customers.identity.lookup)
        with connection.cursor() as cursor:
            # By customer only, the brand checked here: with `brand_id = %s` in the WHERE the planner
            # may walk the brand index whenever the statistics lag behind a fast-growing table.
            cursor.execute(
                f"SELECT customer_id, kind, value, verified, brand_id FROM {IDENTITY_TABLE} "
                "WHERE customer_id = ANY(%s)",
                [list(ids)],
            )
            rows = [row[:4] for row in cursor.fetchall() if row[4] == brand_id]
            cursor.execute(
                f"SELECT id, phone, email, member_number FROM {CUSTOMER_TABLE} WHERE id = ANY(%s)",
                [list(ids)],
            )
            profiles = cursor.fetchall()
    else:
        rows = list(
            CustomerIdentity.objects.filter(brand_id=brand_id, customer_id__in=ids).values_list(
                "customer_id", "kind", "value", "verified"
            )
        )
        profiles = list(
            Customer.objects.filter(pk__in=ids).values_list("pk", "phone", "email", "member_number")
        )
    for customer_id, kind, value, verified in rows:
        st = batch.state[customer_id]
        st.counts[kind] += 1
        st.verified = st.verified or verified
        if kind == Kind.MEMBER_NUMBER:
            st.member = value
    for pk, phone, email, member_number in profiles:
        st = batch.state[pk]
        st.member = st.member or member_number or None
        st.filled = {
            n for n, v in (("phone", phone), ("email", email), ("member_number", member_number)) if v
        }


def resolve(
    brand: Brand,
    observations: list[Observation],
    *,
    source: str,
    rules: Rules | None = None,
    ignore_conflicts: bool = False,
    actor: Actor | None = None,
) -> Outcome:
    """The customer id of each observation (None when nothing matched and none may be made).

    Writes new customers, identifiers, automatic merges and merge suggestions. With
    `ignore_conflicts` an identifier a concurrent writer stored first is skipped; without it the
    INSERT raises IntegrityError and the caller decides (the order path retries one by one).
    """
    from omo.customers import merge as merging

    rules = rules or rules_for(brand)
    batch = _Batch(rules)
    cleaned = [_cleaned(rules, obs) for obs in observations]
    stored = lookup(brand.pk, {(k, v) for idents in cleaned for k, v, _ in idents})
    # Identifiers of a merged customer lead on to the customer it was merged into.
    merged_hops = {into for _, _, into in stored.values() if into}
    known_ids = {obs.customer_id for obs in observations if obs.customer_id}
    live = live_customer_ids(brand.pk, merged_hops | known_ids) if (merged_hops or known_ids) else {}
    for ident, (customer_id, _verified, into) in stored.items():
        batch.owner[ident] = live.get(into, into) if into else customer_id
    # Customers whose identifiers or merges this batch may change need their current picture.
    needed: set[int] = set()
    for obs, idents in zip(observations, cleaned, strict=True):
        owners = {batch.owner[(k, v)] for k, v, _ in idents if (k, v) in batch.owner}
        if obs.customer_id:
            owners.add(live.get(obs.customer_id, obs.customer_id))
        unowned = any((k, v) not in batch.owner for k, v, _ in idents)
        upgrades = any(ver and (k, v) in stored and not stored[(k, v)][1] for k, v, ver in idents)
        if len(owners) > 1 or (owners and (unowned or upgrades)):
            needed |= owners
    _load_states(brand.pk, batch, needed)

    results: list[int | None] = []
    names: dict[int, str] = {}
    for obs, idents in zip(observations, cleaned, strict=True):
        candidates: list[tuple[int, tuple[str, str]]] = []
        if obs.customer_id and obs.customer_id in live:
            candidates.append((live[obs.customer_id], ("", "")))
        for kind, value, _ in idents:
            if (kind, value) in batch.owner:
                candidates.append((batch.owner[(kind, value)], (kind, value)))
        if not candidates:
            if not (obs.create and idents):
                results.append(None)
                continue
            key = next(batch.new_keys)
            batch.state[key] = _State(name=(obs.name or "").strip()[:120])
            names[key] = batch.state[key].name
            candidates.append((key, ("", "")))
        roots = {batch.find(key) for key, _ in candidates}
        if len(roots) > 1 or any(
            (k, v) not in batch.owner or (ver and (k, v) in stored and not stored[(k, v)][1])
            for k, v, ver in idents
        ):
            _load_states(brand.pk, batch, roots)  # a no-op unless the pre-pass missed one
        primary = batch.find(candidates[0][0])
        for other, trigger in candidates[1:]:
            if batch.find(other) != primary:
                primary = batch.join(primary, other, trigger if trigger[0] else candidates[0][1])
        for kind, value, verified in idents:
            ident = (kind, value)
            if ident not in batch.owner:
                batch.attach(primary, ident, verified)
            elif verified and ident in stored and not stored[ident][1]:
                batch.upgrade.add(ident)
                owner = batch.find(batch.owner[ident])
                if owner in batch.state:
                    batch.state[owner].verified = True
        if obs.name and primary in batch.state and not batch.state[primary].name:
            batch.state[primary].name = obs.name.strip()[:120]
        results.append(primary)

    outcome = _write(
        brand, batch, results, source=source, ignore_conflicts=ignore_conflicts, actor=actor, merging=merging
    )
    outcome.identifiers = sum(len(idents) for idents in cleaned)
    return outcome


def _write(brand, batch: _Batch, results, *, source, ignore_conflicts, actor, merging) -> Outcome:
    real: dict[int, int] = {}
    created: list[Customer] = []
    outcome = Outcome(customer_ids=[], created=created)
    with transaction.atomic():
        temps = sorted({batch.find(k) for k in batch.state if k < 0 and batch.find(k) == k}, reverse=True)
        if temps:
            rows: list[Customer] = []
            for key in temps:
                st = batch.state[key]
                profile = {
                    "name": st.name,
                    "phone": st.profile.get("phone", ""),
                    "email": st.profile.get("email", ""),
                    "member_number": st.profile.get("member_number", ""),
                }
                # Written with its search text: a customer made here has no chat contacts yet, so
                # this is what search.refresh would compute (and no second write of each row).
                rows.append(
                    bulk.new(
                        Customer,
                        {
                            "brand_id": brand.pk,
                            "search_text": search.build_search_text(**profile),
                            **profile,
                        },
                    )
                )
            bulk.insert(Customer, rows)
            for key, customer in zip(temps, rows, strict=True):
                real[key] = customer.pk
            created.extend(rows)

        def final(key: int) -> int:
            root = batch.find(key)
            return real.get(root, root)

        for survivor, merged, kind, value in batch.merges:
            outcome.merges.append(
                merging.merge_customers(
                    survivor,
                    merged,
                    brand=brand,
                    actor=actor,
                    automatic=True,
                    trigger_kind=kind,
                    trigger_value=value,
                    reason=merging.AUTOMATIC_REASON,
                    rules=batch.rules,
                )
            )
        if batch.new_identities:
            insert_identities(
                brand,
                [
                    (final(key), kind, value, verified)
                    for (kind, value), (key, verified) in batch.new_identities.items()
                ],
                source=source[:40],
                ignore_conflicts=ignore_conflicts,
            )
            outcome.attached = len(batch.new_identities)
            _fill_profiles(brand, batch, final)
        if batch.upgrade:
            by_kind: dict[str, list[str]] = defaultdict(list)
            for kind, value in batch.upgrade:
                by_kind[kind].append(value)
            for kind, values in by_kind.items():
                CustomerIdentity.objects.filter(brand=brand, kind=kind, value__in=values).update(
                    verified=True
                )
        if batch.suggestions:
            outcome.suggestions = suggest(
                brand,
                [
                    (final(a), final(b), kind, value, problem)
                    for (a, b), (kind, value, problem) in batch.suggestions.items()
                ],
            )
    if created:
        events.publish_many(
            "customer.created", ({"brand_id": brand.pk, "customer_id": customer.pk} for customer in created)
        )
    outcome.customer_ids = [final(key) if key is not None else None for key in results]
    return outcome


def _fill_profiles(brand: Brand, batch: _Batch, final) -> None:
    """Existing customers that gained a phone, email or member number get it on an empty profile field."""
    fills: dict[tuple[int, str], str] = {}
    for (kind, value), (key, _) in batch.new_identities.items():
        root = batch.find(key)
        if root > 0 and kind in PROFILE_FIELDS and PROFILE_FIELDS[kind] not in batch.state[root].filled:
            fills.setdefault((final(key), PROFILE_FIELDS[kind]), value)
    for (customer_id, name), value in sorted(fills.items()):  # rows locked in id order, as elsewhere
        Customer.objects.filter(brand=brand, pk=customer_id, **{name: ""}).update(**{name: value})
