"""The connections layer imports no screens (imports inside functions count)."""

from __future__ import annotations

from omo.testing.layers import offenders


def test_connectors_import_no_surface():
    assert offenders("omo.connectors", ("omo.console", "omo.clerk", "omo.shop")) == []
