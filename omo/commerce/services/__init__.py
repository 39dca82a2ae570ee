"""Order verbs: record an order from any sales channel, check out a cart, pay, fulfil, cancel, refund.

Each verb owns its transaction. Stock, points and coupons change inside it, so an order either
exists with all of its effects or not at all.
"""

from __future__ import annotations

from omo.commerce.services.batch import (
    BATCH_ATTEMPTS,
    BatchResult,
    record_orders,
)
from omo.commerce.services.checkout import (
    FREE_SHIPPING_OVER,
    SHIPPING_FEE,
    CartTotals,
    CheckoutInvalid,
    Contact,
    Invoice,
    add_to_cart,
    assign_cart_customer,
    cart_totals,
    checkout,
    new_cart,
    set_cart_line,
    set_cart_ref,
)
from omo.commerce.services.lifecycle import (
    cancel,
    fulfil,
    mark_paid,
    refund,
)
from omo.commerce.services.recording import (
    OrderError,
    record_order,
)

__all__ = [
    "BATCH_ATTEMPTS",
    "BatchResult",
    "CartTotals",
    "CheckoutInvalid",
    "Contact",
    "Invoice",
    "FREE_SHIPPING_OVER",
    "OrderError",
    "SHIPPING_FEE",
    "add_to_cart",
    "assign_cart_customer",
    "cancel",
    "cart_totals",
    "checkout",
    "fulfil",
    "mark_paid",
    "new_cart",
    "record_order",
    "record_orders",
    "refund",
    "set_cart_line",
    "set_cart_ref",
]
