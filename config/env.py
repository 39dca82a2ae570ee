"""One typed helper for reading settings from the environment.

Every setting omo reads goes through here, so a missing or malformed value fails at start-up with a
message naming the variable, instead of surfacing later as a confusing runtime error.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar, overload

T = TypeVar("T")

_MISSING = object()


class EnvError(RuntimeError):
    """A required environment variable is missing or cannot be parsed."""


def _raw(name: str) -> str | None:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return None
    return value.strip()


def get(name: str, default: T | object = _MISSING, cast: Callable[[str], T] = str) -> T:  # type: ignore[assignment]
    raw = _raw(name)
    if raw is None:
        if default is _MISSING:
            raise EnvError(f"environment variable {name} is required but not set")
        return default  # type: ignore[return-value]
    try:
        return cast(raw)
    except (TypeError, ValueError) as exc:
        raise EnvError(f"environment variable {name}={raw!r} is invalid: {exc}") from exc


@overload
def get_str(name: str) -> str: ...
@overload
def get_str(name: str, default: str) -> str: ...
@overload
def get_str(name: str, default: None) -> str | None: ...
def get_str(name: str, default: str | None | object = _MISSING) -> str | None:
    return get(name, default, str)


def get_int(name: str, default: int | object = _MISSING) -> int:
    return get(name, default, int)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _to_bool(raw: str) -> bool:
    lowered = raw.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ValueError("expected one of 1/0, true/false, yes/no, on/off")


def get_bool(name: str, default: bool | object = _MISSING) -> bool:
    return get(name, default, _to_bool)


def get_list(name: str, default: list[str] | object = _MISSING) -> list[str]:
    return get(name, default, lambda raw: [item.strip() for item in raw.split(",") if item.strip()])
