"""Take the README's and the docs' screenshots from a fresh demo: `make screenshots`.

    .venv/bin/python scripts/screenshots.py [--only NAME ...] [--keep-data DIR]

Starts `omo demo` on a free port (and its LINE stand-in on another) with a database of its own in
a temporary folder, signs in as the demo logins and saves PNGs into docs/screenshots/ with Debian's
Chromium (headless, the flags the browser tests use). Each PNG must stay under 300 KB. To add a
screen, add a Shot to SHOTS. Nothing here changes the demo's data except what the pages do.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = os.environ.get("OMO_CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1366, "height": 900}
PASSWORD = "omo-demo"
MAX_BYTES = 300 * 1024
READY_SECONDS = 900


@dataclass(frozen=True)
class Shot:
    name: str  # docs/screenshots/<name>.png
    login: str  # "" (no sign-in), "admin" (console) or "clerk" (clerk app)
    phone: bool
    open: Callable[[Any, str], None]  # (page, base URL): go to the screen


def _go(path: str) -> Callable[[Any, str], None]:
    return lambda page, base: page.goto(base + path, wait_until="networkidle")


def _first_link(path: str, selector: str) -> Callable[[Any, str], None]:
    def open_(page: Any, base: str) -> None:
        page.goto(base + path, wait_until="networkidle")
        href = page.locator(selector).first.get_attribute("href")
        page.goto(base + href if href and href.startswith("/") else href, wait_until="networkidle")

    return open_


DATABASE: dict[str, Path] = {}  # "sqlite": the demo's database file, set by main()


def _credited_order(page: Any, base: str) -> None:
    """A paid order credited to a clerk for a product-card click: the page shows who and why, and
    the actions left (fulfil, refund)."""
    with sqlite3.connect(DATABASE["sqlite"]) as db:
        row = db.execute(
            "SELECT a.order_id FROM attribution_attribution a JOIN commerce_order o ON o.id = a.order_id "
            "WHERE a.rule = 'link_click' AND a.clerk_id IS NOT NULL AND o.status = 'paid' "
            "ORDER BY o.placed_at DESC LIMIT 1"
        ).fetchone()
    if row is None:
        sys.exit("the demo has no paid order credited for a card click")
    page.goto(f"{base}/console/orders/{row[0]}/", wait_until="networkidle")


def _simulator(page: Any, base: str) -> None:
    page.goto(base + "/dev/simulator/", wait_until="networkidle")
    if page.locator("[data-testid=sim-play]").count():
        page.click("[data-testid=sim-play]")
        page.fill("[data-testid=sim-text]", "你好，請問週末門市有活動嗎？")
        page.click("[data-testid=sim-send]")
        page.wait_for_timeout(1500)


def _clerk_chat(page: Any, base: str) -> None:
    """The demo clerk's chats: customers waiting, and the one the simulator plays."""
    page.goto(base + "/clerk/", wait_until="networkidle")
    page.wait_for_timeout(500)


SHOTS = (
    Shot("console-dashboard", "admin", False, _go("/console/")),
    Shot("clerk-app", "clerk", True, _clerk_chat),
    Shot("shop-product", "", True, _first_link("/shop/demo/", "a[href*='/p/']")),
    Shot("settings-platforms", "admin", False, _go("/console/settings/platforms/")),
    Shot("settings-tracking", "admin", False, _go("/console/settings/tracking/")),
    Shot(
        "order-detail",
        "admin",
        False,
        _credited_order,
    ),
    Shot("rules-binding", "admin", False, _go("/console/settings/binding/")),
    Shot("phone-simulator", "", False, _simulator),
    Shot("commission-statement", "admin", False, _go("/console/commission/")),
    Shot("commission-rules", "admin", False, _go("/console/settings/commission/")),
    Shot("message-cost", "admin", False, _go("/console/cost/")),
    Shot("team-conversations", "admin", False, _go("/console/inbox/team/")),
    Shot(
        "product-edit", "admin", False, _first_link("/console/products/", "td a[href*='/console/products/']")
    ),
    Shot("segments", "admin", False, _go("/console/segments/")),
    Shot("segment-builder", "admin", False, _go("/console/segments/new/")),
    Shot("segment-groups", "admin", False, _go("/console/segments/groups/")),
    Shot("predictions", "admin", False, _go("/console/segments/predictions/")),
    Shot("analytics-omo", "admin", False, _go("/console/analytics/omo/")),
    Shot("analytics-pareto", "admin", False, _go("/console/analytics/pareto/")),
    Shot("analytics-rfm", "admin", False, _go("/console/analytics/rfm/")),
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(url: str, demo: subprocess.Popen[bytes]) -> None:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + READY_SECONDS
    while time.monotonic() < deadline:
        if demo.poll() is not None:
            sys.exit(f"omo demo stopped (exit code {demo.returncode}); see its output above")
        try:
            with opener.open(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answers (503 until the worker's first heartbeat)
        except OSError:
            time.sleep(1)
    sys.exit(f"omo demo did not answer at {url} within {READY_SECONDS} s")


def _sign_in(page: Any, base: str, login: str) -> None:
    path = "/clerk/login/" if login == "clerk" else "/console/login/"
    page.goto(base + path, wait_until="networkidle")
    page.fill("input[name=username]", login)
    page.fill("input[name=password]", PASSWORD)
    with page.expect_navigation():
        page.press("input[name=password]", "Enter")
    if "/login/" in page.url:
        sys.exit(f"signing in as {login} / {PASSWORD} failed at {path}")


def take(base: str, shots: list[Shot]) -> list[Path]:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        contexts: dict[tuple[str, bool], Any] = {}
        try:
            for shot in shots:
                key = (shot.login, shot.phone)
                if key not in contexts:
                    contexts[key] = browser.new_context(
                        viewport=PHONE if shot.phone else DESKTOP,
                        locale="zh-TW",
                        timezone_id="Asia/Taipei",
                        is_mobile=shot.phone,
                        has_touch=shot.phone,
                    )
                    if shot.login:
                        _sign_in(contexts[key].new_page(), base, shot.login)
                page = contexts[key].new_page()
                shot.open(page, base)
                target = OUT / f"{shot.name}.png"
                page.screenshot(path=str(target))
                size = target.stat().st_size
                if size > MAX_BYTES:
                    sys.exit(
                        f"{target.name} is {size // 1024} KB, over {MAX_BYTES // 1024} KB: make the view smaller"
                    )
                print(f"  {target.relative_to(ROOT)}  {size // 1024} KB  ({page.url.replace(base, '')})")
                saved.append(target)
                page.close()
        finally:
            browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--only", nargs="*", default=None, help=f"names among: {', '.join(s.name for s in SHOTS)}"
    )
    parser.add_argument(
        "--keep-data", default=None, help="use (and keep) this folder for the demo's database"
    )
    args = parser.parse_args()
    shots = [s for s in SHOTS if args.only is None or s.name in args.only]
    if not shots:
        sys.exit("nothing to take: --only names none of the screens")
    if not Path(CHROMIUM).exists():
        sys.exit(f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set OMO_CHROMIUM_PATH)")
    if not subprocess.run(["fc-list", ":lang=zh-tw"], capture_output=True, text=True).stdout.strip():
        sys.exit("no Traditional Chinese font: apt-get install fonts-noto-cjk (the pages would show boxes)")
    var_dir = args.keep_data or tempfile.mkdtemp(prefix="omo-screenshots-")
    DATABASE["sqlite"] = Path(var_dir) / "omo.sqlite3"
    port, standin = _free_port(), _free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "OMO_BASE_URL"}
    }
    env.update(
        OMO_VAR_DIR=var_dir,
        DATABASE_URL=f"sqlite:///{var_dir}/omo.sqlite3",
        OMO_LINE_STANDIN_URL=f"http://127.0.0.1:{standin}",
        OMO_PERIODIC_JOBS="1",
    )
    print(f"Starting omo demo on port {port} (data in {var_dir}) ...")
    demo = subprocess.Popen(
        [sys.executable, "-m", "config.cli", "demo", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(base + "/healthz", demo)
        saved = take(base, shots)
        print(f"Saved {len(saved)} screenshot(s) into {OUT.relative_to(ROOT)}/")
    finally:
        if demo.poll() is None:
            demo.send_signal(signal.SIGINT)
            try:
                demo.wait(timeout=30)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait()
        if not args.keep_data:
            shutil.rmtree(var_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
