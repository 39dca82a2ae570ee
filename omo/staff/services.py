"""Stores and staff changed by people (console, API): create, edit, deactivate. Every change is
audited; every refusal names the field.

Who may change whom: an HQ admin everything of the brand; a store manager only the clerks of their
own store (never a role or a store); a clerk nothing. Deactivating keeps history: a clerk's
bindings, sales and conversations stay where they are until a manager transfers them, and the
clerk's API keys stop working at once (omo.core.apikeys.authenticate).
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from omo.core import audit
from omo.core.access import Scope
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.models import ApiKey, Brand
from omo.staff.models import Store, User
from omo.staff.roles import Role

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_TIME = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_CODE = re.compile(r"^[A-Za-z0-9_-]{1,30}$")
_USERNAME = re.compile(r"^[\w.@+-]{3,150}$")
STORE_FIELDS = ("code", "name", "name_en", "city", "address", "phone", "opening_hours", "is_active")
STAFF_FIELDS = (
    "display_name",
    "employee_code",
    "role",
    "store_id",
    "email",
    "phone",
    "is_active",
    "password",
)
# What a store manager may change on a clerk of their store.
MANAGER_STAFF_FIELDS = {"display_name", "employee_code", "email", "phone", "is_active", "password"}


class StoreError(FieldError, ValueError):
    status = 422
    code = "invalid"


class StaffError(FieldError, ValueError):
    status = 422
    code = "invalid"


# --- stores -----------------------------------------------------------------------------------


def check_opening_hours(value: Any) -> dict[str, list[list[str]]]:
    """{"mon": [["10:00", "21:30"]], …}: known days only, each a list of [opens, closes] in HH:MM,
    opening before closing. Days left out are closed."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise StoreError("opening_hours", 'expected {"mon": [["10:00", "21:30"]], …}')
    hours: dict[str, list[list[str]]] = {}
    for day, spans in value.items():
        if day not in DAYS:
            raise StoreError("opening_hours", f"unknown day {day!r}: use {', '.join(DAYS)}")
        if not isinstance(spans, list):
            raise StoreError("opening_hours", f"{day}: expected a list of [opens, closes]")
        checked = []
        for span in spans:
            if not (isinstance(span, list | tuple) and len(span) == 2):
                raise StoreError(
                    "opening_hours", f'{day}: each span is [opens, closes], e.g. ["10:00", "21:30"]'
                )
            opens, closes = span
            if not (
                isinstance(opens, str)
                and isinstance(closes, str)
                and _TIME.match(opens)
                and _TIME.match(closes)
            ):
                raise StoreError("opening_hours", f"{day}: times are HH:MM (00:00–23:59), got {span!r}")
            if opens >= closes:
                raise StoreError("opening_hours", f"{day}: {opens} must be before {closes}")
            checked.append([opens, closes])
        hours[day] = checked
    return hours


def _clean_store(brand: Brand, values: dict[str, Any], store: Store | None) -> dict[str, Any]:
    clean: dict[str, Any] = {}
    for name, value in values.items():
        if name not in STORE_FIELDS:
            raise StoreError(name, "not a field of a store")
        if name == "opening_hours":
            clean[name] = check_opening_hours(value)
        elif name == "is_active":
            if not isinstance(value, bool):
                raise StoreError(name, "expected true or false")
            clean[name] = value
        else:
            text = (value or "").strip() if isinstance(value, str) or value is None else None
            if text is None:
                raise StoreError(name, "expected text")
            limit = getattr(Store._meta.get_field(name), "max_length", None)
            if limit and len(text) > limit:
                raise StoreError(name, f"longer than {limit} characters")
            clean[name] = text
    if "code" in clean:
        if not _CODE.match(clean["code"]):
            raise StoreError("code", "1–30 letters, digits, - or _ (e.g. TPE01)")
        taken = Store.objects.filter(brand=brand, code__iexact=clean["code"])
        if store is not None:
            taken = taken.exclude(pk=store.pk)
        if taken.exists():
            raise StoreError(
                "code", f"store code {clean['code']!r} is already used in this brand", status=409
            )
    if "name" in clean and not clean["name"]:
        raise StoreError("name", "a store needs a name")
    return clean


def _require_hq_admin(actor: Actor, permission: str) -> None:
    if actor.scope != Scope.BRAND or not actor.can(permission):
        raise StoreError("role", f"role {actor.role} may not {permission}", status=403, code="forbidden")


def create_store(brand: Brand, *, actor: Actor, **values: Any) -> Store:
    _require_hq_admin(actor, "stores.write")
    for required in ("code", "name"):
        if not (values.get(required) or "").strip():
            raise StoreError(required, f"a store needs a {required}")
    clean = _clean_store(brand, values, None)
    with transaction.atomic():
        store = Store.objects.create(brand=brand, **clean)
        audit.record(actor, "store.created", store, **{k: v for k, v in clean.items()})
    return store


def update_store(store: Store, *, actor: Actor, **changes: Any) -> Store:
    """Change some fields; `is_active=False` closes the store (its staff, orders and stock stay)."""
    _require_hq_admin(actor, "stores.write")
    clean = _clean_store(store.brand, changes, store)
    changed = {name: value for name, value in clean.items() if getattr(store, name) != value}
    if changed:
        with transaction.atomic():
            for name, value in changed.items():
                setattr(store, name, value)
            store.save(update_fields=list(changed))
            detail: dict[str, Any] = dict(changed)
            if changed.get("is_active") is False:
                detail["active_staff"] = store.staff.filter(is_active=True).count()
            audit.record(
                actor,
                "store.deactivated" if changed.get("is_active") is False else "store.updated",
                store,
                **detail,
            )
    return store


# --- staff ------------------------------------------------------------------------------------


def _may_manage(actor: Actor, role: str, store_id: int | None) -> None:
    """Refuse (403) unless the actor may hold a staff member of `role` at `store_id`."""
    if not actor.can("staff.write"):
        raise StaffError("role", f"role {actor.role} may not staff.write", status=403, code="forbidden")
    if actor.scope == Scope.BRAND:
        return
    if actor.scope == Scope.STORE and actor.store_id and role == Role.CLERK and store_id == actor.store_id:
        return
    raise StaffError(
        "role" if role != Role.CLERK else "store_id",
        "a store manager manages only the clerks of their own store",
        status=403,
        code="forbidden",
    )


def _check_store(brand: Brand, role: str, store_id: int | None) -> int | None:
    if role in (Role.HQ_ADMIN, Role.HQ_AGENT):
        if store_id is not None:
            raise StaffError("store_id", f"a {role} works for the whole brand; leave the store empty")
        return None
    if store_id is None:
        raise StaffError("store_id", f"a {role} needs the store they work at")
    if not Store.objects.filter(brand=brand, pk=store_id, is_active=True).exists():
        raise StaffError("store_id", f"store {store_id} is not an open store of this brand")
    return store_id


def _check_text(name: str, value: Any) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise StaffError(name, "expected text")
    text = value.strip()
    limit = getattr(User._meta.get_field(name), "max_length", None)
    if limit and len(text) > limit:
        raise StaffError(name, f"longer than {limit} characters")
    return text


def _check_employee_code(brand: Brand, code: str, member: User | None) -> None:
    if code:
        taken = User.objects.filter(brand=brand, employee_code=code)
        if member is not None:
            taken = taken.exclude(pk=member.pk)
        if taken.exists():
            raise StaffError(
                "employee_code", f"employee code {code!r} is already used in this brand", status=409
            )


def _check_email(email: str) -> None:
    if email:
        try:
            validate_email(email)
        except ValidationError as exc:
            raise StaffError("email", f"{email!r} is not an e-mail address") from exc


MIN_PASSWORD = 8


def _check_password(password: str, member: User) -> None:
    if len(password) < MIN_PASSWORD:
        raise StaffError("password", f"at least {MIN_PASSWORD} characters")
    try:
        validate_password(password, member)
    except ValidationError as exc:
        raise StaffError("password", " ".join(exc.messages)) from exc


def _admins_left(brand: Brand, without: User) -> bool:
    """True when the brand keeps a way to manage itself without `without`: another active HQ admin
    or an active hq_admin API key."""
    others = User.objects.filter(brand=brand, role=Role.HQ_ADMIN, is_active=True).exclude(pk=without.pk)
    keys = ApiKey.objects.filter(brand=brand, role=Role.HQ_ADMIN, revoked_at__isnull=True)
    return others.exists() or keys.exists()


def create_staff(
    brand: Brand,
    *,
    actor: Actor,
    username: str,
    role: str,
    store_id: int | None = None,
    display_name: str = "",
    employee_code: str = "",
    email: str = "",
    phone: str = "",
    password: str | None = None,
) -> tuple[User, str | None]:
    """A new staff member who can sign in. Without a password a random initial one is made and
    returned (shown once; the person changes it). Returns (user, the generated password or None)."""
    if role not in Role.values:
        raise StaffError("role", f"unknown role {role!r}: use one of {', '.join(Role.values)}")
    _may_manage(actor, role, store_id)
    username = (username or "").strip()
    if not _USERNAME.match(username):
        raise StaffError("username", "3–150 letters, digits or . @ + - _")
    if User.objects.filter(username__iexact=username).exists():
        raise StaffError("username", f"the username {username!r} is taken", status=409)
    store_id = _check_store(brand, role, store_id)
    employee_code = _check_text("employee_code", employee_code)
    _check_employee_code(brand, employee_code, None)
    email = _check_text("email", email)
    _check_email(email)
    member = User(
        brand=brand,
        username=username,
        role=role,
        store_id=store_id,
        display_name=_check_text("display_name", display_name),
        employee_code=employee_code,
        email=email,
        phone=_check_text("phone", phone),
    )
    generated = None
    if password is None:
        generated = password = secrets.token_urlsafe(12)
    else:
        _check_password(password, member)
    member.set_password(password)
    with transaction.atomic():
        member.save()
        audit.record(
            actor,
            "staff.created",
            member,
            username=username,
            role=role,
            store_id=store_id,
            employee_code=employee_code,
        )
    return member, generated


def update_staff(member: User, *, actor: Actor, **changes: Any) -> User:
    """Change some fields of a staff member. `is_active=False` deactivates: they cannot sign in, their
    clerk API keys stop, and their bindings stay until transferred. Nobody deactivates or demotes
    themselves, nor the brand's last HQ admin while no hq_admin API key is left."""
    for name in changes:
        if name not in STAFF_FIELDS:
            raise StaffError(name, "not a field that can be changed here")
    _may_manage(actor, member.role, member.store_id)
    if actor.scope != Scope.BRAND:
        for name in changes:
            if name not in MANAGER_STAFF_FIELDS:
                raise StaffError(name, "a store manager may not change this", status=403, code="forbidden")
    brand = member.brand
    assert brand is not None
    role = changes.get("role", member.role)
    if role not in Role.values:
        raise StaffError("role", f"unknown role {role!r}: use one of {', '.join(Role.values)}")
    clean: dict[str, Any] = {}
    if "role" in changes or "store_id" in changes:
        store_id = changes.get(
            "store_id", member.store_id if role not in (Role.HQ_ADMIN, Role.HQ_AGENT) else None
        )
        clean["role"] = role
        clean["store_id"] = _check_store(brand, role, store_id)
    for name in ("display_name", "employee_code", "email", "phone"):
        if name in changes:
            clean[name] = _check_text(name, changes[name])
    if "employee_code" in clean:
        _check_employee_code(brand, clean["employee_code"], member)
    if "email" in clean:
        _check_email(clean["email"])
    if "is_active" in changes:
        if not isinstance(changes["is_active"], bool):
            raise StaffError("is_active", "expected true or false")
        clean["is_active"] = changes["is_active"]
    changed = {name: value for name, value in clean.items() if getattr(member, name) != value}
    leaving_admin = (
        member.role == Role.HQ_ADMIN
        and member.is_active
        and (changed.get("is_active") is False or ("role" in changed and changed["role"] != Role.HQ_ADMIN))
    )
    if leaving_admin or changed.get("is_active") is False:
        if actor.user is not None and actor.user.pk == member.pk:
            raise StaffError(
                "is_active" if "is_active" in changed else "role",
                "you cannot deactivate or demote yourself; ask another HQ admin",
                status=409,
                code="self",
            )
    password = changes.get("password")
    if password is not None:
        if not isinstance(password, str):
            raise StaffError("password", "expected text")
        _check_password(password, member)
    if not changed and password is None:
        return member
    with transaction.atomic():
        # Lock the brand's active HQ admins so two demotions cannot each see the other as left.
        list(
            User.objects.select_for_update()
            .filter(brand=brand, role=Role.HQ_ADMIN, is_active=True)
            .values_list("pk", flat=True)
        )
        if leaving_admin and not _admins_left(brand, member):
            raise StaffError(
                "is_active" if "is_active" in changed else "role",
                "this is the brand's last active HQ admin and no hq_admin API key is left: "
                "add another HQ admin first",
                status=409,
                code="last_admin",
            )
        for name, value in changed.items():
            setattr(member, name, value)
        fields = list(changed)
        if password is not None:
            member.set_password(password)
            fields.append("password")
        member.save(update_fields=fields)
        detail: dict[str, Any] = dict(changed)
        if password is not None:
            detail["password_set"] = True
        action = "staff.deactivated" if changed.get("is_active") is False else "staff.updated"
        audit.record(actor, action, member, **detail)
    return member


def set_preferred_language(member: User, language: str) -> User:
    """The language a person reads the product in (a personal setting, so no audit): one of
    settings.LANGUAGES."""
    if language not in {code for code, _name in settings.LANGUAGES}:
        raise StaffError("language", f"one of {', '.join(code for code, _name in settings.LANGUAGES)}")
    if member.preferred_language != language:
        member.preferred_language = language
        User.objects.filter(pk=member.pk).update(preferred_language=language)
    return member
