"""Shared pieces of the REST API: bearer-key auth, errors, pagination."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Schema
from ninja.errors import HttpError
from ninja.security import HttpBearer

from omo.core import apikeys
from omo.core.audit import Actor


class BearerKey(HttpBearer):
    """`Authorization: Bearer omo_…` → an Actor for the key's brand and role."""

    def authenticate(self, request: HttpRequest, token: str) -> Actor | None:
        key = apikeys.authenticate(token)
        if key is None:
            return None
        return Actor.from_request(request, brand=key.brand, api_key=key, role=key.role)


class ApiError(Exception):
    """A refusal with a status, a stable code and a message naming the problem (and field)."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None, **extra: Any):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.extra = extra

    def body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"detail": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


def require(actor: Actor, permission: str) -> None:
    if not actor.can(permission):
        raise HttpError(403, f"role {actor.role} may not {permission}")


class ErrorOut(Schema):
    detail: Any
    code: str | None = None
    field: str | None = None


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")
