"""Property test: whatever a CSV file holds, an import ends done or rejected with its problems
named by row and column; it never stops with an error (status failed) and never answers a 5xx.

Every importer (products, stock, customers, orders) gets its own columns filled with generated
cells: near-valid values, huge and negative numbers, odd dates, NUL characters, quotes and
newlines, in random encodings' worth of bytes.
"""

from __future__ import annotations

import csv
import io

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from omo.core import imports
from omo.core.audit import Actor
from omo.core.models import ImportJob
from omo.testing import factories as f

pytestmark = [pytest.mark.django_db, pytest.mark.fuzz]

KINDS = ["products", "stock", "customers", "orders"]
cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", "TEE-M", "TPE01", "pos", "paid", "1", "-1", "0.5", "1,280", "9" * 30, "-" + "9" * 25, "1e400"]
    ),
    st.sampled_from(
        ["2026-11-20 15:30", "2026-13-45", "1990/12/31", "0000-00-00", "9999-12-31T23:59:59+14:00"]
    ),
    st.sampled_from(
        ["0912345678", "+886912345678", "a@b", "x@example.com", "nul\x00", '"quoted"', "line\nbreak"]
    ),
)


@pytest.fixture
def tee(brand, store):
    return f.make_product(brand, "短T", variants=[("TEE-M", "M", 59000)])


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    kind=st.sampled_from(KINDS),
    rows=st.lists(st.lists(cells, min_size=0, max_size=20), min_size=1, max_size=4),
    mode=st.sampled_from(["valid_rows", "all_or_nothing"]),
    data=st.data(),
)
def test_no_csv_makes_an_import_fail(brand, tee, kind, rows, mode, data):
    importer = imports.importer_for(kind)
    columns = list(importer.required + importer.one_of + importer.optional)
    header = data.draw(
        st.permutations(columns).map(lambda names: names[: max(len(importer.required), 1) + 3])
    )
    header = list(dict.fromkeys([*importer.required, *header]))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(header)
    writer.writerows(row[: len(header)] for row in rows)
    raw = out.getvalue().encode("utf-8", "surrogatepass")

    try:
        job = imports.create_job(
            brand,
            kind=kind,
            mode=mode,
            filename=f"{kind}.csv",
            raw=raw,
            actor=Actor.system(brand),
            enqueue=False,
        )
    except imports.ImportFileError as exc:  # refused as a whole (NUL bytes, not text), with the reason
        assert exc.message
        return
    job = imports.run_job(job.pk)

    assert job.status in (ImportJob.Status.DONE, ImportJob.Status.REJECTED), job.errors
    assert all(error["error"] and "the import stopped" not in error["error"] for error in job.errors)
