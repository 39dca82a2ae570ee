"""Plain results of LINE account calls, importable without the SDK."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class BotInfo:
    display_name: str
    basic_id: str
    user_id: str


@dataclass(frozen=True)
class WebhookTest:
    """LINE's answer to the webhook test, as LINE names it (statusCode ≤ 0: no response)."""

    success: bool
    timestamp: str
    status_code: int
    reason: str
    detail: str

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["statusCode"] = data.pop("status_code")
        return data
