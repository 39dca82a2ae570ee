"""The conversation list: filters by queue, status, label and assignee, newest first, paged by time."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from django import forms
from django.http import HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import pgettext_lazy
from django.views.decorators.cache import never_cache

from omo.console.access import ConsoleRequest, console_view
from omo.console.pages import render_page
from omo.console.views.inbox.common import QUEUE_LABELS, STATUS_LABELS, bound_clerks, waiting_minutes
from omo.inbox import selectors as inbox_selectors
from omo.inbox.models import Conversation
from omo.staff.models import User

if TYPE_CHECKING:
    from omo.staff.requests import BrandStaff

LIST_LIMIT = 100


class InboxFilters(TypedDict):
    """What the list is filtered by, as omo.inbox.selectors.conversation_list takes it."""

    queue: str | None
    status: str | None
    mine: bool
    label: str | None


class InboxFilterForm(forms.Form):
    queue = forms.ChoiceField(
        label=pgettext_lazy("console", "佇列"),
        required=False,
        choices=[("", pgettext_lazy("console", "全部"))] + list(QUEUE_LABELS.items()),
    )
    status = forms.ChoiceField(
        label=pgettext_lazy("console", "狀態"),
        required=False,
        choices=[*STATUS_LABELS.items(), ("all", pgettext_lazy("console", "全部"))],
    )
    mine = forms.BooleanField(label=pgettext_lazy("console", "只看指派給我的"), required=False)
    label = forms.CharField(label=pgettext_lazy("console", "標籤"), required=False, max_length=30)

    def filters(self) -> InboxFilters:
        data = self.cleaned_data if self.is_valid() else {}
        status = data.get("status") or Conversation.Status.OPEN
        return {
            "queue": data.get("queue") or None,
            "status": None if status == "all" else status,
            "mine": bool(data.get("mine")),
            "label": (data.get("label") or "").strip() or None,
        }


def _rows(user: BrandStaff, conversations: list[Conversation]) -> list[dict[str, Any]]:
    now = timezone.now()
    clerks = bound_clerks(user.brand_id, [c.customer_id for c in conversations])
    return [
        {
            "conversation": conversation,
            "name": conversation.customer.name or str(conversation.contact),
            "bound_clerk": clerks.get(conversation.customer_id),
            "queue_label": QUEUE_LABELS.get(conversation.queue, conversation.queue),
            "status_label": STATUS_LABELS.get(conversation.status, conversation.status),
            "waiting": waiting_minutes(conversation.waiting_since, now),
            "overdue": conversation.sla_due_at is not None
            and conversation.waiting_since is not None
            and conversation.sla_due_at <= now,
        }
        for conversation in conversations
    ]


def _known_labels(user: User) -> list[str]:
    labels: set[str] = set()
    recent = inbox_selectors.visible_conversations(user).order_by("-last_message_at")[:500]
    for values in recent.values_list("labels", flat=True):
        labels.update(label for label in values or [] if isinstance(label, str))
    return sorted(labels)


@console_view()
@never_cache
def inbox(request: ConsoleRequest) -> HttpResponse:
    user = request.user
    data = request.GET.copy()
    data.setdefault("status", Conversation.Status.OPEN)
    form = InboxFilterForm(data)
    before = parse_datetime(request.GET.get("before", "") or "")
    if before is not None and timezone.is_naive(before):
        before = timezone.make_aware(before)
    conversations = inbox_selectors.conversation_list(user, **form.filters(), limit=LIST_LIMIT, before=before)
    context = {
        "form": form,
        "rows": _rows(user, conversations),
        "more": conversations[-1].last_message_at
        if len(conversations) == LIST_LIMIT and conversations[-1].last_message_at
        else None,
        "labels": _known_labels(user),
        "unread_total": inbox_selectors.unread_total(user),
    }
    if request.GET.get("partial") == "rows":
        return render(request, "console/inbox/_rows.html", context)
    return render_page(request, "console/inbox/list.html", context, status=400 if form.errors else 200)
