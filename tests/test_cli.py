"""The CLI: one-line errors with the right exit codes, plugin listing, run/eval through Typer, the
run and eval options generated from the run schema, and typed plugin options."""

from __future__ import annotations

import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

import debiasbench.run.end_to_end
import debiasbench.plugin_system.loader as plugins_module
from debiasbench import hookimpl
from debiasbench.cli import app
from debiasbench.run.config import EVAL, RUN, RunConfig, hash_ignored, schema
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
    """Importing the CLI loads every installed plugin (their commands are in --help); none may import torch."""
    code = "import sys; from debiasbench.cli import app; assert 'torch' not in sys.modules, 'torch imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-2000:]


def test_module_entry_points() -> None:
    for module in ("debiasbench", "debiasbench.cli"):
        result = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, check=False)
        assert result.returncode == 0 and result.stdout.startswith("debiasbench "), result.stderr[-2000:]


# --------------------------------------------------------------------------- options generated from the schema


def _params(command: str) -> dict[str, Any]:
    click_app = typer.main.get_command(app)
    return {p.opts[0]: p for p in click_app.commands[command].params}  # type: ignore[attr-defined]


def test_run_and_eval_options_come_from_the_schema() -> None:
    run, eval_ = _params("run"), _params("eval")
    for field in schema():
        flag = (field.setting.flags or (f"--{field.name.replace('_', '-')}",))[0]
        assert (flag in run) == (RUN in field.setting.commands), flag
        assert (flag in eval_) == (EVAL in field.setting.commands), flag
        for params in (run, eval_):
            if flag in params:
                assert params[flag].help == field.setting.help and params[flag].envvar == field.setting.envvar
    assert run["--method"].required and run["--domain"].required and "--method" not in eval_
    assert run["--option"].opts == ["--option", "-o"] and run["--metric-option"].opts == ["--metric-option", "-M"]
    assert run["--data-dir"].envvar == "DEBIASBENCH_DATA" and eval_["--cache-dir"].envvar == "DEBIASBENCH_CACHE"
    assert run["--model"].default is None and run["--metrics"].default is None  # the registry's defaults
    assert "--quiet" in run and "--quiet" in eval_


def test_the_hash_ignores_where_a_run_writes() -> None:
    assert hash_ignored() == {"results_dir", "data_dir", "cache_dir", "save_model", "overwrite", "track", "use_cache", "save_examples", "device",
                              "threads", "batch_size", "device_map", "gradient_checkpointing"}
    base = RunConfig(method="m", domain="gender")
    assert RunConfig(method="m", domain="gender", threads=2, results_dir=Path("x")).config_hash() == base.config_hash()
    assert RunConfig(method="m", domain="gender", seed=1).config_hash() != base.config_hash()


def test_settings_added_later_keep_older_hashes_at_their_default() -> None:
    """--lora-threshold, --full-finetune, the --relearn-* settings and --lm-eval-include enter the hash only when changed,
    so a sweep resumed after the upgrade still finds its finished points."""
    from debiasbench.runtime.hashing import sha256_json

    base = RunConfig(method="m", domain="gender")
    later = ("lora_threshold", "full_finetune", "relearn_steps", "relearn_learning_rate", "relearn_batch_size", "metric_include")
    older = {k: v for k, v in base.to_json().items() if k not in hash_ignored() and k not in later}
    assert base.config_hash() == sha256_json(older, 16)
    assert RunConfig(method="m", domain="gender", lora_threshold=5.0).config_hash() != base.config_hash()
    assert RunConfig(method="m", domain="gender", full_finetune=True).config_hash() != base.config_hash()
    assert RunConfig(method="m", domain="gender", relearn_steps=20).config_hash() != base.config_hash()


@pytest.mark.parametrize("flag", ["--scoring", "--max-tokens"])
def test_per_metric_shortcuts_are_gone(tiny_plugins: Any, flag: str) -> None:
    result = runner.invoke(app, ["eval", "--model", "tiny", flag, "1"])
    assert result.exit_code == 2 and "No such option" in result.output


# --------------------------------------------------------------------------- typed plugin options, from -o / -s / -M to the config


@pytest.fixture()
def captured(monkeypatch: pytest.MonkeyPatch) -> list[RunConfig]:
    """Options-rich in-process plugins, and run_experiment replaced by a recorder (nothing runs)."""
    from tests import test_core_options as opts

    module = types.SimpleNamespace(
        register_methods=hookimpl(lambda register: [register(opts._Method()), register(opts._PlainMethod())]),
        register_span_selectors=hookimpl(lambda register: [register(opts._Picky()), register(opts._Relay())]),
        register_metrics=hookimpl(lambda register: register(opts._Metric())),
    )
    monkeypatch.setattr(plugins_module, "_CACHED", load_plugins(extra={"opts": module}, entry_points=[]))
    seen: list[RunConfig] = []

    def record(config: RunConfig, log: Any = None, card: Any = None) -> Any:
        seen.append(config)
        return types.SimpleNamespace(run_id="r", metrics_rows=[], trajectory_rows=[])

    monkeypatch.setattr(debiasbench.run.end_to_end, "run_experiment", record)
    return seen


def test_options_are_typed_when_the_command_is_parsed(captured: list[RunConfig]) -> None:
    result = _run("run", "--method", "opt-method", "--domain", "gender", "-o", "learning-rate=1e-3", "-s", "top_k=0.5",
                  "-M", "om.batch_size=4", "--threads", "2", "--quiet")
    assert result.exit_code == 0, result.stderr
    (config,) = captured
    assert config.method_options == {"learning_rate": 0.001}
    assert config.selector_options == {"top_k": 0.5}
    assert config.metric_options == {"opt-metric": {"batch_size": 4}}
    assert (config.model, config.metrics, config.forget_set, config.threads) == (None, None, None, 2)
    assert _run("eval", "-M", "opt-metric.batch_size=8", "--quiet").exit_code == 0
    assert captured[1].method is None and captured[1].metric_options == {"opt-metric": {"batch_size": 8}}


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["-o", "learning_rate=fast"], 1, "option learning_rate='fast' for method 'opt-method' is not a valid float"),
        (["-o", "learning_rate=inf"], 1, "must be a finite number"),
        (["-o", "lr=1"], 1, "unknown option 'lr' for method 'opt-method'"),
        (["-s", "top_k=lots"], 1, "for selector 'picky' is not a valid float"),
        (["-M", "batch_size=4"], 1, "malformed option batch_size='4' for -M: expected OWNER.KEY=VALUE"),
        (["-M", "opt-metrc.batch_size=4"], 2, "unknown metric 'opt-metrc'; did you mean 'opt-metric'?"),
    ],
)
def test_bad_plugin_options_are_one_line(captured: list[RunConfig], args: list[str], code: int, message: str) -> None:
    result = _run("run", "--method", "opt-method", "--domain", "gender", *args)
    assert result.exit_code == code and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and not captured


def test_selector_options_for_a_method_without_selector(captured: list[RunConfig]) -> None:
    result = _run("run", "--method", "plain-method", "--domain", "gender", "-s", "top_k=0.5")
    assert result.exit_code == 1 and "method 'plain-method' takes no span selector" in result.stderr


def test_strict_mode_failure_is_one_line_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    """DEBIASBENCH_STRICT_PLUGINS and a broken plugin: the app still builds; commands that need plugins say why."""
    from debiasbench.cli import build_app
    from debiasbench.errors import PluginError

    def broken(**kwargs: Any) -> Any:
        raise PluginError("plugin 'broken' (broken_pkg.plugin): import failed: ImportError: No module named 'x'")

    monkeypatch.setattr(plugins_module, "_CACHED", None)
    monkeypatch.setattr(plugins_module, "load_plugins", broken)
    strict_app = build_app()
    assert runner.invoke(strict_app, ["--version"]).exit_code == 0
    result = runner.invoke(strict_app, ["plugins"])
    assert result.exit_code == 1 and result.stderr.strip().startswith("error: plugin 'broken'")


@pytest.mark.parametrize("flag", ["--full-finetune", "--no-lora"])
def test_large_model_flags_reach_the_config(captured: list[RunConfig], flag: str) -> None:
    result = _run("run", "--method", "opt-method", "--domain", "gender", flag, "--lora-threshold", "5e8", "--gradient-checkpointing",
                  "--device-map", "auto", "--quiet")
    assert result.exit_code == 0, result.stderr
    (config,) = captured
    assert (config.full_finetune, config.lora_threshold, config.gradient_checkpointing, config.device_map) == (True, 5e8, True, "auto")
