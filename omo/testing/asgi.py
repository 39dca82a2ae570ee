"""config.asgi.application (edges, Django, sockets) under uvicorn in a thread, for tests that need
what `omo serve` runs; pytest-django's live_server speaks WSGI: no sockets, no ingest edges."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_asgi() -> Iterator[str]:
    """Yields the server's base URL; on exit stops it and closes the edges' database connections."""
    import uvicorn

    from config.asgi import application, release_connections

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(application, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        release_connections()  # the edges' own connections, or the test database cannot be dropped
