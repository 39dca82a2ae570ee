"""What a package imports, read from its source: imports inside functions count, tests and
migrations do not. For the tests that keep the layers apart (DESIGN.md §4)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside functions."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _under(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def offenders(package: str, forbidden: tuple[str, ...], *, allowed: tuple[str, ...] = ()) -> list[str]:
    """ "path: module" for each import of a forbidden package by product code under `package`
    (paths starting with one of `allowed` are skipped)."""
    found = []
    for path in sorted(ROOT.joinpath(*package.split(".")).rglob("*.py")):
        relative = path.relative_to(ROOT)
        if "tests" in relative.parts or "migrations" in relative.parts:
            continue
        if relative.as_posix().startswith(allowed):
            continue
        found += [
            f"{relative.as_posix()}: {name}" for name in imported_modules(path) if _under(name, forbidden)
        ]
    return found
