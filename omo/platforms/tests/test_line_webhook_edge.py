"""The webhook edge: authenticate, validate size and shape, store receipts once, answer fast."""

from __future__ import annotations

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

import omo.platforms.edge as edge_module
from omo.core.edge import AsyncPostgresCommitter, GroupCommitWriter, run_in_calling_thread
from omo.devtools import line_webhook_sender as wh
from omo.inbox.models import Inbox, Message, WebhookIntake, WebhookReceipt
from omo.platforms.edge import WebhookEdge, commit_receipts, receipt_entries, start_processing
from omo.platforms.line.webhook import LineWebhook
from omo.platforms.tasks import process_pending, process_receipts
from omo.testing.line import call_asgi, inline_edge, post_line_webhook

pytestmark = pytest.mark.django_db


JSON = {"content-type": "application/json; charset=utf-8"}  # what LINE sends


def _signed(secret: str, body: bytes) -> dict[str, str]:
    return {"x-line-signature": wh.sign(secret, body), **JSON}


def _process_tasks() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=process_receipts.module_path))


def test_events_are_stored_once_each_and_answered_200(line_inbox, line_user):
    events = [wh.text_event(line_user.user_id, f"訊息 {i}") for i in range(5)]

    status, body = post_line_webhook(line_inbox, *events)

    assert (status, body) == (200, {"received": 5})
    receipts = WebhookReceipt.objects.filter(inbox=line_inbox).order_by("id")
    assert [r.event_id for r in receipts] == [e["webhookEventId"] for e in events]
    assert {r.event_type for r in receipts} == {"message"}
    assert all(r.status == WebhookReceipt.Status.PENDING for r in receipts)
    assert receipts[0].payload == events[0]
    assert receipts[0].occurred_at.timestamp() * 1000 == events[0]["timestamp"]
    # the processing task was enqueued in the same transaction
    assert [t.args_kwargs["args"] for t in _process_tasks()] == [[line_inbox.pk]]


def test_redelivery_is_a_no_op(line_inbox, line_user):
    event = wh.text_event(line_user.user_id, "只收一次")
    assert post_line_webhook(line_inbox, event)[0] == 200

    status, _ = post_line_webhook(line_inbox, wh.redelivery_of(event))

    assert status == 200
    assert WebhookReceipt.objects.filter(inbox=line_inbox).count() == 1


def test_empty_events_is_a_connectivity_check(line_inbox):
    status, body = post_line_webhook(line_inbox, body=b'{"destination":"Uxxx","events":[]}')

    assert (status, body) == (200, {"received": 0})
    assert not WebhookReceipt.objects.exists()
    assert not _process_tasks()


@pytest.mark.parametrize("signature", ["", "bm90IHRoZSBzaWduYXR1cmU=", "ünicode"])
def test_bad_or_missing_signature_is_401_and_nothing_stored(line_inbox, line_user, signature):
    status, body = post_line_webhook(line_inbox, wh.follow_event(line_user.user_id), signature=signature)

    assert status == 401
    assert body["error"] == "invalid_signature"
    assert not WebhookReceipt.objects.exists()
    assert not _process_tasks()


def test_signature_of_another_body_is_401(line_inbox, line_user):
    signed = wh.webhook_body(line_inbox.bot_user_id, [wh.text_event(line_user.user_id, "a")])
    tampered = signed.replace(b'"a"', b'"b"')

    status, _ = post_line_webhook(
        line_inbox, body=tampered, signature=wh.sign(line_inbox.secrets["channel_secret"], signed)
    )

    assert status == 401
    assert not WebhookReceipt.objects.exists()


def test_signature_header_name_is_case_insensitive(line_inbox, line_user):
    body = wh.webhook_body(line_inbox.bot_user_id, [wh.follow_event(line_user.user_id)])
    signature = wh.sign(line_inbox.secrets["channel_secret"], body)

    status, _ = post_line_webhook(
        line_inbox, body=body, signature="", headers={"X-LINE-SIGNATURE": signature}
    )

    assert status == 200


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"destination": "U1"}',
        b'{"events": {}}',
        b'{"events": ["x"]}',
        b"\xff\xfe",
        b"",
    ],
)
def test_malformed_body_is_400_and_nothing_stored(line_inbox, body):
    status, answer = post_line_webhook(line_inbox, body=body)

    assert status == 400
    assert answer["error"] == "malformed"
    assert not WebhookReceipt.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 100_000,  # the standard parser's RecursionError used to answer 500
        b'{"events": [{"type": "message", "x": ' + b"[" * 5_000 + b"]" * 5_000 + b"}]}",
        # parses (within orjson's 1,024 levels) but cannot be stored: refused once storing fails
        b'{"events": [{"type": "message", "webhookEventId": "01J", "x": '
        + b"[" * 1_000
        + b"]" * 1_000
        + b"}]}",
        b'{"events": [{"type": "message", "x": ' + b"[" * 1_000 + b"]" * 1_000 + b"}]}",
    ],
)
def test_deeply_nested_json_is_400_and_nothing_stored(line_inbox, body):
    status, answer = post_line_webhook(line_inbox, body=body)

    assert status == 400
    assert answer == {"error": "malformed", "message": "the JSON is nested too deeply"}
    assert not WebhookReceipt.objects.exists() and not WebhookIntake.objects.exists()


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "application/jsonp", "multipart/form-data", None],
)
def test_a_body_that_is_not_sent_as_json_is_415_whatever_its_signature(line_inbox, line_user, content_type):
    body = wh.webhook_body(line_inbox.bot_user_id, [wh.text_event(line_user.user_id, "hi")])
    headers = _signed(line_inbox.secrets["channel_secret"], body)
    if content_type is None:
        del headers["content-type"]
    else:
        headers["content-type"] = content_type

    status, answer = async_to_sync(call_asgi)(inline_edge(), f"/webhooks/line/{line_inbox.pk}", body, headers)

    assert (status, answer["error"]) == (415, "unsupported_media_type")
    assert answer["message"] == "the body must be sent as Content-Type: application/json"
    assert not WebhookReceipt.objects.exists()


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON ;charset=UTF-8"]
)
def test_json_content_types_are_accepted(line_inbox, line_user, content_type):
    body = wh.webhook_body(line_inbox.bot_user_id, [wh.text_event(line_user.user_id, "hi")])
    status, _ = post_line_webhook(line_inbox, body=body, headers={"content-type": content_type})
    assert status == 200


def test_oversized_body_is_413_by_header_and_by_bytes_read(line_inbox, line_user):
    big = wh.webhook_body(line_inbox.bot_user_id, [wh.text_event(line_user.user_id, "字" * 400_000)])
    assert len(big) > 1024 * 1024

    status, body = post_line_webhook(line_inbox, body=big)
    assert (status, body["error"]) == (413, "payload_too_large")

    # a client that lies about (or omits) the length is cut off while reading
    status, _ = post_line_webhook(line_inbox, body=big, headers={"content-length": "10"}, chunk=64 * 1024)
    assert status == 413
    assert not WebhookReceipt.objects.exists()


def test_unknown_or_inactive_inbox_is_404(line_inbox, line_user):
    event = wh.follow_event(line_user.user_id)
    body = wh.webhook_body(line_inbox.bot_user_id, [event])
    signature = wh.sign(line_inbox.secrets["channel_secret"], body)
    status, _ = async_to_sync(call_asgi)(
        inline_edge(), "/webhooks/line/999999", body, {"x-line-signature": signature, **JSON}
    )
    assert status == 404

    Inbox.objects.filter(pk=line_inbox.pk).update(is_active=False)
    status, answer = post_line_webhook(line_inbox, event)
    assert (status, answer["error"]) == (404, "unknown_inbox")
    assert not WebhookReceipt.objects.exists()


def test_only_post(line_inbox):
    status, _ = async_to_sync(call_asgi)(
        inline_edge(), f"/webhooks/line/{line_inbox.pk}", b"", {}, method="GET"
    )
    assert status == 405


def test_other_paths_go_to_the_wrapped_app():
    seen = []

    async def django_stand_in(scope, receive, send):
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    edge = WebhookEdge(django_stand_in, run_db=run_in_calling_thread)
    for path in ("/healthz", "/webhooks/shopify/3", "/webhooks/line/abc"):
        status, _ = async_to_sync(call_asgi)(edge, path, b"{}", {})
        assert status == 204
    assert seen == ["/healthz", "/webhooks/shopify/3", "/webhooks/line/abc"]


def test_rotated_secret_is_used_as_soon_as_the_inbox_is_saved(line_inbox, line_user):
    edge = WebhookEdge(
        None, run_db=run_in_calling_thread, run_lookup=run_in_calling_thread
    )  # the shared cache
    assert post_line_webhook(line_inbox, wh.follow_event(line_user.user_id), edge=edge)[0] == 200

    line_inbox.secrets = {**line_inbox.secrets, "channel_secret": "rotated-secret"}
    line_inbox.save()  # the save signal drops the cached credentials

    assert post_line_webhook(line_inbox, wh.follow_event(line_user.user_id), edge=edge)[0] == 200
    old_secret_body = wh.webhook_body(line_inbox.bot_user_id, [wh.follow_event(line_user.user_id)])
    status, _ = post_line_webhook(
        line_inbox, body=old_secret_body, signature=wh.sign("old", old_secret_body), edge=edge
    )
    assert status == 401
    assert WebhookReceipt.objects.count() == 2


def test_shared_cache_is_invalidated_by_save(line_inbox):
    from omo.platforms.edge import EdgeInbox, inbox_cache

    inbox_cache.put(line_inbox.pk, EdgeInbox(line_inbox.pk, "line", True, LineWebhook.for_inbox(line_inbox)))
    assert inbox_cache.get(line_inbox.pk)[0]
    line_inbox.save()
    assert inbox_cache.get(line_inbox.pk) == (False, None)


def test_event_without_webhook_event_id_gets_a_stable_id(line_inbox, line_user):
    event = wh.follow_event(line_user.user_id)
    del event["webhookEventId"]

    post_line_webhook(line_inbox, event)
    post_line_webhook(line_inbox, event)

    receipt = WebhookReceipt.objects.get()
    assert receipt.event_id.startswith("sha256:")


def test_one_burst_becomes_one_transaction_and_one_task(line_inbox, line_user):
    """Group commit: concurrent requests share a transaction; only one process task is waiting."""
    edge = inline_edge()
    bodies = [
        wh.webhook_body(
            line_inbox.bot_user_id, [wh.text_event(line_user.user_id, f"{i}-{j}") for j in range(5)]
        )
        for i in range(20)
    ]
    secret = line_inbox.secrets["channel_secret"]

    async def burst():
        return await asyncio.gather(
            *[
                call_asgi(edge, f"/webhooks/line/{line_inbox.pk}", body, _signed(secret, body))
                for body in bodies
            ]
        )

    answers = async_to_sync(burst)()

    assert [status for status, _ in answers] == [200] * 20
    assert WebhookReceipt.objects.filter(inbox=line_inbox).count() == 100
    writer = next(iter(edge._writers.values()))
    assert writer.batches < 20
    ready = [t for t in _process_tasks() if t.status == TaskResultStatus.READY]
    assert len(ready) == 1


def test_a_failing_request_does_not_fail_its_batch_neighbours(line_inbox, line_user, monkeypatch):
    def picky_commit(items):
        if any(row.payload.get("poison") for _, row, _ in receipt_entries(items)):
            raise ValueError("cannot store this one")
        return commit_receipts(items)

    monkeypatch.setattr(edge_module, "commit_receipts", picky_commit)
    good = wh.text_event(line_user.user_id, "ok")
    bad = {**wh.text_event(line_user.user_id, "bad"), "poison": True}
    edge = inline_edge()
    secret = line_inbox.secrets["channel_secret"]

    async def both():
        calls = []
        for event in (good, bad):
            body = wh.webhook_body(line_inbox.bot_user_id, [event])
            calls.append(call_asgi(edge, f"/webhooks/line/{line_inbox.pk}", body, _signed(secret, body)))
        return await asyncio.gather(*calls)

    (good_status, _), (bad_status, bad_body) = async_to_sync(both)()

    assert (good_status, bad_status, bad_body["error"]) == (200, 500, "not_stored")
    assert list(WebhookReceipt.objects.values_list("event_id", flat=True)) == [good["webhookEventId"]]


def test_answers_503_when_the_commit_misses_the_deadline(line_inbox, line_user, monkeypatch):
    async def slow_run_db(fn, *args):
        await asyncio.sleep(0.3)
        return await run_in_calling_thread(fn, *args)

    edge = WebhookEdge(
        None,
        run_db=slow_run_db,
        run_lookup=run_in_calling_thread,
        commit_timeout=0.05,
        cache=edge_module.InboxCache(),
    )

    status, body = post_line_webhook(line_inbox, wh.follow_event(line_user.user_id), edge=edge)

    assert (status, body["error"]) == (503, "busy")


def test_an_immediate_task_backend_runs_processing_after_the_answer(
    line_inbox, line_user, monkeypatch, settings
):
    """With a backend that runs tasks on enqueue, processing must not hold up the platform's 200."""
    import time

    import omo.platforms.tasks as tasks_module

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
    processed = []

    def slow_processing(inbox_id):
        time.sleep(0.4)
        processed.append(inbox_id)
        return {}

    monkeypatch.setattr(tasks_module, "process_pending", slow_processing)
    edge = WebhookEdge(
        None,
        run_db=run_in_calling_thread,
        run_lookup=run_in_calling_thread,
        commit_timeout=0.2,
        cache=edge_module.InboxCache(),
    )

    body = wh.webhook_body(line_inbox.bot_user_id, [wh.follow_event(line_user.user_id)])
    headers = _signed(line_inbox.secrets["channel_secret"], body)

    async def deliver():
        answer = await call_asgi(edge, f"/webhooks/line/{line_inbox.pk}", body, headers)
        processed_when_answered = list(processed)
        await edge.writer().wait_idle()
        return answer, processed_when_answered

    (status, answer), processed_when_answered = async_to_sync(deliver)()

    assert (status, answer) == (200, {"received": 1})
    assert processed_when_answered == []
    assert processed == [line_inbox.pk]  # it still ran, after the answer
    assert not _process_tasks()  # and no database task row was written


def test_writer_batches_respect_the_row_cap():
    done = []

    async def fake_db(fn, items):
        done.append(sum(len(rows) for _, rows in items))
        return []

    async def run():
        writer = GroupCommitWriter(fake_db, max_rows=10, commit_rows=commit_receipts, start=start_processing)
        rows = [object()] * 4
        futures = [await writer.write(1, rows) for _ in range(5)]
        await asyncio.gather(*futures)

    async_to_sync(run)()
    assert done == [8, 8, 4]


@pytest.mark.django_db(transaction=True)
def test_real_writer_thread_commits_before_answering(line_inbox, line_user):
    """The production edge: its own database thread and transactions, concurrent requests."""
    edge = WebhookEdge(None)
    secret = line_inbox.secrets["channel_secret"]
    bodies = [
        wh.webhook_body(line_inbox.bot_user_id, [wh.text_event(line_user.user_id, str(i))]) for i in range(30)
    ]

    async def burst():
        return await asyncio.gather(
            *[
                call_asgi(edge, f"/webhooks/line/{line_inbox.pk}", body, _signed(secret, body))
                for body in bodies
            ]
        )

    try:
        answers = async_to_sync(burst)()
    finally:
        edge.close()

    assert {status for status, _ in answers} == {200}
    stored = WebhookReceipt.objects.filter(inbox=line_inbox).count() + WebhookIntake.objects.count()
    assert stored == 30  # on PostgreSQL, requests that found the task waiting are stored whole
    process_pending(line_inbox.pk)
    assert WebhookReceipt.objects.filter(inbox=line_inbox).count() == 30
    assert json.loads(bodies[0])["events"][0]["webhookEventId"] in set(
        WebhookReceipt.objects.values_list("event_id", flat=True)
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_writer_runs_on_the_event_loop_and_enqueues_one_task(line_inbox, line_user):
    """On PostgreSQL the production writer commits on an asynchronous connection of the loop;
    only a batch whose inbox has no waiting task goes through the thread (which enqueues it)."""
    edge = WebhookEdge(None)
    secret = line_inbox.secrets["channel_secret"]
    url = f"/webhooks/line/{line_inbox.pk}"

    def bodies(start):
        return [
            wh.webhook_body(line_inbox.bot_user_id, [wh.text_event(line_user.user_id, str(i))])
            for i in range(start, start + 10)
        ]

    async def burst(batch):
        return await asyncio.gather(*[call_asgi(edge, url, body, _signed(secret, body)) for body in batch])

    async def two_bursts():
        first = await burst(bodies(0))
        second = await burst(bodies(10))
        writer = edge.writer()
        return first + second, writer

    try:
        answers, writer = async_to_sync(two_bursts)()
        committer = writer._commit_items
    finally:
        edge.close()

    assert {status for status, _ in answers} == {200}
    assert isinstance(committer, AsyncPostgresCommitter)
    # the first batch found no task and went through the thread (receipts and the task); later
    # ones found it waiting and stored each request whole, one intake row per request
    assert committer.fallbacks == 1
    assert writer.batches >= 2
    assert [t.status for t in _process_tasks()] == [TaskResultStatus.READY]
    receipts = WebhookReceipt.objects.filter(inbox=line_inbox).count()
    intakes = WebhookIntake.objects.filter(inbox=line_inbox).count()
    assert receipts + intakes == 20 and intakes >= 10
    stored_body = json.loads(bytes(WebhookIntake.objects.order_by("id").last().body))  # as received
    assert stored_body["destination"] == line_inbox.bot_user_id and len(stored_body["events"]) == 1

    # the waiting task splits the intakes into receipts first, then processes every event
    counts = process_pending(line_inbox.pk)
    assert counts == {"processed": 20}
    assert not WebhookIntake.objects.exists()
    assert WebhookReceipt.objects.filter(inbox=line_inbox, status="processed").count() == 20
    assert Message.objects.filter(direction="in").count() == 20


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_task_taken_by_a_worker_meanwhile_inserts_nothing_and_enqueues_a_new_one(line_inbox, line_user):
    """The event-loop writer's one statement inserts only while the remembered task still waits;
    when a worker has claimed it since, nothing is inserted and the batch goes the thread's way."""
    edge = WebhookEdge(None)
    secret = line_inbox.secrets["channel_secret"]
    url = f"/webhooks/line/{line_inbox.pk}"

    def request(i):
        body = wh.webhook_body(line_inbox.bot_user_id, [wh.text_event(line_user.user_id, str(i))])
        return call_asgi(edge, url, body, _signed(secret, body))

    async def scenario():
        first = await request(0)  # no task known: receipts and a task, through the thread
        second = await request(1)  # the task waits: one intake row
        (task,) = await sync_to_async(_process_tasks)()
        await sync_to_async(DBTaskResult.objects.filter(pk=task.pk).update)(status=TaskResultStatus.RUNNING)
        third = await request(2)  # claimed meanwhile: the guarded insert stores nothing
        return [first, second, third], edge.writer()._commit_items

    try:
        answers, committer = async_to_sync(scenario)()
    finally:
        edge.close()

    assert [status for status, _ in answers] == [200, 200, 200]
    assert committer.fallbacks == 2
    assert WebhookIntake.objects.filter(inbox=line_inbox).count() == 1
    assert WebhookReceipt.objects.filter(inbox=line_inbox).count() == 2  # the first and the third
    assert sorted(t.status for t in _process_tasks()) == [TaskResultStatus.READY, TaskResultStatus.RUNNING]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_redelivered_request_stored_whole_is_still_a_no_op(line_inbox, line_user):
    edge = WebhookEdge(None)
    secret = line_inbox.secrets["channel_secret"]
    body = wh.webhook_body(
        line_inbox.bot_user_id,
        [
            wh.text_event(line_user.user_id, "一"),
            wh.text_event(line_user.user_id, "二", timestamp=wh.now_ms() + 1),
        ],
    )

    async def post():
        return await call_asgi(edge, f"/webhooks/line/{line_inbox.pk}", body, _signed(secret, body))

    try:
        first, second, third = (async_to_sync(post)() for _ in range(3))
    finally:
        edge.close()

    assert [first[0], second[0], third[0]] == [200, 200, 200]
    assert (WebhookReceipt.objects.count(), WebhookIntake.objects.count()) == (2, 2)  # 1st: receipts
    process_pending(line_inbox.pk)
    assert WebhookReceipt.objects.count() == 2
    assert list(Message.objects.order_by("created_at").values_list("text", flat=True)) == ["一", "二"]


def test_an_intake_that_no_longer_parses_is_quarantined_with_its_reason(line_inbox, line_user):
    good = wh.webhook_body(line_inbox.bot_user_id, [wh.text_event(line_user.user_id, "好")])
    now = timezone.now()
    bad = WebhookIntake.objects.create(inbox=line_inbox, body=b'{"events": "not a list"}', received_at=now)
    WebhookIntake.objects.create(inbox=line_inbox, body=good, received_at=now)

    counts = process_pending(line_inbox.pk)

    assert counts == {"processed": 1}
    assert list(WebhookIntake.objects.values_list("pk", flat=True)) == [bad.pk]  # kept, body and all
    bad.refresh_from_db()
    assert (
        bad.failed_at is not None
        and bad.error == '{"reason":"unparseable","detail":"\\"events\\" must be a list"}'
    )
    assert bytes(bad.body) == b'{"events": "not a list"}'
    assert Message.objects.get().text == "好"


def test_deleting_an_inbox_deletes_its_intakes(line_inbox):
    WebhookIntake.objects.create(inbox=line_inbox, body=b"{}", received_at=timezone.now())
    line_inbox.delete()
    assert not WebhookIntake.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_postgres_writer_enqueues_again_once_a_worker_took_the_task(line_inbox, line_user):
    edge = WebhookEdge(None)
    secret = line_inbox.secrets["channel_secret"]
    url = f"/webhooks/line/{line_inbox.pk}"

    async def post(text):
        body = wh.webhook_body(line_inbox.bot_user_id, [wh.text_event(line_user.user_id, text)])
        return await call_asgi(edge, url, body, _signed(secret, body))

    try:
        assert async_to_sync(post)("一")[0] == 200
        # a worker claims the waiting task: the next receipt needs a new one
        DBTaskResult.objects.filter(task_path=process_receipts.module_path).update(
            status=TaskResultStatus.RUNNING
        )
        assert async_to_sync(post)("二")[0] == 200
    finally:
        edge.close()

    statuses = sorted(t.status for t in _process_tasks())
    assert statuses == sorted([TaskResultStatus.READY, TaskResultStatus.RUNNING])
    assert WebhookReceipt.objects.filter(inbox=line_inbox).count() == 2
