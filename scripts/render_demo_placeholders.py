"""Render the demo's SVG product placeholders as PNG twins LINE can show (400 × 400, well within
LINE's 1024 px and 1 MB), with the system Chromium through Playwright:

    .venv/bin/python scripts/render_demo_placeholders.py omo/devtools/static/demo/products

Run it again after changing a placeholder SVG and commit the PNGs; the demo seed names them as each
image's `line_url`. No SVG renderer runs at demo or request time. Chromium here has no CJK font, so
the twins carry the brand's English name only.
"""

from __future__ import annotations

import pathlib
import sys

from playwright.sync_api import sync_playwright


def main(folder: pathlib.Path) -> None:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 400, "height": 400})
        for svg in sorted(folder.glob("*.svg")):
            markup = svg.read_text().replace("森日 Morning Forest", "Morning Forest")
            page.set_content(f"<html><body style='margin:0'>{markup}</body></html>")
            page.locator("svg").screenshot(path=str(svg.with_suffix(".png")))
            print(svg.with_suffix(".png"))
        browser.close()


if __name__ == "__main__":
    main(pathlib.Path(sys.argv[1]))
