"""The LINE webhook benchmark still runs end to end at a tiny size (real uvicorn servers, real load process)."""

from __future__ import annotations

import shutil

import pytest

from bench import line_webhook
from bench._ceiling import PYTHON_GENERATOR
from omo.core.tests.processes import database_url_of_test_db


@pytest.mark.django_db(transaction=True)
def test_line_webhook_bench_runs_and_counts_receipts(tmp_path):
    result = line_webhook.run(
        database_url=database_url_of_test_db(),
        rates=[20],
        seconds=1,
        saturate_seconds=1,
        connections=2,
        bodies_rate=3000,
        log=lambda _: None,
    )

    [bare, omo] = result["fixed"]
    assert (bare["server"], omo["server"]) == ("bare", "omo")
    assert omo["statuses"] == {"200": 20} and omo["no_loss"], omo
    assert omo["events_stored"] == 100
    assert omo["generator"] == bare["generator"] == PYTHON_GENERATOR
    # The saturation runs use wrk where it is installed, the Python generator elsewhere.
    saturation_generator = "wrk" if shutil.which("wrk") else PYTHON_GENERATOR
    saturation = result["saturation"]
    assert result["saturation_generator"] == saturation_generator
    assert saturation["omo"]["generator"] == saturation["bare"]["generator"] == saturation_generator
    assert saturation["omo"]["no_loss"], saturation["omo"]
    assert saturation["omo"]["repeats"] == 0 and saturation["omo"]["non_2xx"] == 0
    assert saturation["bare"]["ok"] > 0
    assert result["share_of_bare"] > 0

    section = line_webhook.markdown({**result, "database": "test"})
    assert f"the saturation runs from {saturation_generator}" in section
    assert f"both measured with {saturation_generator}" in section
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Orders\n\nkeep me\n")
    line_webhook.write_results(section, results)
    line_webhook.write_results(section.replace("Measured", "Re-measured"), results)
    text = results.read_text()
    assert text.count("## LINE webhook") == 1 and "Re-measured" in text and "keep me" in text
