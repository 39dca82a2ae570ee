"""The acceptance test of the whole OMO2C loop in a real Chromium.

A clerk signs in to /clerk/; in the phone simulator a customer opens the clerk's link → the
binding appears in the clerk app; the customer's message appears in the clerk's chat live (no
reload); the clerk sends a product card → the simulator shows it → the customer taps it → checks
out in the shop → the order is attributed to the clerk with its reason and shows in the clerk's sales.

The app runs under uvicorn (ASGI: HTTP, WebSockets and the webhook edge, like `omo serve`); the
LINE stand-in plays LINE; a small in-test worker does what `omo worker` does for this loop
(process webhook receipts, deliver queued messages).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator

import pytest
from django.db import close_old_connections, connections

from omo.attribution.models import Attribution
from omo.commerce.models import Order
from omo.testing import factories as f
from omo.testing.asgi import running_asgi
from omo.testing.browser import check_out_home_delivery

pytestmark = pytest.mark.browser


@pytest.fixture
def asgi_url(transactional_db, settings) -> Iterator[str]:
    """config.asgi.application under uvicorn in a thread (live_server speaks WSGI: no sockets, no edge)."""
    with running_asgi() as url:
        settings.BASE_URL = url
        yield url


class LoopWorker(threading.Thread):
    """What `omo worker` does for this loop: process receipts of the inbox, deliver queued messages."""

    def __init__(self, inbox_id: int) -> None:
        super().__init__(name="loop-worker", daemon=True)
        self.inbox_id = inbox_id
        self.stopping = threading.Event()
        self.errors: list[BaseException] = []

    def run(self) -> None:
        from omo.inbox import outbound
        from omo.inbox.models import Message
        from omo.platforms.tasks import process_pending

        try:
            while not self.stopping.is_set():
                close_old_connections()
                process_pending(self.inbox_id)
                queued = Message.objects.filter(direction="out", status="queued").values_list("pk", flat=True)
                for message_id in list(queued):
                    outbound.deliver(message_id)
                self.stopping.wait(0.2)
        except BaseException as exc:  # surfaced by the test, never swallowed
            self.errors.append(exc)
        finally:
            connections.close_all()


@pytest.fixture
def loop_worker(line_inbox) -> Iterator[LoopWorker]:
    worker = LoopWorker(line_inbox.pk)
    worker.start()
    yield worker
    worker.stopping.set()
    worker.join(10)
    assert not worker.errors, worker.errors


def test_customer_binds_chats_taps_a_card_buys_and_the_clerk_is_credited(
    chromium, asgi_url, settings, line_standin, line_inbox, loop_worker, brand, store, warehouse, clerk
):
    from playwright.sync_api import expect

    from omo.testing.browser import DEFAULT_TIMEOUT_MS, PHONE_VIEWPORT

    settings.OMO_LINE_STANDIN_URL = line_standin.url
    clerk.display_name = "王小美"
    clerk.save()
    product = f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "M", 99000)])
    f.set_stock(product.variants.get(), warehouse, 5)

    def new_page():
        context = chromium.new_context(
            base_url=asgi_url, viewport=PHONE_VIEWPORT, locale="zh-TW", timezone_id="Asia/Taipei"
        )
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        return context, context.new_page()

    clerk_context, app = new_page()
    phone_context, phone = new_page()
    try:
        # The clerk signs in and opens My QR for their link.
        app.goto("/clerk/")
        app.locator("input[name=username]").fill(clerk.username)
        app.locator("input[name=password]").fill("pass-1234")
        app.get_by_role("button", name="登入").click()
        expect(app.get_by_test_id("signed-in-as")).to_have_text("王小美")
        app.goto("/clerk/qr/")
        my_link = app.get_by_test_id("my-link").input_value()
        assert re.search(r"/b/[0-9A-Za-z]{10}$", my_link)
        app.goto("/clerk/")
        expect(app.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
        expect(app.get_by_test_id("no-conversations")).to_be_visible()

        # The customer "scans" the clerk's QR in the phone simulator: follow + the prefilled code message.
        phone.goto(f"/dev/simulator/?inbox={line_inbox.pk}")
        phone.get_by_test_id("sim-link").fill(my_link)
        phone.get_by_test_id("sim-open").click()
        expect(phone.get_by_test_id("sim-status")).to_have_attribute("data-state", "bound")

        # The binding appears in the clerk app, live.
        row = app.get_by_test_id("conversation-row")
        expect(row).to_have_count(1)
        expect(phone.get_by_test_id("sim-received").first).to_contain_text("王小美")  # binding confirmation

        # The clerk opens the chat; the customer's next message arrives without a reload.
        row.locator("a").click()
        expect(app.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
        app.evaluate("window.__noReload = true")
        phone.get_by_test_id("sim-text").fill("請問有 M 號嗎？")
        phone.get_by_test_id("sim-send").click()
        expect(app.get_by_test_id("message-text").filter(has_text="請問有 M 號嗎？")).to_have_count(1)
        assert app.evaluate("window.__noReload") is True

        # The clerk sends a product card; the simulator shows it.
        app.get_by_test_id("open-picker").click()
        app.get_by_test_id("picker-search").fill("有機棉")
        app.get_by_test_id("pick-product").first.check()
        app.get_by_test_id("send-cards").click()
        expect(app.locator("[data-kind=flex] [data-testid=delivery]")).to_have_text("已送出")
        card = phone.get_by_test_id("sim-card")
        expect(card).to_have_count(1)
        expect(card).to_contain_text("有機棉T恤")
        expect(card).to_contain_text("NT$990")

        # The customer taps it → the product page in the brand's shop → checks out.
        phone.get_by_test_id("sim-card-link").click()
        expect(phone).to_have_url(re.compile(rf"/shop/herb/p/{product.handle}/\?ref="))
        phone.locator("[data-add-button]").click()
        expect(phone).to_have_url(re.compile(r"/shop/herb/cart/$"))
        check_out_home_delivery(phone)

        # The order is credited to the clerk, with the reason, and shows in the clerk's sales.
        order = Order.objects.get(brand=brand)
        attribution = Attribution.objects.get(order=order)
        assert (attribution.rule, attribution.clerk_id) == ("link_click", clerk.pk)
        assert "點擊王小美傳送的商品卡片（當天），30 天內最後一次導購點擊" in attribution.reason_zh
        app.get_by_test_id("tab-sales").click()
        sale = app.get_by_test_id("sale").filter(has_text=order.name)
        expect(sale).to_have_count(1)
        expect(sale.get_by_test_id("attribution-reason")).to_contain_text("點擊王小美傳送的商品卡片")
    finally:
        clerk_context.close()
        phone_context.close()


def test_delivery_state_updates_live_through_a_500_and_a_retry(
    chromium, asgi_url, settings, line_standin, line_inbox, line_user, loop_worker, clerk
):
    """The chat shows queued → sent and queued → failed → (retry) → sent from socket events alone."""
    from playwright.sync_api import expect

    from omo.binding import services as binding_services
    from omo.inbox import ingest
    from omo.testing.browser import DEFAULT_TIMEOUT_MS, PHONE_VIEWPORT

    settings.OMO_WORKER_EVENTS_LIVE = True  # the loop worker runs in the server's process
    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="林小姐")
    binding_services.bind_customer(contact.customer, clerk, source="manual")
    conversation = ingest.get_or_create_conversation(line_inbox, contact)
    context = chromium.new_context(
        base_url=asgi_url, viewport=PHONE_VIEWPORT, locale="zh-TW", timezone_id="Asia/Taipei"
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    app = context.new_page()
    try:
        app.goto("/clerk/login/")
        app.locator("input[name=username]").fill(clerk.username)
        app.locator("input[name=password]").fill("pass-1234")
        app.get_by_role("button", name="登入").click()
        expect(app.get_by_test_id("signed-in-as")).to_be_visible()
        app.goto(f"/clerk/c/{conversation.pk}/")
        expect(app.get_by_test_id("live-state")).to_have_attribute("data-state", "live")
        reads: list[str] = []  # the page must not fetch delivery states: they come over the socket
        app.on(
            "request", lambda request: reads.append(request.url) if "messages.json" in request.url else None
        )
        app.evaluate("window.__noReload = true")

        # LINE answers 500 once: the worker retries with the same key and the tick appears.
        line_standin.inject("status", status=500, count=1)
        app.get_by_test_id("composer-text").fill("M 號今天有貨")
        app.get_by_test_id("send").click()
        first = app.get_by_test_id("message").filter(has_text="M 號今天有貨")
        expect(first.get_by_test_id("delivery")).to_have_text("已送出")
        expect(first.get_by_test_id("delivery")).to_have_attribute("data-via", "push")
        assert [p["status"] for p in line_standin.calls("/v2/bot/message/push")] == [500, 200]
        assert len(line_standin.delivered(line_user.user_id)) == 1

        # LINE rejects the next one: failed with the reason and a retry button; the retry goes out.
        line_standin.inject("status", status=400, count=1, message="Injected bad request")
        app.get_by_test_id("composer-text").fill("需要幫您保留嗎？")
        app.get_by_test_id("send").click()
        second = app.get_by_test_id("message").filter(has_text="需要幫您保留嗎？")
        expect(second.get_by_test_id("delivery")).to_have_text("傳送失敗")
        expect(second.get_by_test_id("failure-reason")).to_contain_text("Injected bad request")
        second.get_by_test_id("retry").click()
        expect(second.get_by_test_id("delivery")).to_have_text("已送出")
        expect(second.get_by_test_id("retry")).to_have_count(0)
        assert len(line_standin.delivered(line_user.user_id)) == 2

        assert app.evaluate("window.__noReload") is True
        assert reads == []
    finally:
        context.close()
