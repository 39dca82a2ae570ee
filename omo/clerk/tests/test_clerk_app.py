"""The clerk app's endpoints: what a clerk can do, and what another clerk, role or brand cannot."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import Client, TestCase
from django.utils import timezone

from omo.attribution import links
from omo.attribution.models import Attribution, CommissionEntry, CommissionRule, LinkIssue
from omo.binding.models import Binding
from omo.commerce import services as commerce
from omo.commerce.models import Cart
from omo.inbox.models import Contact, Conversation, Inbox, Message
from omo.testing import factories as f


@pytest.fixture
def world(brand, store, other_store, warehouse, clerk):
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
        brand=brand, inbox=inbox, external_user_id="U" + "1" * 32, customer=customer, display_name="林小姐"
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
        unread_count=2,
    )
    Message.objects.create(
        brand=brand,
        conversation=conversation,
        direction="in",
        kind="text",
        text="有 M 號嗎？",
        status="received",
    )
    category = f.make_category(brand, "上衣", slug="tops")
    product = f.make_product(
        brand, "有機棉T恤", category=category, variants=[("TEE-M", "M", 100000), ("TEE-L", "L", 100000)]
    )
    tee_m, tee_l = product.variants.get(sku="TEE-M"), product.variants.get(sku="TEE-L")
    from omo.catalog.models import Location

    f.set_stock(tee_m, Location.objects.get(store=store), 2)
    f.set_stock(tee_l, warehouse, 5)  # the store lacks L; the warehouse has it (endless aisle)
    f.set_stock(tee_m, warehouse, 5)
    return {
        "inbox": inbox,
        "customer": customer,
        "conversation": conversation,
        "product": product,
        "tee_m": tee_m,
        "tee_l": tee_l,
    }


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _post(client: Client, url: str, data: dict) -> tuple[int, dict]:
    with TestCase.captureOnCommitCallbacks(execute=False):
        response = client.post(url, json.dumps(data), content_type="application/json")
    is_json = response["Content-Type"].startswith("application/json")
    return response.status_code, response.json() if is_json else {}


# --- sign-in and access --------------------------------------------------------------------------------


def test_anonymous_is_sent_to_sign_in_and_json_gets_401(client, db):
    response = client.get("/clerk/")
    assert response.status_code == 302 and response["Location"].startswith("/clerk/login/")
    assert client.get("/clerk/conversations.json").status_code == 401


def test_clerk_signs_in_with_password(brand, clerk, client):
    response = client.post("/clerk/login/", {"username": clerk.username, "password": "pass-1234"})
    assert response.status_code == 302 and response["Location"] == "/clerk/"
    assert client.get("/clerk/").status_code == 200


def test_signed_in_clerk_skips_the_sign_in_page_and_signing_out_returns_to_it(clerk):
    client = _client(clerk)
    response = client.get("/clerk/login/")
    assert response.status_code == 302 and response["Location"] == "/clerk/"
    response = client.post("/clerk/logout/")
    assert response.status_code == 302 and response["Location"] == "/clerk/login/"
    assert client.get("/clerk/").status_code == 302


def test_hq_agent_and_other_brand_admin_cannot_use_the_clerk_app(hq_agent, other_admin):
    assert _client(hq_agent).get("/clerk/").status_code == 403
    assert _client(other_admin).get("/clerk/").status_code == 403


def test_installable_manifest_and_service_worker(client, db):
    manifest = client.get("/clerk/manifest.webmanifest")
    assert manifest["Content-Type"] == "application/manifest+json"
    data = json.loads(manifest.content)
    assert data["start_url"] == "/clerk/" and data["display"] == "standalone" and data["icons"]
    worker = client.get("/clerk/sw.js")
    assert worker.status_code == 200 and worker["Content-Type"].startswith("application/javascript")
    assert worker["Service-Worker-Allowed"] == "/clerk/"


# --- conversations and chat ---------------------------------------------------------------------------------


def test_home_lists_my_conversation_with_unread(world, clerk):
    client = _client(clerk)
    page = client.get("/clerk/")
    assert page.status_code == 200 and "林小姐" in page.content.decode()
    data = client.get("/clerk/conversations.json").json()
    assert [row["id"] for row in data["conversations"]] == [world["conversation"].pk]
    assert data["unread"] == 2


def test_chat_marks_read_and_shows_the_customer_panel(world, clerk):
    page = _client(clerk).get(f"/clerk/c/{world['conversation'].pk}/")
    assert page.status_code == 200
    body = page.content.decode()
    assert "顧客資料" in body and "bound-since" in body and "林小姐" in body
    messages = _client(clerk).get(f"/clerk/c/{world['conversation'].pk}/messages.json").json()["messages"]
    assert [m["text"] for m in messages] == ["有 M 號嗎？"]
    world["conversation"].refresh_from_db()
    assert world["conversation"].unread_count == 0


def test_send_text_queues_an_outbound_message(world, clerk):
    status, data = _post(
        _client(clerk), f"/clerk/c/{world['conversation'].pk}/send", {"text": "有的，幫您保留"}
    )
    assert status == 201
    assert (data["message"]["direction"], data["message"]["status"]) == ("out", "queued")
    assert Message.objects.filter(direction="out", sender=clerk, text="有的，幫您保留").count() == 1


def test_empty_text_is_refused_with_the_field(world, clerk):
    status, data = _post(_client(clerk), f"/clerk/c/{world['conversation'].pk}/send", {"text": "  "})
    assert status == 422 and data["field"] == "text"
    assert not Message.objects.filter(direction="out").exists()


def test_retry_only_failed_messages(world, clerk):
    failed = Message.objects.create(
        brand=world["conversation"].brand,
        conversation=world["conversation"],
        direction="out",
        kind="text",
        text="hi",
        status="failed",
        failure_reason="500",
        sender=clerk,
    )
    client = _client(clerk)
    status, data = _post(client, f"/clerk/c/{world['conversation'].pk}/retry/{failed.pk}", {})
    assert status == 200 and data["message"]["status"] == "queued"
    status, data = _post(client, f"/clerk/c/{world['conversation'].pk}/retry/{failed.pk}", {})
    assert status == 409 and data["field"] == "status"


def test_product_search_by_name_sku_and_stock_everywhere(world, clerk):
    client = _client(clerk)
    by_name = client.get("/clerk/products.json?q=有機棉").json()["products"]
    by_sku = client.get("/clerk/products.json?q=TEE-L").json()["products"]
    assert [p["id"] for p in by_name] == [p["id"] for p in by_sku] == [world["product"].pk]
    variants = {v["sku"]: v for v in by_name[0]["variants"]}
    assert variants["TEE-L"]["online"] == 5 and variants["TEE-L"]["my_store"] == 0


def test_send_product_card_issues_tracked_links(world, clerk):
    status, data = _post(
        _client(clerk), f"/clerk/c/{world['conversation'].pk}/cards", {"product_ids": [world["product"].pk]}
    )
    assert status == 201
    message = Message.objects.get(kind="flex")
    card = message.payload["cards"][0]
    assert card["url"].startswith("http") and "/r/" in card["url"]
    link = LinkIssue.objects.get()
    assert (link.clerk_id, link.customer_id, link.conversation_id) == (
        clerk.pk,
        world["customer"].pk,
        world["conversation"].pk,
    )
    assert message.payload["alt_text"].endswith("有機棉T恤")


def test_more_than_ten_products_is_refused(world, clerk):
    ids = [f.make_product(world["product"].brand, f"P{i}").pk for i in range(11)]
    status, data = _post(_client(clerk), f"/clerk/c/{world['conversation'].pk}/cards", {"product_ids": ids})
    assert status == 422 and data["field"] == "products"
    assert not LinkIssue.objects.exists()


def test_another_brands_product_is_refused(world, clerk, other_brand):
    foreign = f.make_product(other_brand, "別家商品")
    status, _ = _post(
        _client(clerk), f"/clerk/c/{world['conversation'].pk}/cards", {"product_ids": [foreign.pk]}
    )
    assert status == 404


def test_endless_aisle_cart_carries_the_clerks_ref(world, clerk):
    status, data = _post(
        _client(clerk),
        f"/clerk/c/{world['conversation'].pk}/cart",
        {"lines": [{"variant_id": world["tee_l"].pk, "quantity": 1}]},
    )
    assert status == 201
    cart = Cart.objects.get(token=data["cart"])
    assert (cart.created_by_id, cart.customer_id) == (clerk.pk, world["customer"].pk)
    ref = links.read_ref(cart.ref)
    assert ref is not None and (ref.kind, ref.id) == ("clerk", clerk.pk)
    assert f"/shop/herb/cart/{cart.token}/" in data["url"]
    assert Message.objects.get(direction="out").payload["cart_token"] == cart.token


def test_cart_beyond_online_stock_is_refused(world, clerk):
    status, data = _post(
        _client(clerk),
        f"/clerk/c/{world['conversation'].pk}/cart",
        {"lines": [{"variant_id": world["tee_l"].pk, "quantity": 9}]},
    )
    assert status == 409 and "TEE-L" in data["error"]


# --- the scope sweep: another clerk, another brand ----------------------------------------------------------

CONVERSATION_GETS = ["/clerk/c/{id}/", "/clerk/c/{id}/messages.json"]
CONVERSATION_POSTS = [
    ("/clerk/c/{id}/send", {"text": "hi"}),
    ("/clerk/c/{id}/cards", {"product_ids": [1]}),
    ("/clerk/c/{id}/cart", {"lines": []}),
    ("/clerk/c/{id}/retry/1", {}),
]


@pytest.mark.parametrize("who", ["other_clerk", "other_brand_clerk"])
def test_other_clerks_get_404_for_every_conversation_endpoint(world, who, brand, store, other_brand):
    if who == "other_clerk":
        intruder = f.make_user(brand, "clerk-b", role="clerk", store=store)
    else:
        intruder = f.make_user(
            other_brand, "clerk-x", role="clerk", store=f.make_store(other_brand, code="X1")
        )
    client = _client(intruder)
    conversation_id = world["conversation"].pk
    for url in CONVERSATION_GETS:
        assert client.get(url.format(id=conversation_id)).status_code == 404, url
    for url, data in CONVERSATION_POSTS:
        status, _ = _post(client, url.format(id=conversation_id), data)
        assert status == 404, url
    assert client.get("/clerk/conversations.json").json()["conversations"] == []
    assert client.get(f"/clerk/customers/{world['customer'].pk}/").status_code == 404
    assert not Message.objects.filter(direction="out").exists()


def test_store_team_sees_clerk_customers_only_when_the_brand_allows(world, brand, store):
    from omo.inbox.models import InboxSettings

    teammate = f.make_user(brand, "clerk-b", role="clerk", store=store)
    client = _client(teammate)
    assert client.get(f"/clerk/c/{world['conversation'].pk}/").status_code == 404
    InboxSettings.objects.create(brand=brand, store_team_sees_clerk_customers=True)
    assert client.get(f"/clerk/c/{world['conversation'].pk}/").status_code == 200


def test_store_manager_sees_the_stores_conversations(world, manager):
    assert _client(manager).get(f"/clerk/c/{world['conversation'].pk}/").status_code == 200


# --- me: QR, customers, sales and statement --------------------------------------------------------------------


def test_my_qr_shows_my_link(world, clerk):
    page = _client(clerk).get("/clerk/qr/")
    assert page.status_code == 200
    code = clerk.clerk_code.code
    assert f"/b/{code}" in page.content.decode() and f"/b/{code}/qr.svg" in page.content.decode()


def test_my_customers_lists_only_mine(world, clerk, brand, store):
    other = f.make_user(brand, "clerk-b", role="clerk", store=store)
    stranger = f.make_customer(brand, "別人的顧客", phone="+886955555555")
    Binding.objects.create(
        brand=brand, customer=stranger, clerk=other, source="manual", started_at=timezone.now()
    )
    body = _client(clerk).get("/clerk/customers/").content.decode()
    assert "林小姐" in body and "別人的顧客" not in body
    assert _client(clerk).get(f"/clerk/customers/{world['customer'].pk}/").status_code == 200
    assert _client(clerk).get(f"/clerk/customers/{stranger.pk}/").status_code == 404


def test_my_sales_and_statement_csv(world, clerk, brand):
    CommissionRule.objects.create(
        brand=brand, rate_bp=500, starts_on=timezone.localdate() - dt.timedelta(days=1)
    )
    cart = commerce.new_cart(
        brand, ref=links.clerk_ref(clerk.pk), customer=world["customer"], created_by=clerk
    )
    commerce.set_cart_line(cart, world["tee_m"], 1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        order = commerce.checkout(
            cart,
            contact=commerce.Contact(
                "林小姐",
                "0911111111",
                address={"city": "台北市", "district": "信義區", "line1": "信義路 1 號"},
            ),
            fulfilment="ship",
            payment_method="cod",
        )
    attribution = Attribution.objects.get(order=order)
    assert attribution.clerk_id == clerk.pk
    client = _client(clerk)
    page = client.get("/clerk/sales/").content.decode()
    assert order.name in page and attribution.reason_zh in page
    month = timezone.localdate().strftime("%Y-%m")
    csv_response = client.get(f"/clerk/sales/statement.csv?month={month}")
    assert csv_response.status_code == 200 and csv_response["Content-Type"].startswith("text/csv")
    text = csv_response.content.decode("utf-8-sig")
    assert order.name in text and "50.00" in text  # 5% of NT$1,000
    assert CommissionEntry.objects.get(order=order).amount == 5000
    assert client.get("/clerk/sales/statement.csv?month=2025-13").status_code == 400
    assert client.get("/clerk/sales/?month=nope").status_code == 400


def test_another_clerk_never_sees_my_sales(world, clerk, brand, store):
    other = f.make_user(brand, "clerk-b", role="clerk", store=store)
    cart = commerce.new_cart(
        brand, ref=links.clerk_ref(clerk.pk), customer=world["customer"], created_by=clerk
    )
    commerce.set_cart_line(cart, world["tee_m"], 1)
    with TestCase.captureOnCommitCallbacks(execute=True):
        order = commerce.checkout(
            cart,
            contact=commerce.Contact(
                "林小姐",
                "0911111111",
                address={"city": "台北市", "district": "信義區", "line1": "信義路 1 號"},
            ),
            fulfilment="ship",
            payment_method="cod",
        )
    client = _client(other)
    assert order.name not in client.get("/clerk/sales/").content.decode()
    assert order.name not in client.get("/clerk/sales/statement.csv").content.decode("utf-8-sig")
