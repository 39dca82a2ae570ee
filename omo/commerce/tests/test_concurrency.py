"""Under real concurrency: no oversell, a single-use coupon used once, points never overdrawn.

These run on whichever database the suite uses; on PostgreSQL they exercise row locks under
READ COMMITTED, on SQLite the IMMEDIATE write lock. Each thread has its own connection.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connection, connections

from omo.catalog.models import StockLevel
from omo.commerce import services
from omo.commerce.models import Order
from omo.core.audit import Actor
from omo.loyalty import services as loyalty
from omo.loyalty.models import CouponCode, CouponRedemption, LoyaltyAccount, PointsEntry
from omo.testing import factories as f

ADDRESS = {"city": "台中市", "district": "西屯區", "line1": "台灣大道 100 號"}

pytestmark = pytest.mark.django_db(transaction=True)


def run_concurrently(count: int, work: Callable[[int], object]) -> list[object]:
    """Start `count` threads that call work(i) at the same moment; returns results or exceptions."""
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def test_fifty_concurrent_checkouts_for_five_units_make_exactly_five_orders(brand, warehouse):
    variant = f.make_product(brand, "限量帆布包", variants=[("BAG-LTD", "", 129000)]).variants.get()
    f.set_stock(variant, warehouse, 5)
    carts = []
    for _ in range(50):
        cart = services.new_cart(brand)
        services.add_to_cart(cart, variant, 1)
        carts.append(cart)
    phones = [f"0912{i:06d}" for i in range(50)]

    def buy(i: int):
        contact = services.Contact(name=f"顧客{i}", phone=phones[i], address=ADDRESS)
        return services.checkout(carts[i], contact=contact, fulfilment="ship", payment_method="cod")

    results = run_concurrently(50, buy)

    orders = [r for r in results if isinstance(r, Order)]
    refusals = [r for r in results if isinstance(r, services.OrderError)]
    unexpected = [r for r in results if not isinstance(r, (Order, services.OrderError))]
    assert unexpected == []
    assert len(orders) == 5
    assert len(refusals) == 45
    assert all(r.field == "cart" for r in refusals)
    assert Order.objects.count() == 5
    level = StockLevel.objects.get(variant=variant, location=warehouse)
    assert level.reserved == 5 and level.on_hand == 5 and level.available == 0
    for order in orders:
        services.fulfil(order, actor=None)
    level.refresh_from_db()
    assert (level.on_hand, level.reserved) == (0, 0)


def test_twenty_concurrent_redemptions_of_a_single_use_coupon_succeed_once(brand, warehouse, hq_admin):
    variant = f.make_product(brand, "保溫瓶", variants=[("BOTTLE", "", 80000)]).variants.get()
    f.set_stock(variant, warehouse, 100)
    actor = Actor(brand=brand, user=hq_admin)
    coupon = loyalty.create_coupon(brand, actor=actor, name="VIP 折 200", kind="amount_off", value=20000)
    loyalty.add_shared_code(coupon, code="ONCE", max_uses=1, actor=actor)
    carts = []
    for _ in range(20):
        cart = services.new_cart(brand)
        services.add_to_cart(cart, variant, 1)
        carts.append(cart)

    def buy(i: int):
        contact = services.Contact(name=f"顧客{i}", phone=f"0922{i:06d}", address=ADDRESS)
        return services.checkout(
            carts[i], contact=contact, fulfilment="ship", payment_method="cod", coupon_code="ONCE"
        )

    results = run_concurrently(20, buy)

    orders = [r for r in results if isinstance(r, Order)]
    assert len(orders) == 1, results
    assert all(isinstance(r, (Order, services.OrderError)) for r in results)
    assert CouponRedemption.objects.count() == 1
    assert CouponCode.objects.get(code="ONCE").times_used == 1
    assert Order.objects.count() == 1
    # The refused checkouts left no reservation behind.
    assert StockLevel.objects.get(variant=variant, location=warehouse).reserved == 1


def test_concurrent_point_redemptions_never_overdraw(brand, hq_admin):
    customer = f.make_customer(brand, phone="0933000111")
    actor = Actor(brand=brand, user=hq_admin)
    loyalty.adjust_points(customer, 100, reason="測試", actor=actor)

    def spend(i: int):
        return loyalty.adjust_points(customer, -30, reason=f"spend {i}", actor=actor)

    results = run_concurrently(10, spend)

    succeeded = [r for r in results if isinstance(r, PointsEntry)]
    refused = [r for r in results if isinstance(r, loyalty.InsufficientPoints)]
    assert len(succeeded) == 3
    assert len(refused) == 7
    account = LoyaltyAccount.objects.get(customer=customer)
    assert account.balance == 10
    assert account.balance == sum(
        PointsEntry.objects.filter(customer=customer).values_list("delta", flat=True)
    )


def test_uses_the_configured_database():
    # Guard: the PostgreSQL CI run must really be on PostgreSQL.
    import os

    expected = "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    assert connection.vendor == expected


def test_concurrent_batches_for_the_same_customers_keep_balances_right(brand, store):
    from omo.commerce.schemas import OrderIn
    from omo.loyalty.models import Tier

    Tier.objects.create(brand=brand, name="一般會員", threshold=0)
    Tier.objects.create(brand=brand, name="金卡", threshold=200000, earn_multiplier_percent=200)
    phones = [f"0955{i:06d}" for i in range(5)]

    def batch(worker: int):
        orders = [
            OrderIn.model_validate(
                {
                    "source": "pos",
                    "external_id": f"w{worker}-{n}",
                    "sales_channel": "pos",
                    "store_code": store.code,
                    "placed_at": "2026-11-20T10:00:00+08:00",
                    "customer": {"phone": phones[n % 5]},
                    "lines": [{"title": "外套", "quantity": 1, "unit_price": 100000}],
                }
            )
            for n in range(10)
        ]
        return services.record_orders(brand, orders, actor=None)

    results = run_concurrently(4, batch)

    assert all(isinstance(r, list) for r in results), results
    assert Order.objects.count() == 40
    for account in LoyaltyAccount.objects.all():
        ledger = sum(PointsEntry.objects.filter(customer=account.customer).values_list("delta", flat=True))
        assert account.balance == ledger > 0


def test_concurrent_copy_sized_batches_record_each_order_once_and_earn_once(brand, store):
    """Four batches large enough for the COPY path at once, sharing known customers, new customers
    (the same new phone numbers in every batch) and ten of their orders."""
    from omo.commerce.schemas import OrderIn
    from omo.commerce.selectors import SALE_STATUSES
    from omo.customers.models import Customer
    from omo.loyalty.models import Tier

    Tier.objects.create(brand=brand, name="一般會員", threshold=0)
    Tier.objects.create(brand=brand, name="金卡", threshold=500000, earn_multiplier_percent=200)
    known = [f.make_customer(brand, f"老客{i}", phone=f"09660000{i:02d}").phone for i in range(8)]
    new = [f"0977{i:06d}" for i in range(5)]
    phones = known + new

    def batch(worker: int):
        orders = []
        for n in range(60):
            shared = n < 10
            orders.append(
                OrderIn.model_validate(
                    {
                        "source": "pos",
                        "external_id": f"shared-{n}" if shared else f"w{worker}-{n}",
                        "sales_channel": "pos",
                        "store_code": store.code,
                        "placed_at": "2026-11-20T10:00:00+08:00",
                        "customer": {
                            "phone": phones[n % len(phones)] if shared else phones[(n + worker) % len(phones)]
                        },
                        "lines": [{"title": "外套", "quantity": 1 + n % 2, "unit_price": 100000}],
                        "status": "paid" if n % 4 else "placed",
                    }
                )
            )
        return services.record_orders(brand, orders, actor=None)

    results = run_concurrently(4, batch)

    assert all(isinstance(r, list) for r in results), results
    assert Order.objects.count() == 10 + 4 * 50
    for n in range(10):
        outcomes = [r[n] for r in results]
        assert sorted(o.status for o in outcomes) == ["created", "existing", "existing", "existing"]
        assert len({o.order.pk for o in outcomes}) == 1
    for phone in new:
        assert Customer.objects.filter(brand=brand, phone=f"+886{phone[1:]}").count() == 1
    earning = Order.objects.filter(status="paid")
    assert sorted(PointsEntry.objects.filter(kind="earn").values_list("order_id", flat=True)) == sorted(
        earning.values_list("pk", flat=True)
    )
    for account in LoyaltyAccount.objects.select_related("tier"):
        ledger = sum(PointsEntry.objects.filter(customer=account.customer).values_list("delta", flat=True))
        assert account.balance == account.lifetime_earned == ledger > 0
        spend = sum(
            Order.objects.filter(customer=account.customer, status__in=SALE_STATUSES).values_list(
                "total", flat=True
            )
        )
        assert account.rolling_spend == spend
        assert account.tier.name == ("金卡" if spend >= 500000 else "一般會員")


def _rollup_rows(brand):
    from omo.analytics.models import CustomerDay, ProductSalesDay, SalesDay

    return (
        sorted(
            SalesDay.objects.filter(brand=brand)
            .exclude(orders=0)
            .values_list("day", "store_id", "sales_channel", "orders", "net")
        ),
        sorted(
            ProductSalesDay.objects.filter(brand=brand)
            .exclude(lines=0)
            .values_list("day", "store_id", "product_id", "revenue", "units", "lines")
        ),
        sorted(
            CustomerDay.objects.filter(brand=brand)
            .exclude(customers=0, omo_customers=0)
            .values_list("scope", "day", "customers", "omo_customers")
        ),
    )


def test_the_sales_rollup_stays_exact_under_concurrent_orders_cancels_and_a_rebuild(
    brand, store, monkeypatch
):
    """Batches, single orders, cancellations and rebuilds (a day and two customers per chunk, so
    writers slip in between chunks) at once: the rollup kept by deltas ends equal to one rebuilt
    from the orders afterwards."""
    from omo.analytics import rollups
    from omo.analytics.rollups import rebuilding
    from omo.commerce.schemas import OrderIn

    monkeypatch.setattr(rebuilding, "DAYS_PER_CHUNK", 1)
    monkeypatch.setattr(rebuilding, "CUSTOMERS_PER_CHUNK", 2)
    rollups.rebuild(brand)
    phones = [f"0933{i:06d}" for i in range(6)]

    def order(worker: int, n: int) -> OrderIn:
        online = (worker + n) % 3 == 0
        return OrderIn.model_validate(
            {
                "source": "pos",
                "external_id": f"w{worker}-{n}",
                "sales_channel": "web_shop" if online else "pos",
                **({} if online else {"store_code": store.code}),
                "placed_at": f"2026-11-{10 + n % 5}T10:00:00+08:00",
                "customer": {"phone": phones[(n + worker) % 6]},
                "lines": [{"title": "外套", "quantity": 1 + n % 3, "unit_price": 33333}],
                "status": "paid",
            }
        )

    def work(worker: int):
        if worker == 0:
            return [rollups.rebuild(brand) for _ in range(2)]
        if worker == 1:
            recorded = [services.record_order(brand, order(worker, n), actor=None)[0] for n in range(12)]
            return [services.cancel(o, actor=None) for o in recorded[::3]]
        return services.record_orders(brand, [order(worker, n) for n in range(30)], actor=None)

    results = run_concurrently(4, work)

    assert not [r for r in results if isinstance(r, Exception)], results
    kept = _rollup_rows(brand)
    assert sum(row[3] for row in kept[0]) == 12 - 4 + 2 * 30
    rollups.rebuild(brand)
    assert kept == _rollup_rows(brand)
