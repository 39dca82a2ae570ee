"""The LINE webhook benchmark still runs end to end at a tiny size (real uvicorn servers, real load process)."""

from __future__ import annotations

import pytest

from bench import line_webhook
from omo.core.tests.processes import database_url_of_test_db


@pytest.mark.django_db(transaction=True)
def test_line_webhook_bench_runs_and_counts_receipts(tmp_path):
    result = line_webhook.run(
        database_url=database_url_of_test_db(),
        rates=[20],
        seconds=1,
        saturate_seconds=1,
        connections=2,
        log=lambda _: None,
    )

    [bare, omo] = result["fixed"]
    assert (bare["server"], omo["server"]) == ("bare", "omo")
    assert omo["statuses"] == {"200": 20} and omo["no_loss"], omo
    assert omo["events_stored"] == 100
    assert result["saturation"]["omo"]["no_loss"] and result["saturation"]["bare"]["ok"] > 0
    assert result["share_of_bare"] > 0

    section = line_webhook.markdown({**result, "database": "test"})
    results = tmp_path / "RESULTS.md"
    results.write_text("# Benchmark results\n\n## Orders\n\nkeep me\n")
    line_webhook.write_results(section, results)
    line_webhook.write_results(section.replace("Measured", "Re-measured"), results)
    text = results.read_text()
    assert text.count("## LINE webhook") == 1 and "Re-measured" in text and "keep me" in text
