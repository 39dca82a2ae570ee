"""The brand's binding policy: what happens when a bound customer scans another clerk's code.

Read with `omo.binding.selectors.policy_for` (the default, first clerk keeps, when never set);
changed here only, audited as `binding_policy.changed`.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.translation import gettext

from omo.binding.models import BindingPolicy
from omo.binding.services.errors import BindingError
from omo.core import audit
from omo.core.audit import Actor
from omo.core.models import Brand

MIN_LOCK_DAYS = 1
MAX_LOCK_DAYS = 365

Rule = BindingPolicy.Rule

# One sentence per choice, shown beside it (zh-Hant / English).
EXPLANATIONS: dict[str, tuple[str, str]] = {
    Rule.FIRST_KEEPS: (
        "顧客已綁定店員時，再掃其他店員的 QR Code 不會改綁；系統會告訴顧客目前的專屬店員是誰。",
        "A bound customer who scans another clerk's code stays with the first clerk and is told who that is.",
    ),
    Rule.LATEST_WINS: (
        "顧客掃了哪位店員的 QR Code，就改綁給最後掃碼的店員。",
        "A customer who scans another clerk's code is bound to that clerk from then on.",
    ),
    Rule.LOCKED_DAYS: (
        "綁定後 N 天內維持原店員；超過 N 天後，掃其他店員的 QR Code 即改綁。",
        "A binding is kept for N days; after that, scanning another clerk's code binds the customer to that clerk.",
    ),
}


def explain(rule: str, lock_days: int) -> tuple[str, str]:
    """The sentence for a rule, with N filled in for the lock period."""
    zh, en = EXPLANATIONS[rule]
    return zh.replace("N 天", f"{lock_days} 天"), en.replace("N days", f"{lock_days} days")


def _lock_days(raw: Any) -> int:
    try:
        days = int(str(raw).strip())
    except (TypeError, ValueError):
        raise BindingError(
            "lock_days",
            gettext("鎖定天數須為 %(min_lock_days)s–%(max_lock_days)s 的整數")
            % {"min_lock_days": MIN_LOCK_DAYS, "max_lock_days": MAX_LOCK_DAYS},
            status=422,
        ) from None
    if not MIN_LOCK_DAYS <= days <= MAX_LOCK_DAYS:
        raise BindingError(
            "lock_days",
            gettext("鎖定天數須介於 %(min_lock_days)s 到 %(max_lock_days)s 天")
            % {"min_lock_days": MIN_LOCK_DAYS, "max_lock_days": MAX_LOCK_DAYS},
            status=422,
        )
    return days


def update_policy(brand: Brand, *, rule: Any, lock_days: Any = None, actor: Actor) -> BindingPolicy:
    """Set the brand's rule; `lock_days` is required (1–365) for the lock period and kept otherwise."""
    if rule not in Rule.values:
        raise BindingError(
            "rule",
            gettext("綁定規則須為 first_keeps、latest_wins 或 locked_days"),
            status=422,
        )
    days: int | None = None
    if rule == Rule.LOCKED_DAYS:
        if lock_days is None or str(lock_days).strip() == "":
            raise BindingError("lock_days", gettext("鎖定期間須填寫天數"), status=422)
        days = _lock_days(lock_days)
    elif lock_days is not None and str(lock_days).strip() != "":
        days = _lock_days(lock_days)
    with transaction.atomic():
        policy, _ = BindingPolicy.objects.select_for_update().get_or_create(brand=brand)
        before = {"rule": policy.rule, "lock_days": policy.lock_days}
        policy.rule = rule
        if days is not None:
            policy.lock_days = days
        policy.save(update_fields=["rule", "lock_days"])
        after = {"rule": policy.rule, "lock_days": policy.lock_days}
        audit.record(actor, "binding_policy.changed", policy, before=before, after=after)
    return policy
