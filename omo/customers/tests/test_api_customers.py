"""Customers over the REST API: create, read, update, search, identities."""

from __future__ import annotations

import pytest

from omo.customers.models import Customer, CustomerIdentity
from omo.testing import factories as f


def test_create_customer_normalises_and_records_identities(api, brand, store):
    response = api.post(
        "/api/v1/customers",
        {
            "name": "王小明",
            "phone": "0912-345-678",
            "email": "Ming@Example.com",
            "birthday": "1990-05-01",
            "member_number": "M0001",
            "home_store_code": "TPE01",
            "tags": ["VIP", "VIP", "棉麻控"],
            "notes": "素色",
        },
    )
    assert response.status_code == 201, response.content
    data = response.json()
    customer = Customer.objects.get()
    assert data == {
        "id": customer.pk,
        "name": "王小明",
        "phone": "+886912345678",
        "email": "ming@example.com",
        "birthday": "1990-05-01",
        "member_number": "M0001",
        "home_store_id": store.pk,
        "home_store_code": "TPE01",
        "tags": ["VIP", "棉麻控"],
        "notes": "素色",
        "created_at": data["created_at"],
        "updated_at": data["updated_at"],
    }
    identities = api.get(f"/api/v1/customers/{customer.pk}/identities").json()
    assert [(i["kind"], i["value"]) for i in identities] == [
        ("email", "ming@example.com"),
        ("member_number", "M0001"),
        ("phone", "+886912345678"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"phone": "12"}, 422, "phone"),
        ({"email": "not-an-email"}, 422, "email"),
        ({"home_store_code": "NOPE"}, 422, "home_store_code"),
        ({"phone": "0912345678"}, 409, "phone"),
    ],
)
def test_bad_customers_name_the_field(api, brand, body, status, field):
    f.make_customer(brand, phone="+886912345678")
    response = api.post("/api/v1/customers", {"name": "x", **body})
    assert response.status_code == status, response.content
    assert response.json()["field"] == field
    assert Customer.objects.count() == 1


def test_wrong_type_is_422_with_loc(api, brand):
    response = api.post("/api/v1/customers", {"name": "x", "birthday": "next tuesday"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "birthday"


def test_update_customer_moves_identities(api, brand):
    customer = f.make_customer(brand, phone="+886912345678")
    response = api.patch(f"/api/v1/customers/{customer.pk}", {"phone": "0922333444", "tags": ["新客"]})
    assert response.status_code == 200
    assert (response.json()["phone"], response.json()["tags"]) == ("+886922333444", ["新客"])
    assert list(CustomerIdentity.objects.filter(customer=customer).values_list("value", flat=True)) == [
        "+886922333444"
    ]


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"q": "小明"}, ["王小明"]),
        ({"q": "0912-345-678"}, ["王小明"]),
        ({"phone": "0922333444"}, ["林美華"]),
        ({"email": "MEI@example.com"}, ["林美華"]),
        ({"member_number": "M0002"}, ["林美華"]),
        ({"name": "林"}, ["林美華"]),
        ({}, ["林美華", "王小明"]),
    ],
)
def test_search_customers(api, brand, params, expected):
    f.make_customer(brand, name="王小明", phone="+886912345678")
    f.make_customer(
        brand, name="林美華", phone="+886922333444", email="mei@example.com", member_number="M0002"
    )
    data = api.get("/api/v1/customers", **params).json()
    assert [c["name"] for c in data["items"]] == expected
    assert data["total"] == len(expected)


def test_another_brands_customer_is_404(other_api, brand):
    customer = f.make_customer(brand)
    assert other_api.get(f"/api/v1/customers/{customer.pk}").status_code == 404
    assert other_api.patch(f"/api/v1/customers/{customer.pk}", {"name": "x"}).status_code == 404
    assert other_api.get("/api/v1/customers").json()["total"] == 0


def test_clerk_key_may_not_create_customers(clerk_api, brand):
    response = clerk_api.post("/api/v1/customers", {"name": "x", "phone": "0912345678"})
    assert response.status_code == 403
    assert "customers.write" in response.json()["detail"]
    assert not Customer.objects.exists()
