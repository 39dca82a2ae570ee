"""The fields a rule can use, for the console's builder: labels, operators, parameters, choices."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from omo.segments.rules.spec import FIELDS, Choice, op_label

if TYPE_CHECKING:
    from omo.core.models import Brand


GROUP_ORDER = (
    "profile",
    "consent",
    "binding",
    "orders",
    "events",
    "loyalty",
    "rfm",
    "lifecycle",
    "predicted",
    "segment",
)


def group_label(group: str) -> str:
    labels = {
        "profile": pgettext("segment rule", "顧客資料"),
        "consent": _("同意與可觸及"),
        "binding": _("綁定店員"),
        "orders": pgettext("segment rule", "訂單"),
        "events": pgettext("segment rule", "行為事件"),
        "loyalty": _("會員點數與等級"),
        "rfm": pgettext("segment rule", "RFM"),
        "lifecycle": _("顧客生命週期"),
        "predicted": pgettext("segment rule", "預測"),
        "segment": pgettext("segment rule", "分眾"),
    }
    return labels.get(group, group)


def _choices(choices: list[Choice]) -> list[dict[str, Any]]:
    return [{"value": choice.value, "label": choice.label} for choice in choices]


def field_catalogue(brand: Brand) -> list[dict[str, Any]]:
    """One entry per field, in the active language:

    {"field", "group", "group_label", "label", "description", "type", "ops": [{"op", "label"}],
     "list_value", "choices": [{"value", "label"}] | None,
     "params": [{"name", "label", "type", "required", "choices", "excludes"}]}"""
    catalogue = []
    ordered = sorted(FIELDS.values(), key=lambda spec: GROUP_ORDER.index(spec.group))
    for spec in ordered:
        catalogue.append(
            {
                "field": spec.name,
                "group": spec.group,
                "group_label": group_label(spec.group),
                "label": spec.label(),
                "description": spec.description(),
                "type": spec.value.kind,
                "ops": [{"op": op, "label": op_label(op)} for op in spec.ops],
                "list_value": spec.list_value,
                "choices": _choices(spec.value.choices(brand)) if spec.value.choices else None,
                "params": [
                    {
                        "name": param.name,
                        "label": str(param.label),
                        "type": param.kind,
                        "required": param.required,
                        "choices": _choices(param.choices(brand)) if param.choices else None,
                        "excludes": list(param.excludes),
                    }
                    for param in spec.params
                ],
            }
        )
    return catalogue
