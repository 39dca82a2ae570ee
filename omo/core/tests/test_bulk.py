"""omo.core.bulk: many rows in one go (COPY on PostgreSQL), the instances left as bulk_create leaves them."""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from omo.core import bulk
from omo.customers.models import Customer, CustomerIdentity
from omo.loyalty.models import PointsEntry

pytestmark = pytest.mark.django_db


def _customers(brand, count: int, **values) -> list[Customer]:
    return [
        bulk.new(
            Customer, {"brand_id": brand.pk, "name": f"顧客 {i}", "phone": f"+8869120000{i:02d}", **values}
        )
        for i in range(count)
    ]


def test_new_builds_an_unsaved_instance_with_defaults():
    customer = bulk.new(Customer, {"brand_id": 7, "name": "林小姐"})
    assert customer.pk is None and customer._state.adding
    assert (customer.brand_id, customer.name, customer.phone, customer.tags, customer.merged_into_id) == (
        7,
        "林小姐",
        "",
        [],
        None,
    )


def test_new_refuses_a_column_the_model_does_not_have():
    with pytest.raises(TypeError, match="no column 'brand'"):
        bulk.new(Customer, {"brand": 7})


@pytest.mark.parametrize("count", [3, 45])  # below and above COPY_MIN_ROWS
def test_insert_gives_ids_and_stores_every_column(brand, count):
    rows = _customers(brand, count, tags=["vip", "台北"], notes="第一行\n第二行\t\\ 結束")

    bulk.insert(Customer, rows)

    assert all(row.pk and not row._state.adding and row._state.db == "default" for row in rows)
    assert len({row.pk for row in rows}) == count
    stored = {c.pk: c for c in Customer.objects.filter(pk__in=[row.pk for row in rows])}
    for row in rows:
        saved = stored[row.pk]
        assert (saved.name, saved.phone, saved.tags, saved.notes) == (
            row.name,
            row.phone,
            ["vip", "台北"],
            row.notes,
        )
        assert saved.created_at is not None and saved.updated_at is not None  # auto_now(_add) filled in
        assert saved.created_at == row.created_at


def test_insert_above_the_threshold_uses_copy_on_postgresql(brand):
    rows = _customers(brand, bulk.COPY_MIN_ROWS)
    with CaptureQueriesContext(connection) as queries:
        bulk.insert(Customer, rows)
    inserts = [q["sql"] for q in queries.captured_queries if "INSERT INTO" in q["sql"].upper()]
    if connection.vendor == "postgresql":
        assert inserts == []  # the rows went through COPY; only the ids were asked for
        assert any("nextval" in q["sql"] for q in queries.captured_queries)
    else:  # one executemany of a prepared INSERT, its ids from last_insert_rowid()
        assert len(inserts) == 1 and inserts[0].startswith(f"{bulk.COPY_MIN_ROWS} times: INSERT"), inserts
        assert [row.pk for row in rows] == list(range(rows[0].pk, rows[0].pk + len(rows)))
    assert Customer.objects.filter(brand=brand).count() == bulk.COPY_MIN_ROWS


def test_insert_without_ids_leaves_them_to_the_database(brand):
    customer = Customer.objects.create(brand=brand, name="王小明")
    rows = [
        bulk.new(
            CustomerIdentity,
            {
                "brand_id": brand.pk,
                "customer_id": customer.pk,
                "kind": "email",
                "value": f"a{i}@example.com",
                "source": "test",
            },
        )
        for i in range(30)
    ]
    bulk.insert(CustomerIdentity, rows, need_ids=False)
    assert CustomerIdentity.objects.filter(customer=customer).count() == 30
    if connection.vendor == "postgresql":
        assert all(row.pk is None for row in rows)


def test_insert_keeps_given_ids_and_reserves_the_others(brand):
    customer = Customer.objects.create(brand=brand, name="王小明")
    when = dt.datetime(2026, 11, 20, 2, 0, tzinfo=dt.UTC)
    given = PointsEntry.objects.create(
        brand=brand, customer=customer, delta=1, kind="adjust", created_at=when
    ).pk
    PointsEntry.objects.filter(pk=given).delete()
    rows = [
        bulk.new(
            PointsEntry,
            {
                "brand_id": brand.pk,
                "customer_id": customer.pk,
                "delta": i + 1,
                "kind": "earn",
                "idempotency_key": f"k{i}",
                "created_at": when,
            },
        )
        for i in range(25)
    ]
    rows[0].pk = given
    bulk.insert(PointsEntry, rows)
    assert rows[0].pk == given
    assert sorted(PointsEntry.objects.values_list("pk", flat=True)) == sorted(row.pk for row in rows)
    assert PointsEntry.objects.get(pk=given).created_at == when


@pytest.mark.parametrize("count", [2, 30])
def test_a_duplicate_key_is_an_integrity_error_and_writes_nothing(brand, count):
    customer = Customer.objects.create(brand=brand, name="王小明")
    CustomerIdentity.objects.create(brand=brand, customer=customer, kind="phone", value="+886912000001")
    rows = [
        bulk.new(
            CustomerIdentity,
            {
                "brand_id": brand.pk,
                "customer_id": customer.pk,
                "kind": "phone",
                "value": f"+8869120000{i:02d}",
            },
        )
        for i in range(count)
    ]
    with pytest.raises(IntegrityError), transaction.atomic():
        bulk.insert(CustomerIdentity, rows, need_ids=False)
    assert CustomerIdentity.objects.filter(customer=customer).count() == 1


def test_int_array_is_a_postgresql_array_literal():
    assert bulk.int_array([3, None, 10**12]) == "{3,NULL,1000000000000}"
    assert bulk.int_array([]) == "{}"


@pytest.mark.postgres
def test_reserved_ids_are_new_and_distinct(brand):
    first = bulk.reserve_ids(Customer, 5)
    second = bulk.reserve_ids(Customer, 5)
    assert len(set(first) | set(second)) == 10
    assert min(second) > max(first)
    assert bulk.reserve_ids(Customer, 0) == []


@pytest.mark.parametrize("count", [3, 30])  # below and above COPY_MIN_ROWS
def test_insert_rows_writes_dicts_with_defaults_and_gives_their_ids(brand, count):
    rows = [{"brand_id": brand.pk, "name": f"顧客 {i}", "tags": ["新客"]} for i in range(count)]
    rows[0]["notes"] = '引號 " 與 tab \t'

    bulk.insert_rows(Customer, rows, sort_key=lambda row: row["name"])

    assert all(isinstance(row["id"], int) for row in rows)
    stored = {c.pk: c for c in Customer.objects.filter(brand=brand)}
    assert sorted(stored) == sorted(row["id"] for row in rows)
    for row in rows:
        saved = stored[row["id"]]
        assert (saved.name, saved.tags, saved.phone, saved.birthday) == (row["name"], ["新客"], "", None)
        assert saved.created_at is not None and saved.updated_at is not None
    assert stored[rows[0]["id"]].notes == '引號 " 與 tab \t'


def test_insert_rows_without_ids_and_with_a_bad_column(brand):
    customer = Customer.objects.create(brand=brand, name="王小明")
    rows = [
        {"brand_id": brand.pk, "customer_id": customer.pk, "kind": "email", "value": f"b{i}@example.com"}
        for i in range(25)
    ]
    bulk.insert_rows(CustomerIdentity, rows, need_ids=False)
    assert CustomerIdentity.objects.filter(customer=customer).count() == 25
    with pytest.raises(TypeError, match="no column 'customer'"):
        bulk.insert_rows(CustomerIdentity, [{"brand_id": brand.pk, "customer": customer}] * 25)
