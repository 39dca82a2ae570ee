"""顧客 → 分眾: the list, a segment's page (members, count history, why a customer is or is not in
it), the builder, static lists and deletion.

Every role of the console reads segments; a store manager sees only their store's customers among
the members (omo/segments/selectors.py). HQ (admins and agents) build, change and delete them.
The builder's live count and sample come from `segment_preview` (JSON), called by
static/console/segments.js while the conditions are edited.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpResponse, JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from omo.analytics.charts import PRIMARY, _config, _svg
from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import paginate, render_page
from omo.core.errors import DomainError
from omo.customers.models import Customer
from omo.customers.normalize import normalize_email, normalize_phone
from omo.customers.selectors import visible_customers
from omo.segments import rules, selectors, services, static_list
from omo.segments.models import Segment, SegmentCount

READ = "segments.read"
WRITE = "segments.write"
MAX_UPLOAD_BYTES = static_list.MAX_BYTES


class SegmentForm(forms.Form):
    name = forms.CharField(label=pgettext_lazy("console", "名稱"), max_length=services.NAME_MAX)
    description = forms.CharField(
        label=pgettext_lazy("console", "說明"), max_length=services.DESCRIPTION_MAX, required=False
    )
    kind = forms.ChoiceField(
        label=pgettext_lazy("console", "類型"),
        choices=[
            (Segment.Kind.RULE, pgettext_lazy("console", "條件分眾：依條件自動更新")),
            (Segment.Kind.STATIC, pgettext_lazy("console", "名單分眾：上傳手機、Email 或會員編號")),
        ],
        initial=Segment.Kind.RULE,
    )
    rule = forms.CharField(
        label=pgettext_lazy("console", "條件（JSON）"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false", "data-rule-json": ""}),
    )

    def clean_rule(self) -> Any:
        text = (self.cleaned_data.get("rule") or "").strip()
        if not text:
            return None
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                pgettext("console", "條件不是有效的 JSON：%(error)s") % {"error": exc}
            ) from exc


class ListForm(forms.Form):
    file = forms.FileField(label=pgettext_lazy("console", "名單 CSV（UTF-8 或 Big5）"))

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(pgettext_lazy("console", "檔案超過 10 MB。"))
        return upload


def _segment(request: ConsoleRequest, pk: int) -> Segment:
    segment = selectors.visible_segments(actor_for(request)).filter(pk=pk).select_related("brand").first()
    if segment is None:
        raise Http404
    return segment


def sparkline(values: list[int], width: int = 100, height: int = 24) -> SafeString:
    """A small inline SVG line of the member counts (no chart library needed at this size)."""
    if len(values) < 2:
        return SafeString("")
    low, high = min(values), max(values)
    span = (high - low) or 1
    step = width / (len(values) - 1)
    points = " ".join(
        f"{index * step:.1f},{height - 2 - (value - low) / span * (height - 4):.1f}"
        for index, value in enumerate(values)
    )
    return format_html(
        '<svg class="sparkline" viewBox="0 0 {} {}" width="{}" height="{}" aria-hidden="true">'
        '<polyline fill="none" stroke="{}" stroke-width="1.5" points="{}"/></svg>',
        width,
        height,
        width,
        height,
        PRIMARY,
        points,
    )


def history_chart(counts: list[SegmentCount]) -> SafeString:
    """Members after each refresh, drawn by pygal on the server like the dashboard's charts."""
    import pygal

    chart = pygal.Line(
        _config(
            (PRIMARY,),
            lambda value: f"{int(value):,}" if value is not None else "",
            width=900,
            height=280,
            show_legend=False,
            x_label_rotation=0,
            show_minor_x_labels=False,
            x_labels_major_count=8,
            truncate_label=-1,
            dots_size=2,
        )
    )
    chart.x_labels = [date_format(count.at, "m/d H:i") for count in counts]
    chart.add(pgettext("console", "成員數"), [count.members for count in counts])
    return _svg(chart)


@console_view(READ)
def segment_list(request: ConsoleRequest) -> HttpResponse:
    actor = actor_for(request)
    page = paginate(request, selectors.visible_segments(actor))
    segments = list(page.object_list)
    counts = selectors.member_counts_for(actor, segments)
    trends = selectors.histories(segments)
    rows = [
        {"segment": segment, "members": counts[segment.pk], "trend": sparkline(trends[segment.pk])}
        for segment in segments
    ]
    return render_page(
        request,
        "console/segments/list.html",
        {"page": page, "rows": rows, "may_write": actor.can(WRITE)},
    )


def _find_customer(request: ConsoleRequest, query: str) -> Customer | None:
    """The first customer the user may see by phone, email, member number or name."""
    query = query.strip()
    if not query:
        return None
    brand = request.user.brand
    exact = Q(member_number=query)
    try:
        exact |= Q(phone=normalize_phone(query, brand.country))
    except ValueError:
        pass
    try:
        exact |= Q(email=normalize_email(query))
    except ValueError:
        pass
    customers = visible_customers(actor_for(request)).filter(merged_into__isnull=True)
    return customers.filter(exact).first() or customers.filter(name__icontains=query).order_by("-id").first()


@console_view(READ)
def segment_detail(request: ConsoleRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    segment = _segment(request, pk)
    query = request.GET.get("why", "").strip()[:100]
    why: dict[str, Any] | None = None
    if query:
        customer = _find_customer(request, query)
        if customer is None:
            why = {"error": pgettext("console", "找不到符合「%(query)s」的顧客。") % {"query": query}}
        else:
            try:
                answer = selectors.explain_for(segment, customer)
            except DomainError as exc:
                why = {"customer": customer, "error": exc.message}
            else:
                why = {"customer": customer, "member": answer.member, "sentence": answer.sentence}
    counts = selectors.history(segment)
    for count in counts:
        count.reason_label = reason_label(count.reason)  # type: ignore[attr-defined]
    return render_page(
        request,
        "console/segments/detail.html",
        {
            "segment": segment,
            "members": paginate(request, selectors.members_for(actor, segment)),
            "member_count": selectors.member_count_for(actor, segment),
            "counts": list(reversed(counts))[:20],
            "chart": history_chart(counts) if len(counts) > 1 else None,
            "why_query": query,
            "why": why,
            "may_write": actor.can(WRITE),
            "list_form": ListForm() if segment.kind == Segment.Kind.STATIC else None,
            "narrowed": actor.scope != "brand",
        },
    )


def _builder_texts() -> dict[str, str]:
    return {
        "all": pgettext("console", "全部符合"),
        "any": pgettext("console", "任一符合"),
        "not": pgettext("console", "排除（不符合）"),
        "addCondition": pgettext("console", "＋ 條件"),
        "addGroup": pgettext("console", "＋ 群組"),
        "remove": pgettext("console", "移除"),
        "empty": pgettext("console", "尚未加入條件"),
        "yes": pgettext("console", "是"),
        "no": pgettext("console", "否"),
        "failed": pgettext("console", "無法預覽，請稍後再試"),
    }


def _builder_context(request: ConsoleRequest, form: SegmentForm, segment: Segment | None) -> dict[str, Any]:
    return {
        "form": form,
        "segment": segment,
        "catalogue": rules.field_catalogue(request.user.brand),
        "texts": _builder_texts(),
        "preview_url": reverse("console:segment_preview"),
    }


def reason_label(reason: str) -> str:
    """Why a refresh ran, as words (SegmentCount.reason is a code)."""
    labels = {
        "created": pgettext("segment refresh", "建立"),
        "edited": pgettext("segment refresh", "修改條件"),
        "order": pgettext("segment refresh", "訂單變動"),
        "tag": pgettext("segment refresh", "標籤變動"),
        "profile": pgettext("segment refresh", "顧客資料變動"),
        "consent": pgettext("segment refresh", "同意變動"),
        "loyalty": pgettext("segment refresh", "點數變動"),
        "binding": pgettext("segment refresh", "綁定變動"),
        "tracking": pgettext("segment refresh", "瀏覽行為"),
        "merge": pgettext("segment refresh", "顧客合併或刪除"),
        "segment": pgettext("segment refresh", "引用的分眾變動"),
        "daily": pgettext("segment refresh", "每日更新"),
        "csv": pgettext("segment refresh", "上傳名單"),
    }
    return labels.get(reason, pgettext("segment refresh", "自動更新"))


def _form_error(form: SegmentForm, exc: DomainError) -> None:
    field = exc.field or ""
    if field.startswith("rule"):
        form.add_error("rule", f"{field}: {exc.message}")
    else:
        form.add_error(field if field in form.fields else None, exc.message)


@console_view(WRITE)
@require_http_methods(["GET", "POST"])
def segment_create(request: ConsoleRequest) -> HttpResponse:
    form = SegmentForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            segment = services.create_segment(
                request.user.brand,
                actor=actor_for(request),
                name=data["name"],
                description=data["description"],
                kind=data["kind"],
                rule=data["rule"] if data["kind"] == Segment.Kind.RULE else None,
            )
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request, pgettext("console", "已建立分眾「%(name)s」。") % {"name": segment.name}
            )
            return redirect("console:segment_detail", pk=segment.pk)
    return render_page(
        request,
        "console/segments/form.html",
        _builder_context(request, form, None),
        status=400 if form.errors else 200,
    )


@console_view(WRITE)
@require_http_methods(["GET", "POST"])
def segment_edit(request: ConsoleRequest, pk: int) -> HttpResponse:
    segment = _segment(request, pk)
    initial = {
        "name": segment.name,
        "description": segment.description,
        "kind": segment.kind,
        "rule": json.dumps(segment.rule, ensure_ascii=False) if segment.rule is not None else "",
    }
    form = SegmentForm(request.POST or None, initial=initial)
    form.fields["kind"].disabled = True
    if segment.kind != Segment.Kind.RULE:
        form.fields["rule"].disabled = True
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        changes: dict[str, Any] = {"name": data["name"], "description": data["description"]}
        if segment.kind == Segment.Kind.RULE:
            changes["rule"] = data["rule"]
        try:
            services.update_segment(segment, actor=actor_for(request), **changes)
        except DomainError as exc:
            _form_error(form, exc)
        else:
            messages.success(
                request, pgettext("console", "已儲存分眾「%(name)s」。") % {"name": segment.name}
            )
            return redirect("console:segment_detail", pk=segment.pk)
    return render_page(
        request,
        "console/segments/form.html",
        _builder_context(request, form, segment),
        status=400 if form.errors else 200,
    )


@console_view(WRITE)
@require_POST
def segment_delete(request: ConsoleRequest, pk: int) -> HttpResponse:
    segment = _segment(request, pk)
    try:
        services.delete_segment(segment, actor=actor_for(request))
    except DomainError as exc:
        messages.error(request, exc.message)
        return redirect("console:segment_detail", pk=segment.pk)
    messages.success(request, pgettext("console", "已刪除分眾「%(name)s」。") % {"name": segment.name})
    return redirect("console:segments")


@console_view(WRITE)
@require_POST
def segment_upload(request: ConsoleRequest, pk: int) -> HttpResponse:
    """Replace a static segment's list; every bad row is shown and nothing changes."""
    segment = _segment(request, pk)
    form = ListForm(request.POST, request.FILES)
    if form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            count = services.upload_static_list(
                segment, upload.read(), actor=actor_for(request), filename=upload.name
            )
        except static_list.ListInvalid as exc:
            return render_page(
                request,
                "console/segments/list_errors.html",
                {"segment": segment, "errors": exc.problems, "form": form},
                status=400,
            )
        except DomainError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(
                request,
                pgettext("console", "名單已更新：%(members)s 位成員（新增 %(added)s、移除 %(removed)s）。")
                % {"members": count.members, "added": count.added, "removed": count.removed},
            )
    else:
        messages.error(request, " ".join(str(error) for error in form.errors.get("file", [])))
    return redirect("console:segment_detail", pk=segment.pk)


@console_view(WRITE)
@require_POST
def segment_preview(request: ConsoleRequest) -> JsonResponse:
    """The builder's live count and sample: {"rule": tree, "segment_id": id or null} → {count, sample}
    or 422 {error, field}."""
    try:
        body = json.loads(request.body or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        return JsonResponse(
            {"error": pgettext("console", "條件不是有效的 JSON"), "field": "rule"}, status=400
        )
    if not isinstance(body, dict):
        return JsonResponse(
            {"error": pgettext("console", "條件不是有效的 JSON"), "field": "rule"}, status=400
        )
    segment_id = body.get("segment_id")
    if segment_id is not None:
        if not isinstance(segment_id, int) or isinstance(segment_id, bool):
            return JsonResponse(
                {"error": pgettext("console", "分眾編號不正確"), "field": "segment_id"}, status=400
            )
        _segment(request, segment_id)
    try:
        result = selectors.preview(actor_for(request), body.get("rule"), segment_id=segment_id)
    except DomainError as exc:
        return JsonResponse({"error": exc.message, "field": exc.field}, status=422)
    return JsonResponse(
        {
            "count": result.count,
            "sample": [
                {
                    "id": customer.pk,
                    "name": str(customer),
                    "url": reverse("console:customer_detail", args=[customer.pk]),
                }
                for customer in result.sample
            ],
        }
    )
