"""Signing in to the shop with LINE, inside LINE: the LIFF page a product card opens.

A card sent on LINE, when the brand's LINE account has a LIFF app and a LINE Login channel, links
to `https://liff.line.me/<liff id>/shop?r=<tracked-link token>`. LINE opens it below the LIFF
app's endpoint URL (`<OMO_BASE_URL>/b/liff/`), so this page is served at `/b/liff/shop` (LIFF
runs only below its endpoint URL). The page gets the ID token from LIFF (never profile data,
platforms.md §A10) and posts it here; the server asks LINE Login whose it is, recognises this
browser as the customer who holds that LINE user (session key `shop:<brand id>:member`, as a
member link does) and sends the browser on to `/r/<token>`, which records the click and opens
the product. Without a login the card still works: `/r/<token>` opens the product unrecognised.

Thin: parse, check, call one service (omo.binding.services.line_shopper).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie
from django.views.decorators.http import require_GET, require_POST

from omo.attribution import links
from omo.attribution import services as attribution
from omo.attribution.models import LinkIssue
from omo.binding import services as binding
from omo.binding.liff_requests import liff_error, read_liff_body
from omo.shop.session import ShopSession

REAL_LINE_API = "https://api.line.me"
LIFF_SDK_URL = "https://static.line-scdn.net/liff/edge/2/sdk.js"


def _click_url(token: str) -> str:
    return reverse("attribution:click", kwargs={"token": token})


def _link(token: str) -> LinkIssue:
    return attribution.resolve_link(token)


@never_cache
@ensure_csrf_cookie
@require_GET
def page(request: HttpRequest) -> HttpResponse:
    """`/b/liff/shop?r=<token>`: sign in with LINE, then on to the product."""
    token = request.GET.get("r", "")
    try:
        link = _link(token)
    except links.LinkError as exc:
        return render(request, "attribution/link_error.html", {"reason": exc.reason}, status=exc.status)
    inbox = binding.line_inbox_of(link.brand_id)
    if not binding.liff_ready(inbox):
        return HttpResponseRedirect(_click_url(token))  # no LIFF on this brand: the plain card link
    # LINE's SDK only for a real LIFF app on the real LINE; against the stand-in (demo, tests) the
    # phone simulator hands the page a stand-in ID token in the URL fragment instead.
    use_sdk = settings.OMO_LINE_API_BASE == REAL_LINE_API
    context = {
        "brand": link.brand,
        "token": token,
        "next_url": _click_url(token),
        "liff_id": binding.liff_id_of(inbox) if use_sdk else "",
        "sdk_url": LIFF_SDK_URL if use_sdk else "",
        "stand_in": not use_sdk,
    }
    return render(request, "shop/liff.html", context)


@never_cache
@require_POST
def sign_in(request: HttpRequest) -> JsonResponse:
    """`POST /b/liff/shop/signin` `{idToken, r}` (JSON, with the page's CSRF token) → recognised."""
    if request.content_type != "application/json":
        return liff_error("body", 'send JSON: {"idToken": …, "r": …}', 415)
    read = read_liff_body(request, "r")
    if isinstance(read, JsonResponse):
        return read
    id_token, token = read
    try:
        link = _link(token)
    except links.LinkError as exc:
        return liff_error("r", exc.message, exc.status)
    try:
        customer = binding.line_shopper(link.brand_id, id_token)
    except binding.BindingError as exc:
        return liff_error(exc.field, exc.message, exc.status)
    shop = ShopSession(request, link.brand)
    shop.recognise_line_member(customer.pk)
    return JsonResponse({"ok": True, "next": _click_url(token)})
