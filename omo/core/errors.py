"""One base for the refusals of every app: a stable machine code, a status, the message, the field.

A service raises its app's error (`OrderError`, `CustomerError`, …), each a `DomainError`, and says
at the raise site what kind of refusal it is (a bad value, a clash with existing rows, something
missing, something forbidden). The API answers every one of them with one handler, `body()` giving
the JSON; console and clerk views show `message` (and use `status`, `field`) as they always did.
"""

from __future__ import annotations

from typing import Any, ClassVar

# The code a refusal carries when its raise site names only the status.
STATUS_CODES: dict[int, str] = {
    400: "bad_request",
    403: "forbidden",
    404: "not_found",
    409: "conflict",
    410: "gone",
    422: "invalid",
}


class DomainError(Exception):
    """A refusal: `code` is stable for programs, `message` names the problem for people.

    `status` is the HTTP answer it maps to; `field` the input it is about (if one); `extra` any
    further facts the caller may act on (for example `available` for stock), added to the body.
    Subclasses set the defaults for their kind; a raise site overrides `status` and `code`.
    """

    status: int = 422
    code: str = "invalid"
    # "field: message" as the exception's text, which logs and older callers of str() expect.
    field_in_text: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        status: int | None = None,
        code: str | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(f"{field}: {message}" if self.field_in_text and field else message)
        self.message = message
        self.field = field
        if status is not None:
            self.status = status
        if code:
            self.code = code
        elif status is not None and status != type(self).status:
            self.code = STATUS_CODES.get(status, type(self).code)
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON the API answers with: `{detail, code, field?, ...extra}`."""
        body: dict[str, Any] = {"detail": self.message, "code": self.code}
        if self.field:
            body["field"] = self.field
        body.update(self.extra)
        return body


class FieldError(DomainError):
    """A refusal about one input, raised as `(field, message)` and shown as "field: message"."""

    field_in_text = True
    field: str

    def __init__(
        self, field: str, message: str, *, status: int | None = None, code: str | None = None, **extra: Any
    ) -> None:
        super().__init__(message, field=field, status=status, code=code, **extra)


class Invalid(DomainError):
    status = 422
    code = "invalid"


class BadRequest(DomainError):
    status = 400
    code = "bad_request"


class Conflict(DomainError):
    status = 409
    code = "conflict"


class NotFound(DomainError):
    status = 404
    code = "not_found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
