"""The referral (`ref`) an order carries: what the shop and the commerce connectors accept from outside.

Referrals come from our own tracked links and clerk codes (omo/attribution/links.py); anything
else is ignored, not stored.
"""

from __future__ import annotations

import re

_REF_PATTERN = re.compile(r"^[A-Za-z0-9_.:\-]{1,200}$")


def clean_ref(raw: str | None) -> str:
    value = (raw or "").strip()
    return value if _REF_PATTERN.match(value) else ""
