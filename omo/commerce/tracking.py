"""Tracking links for the carriers an order can be shipped with.

Only carriers whose public tracking page takes the number in its address have a pattern; the
others (新竹物流, 中華郵政, 7-ELEVEN 交貨便, 全家店到店) ask for it in a form, so the order shows
the number without a link.
"""

from __future__ import annotations

from urllib.parse import quote

from omo.commerce.models import Carrier

TRACKING_URL_PATTERNS: dict[str, str] = {
    Carrier.TCAT: "https://www.t-cat.com.tw/Inquire/TraceDetail.aspx?BillID={number}",
}


def tracking_url(carrier: str, tracking_number: str) -> str | None:
    """The carrier's tracking page for this number, or None when there is no known pattern."""
    pattern = TRACKING_URL_PATTERNS.get(carrier)
    if pattern is None or not tracking_number:
        return None
    return pattern.format(number=quote(tracking_number, safe=""))
