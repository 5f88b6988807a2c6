"""Every name the benchmark scripts import from the toolkit exists.

The benchmarks import lazily inside functions and no test runs them (they take minutes to hours),
so a moved name (the API split of issue 26 moved ``DataLocator`` to ``debiasbench.api.data``) would
only show when someone measures. This reads their imports and resolves each one.
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

BENCHMARKS = sorted((Path(__file__).resolve().parent.parent / "benchmarks").glob("*.py"))


def toolkit_imports(path: Path) -> list[tuple[str, str, int]]:
    """(module, name, line) of every ``from debiasbench... import name`` in the file, nested ones included."""
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0].startswith("debiasbench"):
            out += [(node.module, alias.name, node.lineno) for alias in node.names]
    return out


@pytest.mark.parametrize("path", BENCHMARKS, ids=lambda p: p.name)
def test_benchmark_imports_resolve(path: Path):
    missing = []
    for module, name, line in toolkit_imports(path):
        if not hasattr(importlib.import_module(module), name):
            missing.append(f"{path.name}:{line}: {name} is not in {module}")
    assert not missing, "\n".join(missing)


def test_the_check_reads_imports_nested_in_functions():
    nested = toolkit_imports(BENCHMARKS[0].parent / "peer_winogender.py")  # it imports only inside functions
    assert ("debiasbench.api.data", "DataLocator") in {(module, name) for module, name, _ in nested}
