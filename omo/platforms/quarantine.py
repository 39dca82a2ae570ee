"""Webhook rows that could not be processed: set aside with their reason, retried or discarded by people.

No single request or event may block an inbox. A request the edge stored whole (WebhookIntake)
that cannot be split into receipts, and an event (WebhookReceipt) whose processing fails, are
quarantined with the reason in a sentence (omo/inbox/receipts.py) while the rest flows on. HQ
admins see them on the account's page (設定 → 平台帳號 → the account: 無法處理的 Webhook) and in
`GET /api/v1/inboxes/<id>/quarantine`, and either retry one (after a fix: it goes back in line and
the inbox's processing task runs) or discard it (an intake is deleted with its raw body; a receipt
is kept as ignored, so a redelivery of its event stays a no-op). Both are audited.
"""

from __future__ import annotations

from django.db import transaction
from django.utils.translation import pgettext

from omo.core import audit
from omo.core.audit import Actor
from omo.core.errors import DomainError
from omo.inbox import receipts
from omo.inbox.models import Inbox
from omo.inbox.receipts import KINDS, Quarantined
from omo.platforms.tasks import enqueue_processing

__all__ = ["KINDS", "Quarantined", "discard", "listing", "retry"]


def listing(inbox: Inbox, *, limit: int = 100) -> tuple[int, list[Quarantined]]:
    """(how many, the newest `limit`) quarantined rows of the inbox."""
    return receipts.quarantined(inbox.pk, limit=limit)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise DomainError(
            pgettext("quarantine", "種類須為 %(kinds)s 之一") % {"kinds": ", ".join(KINDS)},
            field="kind",
            status=404,
            code="not_found",
        )


def _gone(kind: str, row_id: int) -> DomainError:
    return DomainError(
        pgettext("quarantine", "此收件匣沒有擱置中的 %(kind)s %(id)s（已重試或捨棄？）")
        % {"kind": kind, "id": row_id},
        status=404,
        code="not_found",
    )


def retry(inbox: Inbox, kind: str, row_id: int, *, actor: Actor) -> None:
    """Put one quarantined row back in line and make sure the inbox's processing task runs."""
    _check_kind(kind)
    with transaction.atomic():
        if not receipts.release(inbox.pk, kind, row_id):
            raise _gone(kind, row_id)
        enqueue_processing([inbox.pk])
        audit.record(actor, "inbox.webhook_retried", inbox, kind=kind, row_id=row_id)


def discard(inbox: Inbox, kind: str, row_id: int, *, actor: Actor) -> None:
    """Give up on one quarantined row (see the module's docstring for what is kept)."""
    _check_kind(kind)
    with transaction.atomic():
        if not receipts.discard(inbox.pk, kind, row_id, note=f"discarded by {actor.label}"):
            raise _gone(kind, row_id)
        audit.record(actor, "inbox.webhook_discarded", inbox, kind=kind, row_id=row_id)
