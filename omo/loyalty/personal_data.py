"""What loyalty holds about a person: the account, the points ledger, coupon codes and redemptions.

Points are a ledger: erasure keeps every entry's amount and blanks only the free-text reason. A
merge adds the merged account's balance, lifetime points and rolling spend to the survivor's (or
hands the account over when the survivor has none); a split takes the same amounts back.
"""

from __future__ import annotations

from typing import Any

from omo.customers import personal_data
from omo.customers.merge import MergeError
from omo.customers.personal_data import Erasure, Merge, Moves, PersonalDataHandler, Rows, Split, rows
from omo.loyalty.models import CouponCode, CouponRedemption, LoyaltyAccount, PointsEntry

LOYALTY_SUMS = ("balance", "lifetime_earned", "rolling_spend")


class LoyaltyData(PersonalDataHandler):
    app_label = "loyalty"
    order = 20
    holds = (
        "loyalty.LoyaltyAccount",
        "loyalty.PointsEntry",
        "loyalty.CouponCode",
        "loyalty.CouponRedemption",
    )

    def moves(self) -> Moves:
        return ((PointsEntry, "customer"), (CouponCode, "customer"), (CouponRedemption, "customer"))

    def export(self, brand_id: int, customer_ids: list[int]) -> dict[str, Rows]:
        mine = {"brand_id": brand_id, "customer_id__in": customer_ids}
        return {
            "loyalty_accounts": rows(LoyaltyAccount.objects.filter(**mine)),
            "points": rows(PointsEntry.objects.filter(**mine).order_by("id")),
            "coupons": rows(CouponCode.objects.filter(**mine).order_by("id")),
            "coupon_redemptions": rows(CouponRedemption.objects.filter(**mine).order_by("id")),
        }

    def erase(self, erasure: Erasure) -> dict[str, int]:
        PointsEntry.objects.filter(brand_id=erasure.brand_id, customer_id__in=erasure.customer_ids).exclude(
            reason=""
        ).update(reason="")
        return {}

    def merge(self, merge: Merge) -> None:
        survivor, merged = merge.survivor, merge.merged
        accounts = {
            a.customer_id: a
            for a in LoyaltyAccount.objects.select_for_update()
            .filter(customer_id__in=[survivor.pk, merged.pk])
            .order_by("pk")
        }
        theirs, mine = accounts.get(merged.pk), accounts.get(survivor.pk)
        if theirs is None:
            return
        if mine is None:
            LoyaltyAccount.objects.filter(pk=theirs.pk).update(customer_id=survivor.pk)
            merge.snapshot["moved"][LoyaltyAccount._meta.label_lower] = [theirs.pk]
            return
        added = {name: getattr(theirs, name) for name in LOYALTY_SUMS}
        LoyaltyAccount.objects.filter(pk=mine.pk).update(
            **{n: getattr(mine, n) + v for n, v in added.items()}
        )
        LoyaltyAccount.objects.filter(pk=theirs.pk).update(**dict.fromkeys(LOYALTY_SUMS, 0))
        merge.snapshot["loyalty"] = {"survivor_account": mine.pk, "merged_account": theirs.pk, "added": added}

    def split(self, split: Split) -> None:
        split.put_back(LoyaltyAccount)
        if split.snapshot.get("loyalty"):
            _split_accounts(split.snapshot["loyalty"])


def _split_accounts(info: dict[str, Any]) -> None:
    ids = sorted([info["survivor_account"], info["merged_account"]])
    accounts = {a.pk: a for a in LoyaltyAccount.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    mine, theirs = accounts[info["survivor_account"]], accounts[info["merged_account"]]
    added = info["added"]
    if mine.balance < added["balance"]:
        raise MergeError(
            "loyalty",
            f"the survivor has spent points that came with the merge ({mine.balance} left, {added['balance']} to return)",
        )
    LoyaltyAccount.objects.filter(pk=mine.pk).update(**{n: getattr(mine, n) - v for n, v in added.items()})
    LoyaltyAccount.objects.filter(pk=theirs.pk).update(
        **{n: getattr(theirs, n) + v for n, v in added.items()}
    )


def register() -> None:
    """Called once from LoyaltyConfig.ready."""
    personal_data.register(LoyaltyData())
