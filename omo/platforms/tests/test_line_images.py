"""What omo sends LINE as images passes LINE's rules (HTTPS, JPEG or PNG): product cards carry a
picture LINE accepts or none, image messages LINE would refuse fail with the reason, never a 400."""

from __future__ import annotations

import pytest

from omo.catalog.models import ProductImage
from omo.clerk.services import send_product_card
from omo.inbox import ingest
from omo.inbox.models import Message
from omo.inbox.outbound import deliver, queue_message
from omo.testing import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _https_site(settings):
    settings.BASE_URL = "https://shop.example.com"


@pytest.fixture
def conversation(line_inbox, line_user):
    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="林小姐")
    return ingest.get_or_create_conversation(line_inbox, contact)


def _card(image_url: str) -> dict:
    return {"title": "帆布包", "price": 129000, "image_url": image_url, "url": "https://shop.example.com/r/t"}


@pytest.mark.parametrize(
    "image_url",
    [
        "https://shop.example.com/static/demo/products/3.svg",
        "https://cdn.example.com/a.webp",
        "http://x.example/a.jpg",
    ],
)
def test_a_card_whose_picture_line_refuses_is_sent_without_it(
    conversation, line_standin, line_user, image_url
):
    message = queue_message(conversation, kind="flex", payload={"cards": [_card(image_url)]})

    deliver(message.pk)

    message.refresh_from_db()
    assert message.status == "sent", message.failure_reason
    [delivery] = line_standin.delivered(line_user.user_id)
    assert "hero" not in delivery.messages[0]["contents"]["contents"][0]


def test_an_image_message_line_refuses_fails_with_the_reason(conversation, line_standin, line_user):
    message = queue_message(
        conversation, kind="image", payload={"url": "https://shop.example.com/static/demo/products/3.svg"}
    )

    deliver(message.pk)

    message.refresh_from_db()
    assert message.status == "failed"
    assert "JPEG or PNG" in message.failure_reason
    assert line_standin.delivered(line_user.user_id) == []


def test_an_https_png_image_message_is_delivered(conversation, line_standin, line_user):
    message = queue_message(
        conversation,
        kind="image",
        payload={"url": "https://shop.example.com/media/products/line/a.png"},
    )

    deliver(message.pk)

    message.refresh_from_db()
    assert message.status == "sent", message.failure_reason
    [delivery] = line_standin.delivered(line_user.user_id)
    assert delivery.messages[0]["previewImageUrl"] == "https://shop.example.com/media/products/line/a.png"


def test_a_clerks_card_of_a_demo_product_shows_its_png_twin(
    brand, store, clerk, conversation, line_standin, line_user
):
    product = f.make_product(brand, "有機棉T恤")
    ProductImage.objects.create(
        brand=brand,
        product=product,
        url="/static/demo/products/1.svg",
        line_url="/static/demo/products/1.png",
    )

    message = send_product_card(conversation, clerk=clerk, product_ids=[product.pk])
    deliver(message.pk)

    message.refresh_from_db()
    assert message.status == "sent", message.failure_reason
    assert message.payload["cards"][0]["image_url"] == "https://shop.example.com/static/demo/products/1.png"
    [delivery] = line_standin.delivered(line_user.user_id)
    hero = delivery.messages[0]["contents"]["contents"][0]["hero"]
    assert hero["url"] == "https://shop.example.com/static/demo/products/1.png"
    assert Message.objects.get(pk=message.pk).kind == "flex"
