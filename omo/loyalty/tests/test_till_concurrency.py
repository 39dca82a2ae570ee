"""Two tills redeem the same single-use code at the same moment on PostgreSQL (row locks under READ
COMMITTED): one sale gets it, the other is told it is used; a retry racing its own first call
redeems once."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.db import connections

from omo.core.audit import Actor
from omo.loyalty import services as loyalty
from omo.loyalty.models import CouponCode, CouponRedemption, LoyaltyAccount, PointsEntry
from omo.testing import factories as f

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_concurrently(count: int, work: Callable[[int], object]) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work(i)
        except Exception as exc:  # collected and asserted on by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


@pytest.fixture
def setup(brand, store, other_store, hq_admin):
    actor = Actor(brand=brand, user=hq_admin)
    member = f.make_customer(brand, phone="0912000222")
    coupon = loyalty.create_coupon(brand, actor=actor, name="VIP 折 300", kind="amount_off", value=30000)
    [code] = loyalty.issue_codes(coupon, [member], actor=actor)
    return actor, member, code


def test_two_tills_redeeming_one_single_use_code_at_once_use_it_once(brand, store, other_store, setup):
    actor, member, code = setup
    stores = [store, other_store]

    def redeem(i: int):
        return loyalty.redeem_at_till(
            brand,
            code.code,
            subtotal=100000,
            customer=member,
            transaction_id=f"{stores[i].code}-0001",
            store_id=stores[i].pk,
            actor=actor,
        )

    results = run_concurrently(2, redeem)

    won = [r for r in results if isinstance(r, loyalty.TillRedemption)]
    refused = [r for r in results if isinstance(r, loyalty.CouponError)]
    assert len(won) == 1 and won[0].created, results
    assert len(refused) == 1 and refused[0].code == "coupon_used"
    assert CouponCode.objects.get(pk=code.pk).times_used == 1
    assert CouponRedemption.objects.count() == 1


def test_a_retry_racing_its_own_sale_redeems_once(brand, store, setup):
    actor, member, code = setup

    def redeem(i: int):
        return loyalty.redeem_at_till(
            brand,
            code.code,
            subtotal=100000,
            customer=member,
            transaction_id="TPE01-0042",
            store_id=store.pk,
            actor=actor,
        )

    results = run_concurrently(2, redeem)

    assert all(isinstance(r, loyalty.TillRedemption) for r in results), results
    assert sorted(r.created for r in results) == [False, True]  # type: ignore[union-attr]
    assert len({r.redemption.pk for r in results}) == 1  # type: ignore[union-attr]
    assert CouponCode.objects.get(pk=code.pk).times_used == 1


def test_points_spent_at_two_tills_at_once_never_overdraw(brand, setup):
    actor, member, _ = setup
    loyalty.adjust_points(member, 300, reason="開卡禮", actor=actor)

    def spend(i: int):
        return loyalty.redeem_points_at_till(member, 200, transaction_id=f"S-{i}", actor=actor)

    results = run_concurrently(2, spend)

    assert sum(isinstance(r, loyalty.TillPoints) for r in results) == 1, results
    assert sum(isinstance(r, loyalty.InsufficientPoints) for r in results) == 1
    assert LoyaltyAccount.objects.get(customer=member).balance == 100
    assert PointsEntry.objects.filter(kind="redeem").count() == 1
