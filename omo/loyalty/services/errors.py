"""What the loyalty verbs raise: a field named, the HTTP status to answer where it is not 400."""

from __future__ import annotations

from omo.core.errors import DomainError


class LoyaltyError(DomainError, ValueError):
    def __init__(self, field: str, message: str, *, status: int | None = None, code: str | None = None):
        super().__init__(message, field=field, status=status, code=code)


class InsufficientPoints(LoyaltyError):
    def __init__(self, requested: int, balance: int):
        super().__init__("points", f"{requested} points requested, balance is {balance}", status=409)
        self.requested = requested
        self.balance = balance


class CouponError(LoyaltyError):
    def __init__(self, message: str):
        super().__init__("coupon_code", message)
