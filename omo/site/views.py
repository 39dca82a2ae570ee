"""`/`: what this installation is and where each kind of visitor goes; the shared error pages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template import loader
from django.views.decorators.csrf import requires_csrf_token

from omo.core import frontdoor
from omo.core.models import Brand


def home(request: HttpRequest) -> HttpResponse:
    """Where to go: HQ console, clerk app, each brand's shop, the API docs (and, in a demo, the
    phone simulator). Only what a passer-by may see: shop names are public anyway."""
    brands = Brand.objects.order_by("name").values("name", "slug")
    return render(
        request,
        "site/home.html",
        {
            "brands": list(brands),
            "simulator": settings.DEBUG or settings.OMO_DEVTOOLS,
            "demo": frontdoor.notes().get("demo"),
        },
    )


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse(loader.render_to_string("site/404.html", {"path": request.path}, request), status=404)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """Rendered without the request's context processors, as Django's own handler does: whatever
    failed must not fail again here."""
    return HttpResponse(loader.render_to_string("site/500.html"), status=500)
