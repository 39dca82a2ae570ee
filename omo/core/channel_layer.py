"""Sending to Channels groups from synchronous code in any thread of any process.

With the Redis layer any thread may call `async_to_sync(layer.group_send)`. The in-memory layer
keeps its queues on the web server's event loop, and asyncio queues are not thread-safe: a send
from another thread's private loop (a worker running inside the server, `omo serve
--with-worker`) would not wake the socket waiting on them. Such sends are handed to the server's
loop, which `remember_server_loop` (called by the ASGI application) records.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer

SEND_TIMEOUT = 5.0

_server_loop: asyncio.AbstractEventLoop | None = None


def remember_server_loop() -> None:
    """Record the running loop as the one that serves sockets (cheap; call from async code)."""
    global _server_loop
    loop = asyncio.get_running_loop()
    if _server_loop is not loop:
        _server_loop = loop


def group_send(layer: BaseChannelLayer, group: str, message: dict[str, Any]) -> None:
    loop = _server_loop
    if isinstance(layer, InMemoryChannelLayer) and loop is not None and loop.is_running():
        try:
            current = asyncio.get_running_loop()
        except RuntimeError:
            current = None
        if current is None:
            # A plain thread (no loop of its own): run the send on the server's loop and wait for it.
            asyncio.run_coroutine_threadsafe(layer.group_send(group, message), loop).result(SEND_TIMEOUT)
            return
    async_to_sync(layer.group_send)(group, message)
