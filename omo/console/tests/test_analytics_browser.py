"""The OMO page in a real Chromium: read the brand's multiple, change the store filter, move to
another report with the filters kept."""

from __future__ import annotations

import pytest

from omo.analytics.tests.report_data import build_month
from omo.testing.browser import sign_in_console as sign_in

pytestmark = pytest.mark.browser


def test_omo_page_and_a_store_filter(desktop_page, live_url, hq_admin, brand, store):
    build_month(brand, store)
    page = desktop_page
    sign_in(page, hq_admin)
    page.goto(f"{live_url}/console/analytics/omo/?date_from=2026-11-01&date_to=2026-11-30")
    assert page.text_content("[data-kpi=spend_vs_online]") == "4.0×"
    assert page.locator("[data-chart=omo] svg").count() == 1

    page.select_option("select[name=store]", label="台北信義店")
    page.click("[data-testid=analytics-filters] button[type=submit]")
    page.wait_for_url("**store=*")
    # at the store: A is OMO (the web order credited to it), B bought only there, nobody online only
    assert page.text_content("[data-kpi=spend_vs_online]") == "—"
    assert page.text_content("[data-kpi=spend_vs_store]") == "2.0×"

    page.click("[data-testid=analytics-tabs] a:text('顧客貢獻集中度')")
    page.wait_for_url("**/console/analytics/pareto/?*store=*")
    assert page.input_value("input[name=date_from]") == "2026-11-01"
