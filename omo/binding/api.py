"""REST endpoints for the brand's binding policy: GET and PATCH /settings/binding."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from omo.binding import selectors
from omo.binding.models import BindingPolicy
from omo.binding.services import policy as policy_service
from omo.core.api import ErrorOut, actor_of, allow

router = Router(tags=["settings"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 422: ErrorOut}


class BindingPolicyOut(Schema):
    rule: str = Field(..., description="first_keeps | latest_wins | locked_days")
    lock_days: int = Field(..., description="days a binding is kept under locked_days (1–365)")
    explanation_zh: str
    explanation_en: str


class BindingPolicyPatch(Schema):
    rule: BindingPolicy.Rule | None = None
    lock_days: int | None = Field(None, description="required with locked_days; 1–365")


def policy_out(policy: BindingPolicy) -> dict[str, Any]:
    zh, en = policy_service.explain(policy.rule, policy.lock_days)
    return {"rule": policy.rule, "lock_days": policy.lock_days, "explanation_zh": zh, "explanation_en": en}


@router.get("/settings/binding", auth=allow("rules.read"), response={200: BindingPolicyOut, **ERRORS})
def get_binding_policy(request: HttpRequest):
    """The brand's binding policy (first clerk keeps when never set)."""
    return policy_out(selectors.policy_for(actor_of(request).brand.pk))


@router.patch("/settings/binding", auth=allow("rules.write"), response={200: BindingPolicyOut, **ERRORS})
def update_binding_policy(request: HttpRequest, data: BindingPolicyPatch):
    """Change the rule and/or the lock period (audited as binding_policy.changed)."""
    actor = actor_of(request)
    current = selectors.policy_for(actor.brand.pk)
    given = data.model_dump(exclude_unset=True)
    rule = given.get("rule") or current.rule
    lock_days = given.get("lock_days", current.lock_days if rule == BindingPolicy.Rule.LOCKED_DAYS else None)
    return policy_out(policy_service.update_policy(actor.brand, rule=rule, lock_days=lock_days, actor=actor))
