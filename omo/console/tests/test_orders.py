"""Orders: filters, search, pagination, the store manager's scope and the detail page."""

from __future__ import annotations

import datetime as dt
import re

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from omo.analytics.tests.builders import make_order
from omo.analytics.tests.seed import local
from omo.commerce.models import Refund


def names(response) -> set[str]:
    return {order.name for order in response.context["page"].object_list}


def test_list_shows_every_order_of_the_brand_newest_first(console, seeded_sales):
    response = console.get(reverse("console:orders"))
    orders = list(response.context["page"].object_list)
    assert len(orders) == 8  # cancelled and old included: the list is not the dashboard
    assert orders == sorted(orders, key=lambda order: (order.placed_at, order.pk), reverse=True)


def test_filter_by_sales_channel_store_and_status(console, store, seeded_sales):
    o = seeded_sales.orders
    assert names(console.get(reverse("console:orders"), {"sales_channel": "web_shop"})) == {
        o[2].name,
        o[3].name,
    }
    assert names(console.get(reverse("console:orders"), {"store": store.pk})) == {
        o[1].name,
        o[5].name,
        o["cancelled"].name,
        o["old"].name,
    }
    assert names(console.get(reverse("console:orders"), {"status": "cancelled"})) == {o["cancelled"].name}


def test_date_range_uses_local_days(console, seeded_sales):
    first_day = seeded_sales.today - dt.timedelta(days=29)
    response = console.get(reverse("console:orders"), {"date_from": first_day, "date_to": first_day})
    # Order 4 was placed at 00:30 Taipei on that day; the old one at 23:59 the day before.
    assert names(response) == {seeded_sales.orders[4].name}


def test_search_by_order_name_and_by_phone_as_typed_locally(console, seeded_sales):
    o = seeded_sales.orders
    assert names(console.get(reverse("console:orders"), {"q": o[3].name})) == {o[3].name}
    # Customer B's phone is stored as +886912000002; staff type it the local way.
    found = names(console.get(reverse("console:orders"), {"q": "0912-000-002"}))
    assert found == {o[3].name, o[6].name, o["old"].name}


def test_filter_by_customer(console, seeded_sales):
    a = seeded_sales.customers["A"]
    o = seeded_sales.orders
    assert names(console.get(reverse("console:orders"), {"customer": a.pk})) == {
        o[1].name,
        o[2].name,
        o["cancelled"].name,
    }


def test_invalid_filter_values_are_reported_not_fatal(console, seeded_sales):
    response = console.get(reverse("console:orders"), {"date_from": "not-a-date", "status": "nope"})
    assert response.status_code == 200
    assert set(response.context["form"].errors) == {"date_from", "status"}
    assert len(response.context["page"].object_list) == 8


def test_pagination(console, brand, seeded_sales):
    for n in range(50):
        make_order(
            brand, placed_at=local(seeded_sales.today - dt.timedelta(days=40)), total=100, name=f"BULK{n}"
        )
    first = console.get(reverse("console:orders"))
    assert first.context["page"].paginator.count == 58
    assert len(first.context["page"].object_list) == 50
    second = console.get(reverse("console:orders"), {"page": 2, "sales_channel": "pos"})
    assert second.context["page"].number == 2
    previous = re.search(r'href="([^"]*)" rel="prev"', second.content.decode()).group(1)
    assert "sales_channel=pos" in previous and "page=1" in previous  # filters are kept when paging


def test_list_query_count_does_not_grow_with_orders(console, brand, store, seeded_sales):
    with CaptureQueriesContext(connection) as few:
        console.get(reverse("console:orders"))
    for _ in range(20):
        make_order(
            brand,
            placed_at=local(seeded_sales.today),
            total=100,
            store=store,
            customer=seeded_sales.customers["C"],
        )
    with CaptureQueriesContext(connection) as many:
        console.get(reverse("console:orders"))
    assert len(many) == len(few)


def test_store_manager_sees_only_their_stores_orders(client_for, manager, seeded_sales):
    o = seeded_sales.orders
    client = client_for(manager)
    response = client.get(reverse("console:orders"))
    assert names(response) == {o[1].name, o[5].name, o["cancelled"].name, o["old"].name}
    assert "store" not in response.context["form"].fields
    assert client.get(reverse("console:order_detail", args=[o[1].pk])).status_code == 200
    for other in (o[2], o[4]):  # online, other store
        assert client.get(reverse("console:order_detail", args=[other.pk])).status_code == 404


def test_detail_shows_lines_totals_refunds_ref_customer_and_history(console, brand, hq_admin, seeded_sales):
    order = seeded_sales.orders[2]
    order.ref = "clerk:E001"
    order.coupon_code = "WELCOME100"
    order.discount_total = 10000
    order.discounts = [{"code": "WELCOME100", "kind": "coupon", "amount": 10000}]
    order.save()
    Refund.objects.create(brand=brand, order=order, external_id="R-1", amount=25000, reason="尺寸不合")
    response = console.get(reverse("console:order_detail", args=[order.pk]))
    body = response.content.decode()
    assert response.status_code == 200
    assert "薰衣草乳液" in body and "P2-50" in body
    assert "NT$500" in body  # total
    assert "<strong data-net>NT$250</strong>" in body  # net after the refund
    assert "尺寸不合" in body and "R-1" in body
    assert "clerk:E001" in body
    assert "WELCOME100" in body and "−NT$100" in body
    assert "訂單成立" in body  # the history, in words
    assert "order.refunded" not in body and "order.viewed" not in body  # never a raw code
    assert reverse("console:customer_detail", args=[seeded_sales.customers["A"].pk]) in body


def test_detail_query_count_is_bounded(console, seeded_sales, django_assert_max_num_queries):
    # 14: a POS sale's page also reads what the till redeemed on it (coupon uses, points spent)
    with django_assert_max_num_queries(14):
        console.get(reverse("console:order_detail", args=[seeded_sales.orders[1].pk]))


def test_order_detail_shows_the_attribution_reason(
    brand, store, clerk, console, django_capture_on_commit_callbacks
):
    from omo.commerce import services
    from omo.commerce.schemas import OrderIn
    from omo.testing import factories as f

    f.make_product(brand, "帽子", variants=[("HAT", "", 50000)])
    data = OrderIn.model_validate(
        {
            "source": "pos",
            "external_id": "attr-1",
            "sales_channel": "pos",
            "store_code": store.code,
            "staff_code": clerk.employee_code,
            "placed_at": "2026-11-20T10:00:00+08:00",
            "lines": [{"sku": "HAT", "quantity": 1, "unit_price": 50000}],
        }
    )
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = services.record_order(brand, data, actor=None)
    page = console.get(f"/console/orders/{order.pk}/").content.decode()
    assert 'data-rule="pos_staff"' in page
    assert "POS" in page
