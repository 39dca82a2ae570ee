"""The sweep of messages stuck in "queued": sent again with the same retry key, by push, never twice.

A message stays queued when its delivery task was lost (enqueue lost, task crashed) or the worker
died mid-send. Every minute the sweep enqueues it again; LINE answers 409 to a retry key it already
took, which counts as sent, so the customer gets one (billed) push. After the maximum attempts, or
when the retry key is about to expire, the message fails with a reason the clerk can read.
"""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from django.db import connections
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from omo.core import schedule
from omo.inbox import ingest, outbound, realtime
from omo.inbox.models import Message
from omo.inbox.outbound import deliver_message, queue_message, sweep_stuck_messages


@pytest.fixture
def conversation(line_inbox, line_user):
    contact = ingest.get_or_create_contact(line_inbox, line_user.user_id, display_name="林小姐")
    return ingest.get_or_create_conversation(line_inbox, contact)


def stuck(conversation, text="您好", *, minutes=3, **changes) -> Message:
    """A queued message whose delivery task never ran (in a `db` test on_commit never fires: the
    enqueue is lost), queued `minutes` ago."""
    message = queue_message(conversation, kind="text", text=text)
    Message.objects.filter(pk=message.pk).update(
        created_at=timezone.now() - dt.timedelta(minutes=minutes), **changes
    )
    message.refresh_from_db()
    return message


def delivery_tasks(message: Message):
    return DBTaskResult.objects.filter(task_path=deliver_message.module_path, args_kwargs__args=[message.pk])


def run_delivery_tasks(message: Message) -> None:
    """What the worker does with the tasks the sweep enqueued."""
    for result in delivery_tasks(message).filter(status=TaskResultStatus.READY):
        deliver_message.call(message.pk)
        DBTaskResult.objects.filter(pk=result.pk).update(status=TaskResultStatus.SUCCESSFUL)


@pytest.mark.django_db
def test_a_lost_delivery_is_sent_again_by_push_with_the_same_retry_key(
    conversation, line_standin, line_channel, line_user
):
    message = stuck(conversation)
    key = message.retry_key
    # a fresh reply token (from a newer customer message) is not for this old message
    token = line_standin.issue_reply_token(line_channel.channel_id, line_user.user_id)
    ingest.store_reply_token(conversation, token, at=timezone.now())

    assert sweep_stuck_messages() == {"requeued": [message.pk], "failed": []}

    message.refresh_from_db()
    assert (message.status, message.sent_via, message.attempts, message.retry_key) == (
        "queued",
        "push",
        1,
        key,
    )
    assert delivery_tasks(message).count() == 1
    assert sweep_stuck_messages() == {"requeued": [], "failed": []}  # its task is waiting: not stuck

    run_delivery_tasks(message)

    message.refresh_from_db()
    assert (message.status, message.sent_via) == ("sent", "push")
    assert not line_standin.calls("/v2/bot/message/reply")
    [push] = line_standin.calls("/v2/bot/message/push")
    assert (push["status"], push["retry_key"]) == (200, str(key))
    assert len(line_standin.delivered(line_user.user_id)) == 1
    conversation.refresh_from_db()
    assert conversation.reply_token == token  # left for the next answer
    assert sweep_stuck_messages() == {"requeued": [], "failed": []}


@pytest.mark.django_db
def test_a_worker_that_died_after_line_took_the_push_does_not_bill_a_second_one(
    conversation, line_standin, line_user
):
    message = queue_message(conversation, kind="text", text="只送一次")
    outbound.deliver(message.pk)
    assert len(line_standin.delivered(line_user.user_id)) == 1
    # ... but the worker died before recording it: the row still says queued, its task RUNNING
    Message.objects.filter(pk=message.pk).update(
        status="queued", sent_at=None, external_id=None, created_at=timezone.now() - dt.timedelta(minutes=5)
    )
    deliver_message.enqueue(message.pk)
    delivery_tasks(message).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now() - dt.timedelta(minutes=4)
    )

    assert sweep_stuck_messages()["requeued"] == [message.pk]
    run_delivery_tasks(message)

    message.refresh_from_db()
    assert (message.status, message.sent_via) == ("sent", "push")
    pushes = line_standin.calls("/v2/bot/message/push")
    assert [p["status"] for p in pushes] == [200, 409]  # LINE: "the retry key is already accepted"
    assert {p["retry_key"] for p in pushes} == {str(message.retry_key)}
    assert len(line_standin.delivered(line_user.user_id)) == 1
    assert message.external_id == line_standin.delivered(line_user.user_id)[0].message_ids[0]


@pytest.mark.django_db
def test_what_is_not_stuck_is_left_alone(conversation, line_standin):
    fresh = queue_message(conversation, kind="text", text="剛排入")  # queued a moment ago
    deferred = stuck(conversation, "429 之後")
    deliver_message.using(run_after=timezone.now() + dt.timedelta(minutes=4)).enqueue(deferred.pk)
    running = stuck(conversation, "送出中")
    deliver_message.enqueue(running.pk)
    delivery_tasks(running).update(status=TaskResultStatus.RUNNING, started_at=timezone.now())
    crashed = stuck(conversation, "任務失敗")
    deliver_message.enqueue(crashed.pk)
    delivery_tasks(crashed).update(status=TaskResultStatus.FAILED)
    sent = stuck(conversation, "已送出", status="sent")
    failed = stuck(conversation, "已失敗", status="failed")

    assert sweep_stuck_messages() == {"requeued": [crashed.pk], "failed": []}

    for message in (fresh, deferred, running, sent, failed):
        before = message.attempts, message.status
        message.refresh_from_db()
        assert (message.attempts, message.status) == before
    assert delivery_tasks(deferred).count() == delivery_tasks(running).count() == 1
    assert not line_standin.calls()


@pytest.mark.django_db
def test_it_gives_up_after_the_maximum_attempts(
    conversation, line_standin, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.OMO_LINE_MAX_SEND_ATTEMPTS = 3
    pushed = []
    monkeypatch.setattr(realtime, "send", lambda groups, payload: pushed.append(realtime.check(payload)))
    message = stuck(conversation)

    for attempt in (1, 2, 3):  # each time the task is lost again
        assert sweep_stuck_messages()["requeued"] == [message.pk]
        delivery_tasks(message).delete()
        message.refresh_from_db()
        assert message.attempts == attempt
    with django_capture_on_commit_callbacks(execute=True):
        assert sweep_stuck_messages() == {"requeued": [], "failed": [message.pk]}

    message.refresh_from_db()
    assert message.status == "failed"
    assert message.failure_reason == (
        "多次重新傳送仍未送出，已停止重試。可按「重試」再送一次。 / "
        "Still not sent after 3 attempts; stopped trying. Tap Retry to send it again."
    )
    assert not delivery_tasks(message).exists()
    assert not line_standin.calls()
    [event] = [p for p in pushed if p["type"] == "message.updated"]
    assert (event["message"]["id"], event["message"]["status"]) == (message.pk, "failed")
    assert event["message"]["failure_reason"] == message.failure_reason

    # the clerk's retry gives it a new round, with the same key
    outbound.retry_message(message)
    message.refresh_from_db()
    assert (message.status, message.attempts) == ("queued", 0)


@pytest.mark.django_db
def test_after_the_retry_key_expires_it_is_not_sent_again(conversation, line_standin):
    message = stuck(conversation, minutes=23 * 60 + 1, sent_via="push", attempts=1)

    assert sweep_stuck_messages() == {"requeued": [], "failed": [message.pk]}

    message.refresh_from_db()
    assert message.status == "failed"
    assert (
        "為避免重複傳送已停止" in message.failure_reason
        and "avoid sending it twice" in message.failure_reason
    )
    assert not line_standin.calls()


@pytest.mark.django_db
def test_a_message_that_had_taken_the_reply_token_is_failed_as_uncertain(conversation, line_standin):
    message = stuck(conversation, sent_via="reply", attempts=1)  # the worker died mid-reply

    assert sweep_stuck_messages()["requeued"] == [message.pk]
    run_delivery_tasks(message)

    message.refresh_from_db()
    assert (message.status, message.sent_via) == ("failed", "reply")
    assert "avoid a duplicate" in message.failure_reason
    assert not line_standin.calls()  # a reply has no retry key: never resent blindly


@pytest.mark.django_db
def test_the_sweep_runs_every_minute_from_the_shared_schedule(conversation, line_standin):
    job = next(j for j in schedule.registered() if j.name == "inbox.sweep_stuck_messages")
    assert (job.task_path, job.interval) == ("omo.inbox.tasks.sweep_stuck_messages", dt.timedelta(minutes=1))
    message = stuck(conversation)

    assert "inbox.sweep_stuck_messages" in schedule.tick(jobs=(job,))
    [sweep] = DBTaskResult.objects.filter(task_path=job.task_path)
    assert sweep.task.call() == {"requeued": [message.pk], "failed": []}  # what `omo worker` runs


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_claim_each_message_once(conversation, line_standin, monkeypatch):
    """Two workers sweep at the same moment (PostgreSQL: SKIP LOCKED; SQLite: one writer at a time)."""
    messages = [queue_message(conversation, kind="text", text=f"第 {i} 則") for i in range(12)]
    ids = [m.pk for m in messages]
    DBTaskResult.objects.all().delete()  # every enqueue lost
    Message.objects.filter(pk__in=ids).update(created_at=timezone.now() - dt.timedelta(minutes=3))

    in_hand = outbound._deliveries_in_hand
    start = threading.Barrier(2)

    def slow_in_hand(*args, **kwargs):
        found = in_hand(*args, **kwargs)
        threading.Event().wait(0.3)  # hold the row locks while the other sweep runs
        return found

    monkeypatch.setattr(outbound, "_deliveries_in_hand", slow_in_hand)
    results: list[dict] = []
    errors: list[BaseException] = []

    def sweep() -> None:
        try:
            start.wait(5)
            results.append(sweep_stuck_messages())
        except BaseException as exc:  # surfaced below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not errors, errors
    claimed = [pk for result in results for pk in result["requeued"]]
    assert sorted(claimed) == sorted(ids)  # every message once, none twice
    tasks = DBTaskResult.objects.filter(task_path=deliver_message.module_path)
    assert sorted(t.args_kwargs["args"][0] for t in tasks) == sorted(ids)
    assert set(Message.objects.filter(pk__in=ids).values_list("attempts", flat=True)) == {1}
