"""What the front page (`/`) may add below its doors: e.g. the demo's logins and its simulator
customer. Providers are registered from an AppConfig.ready, so the site names none of them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Provider = Callable[[], dict[str, Any] | None]

_providers: dict[str, Provider] = {}


def register(name: str, provider: Provider) -> None:
    """`provider()` returns a dict for the front page's template, or None when it has nothing."""
    _providers[name] = provider


def notes() -> dict[str, dict[str, Any]]:
    """{name: what its provider returned}, without the ones that returned nothing."""
    out = {}
    for name, provider in _providers.items():
        found = provider()
        if found:
            out[name] = found
    return out
