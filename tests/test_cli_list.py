"""``debiasbench list``: the kinds, one line per object, one object's options; nothing cut at 80
columns or when piped (issue 26)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys

import pytest
from rich.console import Console
from typer.testing import CliRunner

import debiasbench.cli.list_cmd as list_cmd
from debiasbench.cli import app
from debiasbench.cli.list_cmd import KIND_ARG
from debiasbench.plugin_system.loader import get_registry
from debiasbench.plugin_system.options import describe_options

pytest.importorskip("debiasbench_unlearn")
pytest.importorskip("debiasbench_metrics")


@pytest.fixture()
def listing(monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    """``debiasbench list ...`` printed into an 80-column console that is no terminal (as when piped)."""

    def run(*args: str) -> str:
        buffer = io.StringIO()
        monkeypatch.setattr(list_cmd, "out", Console(file=buffer, width=80, force_terminal=False))
        result = CliRunner().invoke(app, ["list", *args], catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return buffer.getvalue()

    return run


def _uncut(output: str) -> str:
    """The output's words joined by single spaces, after checking that no line is over 80 columns or ellipsised."""
    for line in output.splitlines():
        assert len(line) <= 80, line
    assert "…" not in output
    return " ".join(output.split())


def _words(text: str) -> str:
    return " ".join(text.split())


def test_a_kind_is_one_row_per_object_with_name_plugin_and_whole_description(listing) -> None:  # noqa: ANN001
    registry = get_registry()
    for kind, one in KIND_ARG.items():
        output = listing(kind)
        text = _uncut(output)
        for entry in registry.entries(one):
            first = next(line for line in output.splitlines() if line.startswith(entry.name + " "))
            assert entry.provider in first.split(), (kind, first)  # name and plugin on the object's first line
            assert _words(entry.obj.description) in text, (kind, entry.name)
            for alias in entry.obj.aliases:
                assert alias in text


def test_one_object_shows_every_option_in_full(listing) -> None:  # noqa: ANN001
    registry = get_registry()
    for one in ("method", "metric", "dataset", "selector", "control", "model"):
        kind = next(k for k, v in KIND_ARG.items() if v == one)
        for entry in registry.entries(one):
            text = _uncut(listing(kind, entry.name))
            assert _words(entry.obj.description) in text
            for option in describe_options(entry.obj.Options):
                assert f"{option['name']} {_words(option['type'])}; default" in text, (entry.name, option["name"])
                assert _words(option["help"]) in text, (entry.name, option["name"])


@pytest.mark.parametrize(("kind", "name", "words"), [
    ("methods", "npo", ["learning_rate float; default 1e-05 AdamW learning rate", "max_steps int | None; default none"]),
    ("metrics", "crows", ["crows-pairs (metric from plugin", "batch_size int | auto; default 64",
                          "crows-pairs.score ideal 50.0, closer is better", "-M crows-pairs.key=value"]),
    ("metrics", "seat", ["sent-angry_black_woman_stereotype_b"]),
])
def test_wide_options_wrap_instead_of_being_cut(listing, kind: str, name: str, words: list[str]) -> None:  # noqa: ANN001
    text = _uncut(listing(kind, name))
    for word in words:
        assert word in text


def test_list_without_a_kind_names_every_kind(listing) -> None:  # noqa: ANN001
    text = _uncut(listing())
    for kind, one in KIND_ARG.items():
        assert kind in text and all(name in text for name in get_registry().names(one))
    data = json.loads(listing("--json"))
    assert set(data) == set(KIND_ARG) and "npo" in data["methods"]


def test_json_of_one_object_is_its_row(listing) -> None:  # noqa: ANN001
    row = json.loads(listing("methods", "npo", "--json"))
    assert row["name"] == "npo" and any(o["name"] == "learning_rate" for o in row["options"])


def test_piped_at_80_columns_nothing_is_cut() -> None:
    """The real command, its output piped, with COLUMNS=80: the option that was cut to ``learning_rat…``."""
    env = {**os.environ, "COLUMNS": "80"}
    result = subprocess.run([sys.executable, "-m", "debiasbench", "list", "methods"], capture_output=True, text=True,
                            env=env, check=False)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
    text = _uncut(result.stdout)
    assert _words(get_registry().get("method", "npo").description) in text
