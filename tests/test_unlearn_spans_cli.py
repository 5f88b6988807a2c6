"""``debiasbench spans``, the command debiasbench-unlearn adds through the ``register_commands``
hook: the selected tokens are highlighted and counted. The model loader is replaced by the tiny
test model, so these tests need no download; the embedded model is used in the slow test."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("debiasbench_unlearn")

from debiasbench_unlearn import spans_command  # noqa: E402
from debiasbench_unlearn.spans_command import highlighted  # noqa: E402
from rich.console import Console  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from debiasbench.cli import app  # noqa: E402
from debiasbench.plugin_system.loader import get_plugins  # noqa: E402
from debiasbench.testing import tiny_model_handle  # noqa: E402


def test_highlighted_marks_selected_characters_and_escapes_markup():
    text = "[b]women[/b] are vile"
    offsets = [(0, 3), (3, 8), (8, 12), (12, 16), (16, 21)]
    out = highlighted(text, offsets, [False, False, False, False, True])
    assert out.endswith("[bold red] vile[/]")
    assert "\\[b]" in out  # user text cannot inject markup


@pytest.fixture()
def tiny_loader(monkeypatch: pytest.MonkeyPatch):
    handle = tiny_model_handle(texts=["I hate women.", "Women are stupid."])
    monkeypatch.setattr(spans_command, "load_model", lambda spec, settings: handle)
    return handle


def test_spans_is_a_plugin_command():
    status = next(s for s in get_plugins().statuses if s.name == "span-selectors")
    assert status.provides["command"] == ["spans"] and not status.warnings
    help_text = CliRunner().invoke(app, ["--help"]).output
    assert "Commands from plugins" in help_text and "spans" in help_text
    assert "Provided by plugin 'span-selectors'" in CliRunner().invoke(app, ["spans", "--help"]).output


def test_spans_command_highlights_and_summarises(tiny_loader, data_dir: Path):
    result = CliRunner().invoke(app, ["spans", "--domain", "gender", "--limit", "5", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "annotated on hatecheck / gender: 5 texts" in result.output
    assert "tokens selected" in result.output


def test_spans_command_selector_options_and_errors(tiny_loader, data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    lexicon = tmp_path / "words.txt"
    lexicon.write_text("hate\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["spans", "--domain", "gender", "--selector", "lexicon", "--limit", "0",
                                      "-o", f"lexicon={lexicon}", "-o", "identity_terms=false", "--data-dir", str(data_dir)])
    assert result.exit_code == 0, result.output
    assert "lexicon on hatecheck / gender: 373 texts" in result.output
    bad = CliRunner().invoke(app, ["spans", "--domain", "gender", "--forget-set", "toxigen", "--data-dir", str(data_dir)])
    assert bad.exit_code == 1 and "needs annotated spans" in bad.output
    unknown = CliRunner().invoke(app, ["spans", "--domain", "gendr", "--data-dir", str(data_dir)])
    assert unknown.exit_code == 2 and "did you mean 'gender'" in unknown.output
    monkeypatch.setattr(spans_command, "load_model", lambda spec, settings: pytest.fail("the model was loaded"))
    typo = CliRunner().invoke(app, ["spans", "--domain", "gender", "--selector", "lexicon", "-o", "identity_term=false",
                                    "--data-dir", str(data_dir)])
    assert typo.exit_code == 1 and "did you mean 'identity_terms'" in typo.output


def test_without_colour_the_selection_is_bracketed():
    text = "You are a [slut]."
    offsets = [(0, 3), (3, 7), (7, 9), (9, 11), (11, 15), (15, 16), (16, 17)]
    out = highlighted(text, offsets, [False, False, False, True, True, False, False], colour=False)
    console = Console(color_system=None, record=True, width=80)
    console.print(out)
    assert console.export_text().strip() == "You are a [[[slut]]]."
