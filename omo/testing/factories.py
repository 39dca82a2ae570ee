"""Builders for test data, shared by every app's tests (and usable from a shell)."""

from __future__ import annotations

import json
import uuid
from typing import TYPE_CHECKING, Any, TypedDict

from django.test import Client

from omo.catalog.models import Category, Location, Product, StockLevel, Variant
from omo.core import apikeys
from omo.core.models import Brand
from omo.customers.models import Customer
from omo.staff.models import Store, User

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse


def make_brand(name: str = "測試品牌", slug: str | None = None) -> Brand:
    return Brand.objects.create(name=name, slug=slug or f"b-{uuid.uuid4().hex[:8]}")


def make_store(
    brand: Brand, code: str = "S1", name: str = "門市", city: str = "台北市", with_location: bool = True
) -> Store:
    store = Store.objects.create(
        brand=brand,
        code=code,
        name=name,
        city=city,
        address=f"{city}某路 1 號",
        opening_hours={d: [["11:00", "21:30"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    )
    if with_location:
        Location.objects.create(brand=brand, code=code, name=name, kind=Location.Kind.STORE, store=store)
    return store


def make_location(
    brand: Brand, code: str = "WH", name: str = "倉庫", kind: str = "warehouse", **kw: Any
) -> Location:
    return Location.objects.create(brand=brand, code=code, name=name, kind=kind, **kw)


def make_user(
    brand: Brand | None, username: str, role: str = "clerk", password: str = "pass-1234", **kw: Any
) -> User:
    user = User(brand=brand, username=f"{username}-{brand.slug if brand else 'root'}", role=role, **kw)
    user.display_name = kw.get("display_name", username)
    user.set_password(password)
    user.save()
    return user


def make_api_key(
    brand: Brand,
    role: str = "hq_admin",
    *,
    store: Store | None = None,
    staff: User | None = None,
    name: str | None = None,
) -> str:
    """A key of `role`. A store manager's key needs a store and a clerk's key a clerk: when none is
    given, a fresh one is made (so the key sees nothing of the brand's other stores and customers)."""
    if role == "store_manager" and store is None:
        store = make_store(brand, code=f"K{uuid.uuid4().hex[:6]}", name="金鑰門市")
    if role == "clerk" and staff is None:
        staff = make_user(brand, f"keyclerk{uuid.uuid4().hex[:6]}", role="clerk", store=store)
    _, secret = apikeys.create_api_key(
        brand,
        name=name or f"test {role}",
        role=role,
        actor=None,
        store_id=store.pk if store is not None and role == "store_manager" else None,
        staff_id=staff.pk if staff is not None else None,
    )
    return secret


def make_category(brand: Brand, name: str = "上衣", slug: str | None = None) -> Category:
    return Category.objects.create(brand=brand, name=name, slug=slug or f"c-{uuid.uuid4().hex[:6]}")


def make_product(
    brand: Brand,
    title: str = "有機棉T恤",
    *,
    category: Category | None = None,
    variants: list[tuple[str, str, int]] | None = None,
) -> Product:
    """variants: [(sku, title, price_minor)]"""
    product = Product.objects.create(
        brand=brand, title=title, handle=f"p-{uuid.uuid4().hex[:8]}", category=category, description="好穿"
    )
    for index, (sku, vtitle, price) in enumerate(variants or [(f"SKU-{uuid.uuid4().hex[:6]}", "", 99000)]):
        Variant.objects.create(
            brand=brand, product=product, sku=sku, title=vtitle, price=price, sort_order=index
        )
    return product


def set_stock(variant: Variant, location: Location, on_hand: int) -> StockLevel:
    level, _ = StockLevel.objects.update_or_create(
        brand_id=variant.brand_id, variant=variant, location=location, defaults={"on_hand": on_hand}
    )
    return level


def make_customer(brand: Brand, name: str = "王小明", phone: str = "+886912345678", **kw: Any) -> Customer:
    from omo.customers import services

    return services.create_customer(brand, name=name, phone=phone, actor=None, **kw)


class _AuthEnviron(TypedDict, total=False):
    """What ApiClient adds to each request's WSGI environ."""

    HTTP_AUTHORIZATION: str


class ApiClient:
    """Django test client that sends a bearer key and JSON bodies."""

    def __init__(self, key: str | None, *, language: str | None = None):
        self.key = key
        # Accept-Language for every request (the API answers in it); the default is zh-Hant
        self.client = Client(HTTP_ACCEPT_LANGUAGE=language) if language else Client()

    def _headers(self) -> _AuthEnviron:
        return {"HTTP_AUTHORIZATION": f"Bearer {self.key}"} if self.key else {}

    def get(self, path: str, **params: Any) -> TestResponse:
        return self.client.get(path, params, **self._headers())

    def post(self, path: str, body: Any = None, raw: bytes | str | None = None) -> TestResponse:
        data = raw if raw is not None else json.dumps(body if body is not None else {})
        return self.client.post(path, data, content_type="application/json", **self._headers())

    def patch(self, path: str, body: Any) -> TestResponse:
        return self.client.patch(path, json.dumps(body), content_type="application/json", **self._headers())

    def put(self, path: str, body: Any) -> TestResponse:
        return self.client.put(path, json.dumps(body), content_type="application/json", **self._headers())

    def delete(self, path: str) -> TestResponse:
        return self.client.delete(path, **self._headers())

    def upload(self, path: str, filename: str, content: bytes, **fields: Any) -> TestResponse:
        from django.core.files.uploadedfile import SimpleUploadedFile

        data = {"file": SimpleUploadedFile(filename, content, content_type="text/csv"), **fields}
        return self.client.post(path, data, **self._headers())
