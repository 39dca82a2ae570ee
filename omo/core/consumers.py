"""A tiny WebSocket consumer that proves the stack (origin check, session auth, routing) works."""

from __future__ import annotations

from typing import Any

from channels.generic.websocket import AsyncJsonWebsocketConsumer

# Close code for "not signed in" (the 4000-4999 range is for applications).
CLOSE_UNAUTHENTICATED = 4401


class PingConsumer(AsyncJsonWebsocketConsumer):
    """`/ws/ping/`: accepts a signed-in, active staff user and echoes every JSON message back."""

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        await self.accept()

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        await self.send_json({"type": "pong", "user": self.scope["user"].get_username(), "echo": content})
