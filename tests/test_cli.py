"""The CLI: one-line errors with the right exit codes, plugin listing, run/eval through Typer."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import debiasbench.plugin_system.loader as plugins_module
from debiasbench.cli import app
from debiasbench.plugin_system.loader import load_plugins
from debiasbench.results.tables import read_table

runner = CliRunner()


@pytest.fixture()
def tiny_plugins(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Make the CLI see only the tiny in-process plugins of test_core_run."""
    from tests import test_core_run

    loaded = load_plugins(extra={"tiny": test_core_run}, entry_points=[])
    monkeypatch.setattr(plugins_module, "_CACHED", loaded)
    return loaded


def _run(*args: str) -> Any:
    return runner.invoke(app, list(args), catch_exceptions=False)


def test_version() -> None:
    result = _run("--version")
    assert result.exit_code == 0 and result.stdout.startswith("debiasbench ")


def test_typo_in_method_gives_did_you_mean_and_exit_2(tiny_plugins: Any, tmp_path: Path) -> None:
    result = _run("run", "--method", "tiny-gaa", "--model", "tiny", "--domain", "gender", "--results-dir", str(tmp_path / "r"))
    assert result.exit_code == 2
    assert "unknown method 'tiny-gaa'; did you mean 'tiny-ga'?" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_malformed_option_is_one_line(tiny_plugins: Any, tmp_path: Path) -> None:
    result = _run("run", "--method", "tiny-ga", "--model", "tiny", "--domain", "gender", "-o", "max_steps",
                  "--forget-set", "tiny-hate", "--metrics", "text-logprob", "--results-dir", str(tmp_path / "r"))
    assert result.exit_code == 1 and "malformed option 'max_steps'" in result.stderr
    assert not (tmp_path / "r" / "metrics").exists()


def test_results_dir_that_is_a_file(tiny_plugins: Any, tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    result = _run("eval", "--model", "tiny", "--metrics", "text-logprob", "--results-dir", str(tmp_path / "f"))
    assert result.exit_code == 1 and "is a file, not a folder" in result.stderr


def test_run_and_eval_write_tables(tiny_plugins: Any, tmp_path: Path) -> None:
    common = ["--model", "tiny", "--metrics", "text-logprob", "--results-dir", str(tmp_path / "r"),
              "--cache-dir", str(tmp_path / "c"), "--device", "cpu"]
    assert _run("eval", *common).exit_code == 0
    result = _run("run", "--method", "tiny-ga", "--domain", "gender", "--forget-set", "tiny-hate", "-o", "max_steps=2", *common)
    assert result.exit_code == 0, result.stderr
    runs = read_table(tmp_path / "r", "runs").to_pylist()
    assert sorted(r["command"] for r in runs) == ["eval", "run"]
    assert next(r for r in runs if r["command"] == "run")["steps"] == 2


def test_plugins_json_reports_status(tiny_plugins: Any) -> None:
    result = _run("plugins", "--json")
    data = json.loads(result.stdout)
    assert data[0]["name"] == "tiny" and data[0]["status"] == "ok"
    assert data[0]["provides"]["method"] == ["tiny-ga"]


def test_list_unknown_kind(tiny_plugins: Any) -> None:
    result = _run("list", "method")
    assert result.exit_code == 2 and "did you mean 'methods'" in result.stderr


def test_help_is_fast_and_torch_free() -> None:
    code = "import sys; from debiasbench.cli import app; assert 'torch' not in sys.modules"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
