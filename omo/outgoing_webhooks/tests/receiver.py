"""A real HTTP receiver on 127.0.0.1 for webhook tests: it records every request it gets and answers
as told (fail the next N requests with some status, answer 410, hang longer than the timeout)."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    answered: int


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    requests: list[Received] = field(default_factory=list)
    # Answers for the next requests, in order: (status, extra headers, seconds to wait first).
    script: deque[tuple[int, dict[str, str], float]] = field(default_factory=deque)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/omo"

    def fail(self, times: int, status: int = 500, headers: dict[str, str] | None = None) -> None:
        for _ in range(times):
            self.script.append((status, headers or {}, 0.0))

    def hang(self, seconds: float, times: int = 1) -> None:
        for _ in range(times):
            self.script.append((200, {}, seconds))

    def next_answer(self) -> tuple[int, dict[str, str], float]:
        with self.lock:
            return self.script.popleft() if self.script else (200, {}, 0.0)


def start() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            status, headers, wait = receiver.next_answer()
            if wait:
                time.sleep(wait)
            with receiver.lock:
                receiver.requests.append(Received(self.path, dict(self.headers.items()), body, status))
            payload = b'{"ok":true}' if status < 300 else b'{"error":"nope"}'
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up (timeout test)
                pass

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, daemon=True, name="webhook-receiver").start()
    return receiver
