"""Settings → Webhooks in the console: HQ admin only, the brand's own endpoints only, named form
errors, the secret shown once, every action audited, the delivery log with redeliver."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from omo.core.models import AuditLog
from omo.outgoing_webhooks import services
from omo.outgoing_webhooks.models import WebhookDelivery, WebhookEndpoint

PAGES = ["console:webhooks", "console:webhook_create"]
ENDPOINT_PAGES = ["console:webhook_detail"]
ENDPOINT_POSTS = [
    "console:webhook_pause",
    "console:webhook_resume",
    "console:webhook_test",
    "console:webhook_rotate",
    "console:webhook_delete",
]
DELIVERY_URLS = ["console:webhook_delivery", "console:webhook_redeliver"]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def delivered(brand, hook):
    endpoint, _ = hook
    (pk,) = services.record_event(
        "binding.created",
        {
            "brand_id": brand.pk,
            "binding_id": 9,
            "customer_id": None,
            "clerk_id": None,
            "store_id": None,
            "source": "manual",
        },
    )
    WebhookDelivery.objects.filter(pk=pk).update(
        status="delivered", attempts=1, response_status=200, duration_ms=12
    )
    return WebhookDelivery.objects.get(pk=pk)


def every_url(endpoint, row) -> list[tuple[str, str]]:
    urls = [("get", reverse(name)) for name in PAGES]
    urls += [("get", reverse(name, args=[endpoint.pk])) for name in ENDPOINT_PAGES]
    urls += [("post", reverse(name, args=[endpoint.pk])) for name in ENDPOINT_POSTS]
    urls += [("get", reverse("console:webhook_delivery", args=[endpoint.pk, row.pk]))]
    urls += [("post", reverse("console:webhook_redeliver", args=[endpoint.pk, row.pk]))]
    return urls


def test_anonymous_is_sent_to_sign_in(client, hook, delivered):
    for method, url in every_url(hook[0], delivered):
        response = getattr(client, method)(url)
        assert response.status_code == 302 and reverse("console:login") in response["Location"], url


@pytest.mark.parametrize("role", ["clerk", "manager", "hq_agent"])
def test_weaker_roles_are_refused_and_change_nothing(request, role, hook, delivered):
    user = request.getfixturevalue(role)
    client = signed_in(user)
    endpoint = hook[0]
    for method, url in every_url(endpoint, delivered):
        assert getattr(client, method)(url).status_code == 403, (role, url)
    endpoint.refresh_from_db()
    assert endpoint.is_active and WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    assert (
        not AuditLog.objects.filter(action__startswith="webhook.").exclude(action="webhook.created").exists()
    )


def test_another_brands_admin_gets_404_and_changes_nothing(other_admin, hook, delivered):
    client = signed_in(other_admin)
    endpoint = hook[0]
    for method, url in every_url(endpoint, delivered):
        if url in (reverse(name) for name in PAGES):
            continue
        assert getattr(client, method)(url).status_code == 404, url
    listing = client.get(reverse("console:webhooks")).content.decode()
    assert endpoint.url not in listing
    endpoint.refresh_from_db()
    assert endpoint.is_active and endpoint.secret_hint == hook[0].secret_hint


def test_a_delivery_of_another_endpoint_is_404(console, brand, actor, hook, delivered, receiver):
    other, _ = services.create_endpoint(brand, url=receiver.url, topics=["order.attributed"], actor=actor)
    assert console.get(reverse("console:webhook_delivery", args=[other.pk, delivered.pk])).status_code == 404
    assert (
        console.post(reverse("console:webhook_redeliver", args=[other.pk, delivered.pk])).status_code == 404
    )


def test_settings_nav_links_the_page_for_hq_admin_only(console, manager):
    nav = console.get(reverse("console:webhooks")).context["nav"]
    assert reverse("console:webhooks") in {link["url"] for group in nav for link in group["links"]}
    nav = signed_in(manager).get(reverse("console:orders")).context["nav"]
    assert reverse("console:webhooks") not in {link["url"] for group in nav for link in group["links"]}


def test_create_shows_the_secret_once(console, brand, hq_admin, receiver):
    response = console.post(
        reverse("console:webhook_create"),
        {
            "url": receiver.url,
            "description": "ERP 業績同步",
            "topics": ["order.attributed", "binding.created"],
        },
    )
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    secret = re.search(r'<code id="webhook-secret">([^<]+)</code>', response.content.decode()).group(1)
    endpoint = WebhookEndpoint.objects.get(brand=brand)
    assert (endpoint.url, endpoint.description, endpoint.topics) == (
        receiver.url,
        "ERP 業績同步",
        ["binding.created", "order.attributed"],
    )
    assert endpoint.created_by == hq_admin and endpoint.is_active
    assert services.signing_secrets(endpoint) == [secret]
    assert secret not in console.get(reverse("console:webhooks")).content.decode()
    detail = console.get(reverse("console:webhook_detail", args=[endpoint.pk])).content.decode()
    assert secret not in detail and endpoint.secret_hint in detail
    entry = AuditLog.objects.get(action="webhook.created")
    assert (entry.actor_user, entry.target_id) == (hq_admin, str(endpoint.pk))


@pytest.mark.parametrize(
    ("form", "field", "words"),
    [
        ({"url": "", "topics": ["order.attributed"]}, "url", "請輸入"),
        ({"url": "not a url", "topics": ["order.attributed"]}, "url", "https://"),
        ({"url": "http://erp.example.com/hooks", "topics": ["order.attributed"]}, "url", "https://"),
        ({"url": "ftp://erp.example.com/hooks", "topics": ["order.attributed"]}, "url", "https://"),
        ({"url": "https://user:pw@erp.example.com/hooks", "topics": ["order.attributed"]}, "url", "帳號密碼"),
        ({"url": "https://erp.example.com/hooks"}, "topics", "至少選擇一種事件"),
        ({"url": "https://erp.example.com/hooks", "topics": ["order.exploded"]}, "topics", "order.exploded"),
        ({"url": "https://erp.example.com/" + "x" * 500, "topics": ["order.attributed"]}, "url", "500"),
    ],
)
def test_bad_input_is_named_and_nothing_is_saved(console, brand, form, field, words):
    response = console.post(reverse("console:webhook_create"), form)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert set(errors) == {field}
    assert words in " ".join(errors[field])
    assert not WebhookEndpoint.objects.filter(brand=brand).exists()
    assert not AuditLog.objects.filter(action="webhook.created").exists()


def test_private_and_local_addresses_are_refused_outside_development(console, brand, settings):
    settings.OMO_WEBHOOK_ALLOW_LOCAL = False
    for url in (
        "http://127.0.0.1:8000/hooks",
        "https://localhost/hooks",
        "https://10.0.0.5/hooks",
        "https://[::1]/x",
    ):
        response = console.post(
            reverse("console:webhook_create"), {"url": url, "topics": ["order.attributed"]}
        )
        assert response.status_code == 400, url
        assert set(response.context["form"].errors) == {"url"}, url
    assert not WebhookEndpoint.objects.filter(brand=brand).exists()
    assert services.validate_url("https://erp.example.com/hooks") == "https://erp.example.com/hooks"


def test_edit_saves_and_audits_the_changes(console, hook):
    endpoint = hook[0]
    url = reverse("console:webhook_detail", args=[endpoint.pk])
    response = console.post(url, {"url": endpoint.url, "description": "CRM", "topics": ["customer.merged"]})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.description, endpoint.topics) == ("CRM", ["customer.merged"])
    entry = AuditLog.objects.get(action="webhook.updated")
    assert entry.detail["changes"]["topics"][1] == ["customer.merged"]
    bad = console.post(url, {"url": "https://x.example.com/h", "topics": []})
    assert bad.status_code == 400 and set(bad.context["form"].errors) == {"topics"}
    endpoint.refresh_from_db()
    assert endpoint.url != "https://x.example.com/h"


def test_pause_resume_rotate_test_and_delete(console, brand, hook, receiver):
    endpoint, old_secret = hook
    console.post(reverse("console:webhook_pause", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.paused_reason == "由管理員暫停"
    page = console.get(reverse("console:webhook_detail", args=[endpoint.pk])).content.decode()
    assert "由管理員暫停" in page
    console.post(reverse("console:webhook_resume", args=[endpoint.pk]))
    endpoint.refresh_from_db()
    assert endpoint.is_active

    rotated = console.post(reverse("console:webhook_rotate", args=[endpoint.pk]))
    assert "no-store" in rotated["Cache-Control"]
    new_secret = re.search(r'<code id="webhook-secret">([^<]+)</code>', rotated.content.decode()).group(1)
    endpoint.refresh_from_db()
    assert services.signing_secrets(endpoint) == [new_secret, old_secret]

    console.post(reverse("console:webhook_test", args=[endpoint.pk]))
    test_event = WebhookDelivery.objects.get(endpoint=endpoint, topic="webhook.test")
    assert test_event.status == "pending"

    assert console.get(reverse("console:webhook_delete", args=[endpoint.pk])).status_code == 405
    response = console.post(reverse("console:webhook_delete", args=[endpoint.pk]))
    assert response.status_code == 302 and response["Location"] == reverse("console:webhooks")
    assert not WebhookEndpoint.objects.filter(pk=endpoint.pk).exists()
    actions = list(
        AuditLog.objects.filter(brand=brand, action__startswith="webhook.").values_list("action", flat=True)
    )
    assert sorted(actions) == sorted(
        [
            "webhook.created",
            "webhook.paused",
            "webhook.resumed",
            "webhook.secret_rotated",
            "webhook.test_sent",
            "webhook.deleted",
        ]
    )
    assert all(new_secret not in str(row) for row in AuditLog.objects.values())


def test_delivery_log_shows_the_attempts_and_redelivers(console, hook, delivered):
    endpoint = hook[0]
    page = console.get(reverse("console:webhook_detail", args=[endpoint.pk]))
    body = page.content.decode()
    assert delivered.event_id in body and "12 ms" in body and "已送達" in body
    detail = console.get(
        reverse("console:webhook_delivery", args=[endpoint.pk, delivered.pk])
    ).content.decode()
    assert "binding.created" in detail and "&quot;binding_id&quot;:9" in detail
    response = console.post(reverse("console:webhook_redeliver", args=[endpoint.pk, delivered.pk]))
    assert response.status_code == 302
    delivered.refresh_from_db()
    assert (delivered.status, delivered.attempts) == ("pending", 0)
    assert AuditLog.objects.filter(action="webhook.redelivered", target_id=str(endpoint.pk)).exists()
    failed_only = console.get(reverse("console:webhook_detail", args=[endpoint.pk]), {"status": "failed"})
    row_link = reverse("console:webhook_delivery", args=[endpoint.pk, delivered.pk])
    assert row_link not in failed_only.content.decode()
    assert row_link in console.get(reverse("console:webhook_detail", args=[endpoint.pk])).content.decode()


def test_the_english_console_speaks_english(console, hook):
    console.post(reverse("set_language"), {"language": "en", "next": reverse("console:webhooks")})
    body = console.get(reverse("console:webhooks")).content.decode()
    assert "Add webhook" in body and "新增 Webhook" not in body
    body = console.get(reverse("console:webhook_detail", args=[hook[0].pk])).content.decode()
    assert "Send test event" in body and "Delivery log" in body


def test_the_list_shows_only_the_brands_endpoints(console, other_brand, receiver, hook):
    WebhookEndpoint.objects.create(
        brand=other_brand, url="https://other.example.com/secret-hook", topics=[], secret_encrypted="x"
    )
    body = console.get(reverse("console:webhooks")).content.decode()
    assert hook[0].url in body and "other.example.com" not in body
