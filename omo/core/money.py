"""Money is integer minor units everywhere. These helpers convert at the edges only."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

# ISO 4217 minor-unit exponent. TWD is officially 2 decimals even though cash has none.
_EXPONENT = {"TWD": 2, "USD": 2, "JPY": 0, "HKD": 2, "EUR": 2}


def exponent(currency: str) -> int:
    return _EXPONENT.get(currency.upper(), 2)


def to_minor(amount: str | int | Decimal, currency: str = "TWD") -> int:
    """'1280' or '1280.50' (major units, as humans and CSVs write them) -> minor units."""
    try:
        value = Decimal(str(amount).replace(",", "").strip())
    except InvalidOperation as exc:
        raise ValueError(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise ValueError(f"not an amount: {amount!r}")
    scaled = value.scaleb(exponent(currency))
    if scaled and scaled.adjusted() >= 18:  # beyond what a database integer column holds
        raise ValueError(f"{amount!r} is too large")
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount!r} has more decimals than {currency} allows")
    return int(scaled.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def to_major(minor: int, currency: str = "TWD") -> Decimal:
    return Decimal(minor).scaleb(-exponent(currency))


def format_money(minor: int | None, currency: str = "TWD") -> str:
    if minor is None:
        return ""
    major = to_major(minor, currency)
    if currency.upper() == "TWD":
        # Prices in Taiwan are shown in whole dollars: NT$1,280
        whole = int(major.quantize(Decimal(1), rounding=ROUND_HALF_UP))
        return f"NT${whole:,}"
    return f"{currency} {major:,.{exponent(currency)}f}"
