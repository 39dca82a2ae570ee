"""Binding links, QR codes, the printable poster and the LIFF endpoint. Thin: parse, check, call services."""

from __future__ import annotations

import re
from urllib.parse import parse_qs

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from omo.binding import qr, selectors, services
from omo.binding.liff_requests import liff_error, read_liff_body
from omo.binding.models import ClerkCode
from omo.staff.models import User
from omo.staff.requests import SignedInRequest
from omo.staff.roles import Role

REAL_LINE_API = "https://api.line.me"
LIFF_SDK_URL = "https://static.line-scdn.net/liff/edge/2/sdk.js"
LIFF_ID = re.compile(r"[0-9]{6,20}-[0-9A-Za-z]{4,20}")


def _unavailable(request: HttpRequest, *, code: ClerkCode | None, status: int, reason: str) -> HttpResponse:
    """The friendly page for an unknown code or a departed clerk: where to go instead."""
    inbox = services.line_inbox_of(code.brand_id) if code is not None else None
    store = code.clerk.store if code is not None and code.clerk.store_id else None
    context = {
        "reason": reason,
        "clerk": code.clerk if code is not None else None,
        "store": store,
        "add_friend_url": services.add_friend_url(inbox),
    }
    return render(request, "binding/unavailable.html", context, status=status)


@require_GET
def clerk_link(request: HttpRequest, code: str) -> HttpResponse:
    """`/b/<code>`: to LIFF when the brand has it, else to LINE's prefilled-message chat."""
    clerk_code = selectors.find_code(code)
    if clerk_code is None:
        return _unavailable(request, code=None, status=404, reason="unknown")
    if not clerk_code.clerk.is_active:
        return _unavailable(request, code=clerk_code, status=410, reason="departed")
    try:
        target = services.link_target(clerk_code)
    except services.BindingError:
        return _unavailable(request, code=clerk_code, status=503, reason="no_line")
    return HttpResponseRedirect(target)


def _code_or_404(code: str) -> ClerkCode:
    clerk_code = selectors.find_code(code)
    if clerk_code is None:
        raise Http404("unknown clerk code")
    return clerk_code


@require_GET
@cache_control(max_age=86400, public=True)
def qr_png(request: HttpRequest, code: str) -> HttpResponse:
    clerk_code = _code_or_404(code)
    return HttpResponse(qr.qr_png(services.binding_url(clerk_code.code)), content_type="image/png")


@require_GET
@cache_control(max_age=86400, public=True)
def qr_svg(request: HttpRequest, code: str) -> HttpResponse:
    clerk_code = _code_or_404(code)
    return HttpResponse(qr.qr_svg(services.binding_url(clerk_code.code)), content_type="image/svg+xml")


def _may_print(user: User, clerk: User) -> bool:
    if user.brand_id is None or user.brand_id != clerk.brand_id or not user.is_active:
        return False
    if user.role in (Role.HQ_ADMIN, Role.HQ_AGENT):
        return True
    if user.role == Role.STORE_MANAGER:
        return user.store_id is not None and user.store_id == clerk.store_id
    return user.pk == clerk.pk


@require_GET
@login_required
def poster(request: SignedInRequest, code: str) -> HttpResponse:
    """A printable A5 (default) or A4 poster: name, photo, store, QR, instructions in zh-Hant and English."""
    clerk_code = _code_or_404(code)
    if not _may_print(request.user, clerk_code.clerk):
        raise Http404("unknown clerk code")  # another brand's or clerk's code: as if it did not exist
    size = request.GET.get("size", "a5").lower()
    if size not in ("a4", "a5"):
        return HttpResponse("size must be a4 or a5", status=400, content_type="text/plain; charset=utf-8")
    url = services.binding_url(clerk_code.code)
    context = {
        "clerk": clerk_code.clerk,
        "store": clerk_code.clerk.store,
        "code": clerk_code.code,
        "url": url,
        "qr_svg": qr.qr_svg_inline(url),
        "size": size,
    }
    return render(request, "binding/poster.html", context)


def _clerk_param(request: HttpRequest) -> str:
    """The clerk code, also when LIFF delivered it inside `liff.state` (before the secondary redirect)."""
    if request.GET.get("clerk"):
        return request.GET["clerk"]
    state = request.GET.get("liff.state", "")
    return (parse_qs(state.lstrip("/").lstrip("?")).get("clerk") or [""])[0]


# Pages below the LIFF endpoint URL that a LIFF URL's extra path may name (the shop's sign-in).
LIFF_SUB_PAGES = ("/shop",)


def _forward(request: HttpRequest, state: str) -> HttpResponse:
    """LIFF's primary redirect for `https://liff.line.me/<id>/shop?…`: `liff.init()` on this page
    performs the secondary redirect to `/b/liff/shop?…`; without the SDK (stand-in) we do it."""
    if settings.OMO_LINE_API_BASE != REAL_LINE_API:
        return HttpResponseRedirect("/b/liff" + state)
    query = state.partition("?")[2]
    liff_id = (parse_qs(query).get("liff") or [""])[0]
    if not LIFF_ID.fullmatch(liff_id):
        return _unavailable(request, code=None, status=404, reason="unknown")
    return render(request, "binding/liff_forward.html", {"sdk_url": LIFF_SDK_URL, "liff_id": liff_id})


@require_GET
def liff_page(request: HttpRequest) -> HttpResponse:
    """The LIFF endpoint page. It loads LINE's SDK only for a real LIFF app on the real LINE; in the
    demo and tests the phone simulator posts a stand-in ID token to `liff/bind` itself."""
    state = request.GET.get("liff.state", "")
    if not request.GET.get("clerk") and state.startswith(LIFF_SUB_PAGES) and "//" not in state:
        return _forward(request, state)
    clerk_code = selectors.find_code(_clerk_param(request))
    if clerk_code is None:
        return _unavailable(request, code=None, status=404, reason="unknown")
    if not clerk_code.clerk.is_active:
        return _unavailable(request, code=clerk_code, status=410, reason="departed")
    inbox = services.line_inbox_of(clerk_code.brand_id)
    liff_id = services.liff_id_of(inbox)
    use_sdk = bool(liff_id) and settings.OMO_LINE_API_BASE == REAL_LINE_API
    context = {
        "clerk": clerk_code.clerk,
        "store": clerk_code.clerk.store,
        "code": clerk_code.code,
        "liff_id": liff_id if use_sdk else "",
        "sdk_url": LIFF_SDK_URL if use_sdk else "",
        "add_friend_url": services.add_friend_url(inbox),
    }
    return render(request, "binding/liff.html", context)


@csrf_exempt  # no cookie session here: the LINE ID token in the body is what authenticates the request
@require_POST
def liff_bind(request: HttpRequest) -> JsonResponse:
    """`POST /b/liff/bind` `{idToken, clerk}` → bind; the page then shows the add-friend prompt."""
    read = read_liff_body(request, "clerk")
    if isinstance(read, JsonResponse):
        return read
    id_token, code = read
    try:
        result = services.bind_via_liff(code, id_token)
    except services.BindingError as exc:
        return liff_error(exc.field, exc.message, exc.status)
    return JsonResponse(
        {
            "ok": True,
            "outcome": result.outcome,
            "message": result.message,
            "clerk": {"name": result.clerk_name, "store": result.store_name},
            "add_friend_url": result.add_friend_url,
        }
    )
