"""The clerk app on a phone, in a real Chromium at 390×844 and 360×740: the newest message stays
above the composer (also when the keyboard takes half the screen), new messages are followed unless
the clerk scrolled up, no button's words wrap, and each screen speaks one language, switched by a
toggle that the app remembers for the person."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.utils import timezone

from omo.binding.models import Binding
from omo.inbox.models import Contact, Conversation, Inbox, Message
from omo.staff.models import User
from omo.testing import factories as f
from omo.testing.browser import DEFAULT_TIMEOUT_MS, STAFF_PASSWORD

pytestmark = pytest.mark.browser

PHONES = [
    pytest.param({"width": 390, "height": 844}, id="390x844"),
    pytest.param({"width": 360, "height": 740}, id="360x740"),
]

# How many lines of text each visible button (and tab) shows: the distinct tops of its text's boxes.
WRAPPED_BUTTONS = """() => {
  const wrapped = [];
  document.querySelectorAll("button, .button, .tabs a").forEach((node) => {
    if (!node.offsetParent) return;  // not shown
    const range = document.createRange();
    range.selectNodeContents(node);
    const tops = new Set([...range.getClientRects()].filter((r) => r.width > 0).map((r) => Math.round(r.top)));
    if (tops.size > 1) wrapped.push(node.textContent.trim());
  });
  return wrapped;
}"""


# The page has caught up with a change of the visible area: the composer is inside it and the
# conversation is scrolled to its end.
SETTLED = """() => {
  const t = document.getElementById("timeline");
  const composer = document.getElementById("composer").getBoundingClientRect();
  return composer.bottom <= window.innerHeight + 0.5 && t.scrollHeight - t.scrollTop - t.clientHeight < 2;
}"""


@pytest.fixture
def chat(brand, store, clerk):
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE", handle="@herb")
    customer = f.make_customer(brand, "林小姐", phone="+886911111111")
    Binding.objects.create(
        brand=brand,
        customer=customer,
        clerk=clerk,
        store=store,
        source="manual",
        started_at=timezone.now() - dt.timedelta(days=3),
    )
    contact = Contact.objects.create(
        brand=brand, inbox=inbox, external_user_id="U" + "2" * 32, customer=customer, display_name="林小姐"
    )
    conversation = Conversation.objects.create(
        brand=brand,
        inbox=inbox,
        contact=contact,
        customer=customer,
        queue="clerk",
        assignee=clerk,
        store=store,
        last_message_at=timezone.now(),
    )
    for n in range(30):
        Message.objects.create(
            brand=brand,
            conversation=conversation,
            direction="in" if n % 2 else "out",
            kind="text",
            text=f"第 {n} 則訊息：請問這件有 M 號嗎？" * (1 + n % 3),
            status="received" if n % 2 else "sent",
            sender=None if n % 2 else clerk,
        )
    Message.objects.create(
        brand=brand,
        conversation=conversation,
        direction="out",
        kind="flex",
        payload={
            "cards": [
                {"title": "有機棉T恤", "price": 99000, "currency": "TWD", "url": "https://example.com/r/a"},
                {"title": "帆布托特包", "price": 45000, "currency": "TWD", "url": "https://example.com/r/b"},
            ],
            "alt_text": "店員推薦",
        },
        status="sent",
        sender=clerk,
    )
    # Still being sent: the page reads messages.json again every 1.5 s while one is queued, which
    # is how the messages this test adds reach it without a socket.
    Message.objects.create(
        brand=brand,
        conversation=conversation,
        direction="out",
        kind="text",
        text="最後一則：明天門市有貨，幫您保留嗎？",
        status="queued",
        sender=clerk,
    )
    return conversation


@pytest.fixture
def polling(settings):
    settings.OMO_WORKER_EVENTS_LIVE = False  # no worker here: the page reads delivery states itself


def phone_page(chromium: Any, live_url: str, viewport: dict[str, int]) -> tuple[Any, Any]:
    context = chromium.new_context(
        base_url=live_url,
        viewport=viewport,
        locale="en-US",  # the phone's own language does not decide: zh-Hant unless the clerk chose
        timezone_id="Asia/Taipei",
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
    )
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    return context, context.new_page()


def sign_in(page: Any, user: User) -> None:
    page.goto("/clerk/")
    page.locator("input[name=username]").fill(user.username)
    page.locator("input[name=password]").fill(STAFF_PASSWORD)
    page.locator("button[type=submit].primary").click()
    page.get_by_test_id("signed-in-as").wait_for()


@pytest.fixture
def phone(request, chromium, live_url) -> Iterator[Any]:
    context, page = phone_page(chromium, live_url, request.param)
    try:
        yield page
    finally:
        context.close()


def box(page: Any, selector: str) -> dict[str, float]:
    found = page.locator(selector).last.bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


def newest_is_above_the_composer(page: Any) -> bool:
    last = box(page, "[data-testid=message]")
    composer = box(page, "[data-testid=composer]")
    viewport = page.viewport_size
    return (
        last["y"] + last["height"] <= composer["y"] + 0.5
        and composer["y"] + composer["height"] <= viewport["height"] + 0.5
    )


@pytest.mark.parametrize("phone", PHONES, indirect=True)
def test_newest_message_is_above_the_composer_also_with_the_keyboard_open(phone, chat, clerk, polling):
    from playwright.sync_api import expect

    page = phone
    sign_in(page, clerk)
    page.goto(f"/clerk/c/{chat.pk}/")
    expect(page.get_by_test_id("message")).to_have_count(32)
    expect(page.get_by_test_id("message").last).to_contain_text("最後一則")
    assert newest_is_above_the_composer(page)
    assert page.evaluate(WRAPPED_BUTTONS) == []

    # The keyboard opens: the visible area shrinks to about half (what the visual viewport reports).
    page.get_by_test_id("composer-text").focus()
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": size["height"] // 2})
    page.wait_for_function(SETTLED)
    assert newest_is_above_the_composer(page)
    expect(page.locator("nav.tabs")).to_be_hidden()  # the tab bar steps aside while typing

    # A new message while the clerk is at the bottom: the page follows it.
    Message.objects.create(
        brand=chat.brand,
        conversation=chat,
        direction="in",
        kind="text",
        text="好的，謝謝！",
        status="received",
    )
    expect(page.get_by_test_id("message")).to_have_count(33)
    page.wait_for_function(SETTLED)
    assert newest_is_above_the_composer(page)
    expect(page.get_by_test_id("jump-newest")).to_be_hidden()

    # The clerk scrolls up to read: a new message does not pull them down; a button offers the way.
    page.get_by_test_id("composer-text").blur()
    page.evaluate("document.getElementById('timeline').scrollTop = 0")
    page.wait_for_timeout(200)
    Message.objects.create(
        brand=chat.brand,
        conversation=chat,
        direction="in",
        kind="text",
        text="還有 L 號嗎？",
        status="received",
    )
    expect(page.get_by_test_id("message")).to_have_count(34)
    expect(page.get_by_test_id("jump-newest")).to_be_visible()
    assert page.evaluate("document.getElementById('timeline').scrollTop") < 50
    page.get_by_test_id("jump-newest").click()
    assert newest_is_above_the_composer(page)


@pytest.mark.parametrize("phone", PHONES, indirect=True)
@pytest.mark.parametrize("language", ["zh-hant", "en"])
def test_no_button_wraps_on_any_screen(phone, chat, clerk, polling, language):
    from playwright.sync_api import expect

    User.objects.filter(pk=clerk.pk).update(preferred_language=language)
    page = phone
    sign_in(page, clerk)
    for path in (
        "/clerk/",
        "/clerk/customers/",
        "/clerk/qr/",
        "/clerk/sales/",
        f"/clerk/customers/{chat.customer_id}/",
    ):
        page.goto(path)
        assert page.evaluate(WRAPPED_BUTTONS) == [], path
    page.goto(f"/clerk/c/{chat.pk}/")
    expect(page.get_by_test_id("message")).to_have_count(32)
    assert page.evaluate(WRAPPED_BUTTONS) == []
    page.get_by_test_id("open-picker").click()
    expect(page.get_by_test_id("picker")).to_be_visible()
    assert page.evaluate(WRAPPED_BUTTONS) == []
    page.locator("[data-close=picker]").click()
    page.get_by_test_id("open-panel").click()
    expect(page.get_by_test_id("customer-panel")).to_be_visible()
    assert page.evaluate(WRAPPED_BUTTONS) == []


@pytest.mark.parametrize("phone", PHONES[:1], indirect=True)
def test_sent_product_cards_show_image_name_price_and_button(phone, chat, clerk, polling):
    from playwright.sync_api import expect

    page = phone
    sign_in(page, clerk)
    page.goto(f"/clerk/c/{chat.pk}/")
    cards = page.get_by_test_id("sent-card")
    expect(cards).to_have_count(2)
    expect(cards.first).to_contain_text("有機棉T恤")
    expect(cards.first).to_contain_text("NT$990")
    expect(cards.first.locator(".card-button")).to_have_text("查看商品")


def test_language_toggle_switches_and_is_remembered_for_the_person(chromium, live_url, chat, clerk):
    from playwright.sync_api import expect

    context, page = phone_page(chromium, live_url, {"width": 360, "height": 740})
    try:
        sign_in(page, clerk)
        tabs = page.locator("nav.tabs a")
        expect(tabs).to_have_text(["對話", "我的顧客", "我的 QR", "業績"])
        page.goto("/clerk/customers/")
        page.get_by_test_id("language-switch").click()
        expect(page).to_have_url(f"{live_url}/clerk/customers/")  # back where it was pressed
        expect(page.get_by_role("heading", level=1)).to_have_text("Customers")
        expect(tabs).to_have_text(["Chats", "Customers", "My QR", "Sales"])
        assert "客戶" not in page.content() and "顧客" not in page.locator("body").inner_text()
        page.goto("/clerk/sales/")
        expect(page.get_by_role("heading", level=1)).to_have_text("My sales")
    finally:
        context.close()
    clerk.refresh_from_db()
    assert clerk.preferred_language == "en"

    # Another phone, signed in fresh: the clerk's choice follows them.
    context, page = phone_page(chromium, live_url, {"width": 390, "height": 844})
    try:
        sign_in(page, clerk)
        expect(page.get_by_role("heading", level=1)).to_have_text("My chats")
        page.get_by_test_id("language-switch").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("我的對話")
        page.reload()
        expect(page.get_by_role("heading", level=1)).to_have_text("我的對話")
    finally:
        context.close()
    clerk.refresh_from_db()
    assert clerk.preferred_language == "zh-hant"
