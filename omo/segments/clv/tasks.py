"""Background work of predicted customer value: the nightly refit of every brand and the refit an
HQ admin asks for from the console (queued, so the page answers at once)."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from omo.core.models import Brand
from omo.segments.clv import services


@task()
def refit_brand(brand_id: int) -> dict[str, Any]:
    brand = Brand.objects.filter(pk=brand_id).first()
    if brand is None:
        return {"brand_id": brand_id, "skipped": "brand deleted"}
    result = services.refit(brand)
    return {
        "brand_id": brand_id,
        "fit_id": result.fit.pk,
        "customers": result.fit.customers,
        "enough_history": result.fit.enough_history,
    }


@task()
def refit_all_brands() -> int:
    """The nightly job: one refit task per brand (so one brand's failure does not stop the rest)."""
    brand_ids = list(Brand.objects.values_list("pk", flat=True))
    for brand_id in brand_ids:
        refit_brand.enqueue(brand_id)
    return len(brand_ids)
