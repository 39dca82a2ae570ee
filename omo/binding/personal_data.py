"""What binding holds about a person: their bindings to clerks and their recovery requests.

Erasure keeps who was bound to whom and when (commission depends on it) and blanks the free-text
reason a binding ended. On a merge two open bindings are settled by the brand's BindingPolicy
(first keeps, latest wins, locked N days; a departed clerk always loses): the loser is ended and
the decision, in words, goes to the merge record. A split reopens it when nothing else is open.
"""

from __future__ import annotations

import datetime as dt

from omo.binding import selectors as binding_selectors
from omo.binding.models import Binding, BindingPolicy, RecoveryRequest
from omo.core import events
from omo.customers import personal_data
from omo.customers.merge import MERGE_END_REASON, dump
from omo.customers.personal_data import Erasure, Merge, Moves, PersonalDataHandler, Rows, Split, rows


def settle(policy: BindingPolicy, a: Binding, b: Binding, now: dt.datetime) -> tuple[Binding, Binding, str]:
    """(kept, ended, why) for two open bindings under the brand's policy."""
    earlier, later = sorted([a, b], key=lambda x: (x.started_at, x.pk))
    if a.clerk.is_active != b.clerk.is_active:
        kept = a if a.clerk.is_active else b
        return kept, (b if kept is a else a), "另一位店員已離職"
    if policy.rule == BindingPolicy.Rule.LATEST_WINS:
        return later, earlier, "latest_wins：保留較晚的綁定"
    if policy.rule == BindingPolicy.Rule.LOCKED_DAYS:
        if now < earlier.started_at + dt.timedelta(days=policy.lock_days):
            return earlier, later, f"locked_days：較早的綁定仍在 {policy.lock_days} 天鎖定期內"
        return later, earlier, f"locked_days：較早的綁定已過 {policy.lock_days} 天鎖定期"
    return earlier, later, "first_keeps：保留較早的綁定"


class BindingData(PersonalDataHandler):
    app_label = "binding"
    order = 30
    holds = ("binding.Binding", "binding.RecoveryRequest")

    def moves(self) -> Moves:
        # Bindings move after `merge` has ended the losing one (at most one open per customer).
        return ((Binding, "customer"), (RecoveryRequest, "customer"))

    def export(self, brand_id: int, customer_ids: list[int]) -> dict[str, Rows]:
        return {
            "bindings": rows(
                Binding.objects.filter(brand_id=brand_id, customer_id__in=customer_ids).order_by(
                    "started_at", "id"
                )
            )
        }

    def erase(self, erasure: Erasure) -> dict[str, int]:
        Binding.objects.filter(brand_id=erasure.brand_id, customer_id__in=erasure.customer_ids).exclude(
            ended_reason=""
        ).update(ended_reason="")
        return {}

    def merge(self, merge: Merge) -> None:
        brand, survivor, merged, now = merge.brand, merge.survivor, merge.merged, merge.now
        # At most one open binding per customer (a constraint): both locked in one query, no ORDER BY.
        open_bindings = {
            b.customer_id: b
            for b in Binding.objects.select_for_update()
            .filter(customer_id__in=[survivor.pk, merged.pk], ended_at__isnull=True)
            .order_by()
        }
        mine, theirs = open_bindings.get(survivor.pk), open_bindings.get(merged.pk)
        if mine is None or theirs is None:
            return
        mine = Binding.objects.select_related("clerk").get(pk=mine.pk)
        theirs = Binding.objects.select_related("clerk").get(pk=theirs.pk)
        kept, ended, why = settle(binding_selectors.policy_for(brand.pk), mine, theirs, now)
        Binding.objects.filter(pk=ended.pk).update(ended_at=now, ended_reason=MERGE_END_REASON)
        merge.snapshot["binding_ended"] = [ended.pk, dump(now)]
        merge.binding_resolution = (
            f"{why}：保留綁定 #{kept.pk}（店員 {kept.clerk}），結束綁定 #{ended.pk}（店員 {ended.clerk}）"
        )
        events.publish(
            "binding.ended",
            brand_id=brand.pk,
            binding_id=ended.pk,
            customer_id=ended.customer_id,
            clerk_id=ended.clerk_id,
            reason=MERGE_END_REASON,
        )

    def split(self, split: Split) -> None:
        # The merged customer's bindings are back (moves first): the ended one reopens unless its
        # customer has an open binding again.
        if not split.snapshot.get("binding_ended"):
            return
        ended_id, ended_at = split.snapshot["binding_ended"]
        row = Binding.objects.filter(pk=ended_id, ended_reason=MERGE_END_REASON).first()
        if row is None or dump(row.ended_at) != ended_at:
            return
        if Binding.objects.filter(customer_id=row.customer_id, ended_at__isnull=True).exists():
            split.not_restored.append(f"binding {ended_id}")
        else:
            Binding.objects.filter(pk=ended_id).update(ended_at=None, ended_reason="")


def register() -> None:
    """Called once from BindingConfig.ready."""
    personal_data.register(BindingData())
