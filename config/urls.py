from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.urls import include, path, re_path
from django.views.static import serve

from config.api import api
from omo.connectors.shopify.views import shopify_webhook
from omo.core.views import healthz
from omo.shop.views import liff as shop_liff
from omo.site import views as site_views

handler404 = site_views.not_found
handler500 = site_views.server_error

urlpatterns = [
    path("", site_views.home, name="home"),
    path("healthz", healthz, name="healthz"),
    path("webhooks/shopify/<int:connection_id>", shopify_webhook, name="shopify_webhook"),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("console/", include("omo.console.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("shop/", include("omo.shop.urls")),
    # The shop's LINE sign-in sits below the LIFF app's endpoint URL (/b/liff/): LIFF runs only there.
    path("b/liff/shop", shop_liff.page, name="shop-liff"),
    path("b/liff/shop/signin", shop_liff.sign_in, name="shop-liff-signin"),
    path("b/", include("omo.binding.urls")),
    path("r/", include("omo.attribution.urls")),
    path("clerk/", include("omo.clerk.urls")),
    path("v1/", include("omo.tracking.urls")),  # Segment-spec tracking API
]

if settings.OMO_SERVE_MEDIA:
    # Uploads on the one-machine setup: `serve` refuses paths outside MEDIA_ROOT and answers
    # If-Modified-Since; a front web server takes this over with OMO_SERVE_MEDIA=0.
    def media(request: HttpRequest, path: str) -> HttpResponseBase:
        return serve(request, path, document_root=str(settings.MEDIA_ROOT))

    urlpatterns.append(re_path(r"^media/(?P<path>.+)$", media, name="media"))

if settings.DEBUG or settings.OMO_DEVTOOLS:
    # The phone simulator drives the local LINE stand-in: demo and tests only, never production.
    urlpatterns.append(path("dev/simulator/", include("omo.devtools.simulator")))
