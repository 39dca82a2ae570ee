"""What the core app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

from omo.core import taskwake


def register() -> None:
    taskwake.connect_signals()
