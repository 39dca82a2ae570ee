"""`omo clv fit --brand SLUG [--calibration-end YYYY-MM-DD] [--time-unit day|week] [--json]`

Fits BG/NBD and Gamma-Gamma on the brand's counted orders up to the calibration end (default: today
in the brand's time zone), saves the fit, scores every customer when the history is enough, and
prints the parameters: with --json exactly {customers, repeat_customers, time_unit, bgnbd: {r,
alpha, a, b, log_likelihood}, gamma_gamma: {p, q, gamma}} (null for a model that could not be fitted).
"""

from __future__ import annotations

import datetime as dt
import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from omo.core.models import Brand
from omo.segments.clv import selectors, services
from omo.segments.clv.data import TIME_UNITS


def _date(raw: str) -> dt.date:
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        raise CommandError(f"calibration-end: not a date (YYYY-MM-DD): {raw!r}") from None


class Command(BaseCommand):
    help = "Predicted customer value: fit the BG/NBD and Gamma-Gamma models on a brand's orders."

    def add_arguments(self, parser: ArgumentParser) -> None:
        assert isinstance(parser, CommandParser)
        actions = parser.add_subparsers(dest="action", required=True, parser_class=CommandParser)
        fit = actions.add_parser(
            "fit", help="fit on the orders up to a date, score the customers, print the parameters"
        )
        fit.add_argument("--brand", required=True, help="the brand's slug")
        fit.add_argument(
            "--calibration-end", default="", help="last day of orders to fit on, YYYY-MM-DD (default: today)"
        )
        fit.add_argument(
            "--time-unit", choices=list(TIME_UNITS), default="day", help="unit of t_x, T and α (default: day)"
        )
        fit.add_argument("--json", action="store_true", help="print the parameters as JSON")

    def handle(self, *args: Any, **options: Any) -> None:
        brand = Brand.objects.filter(slug=options["brand"]).first()
        if brand is None:
            raise CommandError(f"brand: no brand with slug {options['brand']!r} (omo brand list shows them)")
        end = _date(options["calibration_end"]) if options["calibration_end"] else None
        result = services.refit(brand, calibration_end=end, time_unit=options["time_unit"])
        fit = result.fit
        output = {
            "customers": fit.customers,
            "repeat_customers": fit.repeat_customers,
            "time_unit": fit.time_unit,
            "bgnbd": fit.params["bgnbd"],
            "gamma_gamma": fit.params["gamma_gamma"],
        }
        if options["json"]:
            self.stdout.write(json.dumps(output))
            return
        self.stdout.write(
            f"Fitted brand {brand.slug} on orders up to {fit.calibration_end} (time unit: {fit.time_unit}): "
            f"{fit.customers} customers, {fit.repeat_customers} with repeat purchases."
        )
        if output["bgnbd"]:
            p = output["bgnbd"]
            self.stdout.write(
                f"BG/NBD: r = {p['r']:.3f}, alpha = {p['alpha']:.3f}, a = {p['a']:.3f}, b = {p['b']:.3f} "
                f"(log-likelihood {p['log_likelihood']:.1f})"
            )
        if output["gamma_gamma"]:
            g = output["gamma_gamma"]
            self.stdout.write(f"Gamma-Gamma: p = {g['p']:.2f}, q = {g['q']:.2f}, gamma = {g['gamma']:.2f}")
        if fit.enough_history:
            self.stdout.write("Predictions are shown: every customer was scored.")
        else:
            self.stdout.write(
                "Not enough history, predictions are not shown: " + " ".join(selectors.reasons(fit))
            )
