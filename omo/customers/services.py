"""Customer verbs: create and update with identifiers kept in step."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext

from omo.core import audit, events
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.models import Brand
from omo.customers import identity, search
from omo.customers import merge as merging
from omo.customers.identity.rules import PROFILE_FIELDS
from omo.customers.models import Customer, CustomerIdentity, CustomerMerge, MergeSuggestion
from omo.customers.normalize import is_junk, normalize_email, normalize_phone


class CustomerError(FieldError, ValueError):
    pass


def clean_contact(brand: Brand, *, phone: str = "", email: str = "") -> tuple[str, str]:
    """Normalised (phone, email); junk values become empty; bad values raise CustomerError."""
    clean_phone = clean_email = ""
    if phone and not is_junk(phone):
        try:
            clean_phone = normalize_phone(phone, brand.country)
        except ValueError as exc:
            raise CustomerError("phone", str(exc)) from exc
    if email and not is_junk(email):
        try:
            clean_email = normalize_email(email)
        except ValueError as exc:
            raise CustomerError("email", str(exc)) from exc
    return clean_phone, clean_email


def _identity_values(customer: Customer) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    if customer.phone:
        pairs.append((CustomerIdentity.Kind.PHONE, customer.phone))
    if customer.email:
        pairs.append((CustomerIdentity.Kind.EMAIL, customer.email))
    if customer.member_number:
        pairs.append((CustomerIdentity.Kind.MEMBER_NUMBER, customer.member_number))
    return pairs


def _sync_identities(customer: Customer, *, source: str) -> None:
    for kind, value in _identity_values(customer):
        owner = (
            CustomerIdentity.objects.filter(brand_id=customer.brand_id, kind=kind, value=value)
            .values_list("customer_id", flat=True)
            .first()
        )
        if owner is None:
            CustomerIdentity.objects.create(
                brand_id=customer.brand_id, customer=customer, kind=kind, value=value, source=source
            )
        elif owner != customer.pk:
            raise CustomerError(kind, f"{value} already belongs to customer {owner}", status=409)


def find_customer(
    brand: Brand, *, phone: str = "", email: str = "", member_number: str = ""
) -> Customer | None:
    """The customer holding any of these (already normalised) identifiers, strongest first."""
    for kind, value in (
        (CustomerIdentity.Kind.MEMBER_NUMBER, member_number),
        (CustomerIdentity.Kind.PHONE, phone),
        (CustomerIdentity.Kind.EMAIL, email),
    ):
        if value:
            identity = (
                CustomerIdentity.objects.select_related("customer")
                .filter(brand=brand, kind=kind, value=value)
                .first()
            )
            if identity is not None:
                return live_customer(identity.customer)
    return None


@transaction.atomic
def create_customer(
    brand: Brand,
    *,
    actor: Actor | None,
    name: str = "",
    phone: str = "",
    email: str = "",
    birthday: dt.date | None = None,
    member_number: str = "",
    home_store_id: int | None = None,
    tags: list[str] | None = None,
    notes: str = "",
    source: str = "api",
) -> Customer:
    clean_phone, clean_email = clean_contact(brand, phone=phone, email=email)
    member_number = "" if is_junk(member_number or "") else (member_number or "").strip()
    customer = Customer.objects.create(
        brand=brand,
        name=(name or "").strip(),
        phone=clean_phone,
        email=clean_email,
        birthday=birthday,
        member_number=member_number,
        home_store_id=home_store_id,
        tags=sorted(set(tags or [])),
        notes=notes or "",
        search_text=search.build_search_text(
            name=name, phone=clean_phone, email=clean_email, member_number=member_number
        ),
    )
    try:
        with transaction.atomic():
            _sync_identities(customer, source=source)
    except IntegrityError as exc:  # a concurrent writer took the identifier first
        raise CustomerError(
            "identity", "an identifier of this customer already belongs to another", status=409
        ) from exc
    if actor is not None and actor.user is not None:
        audit.record(actor, "customer.created", customer)
    events.publish("customer.created", brand_id=brand.pk, customer_id=customer.pk)
    return customer


def get_or_create_customer(
    brand: Brand,
    *,
    actor: Actor | None,
    name: str = "",
    phone: str = "",
    email: str = "",
    member_number: str = "",
    source: str = "order",
) -> tuple[Customer | None, bool]:
    """Match on member number, phone or email; create when none matches and we know anything."""
    clean_phone, clean_email = clean_contact(brand, phone=phone, email=email)
    member_number = "" if is_junk(member_number or "") else (member_number or "").strip()
    if not (clean_phone or clean_email or member_number):
        return None, False
    existing = find_customer(brand, phone=clean_phone, email=clean_email, member_number=member_number)
    if existing is not None:
        # Identifiers seen with a known customer are linked to them (or merge two customers).
        try:
            with transaction.atomic():
                (customer,) = resolve_customers(
                    brand,
                    [
                        {
                            "name": name,
                            "phone": clean_phone,
                            "email": clean_email,
                            "member_number": member_number,
                        }
                    ],
                    source=source,
                )
        except IntegrityError:
            customer = None
        return (customer if isinstance(customer, Customer) else live_customer(existing)), False
    try:
        with transaction.atomic():
            return (
                create_customer(
                    brand,
                    actor=actor,
                    name=name,
                    phone=clean_phone,
                    email=clean_email,
                    member_number=member_number,
                    source=source,
                ),
                True,
            )
    except CustomerError:
        # Lost a race to another writer creating the same person: use theirs.
        existing = find_customer(brand, phone=clean_phone, email=clean_email, member_number=member_number)
        if existing is None:
            raise
        return existing, False


UPDATABLE = ("name", "phone", "email", "birthday", "member_number", "home_store_id", "tags", "notes")


@transaction.atomic
def update_customer(customer: Customer, *, actor: Actor, **changes: Any) -> Customer:
    unknown = set(changes) - set(UPDATABLE)
    if unknown:
        raise CustomerError(sorted(unknown)[0], "cannot be changed")
    brand = customer.brand
    if "phone" in changes or "email" in changes:
        phone, email = clean_contact(
            brand, phone=changes.get("phone", customer.phone), email=changes.get("email", customer.email)
        )
        changes["phone"], changes["email"] = phone, email
    if "tags" in changes:
        changes["tags"] = sorted(set(changes["tags"] or []))
    before = {field: getattr(customer, field) for field in changes}
    old_pairs = set(_identity_values(customer))
    for field, value in changes.items():
        setattr(customer, field, value)
    customer.save()
    search.refresh([customer.pk])
    new_pairs = set(_identity_values(customer))
    # Identifiers the profile no longer holds stop matching this customer.
    for kind, value in old_pairs - new_pairs:
        CustomerIdentity.objects.filter(brand=brand, customer=customer, kind=kind, value=value).delete()
    try:
        with transaction.atomic():
            _sync_identities(customer, source="profile")
    except IntegrityError as exc:
        raise CustomerError(
            "identity", "an identifier already belongs to another customer", status=409
        ) from exc
    audit.record(
        actor,
        "customer.updated",
        customer,
        fields=sorted(changes),
        before={k: str(v) for k, v in before.items()},
    )
    events.publish("customer.updated", brand_id=brand.pk, customer_id=customer.pk, fields=sorted(changes))
    return customer


def resolve_customers(
    brand: Brand, refs: list[dict[str, str] | None], *, source: str, only: Sequence[str] | None = None
) -> list[Customer | CustomerError | None]:
    """Match or create the customer of each ref ({name, phone, email, member_number}) in a few queries.

    For bulk ingest, through identity resolution (omo/customers/identity/): one lookup for every
    identifier in the batch, one INSERT for the new customers and one for new identifiers; an
    order naming two customers (a known phone and a known email of someone else) merges them
    within the brand's rules. Refs in the same batch that share an identifier get the same
    customer. A bad phone or email yields a CustomerError at that index; a ref with no usable
    identifier yields None. A concurrent writer creating the same identifier makes the final
    INSERT fail with IntegrityError; callers then fall back to get_or_create_customer one by one.
    With `only`, customers that already existed are read with those fields alone (deferred models).
    """
    results: list[Customer | CustomerError | None] = [None] * len(refs)
    observations: list[identity.Observation] = []
    slots: list[int] = []
    for index, ref in enumerate(refs):
        if not ref:
            continue
        try:
            phone, email = clean_contact(brand, phone=ref.get("phone", ""), email=ref.get("email", ""))
        except CustomerError as exc:
            results[index] = exc
            continue
        member = (ref.get("member_number") or "").strip()
        member = "" if is_junk(member) else member
        if not (phone or email or member):
            continue
        observations.append(
            identity.Observation(
                [
                    (CustomerIdentity.Kind.MEMBER_NUMBER, member, True),
                    (CustomerIdentity.Kind.PHONE, phone),
                    (CustomerIdentity.Kind.EMAIL, email),
                ],
                name=ref.get("name") or "",
            )
        )
        slots.append(index)
    if not observations:
        return results
    outcome = identity.resolve(brand, observations, source=source)
    # New customers are written with their search text (omo.customers.identity.resolving), so no search.refresh here.
    created = {customer.pk: customer for customer in outcome.created}
    wanted = {pk for pk in outcome.customer_ids if pk is not None and pk not in created}
    existing = Customer.objects.only(*only) if only else Customer.objects.all()
    customers = {**created, **existing.in_bulk(wanted)} if wanted else created
    for index, pk in zip(slots, outcome.customer_ids, strict=True):
        results[index] = customers.get(pk) if pk is not None else None
    return results


def live_customer(customer: Customer) -> Customer:
    """The customer itself, or the one it was merged into (following the chain)."""
    if not customer.merged_into_id:
        return customer
    pk = identity.live_customer_ids(customer.brand_id, [customer.pk]).get(customer.pk, customer.pk)
    return Customer.objects.get(pk=pk)


# --- customers known by one identifier (a platform user) ---------------------------------------------


def customer_for_identifier(
    brand: Brand, kind: str, value: str, *, name: str = "", source: str, verified: bool = False
) -> Customer:
    """The customer holding this identifier (following merges), or a new customer holding it, named
    `name`: a platform user seen for the first time. Race-safe on the unique (brand, kind, value):
    when a concurrent writer stores the identifier first, nothing of ours is kept and theirs is
    returned."""
    held = identity.holder(brand.pk, kind, value)
    if held is not None:
        return live_customer(held)
    try:
        with transaction.atomic():
            customer = create_customer(brand, actor=None, name=name, source=source)
            identity.add_identity(customer, kind, value, source=source, verified=verified)
            return customer
    except IntegrityError:
        held = identity.holder(brand.pk, kind, value)
        if held is None:  # not the identifier's uniqueness after all
            raise
        return live_customer(held)


def name_if_unnamed(customer_id: int, name: str) -> bool:
    """A customer made without a name (a chat user whose profile came later) gets this one; a
    customer who has a name keeps it. True when the name was set."""
    if not name:
        return False
    return Customer.objects.filter(pk=customer_id, name="").update(name=name[:120]) == 1


# --- merge suggestions: HQ decides -------------------------------------------------------------------

SUGGESTION_REASON = "總部依合併建議 #{pk} 合併"


class SuggestionError(FieldError, ValueError):
    """A merge suggestion that cannot be decided as asked: not open (any more), a survivor that is
    not one of its two customers, or customers that are gone or already one."""


def _open_suggestion(brand_id: int, suggestion_id: int) -> MergeSuggestion:
    """The brand's open suggestion, locked until the transaction ends (two HQ users at once).
    Another brand's is not found (404); one decided meanwhile is a conflict (409)."""
    found = (
        MergeSuggestion.objects.select_for_update()
        .filter(brand_id=brand_id, pk=suggestion_id, status=MergeSuggestion.Status.OPEN)
        .first()
    )
    if found is None:
        if MergeSuggestion.objects.filter(brand_id=brand_id, pk=suggestion_id).exists():
            raise SuggestionError("suggestion", gettext("這筆合併建議已有人處理過了。"), status=409)
        raise SuggestionError("suggestion", gettext("找不到這筆合併建議。"), status=404)
    return found


@transaction.atomic
def accept_merge_suggestion(suggestion_id: int, *, survivor_id: int | None, actor: Actor) -> CustomerMerge:
    """Merge the two customers of an open suggestion, keeping `survivor_id` (one of the two).

    Either customer may have been merged elsewhere since the suggestion was made: the customers
    they now are get merged. When they are already one customer, or one of them no longer exists,
    nothing is merged and a SuggestionError says so (the suggestion stays open, to be dismissed)."""
    brand = actor.brand
    suggestion = _open_suggestion(brand.pk, suggestion_id)
    pair = (suggestion.customer_a_id, suggestion.customer_b_id)
    if survivor_id is None or survivor_id not in pair:
        raise SuggestionError("survivor", gettext("請選擇要保留的顧客（建議中的其中一位）。"))
    merged_id = pair[1] if survivor_id == pair[0] else pair[0]
    live = identity.live_customer_ids(brand.pk, pair)
    for customer_id in (survivor_id, merged_id):
        if customer_id not in live:
            raise SuggestionError(
                "customer",
                gettext("顧客 #%(customer)s 已不存在，無法依這筆建議合併；請略過這筆建議。")
                % {"customer": customer_id},
                status=410,
            )
    survivor, merged = live[survivor_id], live[merged_id]
    if survivor == merged:
        raise SuggestionError(
            "customer",
            gettext("顧客 #%(a)s 與 #%(b)s 已是同一位顧客（#%(survivor)s），不需再合併；請略過這筆建議。")
            % {"a": pair[0], "b": pair[1], "survivor": survivor},
            status=409,
        )
    record = merging.merge_customers(
        survivor,
        merged,
        brand=brand,
        actor=actor,
        reason=SUGGESTION_REASON.format(pk=suggestion.pk),
        trigger_kind=suggestion.kind,
        trigger_value=suggestion.value,
    )
    # merge_customers closes the suggestion of the pair it merged; this one names the customers as
    # they were when it was made.
    MergeSuggestion.objects.filter(pk=suggestion.pk, status=MergeSuggestion.Status.OPEN).update(
        status=MergeSuggestion.Status.MERGED,
        resolved_at=timezone.now(),
        resolved_by=record.actor,
        merge=record,
    )
    return record


@transaction.atomic
def dismiss_merge_suggestion(suggestion_id: int, *, actor: Actor) -> MergeSuggestion:
    """HQ decides the two customers are not one: the suggestion is closed and never made again."""
    suggestion = _open_suggestion(actor.brand.pk, suggestion_id)
    suggestion.status = MergeSuggestion.Status.DISMISSED
    suggestion.resolved_at = timezone.now()
    suggestion.resolved_by = actor.user if actor.user is not None and actor.user.pk else None
    suggestion.save(update_fields=["status", "resolved_at", "resolved_by"])
    audit.record(
        actor,
        "merge_suggestion.dismissed",
        suggestion,
        customer_a=suggestion.customer_a_id,
        customer_b=suggestion.customer_b_id,
    )
    return suggestion


# --- contact details a known customer typed (the shop's checkout of a signed-in member) -------------

SUGGESTION_TYPED_CONTACT = "登入的顧客在結帳時填寫了已屬於另一位顧客的{kind}，未自動合併"
TYPED_KIND_WORDS = {CustomerIdentity.Kind.PHONE: "手機", CustomerIdentity.Kind.EMAIL: "Email"}


@transaction.atomic
def add_typed_contact(customer: Customer, *, phone: str = "", email: str = "", source: str) -> list[int]:
    """Give a customer whose identity is proven (e.g. signed in with LINE) the phone and email they
    typed, as identifiers, and on the profile where its field is still empty.

    A typed value proves nothing about whoever else holds it, so a value already held by another
    customer is never merged: the pair goes to HQ's merge queue with the reason. Junk, denied,
    malformed values and values over the brand's cap are skipped (docs/identity.md). Returns the
    ids of the other customers a suggestion was made (or already open) for."""
    customer = live_customer(customer)
    brand = customer.brand
    rules = identity.rules_for(brand)
    held = {
        row["kind"]: row["n"]
        for row in CustomerIdentity.objects.filter(brand_id=brand.pk, customer=customer)
        .values("kind")
        .annotate(n=Count("id"))
    }
    others: list[int] = []
    profile: dict[str, str] = {}
    for kind, raw in ((CustomerIdentity.Kind.PHONE, phone), (CustomerIdentity.Kind.EMAIL, email)):
        value = identity.clean(rules, kind, raw)
        if value is None:
            continue
        owner = identity.holder_id(brand.pk, kind, value)
        if owner is None:
            if held.get(kind, 0) >= rules.cap_of(kind):
                continue  # over the cap: not linked (docs/identity.md)
            owner = identity.attach(customer, kind, value, source=source)
        live_owner = identity.live_customer_ids(brand.pk, [owner]).get(owner, owner)
        if live_owner == customer.pk:
            field = PROFILE_FIELDS[kind]
            if not getattr(customer, field):
                profile[field] = value
            continue
        identity.suggest(
            brand,
            [
                (
                    customer.pk,
                    live_owner,
                    kind,
                    value,
                    SUGGESTION_TYPED_CONTACT.format(kind=TYPED_KIND_WORDS[kind]),
                )
            ],
        )
        others.append(live_owner)
    if profile:
        Customer.objects.filter(pk=customer.pk).update(**profile)
        search.refresh([customer.pk])
    return others


def suggest_merge(customer_a: Customer, customer_b: Customer, *, kind: str, value: str, reason: str) -> bool:
    """Put two customers in HQ's merge queue with a reason in words (never merges). False when they
    are one customer already, or the pair is already open or was dismissed."""
    if customer_a.brand_id != customer_b.brand_id:
        raise CustomerError("customer", "belongs to another brand", status=404)
    live = identity.live_customer_ids(customer_a.brand_id, [customer_a.pk, customer_b.pk])
    a, b = live.get(customer_a.pk, customer_a.pk), live.get(customer_b.pk, customer_b.pk)
    if a == b:
        return False
    return identity.suggest(customer_a.brand, [(a, b, kind[:20], value, reason)]) == 1
