"""The tracking edge: calls stored as intakes and answered; the worker turns them into events.

The whole API contract (auth, limits, every call, duplicates, clock skew) runs through both the
view and the edge in test_ingest_api.py; these tests cover what only the edge path has.
"""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from asgiref.sync import async_to_sync
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from omo.core.edge import AsyncPostgresCommitter, run_in_calling_thread
from omo.testing.line import call_asgi
from omo.tracking import edge as edge_module
from omo.tracking import services
from omo.tracking.edge import SourceCache, TrackingEdge
from omo.tracking.models import TrackedEvent, TrackingIntake
from omo.tracking.tasks import process_intake

pytestmark = pytest.mark.django_db


@pytest.fixture
def write_key(brand):
    return services.create_source(brand, name="web", actor=None)[1]


def _headers(key: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


def _batch(*messages) -> bytes:
    return json.dumps({"batch": list(messages)}).encode()


def _page(n: int, anonymous_id: str = "anon-1") -> dict:
    return {"type": "page", "anonymousId": anonymous_id, "name": f"p{n}", "messageId": f"m{n}"}


def _inline() -> TrackingEdge:
    return TrackingEdge(None, run_db=run_in_calling_thread, cache=SourceCache())


def _tasks() -> list[DBTaskResult]:
    return list(DBTaskResult.objects.filter(task_path=process_intake.module_path))


def test_call_is_stored_as_an_intake_and_answered_before_any_event(brand, write_key):
    body = _batch(_page(1), {"type": "track", "anonymousId": "a"}, _page(2))

    status, answer = async_to_sync(call_asgi)(_inline(), "/v1/batch", body, _headers(write_key))

    assert status == 200
    assert answer == {"success": True, "rejected": [{"index": 1, "error": "event is required for track"}]}
    intake = TrackingIntake.objects.get()
    assert (intake.brand, intake.call, intake.rejected, intake.status) == (brand, "batch", [1], "pending")
    assert json.loads(bytes(intake.body)) == json.loads(body)
    assert not TrackedEvent.objects.exists()
    assert [t.status for t in _tasks()] == [TaskResultStatus.READY]


def test_worker_turns_many_calls_into_events_once_each(brand, write_key):
    edge = _inline()
    for batch in ([_page(1), _page(2)], [_page(2), _page(3)], [_page(3)]):  # retried messages
        assert async_to_sync(call_asgi)(edge, "/v1/batch", _batch(*batch), _headers(write_key))[0] == 200
    assert len(_tasks()) == 1  # one waiting task for all of them

    counts = services.process_intakes()

    assert counts == {"calls": 3, "events": 3, "failed": 0, "more": 0}
    assert sorted(TrackedEvent.objects.filter(brand=brand).values_list("message_id", flat=True)) == [
        "m1",
        "m2",
        "m3",
    ]
    assert set(TrackingIntake.objects.values_list("status", flat=True)) == {"processed"}
    assert sorted(TrackingIntake.objects.values_list("events", flat=True)) == [0, 1, 2]


def test_all_messages_rejected_stores_nothing(write_key):
    status, answer = async_to_sync(call_asgi)(
        _inline(), "/v1/batch", _batch({"type": "page"}), _headers(write_key)
    )
    assert (status, answer["rejected"][0]["error"]) == (400, "userId or anonymousId is required")
    assert not TrackingIntake.objects.exists() and not _tasks()


def test_single_call_with_a_bad_message_is_400_and_not_stored(write_key):
    body = json.dumps({"userId": "u1", "event": "E", "timestamp": "yesterday"}).encode()
    status, answer = async_to_sync(call_asgi)(_inline(), "/v1/track", body, _headers(write_key))
    assert (status, answer) == (400, {"success": False, "message": "timestamp is not an ISO-8601 timestamp"})
    assert not TrackingIntake.objects.exists()


def test_a_call_that_fails_in_the_worker_is_marked_failed_and_the_others_stored(brand, write_key):
    edge = _inline()
    for n in (1, 2, 3):
        async_to_sync(call_asgi)(edge, "/v1/batch", _batch(_page(n)), _headers(write_key))
    broken = TrackingIntake.objects.order_by("id")[1]
    TrackingIntake.objects.filter(pk=broken.pk).update(body=b"{not json")

    counts = services.process_intakes()

    assert counts["calls"] == 2 and counts["failed"] == 1
    broken.refresh_from_db()
    assert broken.status == "failed" and "JSONDecodeError" in broken.error
    assert sorted(TrackedEvent.objects.values_list("message_id", flat=True)) == ["m1", "m3"]


def test_the_task_processes_and_asks_for_another_when_rounds_run_out(write_key, monkeypatch):
    edge = _inline()
    for n in range(3):
        async_to_sync(call_asgi)(edge, "/v1/batch", _batch(_page(n)), _headers(write_key))
    real = services.process_intakes
    monkeypatch.setattr(services, "process_intakes", lambda: real(max_rows=1, max_rounds=2))
    DBTaskResult.objects.update(status=TaskResultStatus.RUNNING)  # as a worker runs it

    counts = process_intake.call()

    assert (counts["calls"], counts["more"]) == (2, 1)
    assert [t.status for t in _tasks() if t.status == TaskResultStatus.READY] == [TaskResultStatus.READY]


def test_other_paths_go_to_the_wrapped_app():
    seen = []

    async def app(scope, receive, send):
        seen.append(scope["path"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    edge = TrackingEdge(app, run_db=run_in_calling_thread, cache=SourceCache())
    for path in ("/v1/batches", "/api/v1/orders", "/v1/"):
        assert async_to_sync(call_asgi)(edge, path, b"", {})[0] == 204
    assert seen == ["/v1/batches", "/api/v1/orders", "/v1/"]


def test_commit_slower_than_the_clients_wait_is_503(write_key, monkeypatch):
    async def never(fn, *args):
        if fn is edge_module.commit_intakes:
            await asyncio.sleep(5)
        return await run_in_calling_thread(fn, *args)

    edge = TrackingEdge(None, run_db=never, cache=SourceCache(), commit_timeout=0.05)
    status, answer = async_to_sync(call_asgi)(edge, "/v1/batch", _batch(_page(1)), _headers(write_key))
    assert status == 503 and "retry" in answer["message"]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_production_edge_on_postgres_commits_on_the_event_loop(brand, write_key):
    edge = TrackingEdge(None, cache=SourceCache())

    async def bursts():
        answers = []
        for start in (0, 10):
            answers += await asyncio.gather(
                *[
                    call_asgi(edge, "/v1/batch", _batch(_page(n, f"anon-{n}")), _headers(write_key))
                    for n in range(start, start + 10)
                ]
            )
        return answers, edge.writer()

    try:
        answers, writer = async_to_sync(bursts)()
        committer = writer._commit_items
    finally:
        edge.close()

    assert {status for status, _ in answers} == {200}
    assert isinstance(committer, AsyncPostgresCommitter) and committer.fallbacks == 1
    assert TrackingIntake.objects.count() == 20 and len(_tasks()) == 1
    assert services.process_intakes()["events"] == 20
    assert TrackedEvent.objects.filter(brand=brand).count() == 20
