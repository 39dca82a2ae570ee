"""Every console (/console/) and clerk-app (/clerk/) URL, found in the URLconf, against tenancy and roles.

Like the API sweep (omo/core/tests/test_api_sweep.py), new pages are covered as soon as they are
mounted: the patterns come from `django.urls.get_resolver()`, and every path parameter is filled
from `FILL` (URL name -> parameter -> kind of object). A page with a parameter `FILL` does not know,
or a page that is neither behind the console's nor the clerk app's access check nor listed as
public, fails the sweep with its name.

Each URL is tried with GET and with POST:
- without a session: a redirect to the app's sign-in page (or 401 for the clerk app's JSON and
  POST endpoints, 405 where the method is not served), never the page;
- as the strongest role of another brand, with brand A's ids: 404 or 403 (405 for a method the
  page does not serve), and no page of any answer shows brand A's data;
- as a weaker role of brand A, with brand A's ids: a clerk on the console, and on each console page
  the console roles its requirement refuses; HQ staff on the clerk app; another clerk of the same
  store on a clerk's conversation and customer (404).

After every refused round, brand A's objects are as they were (no reply sent, key revoked, webhook
paused, customer erased, merge split...).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.apps import apps
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from omo.attribution.models import CommissionRule
from omo.binding import services as binding_services
from omo.catalog.models import ProductImage
from omo.commerce import services as commerce
from omo.commerce.schemas import OrderIn
from omo.core.audit import Actor
from omo.core.models import ApiKey, ImportJob
from omo.customers.merge import merge_customers
from omo.inbox.models import CannedReply, Contact, Conversation, Inbox, Message, WebhookReceipt
from omo.loyalty import services as loyalty
from omo.loyalty.models import Tier
from omo.staff.roles import Role
from omo.testing import factories as f

# Text planted in every brand A object a page can show; brand B's answers must never contain it.
SECRET = "SWEEPA"

CONSOLE = "console"
CLERK = "clerk"

# Pages anyone may open: sign-in and sign-out, and the clerk app's install files.
PUBLIC = {
    "console:login",
    "console:logout",
    "clerk:login",
    "clerk:logout",
    "clerk:manifest",
    "clerk:sw",
}

# URL name -> path parameter -> the kind of object (a key of the `objects` fixture) it names.
FILL: dict[str, dict[str, str]] = {
    "console:inbox_conversation": {"pk": "conversation"},
    "console:inbox_reply": {"pk": "conversation"},
    "console:inbox_note": {"pk": "conversation"},
    "console:inbox_retry": {"pk": "conversation", "message_id": "message"},
    "console:inbox_labels": {"pk": "conversation"},
    "console:inbox_assign": {"pk": "conversation"},
    "console:inbox_status": {"pk": "conversation"},
    "console:inbox_shift_delete": {"pk": "shift"},
    "console:inbox_canned_edit": {"pk": "canned"},
    "console:inbox_canned_delete": {"pk": "canned"},
    "console:order_detail": {"pk": "order"},
    "console:order_pay": {"pk": "order"},
    "console:order_fulfil": {"pk": "order"},
    "console:order_cancel": {"pk": "order"},
    "console:order_refund": {"pk": "order"},
    "console:customer_detail": {"pk": "customer"},
    "console:merge_suggestion_merge": {"pk": "suggestion"},
    "console:merge_suggestion_dismiss": {"pk": "suggestion"},
    "console:merge_split": {"pk": "merge"},
    "console:customer_privacy": {"pk": "customer"},
    "console:customer_consent": {"pk": "customer"},
    "console:customer_export": {"pk": "customer"},
    "console:customer_erase": {"pk": "customer"},
    "console:product_detail": {"pk": "product"},
    "console:product_edit": {"pk": "product"},
    "console:variant_create": {"pk": "product"},
    "console:variant_edit": {"pk": "product", "variant_pk": "variant"},
    "console:image_add": {"pk": "product"},
    "console:image_remove": {"pk": "product", "image_pk": "image"},
    "console:product_stock": {"pk": "product"},
    "console:coupon_detail": {"pk": "coupon"},
    "console:import_detail": {"pk": "job"},
    "console:import_progress": {"pk": "job"},
    "console:api_key_revoke": {"pk": "api_key"},
    "console:tracking_source_revoke": {"pk": "tracking_source"},
    "console:segment_detail": {"pk": "segment"},
    "console:segment_edit": {"pk": "segment"},
    "console:segment_delete": {"pk": "segment"},
    "console:segment_upload": {"pk": "segment"},
    "console:store_edit": {"pk": "store"},
    "console:staff_edit": {"pk": "staff_member"},
    "console:staff_transfer": {"pk": "staff_member"},
    "console:binding_transfer_undo": {"pk": "transfer"},
    "console:shopify_detail": {"pk": "shopify"},
    "console:shopify_sync": {"pk": "shopify"},
    "console:shopify_retry": {"pk": "shopify"},
    "console:shopify_privacy_resolve": {"pk": "shopify", "request_pk": "privacy_request"},
    "console:platform_account_detail": {"pk": "inbox"},
    "console:platform_account_rotate": {"pk": "inbox"},
    "console:platform_account_webhook": {"pk": "inbox"},
    "console:platform_account_disconnect": {"pk": "inbox"},
    "console:platform_account_reconnect": {"pk": "inbox"},
    "console:platform_account_quarantine": {
        "pk": "inbox",
        "kind": "quarantine_kind",
        "row_id": "quarantined_receipt",
        "action": "quarantine_action",
    },
    "console:webhook_detail": {"pk": "webhook"},
    "console:webhook_pause": {"pk": "webhook"},
    "console:webhook_resume": {"pk": "webhook"},
    "console:webhook_test": {"pk": "webhook"},
    "console:webhook_rotate": {"pk": "webhook"},
    "console:webhook_delete": {"pk": "webhook"},
    "console:webhook_delivery": {"pk": "webhook", "delivery_pk": "delivery"},
    "console:webhook_redeliver": {"pk": "webhook", "delivery_pk": "delivery"},
    "console:rules_store_hours": {"pk": "store"},
    "console:rules_tier": {"pk": "tier"},
    "console:rules_tier_delete": {"pk": "tier"},
    "console:commission_rule_edit": {"pk": "commission_rule"},
    "console:commission_rule_delete": {"pk": "commission_rule"},
    "console:commission_statement_detail": {"staff_id": "staff_member"},
    "clerk:chat": {"conversation_id": "conversation"},
    "clerk:messages": {"conversation_id": "conversation"},
    "clerk:send": {"conversation_id": "conversation"},
    "clerk:retry": {"conversation_id": "conversation", "message_id": "message"},
    "clerk:cards": {"conversation_id": "conversation"},
    "clerk:cart": {"conversation_id": "conversation"},
    "clerk:customer": {"customer_id": "customer"},
}

REFUSED_ELSEWHERE = {403, 404, 405}


@dataclass(frozen=True)
class Page:
    app: str  # console | clerk
    name: str  # namespace:name
    route: str  # the pattern as written, e.g. console/orders/<int:pk>/
    parameters: tuple[str, ...]
    view: Any

    def url(self, objects: dict[str, int]) -> str:
        path = "/" + self.route
        fill = FILL.get(self.name, {})
        for parameter in self.parameters:
            path = re.sub(rf"<(?:\w+:)?{parameter}>", str(objects[fill[parameter]]), path)
        return path


def _walk(patterns: list[Any], prefix: str = "", namespace: str = "") -> list[tuple[str, str, Any, Any]]:
    found = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}:{entry.namespace}" if namespace and entry.namespace else entry.namespace
            found += _walk(entry.url_patterns, prefix + str(entry.pattern), inner or namespace)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}:{entry.name}" if namespace else (entry.name or "")
            found.append((prefix + str(entry.pattern), name, entry.callback, entry.pattern))
    return found


def _pages() -> list[Page]:
    pages = []
    for route, name, view, pattern in _walk(get_resolver().url_patterns):
        app = route.split("/", 1)[0]
        if app not in (CONSOLE, CLERK):
            continue
        converters = getattr(pattern, "converters", {})
        parameters = tuple(converters)
        if not parameters and "<" in route:  # a regex pattern: its groups are the parameters
            parameters = tuple(pattern.regex.groupindex)
        pages.append(Page(app=app, name=name, route=route, parameters=parameters, view=view))
    return pages


PAGES = _pages()


def test_the_sweep_sees_every_console_and_clerk_page():
    names = {page.name for page in PAGES}
    for expected in (
        "console:dashboard",
        "console:orders",
        "console:order_detail",
        "console:customer_detail",
        "console:products",
        "console:stock",
        "console:inbox_conversation",
        "console:api_keys",
        "console:webhook_delivery",
        "clerk:home",
        "clerk:chat",
        "clerk:customer",
        "clerk:statement",
    ):
        assert expected in names
    assert len(PAGES) >= 80


def test_every_parameter_of_every_page_can_be_filled():
    """A new page with a parameter the sweep cannot fill fails here, by name."""
    unknown = [
        f"{page.name} ({page.route}): no object for path parameter {parameter!r}; add it to FILL"
        for page in PAGES
        for parameter in page.parameters
        if parameter not in FILL.get(page.name, {})
    ]
    assert unknown == []


def test_every_page_is_behind_an_access_check_or_listed_as_public():
    unchecked = [
        f"{page.name} ({page.route})" for page in PAGES if page.name not in PUBLIC and not _checked(page)
    ]
    assert unchecked == [], "pages without console_view / clerk_view; list public ones in PUBLIC"


def _checked(page: Page) -> bool:
    if page.app == CONSOLE:
        return hasattr(page.view, "requirement")
    return getattr(page.view, "clerk_app", False) is True


def _guarded() -> list[Page]:
    return [page for page in PAGES if page.name not in PUBLIC]


# --- the objects every parameter can name -------------------------------------------------------


def _model(*labels: str):
    for label in labels:
        try:
            return apps.get_model(label)
        except LookupError:
            continue
    raise LookupError(labels)


def _objects(brand, store, warehouse, clerk, hq_admin) -> dict[str, Any]:
    """One object of every kind a page parameter names, all in `brand`, each carrying SECRET."""
    store.name = f"{SECRET} 信義店"
    store.save(update_fields=["name"])
    category = f.make_category(brand, name=f"{SECRET} 上衣")
    product = f.make_product(
        brand, title=f"{SECRET} 亞麻襯衫", category=category, variants=[("SWP-1", "M", 50000)]
    )
    image = ProductImage.objects.create(brand=brand, product=product, url="https://img.example/1.jpg")
    customer = f.make_customer(brand, name=f"{SECRET} 王小明", phone="+886912000111")
    order, _ = commerce.record_order(
        brand,
        OrderIn.model_validate(
            {
                "source": "pos",
                "external_id": f"{SECRET}-1",
                "sales_channel": "pos",
                "store_code": store.code,
                "placed_at": "2026-11-20T10:00:00+08:00",
                "customer": {"phone": customer.phone},
                "lines": [{"sku": "SWP-1", "quantity": 1, "unit_price": 50000}],
            }
        ),
        actor=None,
    )
    inbox = Inbox.objects.create(brand=brand, platform="webchat", name=f"{SECRET} web")
    contact = Contact.objects.create(
        brand=brand, inbox=inbox, external_user_id="sweep-1", customer=customer, display_name=f"{SECRET} 小明"
    )
    conversation = Conversation.objects.create(
        brand=brand,
        inbox=inbox,
        contact=contact,
        customer=customer,
        queue=Conversation.Queue.CLERK,
        assignee=clerk,
        store=store,
        last_message_preview=f"{SECRET} 你好",
    )
    message = Message.objects.create(
        brand=brand,
        conversation=conversation,
        direction=Message.Direction.OUTBOUND,
        kind=Message.Kind.TEXT,
        text=f"{SECRET} 您好",
        status=Message.Status.FAILED,
    )
    now = timezone.now()
    shift = _model("staff.Shift", "inbox.Shift").objects.create(
        brand=brand, staff=clerk, store=store, starts_at=now, ends_at=now + dt.timedelta(hours=8)
    )
    canned = CannedReply.objects.create(brand=brand, title=f"{SECRET} 問候", body=f"{SECRET} 您好")
    twin_a = f.make_customer(brand, name=f"{SECRET} 林一", phone="+886912000222")
    twin_b = f.make_customer(brand, name=f"{SECRET} 林二", phone="+886912000333")
    suggestion = _model("customers.MergeSuggestion").objects.create(
        brand=brand, customer_a=twin_a, customer_b=twin_b, kind="email", value="lin@example.com"
    )
    gone = f.make_customer(brand, name=f"{SECRET} 陳舊", phone="+886912000444")
    keeper = f.make_customer(brand, name=f"{SECRET} 陳新", phone="+886912000555")
    merge = merge_customers(keeper, gone, brand=brand, actor=Actor.system(brand), reason="sweep")
    coupon = loyalty.create_coupon(
        brand, actor=Actor.system(brand), name=f"{SECRET} 折百", kind="amount_off", value=10000
    )
    job = ImportJob.objects.create(brand=brand, kind="stock", content="sku,location_code,on_hand\n")
    shopify_model = _model("connectors.ShopifyConnection")
    shopify = shopify_model.objects.create(
        brand=brand,
        name=f"{SECRET} 網店",
        shop_domain=f"sweep-{brand.pk}.myshopify.com",
        secrets={"access_token": "x", "webhook_secret": "y"},
    )
    receipt = _model("connectors.ShopifyWebhook").objects.create(
        brand=brand, connection=shopify, webhook_id=f"sweep-{brand.pk}", topic="customers/redact", payload={}
    )
    privacy_request = _model("connectors.PrivacyRequest").objects.create(
        brand=brand,
        connection=shopify,
        webhook=receipt,
        kind="customers/redact",
        email=f"{SECRET}@example.com",
    )
    endpoint = _model("integrations.WebhookEndpoint").objects.create(
        brand=brand,
        url="https://erp.example.com/hook",
        description=f"{SECRET} ERP",
        topics=["order.attributed"],
    )
    delivery = _model("integrations.WebhookDelivery").objects.create(
        brand=brand,
        endpoint=endpoint,
        event_id="evt-sweep",
        topic="order.attributed",
        body=f'{{"n": "{SECRET}"}}',
    )
    bound = f.make_customer(brand, name=f"{SECRET} 綁定顧客", phone="+886912000666")
    binding_services.bind_customer(bound, clerk, source="manual")
    helper = f.make_user(brand, "sweep-second", role="clerk", store=store)
    transfer = binding_services.transfer_bindings(
        clerk, to_clerk=helper, actor=Actor(brand=brand, user=hq_admin, role="hq_admin"), notify=False
    )
    binding_services.bind_customer(
        f.make_customer(brand, name=f"{SECRET} 仍綁定", phone="+886912000777"), clerk, source="manual"
    )
    # The clerk's own customer (a clerk sees the bound ones), whose chat is assigned to the clerk.
    binding_services.bind_customer(customer, clerk, source="manual")
    return {
        "transfer": transfer.pk,
        "conversation": conversation.pk,
        "message": message.pk,
        "shift": shift.pk,
        "canned": canned.pk,
        "order": order.pk,
        "customer": customer.pk,
        "suggestion": suggestion.pk,
        "merge": merge.pk,
        "product": product.pk,
        "variant": product.variants.get().pk,
        "image": image.pk,
        "coupon": coupon.pk,
        "job": job.pk,
        "api_key": ApiKey.objects.filter(brand=brand).first().pk,
        "shopify": shopify.pk,
        "privacy_request": privacy_request.pk,
        "webhook": endpoint.pk,
        "delivery": delivery.pk,
        "warehouse": warehouse.pk,
        "store": store.pk,
        "tier": Tier.objects.create(brand=brand, name=f"{SECRET} 金卡", threshold=2000000).pk,
        "inbox": inbox.pk,
        "quarantine_kind": "receipt",
        "quarantine_action": "discard",
        "quarantined_receipt": WebhookReceipt.objects.create(
            inbox=inbox, event_id="sweep-1", event_type="message", payload={}, status="failed", error="x"
        ).pk,
        "staff_member": clerk.pk,
        "commission_rule": CommissionRule.objects.create(
            brand=brand, rate_bp=123, starts_on=dt.date(2026, 11, 1), store=store
        ).pk,
        "tracking_source": _model("tracking.TrackingSource")
        .objects.create(brand=brand, name=f"{SECRET} 官網", prefix=f"sweep{brand.pk}", key_hash="0" * 64)
        .pk,
        "segment": _model("segments.Segment")
        .objects.create(
            brand=brand, name=f"{SECRET} 分眾", rule={"field": "tag", "op": "has", "value": "VIP"}
        )
        .pk,
    }


@pytest.fixture
def objects(brand, store, warehouse, clerk, hq_admin, api_key, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return _objects(brand, store, warehouse, clerk, hq_admin)


def _client(user) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _request(client: Client, method: str, url: str):
    return client.get(url) if method == "GET" else client.post(url, {})


def _state(objects: dict[str, int]) -> dict[str, Any]:
    """What a refused POST must not have changed in brand A."""
    conversation = Conversation.objects.get(pk=objects["conversation"])
    endpoint = _model("integrations.WebhookEndpoint").objects.filter(pk=objects["webhook"]).first()
    return {
        "conversation": (
            conversation.status,
            conversation.queue,
            conversation.assignee_id,
            conversation.labels,
        ),
        "messages": Message.objects.filter(conversation=conversation).count(),
        "order": _model("commerce.Order")
        .objects.values_list("status", "refunded_total")
        .get(pk=objects["order"]),
        "customer_erased": _model("customers.Customer").objects.get(pk=objects["customer"]).erased_at,
        "api_key_revoked": ApiKey.objects.get(pk=objects["api_key"]).revoked_at,
        "store": _model("staff.Store")
        .objects.filter(pk=objects["store"])
        .values_list("name", "is_active")
        .get(),
        "staff_member": _model("staff.User")
        .objects.filter(pk=objects["staff_member"])
        .values_list("display_name", "is_active", "role", "store_id")
        .get(),
        "tracking_source_revoked": _model("tracking.TrackingSource")
        .objects.get(pk=objects["tracking_source"])
        .revoked_at,
        "webhook": (endpoint.is_active, endpoint.paused_at, endpoint.secret_encrypted) if endpoint else None,
        "suggestion": _model("customers.MergeSuggestion").objects.get(pk=objects["suggestion"]).status,
        "merge_split": _model("customers.CustomerMerge").objects.get(pk=objects["merge"]).split_at,
        "canned": CannedReply.objects.filter(pk=objects["canned"]).exists(),
        "tier": Tier.objects.filter(pk=objects["tier"]).values_list("name", "threshold").first(),
        "commission_rule": CommissionRule.objects.filter(pk=objects["commission_rule"])
        .values_list("rate_bp", "ends_on")
        .first(),
        "store_hours": _model("staff.Store").objects.get(pk=objects["store"]).opening_hours,
        "shift": _model("staff.Shift", "inbox.Shift").objects.filter(pk=objects["shift"]).exists(),
        "inbox": Inbox.objects.filter(pk=objects["inbox"])
        .values_list("is_active", "name", "secrets", "config")
        .get(),
        "product": _model("catalog.Product")
        .objects.values_list("title", "status", "handle")
        .get(pk=objects["product"]),
        "variant": _model("catalog.Variant")
        .objects.values_list("title", "price", "is_active")
        .get(pk=objects["variant"]),
        "images": ProductImage.objects.filter(product_id=objects["product"]).count(),
        "stock": list(
            _model("catalog.StockLevel").objects.filter(variant_id=objects["variant"]).values_list("on_hand")
        ),
        "privacy_request": _model("connectors.PrivacyRequest")
        .objects.get(pk=objects["privacy_request"])
        .status,
        "transfer_undone": _model("binding.Transfer").objects.get(pk=objects["transfer"]).undone_at,
        "open_bindings": sorted(
            _model("binding.Binding")
            .objects.filter(ended_at__isnull=True)
            .values_list("customer_id", "clerk_id")
        ),
        "quarantined": WebhookReceipt.objects.get(pk=objects["quarantined_receipt"]).status,
        "segment": _model("segments.Segment")
        .objects.filter(pk=objects["segment"])
        .values_list("name", "rule", "version")
        .first(),
    }


# --- no session -------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_every_page_without_a_session_goes_to_sign_in(objects, method):
    anonymous = _client(None)
    before = _state(objects)
    failures = []
    for page in _guarded():
        response = _request(anonymous, method, page.url(objects))
        status = response.status_code
        if status == 302:
            if f"/{page.app}/login/" not in response["Location"]:
                failures.append(f"{method} {page.name}: redirects to {response['Location']}")
        elif not (status == 405 or (page.app == CLERK and status == 401)):
            failures.append(f"{method} {page.name}: {status}")
    assert failures == []
    assert _state(objects) == before


# --- another brand ----------------------------------------------------------------------------


@pytest.fixture
def other_brand_staff(other_brand):
    store = f.make_store(other_brand, code="B01", name="別家門市")
    return {
        CONSOLE: f.make_user(other_brand, "b-admin", role=Role.HQ_ADMIN),
        CLERK: f.make_user(other_brand, "b-manager", role=Role.STORE_MANAGER, store=store),
    }


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_another_brand_gets_404_or_403_and_never_our_data(objects, other_brand_staff, method):
    clients = {app: _client(user) for app, user in other_brand_staff.items()}
    before = _state(objects)
    failures = []
    for page in _guarded():
        response = _request(clients[page.app], method, page.url(objects))
        body = response.content if not getattr(response, "streaming", False) else b"".join(response)
        if SECRET.encode() in body:
            failures.append(f"{method} {page.name}: shows brand A's data ({response.status_code})")
        elif page.parameters and response.status_code not in REFUSED_ELSEWHERE:
            failures.append(f"{method} {page.name}: {response.status_code}, expected 404 or 403")
    assert failures == []
    assert _state(objects) == before


# --- weaker roles -----------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_clerk_may_open_no_console_page(objects, clerk, method):
    client = _client(clerk)
    before = _state(objects)
    failures = []
    for page in _guarded():
        if page.app != CONSOLE:
            continue
        response = _request(client, method, page.url(objects))
        if response.status_code not in (403, 405):
            failures.append(f"{method} {page.name}: {response.status_code}")
    assert failures == []
    assert _state(objects) == before


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_each_console_page_refuses_the_console_roles_its_requirement_excludes(
    objects, brand, store, hq_agent, manager, method
):
    before = _state(objects)
    failures = []
    checked = 0
    for user in (hq_agent, manager):
        client = _client(user)
        for page in _guarded():
            if page.app != CONSOLE or page.view.requirement.allows(user):
                continue
            checked += 1
            response = _request(client, method, page.url(objects))
            if response.status_code not in (403, 405) or SECRET.encode() in response.content:
                failures.append(f"{method} {page.name} as {user.role}: {response.status_code}")
    assert checked >= 20  # settings and admin-only pages exist for both weaker roles
    assert failures == []
    assert _state(objects) == before


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_hq_staff_may_open_no_clerk_page(objects, hq_admin, hq_agent, method):
    before = _state(objects)
    failures = []
    for user in (hq_admin, hq_agent):
        client = _client(user)
        for page in _guarded():
            if page.app != CLERK:
                continue
            response = _request(client, method, page.url(objects))
            if response.status_code not in (403, 405):
                failures.append(f"{method} {page.name} as {user.role}: {response.status_code}")
    assert failures == []
    assert _state(objects) == before


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_another_clerk_of_the_same_store_gets_404_for_a_clerks_conversation_and_customer(
    objects, brand, store, method
):
    colleague = f.make_user(brand, "colleague", role=Role.CLERK, store=store)
    client = _client(colleague)
    before = _state(objects)
    failures = []
    for page in _guarded():
        if page.app != CLERK or not page.parameters:
            continue
        response = _request(client, method, page.url(objects))
        if response.status_code not in REFUSED_ELSEWHERE or SECRET.encode() in response.content:
            failures.append(f"{method} {page.name}: {response.status_code}")
    assert failures == []
    assert _state(objects) == before


def test_a_store_manager_gets_404_for_another_stores_order_and_customer(objects, brand, other_store):
    elsewhere = f.make_user(brand, "elsewhere", role=Role.STORE_MANAGER, store=other_store)
    client = _client(elsewhere)
    for name in ("console:order_detail", "console:customer_detail"):
        page = next(page for page in PAGES if page.name == name)
        assert client.get(page.url(objects)).status_code == 404, name


def test_the_owner_roles_open_the_pages_the_others_are_refused(objects, hq_admin, clerk):
    """The sweep's ids are real: the strongest role of brand A opens the object pages with them."""
    for user, names in (
        (hq_admin, ("console:order_detail", "console:customer_detail", "console:product_detail")),
        (clerk, ("clerk:chat", "clerk:customer")),
    ):
        client = _client(user)
        for name in names:
            page = next(page for page in PAGES if page.name == name)
            response = client.get(page.url(objects))
            assert response.status_code == 200, (name, response.status_code)
            assert SECRET.encode() in response.content, name
