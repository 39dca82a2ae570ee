"""`/r/<token>`: record the click of a tracked link, then send the browser into the brand's shop."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from omo.attribution import links, services


def _client_ip(request: HttpRequest) -> str | None:
    return request.META.get("REMOTE_ADDR") or None


@never_cache
@require_GET
def click(request: HttpRequest, token: str) -> HttpResponse:
    try:
        link = services.resolve_link(token)
    except links.LinkError as exc:
        # A friendly page on our own host, never a redirect: a bad token names no shop we trust.
        return render(request, "attribution/link_error.html", {"reason": exc.reason}, status=exc.status)
    if not request.session.session_key:
        request.session.save()
    outcome = services.record_click(
        link,
        user_agent=request.META.get("HTTP_USER_AGENT", ""),
        ip_address=_client_ip(request),
        session_key=request.session.session_key or "",
    )
    response = HttpResponseRedirect(outcome.redirect_to)
    response["Referrer-Policy"] = "no-referrer"  # the token stays out of the shop's logs
    return response
