"""The clerk's QR code (segno): PNG for phones and chat, SVG for print."""

from __future__ import annotations

import io

import segno


def _qr(url: str) -> segno.QRCode:
    # Error level M survives a slightly scuffed counter poster; the URL is short, so the code stays small.
    return segno.make(url, error="m", micro=False)


def qr_png(url: str, *, scale: int = 10) -> bytes:
    buffer = io.BytesIO()
    _qr(url).save(buffer, kind="png", scale=max(1, min(scale, 40)), border=4)
    return buffer.getvalue()


def qr_svg(url: str, *, scale: int = 10) -> bytes:
    buffer = io.BytesIO()
    _qr(url).save(buffer, kind="svg", scale=max(1, min(scale, 40)), border=4, xmldecl=True, svgns=True)
    return buffer.getvalue()


def qr_svg_inline(url: str) -> str:
    """SVG markup for embedding in an HTML page (the poster), sized by CSS."""
    buffer = io.BytesIO()
    _qr(url).save(buffer, kind="svg", scale=10, border=2, xmldecl=False, svgns=True, omitsize=True)
    return buffer.getvalue().decode()
