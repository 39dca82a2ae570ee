"""One conversation: its timeline and facts, and the actions on it (reply, retry, note, labels,
assignment, status), each through one omo.inbox.services verb.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NotRequired, TypedDict, cast

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import render_page
from omo.console.views.inbox.common import (
    QUEUE_LABELS,
    STATUS_LABELS,
    bound_clerks,
    form_error,
    refused,
    waiting_minutes,
)
from omo.inbox import event_words
from omo.inbox import selectors as inbox_selectors
from omo.inbox import services as inbox_services
from omo.inbox.models import CannedReply, Conversation, Message
from omo.inbox.outbound import OutboundError, retry_message
from omo.staff.models import Store, User
from omo.staff.roles import Role

if TYPE_CHECKING:
    from django_stubs_ext import StrPromise

    from omo.staff.requests import BrandStaff

TIMELINE_LIMIT = 300


LABEL_SPLIT = re.compile(r"[,，、\n]")


DELIVERY_LABELS: dict[str, StrPromise] = {
    Message.Status.RECEIVED: pgettext_lazy("console", "已收到"),
    Message.Status.QUEUED: pgettext_lazy("console", "傳送中"),
    Message.Status.SENT: pgettext_lazy("console", "已送出"),
    Message.Status.FAILED: pgettext_lazy("console", "傳送失敗"),
}
SENT_VIA_LABELS: dict[str, StrPromise] = {
    Message.SentVia.REPLY: pgettext_lazy("console", "回覆訊息（免費）"),
    Message.SentVia.PUSH: pgettext_lazy("console", "推播訊息（計費）"),
}


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
        cast(
            "forms.ModelChoiceField[CannedReply]", self.fields["canned"]
        ).queryset = inbox_selectors.canned_replies(user)

    def clean(self) -> dict[str, Any]:
        super().clean()
        data = self.cleaned_data
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


class Assignment(TypedDict):
    """Where a conversation goes, as omo.inbox.services.assign_by_staff takes it."""

    queue: str
    assignee: NotRequired[User]
    store: NotRequired[Store]


class AssignForm(forms.Form):
    """One choice: "hq", "agent:<id>", "store:<id>" or "clerk:<id>", limited to what the user may pick."""

    target = forms.ChoiceField(
        label=pgettext_lazy("console", "指派給"),
        error_messages={
            "invalid_choice": pgettext_lazy("console", "請選擇可指派的對象。"),
            "required": pgettext_lazy("console", "請選擇指派對象。"),
        },
    )

    def __init__(self, *args: Any, user: BrandStaff, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        staff = User.objects.filter(brand_id=user.brand_id, is_active=True).order_by("username")
        stores = Store.objects.filter(brand_id=user.brand_id, is_active=True)
        if user.role == Role.STORE_MANAGER:
            assert user.store_id is not None  # console_view turns store managers without a store away
            stores = stores.filter(pk=user.store_id)
            staff = staff.filter(store_id=user.store_id)
        choices: list[Any] = [("hq", pgettext("console", "總部客服（佇列）"))]
        if user.role in (Role.HQ_ADMIN, Role.HQ_AGENT):
            agents = staff.filter(role__in=[Role.HQ_ADMIN, Role.HQ_AGENT])
            choices.append((pgettext("console", "總部客服人員"), [(f"agent:{a.pk}", str(a)) for a in agents]))
        choices.append((pgettext("console", "門市團隊"), [(f"store:{s.pk}", s.name) for s in stores]))
        clerks = staff.filter(role__in=[Role.CLERK, Role.STORE_MANAGER], store__isnull=False)
        clerk_choices = []
        for clerk in clerks.select_related("store"):
            assert clerk.store is not None  # only clerks with a store were read
            clerk_choices.append((f"clerk:{clerk.pk}", f"{clerk}（{clerk.store.name}）"))
        choices.append((pgettext("console", "店員"), clerk_choices))
        cast("forms.ChoiceField", self.fields["target"]).choices = choices

    def assignment(self) -> Assignment:
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
    names = event_words.EventNames(messages_)
    entries = []
    for message in messages_:
        payload = message.payload or {}
        assignee_id = payload.get("assignee_id")
        entries.append(
            {
                "message": message,
                "side": {"in": "in", "out": "out"}.get(message.direction, "internal"),
                "is_note": message.kind == Message.Kind.NOTE,
                "is_event": message.kind == Message.Kind.EVENT,
                "assignee_name": (names.people.get(assignee_id) if assignee_id is not None else None)
                if message.kind == "event"
                else "",
                "event_text": event_words.event_sentence(message, names)
                if message.kind == Message.Kind.EVENT
                else "",
                "kind_label": message.get_kind_display(),
                "delivery": DELIVERY_LABELS.get(message.status, message.status)
                if message.direction == Message.Direction.OUTBOUND
                else "",
                "via": SENT_VIA_LABELS.get(message.sent_via, ""),
                "cards": inbox_selectors.product_cards(message),
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


def _facts(user: BrandStaff, conversation: Conversation) -> dict[str, Any]:
    clerk = bound_clerks(user.brand_id, [conversation.customer_id]).get(conversation.customer_id)
    now = timezone.now()
    return {
        "bound_clerk": clerk,
        "queue_label": QUEUE_LABELS.get(conversation.queue, conversation.queue),
        "status_label": STATUS_LABELS.get(conversation.status, conversation.status),
        "waiting": waiting_minutes(conversation.waiting_since, now),
        "overdue": conversation.sla_due_at is not None
        and conversation.waiting_since is not None
        and conversation.sla_due_at <= now,
    }


def _render_conversation(
    request: ConsoleRequest, conversation: Conversation, *, status: int = 200, **form_overrides: forms.Form
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
def conversation_detail(request: ConsoleRequest, pk: int) -> HttpResponse:
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
    request: ConsoleRequest,
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
                return refused(request, exc)
            form_error(form, exc, field)
        else:
            messages.success(request, done)
            return _back(conversation)
    return _render_conversation(request, conversation, status=400, **{form_name: form})


def _send_reply(conversation: Conversation, data: dict[str, Any], *, sender: User) -> None:
    text = (data["text"] or "").strip()
    if text:
        inbox_services.send_text(conversation, text=text, sender=sender)
    else:
        inbox_services.send_canned_reply(conversation, data["canned"], sender=sender)


@console_view()
@require_POST
def conversation_reply(request: ConsoleRequest, pk: int) -> HttpResponse:
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
def conversation_retry(request: ConsoleRequest, pk: int, message_id: int) -> HttpResponse:
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
def conversation_note(request: ConsoleRequest, pk: int) -> HttpResponse:
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
def conversation_labels(request: ConsoleRequest, pk: int) -> HttpResponse:
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
def conversation_assign(request: ConsoleRequest, pk: int) -> HttpResponse:
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
                return refused(request, exc)
            form_error(form, exc, "target")
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
def conversation_status(request: ConsoleRequest, pk: int) -> HttpResponse:
    user = request.user
    conversation = _conversation_or_404(user, pk)
    form = StatusForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(str(error) for error in form.errors.get("status", [])))
        return _render_conversation(request, conversation, status=400)
    try:
        inbox_services.set_conversation_status(conversation, form.cleaned_data["status"], user=user)
    except inbox_services.InboxError as exc:
        return refused(request, exc)
    if form.cleaned_data["status"] == Conversation.Status.RESOLVED:
        messages.success(request, pgettext("console", "對話已結案。"))
    else:
        messages.success(request, pgettext("console", "對話已重新開啟。"))
    return _back(conversation)
