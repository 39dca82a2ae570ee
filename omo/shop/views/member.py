"""The member page, reached through a signed member link."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from omo.commerce import shop_links
from omo.core.models import Brand
from omo.shop import selectors
from omo.shop.session import ShopSession
from omo.shop.views.base import render_shop, shop_view


@never_cache
@require_GET
@shop_view
def member(request: HttpRequest, brand: Brand, shop: ShopSession, token: str) -> HttpResponse:
    try:
        customer = shop_links.member_from_token(brand, token)
    except shop_links.MemberLinkError as exc:
        return render_shop(
            request, brand, shop, "member_link_error.html", {"reason": exc.reason}, status=exc.status
        )
    shop.recognise_member(customer.pk)
    return render_shop(request, brand, shop, "member.html", {"page": selectors.member_page(customer)})
