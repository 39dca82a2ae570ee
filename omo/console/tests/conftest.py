"""Console test fixtures: a signed-in client per role and one object of each kind in the brand."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from django.test import Client
from django.utils import timezone

from omo.analytics.tests.builders import make_customer, make_order
from omo.analytics.tests.seed import seeded_sales  # noqa: F401  (fixture)
from omo.catalog.models import Product
from omo.commerce.models import Order
from omo.customers.models import Customer
from omo.loyalty.models import Coupon, CouponCode
from omo.testing import factories as f


@pytest.fixture(autouse=True)
def fast_password_hashing(settings):
    """Every staff fixture sets a password; the production hasher costs ~0.5 s each, MD5 costs nothing."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def client_for(db):
    """client_for(user) -> a test client signed in as that user."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@dataclass
class BrandObjects:
    order: Order
    customer: Customer
    product: Product
    coupon: Coupon


@pytest.fixture
def brand_objects(brand, store) -> BrandObjects:
    """One of each object the console has a page for, with names another brand must never see."""
    customer = make_customer(brand, "機密顧客甲", phone="+886911111111", home_store=store)
    product = f.make_product(brand, "機密商品甲", variants=[("SECRET-SKU-1", "", 120000)])
    order = make_order(
        brand,
        name="HERB-SECRET-1",
        placed_at=timezone.now() - dt.timedelta(days=1),
        total=120000,
        store=store,
        customer=customer,
        lines=[(product, 1, 120000, 0)],
    )
    coupon = Coupon.objects.create(brand=brand, name="機密優惠券甲", kind="amount_off", value=10000)
    CouponCode.objects.create(brand=brand, coupon=coupon, code="SECRETCODE1", customer=customer, max_uses=1)
    return BrandObjects(order=order, customer=customer, product=product, coupon=coupon)


SECRETS = ("機密顧客甲", "機密商品甲", "HERB-SECRET-1", "機密優惠券甲", "SECRET-SKU-1")
