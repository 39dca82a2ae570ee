"""The brand's inbox rules: the reply SLA (minutes, counted in the store's opening hours).

Read with `omo.inbox.selectors.inbox_settings` (10 minutes when never set); changed here only,
audited as `inbox_settings.sla_changed`. Stores' opening hours belong to the staff app
(omo/staff/hours.py); routing reads both (omo/inbox/routing.py).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext

from omo.core import audit
from omo.core.audit import Actor
from omo.core.models import Brand
from omo.inbox.models import InboxSettings
from omo.inbox.services import InboxError

MIN_SLA_MINUTES = 1
MAX_SLA_MINUTES = 1440


def update_sla(brand: Brand, *, sla_minutes: Any, actor: Actor) -> InboxSettings:
    """Set the minutes a customer may wait for a first reply (1–1440) before the inbox escalates."""
    try:
        minutes = int(str(sla_minutes).strip())
    except (TypeError, ValueError):
        raise InboxError("sla_minutes", gettext("回覆時限須為整數分鐘"), status=422) from None
    if not MIN_SLA_MINUTES <= minutes <= MAX_SLA_MINUTES:
        raise InboxError(
            "sla_minutes",
            gettext("回覆時限須介於 %(min_sla_minutes)s 到 %(max_sla_minutes)s 分鐘")
            % {"min_sla_minutes": MIN_SLA_MINUTES, "max_sla_minutes": MAX_SLA_MINUTES},
            status=422,
        )
    with transaction.atomic():
        current, _ = InboxSettings.objects.select_for_update().get_or_create(brand=brand)
        before = {"sla_minutes": current.sla_minutes}
        current.sla_minutes = minutes
        current.save(update_fields=["sla_minutes"])
        audit.record(
            actor, "inbox_settings.sla_changed", current, before=before, after={"sla_minutes": minutes}
        )
    return current
