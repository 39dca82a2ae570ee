"""Gap checks for `omo followups sweep`: the server-side timeline events of orders, messages,
clicks and bindings (omo.tracking.server_events). Each expected row is known by its deterministic
message_id, and a repair writes through the same functions as the subscribers (duplicates dropped)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from django.db.models import QuerySet

from omo.attribution.models import Click
from omo.binding.models import Binding
from omo.commerce.models import Order
from omo.core import followups
from omo.core.models import Brand
from omo.inbox.models import Message
from omo.tracking import server_events
from omo.tracking.models import TrackedEvent

P = server_events.PREFIX


def _present(brand: Brand, message_ids: list[str]) -> set[str]:
    return set(
        TrackedEvent.objects.filter(brand=brand, message_id__in=message_ids).values_list(
            "message_id", flat=True
        )
    )


Row = tuple  # a values_list row of the source table, its id first


def _sweep(
    brand: Brand,
    rows: QuerySet,
    expect: Callable[[Row], tuple[str, ...]],
    repair: bool,
    write: Callable[[list[Row]], object],
) -> int:
    """Rows (in chunks) whose expected message ids are not all stored; written again if `repair`."""
    found = 0
    for chunk in followups.chunked(rows.iterator(chunk_size=followups.CHUNK)):
        expected = {row[0]: [m for m in expect(row) if m] for row in chunk}
        have = _present(brand, [m for ids in expected.values() for m in ids])
        gaps = [row for row in chunk if any(m not in have for m in expected[row[0]])]
        found += len(gaps)
        if repair and gaps:
            write(gaps)
    return found


def _ids(rows: list[Row]) -> list[int]:
    return [row[0] for row in rows]


def orders(brand: Brand, since: dt.datetime | None, repair: bool) -> int:
    queryset = Order.objects.filter(brand=brand, customer_id__isnull=False)
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)

    def expect(row: Row) -> tuple[str, ...]:
        # An order recorded already cancelled has only its cancellation; any other its completion.
        return (f"{P}order:{row[0]}:{'cancelled' if row[1] == 'cancelled' else 'completed'}",)

    rows = queryset.order_by("id").values_list("id", "status")
    return _sweep(brand, rows, expect, repair, lambda gaps: server_events.record_orders(_ids(gaps)))


def messages(brand: Brand, since: dt.datetime | None, repair: bool) -> int:
    queryset = Message.objects.filter(
        brand=brand, direction__in=["in", "out"], conversation__customer_id__isnull=False
    )
    if since is not None:
        queryset = queryset.filter(created_at__gte=since)
    rows = queryset.order_by("id").values_list("id")
    expect = lambda row: (f"{P}message:{row[0]}",)  # noqa: E731
    return _sweep(brand, rows, expect, repair, lambda gaps: server_events.record_messages(_ids(gaps)))


def clicks(brand: Brand, since: dt.datetime | None, repair: bool) -> int:
    queryset = Click.objects.filter(brand=brand, is_preview=False, customer_id__isnull=False)
    if since is not None:
        queryset = queryset.filter(clicked_at__gte=since)
    rows = queryset.order_by("id").values_list("id")
    expect = lambda row: (f"{P}click:{row[0]}",)  # noqa: E731
    return _sweep(brand, rows, expect, repair, lambda gaps: server_events.record_clicks(_ids(gaps)))


def bindings(brand: Brand, since: dt.datetime | None, repair: bool) -> int:
    queryset = Binding.objects.filter(brand=brand)
    if since is not None:
        queryset = queryset.filter(started_at__gte=since)
    rows = queryset.order_by("id").values_list("id", "ended_at", "ended_reason")

    def expect(row: Row) -> tuple[str, ...]:
        return (f"{P}binding:{row[0]}:bound", f"{P}binding:{row[0]}:ended" if row[1] else "")

    def write(gaps: list[Row]) -> None:
        for binding_id, ended_at, reason in gaps:
            server_events.record_binding(binding_id, ended=False)
            if ended_at is not None:
                server_events.record_binding(binding_id, ended=True, reason=reason or "")

    return _sweep(brand, rows, expect, repair, write)


def register() -> None:
    followups.register("timeline.orders", "訂單沒有時間軸事件 (orders without timeline event)", orders)
    followups.register("timeline.messages", "訊息沒有時間軸事件 (messages without timeline event)", messages)
    followups.register("timeline.clicks", "點擊沒有時間軸事件 (clicks without timeline event)", clicks)
    followups.register("timeline.bindings", "綁定沒有時間軸事件 (bindings without timeline event)", bindings)
