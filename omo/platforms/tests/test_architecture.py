"""Architecture rules: platform SDKs stay inside omo/platforms/ and omo/devtools/."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
ALLOWED = ("omo/platforms/", "omo/devtools/")
SDK_IMPORT = re.compile(r"^\s*(from|import)\s+linebot\b", re.MULTILINE)


def test_no_platform_sdk_import_outside_platforms_and_devtools():
    offenders = []
    for path in [*ROOT.joinpath("omo").rglob("*.py"), *ROOT.joinpath("config").rglob("*.py")]:
        relative = path.relative_to(ROOT).as_posix()
        if relative.startswith(ALLOWED) or "/migrations/" in relative:
            continue
        if SDK_IMPORT.search(path.read_text(encoding="utf-8")):
            offenders.append(relative)
    assert offenders == []


def test_message_created_is_a_declared_event():
    from omo.core.events import EVENT_SCHEMAS

    assert EVENT_SCHEMAS["message.created"] == {"brand_id", "conversation_id", "message_id", "direction"}


def test_the_webhook_edge_does_not_load_a_platform_sdk():
    """A first webhook must not wait seconds for the SDK's models to import (ADR 003)."""
    import subprocess
    import sys

    code = (
        "import sys, django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings');"
        "import config.asgi; print(sorted({m.split('.')[0] for m in sys.modules} & {'linebot', 'aiohttp'}))"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
