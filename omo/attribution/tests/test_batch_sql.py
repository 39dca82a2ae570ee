"""The batch decided in SQL (PostgreSQL) writes exactly what `decide` and `commission_for` would.

Every order of a varied dataset is attributed twice, once through the Python path and once through
the SQL statement, and every column of the attributions and sale entries is compared: each rule,
refs (card link, clerk cart, forged, expired), clicks out of the window, preview fetchers' clicks,
cancelled orders, coupon codes (as typed, in discounts, a clerk code inside another), POS staff with
and without employee codes, commission rules by category and store with date ranges, discounts, and
the bound-clerk policy off and on.
"""

from __future__ import annotations

import datetime as dt
import random

import pytest
from django.core import signing
from django.db import connection
from django.utils import timezone

from omo.attribution import batch_sql, links, services
from omo.attribution.models import Attribution, AttributionSettings, CommissionEntry, CommissionRule
from omo.binding.models import Binding, ClerkCode
from omo.commerce.models import Order, OrderLine
from omo.testing import factories as f

pytestmark = pytest.mark.postgres


def _world(brand, other_brand, store, other_store):
    """Clerks, codes, rules, links, clicks, bindings and ~300 orders of every kind."""
    rng = random.Random(7)
    now = timezone.now().replace(microsecond=0)
    today = timezone.localdate()
    tops = f.make_category(brand, "上衣", slug="tops")
    pants = f.make_category(brand, "褲子", slug="pants")
    tee = f.make_product(brand, "有機棉T恤", category=tops, variants=[("TEE-M", "M", 100000)])
    jeans = f.make_product(brand, "牛仔褲", category=pants, variants=[("JEAN-M", "M", 150000)])
    plain = f.make_product(brand, "手帕", variants=[("HAN-1", "F", 9900)])
    clerks = [
        f.make_user(brand, "wang", role="clerk", store=store, display_name="王小美", employee_code="E001"),
        f.make_user(brand, "lee", role="clerk", store=store, display_name="李店員"),
        f.make_user(
            brand, "chen", role="clerk", store=other_store, display_name="陳 O'Neil", employee_code="K-9"
        ),
        f.make_user(brand, "nostore", role="clerk"),  # no display name: the username is the name
    ]
    stranger = f.make_user(other_brand, "elsewhere", role="clerk")
    ClerkCode.objects.create(brand=brand, clerk=clerks[0], code="WANG01")
    ClerkCode.objects.create(brand=brand, clerk=clerks[1], code="lee123")  # stored lower case
    ClerkCode.objects.create(brand=brand, clerk=clerks[2], code="AB")
    ClerkCode.objects.create(brand=brand, clerk=clerks[3], code="AB-1")  # exact beats the head "AB"
    start = today - dt.timedelta(days=90)
    CommissionRule.objects.create(brand=brand, rate_bp=300, starts_on=start)
    CommissionRule.objects.create(brand=brand, rate_bp=333, starts_on=start, store=store)
    CommissionRule.objects.create(brand=brand, rate_bp=450, starts_on=start, category=tops)
    CommissionRule.objects.create(brand=brand, rate_bp=550, starts_on=start, category=tops, store=store)
    CommissionRule.objects.create(  # a newer rate for pants, from 10 days ago
        brand=brand, rate_bp=777, starts_on=today - dt.timedelta(days=10), category=pants
    )
    CommissionRule.objects.create(brand=brand, rate_bp=125, starts_on=start, category=pants)
    CommissionRule.objects.create(  # ended: only orders before it ended
        brand=brand, rate_bp=9000, starts_on=start, ends_on=today - dt.timedelta(days=20), store=other_store
    )
    CommissionRule.objects.create(  # a clerk's own rate: beats every category and store rule
        brand=brand, rate_bp=1000, starts_on=start, clerk=clerks[1]
    )
    CommissionRule.objects.create(  # a fixed amount per item for one clerk's pants
        brand=brand, kind="fixed", fixed_amount=2500, starts_on=start, clerk=clerks[2], category=pants
    )
    customers = [f.make_customer(brand, f"顧客{i}", phone=f"+8869{i:08d}") for i in range(24)]
    phone_ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148 Safari Line/13.20.0"
    card_links = []
    for i, customer in enumerate(customers[:18]):
        clerk = clerks[i % len(clerks)]
        link = services.issue_link(brand, clerk=clerk, product=tee, customer=customer)
        card_links.append(link)
        for days, hours in ((1 + i % 9, i % 5), (33 + i % 5, 2), (i % 3, 1 + i % 7)):
            services.record_click(link, user_agent=phone_ua, at=now - dt.timedelta(days=days, hours=hours))
        # A preview fetcher opens the link after the customer did: flagged, never counted.
        services.record_click(link, user_agent="facebookexternalhit/1.1", at=now - dt.timedelta(minutes=5))
    twin = card_links[0]  # two clicks at the very same moment: the later row wins
    services.record_click(twin, user_agent=phone_ua, at=now - dt.timedelta(hours=3))
    services.record_click(twin, user_agent=phone_ua, at=now - dt.timedelta(hours=3))
    stranger_link = services.issue_link(brand, clerk=None, product=tee, customer=customers[18])
    services.record_click(stranger_link, user_agent=phone_ua, at=now - dt.timedelta(days=1))
    for customer, clerk, days_from, days_to in (
        (customers[19], clerks[0], 200, 50),
        (customers[19], clerks[1], 50, None),
        (customers[20], clerks[2], 5, None),
        (customers[0], clerks[3], 100, None),
        (customers[21], stranger, 30, None),
    ):
        Binding.objects.create(
            brand=brand,
            customer=customer,
            clerk=clerk,
            source="manual",
            started_at=now - dt.timedelta(days=days_from),
            ended_at=now - dt.timedelta(days=days_to) if days_to is not None else None,
        )

    def signed_ref(kind: str, ident: int, at: dt.datetime) -> str:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(
                signing.TimestampSigner, "timestamp", lambda self: signing.b62_encode(int(at.timestamp()))
            )
            return links.link_ref(ident) if kind == "link" else links.clerk_ref(ident)

    codes = ["", "", "WANG01", " lee123-xmas ", "ab-1", "AB-2", "nobody", "wang01\t", "LEE123"]
    made = 0

    def order(**kw):
        nonlocal made
        made += 1
        placed = kw.pop("placed_at", now - dt.timedelta(days=rng.randint(0, 45), hours=rng.randint(0, 23)))
        lines = kw.pop("lines", [(tee, 100000)])
        subtotal = sum(total for _, total in lines) if lines else kw.pop("subtotal", 50000)
        kw.setdefault("sales_channel", "web_shop")
        o = Order.objects.create(
            brand=brand,
            source="test",
            external_id=f"o{made}",
            subtotal=subtotal,
            total=max(0, subtotal - kw.get("discount_total", 0)),
            placed_at=placed,
            status=kw.pop("status", "paid"),
            **kw,
        )
        for product, total in lines:
            OrderLine.objects.create(
                brand=brand,
                order=o,
                product=product,
                sku="X",
                title="x",
                quantity=1,
                unit_price=total,
                total=total,
                placed_at=placed,
            )
        return o

    for i in range(220):
        customer = customers[i % len(customers)] if i % 11 else None
        line_sets = [
            [(tee, 100000)],
            [(tee, 100000), (jeans, 150000), (plain, 9900)],
            [(jeans, 33333), (jeans, 1)],
            [],
        ]
        order(
            customer=customer,
            coupon_code=codes[i % len(codes)] if i % 4 == 0 else "",
            discounts=[{"code": codes[(i + 3) % len(codes)], "amount": 100}] if i % 6 == 0 else [],
            discount_total=(0, 1000, 7777, 500000)[i % 4],
            status=("paid", "paid", "cancelled", "placed", "refunded")[i % 5],
            lines=line_sets[i % 4],
        )
    for i, clerk in enumerate([*clerks, stranger]):  # POS sales, by a clerk of the brand or not
        order(
            sales_channel="pos",
            staff=clerk,
            store=store if i % 2 else None,
            customer=customers[i],
            coupon_code="WANG01",
        )
    order(sales_channel="pos", customer=customers[1])  # a POS sale without staff
    for i, link in enumerate(card_links[:6]):  # a new shopper carrying a card's ref
        order(
            ref=signed_ref("link", link.pk, now - dt.timedelta(days=1)), placed_at=now - dt.timedelta(hours=i)
        )
    order(ref=signed_ref("link", card_links[1].pk, now)[:-3] + "xyz")  # forged
    for i, clerk in enumerate(clerks):  # a clerk's cart: in the window, before it, and vs a later click
        order(ref=signed_ref("clerk", clerk.pk, now - dt.timedelta(days=i * 2)), placed_at=now)
        order(ref=signed_ref("clerk", clerk.pk, now - dt.timedelta(days=40)), placed_at=now)
        order(
            customer=customers[i],
            ref=signed_ref("clerk", clerk.pk, now - dt.timedelta(days=20)),
            placed_at=now,
        )
        order(customer=customers[i], ref=signed_ref("clerk", clerk.pk, now - dt.timedelta(minutes=1)))
    order(ref=signed_ref("clerk", stranger.pk, now - dt.timedelta(days=1)), placed_at=now)
    for customer in customers[19:22]:  # bindings, by history
        for days in (0, 20, 60, 120):
            order(customer=customer, placed_at=now - dt.timedelta(days=days))
    # Codes SQL leaves to `decide`: a discount code that is a number, and non-ASCII codes.
    order(customer=customers[2], discounts=[{"code": 12345}, {"code": "WANG01"}])
    order(customer=customers[3], coupon_code="ＷＡＮＧ０１")
    order(customer=customers[4], discounts=[{"code": "lee123-冬季"}])
    order(customer=customers[5], discounts={"code": "WANG01"}, coupon_code="")  # not a list: no codes
    order(customer=customers[6], discounts=[{"kind": "points", "amount": 10}, "WANG01", {"code": ""}])
    order(customer=customers[7], subtotal=0, lines=[])  # a free order
    local_midnight = timezone.localtime(now).replace(day=1, hour=0, minute=30, second=0)
    order(customer=customers[8], placed_at=local_midnight)  # first half hour of the month, local time
    return customers


def _snapshot(brand):
    attributions = {
        row[0]: row[1:]
        for row in Attribution.objects.filter(brand=brand).values_list(
            "order_id", "clerk_id", "store_id", "rule", "click_id", "reason_zh", "reason_en"
        )
    }
    entries = {
        row[0]: row[1:]
        for row in CommissionEntry.objects.filter(brand=brand).values_list(
            "order_id", "clerk_id", "kind", "basis", "amount", "month", "refund_id"
        )
    }
    return attributions, entries


def _both_paths(brand, monkeypatch, *, chunk_size=50):
    """(python stats, python rows, sql stats, sql rows, ids the SQL statement left to Python)."""
    with monkeypatch.context() as mp:
        mp.setattr(batch_sql, "usable", lambda ctx: False)
        python_stats = services.attribute_orders(
            brand, Order.objects.filter(brand=brand), chunk_size=chunk_size
        )
    python_rows = _snapshot(brand)
    CommissionEntry.objects.filter(brand=brand).delete()
    Attribution.objects.filter(brand=brand).delete()
    left: list[int] = []
    real = batch_sql.attribute_chunk

    def spy(ctx, chunk, stats):
        ids = real(ctx, chunk, stats)
        left.extend(ids)
        return ids

    assert batch_sql.usable(services.brand_context(brand))
    with monkeypatch.context() as mp:
        mp.setattr(batch_sql, "attribute_chunk", spy)
        sql_stats = services.attribute_orders(brand, Order.objects.filter(brand=brand), chunk_size=chunk_size)
    return python_stats, python_rows, sql_stats, _snapshot(brand), left


def _same(python_rows, sql_rows):
    for name, expected, got in zip(("attributions", "entries"), python_rows, sql_rows, strict=True):
        assert set(got) == set(expected), name
        different = {key: (expected[key], got[key]) for key in expected if expected[key] != got[key]}
        assert not different, f"{name} differ: {different}"


@pytest.mark.parametrize("credit_bound_clerk", [False, True])
def test_sql_path_writes_what_decide_writes(
    brand, other_brand, store, other_store, monkeypatch, credit_bound_clerk
):
    _world(brand, other_brand, store, other_store)
    AttributionSettings.objects.create(brand=brand, window_days=30, credit_bound_clerk=credit_bound_clerk)

    python_stats, python_rows, sql_stats, sql_rows, left = _both_paths(brand, monkeypatch)

    _same(python_rows, sql_rows)
    assert dict(sql_stats.by_rule) == dict(python_stats.by_rule)
    assert (sql_stats.considered, sql_stats.attributed, sql_stats.commission_entries) == (
        python_stats.considered,
        python_stats.attributed,
        python_stats.commission_entries,
    )
    rules = set(python_stats.by_rule)
    assert {"pos_staff", "clerk_coupon", "link_click", "none"} <= rules
    assert ("bound_clerk" in rules) is credit_bound_clerk
    reasons = " ".join(zh for *_, zh, _en in python_rows[0].values())
    assert (
        "購物車連結" in reasons
        and "商品卡片" in reasons
        and "當天" in reasons
        and "（員工編號 E001）" in reasons
    )
    assert "AB-1" in reasons and "LEE123-XMAS" in reasons
    # Only the orders with a non-string or non-ASCII code went through `decide`.
    assert len(left) == 3
    # The cancelled orders were attributed but earn nothing; commission came from several rates.
    cancelled = set(Order.objects.filter(brand=brand, status="cancelled").values_list("id", flat=True))
    assert cancelled and not cancelled & set(sql_rows[1])
    assert cancelled & {k for k, v in sql_rows[0].items() if v[0] is not None}
    assert (
        len({(amount * 10000) // basis for _c, _k, basis, amount, *_ in sql_rows[1].values() if basis}) >= 4
    )


def test_sql_path_rerun_is_a_no_op_and_skips_attributed_orders(brand, other_brand, store, other_store):
    _world(brand, other_brand, store, other_store)
    ids = list(Order.objects.filter(brand=brand).order_by("id").values_list("id", flat=True))
    first = services.attribute_orders(brand, ids[: len(ids) // 2], chunk_size=17)
    rest = services.attribute_orders(brand, Order.objects.filter(brand=brand), chunk_size=40)
    again = services.attribute_orders(brand, Order.objects.filter(brand=brand))
    assert first.considered + rest.considered == len(ids)
    assert first.attributed + rest.attributed == len(ids) == Attribution.objects.filter(brand=brand).count()
    assert again.considered == again.attributed == again.commission_entries == 0
    entries = CommissionEntry.objects.filter(brand=brand)
    assert entries.count() == first.commission_entries + rest.commission_entries
    assert entries.values("order_id").distinct().count() == entries.count()


def test_sql_path_is_scoped_to_the_brand(brand, other_brand):
    foreign = Order.objects.create(
        brand=other_brand, source="t", external_id="x", sales_channel="web_shop", placed_at=timezone.now()
    )
    stats = services.attribute_orders(brand, [foreign.pk])
    assert stats.considered == 0 and not Attribution.objects.exists()


def test_worker_count_stays_one_inside_a_transaction(db, monkeypatch):
    monkeypatch.setenv("OMO_ATTRIBUTION_WORKERS", "4")
    assert connection.in_atomic_block
    assert batch_sql._workers(10) == 1


def test_a_brand_with_its_own_order_of_rules_takes_the_python_path(brand):
    assert batch_sql.usable(services.brand_context(brand))
    AttributionSettings.objects.create(
        brand=brand, precedence=["clerk_coupon", "pos_staff", "link_click", "bound_clerk"]
    )
    assert not batch_sql.usable(services.brand_context(brand))
