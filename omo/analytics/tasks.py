"""Background work of the analytics app."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from omo.analytics import rollups
from omo.core.models import Brand


@task()
def rebuild_sales_rollup(brand_id: int) -> dict[str, Any]:
    """Recompute a brand's sales rollup from its orders (asked for by omo.analytics.rollups)."""
    brand = Brand.objects.filter(pk=brand_id).first()
    if brand is None:
        return {"brand_id": brand_id, "skipped": "brand deleted"}
    result = rollups.rebuild(brand)
    return {
        "brand_id": brand_id,
        "sales_rows": result.sales_rows,
        "product_rows": result.product_rows,
        "customer_rows": result.customer_rows,
        "seconds": round(result.seconds, 3),
    }
