"""Amounts as people and CSV files write them, to integer minor units: bad ones are named, never a crash."""

from __future__ import annotations

import pytest

from omo.core.money import format_money, to_minor


@pytest.mark.parametrize(("typed", "minor"), [("1280", 128000), ("1,280.50", 128050), ("0", 0), (" 7 ", 700)])
def test_amounts_people_type(typed, minor):
    assert to_minor(typed) == minor


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("abc", "not an amount"),
        ("NaN", "not an amount"),
        ("Infinity", "not an amount"),
        ("1.005", "more decimals"),
        ("1E+30", "too large"),
        ("9" * 40, "too large"),
    ],
)
def test_bad_amounts_are_named(typed, says):
    with pytest.raises(ValueError, match=says):
        to_minor(typed)


def test_format():
    assert format_money(128000) == "NT$1,280"
