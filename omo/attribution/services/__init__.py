"""Attribution and commission verbs: tracked links and clicks (`clicks`), the per-order decision
(`decision`), commission (`commission`), attributing one order and reversing it (`orders`), the
batch (`batch`), and the durable subscribers of order events (`handlers`). This package's face is
what callers use; the modules are its parts.

Precedence (DESIGN.md §5): POS staff id > clerk coupon code > the customer's last counted clerk
link click in the window (matched by customer identity, and by the order's signed ref) > the
bound clerk (only when the brand turns it on; binding history at the order's time) > none.

One decision function (`decide`) serves both the per-order path (run after `order.recorded`
commits) and the batch (`attribute_orders`), so a re-run in bulk gives the same words as live.
Clerk coupon codes: a coupon code is a clerk's when it equals the clerk's ClerkCode.code, or
starts with that code followed by "-" (e.g. ``K7QX2M-1111``), case-insensitively; loyalty's
models stay untouched.
"""

from __future__ import annotations

from omo.attribution.services.batch import (
    BatchStats,
    attribute_orders,
)
from omo.attribution.services.clicks import (
    AttributionError,
    ClickOutcome,
    absolute,
    is_preview_agent,
    issue_link,
    link_url,
    product_path,
    record_click,
    resolve_link,
    safe_target,
)
from omo.attribution.services.commission import (
    commission_for,
    month_of,
    rate_for,
)
from omo.attribution.services.decision import (
    BindingFact,
    BrandContext,
    ClerkInfo,
    ClickFact,
    Decision,
    OrderFacts,
    brand_context,
    decide,
)
from omo.attribution.services.handlers import (
    on_order_cancelled,
    on_order_recorded,
    on_order_refunded,
    on_orders_batch_recorded,
)
from omo.attribution.services.orders import (
    attribute_order,
    reverse_for_cancellation,
    reverse_for_refund,
    settle_cancelled,
)

__all__ = [
    "AttributionError",
    "BatchStats",
    "BindingFact",
    "BrandContext",
    "ClerkInfo",
    "ClickFact",
    "ClickOutcome",
    "Decision",
    "OrderFacts",
    "absolute",
    "attribute_order",
    "attribute_orders",
    "brand_context",
    "commission_for",
    "decide",
    "is_preview_agent",
    "issue_link",
    "link_url",
    "month_of",
    "on_order_cancelled",
    "on_order_recorded",
    "on_order_refunded",
    "on_orders_batch_recorded",
    "product_path",
    "rate_for",
    "record_click",
    "resolve_link",
    "reverse_for_cancellation",
    "reverse_for_refund",
    "safe_target",
    "settle_cancelled",
]
