"""The inbox in the console: conversation list, one conversation, the roster and canned replies.

Scope is the inbox's own: every conversation is read through omo.inbox.selectors (HQ sees the
brand, a store manager their store), so another brand's or another store's conversation is a 404.
Every change goes through one omo.inbox.services verb; an InboxError becomes an error on the form
field it names (400), or a 403/404 page when the service refuses the action itself.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from omo.binding.models import Binding
from omo.console.access import actor_for, console_view, forbidden
from omo.console.pages import render_page
from omo.inbox import selectors as inbox_selectors
from omo.inbox import services as inbox_services
from omo.inbox.models import CannedReply, Conversation, Message
from omo.inbox.outbound import OutboundError, retry_message
from omo.staff import roster as staff_roster
from omo.staff.models import Shift, Store, User
from omo.staff.roles import Role

LIST_LIMIT = 100
TIMELINE_LIMIT = 300
ROSTER_EDITORS = (Role.HQ_ADMIN, Role.STORE_MANAGER)
LABEL_SPLIT = re.compile(r"[,，、\n]")

QUEUE_LABELS = {
    Conversation.Queue.HQ: pgettext_lazy("console", "總部客服"),
    Conversation.Queue.STORE: pgettext_lazy("console", "門市團隊"),
    Conversation.Queue.CLERK: pgettext_lazy("console", "綁定店員"),
}
STATUS_LABELS = {
    Conversation.Status.OPEN: pgettext_lazy("console", "處理中"),
    Conversation.Status.RESOLVED: pgettext_lazy("console", "已結案"),
}
DELIVERY_LABELS = {
    Message.Status.RECEIVED: pgettext_lazy("console", "已收到"),
    Message.Status.QUEUED: pgettext_lazy("console", "傳送中"),
    Message.Status.SENT: pgettext_lazy("console", "已送出"),
    Message.Status.FAILED: pgettext_lazy("console", "傳送失敗"),
}
SENT_VIA_LABELS = {
    Message.SentVia.REPLY: pgettext_lazy("console", "回覆訊息（免費）"),
    Message.SentVia.PUSH: pgettext_lazy("console", "推播訊息（計費）"),
}
CANNED_VARIABLE_HELP = (
    ("customer_name", pgettext_lazy("console", "顧客姓名（無姓名時為聊天暱稱）")),
    ("clerk_name", pgettext_lazy("console", "綁定店員的名稱；未綁定時為發送者")),
    ("store_name", pgettext_lazy("console", "該店員所屬門市；否則為對話所屬門市")),
)
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


def _refused(
    request: HttpRequest, error: inbox_services.InboxError | staff_roster.RosterError
) -> HttpResponse:
    if error.status == 404:
        raise Http404(error.message)
    return forbidden(request, pgettext("console", "您的角色不能執行此操作。"), show_home=True)


def _form_error(
    form: forms.Form, error: inbox_services.InboxError | staff_roster.RosterError, default: str | None = None
) -> None:
    """Put a service's error on the form field it names (or the form as a whole)."""
    field = error.field if error.field in form.fields else default
    form.add_error(field, error.message)


# --- the conversation list ------------------------------------------------------------------------


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

    def filters(self) -> dict[str, Any]:
        data = self.cleaned_data if self.is_valid() else {}
        status = data.get("status") or Conversation.Status.OPEN
        return {
            "queue": data.get("queue") or None,
            "status": None if status == "all" else status,
            "mine": bool(data.get("mine")),
            "label": (data.get("label") or "").strip() or None,
        }


def _bound_clerks(brand_id: int, customer_ids: list[int]) -> dict[int, User]:
    bindings = Binding.objects.filter(
        brand_id=brand_id, customer_id__in=customer_ids, ended_at__isnull=True
    ).select_related("clerk")
    return {binding.customer_id: binding.clerk for binding in bindings}


def _waiting_minutes(since: dt.datetime | None, now: dt.datetime) -> int | None:
    return None if since is None else max(0, int((now - since).total_seconds() // 60))


def _rows(user: User, conversations: list[Conversation]) -> list[dict[str, Any]]:
    now = timezone.now()
    clerks = _bound_clerks(user.brand_id, [c.customer_id for c in conversations])
    return [
        {
            "conversation": conversation,
            "name": conversation.customer.name or str(conversation.contact),
            "bound_clerk": clerks.get(conversation.customer_id),
            "queue_label": QUEUE_LABELS.get(conversation.queue, conversation.queue),
            "status_label": STATUS_LABELS.get(conversation.status, conversation.status),
            "waiting": _waiting_minutes(conversation.waiting_since, now),
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
def inbox(request: HttpRequest) -> HttpResponse:
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


# --- one conversation -----------------------------------------------------------------------------


class ReplyForm(forms.Form):
    text = forms.CharField(
        label=pgettext_lazy("console", "訊息內容"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    canned = forms.ModelChoiceField(
        label=pgettext_lazy("console", "快速回覆"),
        required=False,
        queryset=CannedReply.objects.none(),
        error_messages={"invalid_choice": pgettext_lazy("console", "查無此快速回覆。")},
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["canned"].queryset = inbox_selectors.canned_replies(user)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if not (data.get("text") or "").strip() and not data.get("canned") and "canned" not in self.errors:
            self.add_error("text", pgettext("console", "請輸入訊息內容，或選擇一則快速回覆。"))
        return data


class NoteForm(forms.Form):
    note = forms.CharField(
        label=pgettext_lazy("console", "內部備註"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": pgettext_lazy("console", "請輸入備註內容。")},
    )


class LabelsForm(forms.Form):
    labels = forms.CharField(
        label=pgettext_lazy("console", "標籤"),
        required=False,
        help_text=pgettext_lazy("console", "以逗號分隔，例如：VIP, 退貨"),
    )

    def clean_labels(self) -> list[str]:
        raw = self.cleaned_data.get("labels") or ""
        labels = [label.strip() for label in LABEL_SPLIT.split(raw) if label.strip()]
        too_long = [label for label in labels if len(label) > inbox_services.MAX_LABEL_LENGTH]
        if too_long:
            raise forms.ValidationError(
                pgettext("console", "標籤「%(label)s」超過 %(max)s 個字。")
                % {"label": too_long[0], "max": inbox_services.MAX_LABEL_LENGTH}
            )
        if len(set(labels)) > inbox_services.MAX_LABELS:
            raise forms.ValidationError(
                pgettext("console", "最多 %(max)s 個標籤。") % {"max": inbox_services.MAX_LABELS}
            )
        return labels


class AssignForm(forms.Form):
    """One choice: "hq", "agent:<id>", "store:<id>" or "clerk:<id>", limited to what the user may pick."""

    target = forms.ChoiceField(
        label=pgettext_lazy("console", "指派給"),
        error_messages={
            "invalid_choice": pgettext_lazy("console", "請選擇可指派的對象。"),
            "required": pgettext_lazy("console", "請選擇指派對象。"),
        },
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        staff = User.objects.filter(brand_id=user.brand_id, is_active=True).order_by("username")
        stores = Store.objects.filter(brand_id=user.brand_id, is_active=True)
        if user.role == Role.STORE_MANAGER:
            stores = stores.filter(pk=user.store_id)
            staff = staff.filter(store_id=user.store_id)
        choices: list[Any] = [("hq", pgettext("console", "總部客服（佇列）"))]
        if user.role in (Role.HQ_ADMIN, Role.HQ_AGENT):
            agents = staff.filter(role__in=[Role.HQ_ADMIN, Role.HQ_AGENT])
            choices.append((pgettext("console", "總部客服人員"), [(f"agent:{a.pk}", str(a)) for a in agents]))
        choices.append((pgettext("console", "門市團隊"), [(f"store:{s.pk}", s.name) for s in stores]))
        clerks = staff.filter(role__in=[Role.CLERK, Role.STORE_MANAGER], store__isnull=False)
        choices.append(
            (
                pgettext("console", "店員"),
                [(f"clerk:{c.pk}", f"{c}（{c.store.name}）") for c in clerks.select_related("store")],
            )
        )
        self.fields["target"].choices = choices

    def assignment(self) -> dict[str, Any]:
        kind, _, pk = self.cleaned_data["target"].partition(":")
        if kind == "hq":
            return {"queue": Conversation.Queue.HQ}
        if kind == "agent":
            return {"queue": Conversation.Queue.HQ, "assignee": User.objects.get(pk=pk)}
        if kind == "store":
            return {"queue": Conversation.Queue.STORE, "store": Store.objects.get(pk=pk)}
        return {"queue": Conversation.Queue.CLERK, "assignee": User.objects.get(pk=pk)}


class StatusForm(forms.Form):
    status = forms.ChoiceField(
        choices=list(STATUS_LABELS.items()),
        error_messages={"invalid_choice": pgettext_lazy("console", "狀態只能是處理中或已結案。")},
    )


def _conversation_or_404(user: User, pk: int) -> Conversation:
    conversation = inbox_selectors.get_conversation(user, pk)
    if conversation is None:
        raise Http404("no such conversation")
    return conversation


def _timeline(conversation: Conversation) -> list[dict[str, Any]]:
    messages_ = inbox_selectors.timeline(conversation, limit=TIMELINE_LIMIT)
    people = {
        payload_id
        for m in messages_
        if m.kind == Message.Kind.EVENT
        for payload_id in [(m.payload or {}).get("assignee_id")]
        if payload_id
    }
    names = {u.pk: str(u) for u in User.objects.filter(brand_id=conversation.brand_id, pk__in=people)}
    entries = []
    for message in messages_:
        payload = message.payload or {}
        entries.append(
            {
                "message": message,
                "side": {"in": "in", "out": "out"}.get(message.direction, "internal"),
                "is_note": message.kind == Message.Kind.NOTE,
                "is_event": message.kind == Message.Kind.EVENT,
                "assignee_name": names.get(payload.get("assignee_id")) if message.kind == "event" else "",
                "kind_label": message.get_kind_display(),
                "delivery": DELIVERY_LABELS.get(message.status, message.status)
                if message.direction == Message.Direction.OUTBOUND
                else "",
                "via": SENT_VIA_LABELS.get(message.sent_via, ""),
            }
        )
    return entries


def _canned_choices(user: User, conversation: Conversation) -> list[dict[str, Any]]:
    choices = []
    for canned in inbox_selectors.canned_replies(user).select_related("owner")[:100]:
        try:
            text = inbox_services.render_canned_reply(canned, conversation, user=user)
        except (inbox_services.InboxError, KeyError, IndexError, ValueError):
            continue  # a body saved before its variables were checked: skip it rather than fail the page
        choices.append({"canned": canned, "text": text})
    return choices


def _facts(user: User, conversation: Conversation) -> dict[str, Any]:
    clerk = _bound_clerks(user.brand_id, [conversation.customer_id]).get(conversation.customer_id)
    now = timezone.now()
    return {
        "bound_clerk": clerk,
        "queue_label": QUEUE_LABELS.get(conversation.queue, conversation.queue),
        "status_label": STATUS_LABELS.get(conversation.status, conversation.status),
        "waiting": _waiting_minutes(conversation.waiting_since, now),
        "overdue": conversation.sla_due_at is not None
        and conversation.waiting_since is not None
        and conversation.sla_due_at <= now,
    }


def _render_conversation(
    request: HttpRequest, conversation: Conversation, *, status: int = 200, **form_overrides: forms.Form
) -> HttpResponse:
    user = request.user
    conversation.refresh_from_db()
    forms_ = {
        "reply_form": ReplyForm(user=user),
        "note_form": NoteForm(),
        "labels_form": LabelsForm(initial={"labels": ", ".join(conversation.labels or [])}),
        "assign_form": AssignForm(user=user),
        **form_overrides,
    }
    context = {
        "conversation": conversation,
        "timeline": _timeline(conversation),
        "facts": _facts(user, conversation),
        "canned": _canned_choices(user, conversation),
        "reopen": conversation.status == Conversation.Status.RESOLVED,
        **forms_,
    }
    return render_page(request, "console/inbox/conversation.html", context, status=status)


@console_view()
@never_cache
def conversation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    conversation = _conversation_or_404(user, pk)
    partial = request.GET.get("partial")
    if partial in ("timeline", "facts"):
        if partial == "timeline":
            inbox_services.mark_read(conversation, user=user)
        conversation.refresh_from_db()
        context = {
            "conversation": conversation,
            "timeline": _timeline(conversation),
            "facts": _facts(user, conversation),
        }
        return render(request, f"console/inbox/_{partial}.html", context)
    inbox_services.mark_read(conversation, user=user)
    return _render_conversation(request, conversation)


def _back(conversation: Conversation) -> HttpResponse:
    return redirect("console:inbox_conversation", pk=conversation.pk)


def _conversation_action(
    request: HttpRequest,
    pk: int,
    form: forms.Form,
    *,
    form_name: str,
    field: str,
    action: Callable[[Conversation, dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    """The shape of the simple conversation actions: validate, call the service, say so, go back.

    A refusal by the service (403/404) answers as such; any other service error lands on the form
    field it names (or `field`), and the conversation page is shown again with the form (400).
    """
    conversation = _conversation_or_404(request.user, pk)
    if form.is_valid():
        try:
            action(conversation, form.cleaned_data)
        except inbox_services.InboxError as exc:
            if exc.status in (403, 404):
                return _refused(request, exc)
            _form_error(form, exc, field)
        else:
            messages.success(request, done)
            return _back(conversation)
    return _render_conversation(request, conversation, status=400, **{form_name: form})


def _send_reply(conversation: Conversation, data: dict[str, Any], *, sender: Any) -> None:
    text = (data["text"] or "").strip()
    if text:
        inbox_services.send_text(conversation, text=text, sender=sender)
    else:
        inbox_services.send_canned_reply(conversation, data["canned"], sender=sender)


@console_view()
@require_POST
def conversation_reply(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    return _conversation_action(
        request,
        pk,
        ReplyForm(request.POST, user=user),
        form_name="reply_form",
        field="text",
        action=lambda conversation, data: _send_reply(conversation, data, sender=user),
        done=pgettext("console", "訊息已排入傳送。"),
    )


@console_view()
@require_POST
def conversation_retry(request: HttpRequest, pk: int, message_id: int) -> HttpResponse:
    """Queue a failed outgoing message again (same retry key, so LINE never gets it twice)."""
    conversation = _conversation_or_404(request.user, pk)
    message = Message.objects.filter(
        brand_id=conversation.brand_id, conversation=conversation, pk=message_id
    ).first()
    if message is None:
        raise Http404
    try:
        retry_message(message)
    except OutboundError as exc:
        messages.error(request, exc.message)
        return _back(conversation)
    messages.success(request, pgettext("console", "訊息已重新排入傳送。"))
    return _back(conversation)


@console_view()
@require_POST
def conversation_note(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    return _conversation_action(
        request,
        pk,
        NoteForm(request.POST),
        form_name="note_form",
        field="note",
        action=lambda conversation, data: inbox_services.add_note(
            conversation, text=data["note"], author=user
        ),
        done=pgettext("console", "已新增內部備註。"),
    )


@console_view()
@require_POST
def conversation_labels(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    return _conversation_action(
        request,
        pk,
        LabelsForm(request.POST),
        form_name="labels_form",
        field="labels",
        action=lambda conversation, data: inbox_services.set_labels(conversation, data["labels"], user=user),
        done=pgettext("console", "標籤已更新。"),
    )


@console_view()
@require_POST
def conversation_assign(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    conversation = _conversation_or_404(user, pk)
    form = AssignForm(request.POST, user=user)
    if form.is_valid():
        try:
            changed = inbox_services.assign_by_staff(
                conversation, actor=actor_for(request), **form.assignment()
            )
        except inbox_services.InboxError as exc:
            if exc.status == 403:
                return _refused(request, exc)
            _form_error(form, exc, "target")
        else:
            if changed:
                messages.success(request, pgettext("console", "已重新指派對話。"))
            else:
                messages.info(request, pgettext("console", "指派對象沒有改變。"))
            if inbox_selectors.can_view(user, conversation):
                return _back(conversation)
            return redirect("console:inbox")  # handed outside the user's scope (a store manager to HQ)
    return _render_conversation(request, conversation, status=400, assign_form=form)


@console_view()
@require_POST
def conversation_status(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    conversation = _conversation_or_404(user, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(form.errors.get("status", [])))
        return _render_conversation(request, conversation, status=400)
    try:
        inbox_services.set_conversation_status(conversation, form.cleaned_data["status"], user=user)
    except inbox_services.InboxError as exc:
        return _refused(request, exc)
    if form.cleaned_data["status"] == Conversation.Status.RESOLVED:
        messages.success(request, pgettext("console", "對話已結案。"))
    else:
        messages.success(request, pgettext("console", "對話已重新開啟。"))
    return _back(conversation)


# --- roster ---------------------------------------------------------------------------------------


class ShiftForm(forms.Form):
    staff = forms.ModelChoiceField(
        label=pgettext_lazy("console", "員工"),
        queryset=User.objects.none(),
        error_messages={
            "invalid_choice": pgettext_lazy("console", "查無此員工：只能排本品牌（您管理範圍內）的員工。"),
            "required": pgettext_lazy("console", "請選擇員工。"),
        },
    )
    store = forms.ModelChoiceField(
        label=pgettext_lazy("console", "門市"),
        queryset=Store.objects.none(),
        error_messages={
            "invalid_choice": pgettext_lazy("console", "查無此門市：只能排本品牌（您管理範圍內）的門市。"),
            "required": pgettext_lazy("console", "請選擇門市。"),
        },
    )
    starts_at = forms.DateTimeField(
        label=pgettext_lazy("console", "開始時間"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "required": pgettext_lazy("console", "請填開始時間。"),
            "invalid": pgettext_lazy("console", "開始時間格式不正確。"),
        },
    )
    ends_at = forms.DateTimeField(
        label=pgettext_lazy("console", "結束時間"),
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "required": pgettext_lazy("console", "請填結束時間。"),
            "invalid": pgettext_lazy("console", "結束時間格式不正確。"),
        },
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        staff = User.objects.filter(brand_id=user.brand_id, is_active=True).order_by("username")
        stores = Store.objects.filter(brand_id=user.brand_id, is_active=True)
        if user.role == Role.STORE_MANAGER:
            staff = staff.filter(store_id=user.store_id)
            stores = stores.filter(pk=user.store_id)
        self.fields["staff"].queryset = staff
        self.fields["store"].queryset = stores

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        starts_at, ends_at = data.get("starts_at"), data.get("ends_at")
        if starts_at and ends_at:
            if ends_at <= starts_at:
                self.add_error("ends_at", pgettext("console", "結束時間必須晚於開始時間。"))
            elif ends_at - starts_at > dt.timedelta(hours=24):
                self.add_error("ends_at", pgettext("console", "一個班最長 24 小時。"))
            elif data.get("staff") and staff_roster.overlapping(data["staff"], starts_at, ends_at).exists():
                self.add_error("starts_at", pgettext("console", "與此員工的另一個班別時間重疊。"))
        return data


class ShiftImportForm(forms.Form):
    file = forms.FileField(
        label=pgettext_lazy("console", "CSV 檔案（UTF-8 或 Big5）"),
        error_messages={"required": pgettext_lazy("console", "請選擇要上傳的 CSV 檔案。")},
    )
    mode = forms.ChoiceField(
        label=pgettext_lazy("console", "錯誤處理"),
        choices=[
            ("valid_rows", pgettext_lazy("console", "匯入正確的列，回報錯誤列")),
            ("all_or_nothing", pgettext_lazy("console", "任何一列有錯就全部不匯入")),
        ],
        initial="valid_rows",
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > 2 * 1024 * 1024:
            raise forms.ValidationError(pgettext("console", "班表檔案超過 2 MB。"))
        return upload


def _week_start(request: HttpRequest) -> dt.date:
    today = timezone.localdate()
    try:
        day = dt.date.fromisoformat(request.GET.get("week", ""))
    except ValueError:
        day = today
    return day - dt.timedelta(days=day.weekday())


def _roster_stores(user: User) -> Any:
    stores = Store.objects.filter(brand_id=user.brand_id)
    if user.role == Role.STORE_MANAGER:
        stores = stores.filter(pk=user.store_id)
    return stores


def _render_roster(
    request: HttpRequest,
    *,
    form: ShiftForm | None = None,
    import_form: ShiftImportForm | None = None,
    report: Any = None,
    status: int = 200,
) -> HttpResponse:
    user = request.user
    monday = _week_start(request)
    zone = timezone.get_current_timezone()
    start = dt.datetime.combine(monday, dt.time(0), tzinfo=zone)
    end = start + dt.timedelta(days=7)
    stores = _roster_stores(user)
    store = None
    if request.GET.get("store"):
        store = stores.filter(pk=request.GET["store"]).first() if request.GET["store"].isdigit() else None
    shifts = staff_roster.shifts_between(actor_for(request), start=start, end=end, store=store)
    days = []
    for offset in range(7):
        day = monday + dt.timedelta(days=offset)
        days.append(
            {
                "date": day,
                "shifts": [s for s in shifts if timezone.localtime(s.starts_at).date() == day],
            }
        )
    return render_page(
        request,
        "console/inbox/roster.html",
        {
            "days": days,
            "monday": monday,
            "sunday": monday + dt.timedelta(days=6),
            "previous_week": monday - dt.timedelta(days=7),
            "next_week": monday + dt.timedelta(days=7),
            "stores": stores,
            "selected_store": store,
            "can_edit": user.role in ROSTER_EDITORS,
            "form": form or ShiftForm(user=user),
            "import_form": import_form or ShiftImportForm(),
            "report": report,
            "shift_count": len(shifts),
        },
        status=status,
    )


@console_view()
@never_cache
def roster(request: HttpRequest) -> HttpResponse:
    """The week's shifts; POST adds one (HQ admins anywhere, a store manager in their store)."""
    user = request.user
    if request.method != "POST":
        return _render_roster(request)
    if user.role not in ROSTER_EDITORS:
        return forbidden(request, pgettext("console", "只有總部管理員與店長可以編輯班表。"), show_home=True)
    form = ShiftForm(request.POST, user=user)
    if form.is_valid():
        try:
            shift = staff_roster.create_shift(
                form.cleaned_data["staff"],
                starts_at=form.cleaned_data["starts_at"],
                ends_at=form.cleaned_data["ends_at"],
                store=form.cleaned_data["store"],
                actor=actor_for(request),
            )
        except staff_roster.RosterError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request,
                pgettext("console", "已新增 %(staff)s 的班別。") % {"staff": shift.staff},
            )
            local = timezone.localtime(shift.starts_at).date()
            return redirect(f"{reverse('console:inbox_roster')}?week={local.isoformat()}")
    return _render_roster(request, form=form, status=400)


@console_view()
@require_POST
def shift_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    shift = Shift.objects.filter(brand_id=user.brand_id, pk=pk).select_related("staff", "store").first()
    if shift is None:
        raise Http404("no such shift")
    if user.role not in ROSTER_EDITORS:
        return forbidden(request, pgettext("console", "只有總部管理員與店長可以編輯班表。"), show_home=True)
    try:
        staff_roster.delete_shift(shift, actor=actor_for(request))
    except staff_roster.RosterError as exc:
        return _refused(request, exc)
    messages.success(request, pgettext("console", "已刪除 %(staff)s 的班別。") % {"staff": shift.staff})
    week = timezone.localtime(shift.starts_at).date().isoformat()
    return redirect(f"{reverse('console:inbox_roster')}?week={week}")


@console_view()
@require_POST
def roster_import(request: HttpRequest) -> HttpResponse:
    user = request.user
    if user.role not in ROSTER_EDITORS:
        return forbidden(request, pgettext("console", "只有總部管理員與店長可以編輯班表。"), show_home=True)
    form = ShiftImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _render_roster(request, import_form=form, status=400)
    try:
        report = staff_roster.import_shifts(
            form.cleaned_data["file"].read(),
            actor=actor_for(request),
            all_or_nothing=form.cleaned_data["mode"] == "all_or_nothing",
        )
    except staff_roster.RosterError as exc:
        form.add_error("file", exc.message)
        return _render_roster(request, import_form=form, status=400)
    if report.created:
        messages.success(
            request, pgettext("console", "已匯入 %(count)s 個班別。") % {"count": report.created}
        )
    return _render_roster(request, report=report, import_form=ShiftImportForm(), status=200)


# --- canned replies -------------------------------------------------------------------------------


class CannedForm(forms.Form):
    title = forms.CharField(
        label=pgettext_lazy("console", "標題"),
        max_length=80,
        error_messages={"required": pgettext_lazy("console", "請輸入標題。")},
    )
    shortcut = forms.CharField(label=pgettext_lazy("console", "快捷鍵"), required=False, max_length=30)
    body = forms.CharField(
        label=pgettext_lazy("console", "內容"),
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 5}),
        error_messages={"required": pgettext_lazy("console", "請輸入內容。")},
    )
    scope = forms.ChoiceField(
        label=pgettext_lazy("console", "適用範圍"),
        choices=[
            ("personal", pgettext_lazy("console", "個人（只有我）")),
            ("brand", pgettext_lazy("console", "全品牌")),
        ],
        initial="personal",
        required=False,  # personal unless asked otherwise
    )

    def __init__(self, *args: Any, user: User, editing: CannedReply | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing is not None:
            del self.fields["scope"]  # a reply keeps its owner; delete and recreate to move it
        elif user.role != Role.HQ_ADMIN:
            self.fields["scope"].choices = [self.fields["scope"].choices[0]]


def _canned_or_404(user: User, pk: int) -> CannedReply:
    canned = (
        CannedReply.objects.filter(brand_id=user.brand_id, pk=pk)
        .filter(Q(owner__isnull=True) | Q(owner_id=user.pk))
        .first()
    )
    if canned is None:
        raise Http404("no such canned reply")
    return canned


def _may_manage(user: User, canned: CannedReply) -> bool:
    """Brand-wide replies are the HQ admins'; a personal one is its owner's."""
    return canned.owner_id == user.pk or (canned.owner_id is None and user.role == Role.HQ_ADMIN)


def _brand_wide_refused(request: HttpRequest) -> HttpResponse:
    return forbidden(request, pgettext("console", "全品牌快速回覆由總部管理員管理。"), show_home=True)


def _render_canned(
    request: HttpRequest, form: CannedForm, *, editing: CannedReply | None = None, status: int = 200
) -> HttpResponse:
    user = request.user
    replies = CannedReply.objects.filter(brand_id=user.brand_id)
    return render_page(
        request,
        "console/inbox/canned.html",
        {
            "form": form,
            "editing": editing,
            "brand_wide": replies.filter(owner__isnull=True),
            "personal": replies.filter(owner_id=user.pk),
            "can_manage_brand": user.role == Role.HQ_ADMIN,
            "variables": CANNED_VARIABLE_HELP,
        },
        status=status,
    )


def _save_canned(
    request: HttpRequest, form: CannedForm, *, canned: CannedReply | None
) -> HttpResponse | None:
    """Save through the service; None when the form now carries the errors."""
    user = request.user
    personal = (
        canned.owner_id is not None if canned is not None else form.cleaned_data.get("scope") != "brand"
    )
    try:
        saved = inbox_services.save_canned_reply(
            user,
            title=form.cleaned_data["title"],
            body=form.cleaned_data["body"],
            shortcut=form.cleaned_data["shortcut"],
            personal=personal,
            canned=canned,
        )
    except inbox_services.InboxError as exc:
        if exc.status in (403, 404):
            return _refused(request, exc)
        _form_error(form, exc, "body")
        return None
    messages.success(request, pgettext("console", "已儲存快速回覆「%(title)s」。") % {"title": saved.title})
    return redirect("console:inbox_canned")


@console_view()
@never_cache
def canned_list(request: HttpRequest) -> HttpResponse:
    """Brand-wide replies (HQ admins manage them) and the user's own; POST creates one."""
    user = request.user
    if request.method != "POST":
        return _render_canned(request, CannedForm(user=user))
    form = CannedForm(request.POST, user=user)
    if request.POST.get("scope") == "brand" and user.role != Role.HQ_ADMIN:
        return _brand_wide_refused(request)
    if form.is_valid():
        response = _save_canned(request, form, canned=None)
        if response is not None:
            return response
    return _render_canned(request, form, status=400)


@console_view()
@never_cache
def canned_edit(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    canned = _canned_or_404(user, pk)
    if not _may_manage(user, canned):
        return _brand_wide_refused(request)
    if request.method != "POST":
        initial = {"title": canned.title, "shortcut": canned.shortcut, "body": canned.body}
        return _render_canned(request, CannedForm(user=user, editing=canned, initial=initial), editing=canned)
    form = CannedForm(request.POST, user=user, editing=canned)
    if form.is_valid():
        response = _save_canned(request, form, canned=canned)
        if response is not None:
            return response
    return _render_canned(request, form, editing=canned, status=400)


@console_view()
@require_POST
def canned_delete(request: HttpRequest, pk: int) -> HttpResponse:
    user = request.user
    canned = _canned_or_404(user, pk)
    if not _may_manage(user, canned):
        return _brand_wide_refused(request)
    try:
        inbox_services.delete_canned_reply(canned, user=user)
    except inbox_services.InboxError as exc:
        return _refused(request, exc)
    messages.success(request, pgettext("console", "已刪除快速回覆「%(title)s」。") % {"title": canned.title})
    return redirect("console:inbox_canned")
