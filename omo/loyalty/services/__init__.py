"""Loyalty verbs: points earned, redeemed, reversed, expired and adjusted; tiers; coupons.

The ledger and its balance (`ledger`), points for one order (`orders`) and for a batch of orders
(`batch`), tiers (`tiers`), coupons (`coupons`), and what they raise (`errors`). This package's face
is what callers use; the modules are its parts.

Balances: every change inserts one PointsEntry and moves LoyaltyAccount.balance with a single
conditional UPDATE (`balance + delta >= 0`) in the same transaction, so concurrent redemptions can
never overdraw and the balance always equals the ledger sum. Coupon codes use the same pattern
(`times_used < max_uses`), so a single-use code is redeemed at most once under any concurrency.
"""

from __future__ import annotations

from omo.loyalty.services.batch import earn_for_orders
from omo.loyalty.services.coupons import (
    CouponQuote,
    add_shared_code,
    create_coupon,
    issue_codes,
    quote_coupon,
    redeem_coupon,
    release_coupon,
)
from omo.loyalty.services.errors import CouponError, InsufficientPoints, LoyaltyError
from omo.loyalty.services.ledger import (
    account_for,
    adjust_points,
    expire_points,
    points_for_amount,
    program_for,
)
from omo.loyalty.services.orders import (
    earn_for_order,
    max_redeemable,
    redeem_for_order,
    reverse_for_refund,
    undo_for_cancellation,
)
from omo.loyalty.services.tiers import recompute_tier, rolling_spend
from omo.loyalty.services.till import (
    TillPoints,
    TillRedemption,
    check_coupon,
    link_till_sale,
    link_till_sales,
    max_points_for,
    redeem_at_till,
    redeem_points_at_till,
    reverse_at_till,
    reverse_points_at_till,
)

__all__ = [
    "CouponError",
    "CouponQuote",
    "TillPoints",
    "TillRedemption",
    "check_coupon",
    "link_till_sale",
    "link_till_sales",
    "max_points_for",
    "redeem_at_till",
    "redeem_points_at_till",
    "reverse_at_till",
    "reverse_points_at_till",
    "InsufficientPoints",
    "LoyaltyError",
    "account_for",
    "add_shared_code",
    "adjust_points",
    "create_coupon",
    "earn_for_order",
    "earn_for_orders",
    "expire_points",
    "issue_codes",
    "max_redeemable",
    "points_for_amount",
    "program_for",
    "quote_coupon",
    "recompute_tier",
    "redeem_coupon",
    "redeem_for_order",
    "release_coupon",
    "reverse_for_refund",
    "rolling_spend",
    "undo_for_cancellation",
]
