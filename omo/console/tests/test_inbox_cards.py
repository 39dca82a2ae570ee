"""Product cards a clerk sent show in the console's conversation as cards: image, name, price and
the button's label, never raw JSON or a placeholder."""

from __future__ import annotations

import pytest
from django.urls import reverse

from omo.inbox.models import Contact, Conversation, Inbox, Message
from omo.inbox.selectors import CARD_BUTTON_LABEL, product_cards
from omo.platforms.line.flex import DEFAULT_BUTTON_LABEL
from omo.testing import factories as f

CARDS = {
    "cards": [
        {
            "title": "有機棉T恤",
            "price": 99000,
            "currency": "TWD",
            "image_url": "https://cdn.example.com/tee.jpg",
            "url": "https://shop.example.com/r/abc",
            "product_id": 1,
            "link_id": 7,
        },
        {
            "title": "帆布托特包",
            "price": 45000,
            "currency": "TWD",
            "url": "https://shop.example.com/r/def",
            "button_label": "立即選購",
        },
    ],
    "alt_text": "店員推薦：有機棉T恤、帆布托特包",
}


def chat_with_cards(brand) -> Conversation:
    inbox = Inbox.objects.create(brand=brand, platform="line", name="LINE")
    customer = f.make_customer(brand, name="林小姐", phone="")
    contact = Contact.objects.create(
        brand=brand, inbox=inbox, external_user_id="U" + "3" * 32, customer=customer, display_name="林小姐"
    )
    conversation = Conversation.objects.create(brand=brand, inbox=inbox, contact=contact, customer=customer)
    Message.objects.create(
        brand=brand, conversation=conversation, direction="out", kind="flex", payload=CARDS, status="sent"
    )
    return conversation


@pytest.fixture
def card_chat(brand):
    return chat_with_cards(brand)


def test_the_default_button_label_is_the_one_line_shows():
    assert CARD_BUTTON_LABEL == DEFAULT_BUTTON_LABEL


def test_product_cards_of_a_card_message():
    message = Message(kind="flex", payload=CARDS)
    assert product_cards(message) == [
        {
            "title": "有機棉T恤",
            "price": "NT$990",
            "image_url": "https://cdn.example.com/tee.jpg",
            "url": "https://shop.example.com/r/abc",
            "button_label": "查看商品",
        },
        {
            "title": "帆布托特包",
            "price": "NT$450",
            "image_url": "",
            "url": "https://shop.example.com/r/def",
            "button_label": "立即選購",
        },
    ]
    assert product_cards(Message(kind="text", text="hi", payload=CARDS)) == []
    assert product_cards(Message(kind="flex", payload={"cards": "nonsense"})) == []


def test_console_conversation_shows_sent_cards(client_for, hq_admin, card_chat):
    response = client_for(hq_admin).get(reverse("console:inbox_conversation", args=[card_chat.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    assert body.count('data-testid="product-card"') == 2
    assert (
        '<img src="https://cdn.example.com/tee.jpg" alt="" loading="lazy"><strong>有機棉T恤</strong>' in body
    )
    assert '<span class="price">NT$990</span><span class="card-button">查看商品</span>' in body
    assert '<span class="card-button">立即選購</span>' in body
    assert "product_id" not in body and "link_id" not in body and "{&#x27;" not in body  # no raw payload
    assert "[商品卡片]" not in body and "[Flex]" not in body


def test_another_brand_and_the_clerk_cannot_open_it(client_for, other_admin, clerk, card_chat):
    url = reverse("console:inbox_conversation", args=[card_chat.pk])
    assert client_for(other_admin).get(url).status_code == 404
    assert client_for(clerk).get(url).status_code in (302, 403, 404)
