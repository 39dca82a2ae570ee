"""Settings → Shopify: connect a store, see the webhook URL to paste into Shopify, sync products,
follow incoming webhooks and the privacy requests Shopify forwards (HQ admin only).

A connection holds the store's Admin API token and webhook secret, the same trust as an API key, so
every page needs `apikeys.manage` and brand-wide scope. Rows are read through
omo.connectors.shopify.selectors by the user's brand: another brand's id is a 404.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from omo.commerce.models import SalesChannel
from omo.connectors.models import (
    DEFAULT_API_VERSION,
    DEFAULT_SYNC_INTERVAL_HOURS,
    MAX_SYNC_INTERVAL_HOURS,
    PrivacyRequest,
    ShopifyConnection,
    ShopifyWebhook,
)
from omo.connectors.shopify import connections as shopify_connections
from omo.connectors.shopify import processing, products, selectors, webhooks
from omo.connectors.shopify.connections import ShopifySettingsError
from omo.connectors.shopify.privacy import resolve_privacy_request
from omo.connectors.shopify.products import SyncRefused
from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import paginate, render_page

PERMISSION = "apikeys.manage"
STATUS_BADGES = {
    ShopifyWebhook.Status.PENDING: "badge-warn",
    ShopifyWebhook.Status.WAITING: "badge-warn",
    ShopifyWebhook.Status.PROCESSED: "badge-ok",
    ShopifyWebhook.Status.IGNORED: "badge-muted",
    ShopifyWebhook.Status.FAILED: "badge-danger",
}


class ConnectionForm(forms.Form):
    name = forms.CharField(
        label=pgettext_lazy("shopify", "名稱"),
        max_length=120,
        help_text=pgettext_lazy("shopify", "例如：官方網店"),
    )
    shop_domain = forms.CharField(
        label=pgettext_lazy("shopify", "商店網域"),
        max_length=255,
        help_text=pgettext_lazy("shopify", "Shopify 後台網址中的 xxx.myshopify.com"),
        widget=forms.TextInput(attrs={"placeholder": "herb.myshopify.com"}),
    )
    access_token = forms.CharField(
        label=pgettext_lazy("shopify", "Admin API 存取權杖"),
        max_length=300,
        required=False,
        help_text=pgettext_lazy(
            "shopify",
            "自訂應用程式的 Admin API access token（shpat_…），需 read_products、read_orders、read_customers 權限。",
        ),
        widget=forms.PasswordInput(render_value=False),
    )
    webhook_secret = forms.CharField(
        label=pgettext_lazy("shopify", "Webhook 簽章金鑰"),
        max_length=300,
        required=False,
        help_text=pgettext_lazy(
            "shopify", "應用程式的 API 密鑰（client secret），用來驗證 X-Shopify-Hmac-Sha256。"
        ),
        widget=forms.PasswordInput(render_value=False),
    )
    api_version = forms.CharField(
        label=pgettext_lazy("shopify", "API 版本"),
        max_length=10,
        initial=DEFAULT_API_VERSION,
        help_text=pgettext_lazy("shopify", "每季一版：YYYY-01、04、07、10"),
    )
    sales_channel = forms.ChoiceField(
        label=pgettext_lazy("shopify", "訂單銷售通路"),
        choices=SalesChannel.choices,
        initial=SalesChannel.EXTERNAL_WEB,
    )
    api_base = forms.CharField(
        label=pgettext_lazy("shopify", "API 位址（選填）"),
        max_length=300,
        required=False,
        help_text=pgettext_lazy("shopify", "留白即使用 https://商店網域；僅測試或代理伺服器需要填寫。"),
    )
    sync_interval_hours = forms.IntegerField(
        label=pgettext_lazy("shopify", "自動同步商品間隔（小時）"),
        min_value=0,
        max_value=MAX_SYNC_INTERVAL_HOURS,
        initial=DEFAULT_SYNC_INTERVAL_HOURS,
        required=False,
        help_text=pgettext_lazy("shopify", "每隔幾小時自動重新同步商品；0 表示只在按下「同步商品」時同步。"),
    )
    is_active = forms.BooleanField(label=pgettext_lazy("shopify", "啟用"), required=False, initial=True)

    def __init__(self, *args, creating: bool, uninstalled: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if creating:
            self.fields["access_token"].required = True
            self.fields["webhook_secret"].required = True
            del self.fields["is_active"]
        else:
            keep = pgettext_lazy("shopify", "留白表示沿用已儲存的值。")
            self.fields["access_token"].help_text = keep
            self.fields["webhook_secret"].help_text = keep
        if uninstalled:
            self.fields["access_token"].help_text = pgettext_lazy(
                "shopify", "應用程式已從商店解除安裝。請在 Shopify 重新安裝後，貼上新的存取權杖以重新啟用。"
            )

    def clean_sync_interval_hours(self) -> int:
        hours = self.cleaned_data.get("sync_interval_hours")
        # Left blank: keep what the connection has (or the default for a new one).
        return (
            hours
            if hours is not None
            else self.initial.get("sync_interval_hours", DEFAULT_SYNC_INTERVAL_HOURS)
        )


def _connection(request: ConsoleRequest, pk: int) -> ShopifyConnection:
    found = selectors.connection(request.user.brand_id, pk)
    if found is None:
        raise Http404
    return found


def _apply(form: forms.Form, error: ShopifySettingsError) -> None:
    form.add_error(error.field if error.field in form.fields else None, error.message)


@console_view(PERMISSION, brand_wide=True)
def shopify_list(request: ConsoleRequest) -> HttpResponse:
    connections = list(selectors.connections_for(request.user.brand_id))
    for connection in connections:
        connection.webhook_url = shopify_connections.webhook_url(connection)  # type: ignore[attr-defined]  # for the template
    return render_page(request, "console/shopify/list.html", {"connections": connections})


@console_view(PERMISSION, brand_wide=True)
@never_cache
def shopify_create(request: ConsoleRequest) -> HttpResponse:
    form = ConnectionForm(request.POST or None, creating=True)
    if request.method == "POST" and form.is_valid():
        try:
            connection = shopify_connections.create_connection(
                request.user.brand, actor=actor_for(request), **form.cleaned_data
            )
        except ShopifySettingsError as exc:
            _apply(form, exc)
        else:
            messages.success(
                request, pgettext("shopify", "已連線。請把下方 Webhook 網址貼到 Shopify 的通知設定。")
            )
            return redirect("console:shopify_detail", pk=connection.pk)
    return render_page(
        request, "console/shopify/form.html", {"form": form}, status=400 if form.errors else 200
    )


@console_view(PERMISSION, brand_wide=True)
@never_cache
def shopify_detail(request: ConsoleRequest, pk: int) -> HttpResponse:
    connection = _connection(request, pk)
    initial = {field: getattr(connection, field) for field in shopify_connections.SETTINGS_FIELDS}
    form = ConnectionForm(
        request.POST or None, initial=initial, creating=False, uninstalled=connection.is_uninstalled
    )
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                shopify_connections.update_connection(
                    connection, actor=actor_for(request), **form.cleaned_data
                )
            except ShopifySettingsError as exc:
                _apply(form, exc)
            else:
                messages.success(request, pgettext("shopify", "已儲存 Shopify 設定。"))
                return redirect("console:shopify_detail", pk=connection.pk)
        status = 400
    status_filter = request.GET.get("status", "")
    page = paginate(request, selectors.webhooks_of(connection, status_filter))
    for row in page.object_list:
        row.badge = STATUS_BADGES.get(row.status, "badge-muted")
    return render_page(
        request,
        "console/shopify/detail.html",
        {
            "connection": connection,
            "form": form,
            "webhook_url": shopify_connections.webhook_url(connection),
            "topics": webhooks.TOPICS,
            "page": page,
            "status_filter": status_filter,
            "statuses": ShopifyWebhook.Status.choices,
            "privacy_requests": list(selectors.privacy_requests_of(connection)[:50]),
            "next_sync_at": selectors.next_sync_at(connection),
        },
        status=status,
    )


@console_view(PERMISSION, brand_wide=True)
@require_POST
def shopify_sync(request: ConsoleRequest, pk: int) -> HttpResponse:
    connection = _connection(request, pk)
    try:
        queued = products.request_product_sync(connection, actor=actor_for(request))
    except SyncRefused:
        messages.error(
            request,
            pgettext("shopify", "應用程式已從商店解除安裝，無法同步。請重新安裝並輸入新的存取權杖。"),
        )
        return redirect("console:shopify_detail", pk=connection.pk)
    if queued:
        messages.success(request, pgettext("shopify", "已排入商品同步，完成後此頁會顯示結果。"))
    else:
        messages.info(request, pgettext("shopify", "商品同步已在進行中。"))
    return redirect("console:shopify_detail", pk=connection.pk)


@console_view(PERMISSION, brand_wide=True)
@require_POST
def shopify_retry(request: ConsoleRequest, pk: int) -> HttpResponse:
    connection = _connection(request, pk)
    count = processing.retry_failed(connection, actor=actor_for(request))
    messages.success(
        request, pgettext("shopify", "已重新排入 %(count)d 筆失敗的 Webhook。") % {"count": count}
    )
    return redirect("console:shopify_detail", pk=connection.pk)


@console_view(PERMISSION, brand_wide=True)
@require_POST
def shopify_privacy_resolve(request: ConsoleRequest, pk: int, request_pk: int) -> HttpResponse:
    connection = _connection(request, pk)
    privacy = selectors.privacy_request(request.user.brand_id, request_pk)
    if privacy is None or privacy.connection_id != connection.pk:
        raise Http404
    if privacy.status != PrivacyRequest.Status.OPEN:
        messages.info(request, pgettext("shopify", "此請求已處理。"))
        return redirect("console:shopify_detail", pk=connection.pk)
    try:
        resolve_privacy_request(privacy, actor=actor_for(request), outcome=request.POST.get("outcome", ""))
    except ShopifySettingsError:
        messages.error(request, pgettext("shopify", "請填寫處理結果。"))
    else:
        messages.success(request, pgettext("shopify", "已標記為已處理。"))
    return redirect("console:shopify_detail", pk=connection.pk)
