"""Taiwan's counties/cities, their districts and 3-digit postal codes, for home-delivery addresses.

The list ships with the code (data/tw_postal_codes.json: 22 counties and cities, 368 districts, from
Chunghwa Post's 3-digit postal codes and the Ministry of the Interior's townships), so checkout
never depends on a download. The shop's picker reads the same list as the server's check.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

POSTAL_CODE = re.compile(r"[0-9]{3}([0-9]{2,3})?")
DATA_FILE = Path(__file__).with_name("data") / "tw_postal_codes.json"


@dataclass(frozen=True)
class County:
    name: str
    name_en: str
    districts: dict[str, str]  # district → 3-digit postal code, in postal-code order


@functools.cache
def counties() -> dict[str, County]:
    raw = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    return {
        county["name"]: County(
            county["name"],
            county["name_en"],
            {district["name"]: district["postal_code"] for district in county["districts"]},
        )
        for county in raw["counties"]
    }


def normalise(name: str) -> str:
    """People type 台 for 臺 (台北市, 台中市, 台東縣); the list spells them 臺."""
    return " ".join(name.split()).replace("台", "臺")


def postal_code(county: str, district: str) -> str | None:
    """The district's 3-digit postal code, or None when the district is not in that county."""
    found = counties().get(normalise(county))
    if found is None:
        return None
    return found.districts.get(normalise(district))


def address_errors(address: dict[str, str]) -> dict[str, str]:
    """What is wrong with a Taiwan delivery address, by key (city, district, postal_code, line1).

    Every problem at once, in English for developers; the shop shows its own sentences.
    """
    errors: dict[str, str] = {}
    city = normalise(address.get("city") or "")
    district = normalise(address.get("district") or "")
    code = (address.get("postal_code") or "").strip()
    county = counties().get(city)
    if not city:
        errors["city"] = "is required for home delivery"
    elif county is None:
        errors["city"] = "is not a county or city of Taiwan"
    if not district:
        errors["district"] = "is required for home delivery"
    elif county is not None and district not in county.districts:
        errors["district"] = f"is not a district of {city}"
    expected = county.districts.get(district) if county is not None else None
    if code and not POSTAL_CODE.fullmatch(code):
        errors["postal_code"] = "is 3 digits (or 3+2 / 3+3)"
    elif expected is not None and code and code[:3] != expected:
        errors["postal_code"] = f"is {expected} for {city}{district}"
    if not (address.get("line1") or "").strip():
        errors["line1"] = "is required for home delivery"
    return errors


def cleaned(address: dict[str, str]) -> dict[str, str]:
    """The address as stored: names spelled as in the list, the postal code filled from the district."""
    city = normalise(address.get("city") or "")
    district = normalise(address.get("district") or "")
    code = (address.get("postal_code") or "").strip()
    return {
        "postal_code": code or (postal_code(city, district) or ""),
        "city": city,
        "district": district,
        "line1": " ".join((address.get("line1") or "").split()),
    }


def picker_data() -> list[dict[str, Any]]:
    """The list for the shop's county and district pickers."""
    return [
        {
            "name": county.name,
            "name_en": county.name_en,
            "districts": [[name, code] for name, code in county.districts.items()],
        }
        for county in counties().values()
    ]
