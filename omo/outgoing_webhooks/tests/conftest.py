"""Webhook test fixtures: a live receiver on 127.0.0.1, an endpoint pointing at it, the HQ actor."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from omo.core.audit import Actor
from omo.outgoing_webhooks import services
from omo.outgoing_webhooks.tests import receiver as receiver_module


@pytest.fixture(autouse=True)
def local_webhooks(settings):
    """Tests deliver over http:// to 127.0.0.1, which only development and tests allow."""
    settings.OMO_WEBHOOK_ALLOW_LOCAL = True
    settings.OMO_WEBHOOK_TIMEOUT = 2.0
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    services.forget_endpoints()
    yield
    services.forget_endpoints()


@pytest.fixture
def receiver() -> Iterator[receiver_module.Receiver]:
    live = receiver_module.start()
    yield live
    live.server.shutdown()
    live.server.server_close()


@pytest.fixture
def actor(brand, hq_admin) -> Actor:
    return Actor(brand=brand, user=hq_admin, role="hq_admin")


@pytest.fixture
def hook(brand, actor, receiver):
    """(endpoint, secret) for every topic, pointing at the receiver."""
    return services.create_endpoint(
        brand,
        url=receiver.url,
        description="ERP",
        topics=["order.attributed", "customer.merged", "binding.created"],
        actor=actor,
    )


@pytest.fixture
def immediate_tasks(settings):
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
