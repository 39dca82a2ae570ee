"""Keeping the sales rollups (omo/analytics/models.py) and reading the dashboard from them.

How the rollup stays exact:

- Sales and product cells change by deltas written in the same transaction as the order change
  (`add_orders`, `remove_order`, `refund_lines`), so a rolled-back order never counts and a
  committed one always does. Each writer locks the brand's `SalesRollup` row FOR SHARE and each
  chunk of a rebuild locks it FOR UPDATE: a delta lands either wholly before a chunk (which then
  reads its order) or after it. The upserts are the transaction's last statements, in key order, so writers
  hold the hot "today" rows briefly and never lock them crosswise.
- Customer activity is recomputed from the customer's orders after commit (`refresh_customers`,
  from the order and merge events), under a lock on the customer's activity rows; the histogram
  moves by the difference. Recomputing is idempotent, so repeating it is harmless.
- A deleted store or product moves its cells to "no store" / "unknown product" in the deleting
  transaction. A change of the brand's time zone moves every day: until a rebuild (a background
  task it asks for, or `omo rollups rebuild`) has run, the dashboard computes its figures from the
  orders themselves, so it is never wrong, only slower.

This package's top is its public face for the rest of omo: the writers (`deltas`, `activity`), the
rebuild (`rebuilding`) and the readers (`reading`) sit in their own modules over the shared cell
arithmetic and state lock (`cells`).
"""

from omo.analytics.rollups.activity import refresh_customers
from omo.analytics.rollups.deltas import add_orders, forget_product, forget_store, refund_lines, remove_order
from omo.analytics.rollups.reading import (
    Figures,
    daily_sales_by_channel,
    figures,
    sales_by_store,
    sales_summary,
    top_products,
)
from omo.analytics.rollups.rebuilding import RebuildResult, ready, rebuild, request_rebuild

__all__ = [
    "Figures",
    "RebuildResult",
    "add_orders",
    "daily_sales_by_channel",
    "figures",
    "forget_product",
    "forget_store",
    "ready",
    "rebuild",
    "refresh_customers",
    "refund_lines",
    "remove_order",
    "request_rebuild",
    "sales_by_store",
    "sales_summary",
    "top_products",
]
