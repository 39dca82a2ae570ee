"""Processing Shopify webhooks: orders through the idempotent ingest, refunds, cancellations,
customers with a shopify identity, products, out-of-order deliveries, the clerk ref, privacy topics."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from omo.attribution import links
from omo.catalog.models import Product, Variant
from omo.commerce.models import Order, Refund
from omo.connectors.models import PrivacyRequest, ShopifyWebhook
from omo.connectors.shopify.tests.conftest import deliver, fixture
from omo.customers import privacy
from omo.customers.models import Customer, CustomerIdentity
from omo.testing import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def tee(brand):
    return f.make_product(brand, "有機棉T恤", variants=[("TEE-M", "M", 128000), ("TEE-L", "L", 128000)])


def _status(webhook_id: str) -> tuple[str, str]:
    row = ShopifyWebhook.objects.get(webhook_id=webhook_id)
    return row.status, row.note


def test_orders_create_records_the_order_with_customer_lines_and_shopify_identity(brand, connection, tee):
    deliver(connection, "orders/create", "orders_create", webhook_id="wh-1")

    order = Order.objects.get(brand=brand)
    assert (order.source, order.external_id, order.name, order.sales_channel, order.status) == (
        "shopify",
        "5820001230001",
        "#1001",
        "external_web",
        "paid",
    )
    assert (order.subtotal, order.shipping_total, order.tax_total, order.total) == (246000, 8000, 0, 254000)
    assert order.discounts == [{"code": "SPRING", "kind": "shopify_code", "amount": 0}]
    assert order.note == "請在週末配送"
    line = order.lines.get()
    assert (line.sku, line.variant.sku, line.quantity, line.unit_price, line.discount, line.total) == (
        "TEE-M",
        "TEE-M",
        2,
        128000,
        10000,
        246000,
    )
    customer = order.customer
    assert (customer.name, customer.phone, customer.email) == (
        "林 美玲",
        "+886912345678",
        "lin.meiling@example.com",
    )
    assert CustomerIdentity.objects.get(brand=brand, kind="shopify").value == "7390123450001"
    assert CustomerIdentity.objects.get(brand=brand, kind="shopify").customer_id == customer.pk
    assert _status("wh-1")[0] == "processed"


def test_a_repeated_order_is_a_no_op(brand, connection, tee):
    deliver(connection, "orders/create", "orders_create", webhook_id="wh-1", event_id="ev-1")
    deliver(connection, "orders/paid", "orders_paid", webhook_id="wh-2", event_id="ev-2")

    assert Order.objects.filter(brand=brand).count() == 1
    assert "unchanged" in _status("wh-2")[1]


def test_order_is_matched_to_an_existing_customer_by_email(brand, connection, tee):
    known = f.make_customer(brand, "林美玲", phone="+886955000111", email="lin.meiling@example.com")
    deliver(connection, "orders/create", "orders_create")

    assert Order.objects.get(brand=brand).customer_id == known.pk
    assert CustomerIdentity.objects.get(brand=brand, kind="shopify").customer_id == known.pk


def test_the_shopify_identity_finds_the_customer_when_email_and_phone_changed(brand, connection, tee):
    deliver(connection, "orders/create", "orders_create")
    first_customer = Order.objects.get().customer_id
    second = fixture("orders_create")
    second.update({"id": 5820001230002, "name": "#1002", "email": "new-address@example.com", "phone": None})
    second["customer"]["email"] = "new-address@example.com"
    second["customer"]["phone"] = None
    second["billing_address"]["phone"] = None
    second["shipping_address"]["phone"] = None

    deliver(connection, "orders/create", second)

    assert list(Order.objects.order_by("id").values_list("customer_id", flat=True)) == [
        first_customer,
        first_customer,
    ]
    assert Customer.objects.filter(brand=brand).count() == 1


def test_a_pending_order_becomes_paid_then_fulfilled(brand, connection, tee):
    deliver(connection, "orders/create", "orders_create_pending", webhook_id="wh-1")
    assert Order.objects.get().status == "placed"

    paid = fixture("orders_paid")
    paid["updated_at"] = "2025-03-10T15:00:00+08:00"
    deliver(connection, "orders/paid", paid, webhook_id="wh-2")
    assert Order.objects.get().status == "paid"

    deliver(connection, "orders/updated", "orders_updated", webhook_id="wh-3")
    order = Order.objects.get()
    assert order.status == "fulfilled" and order.fulfilled_at is not None


def test_orders_cancelled_cancels_the_order(brand, connection, tee):
    deliver(connection, "orders/create", "orders_create")
    deliver(connection, "orders/cancelled", "orders_cancelled", webhook_id="wh-c")

    assert Order.objects.get().status == "cancelled"
    assert "cancelled" in _status("wh-c")[1]


def test_an_older_update_arriving_late_never_overwrites_a_newer_one(brand, connection, tee):
    deliver(connection, "orders/create", "orders_create_pending", webhook_id="wh-1")
    deliver(connection, "orders/cancelled", "orders_cancelled", webhook_id="wh-new")  # updated 16:00
    late = fixture("orders_paid")
    late["updated_at"] = "2025-03-10T15:00:00+08:00"  # paid at 15:00, delivered after the cancellation

    deliver(connection, "orders/paid", late, webhook_id="wh-old")

    assert Order.objects.get().status == "cancelled"
    status, note = _status("wh-old")
    assert status == "ignored" and note.startswith("stale: order 5820001230001")


def test_refunds_create_refunds_the_order_line(brand, connection, tee):
    deliver(connection, "orders/create", "orders_create")
    deliver(connection, "refunds/create", "refunds_create", webhook_id="wh-r")
    deliver(connection, "refunds/create", "refunds_create", webhook_id="wh-r2", event_id="ev-other")

    order = Order.objects.get()
    refund = Refund.objects.get()
    assert (refund.external_id, refund.amount, refund.reason) == ("shopify:9300001230001", 123000, "尺寸不合")
    assert refund.lines == [{"line_id": order.lines.get().pk, "quantity": 1}]
    assert (order.status, order.refunded_total, order.lines.get().refunded_quantity) == (
        "partially_refunded",
        123000,
        1,
    )
    assert "already recorded" in _status("wh-r2")[1]


def test_a_refund_that_arrives_before_its_order_waits_for_it(brand, connection, tee):
    deliver(connection, "refunds/create", "refunds_create", webhook_id="wh-r")
    assert _status("wh-r")[0] == "waiting"
    assert Refund.objects.count() == 0

    deliver(connection, "orders/create", "orders_create", webhook_id="wh-o")

    assert _status("wh-r")[0] == "processed"
    assert Refund.objects.get().amount == 123000


def test_an_order_that_does_not_add_up_fails_with_the_field_named(brand, connection, tee):
    broken = fixture("orders_create")
    broken["total_price"] = "9999.00"
    deliver(connection, "orders/create", broken, webhook_id="wh-1")

    status, note = _status("wh-1")
    assert status == "failed" and note.startswith("total:")
    assert Order.objects.count() == 0


def test_a_bad_price_is_named_by_its_shopify_field(brand, connection, tee):
    broken = fixture("orders_create")
    broken["line_items"][0]["price"] = "12.345"
    deliver(connection, "orders/create", broken, webhook_id="wh-1")
    assert _status("wh-1")[1].startswith("line_items[0].price:")


def test_an_unusable_phone_does_not_lose_the_order(brand, connection, tee):
    odd = fixture("orders_create")
    odd["email"] = None
    odd["customer"] = {
        "id": 7390123450009,
        "email": None,
        "phone": "not-a-phone",
        "first_name": "A",
        "last_name": "B",
    }
    odd["billing_address"]["phone"] = None
    odd["shipping_address"]["phone"] = None
    odd["contact_email"] = None
    deliver(connection, "orders/create", odd, webhook_id="wh-1")

    order = Order.objects.get()
    assert order.customer_id is None
    assert "phone 'not-a-phone' ignored" in _status("wh-1")[1]


# --- the clerk ref -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("carrier", ["note_attributes", "omo_ref", "landing_site"])
def test_a_shopify_order_with_a_clerk_ref_is_attributed_to_that_clerk(brand, connection, tee, clerk, carrier):
    ref = links.clerk_ref(clerk.pk)  # signed now: the clerk shared the link, then the customer bought
    order_doc = fixture("orders_create")
    placed = (timezone.now() + dt.timedelta(minutes=5)).isoformat()
    order_doc.update(created_at=placed, processed_at=placed, updated_at=placed)
    if carrier == "note_attributes":
        order_doc["note_attributes"] = [{"name": "gift_wrap", "value": "yes"}, {"name": "ref", "value": ref}]
    elif carrier == "omo_ref":
        order_doc["note_attributes"] = [{"name": "omo_ref", "value": ref}]
    else:
        order_doc["landing_site"] = f"/products/organic-tee?utm_source=line&ref={ref.replace(':', '%3A')}"

    deliver(connection, "orders/create", order_doc)

    order = Order.objects.get()
    assert order.ref == ref
    attribution = order.attribution
    assert (attribution.rule, attribution.clerk_id) == ("link_click", clerk.pk)


def test_a_forged_ref_on_a_shopify_order_credits_nobody(brand, connection, tee, clerk):
    order_doc = fixture("orders_create")
    order_doc["note_attributes"] = [{"name": "ref", "value": links.clerk_ref(clerk.pk)[:-2] + "xx"}]
    deliver(connection, "orders/create", order_doc)
    assert Order.objects.get().attribution.rule == "none"


# --- customers -----------------------------------------------------------------------------------------------


def test_customers_create_then_update_and_a_late_older_update(brand, connection):
    deliver(connection, "customers/create", "customers_create", webhook_id="wh-1")
    customer = Customer.objects.get(brand=brand)
    assert (customer.name, customer.email, customer.phone) == (
        "陳 雅婷",
        "chen.yating@example.com",
        "+886922333444",
    )
    assert (
        CustomerIdentity.objects.get(brand=brand, kind="shopify", value="7390123450002").customer_id
        == customer.pk
    )

    deliver(connection, "customers/update", "customers_update", webhook_id="wh-2")
    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("陳 雅婷（新）", "yating.chen@example.com")

    deliver(connection, "customers/update", "customers_create", webhook_id="wh-3", event_id="ev-late")
    customer.refresh_from_db()
    assert (customer.name, customer.email) == ("陳 雅婷（新）", "yating.chen@example.com")
    assert _status("wh-3")[0] == "ignored"
    assert Customer.objects.filter(brand=brand).count() == 1


def test_customers_create_matches_an_existing_customer_by_phone(brand, connection):
    known = f.make_customer(brand, "陳雅婷", phone="+886922333444")
    deliver(connection, "customers/create", "customers_create")
    assert Customer.objects.filter(brand=brand).count() == 1
    assert CustomerIdentity.objects.get(brand=brand, kind="shopify").customer_id == known.pk


# --- products ------------------------------------------------------------------------------------------------


def test_products_create_and_update_reach_the_catalogue(brand, connection):
    deliver(connection, "products/create", "products_create", webhook_id="wh-1")
    product = Product.objects.get(brand=brand, handle="organic-tee")
    assert (product.title, product.description, product.vendor, product.status) == (
        "有機棉T恤",
        "100% 有機棉，透氣好穿。",
        "草本生活",
        "active",
    )
    assert [
        (v.sku, v.title, v.price, v.compare_at_price, v.barcode, v.options) for v in product.variants.all()
    ] == [
        ("TEE-M", "M", 128000, 158000, "4710000000012", {"尺寸": "M"}),
        ("TEE-L", "L", 128000, None, "", {"尺寸": "L"}),
    ]
    assert product.images.get().url.endswith("organic-tee.jpg?v=1740794400")

    deliver(connection, "products/update", "products_update", webhook_id="wh-2")
    product.refresh_from_db()
    assert product.title == "有機棉T恤（春季款）"
    assert [(v.sku, v.price, v.is_active) for v in product.variants.order_by("sku")] == [
        ("TEE-L", 128000, False),
        ("TEE-M", 118000, True),
    ]

    deliver(connection, "products/update", "products_create", webhook_id="wh-3", event_id="ev-late")
    product.refresh_from_db()
    assert product.title == "有機棉T恤（春季款）"
    assert _status("wh-3")[0] == "ignored"


def test_a_product_whose_sku_belongs_to_another_product_fails_naming_the_variant(brand, connection):
    f.make_product(brand, "別的商品", variants=[("TEE-L", "", 50000)])
    deliver(connection, "products/create", "products_create", webhook_id="wh-1")

    status, note = _status("wh-1")
    assert status == "failed" and note.startswith("variants[1].sku:")
    assert not Product.objects.filter(handle="organic-tee").exists()
    assert Variant.objects.filter(sku="TEE-M").count() == 0


# --- privacy (mandatory compliance topics) --------------------------------------------------------------------


def test_data_request_and_shop_redact_are_recorded_for_hq(brand, connection, tee):
    deliver(connection, "orders/create", "orders_create")
    deliver(connection, "customers/data_request", "customers_data_request", webhook_id="wh-d")
    deliver(connection, "shop/redact", "shop_redact", webhook_id="wh-s")

    data_request, shop_redact = PrivacyRequest.objects.order_by("id")
    assert (data_request.kind, data_request.status, data_request.customer_id) == (
        "customers/data_request",
        "open",
        Order.objects.get().customer_id,
    )
    assert (shop_redact.kind, shop_redact.status) == ("shop/redact", "open")


def test_customers_redact_erases_through_the_privacy_service(brand, connection, tee, monkeypatch):
    calls = []
    monkeypatch.setattr(
        privacy,
        "erase_customer",
        lambda customer, *, actor, reason: calls.append((customer.pk, actor.role, reason)),
    )
    deliver(connection, "orders/create", "orders_create")

    deliver(connection, "customers/redact", "customers_redact", webhook_id="wh-x")

    request = PrivacyRequest.objects.get()
    assert calls == [
        (
            Order.objects.get().customer_id,
            "hq_admin",
            f"Shopify customers/redact (privacy request {request.pk})",
        )
    ]
    assert (request.status, request.outcome) == ("done", f"Customer {request.customer_id} erased.")


def test_customers_redact_whose_erasure_fails_is_left_for_hq(brand, connection, tee, monkeypatch):
    def refuse(customer, *, actor, reason):
        raise RuntimeError("erasure refused")

    monkeypatch.setattr(privacy, "erase_customer", refuse)
    deliver(connection, "orders/create", "orders_create")
    deliver(connection, "customers/redact", "customers_redact")

    request = PrivacyRequest.objects.get()
    assert request.status == "open" and "failed (erasure refused); erase by hand" in request.outcome
    assert Customer.objects.get(pk=request.customer_id).erased_at is None


def test_customers_redact_with_the_real_erasure_removes_the_personal_data(brand, connection, tee):
    deliver(connection, "orders/create", "orders_create")
    deliver(connection, "customers/redact", "customers_redact")

    request = PrivacyRequest.objects.get()
    customer = Customer.objects.get(pk=request.customer_id)
    assert request.status == "done", request.outcome
    assert customer.erased_at is not None and customer.email == "" and customer.phone == ""


def test_customers_redact_for_someone_we_do_not_know_is_done_at_once(brand, connection):
    deliver(connection, "customers/redact", "customers_redact")
    request = PrivacyRequest.objects.get()
    assert (request.status, request.customer_id) == ("done", None)
