"""The CSV import engine: decode, check the header, check and apply rows in chunks, report per row.

Each kind (products, stock, customers, orders) has an Importer in its app's `importers.py` that
turns rows into a parsed unit (`check`, which never writes) and applies it (`apply`). The engine
owns transactions, modes and progress:

- valid_rows: each unit is checked and applied in its own savepoint; bad units are reported and
  the rest are applied. Chunks commit one by one, so progress is visible while the job runs.
- all_or_nothing: every unit is checked first; if any is bad nothing is applied. Otherwise all
  are applied in one transaction, and an error found while applying rolls everything back.

An importer that can write many units at once (`apply_many`, e.g. orders through the set-wise
order batch) gets each chunk's checked units together, in one transaction per chunk; it reports
a unit the database refuses as that unit's error without writing any of it. If the chunk's
writing fails as a whole (a clash with a concurrent writer), the chunk is rolled back and applied
unit by unit, each in its own savepoint, as for any other importer. The outcome, row errors
included, is the same either way.

Row numbers are what a spreadsheet shows: the header is row 1, the first data row is row 2.
"""

from __future__ import annotations

import csv
import io
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from omo.core import audit
from omo.core.audit import Actor
from omo.core.errors import DomainError
from omo.core.models import Brand, ImportJob

logger = logging.getLogger(__name__)

ENCODINGS = ("utf-8-sig", "cp950", "big5hkscs")
MAX_STORED_ERRORS = 1000
CHUNK_ROWS = 200

ProgressCallback = Callable[[ImportJob], None]


class ImportFileError(DomainError, ValueError):
    """The file as a whole cannot be imported (encoding, not a CSV, missing columns)."""

    def __init__(self, field: str, message: str):
        super().__init__(message, field=field)


@dataclass(frozen=True)
class Problem:
    row: int | None
    field: str
    error: str


class RowsInvalid(DomainError):
    """One or more problems in a unit of rows; `row=None` means the unit's first row."""

    def __init__(self, problems: list[Problem]):
        super().__init__("; ".join(f"{p.field}: {p.error}" for p in problems))
        self.problems = problems


class RowInvalid(RowsInvalid):
    def __init__(self, field: str, message: str, row: int | None = None):
        super().__init__([Problem(row, field, message)])


@dataclass
class Unit:
    """Rows that are checked and applied together: one row, or all the rows of one order."""

    rows: list[int]
    records: list[dict[str, str]]


@dataclass
class ImportContext:
    brand: Brand
    actor: Actor
    job_id: int | None = None
    cache: dict[str, dict[Any, Any]] = field(default_factory=dict)

    def memo(self, name: str) -> dict[Any, Any]:
        return self.cache.setdefault(name, {})


class Importer(ABC):
    kind: str
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()  # at least one of these columns must be present
    optional: tuple[str, ...] = ()
    chunk_rows: int = CHUNK_ROWS  # rows per chunk (each chunk commits, then progress is saved)
    batched: bool = False  # whether apply_many writes a chunk's units together

    def units(self, rows: list[tuple[int, dict[str, str]]]) -> list[Unit]:
        return [Unit([number], [record]) for number, record in rows]

    def prepare(self, units: list[Unit], ctx: ImportContext) -> None:
        """Read ahead, into ctx's memos, what checking these units looks up (one query per chunk
        instead of one per value). Optional."""
        return None

    @abstractmethod
    def check(self, unit: Unit, ctx: ImportContext) -> Any:
        """Parse and validate a unit without writing; raise RowsInvalid naming row and column."""

    @abstractmethod
    def apply(self, parsed: Any, ctx: ImportContext) -> None:
        """Write what `check` returned; raise RowsInvalid when the data conflicts with the database."""

    def apply_many(self, parsed: list[Any], ctx: ImportContext) -> list[RowsInvalid | None]:
        """Write what `check` returned for many units (`batched` importers): per unit None when it
        was applied, or the RowsInvalid that `apply` would raise for it (nothing of it written).
        Raising (IntegrityError) rolls the whole chunk back; it is then applied unit by unit."""
        raise NotImplementedError(f"the {self.kind} importer writes unit by unit")


_importers: dict[str, Callable[[], Importer]] = {}


def register_importer(kind: str, importer: Callable[[], Importer]) -> None:
    """The app that owns a kind of rows registers how to import them (from its AppConfig.ready)."""
    if kind not in ImportJob.Kind.values:
        raise ValueError(f"unknown import kind {kind!r}")
    existing = _importers.get(kind)
    if existing is not None and existing is not importer:
        raise ValueError(f"import kind {kind!r} already has an importer")
    _importers[kind] = importer


def importer_for(kind: str) -> Importer:
    importer = _importers.get(kind)
    if importer is None:
        raise ImportFileError(
            "kind", f"unknown import kind {kind!r}; use one of {', '.join(sorted(_importers))}"
        )
    return importer()


# --- reading the file -------------------------------------------------------------------------


def decode_csv(raw: bytes) -> str:
    """Text of an uploaded CSV: UTF-8 (with or without BOM), else Big5 (cp950, then HKSCS)."""
    if not raw.strip():
        raise ImportFileError("file", "the file is empty")
    if raw[:4] == b"PK\x03\x04" or raw[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1":
        raise ImportFileError(
            "file", "this is an Excel workbook, not a CSV: save it as CSV (UTF-8) and upload again"
        )
    if b"\x00" in raw[:4096]:
        raise ImportFileError(
            "file", "this is not a text CSV file (it contains NUL bytes; UTF-16 is not supported)"
        )
    for encoding in ENCODINGS:
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(
        "file",
        "cannot read the file: it is neither UTF-8 nor Big5 text. Save it as CSV (UTF-8) and upload again",
    )


def read_rows(content: str) -> tuple[list[str], list[tuple[int, dict[str, str]]]]:
    """The normalised header and the non-blank data rows as (spreadsheet row number, record)."""
    reader = csv.reader(io.StringIO(content.lstrip("\ufeff"), newline=""))
    try:
        header = next(reader)
    except StopIteration as exc:
        raise ImportFileError("file", "the file has no header row") from exc
    except csv.Error as exc:
        raise ImportFileError("file", f"not a readable CSV: {exc}") from exc
    header = [name.strip().lower().lstrip("\ufeff") for name in header]
    rows: list[tuple[int, dict[str, str]]] = []
    number = 1
    try:
        for values in reader:
            number += 1
            if not any(value.strip() for value in values):
                continue
            record = {
                name: (values[i].strip() if i < len(values) else "") for i, name in enumerate(header) if name
            }
            if len(values) > len(header) and any(value.strip() for value in values[len(header) :]):
                record["__extra__"] = "1"
            rows.append((number, record))
    except csv.Error as exc:
        raise ImportFileError("file", f"row {number + 1} cannot be read as CSV: {exc}") from exc
    return header, rows


def check_header(importer: Importer, header: list[str]) -> None:
    missing = [name for name in importer.required if name not in header]
    if missing:
        raise ImportFileError("header", f"missing required columns: {', '.join(missing)}")
    if importer.one_of and not any(name in header for name in importer.one_of):
        raise ImportFileError("header", f"needs at least one of the columns: {', '.join(importer.one_of)}")


# --- creating and running jobs ----------------------------------------------------------------


def create_job(
    brand: Brand, *, kind: str, mode: str, filename: str, raw: bytes, actor: Actor, enqueue: bool = True
) -> ImportJob:
    """Decode the upload, store it as a queued job and (after commit) hand it to a worker."""
    importer_for(kind)
    if mode not in ImportJob.Mode.values:
        raise ImportFileError("mode", f"unknown mode {mode!r}; use {' or '.join(ImportJob.Mode.values)}")
    content = decode_csv(raw)
    with transaction.atomic():
        job = ImportJob.objects.create(
            brand=brand,
            kind=kind,
            mode=mode,
            filename=(filename or "")[:250],
            content=content,
            created_by=actor.user if actor.user is not None and actor.user.pk else None,
        )
        audit.record(actor, "import.created", job, kind=kind, mode=mode, filename=job.filename)
        if enqueue:
            from omo.core.tasks import run_import

            job_id = job.pk
            transaction.on_commit(lambda: run_import.enqueue(job_id))
    return job


def _unit_problems(unit: Unit, exc: RowsInvalid) -> list[Problem]:
    problems = [Problem(p.row if p.row is not None else unit.rows[0], p.field, p.error) for p in exc.problems]
    bad = {p.row for p in problems}
    first_bad = min(r for r in bad if r is not None)
    for row in unit.rows:
        if row not in bad:
            problems.append(Problem(row, "", f"not imported: row {first_bad} of the same order has an error"))
    return sorted(problems, key=lambda p: p.row or 0)


def _check(importer: Importer, unit: Unit, ctx: ImportContext) -> Any:
    if any("__extra__" in record for record in unit.records):
        raise RowInvalid("", "the row has more values than the header has columns")
    return importer.check(unit, ctx)


def _check_and_apply(importer: Importer, unit: Unit, ctx: ImportContext) -> None:
    importer.apply(_check(importer, unit, ctx), ctx)


def _apply_alone(importer: Importer, parsed: Any, ctx: ImportContext) -> RowsInvalid | None:
    """Apply one checked unit in its own savepoint: None, or why it was not applied."""
    try:
        with transaction.atomic():
            try:
                importer.apply(parsed, ctx)
            except IntegrityError as exc:
                raise _as_invalid(exc) from exc
    except RowsInvalid as exc:
        ctx.cache.clear()  # rows cached inside the rolled-back savepoint no longer exist
        return exc
    return None


def _apply_chunk(importer: Importer, parsed: list[Any], ctx: ImportContext) -> list[RowsInvalid | None]:
    """Apply a chunk's checked units together (apply_many); when that fails as a whole, roll it
    back and apply them one by one."""
    if not parsed:
        return []
    try:
        with transaction.atomic():
            outcomes = importer.apply_many(parsed, ctx)
    except IntegrityError:
        logger.info(
            "a chunk of %d %s failed as a whole; applying it unit by unit", len(parsed), importer.kind
        )
        ctx.cache.clear()
        return [_apply_alone(importer, one, ctx) for one in parsed]
    if len(outcomes) != len(parsed):
        raise AssertionError(f"apply_many answered {len(outcomes)} outcomes for {len(parsed)} units")
    return outcomes


@dataclass
class _Tally:
    processed: int = 0
    applied: int = 0
    error_rows: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def fail(self, unit: Unit, exc: RowsInvalid) -> None:
        self.error_rows += len(unit.rows)
        for problem in _unit_problems(unit, exc):
            if len(self.errors) < MAX_STORED_ERRORS:
                self.errors.append({"row": problem.row, "field": problem.field, "error": problem.error})


def _save_progress(job: ImportJob, tally: _Tally, progress: ProgressCallback | None, **extra: Any) -> None:
    job.processed_rows, job.applied_rows, job.error_rows = tally.processed, tally.applied, tally.error_rows
    job.errors = tally.errors
    for key, value in extra.items():
        setattr(job, key, value)
    fields = ["processed_rows", "applied_rows", "error_rows", "errors", *extra]
    ImportJob.objects.filter(pk=job.pk).update(**{name: getattr(job, name) for name in fields})
    if progress is not None:
        progress(job)


def _chunks(units: list[Unit], size: int) -> Iterable[list[Unit]]:
    chunk: list[Unit] = []
    rows = 0
    for unit in units:
        chunk.append(unit)
        rows += len(unit.rows)
        if rows >= size:
            yield chunk
            chunk, rows = [], 0
    if chunk:
        yield chunk


def _as_invalid(exc: IntegrityError) -> RowInvalid:
    return RowInvalid("", f"conflicts with existing data: {str(exc).splitlines()[0][:200]}")


def _run_valid_rows(
    importer: Importer,
    units: list[Unit],
    ctx: ImportContext,
    job: ImportJob,
    progress: ProgressCallback | None,
    chunk_rows: int,
) -> _Tally:
    tally = _Tally()
    for chunk in _chunks(units, chunk_rows):
        with transaction.atomic():
            if importer.batched:
                _valid_rows_chunk(importer, chunk, ctx, tally)
            else:
                for unit in chunk:
                    try:
                        with transaction.atomic():
                            try:
                                _check_and_apply(importer, unit, ctx)
                            except IntegrityError as exc:
                                raise _as_invalid(exc) from exc
                    except RowsInvalid as exc:
                        ctx.cache.clear()  # rows cached inside the rolled-back savepoint no longer exist
                        tally.fail(unit, exc)
                    else:
                        tally.applied += len(unit.rows)
        tally.processed += sum(len(unit.rows) for unit in chunk)
        _save_progress(job, tally, progress)
    return tally


def _valid_rows_chunk(importer: Importer, chunk: list[Unit], ctx: ImportContext, tally: _Tally) -> None:
    """Check every unit of the chunk (no writes), apply the good ones together, report in row order."""
    outcomes: list[RowsInvalid | None] = [None] * len(chunk)
    checked: list[tuple[int, Any]] = []
    importer.prepare(chunk, ctx)
    for index, unit in enumerate(chunk):
        try:
            checked.append((index, _check(importer, unit, ctx)))
        except RowsInvalid as exc:
            outcomes[index] = exc
    applied = _apply_chunk(importer, [parsed for _, parsed in checked], ctx)
    for (index, _), outcome in zip(checked, applied, strict=True):
        outcomes[index] = outcome
    for unit, outcome in zip(chunk, outcomes, strict=True):
        if outcome is None:
            tally.applied += len(unit.rows)
        else:
            tally.fail(unit, outcome)


def _run_all_or_nothing(
    importer: Importer,
    units: list[Unit],
    ctx: ImportContext,
    job: ImportJob,
    progress: ProgressCallback | None,
    chunk_rows: int,
) -> _Tally:
    tally = _Tally()
    parsed: list[tuple[Unit, Any]] = []
    for chunk in _chunks(units, chunk_rows):
        importer.prepare(chunk, ctx)
        for unit in chunk:
            try:
                parsed.append((unit, _check(importer, unit, ctx)))
            except RowsInvalid as exc:
                tally.fail(unit, exc)
        tally.processed += sum(len(unit.rows) for unit in chunk)
        _save_progress(job, tally, progress)
    if tally.error_rows:
        return tally
    try:
        with transaction.atomic():
            if importer.batched:
                position = 0
                for chunk in _chunks([unit for unit, _ in parsed], chunk_rows):
                    part, position = parsed[position : position + len(chunk)], position + len(chunk)
                    outcomes = _apply_chunk(importer, [result for _, result in part], ctx)
                    for (unit, _), outcome in zip(part, outcomes, strict=True):
                        if outcome is not None:
                            raise _Abort(unit, outcome)
            else:
                for unit, result in parsed:
                    try:
                        with transaction.atomic():
                            importer.apply(result, ctx)
                    except IntegrityError as exc:
                        raise _Abort(unit, _as_invalid(exc)) from exc
                    except RowsInvalid as exc:
                        raise _Abort(unit, exc) from exc
    except _Abort as abort:
        ctx.cache.clear()
        tally.fail(abort.unit, abort.invalid)
        return tally
    tally.applied = sum(len(unit.rows) for unit, _ in parsed)
    return tally


class _Abort(Exception):
    def __init__(self, unit: Unit, invalid: RowsInvalid):
        super().__init__(str(invalid))
        self.unit = unit
        self.invalid = invalid


def run_job(
    job_id: int, *, progress: ProgressCallback | None = None, chunk_rows: int | None = None
) -> ImportJob:
    """Run a queued job to the end. Safe to call twice: a job that already ran is returned as it is.
    `chunk_rows` overrides the importer's chunk size."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING
    )
    job = ImportJob.objects.select_related("brand").get(pk=job_id)
    if not claimed:
        return job
    ctx = ImportContext(brand=job.brand, actor=Actor.system(job.brand), job_id=job.pk)
    try:
        importer = importer_for(job.kind)
        header, rows = read_rows(job.content)
        check_header(importer, header)
        units = importer.units(rows)
        chunk_rows = chunk_rows or importer.chunk_rows
        job.total_rows = len(rows)
        ImportJob.objects.filter(pk=job.pk).update(total_rows=job.total_rows)
        if job.mode == ImportJob.Mode.ALL_OR_NOTHING:
            tally = _run_all_or_nothing(importer, units, ctx, job, progress, chunk_rows)
            status = ImportJob.Status.REJECTED if tally.error_rows else ImportJob.Status.DONE
            if tally.error_rows:
                tally.applied = 0
        else:
            tally = _run_valid_rows(importer, units, ctx, job, progress, chunk_rows)
            status = ImportJob.Status.DONE
        tally.processed = job.total_rows
        _save_progress(job, tally, progress, status=status, finished_at=timezone.now())
    except ImportFileError as exc:
        tally = _Tally(errors=[{"row": 1, "field": exc.field, "error": exc.message}])
        _save_progress(job, tally, progress, status=ImportJob.Status.REJECTED, finished_at=timezone.now())
    except Exception as exc:
        logger.exception("import job %s failed", job.pk)
        job.refresh_from_db()
        errors = [
            *job.errors,
            {"row": None, "field": "", "error": f"the import stopped: {type(exc).__name__}: {exc}"},
        ]
        ImportJob.objects.filter(pk=job.pk).update(
            status=ImportJob.Status.FAILED, errors=errors, finished_at=timezone.now()
        )
        job.status, job.errors = ImportJob.Status.FAILED, errors
        if progress is not None:
            progress(job)
    job.refresh_from_db()
    return job
