"""One customer through the card: signing in to the shop with LINE (LIFF) from a product card, the
order and the typed phone joining the customer who holds that LINE user, and, without a login,
only a merge suggestion (a forwarded link never attaches a stranger's order)."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from omo.clerk import services as clerk_services
from omo.commerce.models import Order
from omo.customers.models import Customer, CustomerIdentity, MergeSuggestion
from omo.inbox import ingest
from omo.shop.tests.test_shop_checkout import SHIP
from omo.shop.tests.test_shop_views import add, build_catalogue
from omo.testing import factories as f

LIFF_ID = "2000000001-AbcdEfgh"


@pytest.fixture
def catalogue(brand, warehouse, store, other_store):
    return build_catalogue(brand, warehouse, store, other_store)


@pytest.fixture
def liff_inbox(line_inbox):
    line_inbox.config = {**line_inbox.config, "liff_id": LIFF_ID}
    line_inbox.save()
    return line_inbox


@pytest.fixture
def recipient(liff_inbox, line_user):
    """林小姐, a LINE customer of the brand, in a conversation with the clerk."""
    contact = ingest.get_or_create_contact(liff_inbox, line_user.user_id, display_name="林小姐")
    conversation = ingest.get_or_create_conversation(liff_inbox, contact)
    return conversation


def send_card(conversation, clerk, product) -> str:
    message = clerk_services.send_product_card(conversation, clerk=clerk, product_ids=[product.pk])
    return message.payload["cards"][0]["url"]


def link_token(card_url: str) -> str:
    return parse_qs(urlsplit(card_url).query)["r"][0]


def sign_in(shopper: Client, token: str, id_token: str) -> tuple[int, dict]:
    response = shopper.post(
        "/b/liff/shop/signin", json.dumps({"idToken": id_token, "r": token}), content_type="application/json"
    )
    return response.status_code, response.json()


def test_a_card_on_line_with_liff_opens_the_shop_through_liff(recipient, clerk, catalogue):
    url = send_card(recipient, clerk, catalogue.shirt)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "liff.line.me", f"/{LIFF_ID}/shop")
    query = parse_qs(parts.query)
    assert query["liff"] == [LIFF_ID]
    assert query["r"][0].startswith("L")


def test_without_liff_the_card_is_the_plain_tracked_link(line_inbox, line_user, clerk, catalogue, settings):
    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="林小姐")
    conversation = ingest.get_or_create_conversation(line_inbox, contact)
    url = send_card(conversation, clerk, catalogue.shirt)
    assert url.startswith(f"{settings.BASE_URL}/r/L")


def test_the_liff_endpoint_forwards_the_shop_path_and_the_page_offers_the_product(
    recipient, clerk, catalogue, client
):
    token = link_token(send_card(recipient, clerk, catalogue.shirt))
    state = f"/shop?r={token}&liff={LIFF_ID}"
    forwarded = client.get("/b/liff/", {"liff.state": state})
    assert forwarded.status_code == 302 and forwarded["Location"] == f"/b/liff{state}"

    page = client.get("/b/liff/shop", {"r": token, "liff": LIFF_ID})
    html = page.content.decode()
    assert page.status_code == 200
    assert 'data-testid="liff-signin"' in html and f'href="/r/{token}"' in html
    assert "static.line-scdn.net" not in html  # the stand-in: no SDK from a CDN


def test_the_liff_page_refuses_a_tampered_link_and_skips_sign_in_without_liff(
    line_inbox, line_user, clerk, catalogue, client
):
    assert client.get("/b/liff/shop", {"r": "Lx.y:z:tampered"}).status_code == 400
    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id)
    conversation = ingest.get_or_create_conversation(line_inbox, contact)
    message = clerk_services.send_product_card(conversation, clerk=clerk, product_ids=[catalogue.shirt.pk])
    token = message.payload["cards"][0]["url"].rsplit("/r/", 1)[1]
    response = client.get("/b/liff/shop", {"r": token})
    assert response.status_code == 302 and response["Location"] == f"/r/{token}"


def test_signed_in_with_line_the_order_and_phone_join_the_line_customer(
    recipient, clerk, catalogue, line_standin, line_channel, line_user, brand
):
    customer = recipient.customer
    token = link_token(send_card(recipient, clerk, catalogue.shirt))
    shopper = Client()
    id_token = line_standin.mint_id_token(line_user.user_id, client_id=line_channel.login_channel_id)

    status, body = sign_in(shopper, token, id_token)
    assert (status, body) == (200, {"ok": True, "next": f"/r/{token}"})
    assert shopper.session[f"shop:{brand.pk}:member"] == customer.pk

    product_page = shopper.get(
        body["next"], HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Line/14.0"
    )
    assert product_page.status_code == 302 and "?ref=" in product_page["Location"]
    shopper.get(product_page["Location"])
    add(shopper, catalogue.black)
    checkout_page = shopper.get("/shop/herb/checkout/")
    assert "林小姐" in checkout_page.content.decode()  # the member's name is filled in
    response = shopper.post("/shop/herb/checkout/", SHIP)

    assert response.status_code == 302
    order = Order.objects.get()
    assert order.customer_id == customer.pk
    assert Customer.objects.filter(brand=brand).count() == 1  # no second customer
    customer.refresh_from_db()
    assert customer.phone == "+886912345678" and customer.email == "mei@example.com"
    assert CustomerIdentity.objects.get(kind="phone", value="+886912345678").customer_id == customer.pk
    assert not MergeSuggestion.objects.exists()


def test_signed_in_with_a_phone_of_another_customer_only_suggests(
    recipient, clerk, catalogue, line_standin, line_channel, line_user, brand
):
    other = f.make_customer(brand, "王小明", phone="+886912345678")
    token = link_token(send_card(recipient, clerk, catalogue.shirt))
    shopper = Client()
    sign_in(
        shopper, token, line_standin.mint_id_token(line_user.user_id, client_id=line_channel.login_channel_id)
    )
    shopper.get(f"/r/{token}", HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Line/14.0")
    add(shopper, catalogue.black)
    shopper.post("/shop/herb/checkout/", SHIP)

    order = Order.objects.get()
    assert order.customer_id == recipient.customer_id
    assert CustomerIdentity.objects.get(kind="phone", value="+886912345678").customer_id == other.pk
    suggestion = MergeSuggestion.objects.get()
    assert {suggestion.customer_a_id, suggestion.customer_b_id} == {recipient.customer_id, other.pk}
    assert suggestion.kind == "phone"
    assert Customer.objects.get(pk=other.pk).merged_into_id is None


@pytest.mark.time_machine("2026-12-07T10:00:00+08:00", tick=True)
def test_a_forwarded_link_never_attaches_the_strangers_order_only_suggests(
    recipient, clerk, catalogue, brand, django_capture_on_commit_callbacks
):
    """Opened without a login by someone else, who types another phone: their own (new) customer."""
    url = send_card(recipient, clerk, catalogue.shirt)
    token = link_token(url)
    stranger = Client()
    stranger.get(
        f"/r/{token}", HTTP_USER_AGENT="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0) Safari/604.1", follow=True
    )
    add(stranger, catalogue.black)
    with django_capture_on_commit_callbacks(execute=True):
        stranger.post(
            "/shop/herb/checkout/", {**SHIP, "name": "陳先生", "phone": "0933-000-111", "email": ""}
        )

    order = Order.objects.get()
    assert order.customer_id != recipient.customer_id
    assert order.customer.phone == "+886933000111"
    assert not CustomerIdentity.objects.filter(customer=recipient.customer, kind="phone").exists()
    suggestion = MergeSuggestion.objects.get()
    assert {suggestion.customer_a_id, suggestion.customer_b_id} == {recipient.customer_id, order.customer_id}
    assert suggestion.kind == "product_card"
    assert suggestion.reason.startswith("從 2026-12-07 傳給 LINE 顧客「林小姐」的商品卡片下單")
    assert Customer.objects.filter(brand=brand, merged_into__isnull=True).count() == 2


def test_sign_in_refuses_a_foreign_token_bad_bodies_and_a_missing_csrf_token(
    recipient, clerk, catalogue, line_standin, line_user
):
    token = link_token(send_card(recipient, clerk, catalogue.shirt))
    shopper = Client()
    foreign = line_standin.mint_id_token(line_user.user_id, client_id="1999999999")
    status, body = sign_in(shopper, token, foreign)
    assert status == 401 and body["error"]["field"] == "idToken"
    assert sign_in(shopper, "Lx.y:z:bad", "t")[0] == 400
    assert shopper.post("/b/liff/shop/signin", {"idToken": "t", "r": token}).status_code == 415
    assert f"shop:{recipient.brand_id}:member" not in shopper.session

    strict = Client(enforce_csrf_checks=True)
    refused = strict.post(
        "/b/liff/shop/signin", json.dumps({"idToken": foreign, "r": token}), content_type="application/json"
    )
    assert refused.status_code == 403


def test_a_card_of_another_brand_signs_nobody_in_there(
    recipient, clerk, catalogue, line_standin, line_channel, line_user, other_brand
):
    token = link_token(send_card(recipient, clerk, catalogue.shirt))
    shopper = Client()
    sign_in(
        shopper, token, line_standin.mint_id_token(line_user.user_id, client_id=line_channel.login_channel_id)
    )
    assert f"shop:{other_brand.pk}:member" not in shopper.session


def test_against_the_real_line_the_pages_load_the_sdk_and_ignore_a_fragment_token(
    recipient, clerk, catalogue, client, settings
):
    token = link_token(send_card(recipient, clerk, catalogue.shirt))
    settings.OMO_LINE_API_BASE = "https://api.line.me"
    forward = client.get("/b/liff/", {"liff.state": f"/shop?r={token}&liff={LIFF_ID}"})
    assert forward.status_code == 200
    html = forward.content.decode()
    assert "https://static.line-scdn.net/liff/edge/2/sdk.js" in html and f'data-liff-id="{LIFF_ID}"' in html
    assert client.get("/b/liff/", {"liff.state": "/shop?r=x&liff=bad"}).status_code == 404

    page = client.get("/b/liff/shop", {"r": token, "liff": LIFF_ID}).content.decode()
    assert "https://static.line-scdn.net/liff/edge/2/sdk.js" in page
    assert f'data-liff-id="{LIFF_ID}"' in page and 'data-stand-in=""' in page
