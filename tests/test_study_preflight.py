"""The flagship study file with each study mistake of issue 25 fails in under 5 seconds with one
line, in ``--dry-run`` and in the real command alike, before any run and writing nothing."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("debiasbench_unlearn")
pytest.importorskip("debiasbench_metrics")

from debiasbench.cli import app  # noqa: E402

FLAGSHIP = Path(__file__).resolve().parents[1] / "studies" / "transfer-hatecheck.toml"
NAME = 'name = "transfer-hatecheck"'
FAMILY = 'measures = ["crows-pairs.score", "stereoset-intra.ss"]\ndomains = ["gender", "race", "religion"]'

MISTAKES: list[tuple[str, list[tuple[str, str]], str]] = [
    ("report_dir an existing file", [(NAME, NAME + '\nreport_dir = "@tmp@/afile"')], "is a file, not a folder"),
    ("report_dir not a string", [(NAME, NAME + "\nreport_dir = 3")], "report_dir must be a folder or URI as a string"),
    ("report_dir under a file", [(NAME, NAME + '\nreport_dir = "@tmp@/afile/report"')], "cannot be written"),
    ("report_dir in a link loop", [(NAME, NAME + '\nreport_dir = "@tmp@/loop"')], "symbolic-link loop"),
    ("family measure no metric produces", [('measures = ["crows-pairs.score", "stereoset-intra.ss"]', 'measures = ["stereoset.lms"]')],
     "is reported by none of the grid's metrics"),
    ("family domain never evaluated", [(FAMILY, FAMILY.replace('"religion"]', '"religion", "age"]'))], "domain 'age' is never evaluated"),
    ("benign-ga without perplexity", [('metrics = ["crows-pairs", "stereoset", "perplexity"]', 'metrics = ["crows-pairs", "stereoset"]'),
                                      ("[metric_options.perplexity]\nmax_tokens = 4096\n", "")],
     "add 'perplexity' to metrics"),
    ("power target the items cannot meet", [("pooled = 5.0", "pooled = 1.0")],
     "the pooled cross-domain contrast's MDE 4.51 exceeds 1"),
    ("cell power target the items cannot meet", [("cell = 10.0", "cell = 5.0")],
     "crows-pairs.score on race (516 test items): MDE vs control 9.85 exceeds 5"),
    ("power target not a number", [("pooled = 5.0", 'pooled = "small"')], "[study.power] pooled must be a positive MDE"),
    ("equivalence margin outside the range", [("equivalence_margin = 5.0", "equivalence_margin = 500.0")],
     "is not smaller than the range of crows-pairs.score"),
    ("tradeoff_measure names nothing", [(NAME, NAME + '\ntradeoff_measure = "perplexity.wikitext"')], "did you mean 'perplexity.wikitext2'"),
    ("metric option typo", [("max_tokens = 4096", "max_token = 4096")], "did you mean 'max_tokens'"),
]


def _variant(tmp_path: Path, changes: list[tuple[str, str]]) -> Path:
    text = FLAGSHIP.read_text()
    for old, new in changes:
        assert old in text, old
        text = text.replace(old, new.replace("@tmp@", str(tmp_path)))
    path = tmp_path / "flagship.toml"
    path.write_text(text)
    return path


def _snapshot(root: Path) -> set[str]:
    return {str(Path(f, n).relative_to(root)) for f, dirs, files in os.walk(root) for n in [*dirs, *files]}


def test_the_flagship_itself_passes_the_preflight(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEBIASBENCH_CACHE", str(tmp_path / "cache"))
    result = CliRunner().invoke(app, ["study", str(FLAGSHIP), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "size: 27 runs; time: ~" in result.output
    assert "pooled cross-domain contrast: 12 cells, 4358 test items" in result.output and "MDE vs control 4.51" in result.output


@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "real"])
@pytest.mark.parametrize(("name", "changes", "words"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_study_mistake_fails_fast_in_one_line(name: str, changes: list[tuple[str, str]], words: str, dry_run: bool,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEBIASBENCH_CACHE", str(tmp_path / "cache"))
    (tmp_path / "afile").write_text("x")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    path = _variant(tmp_path, changes)
    before = _snapshot(tmp_path)
    started = time.process_time()  # CPU time of this process (the CLI runs in it): a loaded machine does not fail the check
    result = CliRunner().invoke(app, ["study", str(path), *(["--dry-run"] if dry_run else ["-q"])])
    took = time.process_time() - started
    assert result.exit_code == 1 and words in result.output, f"{name}: exit {result.exit_code}\n{result.output}"
    assert [line for line in result.output.splitlines() if line.strip()] == [result.output.strip()], result.output  # one line
    assert "Traceback" not in result.output
    assert took < 5, f"{name}: took {took:.1f} s of CPU"
    assert _snapshot(tmp_path) == before  # no run started, nothing written


def test_too_few_items_a_cell_is_said_before_the_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells below the paired statistics' minimum are left out of the report: said in one note up front."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DEBIASBENCH_CACHE", str(tmp_path / "cache"))
    changes = [("dev_fraction = 0.0", "dev_fraction = 0.3\neval_limit = 8"), ("pooled = 5.0 ", "# pooled = 5.0 "),
               ("cell = 10.0 ", "# cell = 10.0 ")]
    result = CliRunner().invoke(app, ["study", str(_variant(tmp_path, changes)), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "note: eval limit 8 of crows-pairs leaves about 5 test items a cell" in result.output
