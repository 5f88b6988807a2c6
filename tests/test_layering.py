"""The core's folders by job, imports one way (docs/architecture.md).

Every import between the core's modules is read from the source (module level, inside functions and
under ``TYPE_CHECKING`` alike: a lazy import is still a dependency). A module may import its own folder
and the folders below it, never one above; no two modules import each other, directly or round a
longer circle; no module imports another module's private (``_``) name; no core file exceeds
``MAX_LINES``."""

from __future__ import annotations

import ast
import re
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORE = ROOT / "debiasbench"
MAX_LINES = 400

LAYERS: tuple[tuple[str, ...], ...] = (
    ("errors", "domains"),  # the vocabulary every part shares
    ("runtime",),  # atomic writes, hashing, devices, progress, processes, memory
    ("plugin_system",),  # the contract with plugins: hook specs, interfaces per kind, options, registry
    ("results",),  # result tables: schemas, storage, per-item rows
    ("data",),  # data files: locating, checksums, reading rows
    ("lm",),  # scoring and generation on a loaded model
    ("training",),  # the unlearning loop and its losses
    ("statistics",),  # paired changes, resampling, crossed estimator, survival
    ("tracking",),  # experiment trackers: --track values checked, fanned out, what a run logs
    ("run",),  # one run: plan, execute, evaluate, record
    ("campaign",),  # many runs: sweep, study, executors
    ("reports",),  # summaries, compare, study report and plots
    ("cli",),  # the Typer commands
    ("api", "testing", "__main__"),  # facades over everything but the CLI
)
"""Lowest first. ``debiasbench/__init__.py`` (the version and ``hookimpl``) counts as ``plugin_system``."""


def rank_of(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "plugin_system"  # the package __init__
    for rank, names in enumerate(LAYERS):
        if top in names:
            return rank
    raise AssertionError(f"{module}: its folder {top!r} is in no layer of LAYERS; add it (and to docs/architecture.md)")


def modules() -> dict[str, Path]:
    out = {}
    for path in sorted(CORE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def imports(known: dict[str, Path]) -> dict[str, set[tuple[str, str]]]:
    """module -> {(imported module, imported name or '')}, for imports of the core only."""
    out: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for name, path in known.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                target = node.module or ""
                if node.level:  # relative import
                    base = name.split(".") if is_package else name.split(".")[:-1]
                    base = base[: len(base) - node.level + 1]
                    target = ".".join(base + ([target] if target else []))
                if not target.startswith("debiasbench") or target.startswith("debiasbench_"):
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    out[name].add((sub, "") if sub in known else (target, alias.name))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name == "debiasbench" or alias.name.startswith("debiasbench."):
                        out[name].add((alias.name, ""))
    return out


KNOWN = modules()
EDGES = imports(KNOWN)


def test_every_folder_has_a_layer_and_the_docs_list_them_in_order() -> None:
    folders = {p.name for p in CORE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    folders |= {p.stem for p in CORE.glob("*.py") if p.stem != "__init__"}
    for folder in sorted(folders):
        rank_of(f"debiasbench.{folder}")
    page = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| \d+ \| `([a-z_]+)/?` ", page, flags=re.M)
    assert listed == [n for names in LAYERS for n in names], "docs/architecture.md's layer table differs from LAYERS"


def test_no_import_runs_up() -> None:
    upward = [f"{a} (layer {rank_of(a)}) imports {b} (layer {rank_of(b)})"
              for a, targets in EDGES.items() for b, _ in targets if rank_of(b) > rank_of(a)]
    assert not upward, "\n".join(upward)


def test_no_import_circle() -> None:
    graph = {a: {b for b, _ in targets if b in KNOWN and b != a} for a, targets in EDGES.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for v in sorted(KNOWN):
        if v not in index:
            visit(v)
    assert not circles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in circles)


def test_no_private_name_crosses_modules() -> None:
    private = [f"{a} imports {name} from {b}" for a, targets in EDGES.items() for b, name in targets
               if name.startswith("_") and not name.startswith("__") and b != a]
    assert not private, "\n".join(private)


@pytest.mark.parametrize("path", sorted(CORE.rglob("*.py")), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_core_file_is_long(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.relative_to(ROOT)} has {lines} lines (at most {MAX_LINES}): split it by job"
