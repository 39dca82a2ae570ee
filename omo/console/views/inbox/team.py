"""對話 → 團隊對話: the store team's open conversations, who holds each and how long the customer has
waited against the reply SLA (設定 → 回覆時限與營業時間; the clock runs only while the store is open,
omo/inbox/routing.py), overdue ones first.

A store manager sees their own store (the conversations omo.inbox.selectors lets them see); HQ
picks a store or sees every store. Read-only: people answer in the inbox.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.db.models import F
from django.http import HttpResponse
from django.utils import timezone
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache

from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import render_page
from omo.console.views.inbox.common import QUEUE_LABELS, bound_clerks, waiting_minutes
from omo.core.access import Scope
from omo.inbox import selectors as inbox_selectors
from omo.inbox.models import Conversation
from omo.staff.models import Store
from omo.staff.selectors import visible_stores

TEAM_LIMIT = 300


class TeamFilterForm(forms.Form):
    store = forms.ModelChoiceField(
        label=pgettext_lazy("console", "門市"),
        queryset=Store.objects.none(),
        required=False,
        empty_label=pgettext_lazy("console", "全部門市"),
    )

    def __init__(self, *args: Any, stores: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["store"].queryset = stores  # type: ignore[attr-defined]


def _holder(conversation: Conversation) -> str:
    if conversation.assignee is not None:
        return str(conversation.assignee)
    label = str(QUEUE_LABELS.get(conversation.queue, conversation.queue))
    if conversation.queue == Conversation.Queue.STORE and conversation.store is not None:
        return f"{conversation.store.name} · {label}"
    return label


def team_rows(conversations: list[Conversation], brand_id: int, now: dt.datetime) -> list[dict[str, Any]]:
    """One row per open conversation, overdue first (longest over first), then the longest waits."""
    clerks = bound_clerks(brand_id, [c.customer_id for c in conversations])
    rows = []
    for conversation in conversations:
        waiting = conversation.waiting_since is not None
        due = conversation.sla_due_at if waiting else None
        overdue = due is not None and due <= now
        rows.append(
            {
                "conversation": conversation,
                "name": conversation.customer.name or str(conversation.contact),
                "holder": _holder(conversation),
                "bound_clerk": clerks.get(conversation.customer_id),
                "waiting": waiting_minutes(conversation.waiting_since, now),
                "due": due,
                "overdue": overdue,
                "over_by": waiting_minutes(due, now) if overdue else None,
                "left": max(0, int((due - now).total_seconds() // 60))
                if due is not None and not overdue
                else None,
            }
        )

    def order(row: dict[str, Any]) -> tuple[int, float]:
        conversation = row["conversation"]
        if row["overdue"]:
            return (0, row["due"].timestamp())
        if conversation.waiting_since is not None:
            return (1, conversation.waiting_since.timestamp())
        last = conversation.last_message_at or conversation.created_at
        return (2, -last.timestamp())

    return sorted(rows, key=order)


def holder_summary(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per holder: open conversations, waiting ones and overdue ones, the most overdue first."""
    summary: dict[str, dict[str, Any]] = {}
    for row in rows:
        entry = summary.setdefault(
            row["holder"], {"holder": row["holder"], "open": 0, "waiting": 0, "overdue": 0}
        )
        entry["open"] += 1
        entry["waiting"] += row["waiting"] is not None
        entry["overdue"] += row["overdue"]
    return sorted(summary.values(), key=lambda e: (-e["overdue"], -e["waiting"], e["holder"]))


@console_view("staff.read")
@never_cache
def team(request: ConsoleRequest) -> HttpResponse:
    actor = actor_for(request)
    stores = visible_stores(actor).filter(is_active=True).order_by("code")
    form = TeamFilterForm(request.GET or None, stores=stores)
    conversations = (
        inbox_selectors.visible_conversations(request.user)
        .filter(status=Conversation.Status.OPEN)
        .select_related("contact", "customer", "assignee", "store")
    )
    store = form.cleaned_data.get("store") if form.is_valid() else None
    if request.user.scope == Scope.BRAND and store is not None:
        conversations = conversations.filter(store=store)
    now = timezone.now()
    rows = team_rows(
        list(
            conversations.order_by(F("waiting_since").asc(nulls_last=True), "-last_message_at")[:TEAM_LIMIT]
        ),
        actor.brand.pk,
        now,
    )
    sla = inbox_selectors.inbox_settings(actor.brand.pk).sla_minutes
    return render_page(
        request,
        "console/inbox/team.html",
        {
            "form": form,
            "rows": rows,
            "summary": holder_summary(rows),
            "sla_minutes": sla,
            "overdue_count": sum(1 for row in rows if row["overdue"]),
            "brand_wide": request.user.scope == Scope.BRAND,
            "limit_reached": len(rows) == TEAM_LIMIT,
            "store_name": request.user.store.name if request.user.store else "",
            "title": pgettext("console", "團隊對話"),
        },
    )
