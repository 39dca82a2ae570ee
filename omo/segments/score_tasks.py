"""Running the score computation in the background: nightly for every brand, and on demand.

`request_scores(brand, actor=...)` queues one run (立即重新計算 on 顧客分群, or
`POST /api/v1/segments/scores/refresh`); asking again while a run is queued and not started does not
queue a second one, unless the first was asked for more than `REQUEST_RETRY` ago (a worker down).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django_tasks import task

from omo.core import audit
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.segments import scores
from omo.segments.models import ScoreRun

REQUEST_RETRY = dt.timedelta(minutes=15)


@task()
def compute_brand_scores(brand_id: int) -> dict[str, Any]:
    brand = Brand.objects.filter(pk=brand_id).first()
    if brand is None:
        return {"brand_id": brand_id, "skipped": "brand deleted"}
    summary = scores.compute_scores(brand)
    return {
        "brand_id": brand_id,
        "customers": summary.customers,
        "buyers": summary.buyers,
        "repurchase_days": summary.repurchase.days,
        "seconds": summary.seconds,
    }


@task()
def nightly_scores_all_brands() -> int:
    """Queue one run per brand (each brand's run is its own task, so one failing stops no other)."""
    brand_ids = list(Brand.objects.values_list("pk", flat=True))
    for brand_id in brand_ids:
        compute_brand_scores.enqueue(brand_id)
    return len(brand_ids)


def request_scores(brand: Brand, *, actor: Actor) -> tuple[bool, dt.datetime]:
    """Queue a run of the brand's scores. (queued now, when the pending run was asked for)."""
    now = timezone.now()
    with transaction.atomic():
        ScoreRun.objects.get_or_create(brand=brand)
        queued = bool(
            ScoreRun.objects.filter(
                Q(requested_at__isnull=True) | Q(requested_at__lt=now - REQUEST_RETRY), brand=brand
            ).update(requested_at=now)
        )
        if queued:
            audit.record(actor, "scores.refresh_requested", brand)
            transaction.on_commit(lambda: compute_brand_scores.enqueue(brand.pk))
        requested_at = ScoreRun.objects.filter(brand=brand).values_list("requested_at", flat=True).get()
    return queued, requested_at or now
