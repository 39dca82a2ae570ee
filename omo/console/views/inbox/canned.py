"""Canned replies: the list, adding, editing and deleting; brand-wide ones are HQ's to manage."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from omo.console.access import ConsoleRequest, console_view, forbidden
from omo.console.pages import render_page
from omo.console.views.inbox.common import form_error, refused
from omo.inbox import services as inbox_services
from omo.inbox.models import CannedReply
from omo.staff.models import User
from omo.staff.roles import Role

if TYPE_CHECKING:
    from omo.staff.requests import BrandStaff

CANNED_VARIABLE_HELP = (
    ("customer_name", pgettext_lazy("console", "顧客姓名（無姓名時為聊天暱稱）")),
    ("clerk_name", pgettext_lazy("console", "綁定店員的名稱；未綁定時為發送者")),
    ("store_name", pgettext_lazy("console", "該店員所屬門市；否則為對話所屬門市")),
)


SCOPE_CHOICES = [
    ("personal", pgettext_lazy("console", "個人（只有我）")),
    ("brand", pgettext_lazy("console", "全品牌")),
]


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
        choices=SCOPE_CHOICES,
        initial="personal",
        required=False,  # personal unless asked otherwise
    )

    def __init__(self, *args: Any, user: User, editing: CannedReply | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if editing is not None:
            del self.fields["scope"]  # a reply keeps its owner; delete and recreate to move it
        elif user.role != Role.HQ_ADMIN:
            cast("forms.ChoiceField", self.fields["scope"]).choices = SCOPE_CHOICES[:1]  # personal only


def _canned_or_404(user: BrandStaff, pk: int) -> CannedReply:
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


def _brand_wide_refused(request: ConsoleRequest) -> HttpResponse:
    return forbidden(request, pgettext("console", "全品牌快速回覆由總部管理員管理。"), show_home=True)


def _render_canned(
    request: ConsoleRequest, form: CannedForm, *, editing: CannedReply | None = None, status: int = 200
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
    request: ConsoleRequest, form: CannedForm, *, canned: CannedReply | None
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
            return refused(request, exc)
        form_error(form, exc, "body")
        return None
    messages.success(request, pgettext("console", "已儲存快速回覆「%(title)s」。") % {"title": saved.title})
    return redirect("console:inbox_canned")


@console_view()
@never_cache
def canned_list(request: ConsoleRequest) -> HttpResponse:
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
def canned_edit(request: ConsoleRequest, pk: int) -> HttpResponse:
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
def canned_delete(request: ConsoleRequest, pk: int) -> HttpResponse:
    user = request.user
    canned = _canned_or_404(user, pk)
    if not _may_manage(user, canned):
        return _brand_wide_refused(request)
    try:
        inbox_services.delete_canned_reply(canned, user=user)
    except inbox_services.InboxError as exc:
        return refused(request, exc)
    messages.success(request, pgettext("console", "已刪除快速回覆「%(title)s」。") % {"title": canned.title})
    return redirect("console:inbox_canned")
