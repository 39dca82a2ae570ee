"""Several workers on the same inbox at once: every receipt processed once, one customer per LINE user.

Runs on both databases: on PostgreSQL the workers claim receipts with SKIP LOCKED and race on the
unique keys (contact, identity, conversation, message id); on SQLite the IMMEDIATE write lock
serialises them.
"""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from omo.customers.models import Customer, CustomerIdentity
from omo.devtools import line_webhook_sender as wh
from omo.inbox.models import Contact, Conversation, Message, WebhookReceipt
from omo.platforms.tasks import process_pending
from omo.testing.line import post_line_webhook

pytestmark = pytest.mark.django_db(transaction=True)


def run_workers(count: int, work) -> list[object]:
    barrier = threading.Barrier(count)
    results: list[object] = [None] * count

    def target(i: int) -> None:
        try:
            barrier.wait()
            results[i] = work()
        except Exception as exc:  # asserted on by the test
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=target, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    return results


def test_three_workers_process_each_receipt_once(line_inbox, line_standin):
    users = [line_standin.add_user(display_name=f"顧客{i}").user_id for i in range(4)]
    t = wh.now_ms()
    events = [wh.text_event(users[i % 4], f"訊息 {i}", timestamp=t + i) for i in range(40)]
    for start in range(0, 40, 5):
        assert post_line_webhook(line_inbox, *events[start : start + 5])[0] == 200

    results = run_workers(3, lambda: process_pending(line_inbox.pk))

    assert not [r for r in results if isinstance(r, Exception)], results
    assert sum(r.get("processed", 0) for r in results) == 40
    assert WebhookReceipt.objects.filter(status="processed").count() == 40
    assert Message.objects.count() == 40
    assert Contact.objects.count() == Customer.objects.count() == Conversation.objects.count() == 4
    assert CustomerIdentity.objects.filter(kind="line").count() == 4
    for conversation in Conversation.objects.all():
        assert conversation.unread_count == 10
