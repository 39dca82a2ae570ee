"""The sales rollup gives exactly the figures the orders give, kept current by every order change."""

from __future__ import annotations

import datetime as dt
import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from omo.analytics import rollups, selectors
from omo.analytics.models import CustomerActivity, SalesDay, SalesRollup
from omo.analytics.rollups import rebuilding
from omo.analytics.tests.builders import make_customer, make_order
from omo.analytics.tests.seed import TAIPEI, local
from omo.commerce import services
from omo.commerce.models import Order
from omo.commerce.schemas import OrderIn, RefundIn
from omo.customers.merge import merge_customers
from omo.testing import factories as f


def live(brand, store_id=None):
    period = selectors.last_days(brand, 30)
    return rollups.Figures(
        summary=selectors.sales_summary(brand, period, store_id=store_id),
        daily=selectors.daily_sales_by_channel(brand, period, store_id=store_id),
        by_store=selectors.sales_by_store(brand, period, store_id=store_id),
        products=selectors.top_products(brand, period, store_id=store_id),
        from_rollup=True,
    )


def rolled(brand, store_id=None):
    figures = rollups.figures(brand, selectors.last_days(brand, 30), store_id=store_id)
    assert figures.from_rollup
    return figures


def assert_rollup_matches(brand, *stores):
    for store_id in (None, *(s.pk for s in stores)):
        got, want = rolled(brand, store_id), live(brand, store_id)
        for part in ("summary", "daily", "by_store", "products"):
            assert getattr(got, part) == getattr(want, part), f"{part} of store {store_id}"


@pytest.fixture
def built(brand, seeded_sales):
    """The brand with its seeded month (written straight to the tables) rolled up."""
    rollups.rebuild(brand)
    return brand


def test_rebuild_gives_the_hand_worked_figures(brand, store, other_store, seeded_sales):
    result = rollups.rebuild(brand)
    assert result.sales_rows > 0 and result.product_rows > 0 and result.customer_rows > 0
    figures = rolled(brand)
    assert figures.summary == selectors.SalesSummary(
        net_sales=255000,
        orders=6,
        average_order_value=42500,
        customers_ordered=3,
        new_customers=3,
        omo_customers=1,
    )
    assert [(s.store_id, s.net_sales, s.orders) for s in figures.by_store] == [
        (store.pk, 120000, 2),
        (other_store.pk, 80000, 1),
        (None, 55000, 3),
    ]
    products = seeded_sales.products
    assert [(p.product_id, p.revenue, p.units) for p in figures.products] == [
        (products["P1"].pk, 180000, 3),
        (products["P3"].pk, 50000, 4),
        (products["P2"].pk, 25000, 1),
        (products["P4"].pk, 0, 0),
    ]
    assert_rollup_matches(brand, store, other_store)


def test_a_rebuild_in_the_smallest_chunks_gives_the_same_rollup(
    brand, store, other_store, seeded_sales, monkeypatch
):
    monkeypatch.setattr(rebuilding, "DAYS_PER_CHUNK", 1)
    monkeypatch.setattr(rebuilding, "CUSTOMERS_PER_CHUNK", 1)
    result = rollups.rebuild(brand)
    assert result.customer_rows == CustomerActivity.objects.filter(brand=brand).count() > 0
    assert_rollup_matches(brand, store, other_store)
    assert rollups.rebuild(brand).sales_rows == result.sales_rows  # again: the same, nothing doubled
    assert_rollup_matches(brand, store, other_store)


def test_while_a_rebuild_runs_the_dashboard_reads_the_orders_and_asks_for_no_other(
    brand, seeded_sales, monkeypatch, django_capture_on_commit_callbacks
):
    seen = []
    real = rebuilding._rebuild_days

    def days_and_look(*args):
        with django_capture_on_commit_callbacks() as callbacks:
            seen.append((rollups.figures(brand, selectors.last_days(brand, 30)).from_rollup, len(callbacks)))
        return real(*args)

    monkeypatch.setattr(rebuilding, "_rebuild_days", days_and_look)
    rollups.rebuild(brand)
    assert seen and set(seen) == {(False, 0)}
    assert rollups.figures(brand, selectors.last_days(brand, 30)).from_rollup


def test_the_dashboard_reads_no_orders_once_built(brand, store, seeded_sales):
    rollups.rebuild(brand)
    period = selectors.last_days(brand, 30)
    with CaptureQueriesContext(connection) as queries:
        rollups.figures(brand, period)
        rollups.figures(brand, period, store_id=store.pk)
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "commerce_order" not in sql
    assert len(queries.captured_queries) == 2 * 9  # state, 3 summary, daily, 2 stores, 2 products


def test_other_brands_rollup_is_its_own(brand, other_brand, seeded_sales):
    rollups.rebuild(brand)
    rollups.rebuild(other_brand)
    assert rolled(other_brand).summary.orders == 1  # seeded_sales gives the other brand one order
    assert rolled(brand).summary.orders == 6
    assert not SalesDay.objects.filter(
        brand=other_brand, store_id__in=[s.pk for s in brand_stores(brand)]
    ).exists()


def brand_stores(brand):
    from omo.staff.models import Store

    return list(Store.objects.filter(brand=brand))


def test_until_built_the_figures_come_from_orders_and_a_rebuild_is_asked_for(
    brand, seeded_sales, django_capture_on_commit_callbacks
):
    period = selectors.last_days(brand, 30)
    with django_capture_on_commit_callbacks() as callbacks:
        figures = rollups.figures(brand, period)
    assert not figures.from_rollup
    assert figures.summary.orders == 6
    assert len(callbacks) == 1  # the rebuild task, enqueued once…
    with django_capture_on_commit_callbacks() as callbacks:
        rollups.figures(brand, period)
    assert callbacks == []  # …not on every view while it waits
    from omo.analytics.tasks import rebuild_sales_rollup

    result = rebuild_sales_rollup.call(brand.pk)
    assert result["sales_rows"] > 0
    assert rollups.figures(brand, period).from_rollup


# --- kept current ----------------------------------------------------------------------------------


def order_in(external_id, **overrides):
    body = {
        "source": "pos-erp",
        "external_id": external_id,
        "sales_channel": "pos",
        "store_code": "TPE01",
        "placed_at": timezone.now().isoformat(),
        "customer": {"phone": "0912000001"},
        "lines": [{"sku": "P1-30", "quantity": 2, "unit_price": 50000}],
        "status": "paid",
    }
    body.update(overrides)
    return OrderIn.model_validate({key: value for key, value in body.items() if value is not None})


def test_recorded_orders_count_at_once(
    built, store, other_store, seeded_sales, django_capture_on_commit_callbacks
):
    brand = built
    with django_capture_on_commit_callbacks(execute=True):
        services.record_order(brand, order_in("A-1"), actor=None)
    assert_rollup_matches(brand, store, other_store)
    with django_capture_on_commit_callbacks(execute=True):
        results = services.record_orders(
            brand,
            [
                order_in("B-1", sales_channel="web_shop", store_code=None, customer={"phone": "0912000002"}),
                order_in(
                    "B-2",
                    store_code="KHH01",
                    customer={"phone": "0912000009"},
                    lines=[{"sku": "NOT-IN-CATALOGUE", "title": "舊品", "quantity": 1, "unit_price": 12345}],
                ),
                order_in("B-3", status="cancelled"),
                order_in(
                    "B-4",
                    sales_channel="external_web",
                    store_code=None,
                    customer=None,
                    placed_at=local(timezone.localtime(timezone.now(), TAIPEI).date(), 0, 1).isoformat(),
                ),
            ],
            actor=None,
        )
    assert [(r.status, r.error) for r in results] == [("created", None)] * 4
    assert_rollup_matches(brand, store, other_store)
    summary = rolled(brand).summary
    assert summary.orders == 6 + 1 + 3  # the cancelled one does not count
    # The seeded customers were written without identities, so ingest cannot match them: A-1, B-1
    # and B-2 bring three new customers.
    assert summary.customers_ordered == 3 + 3


def test_the_shop_checkout_counts(
    built, store, other_store, warehouse, seeded_sales, django_capture_on_commit_callbacks
):
    brand = built
    variant = seeded_sales.products["P3"].variants.get()
    f.set_stock(variant, warehouse, 10)
    cart = services.new_cart(brand, customer=seeded_sales.customers["C"])  # signed in as C
    services.add_to_cart(cart, variant, 2)
    contact = services.Contact(
        name="林小美",
        phone="0912000003",
        email="",
        address={"postal_code": "110", "city": "台北市", "district": "信義區", "line1": "松高路 1 號"},
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.checkout(cart, contact=contact, fulfilment="ship", payment_method="cod")
    assert_rollup_matches(brand, store, other_store)
    # C bought in store (other_store) and now online: an OMO customer
    assert Order.objects.get(source="shop").customer == seeded_sales.customers["C"]
    assert rolled(brand).summary.omo_customers == 2


def test_cancelled_and_refunded_orders_move_the_figures(
    built, store, other_store, seeded_sales, django_capture_on_commit_callbacks
):
    brand = built
    orders = seeded_sales.orders
    with django_capture_on_commit_callbacks(execute=True):
        services.cancel(orders[1], actor=None)  # A's only POS order: A is no longer an OMO customer
    assert_rollup_matches(brand, store, other_store)
    assert rolled(brand).summary.omo_customers == 0
    line = orders[3].lines.get()  # P3 × 3 for 30000, a third each
    with django_capture_on_commit_callbacks(execute=True):
        services.refund(
            orders[3],
            RefundIn(external_id="r1", amount=10000, lines=[{"line_id": line.pk, "quantity": 1}]),
            actor=None,
        )
        services.refund(orders[3], RefundIn(external_id="r2", amount=5000), actor=None)
    assert_rollup_matches(brand, store, other_store)
    assert rolled(brand).summary.net_sales == 255000 - 100000 - 15000


def test_odd_amounts_are_truncated_like_the_orders(
    built, store, other_store, seeded_sales, django_capture_on_commit_callbacks
):
    brand = built
    with django_capture_on_commit_callbacks(execute=True):
        order, _ = services.record_order(
            brand, order_in("ODD-1", lines=[{"sku": "P2-50", "quantity": 3, "unit_price": 33333}]), actor=None
        )
        line = order.lines.get()
        for number in (1, 2):
            services.refund(
                order,
                RefundIn(external_id=f"r{number}", amount=33333, lines=[{"line_id": line.pk, "quantity": 1}]),
                actor=None,
            )
    assert_rollup_matches(brand, store, other_store)


def test_merged_and_split_customers_are_counted_once(
    built, store, other_store, seeded_sales, django_capture_on_commit_callbacks
):
    brand = built
    customers = seeded_sales.customers
    with django_capture_on_commit_callbacks(execute=True):
        merge_customers(customers["A"], customers["C"], brand=brand)
    assert_rollup_matches(brand, store, other_store)
    assert rolled(brand).summary.customers_ordered == 2
    assert not CustomerActivity.objects.filter(brand=brand, customer_id=customers["C"].pk).exists()


def test_a_rolled_back_order_never_counts(built, store, seeded_sales, django_capture_on_commit_callbacks):
    brand = built
    with pytest.raises(services.OrderError):
        services.record_order(brand, order_in("BAD-1", store_code="NOPE"), actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        services.record_order(brand, order_in("OK-1"), actor=None)
    before = rolled(brand)
    from django.db import transaction

    with pytest.raises(RuntimeError), transaction.atomic():
        services.record_order(brand, order_in("ROLLED-BACK"), actor=None)
        raise RuntimeError("the caller's transaction fails after the order was written")
    assert rolled(brand) == before == live(brand)


def test_old_orders_imported_later_count_on_their_day(
    built, store, seeded_sales, django_capture_on_commit_callbacks
):
    brand = built
    today = timezone.localtime(timezone.now(), TAIPEI).date()
    with django_capture_on_commit_callbacks(execute=True):
        services.record_order(
            brand,
            order_in(
                "OLD-1",
                placed_at=local(today - dt.timedelta(days=45)).isoformat(),
                customer={"phone": "0912000001"},
            ),
            actor=None,
        )
        services.record_order(
            brand,
            order_in(
                "EDGE-1",
                placed_at=local(today - dt.timedelta(days=29), 0, 0).isoformat(),
                customer={"phone": "0912000077"},
            ),
            actor=None,
        )
    assert_rollup_matches(brand, store)


# --- deleted stores and products, a new time zone ----------------------------------------------------


def test_a_deleted_store_moves_its_figures_to_no_store(built, store, other_store, seeded_sales):
    brand = built
    other_store.delete()  # order 4 (C, other_store) now has no store
    assert rollups.ready(brand)
    assert_rollup_matches(brand, store)
    assert [(s.store_id, s.net_sales) for s in rolled(brand).by_store] == [(None, 135000), (store.pk, 120000)]
    assert not CustomerActivity.objects.filter(brand=brand, scope=other_store.pk).exists()


def test_a_deleted_product_moves_its_figures_to_unknown_product(built, store, other_store, seeded_sales):
    brand = built
    seeded_sales.products["P1"].delete()
    assert rollups.ready(brand)
    assert_rollup_matches(brand, store, other_store)
    assert rolled(brand).products[0].product_id is None  # P1's 180000 under "unknown"


def test_a_new_time_zone_rebuilds_the_days(built, store, seeded_sales):
    brand = built
    brand.time_zone = "America/Los_Angeles"
    brand.save(update_fields=["time_zone"])
    assert not rollups.figures(brand, selectors.last_days(brand, 30)).from_rollup
    rollups.rebuild(brand)
    assert_rollup_matches(brand, store)


def test_deleting_a_brand_takes_its_rollup(built, seeded_sales):
    built.delete()
    assert not SalesRollup.objects.exists() and not SalesDay.objects.exists()


def test_rebuild_command(brand, seeded_sales):
    out = StringIO()
    call_command("rollups", "rebuild", "--brand", brand.slug, stdout=out)
    line = json.loads(out.getvalue().splitlines()[0])
    assert line["brand"] == brand.slug and line["sales_rows"] > 0
    assert rollups.figures(brand, selectors.last_days(brand, 30)).from_rollup


def test_rebuild_command_refuses_an_unknown_brand(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no brand with slug 'nope'"):
        call_command("rollups", "rebuild", "--brand", "nope")


def test_guest_and_unknown_products_roll_up(built, store, seeded_sales, django_capture_on_commit_callbacks):
    brand = built
    customer = make_customer(brand, "訪客")
    make_order(
        brand,
        placed_at=local(timezone.localtime(timezone.now(), TAIPEI).date()),
        total=100,
        customer=customer,
        store=store,
        lines=[(None, 1, 100, 0)],
    )  # written directly: not counted…
    assert rolled(brand) != live(brand)
    rollups.rebuild(brand)  # …until a rebuild
    assert_rollup_matches(brand, store)
    assert any(p.product_id is None for p in rolled(brand).products)
    assert Order.objects.filter(brand=brand).count() == 9
