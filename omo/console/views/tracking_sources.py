"""設定 → 追蹤來源: write keys for the Segment-spec /v1/* calls (HQ admin only).

A new key is rendered once, with a browser snippet and a server example, and never shown again.
The built-in shop's own source is listed and marked; revoking it takes an explicit confirmation,
because its key is derived and the shop's tracking cannot be turned back on by making a new one.
"""

from __future__ import annotations

import json

from django import forms
from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.templatetags.static import static
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import render_page
from omo.core.errors import DomainError
from omo.tracking import selectors, services
from omo.tracking.models import TrackingSource

PERMISSION = "tracking.sources"


class SourceForm(forms.Form):
    name = forms.CharField(
        label=pgettext_lazy("console", "名稱"),
        max_length=services.MAX_SOURCE_NAME,
        help_text=pgettext_lazy("console", "例如：官網、門市 POS、會員 App"),
    )
    kind = forms.ChoiceField(
        label=pgettext_lazy("console", "類型"),
        choices=TrackingSource.Kind.choices,
        initial=TrackingSource.Kind.WEB,
        help_text=pgettext_lazy("console", "網站金鑰會出現在網頁原始碼中（公開）；伺服器、POS 金鑰請保密。"),
    )


def snippets(write_key: str) -> dict[str, str]:
    """What to paste where: a page of the brand's own site, and a server (curl)."""
    base = settings.BASE_URL
    config = json.dumps({"writeKey": write_key, "endpoint": f"{base}/v1/batch"})
    browser = (
        f'<script type="application/json" id="omo-track-data">{config}</script>\n'
        f'<script src="{base}{static("shop/omo-track.js")}" defer></script>'
    )
    server = (
        f"curl -X POST {base}/v1/track \\\n"
        f"  -u '{write_key}:' \\\n"
        "  -H 'Content-Type: application/json' \\\n"
        '  -d \'{"userId": "M000123", "event": "Order Completed", '
        '"properties": {"order_id": "A-1001", "revenue": 890.0, "currency": "TWD"}}\''
    )
    return {"browser": browser, "server": server}


def _source(request: ConsoleRequest, pk: int) -> TrackingSource:
    source = selectors.visible_sources(actor_for(request)).filter(pk=pk).first()
    if source is None:
        raise Http404
    return source


@console_view(PERMISSION)
def source_list(request: ConsoleRequest) -> HttpResponse:
    sources = list(selectors.visible_sources(actor_for(request)).order_by("-created_at", "-id"))
    return render_page(
        request, "console/settings/tracking/sources.html", {"rows": selectors.summaries(sources)}
    )


@console_view(PERMISSION)
@never_cache
def source_create(request: ConsoleRequest) -> HttpResponse:
    """On success the write key is rendered into this one response and never stored or shown again."""
    form = SourceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            source, write_key = services.create_source(
                request.user.brand,
                name=form.cleaned_data["name"],
                kind=form.cleaned_data["kind"],
                actor=actor_for(request),
            )
        except DomainError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            return render_page(
                request,
                "console/settings/tracking/created.html",
                {"source": source, "write_key": write_key, "snippets": snippets(write_key)},
            )
    return render_page(request, "console/settings/tracking/new.html", {"form": form})


@console_view(PERMISSION)
@require_POST
def source_revoke(request: ConsoleRequest, pk: int) -> HttpResponse:
    source = _source(request, pk)
    try:
        services.revoke_source(
            source, actor=actor_for(request), confirm_shop=request.POST.get("confirm_shop") == "1"
        )
    except DomainError:
        messages.error(
            request,
            pgettext(
                "console",
                "「%(name)s」是網路商店（內建）自己的追蹤來源；撤銷後商店將停止追蹤且無法恢復。"
                "請勾選確認後再撤銷。",
            )
            % {"name": source.name},
        )
        return redirect("console:tracking_sources")
    messages.success(request, pgettext("console", "已撤銷追蹤來源「%(name)s」。") % {"name": source.name})
    return redirect("console:tracking_sources")
