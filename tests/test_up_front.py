"""Issue 25's smaller promises, each on its own: paths refused before the work, printed commands
that paste, resume hints that repeat the options, bounded remote probes, and no silent choice."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from debiasbench.cli import app
from debiasbench.errors import DebiasbenchError

runner = CliRunner()


# --------------------------------------------------------------------------- paths


def test_link_loops_and_dangling_links_are_refused(tmp_path: Path) -> None:
    from debiasbench.runtime.paths import check_resolves

    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    (tmp_path / "dangling").symlink_to(tmp_path / "unmounted")
    (tmp_path / "fine").symlink_to(tmp_path)
    check_resolves(tmp_path / "fine" / "results", "results dir")  # a link that resolves is fine
    with pytest.raises(DebiasbenchError, match="symbolic-link loop"):
        check_resolves(tmp_path / "loop" / "results", "results dir")
    with pytest.raises(DebiasbenchError, match="does not exist \\(deleted or not mounted\\)"):
        check_resolves(tmp_path / "dangling", "results dir")


def test_an_immutable_folder_refuses_even_root(tmp_path: Path) -> None:
    """``os.access`` says yes to root in an immutable folder; the probe file says no."""
    from debiasbench.runtime.paths import write_refused

    folder = tmp_path / "locked"
    folder.mkdir()
    assert write_refused(folder) is None and not any(folder.iterdir())  # the probe leaves nothing
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
        pytest.skip("cannot set the immutable attribute here")
    try:
        assert write_refused(folder) is not None
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_the_restore_command_is_shell_quoted(tmp_path: Path) -> None:
    """A results folder with a space in its path: the printed command copies to that folder."""
    from debiasbench.run.records import _copy_back
    from debiasbench.results.storage import open_store

    recovered, target = tmp_path / "recovery dir" / "run1", tmp_path / "my results"
    (recovered / "runs").mkdir(parents=True)
    (recovered / "runs" / "run1.parquet").write_text("x")
    target.mkdir()
    command = _copy_back(recovered, open_store(target))
    assert "'" in command
    subprocess.run(command, shell=True, check=True)
    assert (target / "runs" / "run1.parquet").read_text() == "x"
    assert not (tmp_path / "my").exists()


def test_the_resume_hint_repeats_the_options_given() -> None:
    from debiasbench.cli.resume_hint import resume_command
    from debiasbench.campaign.executors import ExecutorOptions

    options = ExecutorOptions("ray", retries=3, workers=2, cpus_per_run=2.0, address="head:6379")
    hint = resume_command("sweep", Path("my grid.toml"), "/scratch/my results", options, quiet=True, yes=True,
                          track=["mlflow:file:///tmp/ml runs", "tensorboard"])
    assert shlex.split(hint) == ["debiasbench", "sweep", "my grid.toml", "--results-dir", "/scratch/my results",
                                 "--track", "mlflow:file:///tmp/ml runs", "--track", "tensorboard", "--executor", "ray",
                                 "--retries", "3", "--workers", "2", "--cpus-per-run", "2", "--address", "head:6379", "--quiet", "--yes"]


# --------------------------------------------------------------------------- remote probes


def test_a_hanging_call_is_bounded_by_its_limit() -> None:
    from debiasbench.results.storage import bounded

    started = time.perf_counter()
    with pytest.raises(DebiasbenchError, match="no answer within 0.5 s"):
        bounded(lambda: time.sleep(5), 0.5, "cannot reach results dir gs://b/r")
    assert time.perf_counter() - started < 2
    assert bounded(lambda: 7, 1, "x") == 7
    with pytest.raises(KeyError):
        bounded(lambda: {}["k"], 1, "x")  # the call's own error comes back as it was


def test_the_whole_reason_is_kept() -> None:
    from debiasbench.results.storage import short_reason

    reason = "Could not create a client: " + "credentials " * 40 + "were not found in the metadata server"
    assert short_reason(OSError(reason)) == reason  # not cut mid-word
    assert short_reason(OSError("first line\n  second line")) == "first line second line"


# --------------------------------------------------------------------------- no silent choice


def test_unknown_disable_names_are_said_and_distribution_names_work(monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture[str]) -> None:
    from debiasbench.plugin_system.loader import load_plugins

    monkeypatch.setenv("DEBIASBENCH_DISABLE_PLUGINS", "debiasbench-debias,no-such-plugin")
    loaded = load_plugins()
    err = capsys.readouterr().err
    assert "'no-such-plugin', which is no installed plugin" in err and "debiasbench-debias" not in err.split("Plugins:")[0]
    debias = [s for s in loaded.statuses if s.distribution == "debiasbench-debias"]
    assert debias and all(s.status == "disabled" for s in debias)


def _sweep(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_bytes(text.encode())
    return path


def test_a_byte_order_mark_and_repeated_seeds_are_noted(tmp_path: Path) -> None:
    text = (f"\ufeffresults_dir = '{tmp_path / 'results'}'\nmodel = 'tiny'\nforget_set = 'tiny-hate-2'\nmetrics = ['item-logprob']\n"
            "[grid]\nmethod = ['tiny-ga']\ndomain = ['gender']\nseed = [0, 0, 1]\n")
    result = _tiny(["sweep", str(_sweep(tmp_path, text)), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "starts with a UTF-8 byte-order mark; it was ignored" in result.output
    assert "[grid] seed lists 0 more than once; each value runs once" in result.output
    assert "2 points" in result.output


def _tiny(argv: list[str]) -> object:
    import debiasbench.plugin_system.loader as loader
    from tests import tiny_plugins, tiny_study_plugins

    saved = loader._CACHED
    loader._CACHED = loader.load_plugins(extra={"tiny": tiny_plugins, "tiny-study": tiny_study_plugins}, entry_points=[])
    try:
        return runner.invoke(app, argv)
    finally:
        loader._CACHED = saved


@pytest.mark.parametrize(("command", "words"), [("study", "[study]"), ("study", "[study.family]"), ("sweep", "[grid]"),
                                                ("sweep", "[options.<method>]")])
def test_help_keeps_the_table_names(command: str, words: str) -> None:
    result = runner.invoke(app, [command, "--help"], terminal_width=200)
    assert result.exit_code == 0 and words in result.output, result.output


def test_a_large_grid_asks_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    import typer

    from debiasbench.campaign.grid_size import confirm_size

    confirm_size(10, yes=False, what="sweep x")  # small: no question
    confirm_size(10**6, yes=True, what="sweep x")  # --yes: no question
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True, raising=False)
    asked: list[str] = []
    monkeypatch.setattr(typer, "confirm", lambda text, **_: asked.append(text) or False)
    with pytest.raises(DebiasbenchError, match="not confirmed, nothing was run"):
        confirm_size(10**6, yes=False, what="sweep x")
    assert asked and "1,000,000 runs" in asked[0]


def test_grid_size_counts_option_grids_and_axes() -> None:
    from debiasbench.campaign.grid_size import grid_size

    data = {"grid": {"method": ["a", "b", "none"], "domain": ["gender", "race"], "seed": [0, 1, 2]},
            "options": {"a": {"lr": [1, 2], "steps": 3}}}
    assert grid_size(data) == (2 * 2 + 2 + 1) * 3
