"""Orders from every sales channel: a filtered list, one order's detail, and the actions its state
allows (mark paid, fulfil, cancel, refund), each a POST form on the detail page."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.utils.translation import pgettext, pgettext_lazy
from django.views.decorators.http import require_POST

from omo.commerce import selectors as commerce_selectors
from omo.commerce import services as commerce
from omo.commerce.models import Carrier, Order, OrderAction, OrderLine, SalesChannel
from omo.commerce.schemas import RefundIn
from omo.commerce.services import OrderError
from omo.commerce.tracking import tracking_url
from omo.console import selectors
from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.forms import OrderFilterForm
from omo.console.pages import paginate, render_page
from omo.console.views.till import records_context
from omo.core import audit
from omo.core.money import format_money
from omo.loyalty import till_records

MANAGE = "orders.manage"
REFUND = "orders.refund"


@console_view("orders.read")
def order_list(request: ConsoleRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET, user=request.user)
    orders = selectors.order_list(request.user, form.to_filters())
    return render_page(request, "console/orders/list.html", {"form": form, "page": paginate(request, orders)})


def _order(request: ConsoleRequest, pk: int) -> Order:
    try:
        return selectors.order_detail(request.user, pk)
    except Order.DoesNotExist as exc:
        raise Http404 from exc


@console_view("orders.read")
def order_detail(request: ConsoleRequest, pk: int) -> HttpResponse:
    order = _order(request, pk)
    # The page shows the buyer's contact and shipping details: seeing them is audited (PDPA).
    audit.record(actor_for(request), "order.viewed", order, customer=order.customer_id)
    return _detail_page(request, order)


# --- the action forms -------------------------------------------------------------------------


class ActionForm(forms.Form):
    """The forms share one page: each one's ids carry its action so that labels find their field."""

    action = ""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", f"id_{self.action}_%s")
        super().__init__(*args, **kwargs)


class PayForm(ActionForm):
    action = "pay"
    note = forms.CharField(
        label=pgettext_lazy("orders", "備註（選填）"),
        max_length=250,
        required=False,
        help_text=pgettext_lazy("orders", "例如匯款帳號末五碼。"),
    )


class FulfilForm(ActionForm):
    action = "fulfil"
    carrier = forms.ChoiceField(label=pgettext_lazy("orders", "物流業者"), required=False)
    tracking_number = forms.CharField(
        label=pgettext_lazy("orders", "追蹤號碼"), max_length=60, required=False
    )
    note = forms.CharField(label=pgettext_lazy("orders", "備註（選填）"), max_length=250, required=False)

    def __init__(self, *args: Any, order: Order, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = order
        carrier = self.fields["carrier"]
        assert isinstance(carrier, forms.ChoiceField)
        carrier.choices = [("", pgettext("orders", "— 請選擇 —")), *Carrier.choices]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        carrier = data.get("carrier")
        if self.order.fulfilment == Order.Fulfilment.SHIP and not carrier:
            self.add_error("carrier", pgettext("orders", "宅配訂單請選擇物流業者。"))
        if data.get("tracking_number") and not carrier:
            self.add_error("carrier", pgettext("orders", "填了追蹤號碼，請一併選擇物流業者。"))
        return data


class CancelForm(ActionForm):
    action = "cancel"
    reason = forms.CharField(
        label=pgettext_lazy("orders", "取消原因"),
        max_length=250,
        error_messages={"required": pgettext_lazy("orders", "請填寫取消原因。")},
    )


class RefundForm(ActionForm):
    """An amount in the currency's main unit (NT$), lines given back, or both."""

    action = "refund"

    token = forms.CharField(widget=forms.HiddenInput, max_length=40)
    amount = forms.DecimalField(
        label=pgettext_lazy("orders", "退款金額"),
        required=False,
        min_value=Decimal("0.01"),
        max_digits=14,
        decimal_places=2,
        help_text=pgettext_lazy("orders", "留空則依退回商品的金額計算。"),
    )
    reason = forms.CharField(
        label=pgettext_lazy("orders", "退款原因"),
        max_length=250,
        error_messages={"required": pgettext_lazy("orders", "請填寫退款原因。")},
    )
    restock = forms.BooleanField(label=pgettext_lazy("orders", "商品退回庫存"), required=False)

    def __init__(self, *args: Any, order: Order, lines: list[OrderLine], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = order
        self.refundable = commerce_selectors.refundable_amount(order)
        self.line_fields: list[tuple[OrderLine, str]] = []
        for line in lines:
            left = line.quantity - line.refunded_quantity
            if left <= 0:
                continue
            name = f"line_{line.pk}"
            self.fields[name] = forms.IntegerField(
                label=line.title, required=False, min_value=0, max_value=left, initial=0
            )
            self.line_fields.append((line, name))
        if not self.is_bound:
            self.initial["token"] = uuid.uuid4().hex

    def line_rows(self) -> list[tuple[OrderLine, forms.BoundField]]:
        return [(line, self[name]) for line, name in self.line_fields]

    def clean(self) -> dict[str, Any]:
        data: dict[str, Any] = super().clean() or {}
        amount = data.get("amount")
        lines = [
            {"line_id": line.pk, "quantity": data[name]} for line, name in self.line_fields if data.get(name)
        ]
        data["lines"] = lines
        if amount is None and not lines and not self.errors:
            raise forms.ValidationError(pgettext("orders", "請填寫退款金額，或選擇要退回的商品數量。"))
        if amount is not None:
            minor = int(amount * 100)
            data["amount_minor"] = minor
            if minor > self.refundable:
                self.add_error(
                    "amount",
                    pgettext("orders", "超過可退款金額 %(left)s。")
                    % {"left": format_money(self.refundable, self.order.currency)},
                )
        return data


_FORMS = {"pay": PayForm, "fulfil": FulfilForm, "cancel": CancelForm, "refund": RefundForm}


def _forms(
    request: ConsoleRequest, order: Order, lines: list[OrderLine], bound: dict[str, forms.Form]
) -> dict:
    """The forms of the actions this order's state allows and this user's role may take."""
    allowed = commerce_selectors.allowed_actions(order)
    user = request.user
    shown: dict[str, forms.Form] = {}
    for action in commerce_selectors.ORDER_ACTIONS:
        if action not in allowed or not user.can(REFUND if action == "refund" else MANAGE):
            continue
        if action in bound:
            shown[action] = bound[action]
        elif action == "fulfil":
            shown[action] = FulfilForm(order=order)
        elif action == "refund":
            shown[action] = RefundForm(order=order, lines=lines)
        else:
            shown[action] = _FORMS[action]()
    return shown


def _detail_page(
    request: ConsoleRequest,
    order: Order,
    *,
    bound: dict[str, forms.Form] | None = None,
    status: int = 200,
    action_error: str = "",
) -> HttpResponse:
    lines = list(selectors.order_lines(order))
    response = render_page(
        request,
        "console/orders/detail.html",
        {
            "order": order,
            "lines": lines,
            "refunds": selectors.order_refunds(order),
            "redemption": selectors.coupon_redemption(order),
            "attribution": selectors.order_attribution(order),
            "history": order_history(order),
            "action_error": action_error,
            "action_forms": _forms(request, order, lines, bound or {}),
            "refundable": commerce_selectors.refundable_amount(order),
            "tracking_url": tracking_url(order.carrier, order.tracking_number),
            "customer_visible": order.customer_id is not None
            and selectors.customers_for(request.user).filter(pk=order.customer_id).exists(),
            # Coupons and points the store's till redeemed on this sale, and whether it was voided
            # (only a POS sale is tied to what a till redeemed).
            **records_context(
                request,
                till_records.order_till_records(actor_for(request), order)
                if order.sales_channel == SalesChannel.POS
                else [],
            ),
        },
    )
    response.status_code = status
    return response


def _act(
    request: ConsoleRequest,
    pk: int,
    action: str,
    form: forms.Form,
    run: Callable[[Order, dict[str, Any]], object],
    done: str,
) -> HttpResponse:
    order = _order(request, pk)
    if not form.is_valid():
        return _detail_page(request, order, bound={action: form}, status=400)
    try:
        run(order, form.cleaned_data)
    except OrderError as exc:
        order = _order(request, pk)
        if exc.status == 409:
            # The form may be gone (the state no longer allows it): the page says why, on top.
            message = pgettext(
                "orders", "訂單目前為「%(status)s」，無法執行此動作；頁面已更新為最新狀態。"
            ) % {"status": order.get_status_display()}
            return _detail_page(request, order, status=409, action_error=message)
        if exc.field in form.fields:
            form.add_error(exc.field, exc.message)
        else:
            form.add_error(None, exc.message)
        return _detail_page(request, order, bound={action: form}, status=exc.status)
    messages.success(request, done)
    return redirect("console:order_detail", pk=pk)


@console_view(MANAGE)
@require_POST
def order_pay(request: ConsoleRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    return _act(
        request,
        pk,
        "pay",
        PayForm(request.POST),
        lambda order, data: commerce.mark_paid(order, actor=actor, note=data["note"]),
        pgettext("orders", "訂單已標記為已付款。"),
    )


@console_view(MANAGE)
@require_POST
def order_fulfil(request: ConsoleRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    order = _order(request, pk)
    return _act(
        request,
        pk,
        "fulfil",
        FulfilForm(request.POST, order=order),
        lambda order, data: commerce.fulfil(
            order,
            actor=actor,
            carrier=data["carrier"],
            tracking_number=data["tracking_number"],
            note=data["note"],
        ),
        pgettext("orders", "訂單已出貨 / 取貨。"),
    )


@console_view(MANAGE)
@require_POST
def order_cancel(request: ConsoleRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    return _act(
        request,
        pk,
        "cancel",
        CancelForm(request.POST),
        lambda order, data: commerce.cancel(order, actor=actor, reason=data["reason"]),
        pgettext("orders", "訂單已取消，保留的庫存與點數已退回。"),
    )


@console_view(REFUND)
@require_POST
def order_refund(request: ConsoleRequest, pk: int) -> HttpResponse:
    actor = actor_for(request)
    order = _order(request, pk)

    def run(order: Order, data: dict[str, Any]) -> None:
        commerce.refund(
            order,
            RefundIn(
                external_id=f"console-{data['token']}",
                amount=data.get("amount_minor"),
                reason=data["reason"],
                lines=data["lines"],
                restock=data["restock"],
            ),
            actor=actor,
        )

    return _act(
        request,
        pk,
        "refund",
        RefundForm(request.POST, order=order, lines=list(selectors.order_lines(order))),
        run,
        pgettext("orders", "退款已完成。"),
    )


# --- the order's history, in sentences ----------------------------------------------------------


def _who(action: OrderAction) -> str:
    if action.actor_user is not None:
        return action.actor_user.get_full_name() or action.actor_user.get_username()
    label = action.actor_label
    if label.startswith("api_key:"):
        return pgettext("orders", "API 金鑰 %(prefix)s") % {"prefix": label.removeprefix("api_key:")}
    if label.startswith("user:"):
        return label.removeprefix("user:")
    return pgettext("orders", "系統")


def _sentence(order: Order, action: OrderAction) -> str:
    who = _who(action)
    detail = action.detail or {}
    if action.kind == OrderAction.Kind.PAID:
        text = pgettext("orders", "%(who)s 將訂單標記為已付款。") % {"who": who}
        if action.reason:
            text += " " + pgettext("orders", "備註：%(note)s") % {"note": action.reason}
        return text
    if action.kind == OrderAction.Kind.FULFILLED:
        carrier = detail.get("carrier") or ""
        if carrier:
            text = pgettext("orders", "%(who)s 以%(carrier)s出貨，追蹤號碼 %(number)s。") % {
                "who": who,
                "carrier": Carrier(carrier).label if carrier in Carrier.values else carrier,
                "number": detail.get("tracking_number") or "—",
            }
        else:
            text = pgettext("orders", "%(who)s 完成出貨 / 取貨。") % {"who": who}
        if detail.get("paid_on_delivery"):
            text += " " + pgettext("orders", "同時收款。")
        if action.reason:
            text += " " + pgettext("orders", "備註：%(note)s") % {"note": action.reason}
        return text
    if action.kind == OrderAction.Kind.CANCELLED:
        return pgettext("orders", "%(who)s 取消了訂單，原因：%(reason)s。") % {
            "who": who,
            "reason": action.reason or "—",
        }
    text = pgettext("orders", "%(who)s 退款 %(amount)s，原因：%(reason)s。") % {
        "who": who,
        "amount": format_money(int(detail.get("amount") or 0), order.currency),
        "reason": action.reason or "—",
    }
    if detail.get("restock"):
        text += " " + pgettext("orders", "商品已退回庫存。")
    return text


def order_history(order: Order) -> list[dict[str, Any]]:
    """Who did what when, oldest first, starting with the order being recorded."""
    history: list[dict[str, Any]] = [
        {
            "at": order.placed_at,
            "text": pgettext("orders", "訂單成立（%(channel)s）。")
            % {"channel": order.get_sales_channel_display()},
        }
    ]
    for action in commerce_selectors.order_history(order):
        history.append({"at": action.created_at, "text": _sentence(order, action)})
    return history
