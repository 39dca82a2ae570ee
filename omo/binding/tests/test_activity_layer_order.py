"""The order inside the activity layer, checked on the source (imports inside functions count).

Bottom to top: loyalty < commerce < binding < inbox < platforms < attribution < tracking. Each app
may import those to its left (and the layers below), never one to its right; what a lower app
needs done above it goes through a registry the upper app fills in its AppConfig.ready
(omo/loyalty/spend.py, omo/binding/chat.py, omo/inbox/delivery.py) or a domain event. Nothing in
the product imports the shop, a surface.
"""

from __future__ import annotations

import ast
from pathlib import Path

ORDER = ["loyalty", "commerce", "binding", "inbox", "platforms", "attribution", "tracking"]
OMO = Path(__file__).resolve().parents[2]
SURFACES_AND_WIRING = {"shop", "console", "clerk", "devtools", "testing"}


def imported_apps(path: Path) -> list[tuple[str, int]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module] if node.module != "omo" else [f"omo.{a.name}" for a in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            if parts[0] == "omo" and len(parts) > 1:
                found.append((parts[1], node.lineno))
    return found


def product_files(app: str):
    for path in sorted((OMO / app).rglob("*.py")):
        rel = path.relative_to(OMO)
        if "tests" not in rel.parts and "migrations" not in rel.parts:
            yield path, rel


def test_no_activity_app_imports_one_above_it():
    wrong = []
    for rank, app in enumerate(ORDER):
        above = set(ORDER[rank + 1 :])
        for path, rel in product_files(app):
            wrong += [
                f"omo/{rel}:{line} imports omo.{dst}" for dst, line in imported_apps(path) if dst in above
            ]
    assert wrong == []


def test_nothing_below_the_surfaces_imports_the_shop():
    wrong = []
    for app_dir in sorted(p for p in OMO.iterdir() if p.is_dir() and (p / "__init__.py").exists()):
        if app_dir.name in SURFACES_AND_WIRING:
            continue
        for path, rel in product_files(app_dir.name):
            wrong += [f"omo/{rel}:{line}" for dst, line in imported_apps(path) if dst == "shop"]
    assert wrong == []
