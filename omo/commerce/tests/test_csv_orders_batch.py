"""The orders CSV import, chunk by chunk: the same orders, lines, customers, identifiers, points,
stock, rollups, attributions and row errors as importing the rows order by order; re-imports
change nothing; a bad row is reported and skipped, never half-written."""

from __future__ import annotations

import datetime as dt
import io

import pytest
import time_machine
from django.core.management import call_command
from django.db import IntegrityError

from omo.analytics.models import CustomerActivity, ProductSalesDay, SalesDay
from omo.attribution.models import Attribution
from omo.catalog.models import Location, Product, StockLevel, StockMovement, Variant
from omo.commerce.importers import CSV_COLUMNS, OrdersImporter
from omo.commerce.models import Order, OrderLine
from omo.commerce.tests.test_batch_ingest import _brand_view, _setup_brand
from omo.core import imports
from omo.core.audit import Actor
from omo.core.models import ImportJob
from omo.customers.models import Customer, CustomerMerge
from omo.staff.models import Store
from omo.testing import factories as f

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.UTC)


def _row(external_id: str, **values: str) -> str:
    base = {
        "source": "pos-erp",
        "external_id": external_id,
        "sales_channel": "pos",
        "store_code": "TPE01",
        "placed_at": "2026-11-20 15:30",
        "sku": "TEE-M",
        "quantity": "1",
        "unit_price": "590",
    }
    base.update(values)
    cells = [base.get(column, "") for column in CSV_COLUMNS]
    return ",".join(f'"{cell}"' if "," in cell else cell for cell in cells) + "\n"


HEADER = ",".join(CSV_COLUMNS) + "\n"

# Good orders of every kind, bad rows of every kind, and orders whose rows are apart.
ROWS = [
    _row("A-1", name="R0001", staff_code="E001", customer_phone="0911-000-111", quantity="2"),  # 2
    _row(
        "A-2",
        sales_channel="web_shop",
        store_code="",
        member_number="M1",
        customer_phone="0922000001",
        status="placed",
        shipping_total="60",
    ),  # 3: known by member number, gains a phone
    _row("A-3", customer_phone="0933000001", customer_name="新客甲", status="fulfilled"),  # 4: new
    _row("B-1", customer_phone="0933000009"),  # 5: good line of a bad order
    _row(
        "A-1", name="R0001", staff_code="E001", customer_phone="0911-000-111", sku="BAG", unit_price="450"
    ),  # 6
    _row(
        "A-4", sales_channel="marketplace", customer_phone="0933 000 001", customer_name="別的名字"
    ),  # 7: same new
    _row("B-1", quantity="0"),  # 8: bad quantity
    _row(
        "A-5",
        customer_phone="0933000002",
        customer_email="B@Example.com",
        customer_name="新客乙",
        shipping_total="1,200",
        line_discount="90",
    ),  # 9: new with phone and email
    _row("B-2", store_code="NOPE", sku="GHOST"),  # 10: unknown store and sku
    _row(
        "A-6",
        sales_channel="external_web",
        store_code="",
        customer_email="mail@example.com",
        sku="NOT-OURS",
        title="寄賣商品",
        unit_price="NT$120",
    ),  # 11: known by email, unknown sku with title
    _row("B-3", placed_at="2026-11-20 25:99"),  # 12
    _row("A-7", customer_phone="null", customer_email="undefined", status="cancelled"),  # 13: junk contact
    _row("B-4", customer_phone="12ab"),  # 14: bad phone
    _row("A-8", placed_at="2026-11-21T09:00:00+08:00", staff_code="E999"),  # 15: no customer, unknown clerk
    _row("B-5", customer_email="not-an-email"),  # 16
    _row(
        "A-9", customer_phone="0955000001", customer_email="yi@example.com", customer_name="甲乙"
    ),  # 17: merges
    _row("B-6", sku="TEE-L"),  # 18
    _row("B-6", sales_channel="web_shop", sku="BAG"),  # 19: contradicts row 18
    _row("A-10", customer_name="無名氏", sku="TEE-L"),  # 20: a name and no identifier
    _row("B-7", unit_price="abc"),  # 21
    _row("B-8").rstrip("\n") + ",extra\n",  # 22: more values than columns
    _row("B-9", line_discount="600"),  # 23: discount over the line
    _row("B-10", store_code=""),  # 24: POS without a store
    _row("B-11", status="shipped"),  # 25
    _row("", customer_phone="0933000010"),  # 26: no external id
    _row("B-12", unit_price="590.123"),  # 27
    _row("B-13", quantity="1.5"),  # 28
    _row("B-14", member_number="M" * 41),  # 29
    "\n",  # 30: blank, skipped
    _row("A-11", customer_phone="0933000003", status="placed"),  # 31: new, no name
    _row("A-12", customer_phone="0933000003", customer_name="晚到的名字"),  # 32: the same person, named
    _row(
        "A-13", sales_channel="other", store_code="", customer_phone="0911000111", sku="TEE-L", quantity="3"
    ),  # 33: the known customer again
    _row("B-1", customer_phone="0933000009"),  # 34: another line of the bad order
    _row("A-14", source="shop-2", customer_phone="0933000011", customer_email="mail@example.com"),  # 35
    _row("A-15", customer_phone="0933000004", customer_name="丙"),  # 36: new
    _row(
        "A-16", customer_phone="0933000004", customer_email="c@example.com", customer_name="丙"
    ),  # 37: gains an email
    _row("A-17", customer_phone="0911000111", customer_email="lao@example.com"),  # 38: known, gains an email
    _row("A-18", customer_phone="0933000005", customer_name="丁"),  # 39: new
    _row("A-19", customer_email="d@example.com", customer_name="戊"),  # 40: new
    _row("A-20", customer_phone="0933000005", customer_email="d@example.com"),  # 41: merges the two
]
CSV = HEADER + "".join(ROWS)

ERRORS = [
    {"row": 5, "field": "", "error": "not imported: row 8 of the same order has an error"},
    {"row": 8, "field": "quantity", "error": "Input should be greater than 0"},
    {"row": 34, "field": "", "error": "not imported: row 8 of the same order has an error"},
    {"row": 10, "field": "store_code", "error": "no store with code 'NOPE'"},
    {"row": 10, "field": "sku", "error": "unknown sku 'GHOST' and no title given"},
    {
        "row": 12,
        "field": "placed_at",
        "error": "not a date and time (e.g. 2026-11-23 14:05 or ISO 8601): '2026-11-20 25:99'",
    },
    {"row": 14, "field": "customer_phone", "error": "not a phone number: '12ab'"},
    {"row": 16, "field": "customer_email", "error": "not an email address: 'not-an-email'"},
    {"row": 18, "field": "", "error": "not imported: row 19 of the same order has an error"},
    {"row": 19, "field": "sales_channel", "error": "differs from row 18 of the same order"},
    {"row": 21, "field": "unit_price", "error": "not an amount: 'abc'"},
    {"row": 22, "field": "", "error": "the row has more values than the header has columns"},
    {"row": 23, "field": "", "error": "discount is larger than the line amount"},
    {"row": 24, "field": "store_code", "error": "store_code is required for POS orders"},
    {"row": 25, "field": "status", "error": "Input should be 'placed', 'paid', 'fulfilled' or 'cancelled'"},
    {"row": 26, "field": "external_id", "error": "is required"},
    {"row": 27, "field": "unit_price", "error": "'590.123' has more decimals than TWD allows"},
    {
        "row": 28,
        "field": "quantity",
        "error": "Input should be a valid integer, unable to parse string as an integer",
    },
    {"row": 29, "field": "member_number", "error": "String should have at most 40 characters"},
]
ROWS_IN_FILE = 39  # 40 lines after the header, one of them blank
GOOD_ROWS = 21  # rows of the 20 good orders
BAD_ROWS = 18


def _setup(brand) -> None:
    _setup_brand(brand)
    shelf = Location.objects.get(brand=brand, code="TPE01")
    for sku, on_hand in (("TEE-M", 1), ("BAG", 1)):  # fewer than the file sells: some lines run short
        f.set_stock(Variant.objects.get(brand=brand, sku=sku), shelf, on_hand)
    f.make_customer(brand, "甲", phone="0955000001")
    f.make_customer(brand, "乙", phone="", email="yi@example.com")


def _import(brand, text: str, mode: str = "valid_rows", chunk_rows: int = 6) -> ImportJob:
    job = imports.create_job(
        brand,
        kind="orders",
        mode=mode,
        filename="orders.csv",
        raw=text.encode(),
        actor=Actor.system(brand),
        enqueue=False,
    )
    return imports.run_job(job.pk, chunk_rows=chunk_rows)


def _state(brand) -> dict:
    """Everything an import leaves behind, without ids that differ between brands."""
    view = _brand_view(brand)
    orders = {order.pk: order.external_id for order in Order.objects.filter(brand=brand)}
    stores = dict(Store.objects.filter(brand=brand).values_list("pk", "code"))
    products = {pk: title for pk, title in Product.objects.filter(brand=brand).values_list("pk", "title")}
    customers = {
        pk: (phone, email)
        for pk, phone, email in Customer.objects.filter(brand=brand).values_list("pk", "phone", "email")
    }
    view["stock"] = sorted(
        StockLevel.objects.filter(brand=brand).values_list(
            "variant__sku", "location__code", "on_hand", "reserved"
        )
    )
    view["movements"] = sorted(
        (sku, code, on_hand, reserved, reason, orders.get(int(reference.removeprefix("order:")), reference))
        for sku, code, on_hand, reserved, reason, reference in StockMovement.objects.filter(
            brand=brand
        ).values_list(
            "variant__sku", "location__code", "on_hand_delta", "reserved_delta", "reason", "reference"
        )
    )
    view["merges"] = sorted(
        (customers[survivor], customers[merged], kind, value)
        for survivor, merged, kind, value in CustomerMerge.objects.filter(brand=brand).values_list(
            "survivor_id", "merged_id", "trigger_kind", "trigger_value"
        )
    )
    view["sales_days"] = sorted(
        (day, stores.get(store_id, store_id), channel, n, net)
        for day, store_id, channel, n, net in SalesDay.objects.filter(brand=brand).values_list(
            "day", "store_id", "sales_channel", "orders", "net"
        )
    )
    view["product_days"] = sorted(
        (day, stores.get(store_id, store_id), products.get(product_id, product_id), revenue, units, lines)
        for day, store_id, product_id, revenue, units, lines in ProductSalesDay.objects.filter(
            brand=brand
        ).values_list("day", "store_id", "product_id", "revenue", "units", "lines")
    )
    view["activity"] = sorted(
        (customers[customer_id], stores.get(scope, scope), last, online, in_store)
        for customer_id, scope, last, online, in_store in CustomerActivity.objects.filter(
            brand=brand
        ).values_list("customer_id", "scope", "last_order_day", "last_online_day", "last_in_store_day")
    )
    view["attributions"] = sorted(
        (external_id, rule, clerk or "", code or "")
        for external_id, rule, clerk, code in Attribution.objects.filter(brand=brand).values_list(
            "order__external_id", "rule", "clerk__employee_code", "store__code"
        )
    )
    return view


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


def test_good_rows_are_imported_and_bad_rows_reported_by_row_and_column(brand, clock):
    _setup(brand)
    job = _import(brand, CSV)

    assert (job.status, job.total_rows, job.applied_rows, job.error_rows) == (
        "done",
        ROWS_IN_FILE,
        GOOD_ROWS,
        BAD_ROWS,
    )
    assert job.errors == ERRORS
    assert sorted(Order.objects.filter(brand=brand).values_list("external_id", flat=True)) == sorted(
        f"A-{n}" for n in range(1, 21)
    )
    assert OrderLine.objects.filter(brand=brand).count() == GOOD_ROWS
    # the known customers were matched, the new ones made once
    a1 = Order.objects.get(brand=brand, external_id="A-1")
    assert a1.customer is not None and a1.customer.name == "老顧客"
    assert (
        Order.objects.get(brand=brand, external_id="A-4").customer_id
        == Order.objects.get(brand=brand, external_id="A-3").customer_id
    )
    assert Customer.objects.filter(brand=brand, phone="+886933000001").count() == 1
    assert Order.objects.get(brand=brand, external_id="A-10").customer is None
    assert not Customer.objects.filter(brand=brand, phone="+886933000009").exists()  # the bad order's
    # the POS sales took what the store had: A-1 one of its two tees (one short) and the bag
    assert sorted(StockLevel.objects.filter(brand=brand).values_list("variant__sku", "on_hand")) == [
        ("BAG", 0),
        ("TEE-M", 0),
    ]
    sales = StockMovement.objects.filter(brand=brand, reason="sale", reference=f"order:{a1.pk}")
    assert sorted(sales.values_list("variant__sku", "on_hand_delta", "note")) == [
        ("BAG", -1, ""),
        ("TEE-M", -1, "1 件未在庫存記錄中 / 1 not on record"),
    ]


def test_reimport_changes_nothing_and_reports_the_same_errors(brand, clock):
    _setup(brand)
    first = _import(brand, CSV)
    before = _state(brand)

    again = _import(brand, CSV)

    assert (again.status, again.applied_rows, again.error_rows) == ("done", GOOD_ROWS, BAD_ROWS)
    assert again.errors == first.errors
    assert _state(brand) == before


def test_a_reimported_order_with_another_body_is_refused_by_row(brand, clock):
    _setup(brand)
    _import(brand, CSV)
    changed = (
        HEADER
        + _row("A-3", customer_phone="0933000001", customer_name="新客甲", status="fulfilled", quantity="5")
        + _row("A-99")
    )

    job = _import(brand, changed)

    assert (job.applied_rows, job.error_rows) == (1, 1)
    assert job.errors == [
        {
            "row": 2,
            "field": "lines",
            "error": "order 'A-3' of 'pos-erp' was recorded with another body; these fields differ: lines",
        }
    ]
    assert Order.objects.get(brand=brand, external_id="A-3").lines.get().quantity == 1
    assert Order.objects.filter(brand=brand, external_id="A-99").exists()


@pytest.mark.parametrize("chunk_rows", [1, 6, 200])
def test_chunks_import_what_one_order_at_a_time_imports(
    brand, other_brand, clock, chunk_rows, monkeypatch, django_capture_on_commit_callbacks
):
    _setup(brand)
    _setup(other_brand)
    with monkeypatch.context() as patch, django_capture_on_commit_callbacks(execute=True):
        patch.setattr(OrdersImporter, "batched", False)  # each order alone, through record_order
        one_by_one = _import(brand, CSV)
        one_by_one_again = _import(brand, CSV)
    with django_capture_on_commit_callbacks(execute=True):
        chunked = _import(other_brand, CSV, chunk_rows=chunk_rows)
        chunked_again = _import(other_brand, CSV, chunk_rows=chunk_rows)

    assert chunked.errors == one_by_one.errors == ERRORS
    assert chunked_again.errors == one_by_one_again.errors == ERRORS
    assert (chunked.applied_rows, chunked.error_rows) == (one_by_one.applied_rows, one_by_one.error_rows)
    expected, got = _state(brand), _state(other_brand)
    for key in expected:
        assert got[key] == expected[key], key


def test_all_or_nothing_imports_nothing_when_a_row_is_bad(brand, clock):
    _setup(brand)
    job = _import(brand, CSV, mode="all_or_nothing")
    assert (job.status, job.applied_rows, job.error_rows) == ("rejected", 0, BAD_ROWS)
    assert job.errors == ERRORS
    assert not Order.objects.filter(brand=brand).exists()
    assert Customer.objects.filter(brand=brand).count() == 4


def test_all_or_nothing_imports_every_good_order(brand, other_brand, clock):
    _setup(brand)
    _setup(other_brand)
    good = HEADER + "".join(row for row in ROWS if row.split(",")[1:2] and row.split(",")[1].startswith("A-"))
    all_or_nothing = _import(brand, good, mode="all_or_nothing")
    valid_rows = _import(other_brand, good, chunk_rows=1)
    assert (all_or_nothing.status, all_or_nothing.applied_rows) == ("done", GOOD_ROWS)
    assert (valid_rows.status, valid_rows.applied_rows) == ("done", GOOD_ROWS)
    assert _state(brand) == _state(other_brand)


def test_the_command_shows_progress_and_the_row_report(brand, clock, tmp_path):
    _setup(brand)
    path = tmp_path / "orders.csv"
    path.write_text(CSV)
    out, err = io.StringIO(), io.StringIO()

    call_command("import_csv", "orders", str(path), brand=brand.slug, stdout=out, stderr=err)

    assert f"done. rows {ROWS_IN_FILE}, imported {GOOD_ROWS}, with errors {BAD_ROWS}" in out.getvalue()
    assert "row 8 [quantity]: Input should be greater than 0" in out.getvalue()
    assert f"{ROWS_IN_FILE}/{ROWS_IN_FILE}" in err.getvalue()


def test_a_chunk_that_cannot_be_written_as_a_whole_is_imported_order_by_order(
    brand, other_brand, clock, monkeypatch, caplog
):
    _setup(brand)
    _setup(other_brand)
    with monkeypatch.context() as patch:
        patch.setattr(OrdersImporter, "batched", False)
        one_by_one = _import(brand, CSV)

    def clash(self, parsed, ctx):  # as when another writer stored one of the chunk's keys first
        raise IntegrityError("duplicate key value violates unique constraint")

    monkeypatch.setattr(OrdersImporter, "apply_many", clash)
    with caplog.at_level("INFO", logger="omo.core.imports"):
        fallen_back = _import(other_brand, CSV, chunk_rows=200)

    assert "failed as a whole; applying it unit by unit" in caplog.text
    assert fallen_back.errors == one_by_one.errors == ERRORS
    expected, got = _state(brand), _state(other_brand)
    for key in expected:
        assert got[key] == expected[key], key
