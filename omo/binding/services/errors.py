"""What the binding verbs raise."""

from __future__ import annotations

from omo.core.errors import FieldError


class BindingError(FieldError, ValueError):
    """Bad input or a refused action; `field` names what was wrong, `status` the HTTP status to answer."""

    status = 400
