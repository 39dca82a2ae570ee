"""Points for many paid orders at once (bulk ingest: the order batch, imports): the accounts locked
in one order, the ledger entries written in one statement, tiers set as recompute_tier would."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from dateutil.relativedelta import relativedelta
from django.db import connection
from django.utils import timezone

from omo.core import bulk, events
from omo.loyalty import spend
from omo.loyalty.models import LoyaltyAccount, LoyaltyProgram, PointsEntry, Tier
from omo.loyalty.services.ledger import points_for_amount, program_for


def earn_for_orders(orders: list) -> None:
    """earn_for_order + recompute_tier for many paid orders at once (bulk ingest).

    The accounts are locked (FOR UPDATE, in id order) for the rest of the caller's transaction, so
    computing the new balances in Python and writing them with one UPDATE is as safe as the
    single-order conditional UPDATE: earning only adds. A few statements for the whole batch:
    accounts created where missing, locked and read; tiers; the ledger entries (COPY on
    PostgreSQL); the rolling spend; the accounts written back.
    """
    orders = [o for o in orders if o.customer_id is not None]
    if not orders:
        return
    brand_id = orders[0].brand_id
    program = program_for(brand_id)
    # Tiers are read separately, before the accounts are locked (as short a time as can be): joined
    # into the locking SELECT, PostgreSQL's re-check after a lock wait can return the updated
    # account with its tier columns empty.
    tiers = list(
        Tier.objects.filter(brand_id=brand_id)
        .order_by("-threshold")
        .values_list("id", "threshold", "earn_multiplier_percent")
    )
    multipliers: dict[int | None, int] = {tier_id: multiplier for tier_id, _, multiplier in tiers}
    accounts = _lock_accounts(brand_id, sorted({o.customer_id for o in orders}))
    entries = []
    for order in orders:
        account = accounts[order.customer_id]
        multiplier = multipliers.get(account.tier_id, 100)
        points = points_for_amount(program, order.total - order.shipping_total, multiplier)
        if points <= 0:
            continue
        earned_at = order.paid_at or order.placed_at
        entries.append(
            {
                "brand_id": brand_id,
                "customer_id": order.customer_id,
                "delta": points,
                "kind": str(PointsEntry.Kind.EARN),
                "order_id": order.pk,
                "reason": f"訂單 {order.display_number}",
                "idempotency_key": f"earn:order:{order.pk}",
                "expires_at": earned_at + relativedelta(months=program.expiry_months)
                if program.expiry_months
                else None,
                "created_at": earned_at,
            }
        )
        account.balance += points
        account.lifetime_earned += points
    bulk.insert_rows(PointsEntry, entries)
    now = _set_tiers(program, accounts, tiers)
    _write_accounts(list(accounts.values()), now)
    events.publish_many(
        "points.changed",
        (
            {
                "brand_id": brand_id,
                "customer_id": entry["customer_id"],
                "delta": entry["delta"],
                "balance": accounts[entry["customer_id"]].balance,
            }
            for entry in entries
        ),
    )
    if entries:
        events.publish("points.posted", brand_id=brand_id, entry_ids=[entry["id"] for entry in entries])


@dataclass(slots=True)
class _Account:
    """The columns of a locked LoyaltyAccount that a bulk earn reads and writes."""

    pk: int
    customer_id: int
    balance: int
    lifetime_earned: int
    tier_id: int | None
    rolling_spend: int = 0


ACCOUNT_TABLE = LoyaltyAccount._meta.db_table


def _lock_accounts(brand_id: int, customer_ids: list[int]) -> dict[int, _Account]:
    """customer id -> account, created where missing and locked for the rest of the transaction.

    Missing accounts are inserted in customer order, so two batches creating the same ones wait
    for each other in one order, never crosswise; then every account is locked in id order."""
    if connection.vendor == "postgresql":
        # The ids as one array literal (a placeholder or list element per id is quoted one by one).
        ids = bulk.int_array(customer_ids)
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {ACCOUNT_TABLE} (brand_id, customer_id, balance, lifetime_earned, rolling_spend) "
                "SELECT %s, c.id, 0, 0, 0 FROM unnest(%s::bigint[]) AS c(id) "
                f"WHERE NOT EXISTS (SELECT 1 FROM {ACCOUNT_TABLE} a WHERE a.customer_id = c.id) "
                "ORDER BY c.id ON CONFLICT DO NOTHING",
                [brand_id, ids],
            )
            # The deferred foreign-key checks of all the caller wrote so far (a batch of orders: some
            # thousands) run now rather than at commit, which comes while these accounts are locked
            # and concurrent batches for the same customers wait for them.
            connection.check_constraints()
            cursor.execute(
                f"SELECT id, customer_id, balance, lifetime_earned, tier_id FROM {ACCOUNT_TABLE} "
                "WHERE customer_id = ANY(%s::bigint[]) ORDER BY id FOR UPDATE",
                [ids],
            )
            rows = cursor.fetchall()
    else:
        LoyaltyAccount.objects.bulk_create(
            [LoyaltyAccount(brand_id=brand_id, customer_id=cid) for cid in customer_ids],
            ignore_conflicts=True,
        )
        rows = list(
            LoyaltyAccount.objects.select_for_update()
            .filter(customer_id__in=customer_ids)
            .order_by("id")
            .values_list("id", "customer_id", "balance", "lifetime_earned", "tier_id")
        )
    return {row[1]: _Account(*row) for row in rows}


def _write_accounts(accounts: list[_Account], now: dt.datetime) -> None:
    """One UPDATE for many accounts; Django's bulk_update builds a CASE per field and row, which
    costs more than the rest of a 500-order batch together."""
    if not accounts:
        return
    table = ACCOUNT_TABLE
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS a SET balance = v.balance, lifetime_earned = v.lifetime_earned, "
                "rolling_spend = v.rolling_spend, tier_id = v.tier_id, tier_updated_at = %s "
                "FROM unnest(%s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[], %s::bigint[]) "
                "AS v(id, balance, lifetime_earned, rolling_spend, tier_id) WHERE a.id = v.id",
                [
                    now,
                    bulk.int_array([a.pk for a in accounts]),
                    bulk.int_array([a.balance for a in accounts]),
                    bulk.int_array([a.lifetime_earned for a in accounts]),
                    bulk.int_array([a.rolling_spend for a in accounts]),
                    bulk.int_array([a.tier_id for a in accounts]),
                ],
            )
        return
    # SQLite keeps datetimes as text: the value goes in as Django would write it.
    stamp = connection.ops.adapt_datetimefield_value(now)
    for start in range(0, len(accounts), 500):
        chunk = accounts[start : start + 500]
        rows = ", ".join(["(%s, %s, %s, %s, %s)"] * len(chunk))
        params: list = []
        for a in chunk:
            params += [a.pk, a.balance, a.lifetime_earned, a.rolling_spend, a.tier_id]
        sql = (
            f"WITH v(id, balance, lifetime_earned, rolling_spend, tier_id) AS (VALUES {rows}) "
            f"UPDATE {table} SET balance = v.balance, lifetime_earned = v.lifetime_earned, "
            "rolling_spend = v.rolling_spend, tier_id = v.tier_id, tier_updated_at = %s "
            f"FROM v WHERE {table}.id = v.id"
        )
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, stamp])


def _set_tiers(
    program: LoyaltyProgram, accounts: dict[int, _Account], tiers: list[tuple[int, int, int]]
) -> dt.datetime:
    """Each account's rolling spend and tier (tiers as (id, threshold, multiplier), highest first),
    as recompute_tier sets them; returns the moment they were computed for."""
    now = timezone.now()
    since = now - dt.timedelta(days=program.tier_window_days)
    spent = dict(
        spend.spend_since(since).filter(customer_id__in=list(accounts)).values_list("customer_id", "spend")
    )
    for customer_id, account in accounts.items():
        account.rolling_spend = int(spent.get(customer_id) or 0)
        account.tier_id = next(
            (tier_id for tier_id, threshold, _ in tiers if threshold <= account.rolling_spend), None
        )
    return now
