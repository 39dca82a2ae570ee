"""Sending to Channels groups from synchronous code in any thread of any process.

`async_to_sync(layer.group_send)` from a thread without an event loop starts a fresh loop for every
call; with the Redis layer each fresh loop also opens fresh Redis connections (channels_redis keeps
its pools per loop). Measured in a worker: ~4 ms per group, several groups per event. So sync code
here sends through one long-lived loop on a daemon thread ("omo-channel-sender"), all groups of an
event in one go, over connections that stay open.

The in-memory layer keeps its queues on the web server's event loop, and asyncio queues are not
thread-safe: its sends are handed to that loop, which `remember_server_loop` (called by the ASGI
application) records. Without a known server loop (tests driving consumers directly) the plain
`async_to_sync` path is used.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, InMemoryChannelLayer

SEND_TIMEOUT = 5.0

_server_loop: asyncio.AbstractEventLoop | None = None
_sender_loop: asyncio.AbstractEventLoop | None = None
_sender_lock = threading.Lock()


def remember_server_loop() -> None:
    """Record the running loop as the one that serves sockets (cheap; call from async code)."""
    global _server_loop
    loop = asyncio.get_running_loop()
    if _server_loop is not loop:
        _server_loop = loop


def _sender() -> asyncio.AbstractEventLoop:
    global _sender_loop
    with _sender_lock:
        if _sender_loop is None or _sender_loop.is_closed():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="omo-channel-sender", daemon=True).start()
            _sender_loop = loop
        return _sender_loop


async def _send_all(layer: BaseChannelLayer, groups: list[str], message: dict[str, Any]) -> list[Any]:
    return await asyncio.gather(
        *(layer.group_send(group, message) for group in groups), return_exceptions=True
    )


def group_send_many(
    layer: BaseChannelLayer, groups: Iterable[str], message: dict[str, Any]
) -> list[BaseException]:
    """Send `message` to every group; returns the errors (a failed group does not stop the others)."""
    groups = sorted(set(groups))
    if not groups:
        return []
    try:
        asyncio.get_running_loop()
        in_loop_thread = True
    except RuntimeError:
        in_loop_thread = False
    if isinstance(layer, InMemoryChannelLayer):
        loop = _server_loop
        if loop is None or not loop.is_running() or in_loop_thread:
            results = async_to_sync(_send_all)(layer, groups, message)
        else:
            results = asyncio.run_coroutine_threadsafe(_send_all(layer, groups, message), loop).result(
                SEND_TIMEOUT
            )
    elif in_loop_thread:
        results = async_to_sync(_send_all)(layer, groups, message)
    else:
        results = asyncio.run_coroutine_threadsafe(_send_all(layer, groups, message), _sender()).result(
            SEND_TIMEOUT
        )
    return [result for result in results if isinstance(result, BaseException)]


def group_send(layer: BaseChannelLayer, group: str, message: dict[str, Any]) -> None:
    errors = group_send_many(layer, [group], message)
    if errors:
        raise errors[0]
