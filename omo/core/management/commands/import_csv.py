"""`omo import_csv KIND FILE --brand SLUG [--mode valid_rows|all_or_nothing]`: import a CSV here and now."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from omo.core import imports
from omo.core.audit import Actor
from omo.core.models import Brand, ImportJob


class Command(BaseCommand):
    help = "Import products, stock, customers or orders from a CSV file (columns: docs/csv-import.md)."

    def add_arguments(self, parser: ArgumentParser) -> None:
        parser.add_argument("kind", choices=ImportJob.Kind.values)
        parser.add_argument("file", type=Path, help="the CSV file (UTF-8 with or without BOM, or Big5)")
        parser.add_argument("--brand", required=True, help="the brand's slug (see `omo brand list`)")
        parser.add_argument(
            "--mode",
            choices=ImportJob.Mode.values,
            default=ImportJob.Mode.VALID_ROWS,
            help="valid_rows: import the good rows and report the rest (default); "
            "all_or_nothing: import nothing if any row has an error",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        brand = Brand.objects.filter(slug=options["brand"]).first()
        if brand is None:
            raise CommandError(f"no brand with slug {options['brand']!r}")
        path: Path = options["file"]
        try:
            raw = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        try:
            job = imports.create_job(
                brand,
                kind=options["kind"],
                mode=options["mode"],
                filename=path.name,
                raw=raw,
                actor=Actor.system(brand),
                enqueue=False,
            )
        except imports.ImportFileError as exc:
            raise CommandError(f"{exc.field}: {exc.message}") from exc

        bar = tqdm(
            total=0,
            unit="row",
            desc=f"{options['kind']} #{job.pk}",
            file=self.stderr._out,
            disable=options.get("verbosity", 1) == 0,
        )

        def progress(current: ImportJob) -> None:
            if current.total_rows and bar.total != current.total_rows:
                bar.total = current.total_rows
            bar.update(current.processed_rows - bar.n)
            bar.set_postfix(errors=current.error_rows, refresh=False)

        try:
            job = imports.run_job(job.pk, progress=progress)
        finally:
            bar.close()
        self._report(job)
        if job.status != ImportJob.Status.DONE:
            raise CommandError(
                f"import #{job.pk} {job.status}: nothing was imported"
                if job.applied_rows == 0
                else f"import #{job.pk} {job.status}"
            )

    def _report(self, job: ImportJob) -> None:
        self.stdout.write(
            f"import #{job.pk} ({job.kind}, {job.mode}): {job.status}. "
            f"rows {job.total_rows}, imported {job.applied_rows}, with errors {job.error_rows}"
        )
        for error in job.errors:
            where = f"row {error['row']}" if error.get("row") else "file"
            column = f" [{error['field']}]" if error.get("field") else ""
            self.stdout.write(f"  {where}{column}: {error['error']}")
        if job.error_rows > len(job.errors):
            self.stdout.write(f"  … and {job.error_rows - len(job.errors)} more rows with errors")
