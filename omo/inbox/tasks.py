"""Periodic inbox work: escalate conversations past their SLA or off shift, return them to clerks;
send again outgoing messages stuck in "queued"."""

from __future__ import annotations

from typing import Any

from django_tasks import task

from omo.binding.services import expire_recoveries
from omo.inbox import routing


@task()
def escalate_and_return() -> dict[str, Any]:
    """Every minute (registered in omo.core.schedule): re-route what time alone changed; expire old recovery asks."""
    moved = routing.escalate_and_return()
    return {"moved": moved, "recoveries_expired": expire_recoveries()}


@task()
def sweep_stuck_messages() -> dict[str, Any]:
    """Every minute (registered in omo.core.schedule): send again what stayed queued (lost task, dead worker)."""
    from omo.inbox import outbound

    return outbound.sweep_stuck_messages()
