"""The demo seeder: consistent, deterministic, and careful with an existing demo brand."""

from __future__ import annotations

import datetime as dt
import re
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Sum
from PIL import Image

from omo.catalog import line_images
from omo.catalog.models import Location, ProductImage, StockLevel, StockMovement, Variant
from omo.commerce.models import Order, OrderLine, Refund
from omo.commerce.selectors import SALE_STATUSES
from omo.core.models import Brand
from omo.customers.models import Customer, CustomerIdentity
from omo.devtools import seed as seeding
from omo.devtools.demo_facts import ean13
from omo.devtools.demo_info import demo_logins
from omo.devtools.seed_plan import TAIPEI
from omo.devtools.seed_story import MERGE_SUGGESTIONS
from omo.loyalty.models import CouponCode, CouponRedemption, LoyaltyAccount, PointsEntry, Tier
from omo.staff.models import Store, User

TODAY = dt.date(2026, 5, 1)
NOW = dt.datetime.combine(TODAY, dt.time(0), TAIPEI)


def _seed(seed: int = 7, **kw):
    return seeding.seed_demo(size="tiny", seed=seed, today=TODAY, progress=False, **kw)


def _fingerprint(brand) -> dict:
    """What must not change between two runs with the same seed and day (ids may)."""
    return {
        "counts": seeding.demo_counts(brand),
        "names": list(
            Customer.objects.filter(brand=brand)
            .order_by("member_number", "name", "phone")  # the story's LINE-only customers have no number
            .values_list("member_number", "name", "phone", "email", "birthday")[:25]
        ),
        "orders": list(
            Order.objects.filter(brand=brand)
            .order_by("source", "external_id")
            .values_list("source", "external_id", "status", "total", "placed_at")[:40]
        ),
        "products": list(
            Variant.objects.filter(brand=brand)
            .order_by("sku")
            .values_list("sku", "barcode", "price", "product__title")[:40]
        ),
        "points": list(
            LoyaltyAccount.objects.filter(brand=brand)
            .order_by("customer__member_number")
            .values_list("customer__member_number", "balance", "tier__name", "rolling_spend")[:40]
        ),
    }


@pytest.mark.django_db
def test_tiny_demo_has_the_promised_shape():
    report = _seed()
    brand = seeding.demo_brand()
    counts = report.counts

    assert brand.name == "森日 Morning Forest" and brand.currency == "TWD"
    assert (
        counts["stores"] == 3 and counts["products"] == 40 and counts["customers"] == 200 + MERGE_SUGGESTIONS
    )
    assert 1_000 <= counts["orders"] <= 1_500
    # Stores: a real-looking address and opening hours for every weekday, each with its location.
    for store in Store.objects.filter(brand=brand):
        assert store.address.startswith(store.city)
        assert set(store.opening_hours) == {"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
        assert re.fullmatch(r"\d\d:\d\d", store.opening_hours["mon"][0][0])
        assert store.location.kind == "store"
    assert Location.objects.get(brand=brand, kind="warehouse").ships_online_orders
    # Demo logins work with the documented password and sit where the login list says.
    first_store = Store.objects.get(brand=brand, code="TPE01")  # the flagship comes first
    roles = {
        u.username: u for u in User.objects.filter(brand=brand, username__in=["admin", "manager", "clerk"])
    }
    assert roles["admin"].role == "hq_admin" and roles["admin"].check_password("omo-demo")
    assert roles["manager"].role == "store_manager" and roles["manager"].store == first_store
    assert roles["clerk"].role == "clerk" and roles["clerk"].store == first_store
    assert roles["clerk"].check_password("omo-demo")
    assert [login["username"] for login in demo_logins()] == ["admin", "manager", "clerk"]
    assert User.objects.filter(brand=brand, role="hq_agent").count() == 2
    # Catalogue: Traditional Chinese titles, English titles, prices in range, EAN-13 check digits.
    variants = list(Variant.objects.filter(brand=brand).select_related("product"))
    for variant in variants:
        assert 29_000 <= variant.price <= 498_000 and variant.price % 100 == 0
        assert variant.compare_at_price is None or variant.compare_at_price > variant.price
        assert ean13(variant.barcode[:12]) == variant.barcode
        assert re.search(r"[\u4e00-\u9fff]", variant.product.title) and variant.product.title_en
    static = Path(seeding.__file__).parent / "static"
    for url in set(ProductImage.objects.filter(brand=brand).values_list("url", flat=True)):
        assert (static / url.removeprefix("/static/")).is_file(), url
    # LINE shows no SVG: every placeholder carries its PNG twin, within LINE's limits.
    for url, line_url in set(ProductImage.objects.filter(brand=brand).values_list("url", "line_url")):
        assert line_url == url.removesuffix(".svg") + ".png", (url, line_url)
        twin = static / line_url.removeprefix("/static/")
        assert twin.stat().st_size <= line_images.MAX_BYTES
        with Image.open(twin) as picture:
            assert picture.format == "PNG" and max(picture.size) <= line_images.MAX_SIDE
    # Customers: E.164 mobile numbers, lower-case e-mails, identities for phone / e-mail / member number.
    # (Members: the few LINE-only customers of the merge suggestions have neither.)
    for phone, email in (
        Customer.objects.filter(brand=brand).exclude(member_number="").values_list("phone", "email")
    ):
        assert re.fullmatch(r"\+8869\d{8}", phone)
        assert email == email.lower()
    kinds = Counter(CustomerIdentity.objects.filter(brand=brand).values_list("kind", flat=True))
    assert kinds["phone"] == kinds["member_number"] == 200 and 0 < kinds["email"] < 200
    # Sales channels: both, with customers who use both.
    channels = Counter(Order.objects.filter(brand=brand).values_list("sales_channel", flat=True))
    assert channels["pos"] > 0 and channels["web_shop"] > 0 and channels["marketplace"] > 0
    both = (
        Order.objects.filter(brand=brand, customer__isnull=False)
        .values("customer")
        .annotate(kinds=Count("sales_channel", distinct=True))
        .filter(kinds__gt=1)
        .count()
    )
    assert both > 10
    statuses = Counter(Order.objects.filter(brand=brand).values_list("status", flat=True))
    assert statuses["paid"] > sum(statuses.values()) / 2
    assert statuses["cancelled"] and statuses["refunded"] and statuses["partially_refunded"]


@pytest.mark.django_db
def test_order_totals_add_up():
    _seed()
    brand = seeding.demo_brand()
    line_sums = dict(
        OrderLine.objects.filter(brand=brand)
        .values("order")
        .annotate(s=Sum("total"))
        .values_list("order", "s")
    )
    refund_sums = dict(
        Refund.objects.filter(brand=brand).values("order").annotate(s=Sum("amount")).values_list("order", "s")
    )
    orders = Order.objects.filter(brand=brand)
    assert orders.count() == len(line_sums)  # no order without lines
    for order in orders:
        assert order.subtotal == line_sums[order.pk]
        assert order.total == line_sums[order.pk] - order.discount_total + order.shipping_total
        assert order.discount_total == sum(d["amount"] for d in order.discounts)
        assert 0 <= order.refunded_total <= order.total
        assert order.refunded_total == refund_sums.get(order.pk, 0)
        assert (order.status == "refunded") == (
            order.refunded_total == order.total > 0 and order.pk in refund_sums
        )
        assert order.placed_at < NOW and order.placed_at >= NOW - dt.timedelta(days=365)
        if order.status in ("paid", "fulfilled"):
            assert order.paid_at is not None and order.paid_at >= order.placed_at
    for line in OrderLine.objects.filter(brand=brand):
        assert line.total == line.quantity * line.unit_price - line.discount
        assert 0 <= line.refunded_quantity <= line.quantity


@pytest.mark.django_db
def test_the_dashboard_rollup_is_built_and_matches_the_orders():
    from omo.analytics import rollups, selectors

    _seed()
    brand = seeding.demo_brand()
    period = selectors.last_days(brand, 30, now=NOW)
    figures = rollups.figures(brand, period)
    assert figures.from_rollup
    assert figures.summary == selectors.sales_summary(brand, period)
    assert figures.summary.orders > 0
    assert figures.daily == selectors.daily_sales_by_channel(brand, period)
    assert figures.products == selectors.top_products(brand, period)


@pytest.mark.django_db
def test_the_demo_ends_with_scores_and_ready_made_segments():
    from omo.segments.models import CustomerScore, ScoreRun, Segment

    _seed()
    brand = seeding.demo_brand()
    run = ScoreRun.objects.get(brand=brand)
    assert run.computed_at == NOW  # seeded for a day in the past: scored as of that day's start
    assert (
        run.counts["buyers"] > 0
        and run.counts["customers"]
        == Customer.objects.filter(brand=brand, merged_into__isnull=True, erased_at__isnull=True).count()
    )
    assert CustomerScore.objects.filter(brand=brand).count() == run.counts["customers"]
    assert Segment.objects.filter(brand=brand, kind="ready_made").count() == 19
    assert (
        sum(run.counts[f"value_group.{group}"] for group in ("loyal", "general", "potential"))
        == run.counts["customers"]
    )


@pytest.mark.django_db
def test_pos_orders_name_a_clerk_of_their_store():
    _seed()
    brand = seeding.demo_brand()
    for order in Order.objects.filter(brand=brand, sales_channel="pos").select_related("staff"):
        assert order.store_id and order.staff.store_id == order.store_id
        assert order.staff.role in ("clerk", "store_manager")
        assert order.staff_code == order.staff.employee_code


@pytest.mark.django_db
def test_loyalty_balances_equal_the_ledger_and_tiers_match_spend():
    _seed()
    brand = seeding.demo_brand()
    from omo.commerce.selectors import net_spend_since

    ledger = defaultdict(
        int,
        PointsEntry.objects.filter(brand=brand)
        .values("customer")
        .annotate(s=Sum("delta"))
        .values_list("customer", "s"),
    )
    earned = defaultdict(
        int,
        PointsEntry.objects.filter(brand=brand, kind="earn")
        .values("customer")
        .annotate(s=Sum("delta"))
        .values_list("customer", "s"),
    )
    tiers = list(Tier.objects.filter(brand=brand).order_by("threshold"))
    assert [t.name for t in tiers] == ["一般會員", "銀卡", "金卡", "VIP"]
    assert [t.threshold for t in tiers] == [0, 1_000_000, 3_000_000, 8_000_000]
    accounts = list(LoyaltyAccount.objects.filter(brand=brand).select_related("customer", "tier"))
    assert len(accounts) == 200
    for account in accounts:
        assert account.balance == ledger[account.customer_id] >= 0
        assert account.lifetime_earned == earned[account.customer_id]
        spend = net_spend_since(account.customer, NOW - dt.timedelta(days=365))
        assert account.rolling_spend == spend
        assert account.tier == [t for t in tiers if t.threshold <= spend][-1]
    assert {t.name for t in (a.tier for a in accounts)} >= {"一般會員", "銀卡"}
    # Every paid order of a customer earned once; redemptions match what orders say they redeemed.
    paid = Order.objects.filter(brand=brand, customer__isnull=False, status__in=SALE_STATUSES)
    earn_orders = set(PointsEntry.objects.filter(brand=brand, kind="earn").values_list("order_id", flat=True))
    assert all(o.pk in earn_orders for o in paid if o.total - o.shipping_total >= 10_000)
    redeemed = dict(PointsEntry.objects.filter(brand=brand, kind="redeem").values_list("order_id", "delta"))
    for order in Order.objects.filter(brand=brand, points_redeemed__gt=0):
        assert redeemed[order.pk] == -order.points_redeemed
    kinds = set(PointsEntry.objects.filter(brand=brand).values_list("kind", flat=True))
    assert {"earn", "redeem", "reverse", "adjust"} <= kinds
    assert PointsEntry.objects.filter(brand=brand, kind="earn", expires_at__isnull=True).count() == 0


@pytest.mark.django_db
def test_coupons_and_stock_are_consistent():
    _seed()
    brand = seeding.demo_brand()
    used = Counter(CouponRedemption.objects.filter(brand=brand).values_list("code_id", flat=True))
    for code in CouponCode.objects.filter(brand=brand):
        assert code.times_used == used[code.pk]
        assert code.max_uses is None or code.times_used <= code.max_uses
        if code.customer_id:
            assert code.max_uses == 1
    assert CouponCode.objects.get(brand=brand, code="WELCOME100").max_uses is not None
    assert CouponCode.objects.filter(brand=brand, customer__isnull=False).exists()
    for redemption in CouponRedemption.objects.filter(brand=brand).select_related("order", "code"):
        assert redemption.order.coupon_code == redemption.code.code
        assert redemption.order.status != "cancelled"
    assert not StockLevel.objects.filter(brand=brand, on_hand__lt=0).exists()
    assert not StockLevel.objects.filter(brand=brand, reserved__lt=0).exists()
    assert StockLevel.objects.filter(brand=brand, on_hand=0).exists()  # some items are sold out
    on_hand = StockLevel.objects.filter(brand=brand).aggregate(s=Sum("on_hand"))["s"]
    assert on_hand == StockMovement.objects.filter(brand=brand).aggregate(s=Sum("on_hand_delta"))["s"]


@pytest.mark.django_db
def test_same_seed_and_day_give_the_same_data():
    _seed(seed=11)
    first = _fingerprint(seeding.demo_brand())
    _seed(seed=11, reset=True)
    second = _fingerprint(seeding.demo_brand())
    assert first == second
    _seed(seed=12, reset=True)
    assert _fingerprint(seeding.demo_brand())["names"] != first["names"]


@pytest.mark.django_db
def test_rows_created_after_seeding_get_fresh_ids():
    """The reserved id blocks moved the sequences: the ORM does not collide with seeded rows."""
    _seed()
    brand = seeding.demo_brand()
    customer = Customer.objects.create(brand=brand, name="新顧客", phone="+886900000001")
    assert customer.pk > Customer.objects.exclude(pk=customer.pk).order_by("-pk").first().pk
    entry = PointsEntry.objects.create(brand=brand, customer=customer, delta=5, kind="adjust", created_at=NOW)
    assert entry.pk > PointsEntry.objects.exclude(pk=entry.pk).order_by("-pk").first().pk


@pytest.mark.django_db
def test_refuses_when_the_demo_brand_exists_unless_reset(capsys):
    call_command("seed", "--demo", "--size", "tiny", "--today", "2026-05-01", "--no-progress")
    out = capsys.readouterr().out
    assert "admin / omo-demo" in out and "SEED-SUMMARY" in out
    with pytest.raises(CommandError, match="exists already.*--reset"):
        call_command("seed", "--demo", "--size", "tiny", "--no-progress")
    call_command("seed", "--demo", "--size", "tiny", "--today", "2026-05-01", "--reset", "--no-progress")
    assert Brand.objects.filter(slug="demo").count() == 1


@pytest.mark.django_db
def test_command_needs_the_demo_flag_and_a_valid_day():
    with pytest.raises(CommandError, match="--demo"):
        call_command("seed")
    with pytest.raises(CommandError, match="2026-05-01"):
        call_command("seed", "--demo", "--today", "yesterday")


@pytest.mark.django_db
def test_command_on_an_unmigrated_database_says_to_migrate(monkeypatch):
    from django.db.migrations.executor import MigrationExecutor

    monkeypatch.setattr(MigrationExecutor, "migration_plan", lambda self, targets: [("customers", False)])
    with pytest.raises(CommandError, match="run `omo migrate` first"):
        call_command("seed", "--demo", "--size", "tiny", "--no-progress")
    assert not Brand.objects.filter(slug="demo").exists()


@pytest.mark.django_db
def test_demo_logins_are_empty_without_the_demo_brand(brand, hq_admin):
    assert demo_logins() == []


@pytest.mark.django_db
def test_reset_keeps_other_brands_and_their_rows(brand, store):
    from omo.testing import factories as f

    customer = f.make_customer(brand, name="別人的顧客", phone="+886911111111")
    _seed()
    _seed(reset=True)
    assert Customer.objects.filter(pk=customer.pk).exists()
    assert Store.objects.filter(pk=store.pk).exists()
    assert User.objects.filter(username="admin", brand__slug="demo").exists()


@pytest.mark.django_db(transaction=True)
def test_the_command_outside_a_transaction_writes_from_its_writer_thread_or_workers():
    """What `omo seed --demo` really does: chunks written on other connections (worker processes
    on PostgreSQL, a writer thread on SQLite)."""
    call_command("seed", "--demo", "--size", "tiny", "--today", "2026-05-01", "--no-progress")
    brand = seeding.demo_brand()
    assert Customer.objects.filter(brand=brand).exclude(member_number="").count() == 200
    accounts = LoyaltyAccount.objects.filter(brand=brand).aggregate(s=Sum("balance"))["s"]
    assert accounts == PointsEntry.objects.filter(brand=brand).aggregate(s=Sum("delta"))["s"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.postgres
def test_bulk_load_path_rebuilds_every_index_and_keeps_references_whole():
    def index_names() -> set[str]:
        with connection.cursor() as cursor:
            cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
            return {row[0] for row in cursor.fetchall()}

    before = index_names()
    seeder = seeding.DemoSeeder(seeding.SIZES["tiny"], 7, TODAY, progress=False, fast=True)
    seeder.run()
    assert index_names() == before
    brand = seeding.demo_brand()
    # The triggers were off during the load: check the references by hand.
    assert not OrderLine.objects.filter(brand=brand, order__isnull=True).exists()
    with connection.cursor() as cursor:
        for child, column, parent in (
            ("commerce_orderline", "order_id", "commerce_order"),
            ("commerce_order", "customer_id", "customers_customer"),
            ("loyalty_pointsentry", "customer_id", "customers_customer"),
            ("loyalty_pointsentry", "order_id", "commerce_order"),
            ("customers_customeridentity", "customer_id", "customers_customer"),
            ("loyalty_loyaltyaccount", "customer_id", "customers_customer"),
        ):
            cursor.execute(
                f"SELECT count(*) FROM {child} c LEFT JOIN {parent} p ON p.id = c.{column} "
                f"WHERE c.{column} IS NOT NULL AND p.id IS NULL"
            )
            assert cursor.fetchone()[0] == 0, (child, column)
    assert seeding.demo_counts(brand)["customers"] == 200 + MERGE_SUGGESTIONS
