"""The BG/NBD paper's CDNOW data, imported as orders through the product's own CSV import, gives the
published estimates (Fader, Hardie & Lee 2005; Fader & Hardie 2013 for Gamma-Gamma).

Calibration: the first 39 weeks (1997-01-01..1997-09-30), time unit week. The import takes a while
(about 100 s on SQLite), so it runs once for the module.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pytest
import time_machine
from django.core.management import call_command

from omo.customers.models import Customer
from omo.devtools.seed_tables import purge_brand
from omo.segments.models import ClvFit, CustomerPrediction
from omo.testing import factories as f

DATA = Path(__file__).parent / "data" / "CDNOW_sample.txt"
FITTED_AT = dt.datetime(2026, 12, 1, 4, 0, tzinfo=dt.UTC)


def orders_csv(path: Path) -> str:
    """One order per purchase record, in the orders CSV format of docs/csv-import.md. The time is
    noon local (read in the brand's time zone), so each order lands on its own calendar day."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(
        [
            "source",
            "external_id",
            "sales_channel",
            "placed_at",
            "member_number",
            "customer_name",
            "title",
            "quantity",
            "unit_price",
        ]
    )
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        _master_id, customer, day, cds, dollars = line.split()
        placed = dt.datetime.strptime(day, "%Y%m%d").replace(hour=12)
        writer.writerow(
            [
                "cdnow",
                number,
                "other",
                f"{placed:%Y-%m-%d %H:%M}",
                f"CD{customer}",
                f"CDNOW {customer}",
                f"{cds} CDs",
                1,
                dollars,
            ]
        )
    return out.getvalue()


@pytest.fixture(scope="module")
def cdnow(django_db_setup, django_db_blocker, tmp_path_factory):
    """The brand with the CDNOW orders, and what `omo clv fit --json` printed for the paper's calibration."""
    with django_db_blocker.unblock():
        brand = f.make_brand("CDNOW", slug="cdnow")
        file = tmp_path_factory.mktemp("cdnow") / "orders.csv"
        file.write_text(orders_csv(DATA), encoding="utf-8")
        try:
            call_command("import_csv", "orders", str(file), "--brand", brand.slug, verbosity=0)
            out = io.StringIO()
            with time_machine.travel(FITTED_AT, tick=False):
                call_command(
                    "clv",
                    "fit",
                    "--brand",
                    brand.slug,
                    "--calibration-end",
                    "1997-09-30",
                    "--time-unit",
                    "week",
                    "--json",
                    stdout=out,
                )
            yield brand, json.loads(out.getvalue())
        finally:
            purge_brand(brand)


@pytest.mark.django_db
def test_every_purchase_was_imported_as_an_order(cdnow):
    brand, printed = cdnow
    assert Customer.objects.filter(brand=brand).count() == 2357
    assert printed["customers"] == 2357
    assert printed["repeat_customers"] == 946  # made a repeat purchase in the first 39 weeks
    assert printed["time_unit"] == "week"


@pytest.mark.django_db
def test_bgnbd_estimates_are_the_published_ones(cdnow):
    _brand, printed = cdnow
    bgnbd = printed["bgnbd"]
    assert set(bgnbd) == {"r", "alpha", "a", "b", "log_likelihood"}
    assert round(bgnbd["r"], 3) == 0.243
    assert round(bgnbd["alpha"], 3) == 4.414
    assert round(bgnbd["a"], 3) == 0.793
    assert round(bgnbd["b"], 3) == 2.426
    assert round(bgnbd["log_likelihood"], 1) == -9582.4


@pytest.mark.django_db
def test_gamma_gamma_estimates_are_the_published_ones(cdnow):
    _brand, printed = cdnow
    assert {key: round(value, 2) for key, value in printed["gamma_gamma"].items()} == {
        "p": 6.25,
        "q": 3.74,
        "gamma": 15.44,
    }


@pytest.mark.django_db
def test_the_paper_s_customer_1_is_scored_as_the_paper_says(cdnow):
    """Customer 0001: x = 2, t_x = 30.43, T = 38.86 weeks; the paper expects 1.226 purchases in
    the next 39 weeks (we store 30/90/365 days: 52.14 weeks give a little more)."""
    brand, _printed = cdnow
    fit = ClvFit.objects.get(brand=brand)
    assert fit.enough_history and fit.reason == ""
    assert fit.fitted_at == FITTED_AT
    customer = Customer.objects.get(brand=brand, member_number="CD0001")
    prediction = CustomerPrediction.objects.get(customer=customer)
    assert prediction.fit == fit
    assert round(prediction.p_alive, 3) == 0.727
    assert 1.226 < prediction.expected_orders_365d < 1.6
    assert CustomerPrediction.objects.filter(brand=brand).count() == 2357
