"""`omo worker`: runs tasks enqueued through django_tasks, honours run_after, and keeps a heartbeat."""

from __future__ import annotations

import signal
import time
import uuid
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from omo.core import worker
from omo.core.models import WorkerHeartbeat
from omo.core.tasks import heartbeat_probe, probe_cache_key
from omo.core.tests.processes import child_env, database_url_of_test_db, start_omo

WORKER_SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGQUIT]


@pytest.fixture
def keep_signal_handlers():
    """db_worker installs its own SIGINT/SIGTERM handlers; give pytest its own back afterwards."""
    saved = {sig: signal.getsignal(sig) for sig in WORKER_SIGNALS}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def run_worker_batch() -> None:
    call_command("worker", "--batch", "--no-startup-delay", "--worker-id", "test-host:1", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_worker_runs_due_tasks_and_leaves_delayed_ones_until_their_time(keep_signal_handlers):
    # Given a task due now and one due in an hour
    now_token, later_token = uuid.uuid4().hex, uuid.uuid4().hex
    due = heartbeat_probe.enqueue(now_token)
    delayed = heartbeat_probe.using(run_after=timezone.now() + timedelta(hours=1)).enqueue(later_token)
    assert due.status == TaskResultStatus.READY

    # When a worker runs everything that is due
    run_worker_batch()

    # Then the due task ran, inside a worker that was beating, and the delayed one did not run
    due.refresh()
    assert due.status == TaskResultStatus.SUCCESSFUL
    assert due.return_value["token"] == now_token
    assert due.return_value["workers"] == ["test-host:1"]
    assert cache.get(probe_cache_key(now_token)) == due.return_value["ran_at"]

    delayed.refresh()
    assert delayed.status == TaskResultStatus.READY
    assert cache.get(probe_cache_key(later_token)) is None

    # and the worker removed its heartbeat when it exited
    assert not WorkerHeartbeat.objects.exists()

    # When the delayed task's time has come
    DBTaskResult.objects.filter(id=delayed.id).update(run_after=timezone.now() - timedelta(seconds=1))
    run_worker_batch()

    # Then it runs too, exactly once
    delayed.refresh()
    assert delayed.status == TaskResultStatus.SUCCESSFUL
    assert delayed.return_value["token"] == later_token
    assert DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).count() == 2


@pytest.mark.django_db(transaction=True)
def test_heartbeat_beats_until_stopped_then_forgets_the_worker():
    with worker.Heartbeat("host-a:42", interval=0.05) as heartbeat:
        first = WorkerHeartbeat.objects.get(worker_id="host-a:42")
        assert first.started_at == heartbeat.started_at
        deadline = time.monotonic() + 10
        while WorkerHeartbeat.objects.get(worker_id="host-a:42").last_seen_at == first.last_seen_at:
            assert time.monotonic() < deadline, "the heartbeat thread never beat again"
            time.sleep(0.05)
        assert WorkerHeartbeat.objects.count() == 1  # upserted, not one row per beat
    assert not WorkerHeartbeat.objects.filter(worker_id="host-a:42").exists()


@pytest.mark.django_db
def test_rows_of_long_dead_workers_are_forgotten_and_fresh_ones_kept():
    now = timezone.now()
    worker.beat("dead:1", started_at=now - timedelta(days=3), now=now - timedelta(days=2))
    worker.beat("alive:2", started_at=now, now=now - timedelta(seconds=5))

    assert worker.forget_dead_workers(now=now) == 1
    assert list(WorkerHeartbeat.objects.values_list("worker_id", flat=True)) == ["alive:2"]
    assert worker.last_seen_seconds(now=now) == pytest.approx(5, abs=0.01)


def test_default_worker_id_is_host_and_pid_within_db_workers_limit():
    worker_id = worker.default_worker_id()
    host, pid = worker_id.rsplit(":", 1)
    assert host and int(pid) > 0
    assert len(worker_id) <= worker.MAX_WORKER_ID_LENGTH


@pytest.mark.django_db(transaction=True)
def test_omo_worker_process_runs_tasks_and_exits_cleanly_on_sigterm():
    # Given a task waiting in the queue and a real `omo worker` process on the test database
    result = heartbeat_probe.enqueue("from-a-real-process")
    process = start_omo(
        "worker",
        "--interval",
        "0.2",
        "--no-startup-delay",
        env=child_env(DATABASE_URL=database_url_of_test_db()),
    )
    try:
        # When it has had time to start
        deadline = time.monotonic() + 60
        while True:
            result.refresh()
            if result.status == TaskResultStatus.SUCCESSFUL:
                break
            assert process.poll() is None, f"omo worker exited with {process.returncode}"
            assert time.monotonic() < deadline, f"the task is still {result.status}"
            time.sleep(0.2)

        # Then it ran the task and its heartbeat names it as hostname:pid
        (worker_id,) = WorkerHeartbeat.objects.values_list("worker_id", flat=True)
        assert worker_id.endswith(f":{process.pid}")
        assert result.return_value["workers"] == [worker_id]

        # When it is asked to stop, it stops cleanly and removes its heartbeat
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        assert not WorkerHeartbeat.objects.exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_until_done(result, seconds: float) -> float:
    """Seconds until `result` succeeded; fails after `seconds`."""
    started = time.monotonic()
    while True:
        result.refresh()
        if result.status == TaskResultStatus.SUCCESSFUL:
            return time.monotonic() - started
        assert time.monotonic() - started < seconds, f"the task is still {result.status}"
        time.sleep(0.02)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_new_task_wakes_an_idle_worker_process_at_once_on_postgresql():
    # Given an idle worker that would only look at the queue every 60 s
    process = start_omo(
        "worker",
        "--interval",
        "60",
        "--no-startup-delay",
        env=child_env(DATABASE_URL=database_url_of_test_db()),
    )
    try:
        deadline = time.monotonic() + 60
        while not WorkerHeartbeat.objects.exists():
            assert process.poll() is None and time.monotonic() < deadline, "omo worker did not start"
            time.sleep(0.1)
        time.sleep(1)  # it has looked once and is waiting now

        # When a task is enqueued, it runs within moments, not at the next look
        assert _wait_until_done(heartbeat_probe.enqueue("wake-up"), seconds=5) < 5
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


@pytest.mark.django_db(transaction=True)
def test_embedded_worker_runs_tasks_enqueued_in_its_process_at_once_and_stops_cleanly():
    # Given a worker thread in this process that would look at the queue only every 60 s
    embedded = worker.EmbeddedWorker(interval=60).start()
    try:
        time.sleep(0.5)
        assert WorkerHeartbeat.objects.filter(worker_id=embedded.worker_id).exists()

        # When a task is enqueued here, the in-process bell wakes it
        result = heartbeat_probe.enqueue("embedded")
        assert _wait_until_done(result, seconds=5) < 5
        assert result.return_value["workers"] == [embedded.worker_id]
    finally:
        started = time.monotonic()
        embedded.stop()
    assert time.monotonic() - started < 5
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_bell_that_lost_its_listen_connection_listens_again():
    from django.db import connection

    from omo.core import taskwake
    from omo.core.taskwake import Bell

    bell = Bell()
    try:
        bell._listener.close()  # the database dropped the connection
        taskwake._local_bell.clear()  # earlier tests in this process may have rung it
        assert bell.wait(0.2) is False  # noticed: polls for now
        assert bell._listener is None
        bell._next_attempt = 0  # the retry delay has passed

        taskwake._local_bell.clear()
        assert bell.wait(0.2) is False  # nothing to do, but it listens again
        assert bell._listener is not None
        with connection.cursor() as cursor:
            cursor.execute("NOTIFY omo_tasks")
        assert bell.wait(5) is True
    finally:
        bell.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_keeps_its_database_connection_between_tasks(monkeypatch):
    """The web default (CONN_MAX_AGE 0) closes the connection at the end of every task."""
    from django.db import close_old_connections, connection, connections

    settings_dict = connections.settings["default"]
    monkeypatch.setitem(settings_dict, "CONN_MAX_AGE", 0)
    monkeypatch.setitem(settings_dict, "CONN_HEALTH_CHECKS", False)
    connection.close()
    connection.ensure_connection()
    close_old_connections()  # what the worker loop does after each task
    assert connection.connection is None

    worker.keep_connections_open(max_age=300)
    connection.ensure_connection()
    kept = connection.connection
    close_old_connections()
    connection.ensure_connection()
    assert connection.connection is kept
    assert (settings_dict["CONN_MAX_AGE"], settings_dict["CONN_HEALTH_CHECKS"]) == (300, True)

    monkeypatch.setitem(settings_dict, "CONN_MAX_AGE", None)  # configured: never closed by age
    worker.keep_connections_open(max_age=300)
    assert settings_dict["CONN_MAX_AGE"] is None
    connection.close()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_ready_task_locked_by_a_writer_is_looked_at_again_shortly_not_after_the_interval():
    """An ingest edge share-locks the waiting task while its input commits; a worker that looks
    just then skips the row. No bell rings for it, so the worker must look again within ms."""
    import psycopg

    result = heartbeat_probe.enqueue(uuid.uuid4().hex)
    waking = worker.WakingWorker.for_all_queues("test-host:2")
    with psycopg.connect(**worker_connection_params()) as writer, writer.transaction():
        writer.execute(f"SELECT 1 FROM {DBTaskResult._meta.db_table} WHERE id = %s FOR SHARE", [result.id])
        looked, claimed = waking._claim()
        assert looked and claimed is None and waking.skipped
    looked, claimed = waking._claim()
    assert claimed is not None and str(claimed.pk) == str(result.id) and not waking.skipped
    assert worker.LOCKED_TASK_RETRY < 0.05


def worker_connection_params() -> dict:
    from omo.core.edge import AsyncPostgresCommitter

    return AsyncPostgresCommitter.connection_params()


@pytest.mark.django_db
def test_an_idle_worker_enqueues_the_periodic_jobs_that_are_due(settings):
    """The registered periodic jobs are enqueued by the worker loop, once per interval; the ones
    with a time of day wait for it."""
    from django_tasks_db.models import DBTaskResult

    from omo.core import schedule
    from omo.core.worker import WakingWorker

    settings.OMO_PERIODIC_JOBS = True
    names = {job.name for job in schedule.registered()}
    assert {"loyalty.nightly", "inbox.escalate_and_return", "customers.purge_expired"} <= names
    worker = WakingWorker.for_all_queues("test-worker", schedule_tick_seconds=0)

    now_due = {job.name for job in schedule.registered() if job.at is None}
    assert {"inbox.escalate_and_return"} <= now_due and "loyalty.nightly" not in now_due
    assert sorted(worker.enqueue_due_jobs()) == sorted(now_due)
    assert worker.enqueue_due_jobs() == []  # nothing is due again until its interval has passed
    paths = set(DBTaskResult.objects.values_list("task_path", flat=True))
    assert {job.task_path for job in schedule.registered() if job.at is None} == paths

    settings.OMO_PERIODIC_JOBS = False
    schedule_off = WakingWorker.for_all_queues("test-worker-2", schedule_tick_seconds=0)
    assert schedule_off.enqueue_due_jobs() == []
