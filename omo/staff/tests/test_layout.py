"""The directory layer: staff (stores, staff, roles, roster) imports nothing from the layers above."""

from __future__ import annotations

from omo.testing.layers import offenders

ACTIVITY_AND_ABOVE = (
    "omo.inbox",
    "omo.commerce",
    "omo.loyalty",
    "omo.tracking",
    "omo.platforms",
    "omo.binding",
    "omo.attribution",
    "omo.analytics",
    "omo.connectors",
    "omo.integrations",
    "omo.console",
    "omo.clerk",
    "omo.shop",
)


def test_staff_imports_nothing_above_the_directory():
    assert offenders("omo.staff", ACTIVITY_AND_ABOVE) == []
