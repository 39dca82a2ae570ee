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
"""

from __future__ import annotations

import itertools
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from omo.core import bulk
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.customers import search
from omo.customers.models import Customer, CustomerIdentity, CustomerSettings, MergeSuggestion
from omo.customers.normalize import is_junk, normalize_email, normalize_phone

Kind = CustomerIdentity.Kind

DEFAULT_PRIORITY: tuple[str, ...] = (
    Kind.MEMBER_NUMBER,
    Kind.USER_ID,
    Kind.SHOPIFY,
    Kind.LINE,
    Kind.MESSENGER,
    Kind.INSTAGRAM,
    Kind.WHATSAPP,
    Kind.PHONE,
    Kind.EMAIL,
    Kind.EXTERNAL,
    Kind.ANONYMOUS,
)
# Kinds whose value is copied onto the customer's profile when the profile field is still empty.
PROFILE_FIELDS = {Kind.PHONE: "phone", Kind.EMAIL: "email", Kind.MEMBER_NUMBER: "member_number"}
MAX_VALUE = 255
KINDS = frozenset(Kind.values)
# A phone already in E.164 form (as every profile and identifier stores it) is taken as it is:
# parsing it again costs more than the rest of resolution together.
E164 = re.compile(r"\+[1-9][0-9]{7,14}")


@dataclass(frozen=True)
class Rules:
    brand_id: int
    cap: int
    priority: tuple[str, ...]
    deny: frozenset[str]
    region: str

    def rank(self, kind: str) -> int:
        try:
            return self.priority.index(kind)
        except ValueError:
            return len(self.priority)

    def cap_of(self, kind: str) -> int:
        return 1 if kind == Kind.MEMBER_NUMBER else self.cap


def settings_for(brand: Brand | int) -> CustomerSettings:
    """The brand's identity and retention settings, created with the defaults on first use."""
    brand_id = brand if isinstance(brand, int) else brand.pk
    found = CustomerSettings.objects.filter(brand_id=brand_id).first()
    if found is not None:
        return found
    created, _ = CustomerSettings.objects.get_or_create(
        brand_id=brand_id, defaults={"identity_priority": list(DEFAULT_PRIORITY)}
    )
    return created


def rules_for(brand: Brand) -> Rules:
    config = settings_for(brand)
    priority = [k for k in (config.identity_priority or []) if k in Kind.values]
    priority += [k for k in DEFAULT_PRIORITY if k not in priority]
    deny = frozenset(str(v).strip().lower() for v in (config.identity_deny_list or []) if str(v).strip())
    return Rules(
        brand_id=brand.pk,
        cap=max(1, config.max_identifiers_per_kind),
        priority=tuple(priority),
        deny=deny,
        region=brand.country or "TW",
    )


def clean(rules: Rules, kind: str, raw: object) -> str | None:
    """The value as stored for this kind, or None when it is junk, denied or malformed."""
    if raw is None or isinstance(raw, bool):
        return None
    value = str(raw).strip()
    if not value or is_junk(value) or value.lower() in rules.deny:
        return None
    if kind == Kind.PHONE and E164.fullmatch(value):
        pass
    elif kind == Kind.PHONE:
        try:
            value = normalize_phone(value, rules.region)
        except ValueError:
            return None
    elif kind == Kind.EMAIL:
        try:
            value = normalize_email(value)
        except ValueError:
            return None
    if len(value) > MAX_VALUE or value.lower() in rules.deny:
        return None
    return value


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


def _lookup(
    brand_id: int, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, bool, int | None]]:
    """(kind, value) -> (customer id, verified, the customer's merged_into id) for stored identifiers."""
    by_kind: dict[str, set[str]] = defaultdict(set)
    for kind, value in wanted:
        by_kind[kind].add(value)
    if connection.vendor == "postgresql":
        return _lookup_postgresql(brand_id, by_kind)
    found: dict[tuple[str, str], tuple[int, bool, int | None]] = {}
    for kind, values in by_kind.items():
        values_list = list(values)
        for start in range(0, len(values_list), 5000):
            rows = CustomerIdentity.objects.filter(
                brand_id=brand_id, kind=kind, value__in=values_list[start : start + 5000]
            ).values_list("value", "customer_id", "verified", "customer__merged_into_id")
            for value, customer_id, verified, merged_into in rows:
                found[(kind, value)] = (customer_id, verified, merged_into)
    return found


def lookup(
    brand_id: int, wanted: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], tuple[int, bool, int | None]]:
    """(kind, value) -> (customer id, verified, the customer's merged_into id) for stored identifiers."""
    return _lookup(brand_id, wanted)


IDENTITY_TABLE = CustomerIdentity._meta.db_table
CUSTOMER_TABLE = Customer._meta.db_table


def _lookup_postgresql(
    brand_id: int, by_kind: dict[str, set[str]]
) -> dict[tuple[str, str], tuple[int, bool, int | None]]:
    """One statement for the whole batch: per kind `value = ANY(array)` on the unique index.

    An array is one parameter; Django's `value__in` sends every value as its own placeholder, which
    the driver quotes one by one in Python (a large share of a batch's time at 5,000 values).
    """
    found: dict[tuple[str, str], tuple[int, bool, int | None]] = {}
    if not by_kind:
        return found
    parts, params = [], []
    for kind, values in by_kind.items():
        parts.append(
            f"SELECT i.kind, i.value, i.customer_id, i.verified, c.merged_into_id FROM {IDENTITY_TABLE} i "
            f"JOIN {CUSTOMER_TABLE} c ON c.id = i.customer_id "
            "WHERE i.brand_id = %s AND i.kind = %s AND i.value = ANY(%s)"
        )
        params += [brand_id, kind, list(values)]
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(parts), params)
        for kind, value, customer_id, verified, merged_into in cursor.fetchall():
            found[(kind, value)] = (customer_id, verified, merged_into)
    return found


def live_customer_ids(brand_id: int, ids: Iterable[int]) -> dict[int, int]:
    """id -> the customer it now is (following merged_into), for customers of this brand."""
    ids = list(ids)
    result: dict[int, int] = {}
    pending = set(ids)
    hops: dict[int, int | None] = {}  # only customers of this brand
    asked: set[int] = set()
    for _ in range(20):  # merge chains are short; the bound only guards against a cycle
        unknown = [i for i in pending if i not in asked]
        if not unknown:
            break
        asked.update(unknown)
        if connection.vendor == "postgresql":  # the ids as one array parameter (see _lookup_postgresql)
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT id, merged_into_id FROM {CUSTOMER_TABLE} WHERE brand_id = %s AND id = ANY(%s)",
                    [brand_id, unknown],
                )
                hops.update(cursor.fetchall())
        else:
            hops.update(
                Customer.objects.filter(brand_id=brand_id, pk__in=unknown).values_list("pk", "merged_into_id")
            )
        pending = {hops[i] for i in unknown if hops.get(i)}
    for start in ids:
        current, steps = start, 0
        while hops.get(current) and steps < 20:
            current, steps = hops[current], steps + 1
        if current in hops:
            result[start] = current
    return result


def _load_states(brand_id: int, batch: _Batch, ids: set[int]) -> None:
    ids = {i for i in ids if i > 0 and i not in batch.state}
    if not ids:
        return
    for i in ids:
        batch.state[i] = _State()
    if connection.vendor == "postgresql":  # arrays as one parameter each (see _lookup_postgresql)
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
        rows = CustomerIdentity.objects.filter(brand_id=brand_id, customer_id__in=ids).values_list(
            "customer_id", "kind", "value", "verified"
        )
        profiles = Customer.objects.filter(pk__in=ids).values_list("pk", "phone", "email", "member_number")
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
    stored = _lookup(brand.pk, {(k, v) for idents in cleaned for k, v, _ in idents})
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
            rows = []
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
                        {"brand_id": brand.pk, "search_text": search.build_search_text(**profile), **profile},
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
            _insert_identities(
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
        from omo.core import events

        events.publish_many(
            "customer.created", ({"brand_id": brand.pk, "customer_id": customer.pk} for customer in created)
        )
    outcome.customer_ids = [final(key) if key is not None else None for key in results]
    return outcome


# From this many rows on, PostgreSQL gets them through COPY (fewer round trips below it otherwise).
COPY_MIN_ROWS = 500
STAGE = "_omo_stage_customer_identity"
STAGE_COLUMNS = ("brand_id", "customer_id", "kind", "value", "verified", "source", "created_at")


def _insert_identities(
    brand: Brand, rows: list[tuple[int, str, str, bool]], *, source: str, ignore_conflicts: bool
) -> None:
    """Store (customer id, kind, value, verified) rows; a (kind, value) stored meanwhile is skipped
    with `ignore_conflicts` and raises IntegrityError without it (on every database).

    On PostgreSQL the rows go through COPY: bulk_create sends every value as its own parameter,
    which Django and the driver prepare and quote one by one in Python (about 40% of the history
    batch's time). Without `ignore_conflicts` straight into the table (omo.core.bulk; a duplicate
    fails the COPY with IntegrityError); with it, from COPY_MIN_ROWS rows on, into a per-connection
    staging table and one INSERT … SELECT that can skip conflicts.

    Rows go in (kind, value) order, so two writers storing some of the same identifiers at once
    wait for each other in one order instead of deadlocking.
    """
    rows = sorted(rows, key=lambda row: (row[1], row[2]))
    if connection.vendor == "postgresql" and not ignore_conflicts:
        bulk.insert_rows(
            CustomerIdentity,
            [
                {
                    "brand_id": brand.pk,
                    "customer_id": customer_id,
                    "kind": kind,
                    "value": value,
                    "verified": verified,
                    "source": source,
                }
                for customer_id, kind, value, verified in rows
            ],
            need_ids=False,
        )
        return
    if connection.vendor != "postgresql" or len(rows) < COPY_MIN_ROWS:
        CustomerIdentity.objects.bulk_create(
            [
                CustomerIdentity(
                    brand=brand,
                    customer_id=customer_id,
                    kind=kind,
                    value=value,
                    verified=verified,
                    source=source,
                )
                for customer_id, kind, value, verified in rows
            ],
            ignore_conflicts=ignore_conflicts,
            batch_size=2000,
        )
        return
    columns = ", ".join(STAGE_COLUMNS)
    now = timezone.now()
    insert = f"INSERT INTO {IDENTITY_TABLE} ({columns}) SELECT {columns} FROM {STAGE}"
    with transaction.atomic(), connection.cursor() as cursor:
        # One staging table per connection, emptied at every commit; no catalog change per call.
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} ON COMMIT DELETE ROWS AS "
            f"SELECT {columns} FROM {IDENTITY_TABLE} WITH NO DATA"
        )
        with cursor.cursor.copy(f"COPY {STAGE} ({columns}) FROM STDIN") as copy:
            for customer_id, kind, value, verified in rows:
                copy.write_row((brand.pk, customer_id, kind, value, verified, source, now))
        # Through Django's cursor, so a unique violation is django.db.IntegrityError as with bulk_create.
        if not ignore_conflicts:
            cursor.execute(insert)
        else:
            # The lookup just found none of these stored, so a plain INSERT almost always succeeds
            # and skips ON CONFLICT's speculative insertion (~12% of the INSERT); a concurrent
            # writer's row sends it round again with ON CONFLICT.
            try:
                with transaction.atomic():
                    cursor.execute(insert)
            except IntegrityError:
                cursor.execute(f"{insert} ON CONFLICT (brand_id, kind, value) DO NOTHING")
        cursor.execute(f"TRUNCATE {STAGE}")


def _fill_profiles(brand: Brand, batch: _Batch, final) -> None:
    """Existing customers that gained a phone, email or member number get it on an empty profile field."""
    fills: dict[tuple[int, str], str] = {}
    for (kind, value), (key, _) in batch.new_identities.items():
        root = batch.find(key)
        if root > 0 and kind in PROFILE_FIELDS and PROFILE_FIELDS[kind] not in batch.state[root].filled:
            fills.setdefault((final(key), PROFILE_FIELDS[kind]), value)
    for (customer_id, name), value in sorted(fills.items()):  # rows locked in id order, as elsewhere
        Customer.objects.filter(brand=brand, pk=customer_id, **{name: ""}).update(**{name: value})


REASONS = {
    "verified": "兩位顧客都已驗證身分，不自動合併",
    "cap": "合併後識別數量會超過上限",
    "manual": "人工標記",
}


def suggest(brand: Brand, pairs: list[tuple[int, int, str, str, str]]) -> int:
    """Open a suggestion for each pair not already open or dismissed. Returns how many were opened."""
    wanted: dict[tuple[int, int], tuple[str, str, str]] = {}
    for a, b, kind, value, problem in pairs:
        if a == b:
            continue
        pair = (min(a, b), max(a, b))
        wanted.setdefault(pair, (kind, value, problem))
    if not wanted:
        return 0
    ids = {i for pair in wanted for i in pair}
    live = dict(Customer.objects.filter(brand=brand, pk__in=ids).values_list("pk", "merged_into_id"))
    existing = set(
        MergeSuggestion.objects.filter(
            brand=brand,
            customer_a_id__in=ids,
            status__in=[MergeSuggestion.Status.OPEN, MergeSuggestion.Status.DISMISSED],
        ).values_list("customer_a_id", "customer_b_id")
    )
    rows = [
        MergeSuggestion(
            brand=brand,
            customer_a_id=a,
            customer_b_id=b,
            kind=kind or "",
            value=(value or "")[:255],
            reason=REASONS.get(problem, problem),
        )
        for (a, b), (kind, value, problem) in wanted.items()
        if (a, b) not in existing and a in live and b in live and not live[a] and not live[b]
    ]
    MergeSuggestion.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)
