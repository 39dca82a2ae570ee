"""The set-wise batch path (record_orders): the same rows, points, tiers and events as recording the
orders one by one, on every database; COPY on PostgreSQL; repeats, bad inputs and concurrent batches."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import pytest
from django.db import OperationalError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from omo.commerce import services
from omo.commerce.models import Order, OrderLine
from omo.commerce.schemas import OrderIn
from omo.core import bulk, events
from omo.core.audit import Actor
from omo.core.models import AuditLog
from omo.customers.models import Customer, CustomerIdentity
from omo.loyalty.models import LoyaltyAccount, PointsEntry, Tier
from omo.testing import factories as f

pytestmark = pytest.mark.django_db

# Enough that orders, lines and points (over a third of the orders earn) go through COPY on PostgreSQL.
SIZE = 4 * bulk.COPY_MIN_ROWS


def _setup_brand(brand):
    """The same stores, staff, products, tiers and known customer in any brand."""
    f.make_store(brand, code="TPE01")
    f.make_user(brand, "clerk", role="clerk", employee_code="E001")
    f.make_product(brand, "短T", variants=[("TEE-M", "M", 59000), ("TEE-L", "L", 59000)])
    f.make_product(brand, "帆布袋", variants=[("BAG", "", 45000)])
    Tier.objects.create(brand=brand, name="一般會員", threshold=0)
    Tier.objects.create(brand=brand, name="金卡", threshold=150000)
    f.make_customer(brand, "老顧客", phone="0911000111", member_number="M1")
    f.make_customer(brand, "只有 email", phone="", email="mail@example.com")


def _placed(hours_ago: int) -> str:
    return (timezone.now() - dt.timedelta(hours=hours_ago)).isoformat()


def _inputs(count: int = SIZE) -> list[dict]:
    """Orders of every kind: known, new and shared customers, no customer, statuses, lines, discounts."""
    customers = [
        {"phone": "0911-000-111", "name": "老顧客"},  # known by phone
        {"member_number": "M1", "phone": "0922000001"},  # known by member number, gains a phone
        {"phone": "0933000001", "name": " 新客甲 "},  # new
        {"phone": "0933000002", "email": "B@Example.com", "name": "新客乙"},  # new, phone and email
        {"email": "mail@example.com", "name": "信箱客"},  # known by email alone
        {"phone": "null", "email": "undefined"},  # nothing usable: no customer
        None,
    ]
    statuses = ["paid", "paid", "fulfilled", "placed", "cancelled"]
    orders = []
    for n in range(count):
        lines = [{"sku": "TEE-M", "quantity": 1 + n % 3, "unit_price": 59000, "discount": 1000 * (n % 2)}]
        if n % 4 == 1:
            lines.append({"sku": "NOT-OURS", "title": "寄賣商品", "quantity": 1, "unit_price": 12000})
        if n % 5 == 2:
            lines.append({"sku": "BAG", "quantity": 2, "unit_price": 45000})
        order = {
            "source": "pos-erp",
            "external_id": f"E-{n:03d}",
            "name": f"R{n:05d}" if n % 6 else "",
            "sales_channel": ("pos", "web_shop", "marketplace")[n % 3],
            "store_code": "TPE01",
            "staff_code": "E001" if n % 2 else "E999",
            "placed_at": _placed(n + 1),
            "customer": customers[n % len(customers)],
            "lines": lines,
            "discounts": [{"code": "VIP", "kind": "member", "amount": 500}] if n % 3 == 0 else [],
            "shipping_total": 6000 if n % 3 == 1 else 0,
            "tax_total": 100 * (n % 2),
            "status": statuses[n % len(statuses)],
            "ref": f"clerk:{n}" if n % 7 == 0 else "",
            "note": f"第 {n} 筆",
        }
        if n % 8 == 3:
            order["paid_at"] = _placed(0)
            order["fulfilment"] = "pickup"
        orders.append(order)
    return orders


def _order_view(order: Order) -> dict:
    """What an order row says, without ids that differ between brands."""
    customer = order.customer
    return {
        **{
            name: getattr(order, name)
            for name in (
                "source",
                "external_id",
                "name",
                "sales_channel",
                "staff_code",
                "contact_name",
                "contact_phone",
                "contact_email",
                "fulfilment",
                "shipping_address",
                "payment_method",
                "currency",
                "subtotal",
                "discount_total",
                "shipping_total",
                "tax_total",
                "total",
                "refunded_total",
                "discounts",
                "coupon_code",
                "points_redeemed",
                "status",
                "ref",
                "note",
                "placed_at",
                "paid_at",
                "fulfilled_at",
                "cancelled_at",
            )
        },
        "store": order.store.code if order.store_id else None,
        "staff": order.staff.employee_code if order.staff_id else None,
        "customer": (customer.name, customer.phone, customer.email, customer.member_number)
        if customer
        else None,
        "lines": [
            (
                line.sku,
                line.title,
                line.variant.sku if line.variant_id else None,
                line.product_id is not None,
                line.quantity,
                line.unit_price,
                line.discount,
                line.total,
                line.refunded_quantity,
                line.placed_at,
            )
            for line in order.lines.select_related("variant").order_by("sku", "quantity")
        ],
        "points": [
            (
                e.delta,
                e.kind,
                e.reason.replace(order.display_number, "<order>"),
                e.idempotency_key.replace(str(order.pk), "<id>"),
                e.expires_at,
                e.created_at,
            )
            for e in PointsEntry.objects.filter(order=order)
        ],
    }


def _brand_view(brand) -> dict:
    orders = (
        Order.objects.filter(brand=brand).select_related("store", "staff", "customer").order_by("external_id")
    )
    accounts = LoyaltyAccount.objects.filter(brand=brand).select_related("customer", "tier")
    return {
        "orders": [_order_view(order) for order in orders],
        "customers": sorted(
            Customer.objects.filter(brand=brand).values_list(
                "name", "phone", "email", "member_number", "search_text"
            )
        ),
        "identities": sorted(
            CustomerIdentity.objects.filter(brand=brand).values_list(
                "customer__phone", "kind", "value", "verified"
            )
        ),
        "accounts": sorted(
            (
                a.customer.phone,
                a.customer.email,
                a.balance,
                a.lifetime_earned,
                a.rolling_spend,
                a.tier.name if a.tier_id else None,
            )
            for a in accounts
        ),
    }


def test_a_batch_writes_what_recording_one_by_one_writes(
    brand, other_brand, django_capture_on_commit_callbacks
):
    _setup_brand(brand)
    _setup_brand(other_brand)
    inputs = [OrderIn.model_validate(body) for body in _inputs()]
    with django_capture_on_commit_callbacks(execute=True):
        for data in inputs:
            services.record_order(brand, data, actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        results = services.record_orders(other_brand, inputs, actor=None)

    assert [r.status for r in results] == ["created"] * SIZE
    one_by_one, batch = _brand_view(brand), _brand_view(other_brand)
    assert batch["orders"] == one_by_one["orders"]
    assert batch["customers"] == one_by_one["customers"]
    assert batch["identities"] == one_by_one["identities"]
    assert batch["accounts"] == one_by_one["accounts"]
    # the known customers were matched, not made again; points went to paid and fulfilled orders only
    assert Customer.objects.filter(brand=other_brand, member_number="M1").count() == 1
    paid = sum(
        1
        for data in inputs
        if data.status in ("paid", "fulfilled")
        and data.customer is not None
        and Order.objects.get(brand=other_brand, external_id=data.external_id).customer_id
    )
    assert PointsEntry.objects.filter(brand=other_brand, kind="earn").count() == paid
    for account in LoyaltyAccount.objects.filter(brand=other_brand):
        ledger = sum(PointsEntry.objects.filter(customer=account.customer).values_list("delta", flat=True))
        assert account.balance == account.lifetime_earned == ledger


def test_the_results_carry_the_saved_orders(brand):
    _setup_brand(brand)
    inputs = [OrderIn.model_validate(body) for body in _inputs()]
    results = services.record_orders(brand, inputs, actor=None)
    for result, data in zip(results, inputs, strict=True):
        order = result.order
        assert order.pk and not order._state.adding
        assert order == Order.objects.get(brand=brand, external_id=data.external_id)
        assert (order.total, order.status, order.placed_at) == (
            data.computed_total(),
            data.status,
            data.placed_at,
        )


def test_on_postgresql_orders_lines_and_points_go_through_copy(brand):
    _setup_brand(brand)
    inputs = [OrderIn.model_validate(body) for body in _inputs()]
    with CaptureQueriesContext(connection) as queries:
        services.record_orders(brand, inputs, actor=None)
    inserts = Counter(
        q["sql"].split("INSERT INTO", 1)[1].split()[0].strip('"')
        for q in queries.captured_queries
        if "INSERT INTO" in q["sql"]  # on SQLite many rows are "N times: INSERT INTO …" (one executemany)
    )
    if connection.vendor == "postgresql":
        assert not {"commerce_order", "commerce_orderline", "loyalty_pointsentry"} & set(inserts), inserts
        assert sum("nextval" in q["sql"] for q in queries.captured_queries) == 2  # order ids, entry ids
    else:
        assert {"commerce_order", "commerce_orderline", "loyalty_pointsentry"} <= set(inserts)
    assert OrderLine.objects.filter(brand=brand).count() == sum(len(b["lines"]) for b in _inputs())


def test_events_and_audit_follow_every_order(
    brand, hq_admin, monkeypatch, django_capture_on_commit_callbacks
):
    _setup_brand(brand)
    seen: list[tuple[str, dict]] = []
    for name in (
        "order.recorded",
        "orders.batch_recorded",
        "points.changed",
        "points.posted",
        "customer.created",
    ):
        monkeypatch.setitem(events._subscribers, name, [lambda p, name=name: seen.append((name, p))])
    inputs = [OrderIn.model_validate(body) for body in _inputs()]
    actor = Actor(brand=brand, user=hq_admin)

    with django_capture_on_commit_callbacks(execute=True):
        results = services.record_orders(brand, inputs, actor=actor)

    ids = [r.order.pk for r in results]
    recorded = [p for name, p in seen if name == "order.recorded"]
    assert recorded == [
        {
            "brand_id": brand.pk,
            "order_id": r.order.pk,
            "sales_channel": r.order.sales_channel,
            "status": r.order.status,
            "created": True,
            "in_batch": True,
        }
        for r in results
    ]
    assert [p for name, p in seen if name == "orders.batch_recorded"] == [
        {"brand_id": brand.pk, "order_ids": ids}
    ]
    entries = list(PointsEntry.objects.filter(brand=brand, order_id__in=ids).order_by("pk"))
    assert [p["entry_ids"] for name, p in seen if name == "points.posted"] == [[e.pk for e in entries]]
    changed = [p for name, p in seen if name == "points.changed"]
    balances = dict(LoyaltyAccount.objects.values_list("customer_id", "balance"))
    assert sorted((p["customer_id"], p["delta"], p["balance"]) for p in changed) == sorted(
        (e.customer_id, e.delta, balances[e.customer_id]) for e in entries
    )
    created = {p["customer_id"] for name, p in seen if name == "customer.created"}
    assert created == set(
        Customer.objects.filter(phone__in=["+886933000001", "+886933000002"]).values_list("pk", flat=True)
    )
    audited = AuditLog.objects.filter(action="order.recorded")
    assert sorted(int(pk) for pk in audited.values_list("target_id", flat=True)) == sorted(ids)


def test_repeats_within_a_batch_and_across_batches_return_the_first_order(brand):
    _setup_brand(brand)
    first_inputs = _inputs()
    first = services.record_orders(brand, [OrderIn.model_validate(b) for b in first_inputs], actor=None)
    entries_before = PointsEntry.objects.count()
    balances_before = dict(LoyaltyAccount.objects.values_list("customer_id", "balance"))

    changed = {**first_inputs[0], "lines": [{"sku": "BAG", "quantity": 9, "unit_price": 1}], "status": "paid"}
    new = {**first_inputs[1], "external_id": "NEW-1"}
    again = [changed, new, first_inputs[2], new, changed] + first_inputs[3 : SIZE - 1]
    second = services.record_orders(brand, [OrderIn.model_validate(b) for b in again], actor=None)

    # a repeat with the same body is the first order; one with other lines is refused by field
    assert [r.status for r in second] == ["rejected", "created", "existing", "existing", "rejected"] + [
        "existing"
    ] * (SIZE - 4)
    assert second[0].field == second[4].field == "lines"
    assert "these fields differ: lines" in (second[0].error or "")
    assert second[3].order.pk == second[1].order.pk
    assert [r.order.pk for r in second[5:]] == [r.order.pk for r in first[3 : SIZE - 1]]
    assert Order.objects.filter(brand=brand).count() == SIZE + 1
    assert (
        OrderLine.objects.filter(order=first[0].order, sku="BAG").count() == 0
    )  # the repeat changed nothing
    # only the one new order earned
    assert PointsEntry.objects.count() - entries_before == (1 if second[1].order.status == "paid" else 0)
    for customer_id, balance in balances_before.items():
        if customer_id != second[1].order.customer_id:
            assert LoyaltyAccount.objects.get(customer_id=customer_id).balance == balance


def test_bad_orders_are_refused_by_field_and_the_others_recorded(brand):
    _setup_brand(brand)
    good = _inputs()
    bad = {
        1: ({"store_code": "NOPE"}, "store_code", "no store with code 'NOPE'"),
        4: (
            {"lines": [{"sku": "GONE", "quantity": 1, "unit_price": 100}], "discounts": []},
            "lines[0].sku",
            "unknown sku 'GONE' and no title given",
        ),
        7: ({"customer": {"phone": "12345"}}, "customer.phone", None),
        9: ({"customer": {"email": "not-an-email"}}, "customer.email", None),
        12: ({"currency": "USD"}, "currency", "USD differs from the brand currency TWD"),
        15: ({"total": 1}, "total", None),
        18: ({"discounts": [{"amount": 10**9}]}, "discounts", "discounts exceed the order amount"),
    }
    bodies = [{**body, **bad[n][0]} if n in bad else body for n, body in enumerate(good)]
    bodies.append({**bodies[7], "name": "again"})  # a repeat of a refused order is refused the same way

    results = services.record_orders(brand, [OrderIn.model_validate(b) for b in bodies], actor=None)

    for n, result in enumerate(results[:SIZE]):
        if n in bad:
            _, field, error = bad[n]
            assert (result.status, result.field, result.order) == ("rejected", field, None), n
            if error:
                assert result.error == error
        else:
            assert result.status == "created", (n, result)
    assert (results[-1].status, results[-1].field) == ("rejected", "customer.phone")
    assert set(Order.objects.filter(brand=brand).values_list("external_id", flat=True)) == {
        body["external_id"] for n, body in enumerate(good) if n not in bad
    }
    assert not PointsEntry.objects.filter(
        order__external_id__in=[good[n]["external_id"] for n in bad]
    ).exists()


def test_a_nul_character_refuses_that_order_alone(api, brand):
    _setup_brand(brand)
    bodies = _inputs()
    bodies[3] = {**bodies[3], "note": "a\x00b"}
    bodies[5] = {**bodies[5], "customer": {"phone": "0933000009", "name": "\x00"}}

    response = api.post("/api/v1/orders/batch", {"orders": bodies})

    assert response.status_code == 200, response.content
    data = response.json()
    assert (data["created"], data["rejected"]) == (SIZE - 2, 2)
    assert [(r["index"], r["field"]) for r in data["results"] if r["status"] == "rejected"] == [
        (3, "orders[3].note"),
        (5, "orders[5].customer.name"),
    ]
    assert "NUL" in data["results"][3]["error"]
    assert Order.objects.filter(brand=brand).count() == SIZE - 2


def _hiding(monkeypatch, key: tuple[str, str], times: int) -> list[int]:
    """The look-up misses `key` the first `times` calls, as when a concurrent writer stores it just
    after the look-up: the write then fails on the unique key. Returns the list of calls made."""
    real_recorded = services.batch._recorded
    calls: list[int] = []

    def recorded(brand_arg, keys):
        calls.append(len(keys))
        found = real_recorded(brand_arg, keys)
        if len(calls) <= times:
            found.pop(key, None)
        return found

    monkeypatch.setattr(services.batch, "_recorded", recorded)
    return calls


def _assert_each_order_once(brand, inputs, results):
    assert [r.status for r in results] == ["created"] * 5 + ["existing"] + ["created"] * (len(inputs) - 6)
    assert Order.objects.filter(brand=brand).count() == len(inputs)
    assert results[5].order.pk == Order.objects.get(brand=brand, external_id=inputs[5].external_id).pk
    assert PointsEntry.objects.values("order_id").distinct().count() == PointsEntry.objects.count()
    for account in LoyaltyAccount.objects.filter(brand=brand):
        ledger = sum(PointsEntry.objects.filter(customer=account.customer).values_list("delta", flat=True))
        assert account.balance == account.lifetime_earned == ledger


def test_a_clash_with_a_concurrent_writer_rolls_back_and_tries_again(brand, monkeypatch, caplog):
    _setup_brand(brand)
    inputs = [OrderIn.model_validate(body) for body in _inputs()]
    services.record_order(brand, inputs[5], actor=None)  # the concurrent writer's order
    calls = _hiding(monkeypatch, ("pos-erp", inputs[5].external_id), times=1)

    with caplog.at_level("INFO", logger="omo.commerce.services"):
        results = services.record_orders(brand, inputs, actor=None)

    assert len(calls) == 2
    assert "rolled back by a concurrent writer" in caplog.text
    _assert_each_order_once(brand, inputs, results)
    assert (
        Customer.objects.filter(brand=brand, phone="+886933000001").count() == 1
    )  # the first try left nothing


def test_a_batch_that_keeps_clashing_is_recorded_order_by_order(
    brand, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    _setup_brand(brand)
    inputs = [OrderIn.model_validate(body) for body in _inputs()]
    services.record_order(brand, inputs[5], actor=None)
    calls = _hiding(monkeypatch, ("pos-erp", inputs[5].external_id), times=services.BATCH_ATTEMPTS)
    seen: list[dict] = []
    monkeypatch.setitem(events._subscribers, "order.recorded", [seen.append])

    with (
        django_capture_on_commit_callbacks(execute=True),
        caplog.at_level("INFO", logger="omo.commerce.services"),
    ):
        results = services.record_orders(brand, inputs, actor=None)

    assert len(calls) == services.BATCH_ATTEMPTS
    assert "recorded order by order" in caplog.text
    _assert_each_order_once(brand, inputs, results)
    assert len(seen) == len(inputs) - 1 and not any(p["in_batch"] for p in seen)  # as single orders


def _deadlock_error() -> OperationalError:
    class DeadlockDetected(Exception):
        sqlstate = "40P01"

    error = OperationalError("deadlock detected")
    error.__cause__ = DeadlockDetected()
    return error


def test_a_deadlock_rolls_the_batch_back_and_tries_again(brand, monkeypatch):
    _setup_brand(brand)
    inputs = [OrderIn.model_validate(body) for body in _inputs()]
    real_batch = services.batch._record_batch
    calls: list[int] = []

    def deadlocking_once(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise _deadlock_error()
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(services.batch, "_record_batch", deadlocking_once)
    results = services.record_orders(brand, inputs, actor=None)
    assert len(calls) == 2 and [r.status for r in results] == ["created"] * SIZE


def test_other_operational_errors_are_not_retried(brand, monkeypatch):
    calls: list[int] = []

    def failing(*args, **kwargs):
        calls.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(services.batch, "_record_batch", failing)
    with pytest.raises(OperationalError):
        services.record_orders(brand, [OrderIn.model_validate(_inputs(1)[0])], actor=None)
    assert len(calls) == 1


def test_variant_labels_are_what_str_gives(brand):
    _setup_brand(brand)
    catalog = services.batch._catalog(brand, [OrderIn.model_validate(b) for b in _inputs()])
    from omo.catalog.models import Variant

    for sku, (pk, product_id, label) in catalog.variants.items():
        variant = Variant.objects.get(pk=pk)
        assert (variant.sku, variant.product_id, str(variant)) == (sku, product_id, label)
    assert set(catalog.variants) == {"TEE-M", "BAG"}  # TEE-L is not ordered; NOT-OURS is not ours


@pytest.mark.postgres
def test_accounts_are_locked_after_the_deferred_checks_and_just_before_the_end(brand):
    """Concurrent batches for the same customers wait on the account rows until the commit: the
    thousands of deferred foreign-key checks of the orders run before those locks are taken."""
    _setup_brand(brand)
    inputs = [OrderIn.model_validate(body) for body in _inputs()]
    with CaptureQueriesContext(connection) as queries:
        services.record_orders(brand, inputs, actor=None)
    sqls = [q["sql"] for q in queries.captured_queries]
    checks = next(i for i, sql in enumerate(sqls) if sql.startswith("SET CONSTRAINTS ALL IMMEDIATE"))
    # the accounts' lock (the store's stock rows are locked earlier, by sell_in_store_many)
    lock = next(i for i, sql in enumerate(sqls) if "FOR UPDATE" in sql and "loyalty_loyaltyaccount" in sql)
    assert checks < lock
    tail = [sql for sql in sqls[lock + 1 :] if not sql.startswith("RELEASE SAVEPOINT")]
    # Only the sales rollup's statements (its own hot rows, omo/analytics/rollups/) come later.
    rollup = next(i for i, sql in enumerate(tail) if "analytics_" in sql)
    assert all("analytics_" in sql for sql in tail[rollup:]), tail
    # Also after the lock: the follow-ups owed to durable subscribers (new rows, omo.core.events)
    # and the rollup's read of the orders it counts (no locks).
    followups = [sql for sql in tail[:rollup] if sql.startswith("INSERT") and "core_followup" in sql]
    # the points' follow-ups (timeline, segments' staleness) and the batch's (attribution, timeline, rollup)
    assert len(followups) == 3, [sql[-700:] for sql in followups]
    assert tail[rollup - 1].startswith('SELECT "commerce_order"'), tail  # the orders the rollup counts
    after_lock = [sql.split()[0] for sql in tail[: rollup - 1] if sql not in followups]
    assert after_lock == ["SELECT", "SELECT", "UPDATE"], tail  # entry ids, spend, balances
    assert "nextval" in sqls[lock + 1]  # then the entries' COPY
