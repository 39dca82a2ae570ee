"""The refusal of a bad rule tree: names the place in the tree and the problem."""

from __future__ import annotations

from typing import Any

from omo.core.errors import FieldError


class RuleError(FieldError, ValueError):
    """A rule tree that cannot be used. `path` is where in the tree, e.g. `all[1].any[0].value`
    (empty for the tree itself); `message` says what is wrong there, in the active language.

    The API answers 422 with `{"detail", "code": "invalid_rule", "field": path}`."""

    status = 422
    code = "invalid_rule"

    def __init__(self, path: str, message: str, **extra: Any) -> None:
        super().__init__(path or "rule", message, **extra)
        self.path = path
