"""What the inbox screens share: the labels people see for queues, statuses and form fields, who a
customer is bound to, how long they have waited, and how a service's refusal or error becomes a
403/404 page or an error on the form field it names.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django import forms
from django.http import Http404, HttpRequest, HttpResponse
from django.utils.translation import pgettext, pgettext_lazy

from omo.binding.models import Binding
from omo.console.access import forbidden
from omo.inbox import services as inbox_services
from omo.inbox.models import Conversation
from omo.staff import roster as staff_roster
from omo.staff.models import User

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

# Keyed by the stored value (a plain string on a model instance), shown as a translated label.
QUEUE_LABELS: dict[str, StrPromise] = {
    Conversation.Queue.HQ: pgettext_lazy("console", "總部客服"),
    Conversation.Queue.STORE: pgettext_lazy("console", "門市團隊"),
    Conversation.Queue.CLERK: pgettext_lazy("console", "綁定店員"),
}
STATUS_LABELS: dict[str, StrPromise] = {
    Conversation.Status.OPEN: pgettext_lazy("console", "處理中"),
    Conversation.Status.RESOLVED: pgettext_lazy("console", "已結案"),
}
# Field names that services report, as the labels people see on the forms.
FIELD_LABELS = {
    "text": pgettext_lazy("console", "訊息內容"),
    "labels": pgettext_lazy("console", "標籤"),
    "assignee": pgettext_lazy("console", "指派對象"),
    "store": pgettext_lazy("console", "門市"),
    "queue": pgettext_lazy("console", "指派對象"),
    "staff": pgettext_lazy("console", "員工"),
    "starts_at": pgettext_lazy("console", "開始時間"),
    "ends_at": pgettext_lazy("console", "結束時間"),
    "title": pgettext_lazy("console", "標題"),
    "body": pgettext_lazy("console", "內容"),
    "shortcut": pgettext_lazy("console", "快捷鍵"),
    "employee_code": "employee_code",
    "date": "date",
    "start": "start",
    "end": "end",
    "file": pgettext_lazy("console", "CSV 檔案"),
}


def refused(
    request: HttpRequest, error: inbox_services.InboxError | staff_roster.RosterError
) -> HttpResponse:
    if error.status == 404:
        raise Http404(error.message)
    return forbidden(request, pgettext("console", "您的角色不能執行此操作。"), show_home=True)


def form_error(
    form: forms.Form, error: inbox_services.InboxError | staff_roster.RosterError, default: str | None = None
) -> None:
    """Put a service's error on the form field it names (or the form as a whole)."""
    field = error.field if error.field in form.fields else default
    form.add_error(field, error.message)


def bound_clerks(brand_id: int, customer_ids: list[int]) -> dict[int, User]:
    bindings = Binding.objects.filter(
        brand_id=brand_id, customer_id__in=customer_ids, ended_at__isnull=True
    ).select_related("clerk")
    return {binding.customer_id: binding.clerk for binding in bindings}


def waiting_minutes(since: dt.datetime | None, now: dt.datetime) -> int | None:
    return None if since is None else max(0, int((now - since).total_seconds() // 60))
