"""Nothing in the product imports omo.devtools: the stand-ins, simulator and demo stay removable.

config/ (settings, urls) and the test helpers in omo/testing/ may name it; so may tests.
"""

from __future__ import annotations

from omo.testing.layers import imported_modules, offenders


def test_no_product_module_imports_devtools():
    assert offenders("omo", ("omo.devtools",), allowed=("omo/devtools/", "omo/testing/")) == []


def test_the_check_sees_imports_inside_functions(tmp_path):
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from omo.devtools.demo_info import demo_logins\n")
    assert "omo.devtools.demo_info" in imported_modules(module)
