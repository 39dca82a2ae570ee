"""The layers of DESIGN.md §4 hold: the import contracts of pyproject.toml (lint-imports, which
counts imports inside functions), and no app reaching one above it by a name in a string, which no
import graph can see: the dotted path of a real module (`import_string("omo.inbox.tasks.run")`) or
a model label looked up at run time (`apps.get_model("inbox.Contact")`).

Foreign keys declared by label are not counted: a few lower tables point at higher ones
(`catalog.Reservation.order`), a schema fact, not a call.

Writes stay with the owning app: an app may read another app's models, but changes their rows only
through that app's services. The write check finds, in every production module, the ORM writes on
a model imported from another app's `models` (see `writes_to_other_apps`).
"""

from __future__ import annotations

import ast
import importlib.util
import re
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTRACTS = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]


def layer_ranks() -> dict[str, int]:
    """App → its rank, highest layer first (rank 0); apps of one line share a rank."""
    [layers] = [contract["layers"] for contract in CONTRACTS if contract["id"] == "layers"]
    ranks = {}
    for rank, line in enumerate(layers):
        for name in re.split(r"[|:]", line):
            ranks[name.strip(" ()").removeprefix("omo.")] = rank
    return ranks


def test_the_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([lint_imports], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _is_module_path(value: str) -> bool:
    """ "omo.app.module…" (optionally ":name") whose module part exists: a salt that merely looks
    like a path ("omo.shop.order") is not one."""
    dotted = value.split(":", 1)[0]
    while dotted.count(".") >= 2:  # a module inside the app, not the app itself
        try:
            if importlib.util.find_spec(dotted) is not None:
                return True
        except ModuleNotFoundError:
            pass
        dotted = dotted.rsplit(".", 1)[0]
    return False


def names_in_strings(path: Path, apps: set[str]) -> set[str]:
    """The apps a module names in a string: a dotted module path, or a label given to get_model."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            for app in apps:
                if re.fullmatch(rf"omo\.{app}(\.\w+)+(:\w+)?", node.value) and _is_module_path(node.value):
                    found.add(app)
        elif (
            isinstance(node, ast.Call)
            and getattr(node.func, "attr", getattr(node.func, "id", "")) == "get_model"
        ):
            # "app.Model", or the app label alone as the first of two arguments
            first = node.args[0] if node.args else None
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found |= {app for app in apps if first.value == app or first.value.startswith(f"{app}.")}
    return found


def test_no_app_names_one_above_it_in_a_string():
    ranks = layer_ranks()
    offenders = []
    for app, rank in ranks.items():
        above = {other for other, other_rank in ranks.items() if other_rank < rank}
        for path in sorted((ROOT / "omo" / app).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts:
                continue
            offenders += [
                f"{path.relative_to(ROOT)} names {other}" for other in names_in_strings(path, above)
            ]
    assert offenders == []


def test_the_string_check_sees_paths_and_labels(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        'A = "omo.inbox.tasks.escalate_and_return"\n'
        'B = apps.get_model("shop.Thing")\n'
        'C = "omo.staff.not_a_module"\n'
        'D = "inbox is closed"\n'
        'E = apps.get_model("loyalty", "LoyaltyProgram")\n'
    )
    assert names_in_strings(module, {"inbox", "shop", "staff", "loyalty"}) == {"inbox", "shop", "loyalty"}


# --- imports of other apps inside functions ---------------------------------------------------------

# An import of another app inside a function hides a dependency from whoever reads the top of the
# module; with the layers acyclic, one stays there only with its reason on the import line or the
# line above: `# function-level: <reason>`.
FUNCTION_LEVEL = re.compile(r"#\s*function-level:\s*\S")
# Not the product, so not checked: the stand-ins, seed and demo commands (omo.devtools) and the tests'
# factories and pytest plugins (omo.testing, loaded by the root conftest) reach into the apps where
# they drive them.
NOT_PRODUCT = {"devtools", "testing"}


def _omo_apps_imported(node: ast.Import | ast.ImportFrom) -> set[str]:
    """The omo apps an import statement names (`omo.<app>…`, or `from omo import <app>`)."""
    if isinstance(node, ast.Import):
        modules = [alias.name for alias in node.names]
    elif node.level == 0 and node.module == "omo":
        modules = [f"omo.{alias.name}" for alias in node.names]
    elif node.level == 0 and node.module:
        modules = [node.module]
    else:  # a relative import stays inside its package
        modules = []
    return {module.split(".")[1] for module in modules if module.startswith("omo.")}


def function_level_imports(path: Path, app: str) -> set[tuple[int, str]]:
    """(line, other app) of each import of another omo app inside a function of this module of
    `app` that does not say why with a `# function-level: <reason>` comment."""
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    found = set()
    for function in ast.walk(ast.parse(source)):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):  # nested functions are walked twice: a set keeps one
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            said = lines[max(node.lineno - 2, 0) : node.end_lineno]  # the line above and the statement
            if any(FUNCTION_LEVEL.search(line) for line in said):
                continue
            found |= {(node.lineno, other) for other in _omo_apps_imported(node) - {app}}
    return found


def test_no_app_imports_another_inside_a_function_without_saying_why():
    packages = {path.name for path in (ROOT / "omo").iterdir() if (path / "__init__.py").exists()}
    apps = set(layer_ranks())
    assert packages - NOT_PRODUCT == apps  # a new package is either an app in the layers or named above
    offenders = []
    for app in sorted(apps):
        for path in sorted((ROOT / "omo" / app).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts:
                continue
            offenders += [
                f"{path.relative_to(ROOT)}:{line} imports omo.{other} inside a function"
                for line, other in sorted(function_level_imports(path, app))
            ]
    assert not offenders, "\n".join(offenders)


def test_the_function_level_check_sees_hidden_imports_and_reads_the_reasons(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from omo.inbox.models import Message\n"  # module level: fine
        "def a():\n"
        "    from omo.binding import selectors\n"  # 3: hidden
        "    import omo.staff.models\n"  # 4: hidden
        "    from omo import customers, inbox\n"  # 5: hidden (customers), own app (inbox)
        "    from omo.inbox import routing\n"  # own app
        "    from . import sibling\n"  # relative: own package
        "def b():\n"
        "    def inner():\n"
        "        from omo.core import events\n"  # 10: hidden, in a nested function
        "    # function-level: the adapter imports this module\n"
        "    from omo.platforms.line import adapter\n"  # explained on the line above
        "    from omo.catalog import (  # function-level: an optional module\n"
        "        stock,\n"
        "    )\n"
        "    from omo.shop import views  # function-level:\n"  # 16: a mark without a reason
    )
    assert function_level_imports(module, "inbox") == {
        (3, "binding"),
        (4, "staff"),
        (5, "customers"),
        (10, "core"),
        (16, "shop"),
    }


# --- writes go through the owning app ------------------------------------------------------------------

# Manager and queryset methods that write: `X.objects.create(…)`, `X.objects.filter(…).update(…)`.
WRITE_METHODS = {
    "create",
    "get_or_create",
    "update_or_create",
    "bulk_create",
    "bulk_update",
    "update",
    "delete",
}
# Queryset methods that hand back an instance, which a later `.save()` / `.delete()` writes.
INSTANCE_METHODS = {
    "get",
    "first",
    "last",
    "earliest",
    "latest",
    "create",
    "get_or_create",
    "update_or_create",
}
NOT_PRODUCT = {"tests", "migrations", "devtools", "testing"}
# (module, model): why that module writes another app's model. Only true exceptions belong here.
ALLOWED_WRITES = {
    # The customers app runs a person's erasure; the core, below every app, cannot register a
    # personal-data handler of its own, so the erasure scrubs the person from the core's audit log.
    (
        "omo/customers/privacy.py",
        "AuditLog",
    ): "erasure scrubs the audit log (docs/adr-personal-data-registry.md)",
}


def _app_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[0] == "omo" else None


def _foreign_models(tree: ast.AST, app: str) -> dict[str, str]:
    """Name in this module → app, for every model imported from another app's `models` module."""
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.endswith(".models"):
            owner = _app_of(node.module)
            if owner and owner != app:
                found.update({alias.asname or alias.name: owner for alias in node.names})
    return found


def _manager_model(node: ast.AST) -> str | None:
    """X when `node` is a chain that starts at `X.objects` (`X.objects.filter(…).select_for_update()`)."""
    while isinstance(node, ast.Call | ast.Attribute | ast.Subscript):
        if isinstance(node, ast.Attribute) and node.attr in ("objects", "_default_manager"):
            return node.value.id if isinstance(node.value, ast.Name) else None
        node = node.func if isinstance(node, ast.Call) else node.value
    return None


def _instances(tree: ast.AST, models: dict[str, str]) -> dict[str, str]:
    """Variable → model, for `x = X(…)` and `x = X.objects….get(…)` (also `x, _ = …get_or_create(…)`)."""
    found = {}
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.value, ast.Call)):
            continue
        target, call = node.targets[0], node.value
        if isinstance(target, ast.Tuple) and target.elts:
            target = target.elts[0]
        if not isinstance(target, ast.Name):
            continue
        if isinstance(call.func, ast.Name) and call.func.id in models:
            found[target.id] = call.func.id
        elif isinstance(call.func, ast.Attribute) and call.func.attr in INSTANCE_METHODS:
            model = _manager_model(call.func.value)
            if model in models:
                found[target.id] = model
    return found


def writes_to_other_apps(path: Path, app: str) -> list[tuple[int, str, str]]:
    """(line, model, method) of each write on another app's model in this module: a write method on
    `X.objects…`, or `.save()` / `.delete()` on `X(…)` or on a variable holding an X made or fetched
    in this module. Instances reached otherwise (`contact.customer.save()`) are not seen."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    models = _foreign_models(tree, app)
    if not models:
        return []
    instances = _instances(tree, models)
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        method, receiver = node.func.attr, node.func.value
        model = _manager_model(receiver) if method in WRITE_METHODS else None
        if model is None and method in ("save", "delete"):
            if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Name):
                model = receiver.func.id
            elif isinstance(receiver, ast.Name):
                model = instances.get(receiver.id)
        if model in models:
            found.append((node.lineno, model, method))
    return sorted(found)


def test_apps_write_to_other_apps_only_through_their_services():
    offenders = []
    for path in sorted((ROOT / "omo").rglob("*.py")):
        relative = path.relative_to(ROOT)
        if NOT_PRODUCT & set(relative.parts):
            continue
        for line, model, method in writes_to_other_apps(path, relative.parts[1]):
            if (relative.as_posix(), model) not in ALLOWED_WRITES:
                offenders.append(f"{relative}:{line} {model}….{method}()")
    assert offenders == []


def test_the_write_check_sees_managers_querysets_and_instances(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "from omo.inbox.models import Message, WebhookReceipt as Receipt\n"
        "from omo.tracking.models import TrackedEvent\n"
        "from omo.shop.models import Thing\n"
        "def f():\n"
        "    Receipt.objects.create(event_id='e')\n"  # 5
        "    Message.objects.filter(pk=1).select_for_update()[:5].update(text='')\n"  # 6
        "    TrackedEvent(name='x').save()\n"  # 7
        "    event, _ = TrackedEvent.objects.get_or_create(name='x')\n"  # 8
        "    event.delete()\n"  # 9
        "    Thing.objects.create()\n"  # the module's own app: not counted
        "    Message.objects.filter(pk=1).first()\n"  # a read
        "    message = Message.objects.get(pk=1)\n"
        "    message.text.update()\n"  # not the instance's own save or delete
    )
    assert writes_to_other_apps(module, "shop") == [
        (5, "Receipt", "create"),
        (6, "Message", "update"),
        (7, "TrackedEvent", "save"),
        (8, "TrackedEvent", "get_or_create"),
        (9, "TrackedEvent", "delete"),
    ]
