"""Orders from every sales channel: a filtered list and one order's detail."""

from __future__ import annotations

from django.http import Http404, HttpResponse

from omo.commerce.models import Order
from omo.console import selectors
from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.forms import OrderFilterForm
from omo.console.pages import paginate, render_page
from omo.core import audit


@console_view("orders.read")
def order_list(request: ConsoleRequest) -> HttpResponse:
    form = OrderFilterForm(request.GET, user=request.user)
    orders = selectors.order_list(request.user, form.to_filters())
    return render_page(request, "console/orders/list.html", {"form": form, "page": paginate(request, orders)})


@console_view("orders.read")
def order_detail(request: ConsoleRequest, pk: int) -> HttpResponse:
    try:
        order = selectors.order_detail(request.user, pk)
    except Order.DoesNotExist as exc:
        raise Http404 from exc
    # The page shows the buyer's contact and shipping details: seeing them is audited (PDPA).
    audit.record(actor_for(request), "order.viewed", order, customer=order.customer_id)
    return render_page(
        request,
        "console/orders/detail.html",
        {
            "order": order,
            "lines": selectors.order_lines(order),
            "refunds": selectors.order_refunds(order),
            "redemption": selectors.coupon_redemption(order),
            "attribution": selectors.order_attribution(order),
            "audit_entries": selectors.audit_for(request.user, "commerce.order", order.pk),
            "customer_visible": order.customer_id is not None
            and selectors.customers_for(request.user).filter(pk=order.customer_id).exists(),
        },
    )
