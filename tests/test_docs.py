"""The documentation: generated reference pages match the code, the site builds with --strict, and the
code cites the docs pages that hold its definitions (pages and headings that exist; never the external SPEC)."""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


gen_docs = _load("gen_docs")


def test_cli_reference_has_every_command_and_option() -> None:
    import typer.main

    from debiasbench.cli import app

    page = gen_docs.cli_reference()
    root = typer.main.get_command(app)
    ctx = root.make_context("debiasbench", [], resilient_parsing=True)
    for name in root.list_commands(ctx):
        command = root.get_command(ctx, name)
        assert f"\n## {name}\n" in page
        sub = command.make_context(name, [], parent=ctx, resilient_parsing=True)
        for param in command.get_params(sub):
            if param.name != "help" and param.opts[0].startswith("-"):
                assert f"`{param.opts[0]}`" in page, f"{name} {param.opts[0]}"
    assert "`DEBIASBENCH_DATA`" in page  # environment variables are documented too


def test_results_reference_documents_every_column() -> None:
    from debiasbench.results.schemas import TABLES

    page = gen_docs.results_reference()  # raises when a column has no description
    for name, schema in TABLES.items():
        assert f"## `{name}`" in page
        for field in schema:
            assert f"| `{field.name}` | `{field.type}` |" in page
    assert "| `better` | `string` | closer \\| higher \\| lower |" in page  # the comment in results.py


def test_catalog_lists_registered_objects_with_options_and_measures(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import dataclass

    import debiasbench.plugin_system.loader
    from debiasbench import hookimpl
    from debiasbench.plugin_system.interfaces import MeasureSpec, Metric, option

    @dataclass
    class ListedOptions:
        scoring: str = option("mean", "mean | sum")

    class Listed(Metric):
        name = "listed-metric"
        aliases = ("lm",)
        description = "A metric the catalog must list."
        Options = ListedOptions
        measures = (MeasureSpec("listed-metric.score", 50.0, "closer", "share of pairs"),)

        def evaluate(self, model: Any, ctx: Any, options: Any) -> Any:
            raise AssertionError("the catalog never evaluates")

    module = types.SimpleNamespace(register_metrics=hookimpl(lambda register: register(Listed())))
    loaded = debiasbench.plugin_system.loader.load_plugins(extra={"listing": module}, entry_points=[])
    monkeypatch.setattr(debiasbench.plugin_system.loader, "_CACHED", loaded)
    page = gen_docs.catalog_reference()
    assert "### `listed-metric`" in page and "aliases `lm`" in page and "A metric the catalog must list." in page
    assert "| `listed-metric.score` | 50.0 | closer | share of pairs |" in page
    assert "| `scoring` | str | `mean` | mean \\| sum |" in page
    assert "No unlearning methods are registered" in page and "| `quick` |" in page


def test_rest_docstrings_become_markdown() -> None:
    pytest.importorskip("griffe")
    rest = _load("griffe_rst")
    text = "Returns :class:`~debiasbench.plugin_system.interfaces.MetricRow` s; ``-o key=value``. Example::\n\n    code"
    assert rest.rest_to_markdown(text) == "Returns `MetricRow` s; `-o key=value`. Example:\n\n    code"


@pytest.mark.slow
def test_mkdocs_build_strict(tmp_path: Path) -> None:
    """The one docs build of CI (.ci/run sets DEBIASBENCH_REQUIRE_DOCS: there a missing mkdocs fails, not skips)."""
    import os

    if os.environ.get("DEBIASBENCH_REQUIRE_DOCS"):
        import mkdocs  # noqa: F401
        import mkdocstrings  # noqa: F401
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    result = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                            cwd=ROOT, capture_output=True, text=True, timeout=300, env=_env())
    assert result.returncode == 0, result.stderr[-4000:]
    for page in ("reference/cli", "reference/results", "reference/catalog", "reference/plugin-api", "plugins", "concepts"):
        assert (tmp_path / "site" / page / "index.html").is_file(), page
    plugin_page = (tmp_path / "site" / "plugins" / "index.html").read_text()
    assert "register_metrics" in plugin_page and "PronounGap" in plugin_page  # the example is included from its source
    api = (tmp_path / "site" / "reference" / "plugin-api" / "index.html").read_text()
    assert 'id="debiasbench.plugin_system.interfaces.MeasureSpec"' in api and ":class:" not in api


def _env() -> dict[str, str]:
    import os

    return {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


# --------------------------------------------------------------------------- citations in the code

CITING = ("debiasbench", "plugins", "scripts", "tests")
PAGE = re.compile(r"docs/([\w/.-]+\.md)")
PAGE_HEADING = re.compile(r"docs/([\w/.-]+\.md),\s*\\?\"([^\"\\]+)\\?\"")
SPEC_CITATION = re.compile(r"(?<![:A-Z_])\bSPEC\b")  # not the ``PROVIDER:SPEC`` model syntax
SPEC_KEPT = {
    # A protocol value written into every winogender result: compare refuses to pool rows whose protocols
    # differ, so rewording it would split new runs from stored ones. It records the prompt variant not used.
    ("plugins/debiasbench-metrics/debiasbench_metrics/winogender/metric.py", "SPEC 13 wrote \\\"'{pronoun}'\\\""),
}


def _sources(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py") if "site-packages" not in p.parts)


def _headings(page: Path) -> list[str]:
    headings, fenced = [], False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"#{1,6}\s+(.+?)\s*$", line)):
            headings.append(m.group(1).replace("`", "").lower())
    return headings


def test_no_code_cites_the_external_spec() -> None:
    """The definitions live in docs/ (docs/methodology.md indexes them): code cites those pages, not a
    document outside the repository."""
    found = []
    for path in _sources("debiasbench", "plugins"):
        rel = path.relative_to(ROOT).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if SPEC_CITATION.search(line) and not any(rel == f and kept in line for f, kept in SPEC_KEPT):
                found.append(f"{rel}:{number}: {line.strip()[:100]}")
    assert not found, "cite the docs page that holds the definition instead:\n" + "\n".join(found)


def test_every_docs_page_and_heading_cited_in_code_exists() -> None:
    generated = set(gen_docs.PAGES)  # built by the mkdocs hook, not files in docs/
    missing = []
    for path in _sources(*CITING):
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT).as_posix()
        for page in set(PAGE.findall(text)):
            if page not in generated and not (ROOT / "docs" / page).is_file():
                missing.append(f"{rel}: docs/{page}")
        for page, heading in PAGE_HEADING.findall(text):
            if page in generated or not (ROOT / "docs" / page).is_file():
                continue
            wanted = heading.replace("`", "").lower()
            if not any(h.startswith(wanted) for h in _headings(ROOT / "docs" / page)):
                missing.append(f'{rel}: docs/{page}, "{heading}" (no such heading)')
    assert not missing, "\n".join(sorted(missing))


def test_the_citation_checks_see_what_they_check() -> None:
    assert SPEC_CITATION.search("(SPEC section 2)") and not SPEC_CITATION.search("SPECS = (")
    assert not SPEC_CITATION.search("--model PROVIDER:SPEC") and SPEC_CITATION.search("see SPEC 13")
    assert PAGE_HEADING.findall('(docs/concepts.md,\n    "Sentence scoring"; more)') == [("concepts.md", "Sentence scoring")]
    assert PAGE_HEADING.findall('f"... (docs/concepts.md, \\"Sentence scoring\\")"') == [("concepts.md", "Sentence scoring")]
    assert "sentence scoring" in _headings(ROOT / "docs" / "concepts.md")
    assert "dev and test items" in _headings(ROOT / "docs" / "statistics.md")
