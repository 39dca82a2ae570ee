"""One waiting task per key: coalescing "process what arrived" tasks for the ingest edges.

The webhook edge and the tracking edge store raw input and need a task to process it. One task
per request would flood the queue, so each write only makes sure that *a* task for its key (an
inbox, the tracking intake) is waiting, not yet taken by a worker:

- with the database task queue, the check and, when needed, the new task row happen in the
  transaction that stores the input; the task row is locked with SKIP LOCKED (PostgreSQL), so a
  worker cannot claim it until the input is committed, and a task a worker is claiming right now
  is skipped (and another one enqueued). On SQLite the write lock serialises the two;
- other backends (immediate, dummy) enqueue after the commit: on the transaction's on-commit hook,
  or, when the caller passes `after_commit`, by the caller itself with `start` once it has answered
  (an immediate backend runs the task on enqueue, and an answer must not wait for that).

The id of the last task seen waiting is remembered per (task, key), so that the usual check is one
primary-key look-up instead of a search of the task table; `guarded_insert` folds that look-up into
the edges' event-loop writers' INSERT, so a batch is one statement and one round trip.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import Any

from django.db import connection, transaction
from django_tasks.base import Task

from omo.core.bulk import column_of

AnyTask = Task[..., Any]
TaskKey = int  # what a waiting task is for: an inbox id, the tracking intake's key

# (task path, key) → id of a task this process saw waiting (READY).
_known: dict[tuple[str, TaskKey], Any] = {}


def uses_database_queue(task: AnyTask) -> bool:
    return type(task.get_backend()).__module__.startswith("django_tasks_db")


def known(task: AnyTask, key: TaskKey) -> Any:
    """The id of the task for `key` this process last saw waiting, or None."""
    return _known.get((task.module_path, key))


def forget(task: AnyTask, key: TaskKey, task_id: Any) -> None:
    if _known.get((task.module_path, key)) == task_id:
        _known.pop((task.module_path, key), None)


def _remember(task: AnyTask, key: TaskKey, task_id: Any) -> None:
    _known[(task.module_path, key)] = task_id


def _waiting_select(id_match: str) -> str:
    """SELECT 1 from the task rows whose id matches `id_match` (`= %s`, `= ANY(%s)`) and that are
    still READY, share-locked with SKIP LOCKED where the database can: concurrent writers of one
    edge may all hold the lock, and each keeps a worker, whose claim takes FOR UPDATE SKIP LOCKED,
    from taking the task until it commits."""
    from django_tasks_db.models import DBTaskResult

    meta, ops = DBTaskResult._meta, connection.ops
    sql = (
        f"SELECT 1 FROM {ops.quote_name(meta.db_table)} WHERE {ops.quote_name(column_of(meta.pk))} {id_match}"  # noqa: S608
        f" AND {ops.quote_name(column_of(meta.get_field('status')))} = %s"
    )
    if connection.features.has_select_for_update_skip_locked:
        sql += " FOR SHARE SKIP LOCKED"
    return sql


@functools.cache
def still_waiting_sql() -> str:
    """Is this task row still READY? (`still_waiting_params`)"""
    return _waiting_select("= %s")


def still_waiting_params(task_id: Any) -> list[Any]:
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    return [DBTaskResult._meta.pk.get_db_prep_value(task_id, connection), TaskResultStatus.READY.value]


def ready_task_exists(task: AnyTask, key: TaskKey) -> bool:
    """Is a task for `key` waiting, not yet taken by a worker? (In the input's transaction.)"""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    task_id = known(task, key)
    if task_id is not None:
        with connection.cursor() as cursor:
            cursor.execute(still_waiting_sql(), still_waiting_params(task_id))
            if cursor.fetchone() is not None:
                return True
        forget(task, key, task_id)
    waiting = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path=task.module_path, args_kwargs__args__0=key
    )
    if connection.features.has_select_for_update_skip_locked:
        waiting = waiting.select_for_update(skip_locked=True)
    found = waiting.values_list("pk", flat=True).first()
    if found is not None:
        _known[(task.module_path, key)] = found
    return found is not None


def ensure(task: AnyTask, keys: Iterable[TaskKey], *, after_commit: list[TaskKey] | None = None) -> None:
    """Make sure a task will run for each key. Call inside the transaction that stores the input."""
    ids = sorted(set(keys))
    if uses_database_queue(task):
        for key in ids:
            if not ready_task_exists(task, key):
                result = task.enqueue(key)
                # Remembered only after commit: a rolled-back task must not be trusted later.
                transaction.on_commit(functools.partial(_remember, task, key, result.id))
        return
    if after_commit is not None:
        after_commit.extend(ids)
        return
    transaction.on_commit(lambda: start(task, ids))


def start(task: AnyTask, keys: Iterable[TaskKey]) -> None:
    """Enqueue the task for keys whose input is committed (backends other than the database queue)."""
    for key in sorted(set(keys)):
        task.enqueue(key)


def guarded_insert(statement: str) -> str:
    """`statement` (an INSERT … SELECT … FROM …) made to insert only while every task of the given
    ids is still waiting, in one statement: the task rows stay share-locked (`_waiting_select`)
    until it commits. Parameters: [task ids, READY], the statement's own, then the number of ids.
    No row is inserted when a task was taken (PostgreSQL only)."""
    return f"WITH waiting AS ({_waiting_select('= ANY(%s)')}) {statement} WHERE (SELECT count(*) FROM waiting) = %s"


def guarded_params(task_ids: list[Any], params: list[Any]) -> list[Any]:
    from django_tasks.base import TaskResultStatus

    return [list(task_ids), TaskResultStatus.READY.value, *params, len(task_ids)]


def forget_all(task: AnyTask, keys: Iterable[TaskKey]) -> None:
    """A guarded insert found a task taken (it does not say which): look them all up again."""
    for key in keys:
        _known.pop((task.module_path, key), None)
