"""The promised plugin API (docs/api.md): the page lists exactly what ``debiasbench.api`` and its
sub-namespaces export, and every first-party plugin and the example plugin import nothing else."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest

import debiasbench.api as api
from debiasbench.plugin_system.loader import api_mismatch, load_plugins

ROOT = Path(__file__).resolve().parents[1]
PAGE = ROOT / "docs" / "api.md"
PLUGIN_ROOTS = [*sorted((ROOT / "plugins").glob("*/debiasbench_*")), ROOT / "tests" / "example_plugin"]
NAMESPACES = {"debiasbench.api": api, **{f"debiasbench.api.{sub}": getattr(api, sub) for sub in api.SUBMODULES}}


def documented() -> dict[str, list[str]]:
    """Namespace -> the names docs/api.md lists under its ``## `namespace``` heading (``- `name`: ...`` lines)."""
    listed: dict[str, list[str]] = {}
    current: str | None = None
    for line in PAGE.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            heading = re.fullmatch(r"## `(debiasbench\.api(?:\.\w+)?)`", line)
            current = heading.group(1) if heading else None
            if current is not None:
                listed[current] = []
        elif current is not None and (item := re.match(r"- `(\w+)`: \S", line)):
            listed[current].append(item.group(1))
    return listed


def test_the_page_lists_exactly_each_namespaces_all() -> None:
    listed = documented()
    assert set(listed) == set(NAMESPACES)
    for namespace, module in NAMESPACES.items():
        assert len(listed[namespace]) == len(set(listed[namespace])), f"{namespace}: a name listed twice"
        assert sorted(listed[namespace]) == sorted(module.__all__), namespace


def test_every_promised_name_resolves_and_the_namespaces_do_not_overlap() -> None:
    seen: dict[str, str] = {}
    for namespace, module in NAMESPACES.items():
        for name in module.__all__:
            assert getattr(module, name) is not None
            assert name not in seen, f"{name} is in {seen.get(name)} and {namespace}"
            seen[name] = namespace
    assert re.fullmatch(r"\d+\.\d+", api.API_VERSION)


def test_importing_the_api_loads_no_torch() -> None:
    code = "import sys, debiasbench.api as a; assert a.lm and a.training and a.data; assert 'torch' not in sys.modules"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


def _core_uses(path: Path) -> list[tuple[int, str, str]]:
    """(line, namespace, name) of every name ``path`` takes from the core: ``from debiasbench... import``
    statements, ``import debiasbench...`` and attribute chains on a module bound to ``debiasbench.api``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses: list[tuple[int, str, str]] = []
    api_aliases: dict[str, str] = {}  # local name -> namespace it is bound to
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module == "debiasbench" or node.module.startswith("debiasbench.")):
            for alias in node.names:
                target = f"{node.module}.{alias.name}"
                if target in NAMESPACES:  # from debiasbench import api / from debiasbench.api import lm
                    api_aliases[alias.asname or alias.name] = target
                else:
                    uses.append((node.lineno, node.module, alias.name))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "debiasbench" or alias.name.startswith("debiasbench."):
                    uses.append((node.lineno, alias.name, "(import)"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in api_aliases:
            namespace = api_aliases[node.value.id]
            if f"{namespace}.{node.attr}" not in NAMESPACES:  # api.lm.x is checked as lm.x below
                uses.append((node.lineno, namespace, node.attr))
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and isinstance(node.value.value, ast.Name)
              and node.value.value.id in api_aliases and f"{api_aliases[node.value.value.id]}.{node.value.attr}" in NAMESPACES):
            uses.append((node.lineno, f"{api_aliases[node.value.value.id]}.{node.value.attr}", node.attr))
    return uses


def test_first_party_and_example_plugins_import_only_promised_names() -> None:
    outside: list[str] = []
    files = [f for root in PLUGIN_ROOTS for f in sorted(root.rglob("*.py"))]
    assert len(files) > 50 and any("example_plugin" in str(f) for f in files)
    used = 0
    for path in files:
        for line, namespace, name in _core_uses(path):
            used += 1
            module = NAMESPACES.get(namespace)
            if module is None or name not in module.__all__:
                outside.append(f"{path.relative_to(ROOT)}:{line}: {namespace}.{name}")
    assert used > 200  # the walk sees the plugins' imports
    assert not outside, "not in the promised API (docs/api.md):\n" + "\n".join(outside)


def test_the_walk_catches_an_internal_import(tmp_path: Path) -> None:
    sample = tmp_path / "plugin.py"
    sample.write_text("from debiasbench import api\nfrom debiasbench.api import lm, option\n"
                      "from debiasbench.runtime.atomic import atomic_dir\nimport debiasbench.cli\n"
                      "x = api.lm.shard, api.training.train, lm.gather, api.MODULES_KEY, api.lm.broadcast\n")
    found = {(namespace, name) for _, namespace, name in _core_uses(sample)}
    assert found == {("debiasbench.api", "option"), ("debiasbench.runtime.atomic", "atomic_dir"), ("debiasbench.cli", "(import)"),
                     ("debiasbench.api.lm", "shard"), ("debiasbench.api.training", "train"), ("debiasbench.api.lm", "gather"),
                     ("debiasbench.api", "MODULES_KEY"), ("debiasbench.api.lm", "broadcast")}


def test_the_example_plugin_declares_the_api_and_provides_a_metric_a_method_and_a_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(ROOT / "tests" / "example_plugin"))
    from debiasbench_example_plugin import command, method, plugin

    modules = {"example-metric": plugin, "example-method": method, "example-command": command}
    loaded = load_plugins(extra=modules, entry_points=[])
    statuses = {s.name: s for s in loaded.statuses}
    assert all(s.status == "ok" and not s.warnings for s in statuses.values())
    assert all(m.DEBIASBENCH_API == api.API_VERSION.split(".")[0] for m in modules.values())
    assert isinstance(loaded.registry.metric("pronoun-gap"), api.Metric)
    assert isinstance(loaded.registry.method("example-floored-ga"), api.training.LossMethod)
    assert [c.name for c in loaded.commands] == ["example-hello"]


@pytest.mark.parametrize(("declared", "warning"), [
    (None, None), ("1", None), ("1.7", None),
    ("2", "written for debiasbench API 2; this is API 1.2: it may not work (docs/api.md)"),
    (1, "DEBIASBENCH_API = 1 is not an API version such as '1'; see docs/api.md"),
])
def test_a_declared_api_major_other_than_this_one_is_a_warning(declared: object, warning: str | None) -> None:
    module = types.ModuleType("acme_plugin")
    if declared is not None:
        module.DEBIASBENCH_API = declared  # type: ignore[attr-defined]
    assert api_mismatch(module) == warning
    if warning is not None:
        status = load_plugins(extra={"acme": module}, entry_points=[]).statuses[0]
        assert status.status == "ok" and status.warnings == [warning]
