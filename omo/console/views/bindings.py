"""Bindings for the people who run the stores: transfer a clerk's customers (from 設定 → 員工, a
clerk's page), the transfer batches with their 30-day undo, and binding recovery by phone.

HQ admins act on the whole brand; a store manager on the clerks of their own store only (the
services decide, omo.binding.services; these pages parse the form and say the refusal in words).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.http import require_POST

from omo.binding import selectors as binding_selectors
from omo.binding import services as binding_services
from omo.binding.models import Transfer
from omo.console.access import ConsoleRequest, actor_for, console_view, forbidden
from omo.console.pages import paginate, render_page
from omo.core.access import Scope
from omo.core.errors import DomainError
from omo.staff.models import User
from omo.staff.roles import Role
from omo.staff.selectors import visible_staff

CHECKBOX_LIMIT = 300  # above this the form offers "all customers" only


def say(exc: DomainError) -> str:
    """A binding service's refusal as a sentence for people (the message itself when not known here)."""
    code = exc.code
    sentences: dict[str, str] = {
        "same_clerk": pgettext("console", "不能轉給同一位店員。"),
        "not_a_clerk": pgettext("console", "顧客只能綁定店員或店長。"),
        "other_store": pgettext("console", "店長只能在自己的門市內處理綁定。"),
        "no_store": pgettext("console", "這位店員沒有所屬門市，無法平均分配。"),
        "one_target": pgettext("console", "請選擇一種轉移方式。"),
        "no_customers_chosen": pgettext("console", "請至少勾選一位顧客。"),
        "not_bound": pgettext("console", "勾選的顧客已不再綁定這位店員，請重新整理頁面。"),
        "no_customers": pgettext("console", "這位店員目前沒有綁定的顧客。"),
        "no_clerks": pgettext("console", "這間門市沒有其他在職店員可以分配。"),
        "already_undone": pgettext("console", "這批轉移已經復原過了。"),
        "undo_expired": pgettext("console", "轉移已超過 30 天，無法復原。"),
        "clerk_left": pgettext("console", "原店員已停用，無法復原；請改為轉給其他店員。"),
        "not_manager": pgettext("console", "只有總部管理員與該店員的店長可以轉移綁定。"),
        "no_match": pgettext("console", "找不到使用這個手機號碼的顧客。"),
        "several_matches": pgettext(
            "console", "有 %(n)s 位顧客使用這個手機號碼，請先由總部合併顧客資料（顧客 → 合併建議）。"
        )
        % {"n": len(exc.extra.get("customer_ids", [])) or 2},
        "bound_elsewhere": pgettext(
            "console", "這位顧客已綁定 %(clerk)s，依品牌的綁定規則不能改綁；如需更換，請由店長轉移綁定。"
        )
        % {"clerk": exc.extra.get("clerk", "")},
        "already_bound": pgettext("console", "這位顧客已經綁定這位店員。"),
        "not_on_line": pgettext(
            "console", "這位顧客沒有加入 LINE 官方帳號好友（或已封鎖），無法傳送綁定確認。"
        ),
    }
    if code in sentences:
        return sentences[code]
    if exc.field == "phone":
        return pgettext("console", "請輸入正確的手機號碼，例如 0912-345-678。")
    if exc.status == 410:
        return pgettext("console", "這位店員已停用。")
    if exc.status == 404:
        return pgettext("console", "找不到這位店員或門市。")
    return exc.message


def _bindable_staff(request: ConsoleRequest) -> Any:
    """Active clerks (and store managers) the user may bind customers to: HQ the brand's, a store
    manager their own store's."""
    staff = (
        visible_staff(actor_for(request))
        .filter(is_active=True, role__in=[Role.CLERK, Role.STORE_MANAGER])
        .select_related("store")
    )
    return staff.order_by("store__code", "display_name", "username")


def _member(request: ConsoleRequest, pk: int) -> User:
    member = visible_staff(actor_for(request)).select_related("store").filter(pk=pk).first()
    if member is None:
        raise Http404
    return member


class TransferForm(forms.Form):
    MODES = (
        (Transfer.Mode.CLERK, pgettext_lazy("console", "全部轉給一位店員")),
        (Transfer.Mode.SPREAD, pgettext_lazy("console", "平均分配給門市其他在職店員")),
        (Transfer.Mode.STORE, pgettext_lazy("console", "交給門市團隊（解除綁定，由門市共同服務）")),
    )
    WHICH = (
        ("all", pgettext_lazy("console", "全部綁定顧客")),
        ("selected", pgettext_lazy("console", "只轉移勾選的顧客")),
    )
    mode = forms.ChoiceField(
        label=pgettext_lazy("console", "轉移方式"), choices=MODES, widget=forms.RadioSelect, initial="clerk"
    )
    to_clerk = forms.ModelChoiceField(
        label=pgettext_lazy("console", "接手店員"), queryset=User.objects.none(), required=False
    )
    which = forms.ChoiceField(
        label=pgettext_lazy("console", "轉移對象"), choices=WHICH, widget=forms.RadioSelect, initial="all"
    )
    customers = forms.MultipleChoiceField(
        label=pgettext_lazy("console", "顧客"), required=False, widget=forms.CheckboxSelectMultiple
    )
    reason = forms.CharField(
        label=pgettext_lazy("console", "原因"),
        max_length=200,
        required=False,
        help_text=pgettext_lazy("console", "例如：離職、調店、長假"),
    )
    notify = forms.BooleanField(
        label=pgettext_lazy("console", "以 LINE 通知顧客新的專屬店員"),
        required=False,
        initial=True,
        help_text=pgettext_lazy(
            "console", "每位顧客一則推播訊息（計入 LINE 方案額度）；顧客未加好友、已封鎖或未同意時不傳送。"
        ),
    )

    def __init__(self, *args: Any, targets: Any, bindings: list[Any], **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["to_clerk"].queryset = targets  # type: ignore[attr-defined]
        self.fields["customers"].choices = [  # type: ignore[attr-defined]
            (str(b.customer_id), str(b.customer)) for b in bindings[:CHECKBOX_LIMIT]
        ]
        if len(bindings) > CHECKBOX_LIMIT:
            del self.fields["customers"]
            self.fields["which"].choices = self.WHICH[:1]  # type: ignore[attr-defined]

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("mode") == Transfer.Mode.CLERK and not data.get("to_clerk"):
            self.add_error("to_clerk", pgettext("console", "請選擇接手的店員。"))
        if data.get("which") == "selected" and not data.get("customers"):
            self.add_error("customers", pgettext("console", "請至少勾選一位顧客。"))
        return data


@console_view("bindings.transfer")
def staff_transfer(request: ConsoleRequest, pk: int) -> HttpResponse:
    """Move a clerk's customers: to one clerk, spread over the store, or to the store team."""
    member = _member(request, pk)
    if request.user.scope != Scope.BRAND and (
        member.role != Role.CLERK or member.store_id != request.user.store_id
    ):
        return forbidden(request, pgettext("console", "店長只能轉移自己門市店員的顧客。"), show_home=True)
    bindings = list(binding_selectors.bound_bindings(member).order_by("started_at", "id"))
    targets = _bindable_staff(request).exclude(pk=member.pk)
    form = TransferForm(request.POST or None, targets=targets, bindings=bindings)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        mode = data["mode"]
        chosen = [int(pk) for pk in data.get("customers") or []] if data["which"] == "selected" else None
        try:
            transfer = binding_services.transfer_bindings(
                member,
                actor=actor_for(request),
                to_clerk=data["to_clerk"] if mode == Transfer.Mode.CLERK else None,
                to_store=member.store if mode == Transfer.Mode.STORE else None,
                spread=mode == Transfer.Mode.SPREAD,
                customer_ids=chosen,
                reason=data["reason"],
                notify=data["notify"],
            )
        except DomainError as exc:
            form.add_error(None, say(exc))
        else:
            messages.success(
                request,
                pgettext(
                    "console",
                    "已轉移 %(n)s 位顧客，其中 %(told)s 位已收到 LINE 通知。30 天內可在「綁定轉移紀錄」復原。",
                )
                % {"n": transfer.customer_count, "told": transfer.notified},
            )
            return redirect("console:binding_transfers")
    spread_preview = []
    if member.store is not None:
        spread_preview = [
            {"clerk": clerk, "bound": count}
            for count, clerk in binding_services.spread_targets(member.store, exclude=member)
        ]
    return render_page(
        request,
        "console/bindings/transfer.html",
        {
            "form": form,
            "member": member,
            "bound": len(bindings),
            "spread_preview": spread_preview,
            "history": binding_selectors.visible_transfers(actor_for(request)).filter(from_clerk=member)[:10],
        },
    )


@console_view("bindings.transfer")
def transfer_list(request: ConsoleRequest) -> HttpResponse:
    """Transfer batches, newest first, with who/when/how many and the undo while it lasts."""
    transfers = binding_selectors.visible_transfers(actor_for(request))
    page = paginate(request, transfers)
    now = timezone.now()
    rows = [
        {
            "transfer": transfer,
            "target": _target_label(transfer),
            "can_undo": transfer.undone_at is None
            and now <= transfer.undo_until
            and transfer.from_clerk.is_active,
        }
        for transfer in page.object_list
    ]
    return render_page(request, "console/bindings/transfers.html", {"page": page, "rows": rows})


def _target_label(transfer: Transfer) -> str:
    if transfer.mode == Transfer.Mode.SPREAD:
        store = transfer.to_store.name if transfer.to_store else ""
        return pgettext("console", "平均分配給 %(store)s 的店員") % {"store": store}
    if transfer.mode == Transfer.Mode.STORE:
        store = transfer.to_store.name if transfer.to_store else ""
        return pgettext("console", "%(store)s 門市團隊") % {"store": store}
    return str(transfer.to_clerk) if transfer.to_clerk else "—"


@console_view("bindings.transfer")
@require_POST
def transfer_undo(request: ConsoleRequest, pk: int) -> HttpResponse:
    transfer = binding_selectors.visible_transfers(actor_for(request)).filter(pk=pk).first()
    if transfer is None:
        raise Http404
    try:
        result = binding_services.undo_transfer(
            transfer, actor=actor_for(request), notify=request.POST.get("notify") == "on"
        )
    except DomainError as exc:
        messages.error(request, say(exc))
    else:
        text = pgettext("console", "已復原：%(n)s 位顧客回到 %(clerk)s。") % {
            "n": len(result.restored),
            "clerk": transfer.from_clerk,
        }
        if result.skipped:
            text += " " + pgettext("console", "%(n)s 位顧客在轉移後已綁定其他店員，維持目前的綁定。") % {
                "n": len(result.skipped)
            }
        messages.success(request, text)
    return redirect("console:binding_transfers")


class RecoveryForm(forms.Form):
    phone = forms.CharField(
        label=pgettext_lazy("console", "顧客手機號碼"),
        max_length=40,
        help_text=pgettext_lazy("console", "顧客提供的手機號碼，例如 0912-345-678"),
    )
    clerk = forms.ModelChoiceField(label=pgettext_lazy("console", "綁定店員"), queryset=User.objects.none())

    def __init__(self, *args: Any, clerks: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.fields["clerk"].queryset = clerks  # type: ignore[attr-defined]


@console_view("bindings.recover")
def recovery(request: ConsoleRequest) -> HttpResponse:
    """A customer whose scan failed: find them by phone and send the LINE card to confirm the clerk."""
    clerks = _bindable_staff(request)
    if request.user.scope == Scope.STORE:
        clerks = clerks.filter(Q(store_id=request.user.store_id))
    form = RecoveryForm(request.POST or None, clerks=clerks)
    if request.method == "POST" and form.is_valid():
        try:
            sent = binding_services.recover_by_phone(
                form.cleaned_data["phone"], form.cleaned_data["clerk"], actor=actor_for(request)
            )
        except DomainError as exc:
            form.add_error("phone" if exc.field in ("phone", "customer") else None, say(exc))
        else:
            messages.success(
                request,
                pgettext(
                    "console",
                    "已傳送綁定確認給顧客 %(customer)s；顧客在 LINE 按下「確認綁定」後即完成綁定 %(clerk)s。",
                )
                % {"customer": sent.customer, "clerk": sent.clerk},
            )
            return redirect("console:binding_recovery")
    return render_page(request, "console/bindings/recovery.html", {"form": form})
