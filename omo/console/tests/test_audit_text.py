"""The audit log speaks in sentences: every action any service records has its words, and the page
shows those words (in the page's language), the kind of object, and the details folded away."""

from __future__ import annotations

import ast
import pathlib

from django.urls import reverse

import omo
from omo.catalog.models import Product
from omo.console.audit_text import ACTIONS
from omo.core import audit
from omo.core.audit import Actor
from omo.customers.models import MergeSuggestion
from omo.testing import factories as f

ROOT = pathlib.Path(omo.__file__).parent


def _recorded_actions() -> dict[str, str]:
    """Every action code passed to `audit.record(actor, <code>, ...)` in the product, with where.

    A code given through a variable is found in that variable's assignments in the same function.
    """
    found: dict[str, str] = {}
    for path in ROOT.rglob("*.py"):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for function in ast.walk(tree):
            if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
                continue
            for node in ast.walk(function):
                if not (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "record"
                    and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "audit"
                    and len(node.args) >= 2
                ):
                    continue
                argument = node.args[1]
                expressions: list[ast.AST] = [argument]
                if isinstance(argument, ast.Name):
                    expressions = [
                        assign.value
                        for assign in ast.walk(function)
                        if isinstance(assign, ast.Assign)
                        and any(isinstance(t, ast.Name) and t.id == argument.id for t in assign.targets)
                    ]
                    assert expressions, f"{path}:{node.lineno}: the action {argument.id} is never assigned"
                for expression in expressions:
                    for code in _codes(expression, f"{path}:{node.lineno}"):
                        found.setdefault(code, f"{path.relative_to(ROOT.parent)}:{node.lineno}")
    return found


def _codes(expression: ast.AST, where: str) -> list[str]:
    """The codes an action expression can give: a literal, or either branch of `a if c else b`."""
    if isinstance(expression, ast.Constant) and isinstance(expression.value, str):
        return [expression.value]
    if isinstance(expression, ast.IfExp):
        return _codes(expression.body, where) + _codes(expression.orelse, where)
    raise AssertionError(f"{where}: give audit.record a literal action code, not {ast.unparse(expression)}")


def test_every_recorded_action_has_its_sentence():
    recorded = _recorded_actions()
    assert len(recorded) >= 70  # the scan sees the services' calls
    missing = [f"{code} ({where})" for code, where in sorted(recorded.items()) if code not in ACTIONS]
    assert missing == [], "add these actions' sentences to omo/console/audit_text.py"


def test_the_audit_page_shows_sentences_not_codes(console, brand, hq_admin):
    product = f.make_product(brand, "亞麻襯衫")
    audit.record(Actor(brand=brand, user=hq_admin), "product.updated", product, fields=["title"])
    audit.record(Actor.system(brand), "mystery.thing", None)

    page = console.get(reverse("console:audit")).content.decode()

    assert ">修改商品<" in page and f"商品 #{product.pk}" in page
    assert ">其他動作<" in page
    assert '<td class="mono">product.updated</td>' not in page
    assert '<option value="product.updated">修改商品</option>' in page
    assert f'<option value="{Product._meta.label_lower}">商品</option>' in page

    english = console.get(reverse("console:audit"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Edited a product" in english


def test_filtering_by_kind_of_object(console, brand, hq_admin):
    actor = Actor(brand=brand, user=hq_admin)
    product = f.make_product(brand)
    audit.record(actor, "product.updated", product)
    audit.record(actor, "api_key.created", None)

    response = console.get(reverse("console:audit"), {"target_type": "catalog.product"})

    assert [entry.action for entry in response.context["page"].object_list] == ["product.updated"]


def test_the_merge_queue_names_the_shared_identifier_in_words(console, brand):
    a = f.make_customer(brand, name="林一", phone="+886912000222")
    b = f.make_customer(brand, name="林二", phone="+886912000333")
    MergeSuggestion.objects.create(
        brand=brand, customer_a=a, customer_b=b, kind="email", value="lin@example.com"
    )
    c = f.make_customer(brand, name="林三", phone="+886912000444")
    MergeSuggestion.objects.create(brand=brand, customer_a=a, customer_b=c, kind="product_card", value="#12")

    page = console.get(reverse("console:merge_queue")).content.decode()

    assert "Email<div" in page and "商品卡片連結<div" in page
    assert "product_card:" not in page and "email:" not in page
