"""Data retention: raw tracked events and webhook receipts are kept as long as the brand says.

`CustomerSettings.event_retention_days` (default 730) and `receipt_retention_days` (default 30) are
edited in the console (設定 › 個資與保存期限). The periodic job `customers.purge_expired` (daily, see
omo/core/schedule.py) deletes, per brand, tracked events whose `timestamp` and webhook receipts
whose `received_at` are older than that, in chunks of CHUNK rows by primary key, so no single
statement holds a long lock. Receipts still waiting to be processed are never deleted.

The settings are the brand's; what expires is each app's (its personal-data handler's `purge`,
omo/customers/personal_data.py).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django_tasks import task

from omo.core import audit
from omo.core.audit import Actor
from omo.core.errors import FieldError
from omo.core.models import Brand
from omo.customers import personal_data
from omo.customers.models import CustomerSettings

logger = logging.getLogger(__name__)

CHUNK = 2000
MIN_DAYS = 1
MAX_DAYS = 3650


class RetentionError(FieldError, ValueError):
    pass


def settings_for(brand: Brand | int) -> CustomerSettings:
    brand_id = brand if isinstance(brand, int) else brand.pk
    found, _ = CustomerSettings.objects.get_or_create(brand_id=brand_id)
    return found


def update_retention(brand: Brand, *, event_days: Any, receipt_days: Any, actor: Actor) -> CustomerSettings:
    """Set both retention periods (whole days, 1 to 3650); audited as customer_settings.retention_changed."""
    values = {}
    for name, raw in (("event_retention_days", event_days), ("receipt_retention_days", receipt_days)):
        try:
            days = int(str(raw).strip())
        except (TypeError, ValueError):
            raise RetentionError(name, "a whole number of days") from None
        if not MIN_DAYS <= days <= MAX_DAYS:
            raise RetentionError(name, f"between {MIN_DAYS} and {MAX_DAYS} days")
        values[name] = days
    with transaction.atomic():
        current = settings_for(brand)
        before = {name: getattr(current, name) for name in values}
        for name, days in values.items():
            setattr(current, name, days)
        current.save(update_fields=[*values, "updated_at"])
        audit.record(actor, "customer_settings.retention_changed", current, before=before, after=values)
    return current


def delete_in_chunks(queryset: QuerySet[Any], *, chunk: int) -> int:
    """Delete the rows a chunk at a time, each chunk in its own short transaction."""
    deleted = 0
    while True:
        ids = list(queryset.order_by("pk").values_list("pk", flat=True)[:chunk])
        if not ids:
            return deleted
        with transaction.atomic():
            deleted += queryset.model.objects.filter(pk__in=ids).delete()[0]


def purge_brand(brand_id: int, *, now: dt.datetime | None = None, chunk: int = CHUNK) -> dict[str, int]:
    """Delete one brand's expired raw events and receipts; returns how many of each."""
    now = now or timezone.now()
    current = settings_for(brand_id)
    counts: dict[str, int] = {}
    for handler in personal_data.handlers():
        counts.update(handler.purge(brand_id, retention=current, now=now, chunk=chunk))
    return counts


def purge_all(*, now: dt.datetime | None = None, chunk: int = CHUNK) -> dict[int, dict[str, int]]:
    results = {}
    for brand_id in Brand.objects.order_by("pk").values_list("pk", flat=True):
        results[brand_id] = purge_brand(brand_id, now=now, chunk=chunk)
        if any(results[brand_id].values()):
            logger.info("retention: brand %s deleted %s", brand_id, results[brand_id])
    return results


@task()
def purge_expired() -> dict[str, dict[str, int]]:
    """The periodic job (registered in omo.core.schedule)."""
    return {str(brand_id): counts for brand_id, counts in purge_all().items()}
