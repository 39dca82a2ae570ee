"""The English catalogue is complete and compiled, and the console switches language."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

from django.urls import reverse

LOCALE = Path(__file__).resolve().parent.parent / "locale" / "en" / "LC_MESSAGES"


def po_entries() -> dict[tuple[str | None, str], list[str]]:
    """(context, msgid) -> msgstr(s), from the .po (strings may continue over several quoted lines)."""
    text = (LOCALE / "django.po").read_text(encoding="utf-8")
    assert "#, fuzzy" not in text
    entries: dict[tuple[str | None, str], list[str]] = {}
    for block in text.split("\n\n")[1:]:
        parts: list[tuple[str, str]] = []  # (keyword, text) in order
        for line in block.splitlines():
            keyword = re.match(r"^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) \"(.*)\"$", line)
            if keyword:
                parts.append((keyword.group(1), keyword.group(2)))
            elif line.startswith('"') and parts:
                parts[-1] = (parts[-1][0], parts[-1][1] + line[1:-1])
        fields = dict(parts)
        msgstrs = [value for key, value in parts if key.startswith("msgstr")]
        entries[(fields.get("msgctxt"), fields["msgid"])] = msgstrs
    return entries


def test_every_string_is_translated_and_compiled():
    entries = po_entries()
    assert len(entries) > 250
    untranslated = [key for key, msgstrs in entries.items() if not all(msgstrs)]
    assert untranslated == []
    with (LOCALE / "django.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    assert catalog.pgettext("console", "淨銷售額") == "Net sales"
    assert catalog.pgettext("console nav", "訂單") == "Orders"
    stale = [
        (context, msgid)
        for (context, msgid), msgstrs in entries.items()
        if len(msgstrs) == 1
        and (catalog.pgettext(context, msgid) if context else catalog.gettext(msgid))
        != msgstrs[0].replace('\\"', '"')
    ]
    assert stale == []  # the .mo holds every entry of the .po: run update.sh after editing


def test_console_wording_does_not_depend_on_other_apps_catalogues(console):
    """Console strings carry the "console" context, so another app translating the same zh-Hant word
    (commerce's shop says "Order" for 訂單) cannot change the console's English."""
    console.post(reverse("set_language"), {"language": "en", "next": reverse("console:orders")})
    body = console.get(reverse("console:orders")).content.decode()
    assert "<h1>Orders</h1>" in body
    assert '<div class="nav-group-label">' in body and ">Orders</div>" in body


def test_language_switch_to_english_and_back(console, seeded_sales):
    body = console.get(reverse("console:dashboard")).content.decode()
    assert "淨銷售額" in body and f'action="{reverse("set_language")}"' in body
    response = console.post(reverse("set_language"), {"language": "en", "next": reverse("console:dashboard")})
    assert response.status_code == 302 and response["Location"] == reverse("console:dashboard")
    body = console.get(reverse("console:dashboard")).content.decode()
    assert '<html lang="en">' in body
    assert "Net sales" in body and "Average order value" in body
    assert (
        "門市 POS" not in body and "POS" in body
    )  # the sales channel legend (its wording may come from commerce)
    assert "淨銷售額" not in body
    orders = console.get(reverse("console:orders")).content.decode()
    assert "Sales channel" in orders and "Paid" in orders
    console.post(reverse("set_language"), {"language": "zh-hant", "next": reverse("console:dashboard")})
    assert "淨銷售額" in console.get(reverse("console:dashboard")).content.decode()


def test_sign_in_page_offers_both_languages(client, db):
    body = client.get(reverse("console:login")).content.decode()
    assert ">中文</button>" in body and ">English</button>" in body
