"""The spend source commerce registers for loyalty tiers (omo/commerce/subscribers.py)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from omo.commerce.models import Order
from omo.loyalty import services as loyalty
from omo.loyalty import spend
from omo.loyalty.tests.test_points import pos_order
from omo.testing import factories as f


def test_registered_source_is_net_sales_per_customer_since_the_window_start(brand, other_brand, store):
    now = timezone.now()
    paid = pos_order(brand, store, external_id="A1", amount=100000, phone="0912000001")
    refunded = pos_order(brand, store, external_id="A2", amount=50000, phone="0912000001")
    Order.objects.filter(pk=refunded.pk).update(refunded_total=20000, status="partially_refunded")
    pos_order(brand, store, external_id="A3", amount=70000, phone="0912000001", status="placed")
    pos_order(
        brand,
        store,
        external_id="A4",
        amount=90000,
        phone="0912000001",
        placed_at=now - dt.timedelta(days=400),
    )
    other = pos_order(brand, store, external_id="B1", amount=30000, phone="0912000002")
    rows = dict(spend.spend_since(now - dt.timedelta(days=365)).values_list("customer_id", "spend"))

    assert rows == {paid.customer_id: 100000 + 50000 - 20000, other.customer_id: 30000}


def test_the_same_phone_at_another_brand_is_another_customer(brand, other_brand, store):
    ours = pos_order(brand, store, external_id="D1", amount=40000, phone="0912000006")
    theirs = pos_order(
        other_brand, f.make_store(other_brand, code="X1"), external_id="D1", amount=99000, phone="0912000006"
    )

    assert theirs.customer_id != ours.customer_id
    assert loyalty.rolling_spend(ours.customer) == 40000
    assert loyalty.rolling_spend(theirs.customer) == 99000


def test_rolling_spend_counts_only_this_customer(brand, store):
    first = pos_order(brand, store, external_id="C1", amount=120000, phone="0912000003")
    pos_order(brand, store, external_id="C2", amount=80000, phone="0912000004")

    assert loyalty.rolling_spend(first.customer) == 120000


def test_a_customer_without_sales_has_no_spend(brand):
    assert loyalty.rolling_spend(f.make_customer(brand, phone="+886912000005")) == 0


def test_without_a_registered_source_loyalty_says_what_is_missing(monkeypatch):
    monkeypatch.setattr(spend, "_source", None)
    with pytest.raises(RuntimeError, match="no spend source"):
        spend.spend_since(timezone.now())
