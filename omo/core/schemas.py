"""A base class for API shapes that are validated from plain dicts."""

from __future__ import annotations

from typing import Any

from ninja import Schema
from ninja.schema import DjangoGetter
from pydantic import ValidationInfo, model_validator


class DictSchema(Schema):
    """A Schema validated straight from a dict: a parsed JSON body, or a response the view built.

    ninja's Schema wraps every input in a DjangoGetter so that it can read model instances and run
    `resolve_*` methods; for a dict that only adds a Python call per field and nested object (it
    made validating a batch order five times slower). Anything other than a dict, or a shape with
    resolvers, still goes through the DjangoGetter, as in Schema.
    """

    @model_validator(mode="wrap")
    @classmethod
    def _run_root_validator(cls, values: Any, handler: Any, info: ValidationInfo) -> Any:
        if isinstance(values, dict) and not cls._ninja_resolvers:
            return handler(values)
        return handler(DjangoGetter(values, cls, info.context))
