"""Loyalty: tiers with their member counts, coupons with their codes and usage."""

from __future__ import annotations

from django.http import Http404, HttpResponse

from omo.console import selectors
from omo.console.access import ConsoleRequest, actor_for, console_view
from omo.console.pages import paginate, render_page
from omo.loyalty import selectors as loyalty_selectors
from omo.loyalty.models import Coupon
from omo.staff.roles import Scope


@console_view("loyalty.read")
def tier_list(request: ConsoleRequest) -> HttpResponse:
    return render_page(
        request,
        "console/loyalty/tiers.html",
        {
            "tiers": loyalty_selectors.tiers_with_members(actor_for(request)),
            # HQ admins edit tiers and points rules on the settings page
            "may_edit": request.user.can("rules.write"),
        },
    )


@console_view("loyalty.read")
def coupon_list(request: ConsoleRequest) -> HttpResponse:
    return render_page(
        request,
        "console/loyalty/coupons.html",
        {"page": paginate(request, loyalty_selectors.coupon_list(actor_for(request)))},
    )


@console_view("loyalty.read")
def coupon_detail(request: ConsoleRequest, pk: int) -> HttpResponse:
    try:
        coupon = selectors.coupon_detail(request.user, pk)
    except Coupon.DoesNotExist as exc:
        raise Http404 from exc
    return render_page(
        request,
        "console/loyalty/coupon_detail.html",
        {
            "coupon": coupon,
            "page": paginate(request, selectors.coupon_codes(coupon)),
            # Who holds a code is customer data; store managers see it only through their customers.
            "show_customers": request.user.scope == Scope.BRAND,
        },
    )
