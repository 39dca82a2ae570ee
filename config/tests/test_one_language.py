"""One language per message: no user-facing string says the same thing twice, "中文 / English".

Messages are written in zh-Hant and translated (gettext, an English entry in the app's .po), so a
page shows one language and the API answers in the request's. This scans the product's source
(not tests, migrations or the developer tools; not docstrings) for string literals whose part
before " / " holds Chinese and whose part after it holds an English word. Examples such as
"黑 / M" (a size) are not a mixed message: the part after " / " has no English word.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import omo

HAN = re.compile(r"[\u3400-\u9fff]")
ENGLISH_WORD = re.compile(r"[A-Za-z]{2,}")

# Words stored with a record at the time it was written, in both languages on purpose, for exports
# and records older than their payloads (screens say them from the payload: omo/inbox/event_words.py),
# and the test event sent to a partner's server (a machine payload, not a page).
STORED_WORDS = {
    "inbox/routing.py",  # timeline event text (Message.text)
    "inbox/services.py",  # timeline event text (Message.text)
    "catalog/inventory.py",  # a stock movement's note
    "loyalty/services/coupons.py",  # a reversed redemption's reason
    "loyalty/services/till.py",  # a reversed redemption's reason
    "outgoing_webhooks/services.py",  # webhook.test payload
}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant):
                found.add(id(body[0].value))
    return found


def _texts(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        return ["".join(part.value if isinstance(part, ast.Constant) else "{}" for part in node.values)]
    return []


def mixed_strings(source: str) -> list[tuple[int, str]]:
    """(line, text) of every string literal in `source` that joins a Chinese and an English part with " / "."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    skip |= {id(part) for node in ast.walk(tree) if isinstance(node, ast.JoinedStr) for part in node.values}
    found = []
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        for text in _texts(node):
            for line in text.splitlines():
                before, slash, after = line.partition(" / ")
                if slash and HAN.search(before) and ENGLISH_WORD.search(after):
                    found.append((getattr(node, "lineno", 0), line))
    return sorted(found)


def _product_files() -> list[Path]:
    root = Path(omo.__file__).parent
    return [
        path
        for path in sorted(root.rglob("*.py"))
        if not {"tests", "migrations", "devtools"} & set(path.relative_to(root).parts)
        and path.relative_to(root).as_posix() not in STORED_WORDS
    ]


def test_the_scanner_finds_a_mixed_message_and_lets_examples_pass():
    source = '''
"""設定 → 門市 / 員工: a docstring may say anything."""
raise Error("field", "須為整數 / must be a whole number")
note = f"交易 {sale} 沒有折抵點數 / no points were redeemed on sale {sale}"
example = "例如 黑 / M"
ok = gettext("須為整數")
'''
    assert [line for line, _ in mixed_strings(source)] == [3, 4]


def test_no_product_message_mixes_two_languages():
    root = Path(omo.__file__).parent
    mixed = [
        f"{path.relative_to(root)}:{line}: {text}"
        for path in _product_files()
        for line, text in mixed_strings(path.read_text(encoding="utf-8"))
    ]
    assert mixed == [], "write these in zh-Hant with gettext and an English entry in the .po:\n" + "\n".join(
        mixed
    )
