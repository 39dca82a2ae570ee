"""Merge suggestions HQ decides on, and the merge history with its split action (HQ admins only)."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext
from django.views.decorators.http import require_POST

from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import paginate, render_page
from omo.core.errors import DomainError
from omo.customers import merge as merging
from omo.customers import selectors as customer_selectors
from omo.customers import services as customer_services
from omo.customers.models import Customer, CustomerMerge

PERMISSION = "customers.merge"


def _refused(request: ConsoleRequest, exc: DomainError) -> HttpResponse:
    """A refused decision: another brand's or an already decided suggestion is not found; anything
    else is told to the user on the queue."""
    if exc.status == 404:
        raise Http404 from exc
    messages.error(request, f"{exc.field}：{exc.message}" if exc.field else exc.message)
    return redirect("console:merge_queue")


@console_view(PERMISSION)
def merge_queue(request: ConsoleRequest) -> HttpResponse:
    suggestions = customer_selectors.open_merge_suggestions(request.user.brand_id)
    return render_page(
        request, "console/customers/merge_queue.html", {"page": paginate(request, suggestions)}
    )


@console_view(PERMISSION)
@require_POST
def suggestion_merge(request: ConsoleRequest, pk: int) -> HttpResponse:
    raw = request.POST.get("survivor", "")
    try:
        record = customer_services.accept_merge_suggestion(
            pk, survivor_id=int(raw) if raw.isdigit() else None, actor=actor_for(request)
        )
    except DomainError as exc:  # SuggestionError, or the merge's own MergeError
        return _refused(request, exc)
    messages.success(
        request,
        pgettext("console", "已合併顧客 #%(merged)s 至 #%(survivor)s。")
        % {"merged": record.merged_id, "survivor": record.survivor_id},
    )
    return redirect("console:merge_queue")


@console_view(PERMISSION)
@require_POST
def suggestion_dismiss(request: ConsoleRequest, pk: int) -> HttpResponse:
    try:
        customer_services.dismiss_merge_suggestion(pk, actor=actor_for(request))
    except DomainError as exc:
        return _refused(request, exc)
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
