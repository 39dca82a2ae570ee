"""What the platforms app registers at start-up: its event subscribers and what it puts in the
registries of the apps below it. Called once, from its AppConfig.ready: the one place to look."""

from __future__ import annotations

from omo.inbox import delivery
from omo.platforms import get_adapter, personal_data


def register() -> None:
    # The inbox delivers outgoing messages through the inbox's adapter (omo/inbox/delivery.py).
    delivery.register_senders(get_adapter)

    # What must happen before a person's chat data is erased (omo/platforms/personal_data.py).
    personal_data.register()
