"""docs/plugins.md and the interfaces' docstring stay in step with the code: every kind the registry
has, every hook, every command of the Typer app, every first-party distribution (issue 26)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import typer.main

from debiasbench.cli import app
from debiasbench.cli.app import BUILTIN, SUB_APPS
from debiasbench.plugin_system import hookspecs, interfaces
from debiasbench.plugin_system.interfaces import KIND_BASES, KINDS

ROOT = Path(__file__).resolve().parent.parent
PAGE = (ROOT / "docs" / "plugins.md").read_text()
NUMBERS = {5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine"}


def _section(title: str) -> str:
    return PAGE.split(f"\n## {title}\n", 1)[1].split("\n## ", 1)[0]


def test_the_hook_table_has_every_kind_and_the_command_hook() -> None:
    rows = dict(re.findall(r"^\| `(register_\w+)\(register\)` \| (.*) \|$", PAGE, re.M))
    assert set(rows) == {*hookspecs.HOOK_KINDS, hookspecs.COMMAND_HOOK}
    for hook, kind in hookspecs.HOOK_KINDS.items():
        assert KIND_BASES[kind].__name__ in rows[hook], hook  # Dataset: `EvalDataset` or `ForgetSet`
    assert f"{NUMBERS[len(KINDS)]} kinds of registered object" in PAGE


def test_the_interfaces_docstring_counts_the_real_kinds() -> None:
    doc = interfaces.__doc__ or ""
    assert f"{NUMBERS[len(KINDS)].capitalize()} kinds of object exist" in doc
    for base in KIND_BASES.values():
        assert f":class:`{base.__name__}`" in doc, base.__name__
    assert "commands" in doc


def test_the_page_lists_every_command_of_the_app() -> None:
    section = _section("The commands")
    builtin_part, plugin_part = section.split("Commands that installed plugins add", 1)
    builtin = re.findall(r"^- `([a-z-]+)`", builtin_part, re.M)
    assert builtin == [*BUILTIN, *SUB_APPS]  # every built-in command and command group, in --help order
    listed = set(builtin) | set(re.findall(r"^- `([a-z-]+)`", plugin_part, re.M))
    root = typer.main.get_command(app)
    commands = set(root.list_commands(root.make_context("debiasbench", [], resilient_parsing=True)))
    assert commands <= listed, sorted(commands - listed)  # every command of the installed app, plugin commands included


def test_the_page_names_every_first_party_distribution_and_entry_point() -> None:
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(debiasbench-[a-z]+)` \| (.*?) \|", PAGE, re.M)}
    for pyproject in sorted((ROOT / "plugins").glob("*/pyproject.toml")):
        project = tomllib.loads(pyproject.read_text())["project"]
        assert project["name"] in rows, project["name"]
        for entry_point in project["entry-points"]["debiasbench"]:
            assert f"`{entry_point}`" in rows[project["name"]], (project["name"], entry_point)
