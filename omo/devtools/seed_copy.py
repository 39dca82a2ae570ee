"""PostgreSQL COPY text, the form every streamed row takes: one value as a field (`copy_text`), and
a chunk's text split back into fields for SQLite's executemany (`rows_for_sqlite`).
"""

from __future__ import annotations

import datetime as dt
from typing import cast


def rows_for_sqlite(text: str) -> list[list[str | None]]:
    """COPY text back into rows of fields (NULL as None) for executemany."""
    rows = []
    for line in text.splitlines():
        values = line.split("\t")
        fields = cast("list[str | None]", values)  # the same list: a NULL field becomes None in place
        for i, value in enumerate(values):
            if value == "\\N":
                fields[i] = None
            elif "\\" in value:
                fields[i] = _unescape(value)
        rows.append(fields)
    return rows


_ESCAPES = {"\\\\": "\\", "\\t": "\t", "\\n": "\n", "\\r": "\r"}


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        pair = value[i : i + 2]
        if pair in _ESCAPES:
            out.append(_ESCAPES[pair])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def copy_text(value: object) -> str:
    """One value as a field of COPY text."""
    if value is None:
        return "\\N"
    if value is True or value is False:
        return "t" if value else "f"
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat(sep=" ") if isinstance(value, dt.datetime) else value.isoformat()
    if hasattr(value, "obj"):  # psycopg's Json / Jsonb wrapper of a JSONField default
        import json

        value = json.dumps(value.obj)
    elif isinstance(value, (dict, list)):
        import json

        value = json.dumps(value)
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
