"""WebSocket routes. Each app adds its consumers to this one list."""

from __future__ import annotations

from django.urls import path

from omo.core.consumers import PingConsumer
from omo.inbox.consumers import InboxConsumer

websocket_urlpatterns = [
    path("ws/ping/", PingConsumer.as_asgi()),
    path("ws/inbox/", InboxConsumer.as_asgi()),
]
