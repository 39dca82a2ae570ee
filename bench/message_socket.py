"""Customer message → clerk WebSocket, end to end (target: p50 < 50 ms, p99 < 200 ms with
500 connected clerk sockets).

    DATABASE_URL=postgres://… REDIS_URL=redis://… python -m bench.message_socket --clerks 500
    python -m bench.message_socket --clerks 50          # embedded: SQLite, omo serve --with-worker

Builds a bench brand in the current database: a LINE inbox (credentials known to a LINE stand-in
started in this process), `--clerks` clerks each with a signed-in session and one bound customer.
Starts the product as it runs in production — `omo serve` plus `omo worker` when REDIS_URL is set
(Redis channel layer), `omo serve --with-worker` otherwise (in-memory layer) — opens one socket per
clerk (`/ws/inbox/`, subscribed to its list), then sends `--messages` signed LINE webhooks at
`--rate` per second, each a text from a random clerk's customer. The time measured for a message
runs from just before its webhook POST to the moment that clerk's socket receives the
`message.created` event carrying the text: the edge, the receipt commit, the worker's wake-up and
processing (contact, conversation, routing), the channel layer and the socket. All clients run in
one asyncio loop in this process; the brand is deleted afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
import uuid
from typing import IO, Any

from bench._util import ROOT, child_env, free_port, machine, percentile, setup_django, stop_process


def _build(clerks: int, standin: Any) -> dict[str, Any]:
    """The bench brand: inbox, stores, clerks with sessions, one bound customer per clerk."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from omo.binding import services as binding_services
    from omo.core.models import Brand
    from omo.inbox import ingest
    from omo.inbox.models import Inbox
    from omo.staff.models import Store, User

    tag = uuid.uuid4().hex[:8]
    brand = Brand.objects.create(name=f"Bench sockets {tag}", slug=f"bench-sockets-{tag}")
    stores = [
        Store.objects.create(
            brand=brand,
            code=f"S{i}",
            name=f"門市 {i}",
            city="台北市",
            opening_hours={
                d: [["00:00", "23:59"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
            },
        )
        for i in range(max(1, clerks // 25))
    ]
    channel = standin.add_channel()
    inbox = Inbox.objects.create(
        brand=brand,
        platform="line",
        name="bench LINE",
        external_id=channel.channel_id,
        bot_user_id=channel.bot_user_id,
        secrets={"channel_secret": channel.channel_secret, "access_token": channel.access_token},
    )
    users = []
    for i in range(clerks):
        user = User(
            brand=brand,
            username=f"bench-clerk-{tag}-{i}",
            role="clerk",
            store=stores[i % len(stores)],
            employee_code=f"B{i:04d}",
            display_name=f"店員 {i}",
        )
        user.set_unusable_password()  # no password hashing for 500 users; they sign in by session
        users.append(user)
    User.objects.bulk_create(users)
    users = list(User.objects.filter(brand=brand).order_by("id"))
    clerk_rows = []
    for user in users:
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        line_user = standin.add_user(display_name=f"顧客 {user.pk}")
        contact = ingest.get_or_create_contact(inbox, line_user.user_id, display_name=line_user.display_name)
        binding_services.bind_customer(contact.customer, user, source="manual")
        clerk_rows.append({"session": session.session_key, "line_user_id": line_user.user_id})
    return {
        "brand_id": brand.pk,
        "inbox_id": inbox.pk,
        "secret": channel.channel_secret,
        "destination": channel.bot_user_id,
        "clerks": clerk_rows,
    }


def _delete(brand_id: int) -> None:
    from omo.core.models import Brand

    Brand.objects.filter(pk=brand_id).delete()


def _start(args: list[str], env: dict[str, str], log: IO[str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "config.cli", *args], cwd=ROOT, env=env, stdout=log, stderr=log, text=True
    )


async def _wait_http(url: str, processes: list[subprocess.Popen], timeout: float = 90) -> None:
    import aiohttp

    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            for process in processes:
                if process.poll() is not None:
                    raise RuntimeError(f"a server process exited with code {process.returncode}")
            try:
                async with session.get(url) as response:
                    await response.read()
                    return
            except aiohttp.ClientError:
                await asyncio.sleep(0.3)
    raise RuntimeError(f"{url} did not answer within {timeout:.0f} s")


async def _measure(
    port: int, world: dict[str, Any], *, messages: int, rate: float, seed: int, log: Any
) -> dict[str, Any]:
    import aiohttp
    from websockets.asyncio.client import connect

    from omo.devtools import line_webhook_sender as wh

    base = f"http://127.0.0.1:{port}"
    sent_at: dict[str, float] = {}
    latencies: dict[str, float] = {}
    stray = 0

    async def open_socket(clerk: dict[str, Any]) -> Any:
        socket = await connect(
            f"ws://127.0.0.1:{port}/ws/inbox/",
            origin=base,
            additional_headers={"Cookie": f"sessionid={clerk['session']}"},
            proxy=None,
            max_queue=None,
        )
        hello = json.loads(await socket.recv())
        if hello.get("type") != "hello":
            raise RuntimeError(f"the socket was not accepted: {hello}")
        await socket.send(json.dumps({"type": "subscribe.list"}))
        while json.loads(await socket.recv()).get("type") != "subscribed":
            pass
        return socket

    async def listen(socket: Any) -> None:
        nonlocal stray
        async for raw in socket:
            received = time.perf_counter()
            event = json.loads(raw)
            if event.get("type") != "message.created" or event["message"]["direction"] != "in":
                continue
            text = event["message"]["text"]
            if text in sent_at and text not in latencies:
                latencies[text] = received - sent_at[text]
            else:
                stray += 1

    started = time.perf_counter()
    sockets = []
    for start in range(0, len(world["clerks"]), 50):  # a few at a time: each handshake checks a session
        sockets += await asyncio.gather(*(open_socket(c) for c in world["clerks"][start : start + 50]))
    log(f"{len(sockets)} clerk sockets open and subscribed in {time.perf_counter() - started:.1f} s")
    listeners = [asyncio.create_task(listen(socket)) for socket in sockets]

    rng = random.Random(seed)
    statuses: dict[str, int] = {}
    url = f"{base}/webhooks/line/{world['inbox_id']}"
    async with aiohttp.ClientSession() as session:

        async def post(text: str, clerk: dict[str, Any]) -> None:
            body = wh.webhook_body(world["destination"], [wh.text_event(clerk["line_user_id"], text)])
            headers = {"Content-Type": "application/json", "X-Line-Signature": wh.sign(world["secret"], body)}
            sent_at[text] = time.perf_counter()
            async with session.post(url, data=body, headers=headers) as response:
                await response.read()
                statuses[str(response.status)] = statuses.get(str(response.status), 0) + 1

        # Warm-up, not measured: each customer's first message makes the product fetch their LINE
        # profile and open their conversation; the figures are for conversations under way.
        warm = list(world["clerks"])
        for start in range(0, len(warm), 25):
            await asyncio.gather(
                *(post(f"hello {seed}-{i}", c) for i, c in enumerate(warm[start : start + 25], start))
            )
            await asyncio.sleep(0.5)
        deadline = time.perf_counter() + 60
        while (
            sum(1 for text in latencies if text.startswith("hello ")) < len(warm)
            and time.perf_counter() < deadline
        ):
            await asyncio.sleep(0.1)
        log(f"warm-up: {len(warm)} first messages, one per customer")
        latencies.clear()
        sent_at.clear()
        statuses.clear()

        posts = []
        begin = time.perf_counter()
        for n in range(messages):
            due = begin + n / rate
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            posts.append(asyncio.create_task(post(f"bench {seed}-{n} 有貨嗎？", rng.choice(world["clerks"]))))
        await asyncio.gather(*posts)
        deadline = time.perf_counter() + 10
        while len(latencies) < messages and time.perf_counter() < deadline:
            await asyncio.sleep(0.05)
    for task in listeners:
        task.cancel()
    for socket in sockets:
        await socket.close()
    values = [v * 1000 for v in latencies.values()]
    return {
        "sockets": len(sockets),
        "messages": messages,
        "rate": rate,
        "delivered": len(values),
        "lost": messages - len(values),
        "stray": stray,
        "statuses": statuses,
        "p50_ms": round(percentile(values, 50), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "p99_ms": round(percentile(values, 99), 1),
        "max_ms": round(max(values), 1) if values else 0.0,
    }


def run(
    *,
    clerks: int,
    messages: int,
    rate: float,
    workers: int = 2,
    seed: int = 1,
    keep: bool = False,
    log: Any = print,
    database_url: str | None = None,
) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connections

    from bench._util import database_label
    from omo.devtools.line_standin import LineStandIn

    database_url = database_url or os.environ.get("DATABASE_URL")
    redis = bool(os.environ.get("REDIS_URL"))
    standin = LineStandIn().start()
    world = _build(clerks, standin)
    connections.close_all()
    log(f"bench brand with {clerks} clerks and bound customers ready")
    env = child_env(database_url)
    env.update(OMO_LINE_API_BASE=standin.url, OMO_LOG_LEVEL="WARNING", OMO_VAR_DIR=str(settings.VAR_DIR))
    port = free_port()
    processes: list[subprocess.Popen] = []
    with tempfile.NamedTemporaryFile("w+", prefix="omo-bench-socket-", suffix=".log") as server_log:
        try:
            if redis:
                processes.append(_start(["serve", "--port", str(port)], env, server_log))
                for _ in range(workers):
                    processes.append(_start(["worker", "--no-startup-delay"], env, server_log))
            else:
                processes.append(_start(["serve", "--port", str(port), "--with-worker"], env, server_log))
            asyncio.run(_wait_http(f"http://127.0.0.1:{port}/healthz", processes))
            figures = asyncio.run(_measure(port, world, messages=messages, rate=rate, seed=seed, log=log))
        finally:
            for process in processes:
                stop_process(process)
            standin.stop()
            if not keep:
                _delete(world["brand_id"])
            server_log.seek(0)
            tail = server_log.read()[-3000:]
    return {
        **figures,
        "setup": "omo serve + omo worker, Redis channel layer"
        if redis
        else "omo serve --with-worker, in-memory layer",
        "database": database_label(),
        "machine": machine(),
        "server_log_tail": tail if figures["lost"] else "",
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--clerks", type=int, default=500, help="connected clerk sockets (one bound customer each)"
    )
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--rate", type=float, default=10.0, help="customer messages per second")
    parser.add_argument("--workers", type=int, default=2, help="omo worker processes (with REDIS_URL)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the bench brand afterwards")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    setup_django()
    result = run(
        clerks=args.clerks,
        messages=args.messages,
        rate=args.rate,
        workers=args.workers,
        seed=args.seed,
        keep=args.keep,
        log=(lambda _: None) if args.json else print,
    )
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return 0
    print(
        f"{result['database']}, {result['setup']}: {result['sockets']} clerk sockets, {result['messages']} "
        f"customer messages at {result['rate']:g}/s\n"
        f"  delivered {result['delivered']}, lost {result['lost']}, HTTP {result['statuses']}\n"
        f"  message → clerk socket: p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
        f"p99 {result['p99_ms']} ms, max {result['max_ms']} ms\n"
        f"  machine: {result['machine']}"
    )
    if result["server_log_tail"]:
        print("server log (tail):\n" + result["server_log_tail"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
