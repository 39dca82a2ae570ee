"""Settings → Webhooks: a brand's outgoing webhook endpoints and their delivery log (HQ admin only).

Managing endpoints hands out signing secrets to outside systems, which is the same trust as making
an API key, so these pages require `apikeys.manage` (HQ admin) and brand-wide scope. Endpoints and
deliveries are read through omo.outgoing_webhooks.selectors by the user's brand: another brand's id is a
404. Every change is one omo.outgoing_webhooks.services verb, which audits it; a WebhookError becomes an
error on the form field it names.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import paginate, render_page
from omo.outgoing_webhooks import selectors, services
from omo.outgoing_webhooks.models import WebhookDelivery, WebhookEndpoint
from omo.outgoing_webhooks.services import WebhookError
from omo.outgoing_webhooks.topics import topic_choices

PERMISSION = "apikeys.manage"
STATUS_BADGES = {
    WebhookDelivery.Status.PENDING: "badge-warn",
    WebhookDelivery.Status.SENDING: "badge-primary",
    WebhookDelivery.Status.DELIVERED: "badge-ok",
    WebhookDelivery.Status.FAILED: "badge-danger",
}


class EndpointForm(forms.Form):
    url = forms.CharField(
        label=pgettext_lazy("webhooks", "接收網址"),
        max_length=services.MAX_URL,
        help_text=pgettext_lazy("webhooks", "必須是 https:// 網址，例如 https://erp.example.com/hooks/omo。"),
        widget=forms.URLInput(attrs={"placeholder": "https://"}),
        error_messages={"required": pgettext_lazy("webhooks", "請輸入網址。")},
    )
    description = forms.CharField(
        label=pgettext_lazy("webhooks", "說明"),
        max_length=services.MAX_DESCRIPTION,
        required=False,
        help_text=pgettext_lazy("webhooks", "例如：ERP 業績同步、CRM 顧客合併"),
    )
    topics = forms.MultipleChoiceField(
        label=pgettext_lazy("webhooks", "訂閱事件"),
        choices=topic_choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": pgettext_lazy("webhooks", "請至少選擇一種事件。")},
    )

    def clean_url(self) -> str:
        try:
            return services.validate_url(self.cleaned_data["url"])
        except WebhookError as exc:
            raise forms.ValidationError(exc.message) from exc

    def clean_description(self) -> str:
        return (self.cleaned_data.get("description") or "").strip()


def _endpoint(request: ConsoleRequest, pk: int) -> WebhookEndpoint:
    endpoint = selectors.endpoint(request.user.brand_id, pk)
    if endpoint is None:
        raise Http404
    return endpoint


def _apply(form: forms.Form, error: WebhookError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


def _secret_page(
    request: ConsoleRequest, endpoint: WebhookEndpoint, secret: str, *, rotated: bool
) -> HttpResponse:
    return render_page(
        request,
        "console/settings/webhook_secret.html",
        {"endpoint": endpoint, "secret": secret, "rotated": rotated},
    )


@console_view(PERMISSION, brand_wide=True)
def webhook_list(request: ConsoleRequest) -> HttpResponse:
    return render_page(
        request,
        "console/settings/webhooks.html",
        {"endpoints": list(selectors.endpoints_for(request.user.brand_id)), "topics": dict(topic_choices())},
    )


@console_view(PERMISSION, brand_wide=True)
@never_cache
def webhook_create(request: ConsoleRequest) -> HttpResponse:
    """On success the signing secret is rendered into this one response; afterwards only its hint."""
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            endpoint, secret = services.create_endpoint(
                request.user.brand,
                url=form.cleaned_data["url"],
                description=form.cleaned_data["description"],
                topics=form.cleaned_data["topics"],
                actor=actor_for(request),
            )
        except WebhookError as exc:
            _apply(form, exc)
        else:
            return _secret_page(request, endpoint, secret, rotated=False)
    return render_page(
        request, "console/settings/webhook_form.html", {"form": form}, status=400 if form.errors else 200
    )


@console_view(PERMISSION, brand_wide=True)
def webhook_detail(request: ConsoleRequest, pk: int) -> HttpResponse:
    """The endpoint, its settings form (POST saves) and its delivery log."""
    endpoint = _endpoint(request, pk)
    initial = {"url": endpoint.url, "description": endpoint.description, "topics": endpoint.topics}
    form = EndpointForm(request.POST or None, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.update_endpoint(
                    endpoint,
                    url=form.cleaned_data["url"],
                    description=form.cleaned_data["description"],
                    topics=form.cleaned_data["topics"],
                    actor=actor_for(request),
                )
            except WebhookError as exc:
                _apply(form, exc)
            else:
                messages.success(request, pgettext("webhooks", "已儲存 Webhook 設定。"))
                return redirect("console:webhook_detail", pk=endpoint.pk)
        status = 400
    status_filter = request.GET.get("status", "")
    page = paginate(request, selectors.deliveries_of(endpoint, status_filter))
    for row in page.object_list:
        row.badge = STATUS_BADGES.get(row.status, "badge-muted")
    return render_page(
        request,
        "console/settings/webhook_detail.html",
        {
            "endpoint": endpoint,
            "form": form,
            "page": page,
            "status_filter": status_filter,
            "statuses": WebhookDelivery.Status.choices,
            "topics": dict(topic_choices()),
        },
        status=status,
    )


def _act(request: ConsoleRequest, pk: int, verb: Any, done: str) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    try:
        verb(endpoint, actor=actor_for(request))
    except WebhookError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done)
    return redirect("console:webhook_detail", pk=endpoint.pk)


@console_view(PERMISSION, brand_wide=True)
@require_POST
def webhook_pause(request: ConsoleRequest, pk: int) -> HttpResponse:
    return _act(
        request,
        pk,
        services.pause_endpoint,
        pgettext("webhooks", "已暫停；新事件不會傳送，等待中的事件會保留。"),
    )


@console_view(PERMISSION, brand_wide=True)
@require_POST
def webhook_resume(request: ConsoleRequest, pk: int) -> HttpResponse:
    return _act(
        request, pk, services.resume_endpoint, pgettext("webhooks", "已恢復；等待中的事件將立即傳送。")
    )


@console_view(PERMISSION, brand_wide=True)
@require_POST
def webhook_test(request: ConsoleRequest, pk: int) -> HttpResponse:
    return _act(
        request, pk, services.send_test_event, pgettext("webhooks", "已送出測試事件，結果請見下方傳送紀錄。")
    )


@console_view(PERMISSION, brand_wide=True)
@require_POST
def webhook_delete(request: ConsoleRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    services.delete_endpoint(endpoint, actor=actor_for(request))
    messages.success(request, pgettext("webhooks", "已刪除 Webhook「%(url)s」。") % {"url": endpoint.url})
    return redirect("console:webhooks")


@console_view(PERMISSION, brand_wide=True)
@require_POST
@never_cache
def webhook_rotate(request: ConsoleRequest, pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    secret = services.rotate_secret(endpoint, actor=actor_for(request))
    return _secret_page(request, endpoint, secret, rotated=True)


@console_view(PERMISSION, brand_wide=True)
def webhook_delivery(request: ConsoleRequest, pk: int, delivery_pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    row = selectors.delivery(request.user.brand_id, delivery_pk)
    if row is None or row.endpoint_id != endpoint.pk:
        raise Http404
    return render_page(
        request,
        "console/settings/webhook_delivery.html",
        {"endpoint": endpoint, "delivery": row},
    )


@console_view(PERMISSION, brand_wide=True)
@require_POST
def webhook_redeliver(request: ConsoleRequest, pk: int, delivery_pk: int) -> HttpResponse:
    endpoint = _endpoint(request, pk)
    row = selectors.delivery(request.user.brand_id, delivery_pk)
    if row is None or row.endpoint_id != endpoint.pk:
        raise Http404
    try:
        services.redeliver(row, actor=actor_for(request))
    except WebhookError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, pgettext("webhooks", "已重新排入傳送：%(id)s") % {"id": row.event_id})
    return redirect("console:webhook_detail", pk=endpoint.pk)
