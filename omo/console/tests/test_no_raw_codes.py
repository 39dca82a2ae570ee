"""Raw codes never reach a person: every console page, rendered with typical data, says its events,
sources, reasons and statuses in words, not as the `snake_case` codes the product stores.

The pages are all console pages the URLconf mounts (as in the access sweep, whose objects fill their
parameters), opened by an HQ admin, plus a few rows each page lists in its usual state (audit
entries, a quarantined webhook event, a failed message, an import with errors). The known codes
are the stored choice values of every model, the audit actions, and the reason codes of the
modules that keep reasons as codes. A code may still sit in an attribute, a URL or a `<code>`
element meant for developers (API field names); only the text a person reads is checked.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser

import pytest
from django.apps import apps
from django.db import models
from django.test import Client

from omo.catalog import line_copies
from omo.console.audit_text import ACTIONS
from omo.console.tests.test_access_sweep import CONSOLE, PAGES, PUBLIC, _objects
from omo.core import audit
from omo.core.audit import Actor
from omo.core.models import ApiKey
from omo.inbox import quarantine_reasons
from omo.inbox.models import WebhookReceipt
from omo.inbox.routing import REASONS as ROUTING_REASONS
from omo.platforms.base import FAILURE_REASONS

pytestmark = pytest.mark.django_db

SNAKE = re.compile(r"\b[a-z][a-z0-9]*(?:_[a-z0-9]+)+\b")
# Elements whose text is for developers or machines, not for reading: scripts, styles, code samples.
HIDDEN = {"script", "style", "code", "pre", "template", "textarea"}


def known_codes() -> set[str]:
    """Every snake_case code the product stores or records."""
    codes: set[str] = set()
    for model in apps.get_models():
        for field in model._meta.get_fields():
            choices = getattr(field, "choices", None)
            if isinstance(field, models.Field) and choices:
                for value, _label in field.flatchoices:
                    if isinstance(value, str):
                        codes.add(value)
    codes |= {action.replace(".", "_") for action in ACTIONS} | {
        action.split(".", 1)[1] for action in ACTIONS
    }
    codes |= set(quarantine_reasons.CODES) | set(line_copies.PROBLEMS) | set(line_copies.FETCH_DETAILS)
    codes |= set(ROUTING_REASONS) | set(FAILURE_REASONS)
    return {code for code in codes if SNAKE.fullmatch(code)}


class _Visible(HTMLParser):
    """The text of a page a person reads (not attributes, scripts, styles or code samples)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.depth = 0
        self.parts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in HIDDEN:
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in HIDDEN and self.depth:
            self.depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.depth:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = _Visible()
    parser.feed(page)
    return html.unescape(" ".join(parser.parts))


def raw_codes(page: str, codes: set[str]) -> list[str]:
    return sorted({token for token in SNAKE.findall(visible_text(page)) if token in codes})


def test_the_check_sees_a_code_in_text_and_not_in_attributes_or_code():
    page = (
        '<p data-kind="line_images_requested">已送出</p><code>sla_breached</code>'
        "<td>bound_clerk</td><script>var a = 'store_closed';</script>"
    )
    assert raw_codes(page, {"bound_clerk", "sla_breached", "store_closed", "line_images_requested"}) == [
        "bound_clerk"
    ]


def _typical_rows(brand, hq_admin, objects) -> None:
    """What the pages list in their usual state, beyond the sweep's one object of each kind."""
    ApiKey.objects.filter(brand=brand).update(name="POS 串接")  # the fixture's key is named after its role
    actor = Actor(brand=brand, user=hq_admin, role="hq_admin")
    for action in ("product.updated", "inbox.webhook_retried", "customer_settings.retention_changed"):
        audit.record(actor, action, brand)
    WebhookReceipt.objects.filter(pk=objects["quarantined_receipt"]).update(
        error=quarantine_reasons.encode(quarantine_reasons.PROCESSING_FAILED, error="KeyError", detail="'x'")
    )


@pytest.fixture
def pages(brand, store, warehouse, clerk, hq_admin, api_key, settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    objects = _objects(brand, store, warehouse, clerk, hq_admin)
    _typical_rows(brand, hq_admin, objects)
    client = Client()
    client.force_login(hq_admin)
    rendered = {}
    for page in PAGES:
        if page.app != CONSOLE or page.name in PUBLIC:
            continue
        response = client.get(page.url(objects))
        if response.status_code == 200 and response.get("Content-Type", "").startswith("text/html"):
            rendered[page.name] = response.content.decode()
    return rendered


def test_no_console_page_shows_a_raw_code(pages):
    codes = known_codes()
    assert len(pages) > 40  # the sweep did render the console
    found = {name: raw_codes(page, codes) for name, page in pages.items()}
    assert {name: tokens for name, tokens in found.items() if tokens} == {}


def test_the_audit_log_says_who_and_what_in_words(pages):
    audit_page = visible_text(pages["console:audit"])
    assert "建立優惠券" in audit_page and '"kind": "折抵金額"' in audit_page  # the coupon's kind, in words
    assert " system " not in f" {audit_page} " and "api_key:" not in audit_page
