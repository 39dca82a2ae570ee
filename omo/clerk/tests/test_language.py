"""One language per clerk screen: zh-Hant unless the clerk chose English with the toggle, which is
saved on their staff record; every label has an English catalogue entry; no doubled labels."""

from __future__ import annotations

import gettext
import re
from pathlib import Path

import pytest
from django.test import Client

from omo.staff.models import User
from omo.testing import factories as f

CLERK_DIR = Path(__file__).resolve().parent.parent
CONSOLE_DIR = CLERK_DIR.parent / "console"
HAN = r"[\u4e00-\u9fff]"
# A Chinese label followed by an English one ("客戶 Customers", "對話<small>Chats</small>")
DOUBLED = re.compile(HAN + r"[）」]?\s*(<small>\s*)?(·\s*)?[A-Z][a-z]+")
BLOCK = re.compile(r"\{%\s*blocktranslate.*?endblocktranslate\s*%\}", re.S)
TRANSLATE_TAG = re.compile(r"\{%\s*(translate|blocktranslate)[^%]*%\}|\{%\s*endblocktranslate\s*%\}")


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_screens_are_in_traditional_chinese_whatever_the_phone_asks(clerk):
    body = _client(clerk).get("/clerk/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="zh-Hant">' in body
    assert "我的對話" in body and "My chats" not in body and "Chats" not in body
    login = Client().get("/clerk/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "店員登入" in login and "Sign in" not in login


def test_toggle_saves_the_choice_and_the_next_screens_are_english(clerk):
    client = _client(clerk)
    response = client.post("/clerk/language", {"language": "en", "next": "/clerk/sales/"})
    assert response.status_code == 302 and response["Location"] == "/clerk/sales/"
    assert response.cookies["django_language"].value == "en"
    clerk.refresh_from_db()
    assert clerk.preferred_language == "en"
    body = client.get("/clerk/sales/").content.decode()
    assert '<html lang="en">' in body and "<h1>My sales</h1>" in body and "我的業績" not in body
    # Another phone (no cookie): the person's choice still holds.
    assert "<h1>My chats</h1>" in _client(clerk).get("/clerk/").content.decode()
    # The sign-in page on this phone follows the cookie.
    anonymous = Client()
    anonymous.cookies["django_language"] = "en"
    assert "Clerk sign-in" in anonymous.get("/clerk/login/").content.decode()


def test_toggle_refuses_an_unknown_language_and_an_outside_next(clerk):
    client = _client(clerk)
    response = client.post("/clerk/language", {"language": "fr"})
    assert response.status_code == 422 and response.json()["field"] == "language"
    clerk.refresh_from_db()
    assert clerk.preferred_language == "zh-hant"
    response = client.post("/clerk/language", {"language": "en", "next": "https://evil.example/"})
    assert response["Location"] == "/clerk/"


def test_toggle_needs_a_signed_in_clerk(brand, hq_agent, other_brand):
    assert Client().post("/clerk/language", {"language": "en"}).status_code == 401
    # staff who may not use the clerk app (another role, another brand's admin) change nothing here
    for person in (hq_agent, f.make_user(other_brand, "other-admin-x", role="hq_admin")):
        assert _client(person).post("/clerk/language", {"language": "en"}).status_code == 403
        assert User.objects.get(pk=person.pk).preferred_language == "zh-hant"


def test_manifest_speaks_the_clerks_language(clerk):
    client = _client(clerk)
    assert client.get("/clerk/manifest.webmanifest").json()["lang"] == "zh-Hant"
    User.objects.filter(pk=clerk.pk).update(preferred_language="en")
    manifest = client.get("/clerk/manifest.webmanifest").json()
    assert manifest["lang"] == "en" and manifest["description"].startswith("Chat with")


def po_entries(po: Path) -> dict[tuple[str | None, str], list[str]]:
    entries: dict[tuple[str | None, str], list[str]] = {}
    for block in po.read_text(encoding="utf-8").split("\n\n")[1:]:
        parts = re.findall(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d\])?) "(.*)"$', block, re.M)
        fields = dict(parts)
        entries[(fields.get("msgctxt"), fields["msgid"])] = [v for k, v in parts if k.startswith("msgstr")]
    return entries


def test_every_clerk_string_has_an_english_entry_and_is_compiled():
    po = CLERK_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"
    entries = po_entries(po)
    used: set[str] = set()
    sources = list((CLERK_DIR / "templates").rglob("*.html")) + [CLERK_DIR / "templatetags" / "clerk_tags.py"]
    sources.append(CLERK_DIR / "views.py")
    for path in sources:
        text = path.read_text(encoding="utf-8")
        used |= set(re.findall(r'translate "([^"]+)" context "clerk"', text))
        used |= set(re.findall(r'pgettext\("clerk", "([^"]+)"\)', text))
    missing = sorted(msgid for msgid in used if ("clerk", msgid) not in entries)
    assert missing == []
    assert [key for key, values in entries.items() if not all(values)] == []
    with (po.parent / "django.mo").open("rb") as compiled:
        catalog = gettext.GNUTranslations(compiled)
    assert catalog.pgettext("clerk", "我的顧客") == "Customers"


@pytest.mark.parametrize(
    "folder", [CLERK_DIR / "templates", CONSOLE_DIR / "templates"], ids=["clerk", "console"]
)
def test_no_doubled_labels_in_the_templates(folder):
    doubled = []
    for path in folder.rglob("*.html"):
        # what the catalogues translate is one language by construction; look at the rest
        text = BLOCK.sub(" ", path.read_text(encoding="utf-8"))
        text = TRANSLATE_TAG.sub(" ", re.sub(r"\{%\s*translate\s+'[^']*'[^%]*%\}", " ", text))
        for number, line in enumerate(text.splitlines(), 1):
            if DOUBLED.search(line):
                doubled.append(f"{path.relative_to(folder)}:{number}: {line.strip()[:80]}")
    assert doubled == []


def test_clerk_script_has_no_words_of_its_own():
    script = (CLERK_DIR / "static" / "clerk" / "clerk.js").read_text(encoding="utf-8")
    assert re.findall(HAN + "+", script) == []
