"""PDPA export and erasure. A customer is built through the real services (orders, LINE messages
through the signed webhook, tracked events, points, coupons, binding, clicks); after erasure every
text and JSON column of every model is searched for their name, phone and email."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile

import pytest
from django.apps import apps
from django.db import models
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from omo.attribution import services as attribution
from omo.binding import services as binding
from omo.commerce import services as commerce
from omo.commerce.schemas import CustomerRef, OrderIn, OrderLineIn
from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.customers import consent, privacy
from omo.customers import services as customer_services
from omo.customers.models import Consent, Customer, CustomerIdentity
from omo.inbox import services as inbox_services
from omo.inbox.models import Contact, Conversation, Message, WebhookReceipt
from omo.loyalty import services as loyalty
from omo.platforms.tasks import process_pending
from omo.testing import factories as f
from omo.testing.line import post_line_webhook
from omo.tracking import services as tracking
from omo.tracking.models import TrackedEvent, TrackingIntake

pytestmark = pytest.mark.django_db
wh = pytest.importorskip("omo.devtools.line_webhook_sender")

NAME, PHONE, LOCAL_PHONE, EMAIL = "王曉明", "+886912345678", "0912345678", "xiaoming.wang@example.com"
OTHER_NAME, OTHER_PHONE, OTHER_EMAIL = "陳大文", "+886922333444", "tai.man@example.com"
ADDRESS = {"postal_code": "110", "city": "台北市", "district": "信義區", "line1": "松高路 1 號"}


def admin_actor(brand, user) -> Actor:
    return Actor(brand=brand, user=user, role="hq_admin")


def build_person(brand, *, name, phone, email, store, clerk, warehouse, line_inbox, line_standin, actor):
    """One customer with data in every app, made the way production makes it."""
    customer = customer_services.create_customer(
        brand,
        actor=actor,
        name=name,
        phone=phone,
        email=email,
        birthday=dt.date(1990, 5, 1),
        tags=["VIP"],
        notes=f"{name} 喜歡綠色",
        home_store_id=store.pk,
    )
    customer_services.update_customer(customer, actor=actor, notes=f"{name} 住信義區，電話 {phone}")
    binding.bind_customer(customer, clerk, source="manual")
    # LINE: the person adds the account and writes, through the signed webhook
    line_user = line_standin.add_user(
        display_name=name, picture_url="https://profile.line-scdn.net/0h-person"
    )
    CustomerIdentity.objects.create(
        brand=brand, customer=customer, kind="line", value=line_user.user_id, verified=True, source="test"
    )
    post_line_webhook(line_inbox, wh.follow_event(line_user.user_id))
    token = line_standin.issue_reply_token(line_inbox.external_id, line_user.user_id)
    post_line_webhook(
        line_inbox,
        wh.text_event(line_user.user_id, f"我是{name}，電話 {phone[4:]}，email {email}", token=token),
    )
    process_pending(line_inbox.pk)
    conversation = Conversation.objects.get(customer=customer)
    inbox_services.send_text(conversation, text=f"{name} 您好，已收到", sender=clerk)
    inbox_services.add_note(conversation, text=f"{name} 的 email 是 {email}", author=clerk)
    # a web shop order with contact and address, and a POS order naming the customer
    product = f.make_product(brand, "有機棉T恤", variants=[(f"TEE-{phone[-4:]}", "黑 / M", 89000)])
    variant = product.variants.get()
    f.set_stock(variant, warehouse, 5)
    cart = commerce.new_cart(brand, customer=customer)
    commerce.add_to_cart(cart, variant, 1)
    commerce.checkout(
        cart,
        contact=commerce.Contact(name=name, phone=phone, email=email, address=ADDRESS),
        fulfilment="ship",
        payment_method="cod",
        note=f"請 {name} 本人簽收",
    )
    commerce.record_order(
        brand,
        OrderIn(
            source="pos",
            external_id=f"R-{phone[-4:]}",
            sales_channel="pos",
            store_code=store.code,
            placed_at=timezone.now(),
            customer=CustomerRef(name=name, phone=phone),
            lines=[OrderLineIn(sku=variant.sku, quantity=1, unit_price=89000)],
        ),
        actor=None,
    )
    # points, a coupon, the clerk binding, a tracked link click, tracked events
    loyalty.adjust_points(customer, 100, reason=f"{name} 生日禮", actor=actor)
    coupon = loyalty.create_coupon(brand, actor=actor, name="生日券", kind="amount_off", value=10000)
    loyalty.issue_codes(coupon, [customer], actor=actor)
    link = attribution.issue_link(brand, clerk=clerk, product=product, customer=customer)
    attribution.record_click(
        link, user_agent="Mozilla/5.0 (iPhone)", ip_address="203.0.113.9", session_key="s-1"
    )
    source, _ = tracking.create_source(brand, name=f"web {phone[-4:]}", actor=None)
    tracking.ingest(
        source,
        [
            {
                "type": "identify",
                "userId": email,
                "messageId": f"id-{customer.pk}",
                "traits": {"name": name, "email": email, "phone": phone},
            },
            {
                "type": "track",
                "userId": email,
                "event": "Product Viewed",
                "messageId": f"tr-{customer.pk}",
                "properties": {"sku": variant.sku, "contact": email},
                "context": {"ip": "203.0.113.9", "traits": {"name": name}},
            },
        ],
    )
    # a call the tracking edge stored and the worker has not processed yet
    TrackingIntake.objects.create(
        brand=brand,
        source=source,
        call="identify",
        body=json.dumps(
            {"userId": email, "traits": {"name": name, "phone": phone}}, ensure_ascii=False
        ).encode(),
        received_at=timezone.now(),
    )
    consent.record_consent(
        customer,
        platform="email",
        purpose="marketing",
        granted=True,
        source="console",
        note=f"{name} 簽署同意書",
        actor=actor,
    )
    customer.refresh_from_db()
    return customer


@pytest.fixture
def people(
    brand, store, clerk, warehouse, hq_admin, line_inbox, line_standin, django_capture_on_commit_callbacks
):
    actor = admin_actor(brand, hq_admin)
    common = {
        "store": store,
        "clerk": clerk,
        "warehouse": warehouse,
        "line_inbox": line_inbox,
        "line_standin": line_standin,
        "actor": actor,
    }
    with django_capture_on_commit_callbacks(execute=True):
        person = build_person(brand, name=NAME, phone=PHONE, email=EMAIL, **common)
        other = build_person(brand, name=OTHER_NAME, phone=OTHER_PHONE, email=OTHER_EMAIL, **common)
    return person, other


def _text_columns(model) -> list[str]:
    wanted = (
        models.CharField,
        models.TextField,
        models.JSONField,
        models.FileField,
        models.GenericIPAddressField,
        models.BinaryField,  # raw tracking calls (UTF-8 JSON)
    )
    return [field.attname for field in model._meta.concrete_fields if isinstance(field, wanted)]


def find_everywhere(*needles: str) -> list[str]:
    """'app.Model.column #pk' for every stored value, in any model of any app, that holds a needle."""
    hits = []
    folded = [needle.casefold() for needle in needles]
    for model in apps.get_models():
        columns = _text_columns(model)
        if not columns:
            continue
        for row in model._base_manager.values_list("pk", *columns):
            for column, value in zip(columns, row[1:], strict=True):
                if value is None:
                    continue
                if isinstance(value, bytes | memoryview):
                    text = bytes(value).decode("utf-8", "replace")
                elif isinstance(value, str):
                    text = value
                else:
                    text = json.dumps(value, ensure_ascii=False, default=str)
                if any(needle in text.casefold() for needle in folded):
                    hits.append(f"{model._meta.label}.{column} #{row[0]}")
    return hits


def test_erasure_leaves_no_trace_of_the_person_anywhere(
    people, brand, hq_admin, django_capture_on_commit_callbacks
):
    person, other = people
    # the search finds what is there: both people are all over the database before
    before = find_everywhere(NAME, PHONE, LOCAL_PHONE, EMAIL)
    for place in (
        "customers.Customer.name",
        "inbox.Message.text",
        "inbox.WebhookReceipt.payload",
        "tracking.TrackedEvent.traits",
        "tracking.TrackingIntake.body",
        "commerce.Order.contact_email",
        "core.AuditLog.detail",
        "inbox.Contact.display_name",
        "customers.CustomerIdentity.value",
    ):
        assert any(hit.startswith(place) for hit in before), place
    orders_before = list(person.orders.order_by("id").values_list("id", "total", "status"))
    messages_before = Message.objects.filter(conversation__customer=person).count()

    with django_capture_on_commit_callbacks(execute=True):
        report = privacy.erase_customer(
            person, actor=admin_actor(brand, hq_admin), reason=f"{NAME} 來電要求刪除"
        )

    assert find_everywhere(NAME, PHONE, LOCAL_PHONE, EMAIL) == []
    # the other customer is untouched
    assert any(hit.startswith("customers.Customer.name") for hit in find_everywhere(OTHER_NAME))
    assert len(find_everywhere(OTHER_EMAIL)) > 5
    person.refresh_from_db()
    assert person.erased_at is not None
    assert (person.name, person.phone, person.email, person.birthday, person.tags, person.notes) == (
        "",
        "",
        "",
        None,
        [],
        "",
    )
    # accounting stays: the same orders, totals and statuses, still the customer's
    assert list(person.orders.order_by("id").values_list("id", "total", "status")) == orders_before
    assert report.counts["orders"] == 2 and report.counts["identities"] >= 3
    assert not CustomerIdentity.objects.filter(customer=person).exists()
    assert Message.objects.filter(conversation__customer=person).count() == messages_before >= 3  # rows kept
    assert set(Message.objects.filter(conversation__customer=person).values_list("text", flat=True)) == {""}
    assert Contact.objects.get(customer=person).reachable is False
    assert TrackedEvent.objects.filter(customer=person).exists()
    entry = AuditLog.objects.get(action="customer.erased")
    assert entry.detail["reason"] == privacy.ERASED and entry.detail["counts"] == report.counts
    assert consent.may_message(person, "line", "transactional") == (False, consent.reason("erased"))


def test_after_erasure_the_same_line_user_starts_over_as_a_stranger(
    people, brand, hq_admin, line_inbox, line_standin
):
    person, _ = people
    receipts = WebhookReceipt.objects.count()
    uid = Contact.objects.get(customer=person, inbox=line_inbox)
    privacy.erase_customer(person, actor=admin_actor(brand, hq_admin), reason="request")
    assert WebhookReceipt.objects.count() == receipts  # rows stay, so redeliveries remain no-ops
    assert not Contact.objects.filter(external_user_id=uid.external_user_id).exists()


def test_erase_refuses_twice_weaker_roles_and_a_missing_reason(people, brand, hq_admin, hq_agent):
    person, _ = people
    with pytest.raises(privacy.PrivacyError) as no_reason:
        privacy.erase_customer(person, actor=admin_actor(brand, hq_admin), reason="  ")
    assert no_reason.value.field == "reason"
    with pytest.raises(privacy.PrivacyError) as weaker:
        privacy.erase_customer(person, actor=Actor(brand=brand, user=hq_agent, role="hq_agent"), reason="x")
    assert weaker.value.status == 403
    person.refresh_from_db()
    assert person.name == NAME and person.erased_at is None
    privacy.erase_customer(person, actor=admin_actor(brand, hq_admin), reason="x")
    with pytest.raises(privacy.PrivacyError) as again:
        privacy.erase_customer(person, actor=admin_actor(brand, hq_admin), reason="x")
    assert again.value.status == 409


def read_zip(data: bytes) -> tuple[dict, dict[str, list[dict]]]:
    archive = zipfile.ZipFile(io.BytesIO(data))
    document = json.loads(archive.read("customer.json"))
    tables = {
        name[: -len(".csv")]: list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8-sig"))))
        for name in archive.namelist()
        if name.endswith(".csv")
    }
    return document, tables


def test_export_holds_every_section(people, brand, hq_admin):
    person, other = people
    data = privacy.export_customer(person, actor=admin_actor(brand, hq_admin))
    document, tables = read_zip(data)
    assert (
        set(tables)
        == set(privacy.collect(person))
        == {
            "profile",
            "identities",
            "consents",
            "orders",
            "order_lines",
            "refunds",
            "loyalty_accounts",
            "points",
            "coupons",
            "coupon_redemptions",
            "bindings",
            "contacts",
            "conversations",
            "messages",
            "tracked_events",
            "clicks",
            "segments",
            "customer_scores",
            "customer_predictions",
        }
    )
    assert document["customer_id"] == person.pk
    assert document["profile"][0]["name"] == NAME and tables["profile"][0]["phone"] == PHONE
    assert {row["kind"] for row in document["identities"]} >= {"phone", "email", "line"}
    assert (
        sorted(row["contact_email"] for row in document["orders"]) == ["", EMAIL]
        or len(document["orders"]) == 2
    )
    assert len(document["orders"]) == 2 and len(document["order_lines"]) == 2
    assert {row["order_id"] for row in document["order_lines"]} == {row["id"] for row in document["orders"]}
    assert [row["delta"] for row in document["points"] if row["kind"] == "adjust"] == [100]
    assert len(document["coupons"]) == 1 and len(document["bindings"]) == 1 and len(document["clicks"]) == 1
    texts = [row["text"] for row in document["messages"]]
    assert any(PHONE[4:] in text for text in texts) and f"{NAME} 您好，已收到" in texts
    assert not any("email 是" in text for text in texts)  # staff notes are not the person's data
    assert {row["event"] for row in document["tracked_events"]} >= {"Product Viewed"}
    assert all("reply_token" not in row for row in document["conversations"])
    assert [row["note"] for row in document["consents"] if row["source"] == "console"] == [
        f"{NAME} 簽署同意書"
    ]
    # nothing of the other customer
    assert OTHER_EMAIL not in data.decode("latin-1") and OTHER_EMAIL not in json.dumps(document)
    assert AuditLog.objects.filter(action="customer.exported", target_id=str(person.pk)).count() == 1


# --- API and console: the edges, by brand and role ------------------------------------------------


def test_api_export_and_erase(brand, other_brand, store, api, other_api):
    customer = f.make_customer(brand, name=NAME, phone=PHONE, email=EMAIL)
    url = f"/api/v1/customers/{customer.pk}/export"
    answer = api.get(url)
    assert answer.status_code == 200 and answer["Content-Type"] == "application/zip"
    assert read_zip(answer.content)[0]["profile"][0]["email"] == EMAIL
    assert other_api.get(url).status_code == 404
    for role, extra in (("hq_agent", {}), ("store_manager", {"store": store}), ("clerk", {})):
        weaker = f.ApiClient(f.make_api_key(brand, role=role, **extra))
        assert weaker.get(url).status_code == 403, role
        assert weaker.post(f"/api/v1/customers/{customer.pk}/erase", {"reason": "x"}).status_code == 403, role

    erase = f"/api/v1/customers/{customer.pk}/erase"
    assert other_api.post(erase, {"reason": "asked"}).status_code == 404
    missing = api.post(erase, {})
    assert missing.status_code == 422
    blank = api.post(erase, {"reason": " "})
    assert blank.status_code == 400 and blank.json()["field"] == "reason"
    customer.refresh_from_db()
    assert customer.erased_at is None
    done = api.post(erase, {"reason": "顧客來信要求"})
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["id"] == customer.pk and body["erased_customer_ids"] == [customer.pk] and body["erased_at"]
    assert api.post(erase, {"reason": "again"}).status_code == 409
    assert Customer.objects.get(pk=customer.pk).email == ""
    assert "/api/v1/customers/{customer_id}/export" in api.get("/api/v1/openapi.json").json()["paths"]


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_console_export_and_erase(console, brand, hq_admin):
    customer = f.make_customer(brand, name=NAME, phone=PHONE, email=EMAIL)
    exported = console.post(reverse("console:customer_export", args=[customer.pk]))
    assert exported.status_code == 200 and exported["Content-Type"] == "application/zip"
    assert read_zip(exported.content)[0]["profile"][0]["name"] == NAME
    assert AuditLog.objects.filter(action="customer.exported", actor_user=hq_admin).count() == 1
    assert console.get(reverse("console:customer_export", args=[customer.pk])).status_code == 405

    erase = reverse("console:customer_erase", args=[customer.pk])
    page = console.get(erase)
    assert page.status_code == 200 and "刪除原因" in page.content.decode()
    wrong = console.post(erase, {"reason": "顧客要求", "confirmation": "好"})
    assert wrong.status_code == 400 and "請輸入「刪除」以確認" in wrong.content.decode()
    customer.refresh_from_db()
    assert customer.name == NAME
    done = console.post(erase, {"reason": "顧客要求", "confirmation": "刪除"})
    assert done.status_code == 302
    customer.refresh_from_db()
    assert customer.erased_at is not None and customer.name == ""
    assert AuditLog.objects.filter(action="customer.erased", actor_user=hq_admin).count() == 1


def test_console_privacy_pages_by_brand_and_role(
    brand, store, hq_agent, manager, clerk, other_admin, console
):
    customer = f.make_customer(brand, name=NAME, phone=PHONE, home_store_id=store.pk)
    pages = [
        ("post", reverse("console:customer_export", args=[customer.pk]), {}),
        ("get", reverse("console:customer_erase", args=[customer.pk]), {}),
        (
            "post",
            reverse("console:customer_erase", args=[customer.pk]),
            {"reason": "x", "confirmation": "刪除"},
        ),
        ("get", reverse("console:privacy_settings"), {}),
        (
            "post",
            reverse("console:privacy_settings"),
            {"event_retention_days": 1, "receipt_retention_days": 1},
        ),
    ]
    for user in (hq_agent, manager, clerk):
        client = client_for(user)
        for method, url, body in pages:
            assert getattr(client, method)(url, body).status_code == 403, (user.role, url)
    admin_elsewhere = client_for(other_admin)
    for method, url, body in pages[:3]:
        assert getattr(admin_elsewhere, method)(url, body).status_code == 404, url
    customer.refresh_from_db()
    assert customer.erased_at is None and customer.name == NAME
    assert not AuditLog.objects.filter(action__in=["customer.exported", "customer.erased"]).exists()
    # the sidebar offers the settings page only to those who may open it
    assert reverse("console:privacy_settings") in console.get(reverse("console:dashboard")).content.decode()
    assert (
        reverse("console:privacy_settings")
        not in client_for(hq_agent).get(reverse("console:dashboard")).content.decode()
    )


# --- viewing personal data is audited ---------------------------------------------------------------


def test_clerk_app_and_order_page_views_are_audited(brand, store, clerk, line_inbox, console, hq_admin):
    customer = f.make_customer(brand, name=NAME, phone=PHONE)
    contact = Contact.objects.create(
        brand=brand, inbox=line_inbox, external_user_id="U" + "2" * 32, customer=customer
    )
    conversation = Conversation.objects.create(
        brand=brand,
        inbox=line_inbox,
        contact=contact,
        customer=customer,
        queue="clerk",
        assignee=clerk,
        store=store,
    )
    binding.bind_customer(customer, clerk, source="manual")
    app = client_for(clerk)
    assert app.get(reverse("clerk:customer", args=[customer.pk])).status_code == 200
    assert app.get(reverse("clerk:chat", args=[conversation.pk])).status_code == 200
    vias = list(
        AuditLog.objects.filter(action="customer.viewed", actor_user=clerk, target_id=str(customer.pk))
        .order_by("id")
        .values_list("detail__via", flat=True)
    )
    assert vias == ["clerk.customer", "clerk.chat"]

    order = commerce.record_order(
        brand,
        OrderIn(
            source="pos",
            external_id="R-1",
            sales_channel="pos",
            store_code=store.code,
            placed_at=timezone.now(),
            customer=CustomerRef(name=NAME, phone=PHONE),
            lines=[OrderLineIn(title="T恤", quantity=1, unit_price=1000)],
        ),
        actor=None,
    )
    order = order[0] if isinstance(order, tuple) else order
    assert console.get(reverse("console:order_detail", args=[order.pk])).status_code == 200
    entry = AuditLog.objects.get(action="order.viewed")
    assert (entry.actor_user, entry.target_id, entry.detail) == (
        hq_admin,
        str(order.pk),
        {"customer": customer.pk},
    )
    assert Consent.objects.count() == 0
