"""REST endpoints for the brand's attribution rules: GET and PATCH /settings/attribution."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema
from pydantic import Field

from omo.attribution.models import AttributionSettings
from omo.attribution.services import rules
from omo.core.api import ErrorOut, actor_of, allow

router = Router(tags=["settings"])

ERRORS: dict[int, type[Schema]] = {401: ErrorOut, 403: ErrorOut, 422: ErrorOut}


class PrecedenceStep(Schema):
    rule: str = Field(..., description="pos_staff | clerk_coupon | link_click | bound_clerk")
    active: bool
    sentence_zh: str
    sentence_en: str


class AttributionRulesOut(Schema):
    window_days: int = Field(..., description="days before an order a clerk link click counts (1–90)")
    credit_bound_clerk: bool = Field(..., description="credit the bound clerk when no other rule applies")
    precedence: list[PrecedenceStep] = Field(..., description="tried in this order; the first that applies")


class AttributionRulesPatch(Schema):
    window_days: int | None = Field(None, description="1–90")
    credit_bound_clerk: bool | None = None
    precedence: list[str] | None = Field(
        None,
        description="every rule once, first tried first: pos_staff, clerk_coupon, link_click, bound_clerk",
    )


def rules_out(conf: AttributionSettings) -> dict[str, Any]:
    return {
        "window_days": conf.window_days,
        "credit_bound_clerk": conf.credit_bound_clerk,
        "precedence": [step.__dict__ for step in rules.precedence(conf)],
    }


@router.get("/settings/attribution", auth=allow("rules.read"), response={200: AttributionRulesOut, **ERRORS})
def get_attribution_rules(request: HttpRequest):
    """The click window (30 days when never set), the bound-clerk switch and the precedence in words."""
    return rules_out(rules.rules_for(actor_of(request).brand))


@router.patch(
    "/settings/attribution", auth=allow("rules.write"), response={200: AttributionRulesOut, **ERRORS}
)
def update_attribution_rules(request: HttpRequest, data: AttributionRulesPatch):
    """Change the window, the bound-clerk switch and/or the order (audited as attribution_settings.changed)."""
    actor = actor_of(request)
    given = data.model_dump(exclude_unset=True)
    for name in ("window_days", "precedence"):
        if name in given and given[name] is None:
            given[name] = ""  # an explicit null is a bad value, not "keep"
    conf = rules.update_rules(actor.brand, actor=actor, **given)
    return rules_out(conf)
