"""What the loyalty verbs raise: a field named, the HTTP status to answer where it is not 400."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext

from omo.core.errors import DomainError


class LoyaltyError(DomainError, ValueError):
    def __init__(
        self, field: str, message: str, *, status: int | None = None, code: str | None = None, **extra: Any
    ):
        super().__init__(message, field=field, status=status, code=code, **extra)


class InsufficientPoints(LoyaltyError):
    def __init__(self, requested: int, balance: int):
        super().__init__(
            "points",
            gettext("點數不足：要折抵 %(requested)s 點，餘額 %(balance)s 點")
            % {"requested": requested, "balance": balance},
            status=409,
            code="insufficient_points",
        )
        self.requested = requested
        self.balance = balance


class CouponError(LoyaltyError):
    """A code that cannot be used; `code` names why, for programs (a till shows the message):
    coupon_unknown, coupon_other_brand, coupon_inactive, coupon_not_started, coupon_expired,
    coupon_used, coupon_other_customer, coupon_min_spend."""

    def __init__(self, message: str, *, code: str = "invalid", status: int | None = None):
        super().__init__("coupon_code", message, status=status, code=code)
