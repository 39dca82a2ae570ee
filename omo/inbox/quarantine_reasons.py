"""Why a webhook row was quarantined: a reason code with its facts, said in the reader's language.

A quarantined request or event keeps its reason as the first paragraph of its `error` (technical
detail, a traceback, may follow): one line of JSON, `{"reason": "<code>", ...facts}`. Pages and the
API say it with `sentence()` at display time, so the console shows one language and programs get
a stable `reason_code`. Rows recorded before the codes existed hold an English sentence; `decode()`
maps the ones this module wrote back then to their code, and keeps anything else as `unknown` with
the text as its detail.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping

from django.utils.translation import pgettext, pgettext_lazy

UNPARSEABLE = "unparseable"  # a request stored whole whose body no longer parses
NOT_STORED = "not_stored"  # a request whose events the database refused
NOT_STORED_NUL = "not_stored_nul"  # … because they hold a NUL character
PROCESSING_FAILED = "processing_failed"  # an event whose processing raised
PROCESSING_FAILED_NUL = "processing_failed_nul"  # … because it holds a NUL character
UNKNOWN = "unknown"  # an older row with a sentence this module does not recognise

CODES = (UNPARSEABLE, NOT_STORED, NOT_STORED_NUL, PROCESSING_FAILED, PROCESSING_FAILED_NUL, UNKNOWN)
NUL_CODES = {NOT_STORED: NOT_STORED_NUL, PROCESSING_FAILED: PROCESSING_FAILED_NUL}

_SENTENCES = {
    UNPARSEABLE: pgettext_lazy("quarantine", "儲存的請求內容無法解析：%(detail)s"),
    NOT_STORED: pgettext_lazy("quarantine", "請求中的事件無法存入資料庫（%(error)s：%(detail)s）。"),
    NOT_STORED_NUL: pgettext_lazy(
        "quarantine", "請求中的事件含有資料庫無法儲存的 NUL 字元（\\u0000），無法存入。"
    ),
    PROCESSING_FAILED: pgettext_lazy("quarantine", "處理失敗（%(error)s：%(detail)s）。"),
    PROCESSING_FAILED_NUL: pgettext_lazy(
        "quarantine", "處理失敗：事件含有資料庫無法儲存的 NUL 字元（\\u0000）。"
    ),
    UNKNOWN: pgettext_lazy("quarantine", "無法處理：%(detail)s"),
}

# The LINE webhook event types (https://developers.line.biz/en/reference/messaging-api/#webhook-event-objects).
_EVENT_LABELS = {
    "message": pgettext_lazy("quarantine", "訊息"),
    "follow": pgettext_lazy("quarantine", "加入好友"),
    "unfollow": pgettext_lazy("quarantine", "封鎖"),
    "postback": pgettext_lazy("quarantine", "按鈕回傳"),
    "join": pgettext_lazy("quarantine", "加入群組"),
    "leave": pgettext_lazy("quarantine", "離開群組"),
    "memberJoined": pgettext_lazy("quarantine", "成員加入群組"),
    "memberLeft": pgettext_lazy("quarantine", "成員離開群組"),
    "unsend": pgettext_lazy("quarantine", "收回訊息"),
    "videoPlayComplete": pgettext_lazy("quarantine", "影片播放完畢"),
    "beacon": pgettext_lazy("quarantine", "Beacon 訊號"),
    "accountLink": pgettext_lazy("quarantine", "帳號連結"),
    "membership": pgettext_lazy("quarantine", "會員資格"),
}


def encode(code: str, **facts: str) -> str:
    """The reason as the first paragraph of a row's `error` (one line, no blank line inside)."""
    return json.dumps({"reason": code, **facts}, ensure_ascii=False, separators=(",", ":"))


_LEGACY = (
    (re.compile(r"The stored request does not parse: (?P<detail>.*)", re.S), UNPARSEABLE),
    (re.compile(r"Its events could not be stored: it holds a NUL character"), NOT_STORED_NUL),
    (re.compile(r"Processing failed: it holds a NUL character"), PROCESSING_FAILED_NUL),
    (re.compile(r"Its events could not be stored: (?P<error>\w+): (?P<detail>.*?)\.?$", re.S), NOT_STORED),
    (re.compile(r"Processing failed: (?P<error>\w+): (?P<detail>.*?)\.?$", re.S), PROCESSING_FAILED),
)


def decode(reason: str) -> tuple[str, dict[str, str]]:
    """(code, facts) of a row's reason: the JSON line, or an older English sentence mapped to its code."""
    if reason.startswith("{"):
        try:
            document = json.loads(reason)
        except ValueError:
            document = None
        if isinstance(document, dict) and document.get("reason") in CODES:
            facts = {str(key): str(value) for key, value in document.items() if key != "reason"}
            return str(document["reason"]), facts
    for pattern, code in _LEGACY:
        match = pattern.match(reason)
        if match:
            return code, {key: value for key, value in match.groupdict().items() if value is not None}
    return UNKNOWN, {"detail": reason}


def sentence(code: str, facts: Mapping[str, str]) -> str:
    """The reason in a sentence of the active language."""
    template = _SENTENCES.get(code, _SENTENCES[UNKNOWN])
    values = {"detail": "", "error": "", **facts}
    return str(template) % values


def event_label(event_type: str) -> str:
    """A platform event type in words (the type itself for one this module does not know)."""
    if not event_type:
        return ""
    label = _EVENT_LABELS.get(event_type)
    return (
        str(label)
        if label is not None
        else pgettext("quarantine", "其他事件（%(type)s）") % {"type": event_type}
    )
