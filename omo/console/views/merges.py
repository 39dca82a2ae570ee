"""Merge suggestions HQ decides on, and the merge history with its split action (HQ admins only)."""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import paginate, render_page
from omo.core import audit
from omo.customers import merge as merging
from omo.customers.identity import live_customer_ids
from omo.customers.models import Customer, CustomerMerge, MergeSuggestion

PERMISSION = "customers.merge"


def _suggestion(request: ConsoleRequest, pk: int) -> MergeSuggestion:
    found = (
        MergeSuggestion.objects.select_for_update()
        .filter(brand_id=request.user.brand_id, pk=pk, status=MergeSuggestion.Status.OPEN)
        .first()
    )
    if found is None:
        raise Http404
    return found


@console_view(PERMISSION)
def merge_queue(request: ConsoleRequest) -> HttpResponse:
    suggestions = (
        MergeSuggestion.objects.filter(brand_id=request.user.brand_id, status=MergeSuggestion.Status.OPEN)
        .select_related("customer_a", "customer_b")
        .order_by("-created_at", "-id")
    )
    return render_page(
        request, "console/customers/merge_queue.html", {"page": paginate(request, suggestions)}
    )


@console_view(PERMISSION)
@require_POST
def suggestion_merge(request: ConsoleRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    with transaction.atomic():
        suggestion = _suggestion(request, pk)
        raw = request.POST.get("survivor", "")
        pair = {suggestion.customer_a_id, suggestion.customer_b_id}
        if not raw.isdigit() or int(raw) not in pair:
            messages.error(request, pgettext("console", "survivor：請選擇要保留的顧客（建議中的其中一位）。"))
            return redirect("console:merge_queue")
        # Either customer may have been merged elsewhere since the suggestion was made.
        live = live_customer_ids(request.user.brand_id, pair)
        survivor = live.get(int(raw))
        merged = live.get((pair - {int(raw)}).pop())
        try:
            with transaction.atomic():
                record = merging.merge_customers(
                    survivor,
                    merged,
                    brand=actor.brand,
                    actor=actor,
                    reason=pgettext("console", "總部依合併建議 #%(pk)s 合併") % {"pk": suggestion.pk},
                    trigger_kind=suggestion.kind,
                    trigger_value=suggestion.value,
                )
        except merging.MergeError as exc:
            messages.error(request, f"{exc.field}：{exc.message}")
            return redirect("console:merge_queue")
        MergeSuggestion.objects.filter(pk=suggestion.pk, status=MergeSuggestion.Status.OPEN).update(
            status=MergeSuggestion.Status.MERGED,
            resolved_at=timezone.now(),
            resolved_by=request.user,
            merge=record,
        )
    messages.success(
        request,
        pgettext("console", "已合併顧客 #%(merged)s 至 #%(survivor)s。")
        % {"merged": merged, "survivor": survivor},
    )
    return redirect("console:merge_queue")


@console_view(PERMISSION)
@require_POST
def suggestion_dismiss(request: ConsoleRequest, pk: int) -> HttpResponse:
    with transaction.atomic():
        suggestion = _suggestion(request, pk)
        suggestion.status = MergeSuggestion.Status.DISMISSED
        suggestion.resolved_at = timezone.now()
        suggestion.resolved_by = request.user
        suggestion.save(update_fields=["status", "resolved_at", "resolved_by"])
        audit.record(
            actor_for(request),
            "merge_suggestion.dismissed",
            suggestion,
            customer_a=suggestion.customer_a_id,
            customer_b=suggestion.customer_b_id,
        )
    messages.success(request, pgettext("console", "已略過這筆合併建議，之後不會再提出。"))
    return redirect("console:merge_queue")


@console_view(PERMISSION)
def merge_history(request: ConsoleRequest) -> HttpResponse:
    merges = (
        CustomerMerge.objects.filter(brand_id=request.user.brand_id)
        .select_related("survivor", "merged", "actor", "split_by")
        .order_by("-created_at", "-id")
    )
    raw = request.GET.get("customer", "")
    customer = None
    if raw:
        if not raw.isdigit():
            messages.error(request, pgettext("console", "customer：顧客編號必須是數字。"))
        else:
            customer = Customer.objects.filter(brand_id=request.user.brand_id, pk=int(raw)).first()
            if customer is None:
                raise Http404
            merges = merges.filter(survivor=customer) | merges.filter(merged=customer)
    return render_page(
        request,
        "console/customers/merge_history.html",
        {"page": paginate(request, merges), "customer": customer},
    )


@console_view(PERMISSION)
@require_POST
def merge_split(request: ConsoleRequest, pk: int) -> HttpResponse:
    record = CustomerMerge.objects.filter(brand_id=request.user.brand_id, pk=pk).first()
    if record is None:
        raise Http404
    try:
        merging.split(record, actor=actor_for(request))
    except merging.MergeError as exc:
        messages.error(request, f"{exc.field}：{exc.message}")
    else:
        messages.success(
            request,
            pgettext("console", "已拆分：顧客 #%(merged)s 恢復為獨立顧客。") % {"merged": record.merged_id},
        )
    return redirect("console:merge_history")
