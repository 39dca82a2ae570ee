"""Settings → 平台帳號: connect the brand's LINE official account, and manage it (rotate the channel
secret and access token, name, LINE Login / LIFF ids, message plan, set the webhook again,
disconnect / reconnect), with the last webhook received and its outcome (HQ admin only).

An inbox holds the channel secret and token, the same trust as an API key: every page needs
`apikeys.manage` and brand-wide scope, and rows come from omo.inbox.selectors.visible_inboxes, so
another brand's id is a 404.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import render_page
from omo.core.errors import DomainError
from omo.inbox import selectors as inbox_selectors
from omo.inbox.models import Inbox, Platform
from omo.platforms import quarantine
from omo.platforms.line import connect
from omo.platforms.line.connect import ConnectResult

PERMISSION = "apikeys.manage"
OUTCOME_BADGES = {
    "processed": ("badge-ok", pgettext_lazy("platform accounts", "已處理")),
    "pending": ("badge-warn", pgettext_lazy("platform accounts", "處理中")),
    "failed": ("badge-danger", pgettext_lazy("platform accounts", "處理失敗")),
    "signature_failed": ("badge-danger", pgettext_lazy("platform accounts", "簽章驗證失敗")),
    "none": ("badge-muted", pgettext_lazy("platform accounts", "尚未收到")),
}


def _plan_price(minor: int) -> str:
    return f"{minor / 100:.2f}".rstrip("0").rstrip(".") if minor else "0"


class SettingsForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("platform accounts", "名稱"), max_length=120, required=False)
    login_channel_id = forms.CharField(
        label=pgettext_lazy("platform accounts", "LINE Login 頻道 ID"),
        max_length=20,
        required=False,
        help_text=pgettext_lazy(
            "platform accounts", "用於店員綁定（LIFF）。LINE Developers 中 LINE Login 頻道的 Channel ID。"
        ),
    )
    liff_id = forms.CharField(
        label=pgettext_lazy("platform accounts", "LIFF ID"),
        max_length=40,
        required=False,
        help_text=pgettext_lazy("platform accounts", "例如 1234567890-AbCdEfGh；留白表示以預填訊息綁定。"),
    )
    plan_included = forms.CharField(
        label=pgettext_lazy("platform accounts", "每月方案內訊息則數"),
        max_length=10,
        initial="200",
        help_text=pgettext_lazy(
            "platform accounts", "LINE 台灣方案：輕用量 200、中用量 3,000、高用量 6,000。"
        ),
    )
    plan_extra_price = forms.CharField(
        label=pgettext_lazy("platform accounts", "超額每則費用（NT$）"),
        max_length=10,
        initial="0",
        help_text=pgettext_lazy("platform accounts", "例如 0.2；成本估算用。"),
    )


class ConnectForm(SettingsForm):
    channel_id = forms.CharField(
        label=pgettext_lazy("platform accounts", "Channel ID"),
        max_length=20,
        help_text=pgettext_lazy(
            "platform accounts", "LINE Developers → Messaging API 頻道 → Basic settings。"
        ),
    )
    channel_secret = forms.CharField(
        label=pgettext_lazy("platform accounts", "Channel secret"),
        max_length=64,
        widget=forms.PasswordInput(render_value=False),
        help_text=pgettext_lazy(
            "platform accounts",
            "32 個十六進位字元（Basic settings）。LINE 無法驗證此值：若填錯，Webhook 會顯示「簽章驗證失敗」。",
        ),
    )
    access_token = forms.CharField(
        label=pgettext_lazy("platform accounts", "Channel access token"),
        max_length=1000,
        widget=forms.PasswordInput(render_value=False),
        help_text=pgettext_lazy(
            "platform accounts", "Messaging API 分頁的長期 Channel access token；儲存前會向 LINE 驗證。"
        ),
    )
    field_order = ["channel_id", "channel_secret", "access_token", "name", "login_channel_id", "liff_id"]


class RotateForm(forms.Form):
    channel_secret = forms.CharField(
        label=pgettext_lazy("platform accounts", "新的 Channel secret"),
        max_length=64,
        required=False,
        widget=forms.PasswordInput(render_value=False),
    )
    access_token = forms.CharField(
        label=pgettext_lazy("platform accounts", "新的 Channel access token"),
        max_length=1000,
        required=False,
        widget=forms.PasswordInput(render_value=False),
        help_text=pgettext_lazy("platform accounts", "留白表示沿用；新的權杖儲存前會向 LINE 驗證。"),
    )


def _inbox(request: ConsoleRequest, pk: int) -> Inbox:
    inbox = inbox_selectors.visible_inboxes(actor_for(request)).filter(pk=pk).first()
    if inbox is None:
        raise Http404
    return inbox


def _line_inbox(request: ConsoleRequest, pk: int) -> Inbox:
    inbox = _inbox(request, pk)
    if inbox.platform != Platform.LINE:
        raise Http404
    return inbox


def _apply(form: forms.Form, error: DomainError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _report(request: ConsoleRequest, result: ConnectResult) -> None:
    """What happened to the webhook URL, in words."""
    if not connect.public_url_is_https():
        messages.warning(
            request,
            pgettext(
                "platform accounts",
                "本系統的公開網址不是 HTTPS，而 LINE 只接受 HTTPS 的 Webhook 網址，所以沒有自動設定。"
                "請改用 HTTPS（OMO_BASE_URL）後按「設定並測試 Webhook」，或把下方網址貼到 LINE Developers 的 Webhook URL。",
            ),
        )
    elif result.webhook_error:
        messages.error(
            request,
            pgettext("platform accounts", "無法在 LINE 設定 Webhook 網址：%(error)s")
            % {"error": result.webhook_error},
        )
    elif result.webhook_test is not None and result.webhook_test.success:
        messages.success(
            request, pgettext("platform accounts", "已在 LINE 設定 Webhook 網址，LINE 的連線測試成功。")
        )
    elif result.webhook_test is not None:
        test = result.webhook_test
        messages.error(
            request,
            pgettext(
                "platform accounts",
                "已在 LINE 設定 Webhook 網址，但 LINE 的連線測試失敗（狀態碼 %(status)s，%(reason)s %(detail)s）。",
            )
            % {"status": test.status_code, "reason": test.reason, "detail": test.detail},
        )


@console_view(PERMISSION, brand_wide=True)
def account_list(request: ConsoleRequest) -> HttpResponse:
    inboxes = list(inbox_selectors.visible_inboxes(actor_for(request)))
    for inbox in inboxes:
        inbox.webhook_url = connect.webhook_url(inbox)  # type: ignore[attr-defined]  # for the template
        last = inbox_selectors.last_webhook(inbox)
        inbox.last = last  # type: ignore[attr-defined]
        inbox.badge = OUTCOME_BADGES[last.outcome]  # type: ignore[attr-defined]
    return render_page(request, "console/platform_accounts/list.html", {"inboxes": inboxes})


@console_view(PERMISSION, brand_wide=True)
@never_cache
def account_create(request: ConsoleRequest) -> HttpResponse:
    form = ConnectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = connect.connect_line(request.user.brand, actor=actor_for(request), **form.cleaned_data)
        except DomainError as exc:
            _apply(form, exc)
        else:
            messages.success(
                request,
                pgettext("platform accounts", "已連線 LINE 官方帳號 %(name)s（%(basic_id)s）。")
                % {"name": result.bot.display_name, "basic_id": result.bot.basic_id},
            )
            _report(request, result)
            return redirect("console:platform_account_detail", pk=result.inbox.pk)
    return render_page(
        request, "console/platform_accounts/form.html", {"form": form}, status=400 if form.errors else 200
    )


@console_view(PERMISSION, brand_wide=True)
@never_cache
def account_detail(request: ConsoleRequest, pk: int) -> HttpResponse:
    inbox = _inbox(request, pk)
    config = inbox.config or {}
    plan = {**connect.DEFAULT_PLAN, **(config.get("plan") or {})}
    initial = {
        "name": inbox.name,
        "login_channel_id": config.get("login_channel_id", ""),
        "liff_id": config.get("liff_id", ""),
        "plan_included": str(plan["included"]),
        "plan_extra_price": _plan_price(int(plan["extra_price"])),
    }
    form = SettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and inbox.platform == Platform.LINE and form.is_valid():
        try:
            connect.update_settings(inbox, actor=actor_for(request), **form.cleaned_data)
        except DomainError as exc:
            _apply(form, exc)
        else:
            messages.success(request, pgettext("platform accounts", "已儲存設定。"))
            return redirect("console:platform_account_detail", pk=inbox.pk)
    return _render_detail(request, inbox, form=form, rotate=RotateForm())


def _render_detail(
    request: ConsoleRequest, inbox: Inbox, *, form: forms.Form, rotate: forms.Form
) -> HttpResponse:
    last = inbox_selectors.last_webhook(inbox)
    token = (inbox.secrets or {}).get("access_token", "")
    quarantined_total, quarantined = quarantine.listing(inbox)
    return render_page(
        request,
        "console/platform_accounts/detail.html",
        {
            "inbox": inbox,
            "form": form,
            "rotate": rotate,
            "webhook_url": connect.webhook_url(inbox),
            "https": connect.public_url_is_https(),
            "base_url": settings.BASE_URL,
            "last": last,
            "badge": OUTCOME_BADGES[last.outcome],
            "secret_set": bool((inbox.secrets or {}).get("channel_secret")),
            "token_last4": token[-4:] if len(token) >= 8 else "",
            "is_line": inbox.platform == Platform.LINE,
            "quarantined": quarantined,
            "quarantined_total": quarantined_total,
        },
        status=400 if form.errors or rotate.errors else 200,
    )


@console_view(PERMISSION, brand_wide=True)
@require_POST
def account_rotate(request: ConsoleRequest, pk: int) -> HttpResponse:
    inbox = _line_inbox(request, pk)
    rotate = RotateForm(request.POST)
    if rotate.is_valid():
        try:
            connect.rotate_credentials(inbox, actor=actor_for(request), **rotate.cleaned_data)
        except DomainError as exc:
            _apply(rotate, exc)
        else:
            messages.success(request, pgettext("platform accounts", "已更新金鑰。"))
            return redirect("console:platform_account_detail", pk=inbox.pk)
    return _render_detail(request, inbox, form=SettingsForm(initial={"name": inbox.name}), rotate=rotate)


@console_view(PERMISSION, brand_wide=True)
@require_POST
def account_webhook(request: ConsoleRequest, pk: int) -> HttpResponse:
    inbox = _line_inbox(request, pk)
    if not inbox.is_active:
        messages.error(request, pgettext("platform accounts", "此帳號已中斷連線，請先重新連線。"))
    else:
        _report(request, connect.set_webhook(inbox, actor=actor_for(request)))
    return redirect("console:platform_account_detail", pk=inbox.pk)


@console_view(PERMISSION, brand_wide=True)
@require_POST
def account_disconnect(request: ConsoleRequest, pk: int) -> HttpResponse:
    inbox = _line_inbox(request, pk)
    connect.disconnect(inbox, actor=actor_for(request))
    messages.success(
        request,
        pgettext(
            "platform accounts", "已中斷連線。對話紀錄都保留；之後 LINE 送來的 Webhook 會被拒絕（404）。"
        ),
    )
    return redirect("console:platform_account_detail", pk=inbox.pk)


@console_view(PERMISSION, brand_wide=True)
@require_POST
def account_reconnect(request: ConsoleRequest, pk: int) -> HttpResponse:
    inbox = _line_inbox(request, pk)
    try:
        connect.reconnect(inbox, actor=actor_for(request))
    except DomainError as exc:
        messages.error(
            request, pgettext("platform accounts", "無法重新連線：%(error)s") % {"error": exc.message}
        )
    else:
        messages.success(request, pgettext("platform accounts", "已重新連線。"))
    return redirect("console:platform_account_detail", pk=inbox.pk)


@console_view(PERMISSION, brand_wide=True)
@require_POST
def account_quarantine(request: ConsoleRequest, pk: int, kind: str, row_id: int, action: str) -> HttpResponse:
    """Retry or discard one webhook request or event that could not be processed."""
    inbox = _inbox(request, pk)
    if kind not in quarantine.KINDS or action not in ("retry", "discard"):
        raise Http404
    try:
        if action == "retry":
            quarantine.retry(inbox, kind, row_id, actor=actor_for(request))
            messages.success(request, pgettext("platform accounts", "已重新排入處理。"))
        else:
            quarantine.discard(inbox, kind, row_id, actor=actor_for(request))
            messages.success(request, pgettext("platform accounts", "已捨棄。"))
    except DomainError:
        messages.error(
            request, pgettext("platform accounts", "找不到這筆無法處理的 Webhook，可能已重試或捨棄。")
        )
    return redirect("console:platform_account_detail", pk=inbox.pk)
