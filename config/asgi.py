"""ASGI entry point: HTTP goes to Django, WebSockets to Channels consumers (config/routing.py)."""

from __future__ import annotations

import os
from typing import cast

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

# Set Django up before anything imports models (consumers, routing).
django_asgi_app = get_asgi_application()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402

from config.routing import websocket_urlpatterns  # noqa: E402
from omo.connectors.shopify.edge import shopify_edge  # noqa: E402
from omo.core.channel_layer import remember_server_loop  # noqa: E402
from omo.core.edge import ASGIApp, Receive, Scope, Send  # noqa: E402
from omo.platforms.edge import webhook_edge  # noqa: E402
from omo.tracking.edge import tracking_edge  # noqa: E402


def websocket_application() -> AllowedHostsOriginValidator:
    """Origin must match ALLOWED_HOSTS; the session cookie signs the user in; then the route."""
    return AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns)))


# Every external sender's webhook (platforms at /webhooks/<platform>/<inbox id>, Shopify at
# /webhooks/shopify/<connection id>) and the tracking API (/v1/...) are answered by lean ASGI edges
# before Django (omo/core/edge.py, docs/adr-003-webhook-edge.md); every other request goes to Django.
shopify = shopify_edge(cast(ASGIApp, django_asgi_app))
tracking = tracking_edge(shopify)
webhooks = webhook_edge(tracking)
router = ProtocolTypeRouter({"http": webhooks, "websocket": websocket_application()})


def release_connections() -> None:
    """Close the database connections the edges hold (an in-process test server that stops)."""
    webhooks.release_connections()
    tracking.release_connections()
    shopify.release_connections()


async def application(scope: Scope, receive: Receive, send: Send) -> None:
    """The router, after noting which event loop serves the sockets (see omo/core/channel_layer.py)."""
    remember_server_loop()
    await router(scope, receive, send)
