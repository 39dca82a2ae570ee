"""The REST API at /api/v1/: one NinjaAPI, every app's router, errors as JSON, local docs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import ninja
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.template import Context, Template
from django.urls import path, reverse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError
from ninja.openapi.docs import DocsBase
from ninja.openapi.schema import OpenAPISchema

from omo.attribution.api import router as attribution_router
from omo.attribution.commission_api import router as commission_router
from omo.binding.api import router as binding_router
from omo.binding.bindings_api import router as bindings_router
from omo.catalog.api import router as catalog_router
from omo.commerce.api import router as commerce_router
from omo.core.api import BearerKey, page_param_error
from omo.core.api import router as core_router
from omo.core.errors import DomainError
from omo.customers.api import router as customers_router
from omo.inbox.api import router as inbox_router
from omo.inbox.conversations_api import router as conversations_router
from omo.loyalty.api import router as loyalty_router
from omo.loyalty.till_api import router as till_router
from omo.platforms.api import router as platforms_router
from omo.platforms.usage_api import router as message_usage_router
from omo.segments.api import router as segments_router
from omo.segments.scores_api import router as segment_scores_router
from omo.staff.api import router as staff_router
from omo.tracking.api import router as tracking_router

NINJA_STATIC = Path(ninja.__file__).parent / "static" / "ninja"
DOCS_ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui-init.js": "text/javascript",
    "favicon.svg": "image/svg+xml",
    "favicon.png": "image/png",
}

_DOCS_PAGE = Template("""<!DOCTYPE html>
<html>
<head>
  <meta charset="utf-8">
  <title>{{ title }}</title>
  <link rel="stylesheet" href="{{ assets }}swagger-ui.css">
  <link rel="icon" href="{{ assets }}favicon.svg" type="image/svg+xml">
</head>
<body data-csrf-token="" data-api-csrf="">
  <script type="application/json" id="swagger-settings">{{ settings|safe }}</script>
  <div id="swagger-ui"></div>
  <script src="{{ assets }}swagger-ui-bundle.js"></script>
  <script src="{{ assets }}swagger-ui-init.js"></script>
</body>
</html>""")


class LocalSwagger(DocsBase):
    """Swagger UI from the files django-ninja ships, served by this API: nothing from a CDN."""

    def render_page(self, request: HttpRequest, api: NinjaAPI, **kwargs: Any) -> HttpResponse:
        settings = {
            "url": self.get_openapi_url(api, kwargs),
            "layout": "BaseLayout",
            "deepLinking": True,
            "persistAuthorization": True,
        }
        assets = reverse(f"{api.urls_namespace}:docs-asset", kwargs={"name": "x"})[: -len("x")]
        html = _DOCS_PAGE.render(
            Context(
                {"title": api.title, "assets": assets, "settings": json.dumps(settings).replace("</", "<\\/")}
            )
        )
        return HttpResponse(html)


def docs_asset(request: HttpRequest, name: str) -> FileResponse:
    if name not in DOCS_ASSETS:
        raise Http404(name)
    response = FileResponse((NINJA_STATIC / name).open("rb"), content_type=DOCS_ASSETS[name])
    response["Cache-Control"] = "public, max-age=86400"
    return response


class SchemaNameClash(RuntimeError):
    """Two different shapes would be published under one component name."""


class StrictOpenAPISchema(OpenAPISchema):
    """ninja keeps the last of two component schemas with the same name (two enums both called
    `Status`, say), so an endpoint's document silently describes another endpoint's type. Refuse
    that instead: the document is built in the test suite, so a clash fails there."""

    def add_schema_definitions(self, definitions: dict[str, Any]) -> None:
        for name, definition in definitions.items():
            known = self.schemas.get(name)
            if known is not None and known != definition:
                raise SchemaNameClash(
                    f"two different schemas are named {name!r} in the OpenAPI document; "
                    "give one of them its own name"
                )
        super().add_schema_definitions(definitions)


class OmoApi(NinjaAPI):
    def _get_urls(self) -> list[Any]:
        return [path("docs/assets/<str:name>", docs_asset, name="docs-asset"), *super()._get_urls()]

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        return StrictOpenAPISchema(self, path_prefix)


api = OmoApi(
    title="omo API",
    version="1",
    description=(
        "REST API of omo. Every endpoint takes `Authorization: Bearer <api key>`. Amounts are integer "
        "minor units of `currency` (TWD: NT$1 = 100). Lists take `limit` (1 to 500) and `offset` "
        "(0 to 1,000,000,000) and answer `{total, limit, offset, items}`; a bad one answers 400 "
        "`invalid_page` naming it. Errors answer `{detail, code, field}`."
    ),
    urls_namespace="api-v1",
    auth=BearerKey(),
    docs=LocalSwagger(),
)

for router in (
    core_router,
    staff_router,
    catalog_router,
    customers_router,
    commerce_router,
    till_router,  # before loyalty's: /coupons/validate is not /coupons/{coupon_id}
    loyalty_router,
    platforms_router,
    message_usage_router,
    tracking_router,
    bindings_router,
    conversations_router,
    segment_scores_router,  # before the segments' own: /segments/scores is not /segments/{segment_id}
    segments_router,
):
    api.add_router("", router)
# the brand's rules under /settings/... (binding, inbox, attribution; loyalty's are in its router)
for router in (binding_router, inbox_router, attribution_router, commission_router):
    api.add_router("", router)


# --- errors as JSON ---------------------------------------------------------------------------


def _error(
    request: HttpRequest, status: int, detail: Any, code: str, field: str | None = None, **extra: Any
) -> HttpResponse:
    body: dict[str, Any] = {"detail": detail, "code": code}
    if field:
        body["field"] = field
    body.update(extra)
    return api.create_response(request, body, status=status)


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    429: "throttled",
}


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    response = _error(
        request, 401, "missing, unknown or revoked API key: send Authorization: Bearer <key>", "unauthorized"
    )
    response["WWW-Authenticate"] = 'Bearer realm="omo"'
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    cause = exc.__cause__
    if exc.status_code == 400 and isinstance(cause, (json.JSONDecodeError, UnicodeDecodeError)):
        return _error(request, 400, f"the request body is not valid JSON: {cause}", "malformed_json")
    return _error(request, exc.status_code, exc.message, _HTTP_CODES.get(exc.status_code, "error"))


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    # A page beyond the databases' integers used to reach SQL (500); a bad page parameter is the
    # client's mistake and names itself. Every other field keeps ninja's 422 with the details.
    bad_page = page_param_error(exc.errors)
    if bad_page is not None:
        name, sentence = bad_page
        return _error(request, 400, sentence, "invalid_page", field=name)
    return api.create_response(request, {"detail": exc.errors}, status=422)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return _error(request, 404, "not found", "not_found")


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    # Every app's refusal states its own status, code and field where it is raised.
    return api.create_response(request, exc.body(), status=exc.status)
