"""CSV imports: encodings, header checks, both modes, row numbers, orders grouped by id, API and CLI."""

from __future__ import annotations

import datetime as dt
import io
import zoneinfo

import pytest
from django.core.management import CommandError, call_command
from django_tasks_db.models import DBTaskResult

from omo.catalog.models import Category, Product, StockLevel, StockMovement, Variant
from omo.commerce.models import Order, OrderLine
from omo.core import imports
from omo.core.audit import Actor
from omo.core.models import ImportJob
from omo.core.tasks import run_import
from omo.customers.models import Customer
from omo.testing import factories as f


def run(brand, kind: str, text: str | bytes, mode: str = "valid_rows", **kw) -> ImportJob:
    raw = text.encode() if isinstance(text, str) else text
    job = imports.create_job(
        brand, kind=kind, mode=mode, filename=f"{kind}.csv", raw=raw, actor=Actor.system(brand), enqueue=False
    )
    return imports.run_job(job.pk, **kw)


@pytest.fixture
def tee(brand):
    product = f.make_product(brand, "短T", variants=[("TEE-M", "M", 59000), ("TEE-L", "L", 59000)])
    return {variant.sku: variant for variant in product.variants.all()}


# --- products ---------------------------------------------------------------------------------

PRODUCTS = (
    "handle,title,title_en,category,description,sku,barcode,variant_title,price,compare_at_price,image_url\n"
    "linen-shirt,亞麻襯衫,Linen shirt,上衣,透氣,LIN-S,4710000000011,S,1280,1580,https://img.example/l.jpg\n"
    'linen-shirt,亞麻襯衫,Linen shirt,上衣,透氣,LIN-M,4710000000012,M,"1,280",,\n'
    "tote,帆布袋,,配件,,TOTE-1,,,390.5,,\n"
)


def test_products_one_row_per_variant_with_prices_in_minor_units(brand):
    job = run(brand, "products", PRODUCTS)

    assert (job.status, job.total_rows, job.applied_rows, job.error_rows, job.errors) == ("done", 3, 3, 0, [])
    shirt = Product.objects.get(brand=brand, handle="linen-shirt")
    assert (shirt.title, shirt.title_en, shirt.category.name, shirt.description) == (
        "亞麻襯衫",
        "Linen shirt",
        "上衣",
        "透氣",
    )
    assert [(v.sku, v.title, v.price, v.compare_at_price, v.barcode) for v in shirt.variants.all()] == [
        ("LIN-S", "S", 128000, 158000, "4710000000011"),
        ("LIN-M", "M", 128000, None, "4710000000012"),
    ]
    assert [image.url for image in shirt.images.all()] == ["https://img.example/l.jpg"]
    assert Variant.objects.get(sku="TOTE-1").price == 39050
    assert Category.objects.filter(brand=brand).count() == 2


def test_products_reimport_updates_instead_of_duplicating(brand):
    run(brand, "products", PRODUCTS)
    job = run(brand, "products", "handle,title,sku,price\nlinen-shirt,亞麻襯衫 新版,LIN-S,1380\n")
    assert job.status == "done" and job.applied_rows == 1
    assert Product.objects.filter(brand=brand, handle="linen-shirt").count() == 1
    assert Variant.objects.get(sku="LIN-S").price == 138000
    assert Product.objects.get(handle="linen-shirt").title == "亞麻襯衫 新版"


def test_products_row_errors_name_row_and_column(brand):
    text = (
        "handle,title,sku,price,image_url\n"
        "ok-1,好,OK-1,100,\n"
        "bad handle,壞,BAD-1,abc,ftp://x\n"
        "ok-2,好,OK-2,100.123,\n"
    )
    job = run(brand, "products", text)
    assert (job.status, job.applied_rows, job.error_rows) == ("done", 1, 2)
    assert job.errors == [
        {"row": 3, "field": "handle", "error": "use letters, digits, - or _ only (e.g. organic-tee)"},
        {"row": 3, "field": "price", "error": "not an amount: 'abc'"},
        {"row": 3, "field": "image_url", "error": "not an http(s) URL: 'ftp://x'"},
        {"row": 4, "field": "price", "error": "'100.123' has more decimals than TWD allows"},
    ]
    assert list(Variant.objects.filter(brand=brand).values_list("sku", flat=True)) == ["OK-1"]


# --- stock: modes, row numbers, nothing half-written -------------------------------------------

STOCK_WITH_ERRORS = "sku,location_code,on_hand\nTEE-M,TPE01,10\nNOPE,TPE01,3\n\nTEE-L,TPE01,-2\nTEE-L,WH,7\n"


def test_valid_rows_applies_the_good_rows_and_reports_the_rest(brand, store, warehouse, tee):
    job = run(brand, "stock", STOCK_WITH_ERRORS)

    assert (job.status, job.total_rows, job.processed_rows, job.applied_rows, job.error_rows) == (
        "done",
        4,
        4,
        2,
        2,
    )
    assert job.errors == [
        {"row": 3, "field": "sku", "error": "no variant with sku 'NOPE'"},
        {"row": 5, "field": "on_hand", "error": "must be at least 0"},  # row 4 is blank and skipped
    ]
    levels = {
        (lv.variant.sku, lv.location.code): lv.on_hand
        for lv in StockLevel.objects.select_related("variant", "location")
    }
    assert levels == {("TEE-M", "TPE01"): 10, ("TEE-L", "WH"): 7}
    assert set(StockMovement.objects.values_list("reason", flat=True)) == {"import"}


def test_all_or_nothing_applies_nothing_when_a_row_is_bad(brand, store, warehouse, tee):
    job = run(brand, "stock", STOCK_WITH_ERRORS, mode="all_or_nothing")

    assert (job.status, job.processed_rows, job.applied_rows, job.error_rows) == ("rejected", 4, 0, 2)
    assert [error["row"] for error in job.errors] == [3, 5]
    assert not StockLevel.objects.exists() and not StockMovement.objects.exists()


def test_all_or_nothing_applies_everything_when_all_rows_are_good(brand, store, warehouse, tee):
    job = run(brand, "stock", "sku,location_code,on_hand\nTEE-M,TPE01,4\nTEE-L,WH,5\n", mode="all_or_nothing")
    assert (job.status, job.applied_rows, job.error_rows) == ("done", 2, 0)
    assert StockLevel.objects.count() == 2


def test_all_or_nothing_rolls_back_when_applying_a_later_row_fails(brand, store, warehouse, tee):
    # Row 3 passes the checks but cannot be applied: 3 units are reserved and the count says 1.
    level = f.set_stock(tee["TEE-L"], warehouse, 5)
    StockLevel.objects.filter(pk=level.pk).update(reserved=3)

    job = run(brand, "stock", "sku,location_code,on_hand\nTEE-M,TPE01,4\nTEE-L,WH,1\n", mode="all_or_nothing")

    assert (job.status, job.applied_rows, job.error_rows) == ("rejected", 0, 1)
    assert job.errors[0]["row"] == 3 and job.errors[0]["field"] == "on_hand"
    assert "reserved" in job.errors[0]["error"]
    assert not StockLevel.objects.filter(variant=tee["TEE-M"]).exists()  # row 2 was rolled back
    assert not StockMovement.objects.exists()


def test_progress_is_reported_chunk_by_chunk(brand, store, tee):
    text = "sku,location_code,on_hand\n" + "".join(f"TEE-M,TPE01,{n}\n" for n in range(5))
    seen: list[tuple[int, int]] = []
    job = run(
        brand, "stock", text, progress=lambda j: seen.append((j.processed_rows, j.total_rows)), chunk_rows=2
    )
    assert job.status == "done"
    assert seen == [(2, 5), (4, 5), (5, 5), (5, 5)]


# --- the file as a whole ------------------------------------------------------------------------


def test_missing_columns_reject_the_whole_job_naming_them(brand, tee):
    job = run(brand, "stock", "sku,qty\nTEE-M,3\n")
    assert job.status == "rejected"
    assert job.errors == [
        {"row": 1, "field": "header", "error": "missing required columns: location_code, on_hand"}
    ]
    assert job.applied_rows == 0


CUSTOMERS = (
    "name,phone,email,birthday,member_number,home_store_code,tags,notes\n"
    "王小明,0912-345-678,ming@example.com,1990-05-01,M0001,TPE01,VIP;棉麻控,喜歡素色\n"
    "林美華,0922333444,,1988/12/31,,,,\n"
)


def test_big5_file_is_decoded(brand, store):
    job = run(brand, "customers", CUSTOMERS.encode("cp950"))
    assert (job.status, job.applied_rows) == ("done", 2)
    ming = Customer.objects.get(brand=brand, member_number="M0001")
    assert (ming.name, ming.phone, ming.email, str(ming.birthday)) == (
        "王小明",
        "+886912345678",
        "ming@example.com",
        "1990-05-01",
    )
    assert (ming.home_store, ming.tags, ming.notes) == (store, ["VIP", "棉麻控"], "喜歡素色")
    assert str(Customer.objects.get(name="林美華").birthday) == "1988-12-31"


def test_utf8_file_with_bom_is_decoded(brand, store):
    job = run(brand, "customers", b"\xef\xbb\xbf" + CUSTOMERS.encode())
    assert (job.status, job.applied_rows) == ("done", 2)
    assert Customer.objects.filter(brand=brand, name="王小明").exists()


def test_an_undecodable_file_is_refused_clearly(brand):
    with pytest.raises(imports.ImportFileError) as err:
        run(brand, "customers", b"name,phone\n\xff\xfe\xfa,1\n")
    assert "neither UTF-8 nor Big5" in err.value.message
    assert not ImportJob.objects.exists()


def test_an_excel_workbook_is_refused_clearly(brand):
    with pytest.raises(imports.ImportFileError) as err:
        run(brand, "customers", b"PK\x03\x04 rest of a zip")
    assert "Excel" in err.value.message


def test_customers_update_the_known_customer_and_report_bad_values(brand, store):
    known = f.make_customer(brand, name="王小明", phone="+886912345678")
    text = "name,phone,email,birthday\n王小明,0912345678,new@example.com,\n無名,12,not-an-email,1990-13-01\n"
    job = run(brand, "customers", text)
    assert (job.applied_rows, job.error_rows) == (1, 1)
    known.refresh_from_db()
    assert known.email == "new@example.com"
    assert [(e["row"], e["field"]) for e in job.errors] == [(3, "phone"), (3, "email"), (3, "birthday")]


# Five past midnight on March 1st in Taipei is still February 28th in UTC.
@pytest.mark.time_machine(dt.datetime(2027, 3, 1, 0, 5, tzinfo=zoneinfo.ZoneInfo("Asia/Taipei")), tick=True)
def test_a_birthday_today_where_the_brand_is_is_plausible_tomorrow_is_not(brand):
    text = "name,phone,birthday\n今天出生,0912000101,2027-03-01\n明天出生,0912000102,2027/03/02\n"
    job = run(brand, "customers", text)
    assert (job.applied_rows, job.error_rows) == (1, 1)
    assert Customer.objects.get(name="今天出生").birthday == dt.date(2027, 3, 1)
    assert [(e["row"], e["field"]) for e in job.errors] == [(3, "birthday")]


# --- orders -------------------------------------------------------------------------------------

ORDERS_HEADER = (
    "source,external_id,name,sales_channel,store_code,staff_code,placed_at,customer_phone,customer_email,"
    "customer_name,member_number,sku,title,quantity,unit_price,line_discount,shipping_total,status\n"
)


def test_orders_rows_with_the_same_id_form_one_order(brand, store, clerk, tee):
    text = ORDERS_HEADER + (
        "pos,R-1,R-1,pos,TPE01,E001,2026-11-20 15:30,0912345678,,陳大文,,TEE-M,,2,590,80,,paid\n"
        "pos,R-2,R-2,pos,TPE01,,2026-11-20 16:00,,,,,TEE-L,,1,590,,,\n"
        "pos,R-1,R-1,pos,TPE01,E001,2026-11-20 15:30,0912345678,,陳大文,,,手提袋,1,10,,,paid\n"
    )
    job = run(brand, "orders", text)

    assert (job.status, job.applied_rows, job.error_rows) == ("done", 3, 0), job.errors
    first = Order.objects.get(external_id="R-1")
    assert (first.subtotal, first.total, first.store, first.staff) == (110000 + 1000, 111000, store, clerk)
    assert first.placed_at.isoformat() == "2026-11-20T07:30:00+00:00"  # read in Asia/Taipei
    assert [(line.sku, line.title, line.quantity) for line in first.lines.all()] == [
        ("TEE-M", "短T M", 2),
        ("", "手提袋", 1),
    ]
    assert first.customer.phone == "+886912345678"
    assert Order.objects.get(external_id="R-2").status == "paid"


def test_orders_errors_point_at_the_row_of_the_bad_line(brand, store, tee):
    text = ORDERS_HEADER + (
        "pos,E-1,,pos,TPE01,,2026-11-20 15:30,,,,,TEE-M,,1,590,,,\n"
        "pos,E-1,,pos,TPE01,,2026-11-20 15:30,,,,,TEE-L,,0,590,,,\n"
        "pos,E-2,,pos,NOPE,,2026-11-20 15:30,,,,,GHOST,,1,590,,,\n"
        "pos,E-3,,pos,TPE01,,2026-11-20 25:99,,,,,TEE-M,,1,590,,,\n"
        "pos,E-4,,pos,TPE01,,2026-11-20 15:30,,,,,TEE-M,,1,590,,,\n"
    )
    job = run(brand, "orders", text)

    assert (job.applied_rows, job.error_rows) == (1, 4)
    assert [(e["row"], e["field"]) for e in job.errors] == [
        (2, ""),
        (3, "quantity"),
        (4, "store_code"),
        (4, "sku"),
        (5, "placed_at"),
    ]
    assert job.errors[0]["error"] == "not imported: row 3 of the same order has an error"
    assert list(Order.objects.values_list("external_id", flat=True)) == ["E-4"]


def test_orders_reimport_is_idempotent(brand, store, tee):
    text = ORDERS_HEADER + "pos,I-1,,pos,TPE01,,2026-11-20T15:30:00+08:00,,,,,TEE-M,,1,590,,,\n"
    run(brand, "orders", text)
    job = run(brand, "orders", text)
    assert job.status == "done"
    assert (Order.objects.count(), OrderLine.objects.count()) == (1, 1)


# --- API and command line -------------------------------------------------------------------------


def test_upload_answers_202_and_the_task_runs_the_job(
    api, brand, store, tee, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = api.upload(
            "/api/v1/imports",
            "stock.csv",
            b"sku,location_code,on_hand\nTEE-M,TPE01,3\nX,TPE01,1\n",
            kind="stock",
            mode="valid_rows",
        )
    assert response.status_code == 202, response.content
    data = response.json()
    assert (data["status"], data["kind"], data["mode"], data["filename"], data["progress"]) == (
        "queued",
        "stock",
        "valid_rows",
        "stock.csv",
        0,
    )
    assert len(callbacks) == 1  # the task is enqueued once the job row is committed
    callbacks[0]()
    queued = DBTaskResult.objects.get()
    assert (queued.task_path, queued.args_kwargs["args"]) == ("omo.core.tasks.run_import", [data["id"]])

    run_import.call(data["id"])

    report = api.get(f"/api/v1/imports/{data['id']}").json()
    assert (
        report["status"],
        report["total_rows"],
        report["processed_rows"],
        report["applied_rows"],
        report["error_rows"],
        report["progress"],
    ) == ("done", 2, 2, 1, 1, 100)
    assert report["errors"] == [{"row": 3, "field": "sku", "error": "no variant with sku 'X'"}]


def test_upload_of_an_undecodable_file_is_422(api, brand):
    response = api.upload("/api/v1/imports", "x.csv", b"\xff\xfe\xfa\xfb", kind="stock")
    assert response.status_code == 422
    assert response.json()["field"] == "file"
    assert not ImportJob.objects.exists()


def test_upload_with_an_unknown_kind_is_422(api, brand):
    response = api.upload("/api/v1/imports", "x.csv", b"a,b\n", kind="invoices")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "kind"


def test_import_of_another_brand_is_404(api, other_brand):
    job = ImportJob.objects.create(brand=other_brand, kind="stock", content="sku\n")
    assert api.get(f"/api/v1/imports/{job.pk}").status_code == 404


def test_command_line_imports_with_a_report(brand, store, tee, tmp_path):
    path = tmp_path / "stock.csv"
    path.write_bytes("sku,location_code,on_hand\nTEE-M,TPE01,8\nNOPE,TPE01,1\n".encode("cp950"))
    out, err = io.StringIO(), io.StringIO()

    call_command("import_csv", "stock", str(path), brand=brand.slug, stdout=out, stderr=err)

    assert "done. rows 2, imported 1, with errors 1" in out.getvalue()
    assert "row 3 [sku]: no variant with sku 'NOPE'" in out.getvalue()
    assert StockLevel.objects.get(variant=tee["TEE-M"]).on_hand == 8


def test_command_line_all_or_nothing_fails_loudly(brand, store, tee, tmp_path):
    path = tmp_path / "stock.csv"
    path.write_text("sku,location_code,on_hand\nNOPE,TPE01,1\n")
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command(
            "import_csv",
            "stock",
            str(path),
            brand=brand.slug,
            mode="all_or_nothing",
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    with pytest.raises(CommandError, match="no brand"):
        call_command("import_csv", "stock", str(path), brand="nope", stdout=io.StringIO())
