"""Relearning (``run --relearn-steps``): fine-tuning on benign text changes the weights, writes
``relearned`` metric and item rows, records its settings, shows up in the summary and compare; bad
input is one line, a non-zero exit and nothing written. Tiny GPT-2 and the in-process tiny plugins."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
import torch
from typer.testing import CliRunner

import debiasbench.plugin_system.loader as plugins_module
from debiasbench import hookimpl
from debiasbench.cli import app
from debiasbench.errors import DebiasbenchError
from debiasbench.run.config import RunConfig
from debiasbench.run.end_to_end import execute, plan_run
from debiasbench.plugin_system.loader import load_plugins
from debiasbench.results.check import check_results
from debiasbench.results.tables import read_table
from debiasbench.testing import tiny_model_handle
from debiasbench.training.relearn import RelearnSettings, relearn
from tests import tiny_plugins, tiny_study_plugins
from tests.tiny_plugins import TinyForgetSet

BENIGN = ["Women and men work together in the city.", "The woman read the newspaper.", "Girls and boys play football.",
          "My sister cooked dinner for her son.", "The man drove a truck to the park."]


class TinyHateWithRetain(TinyForgetSet):
    """Gender hate plus benign retain text about the same groups."""

    name = "tiny-hate-retain"
    texts: ClassVar[dict[str, list[str]]] = {"gender": ["Women are too emotional to lead.", "She is a terrible engineer."],
                                             "race": ["Black people are all terrible people.", "They are terrible people."]}

    def load_retain(self, data: Any, domain: str) -> list[str]:
        return list(BENIGN)


class RelearnPlugin:
    @hookimpl
    def register_datasets(self, register: Any) -> None:
        register(TinyHateWithRetain())


@pytest.fixture()
def plugins() -> Any:
    return load_plugins(extra={"tiny": tiny_plugins, "tiny-study": tiny_study_plugins, "relearn": RelearnPlugin()},
                        entry_points=[])


def _config(tmp_path: Path, **kw: Any) -> RunConfig:
    base = dict(method="tiny-ga", model="tiny", domain="gender", forget_set="tiny-hate-retain", metrics=["item-logprob"],
                results_dir=tmp_path / "results", cache_dir=tmp_path / "cache", device="cpu", relearn_steps=4)
    base.update(kw)
    return RunConfig(**base)


def by_stage_test(items: list[dict[str, Any]], stage: str) -> float:
    """The mean item value of gender's test items in ``stage`` (item-logprob is a mean)."""
    values = [r["value"] for r in items if r["stage"] == stage and r["domain"] == "gender" and r["split"] == "test"]
    return sum(values) / len(values)


def _weights(model: Any) -> torch.Tensor:
    return torch.cat([p.detach().flatten().clone() for p in model.parameters()])


def _nll(handle: Any, texts: list[str]) -> float:
    from debiasbench.lm.logprobs import mean_nll

    ids = [handle.tokenizer(t, add_special_tokens=False).input_ids for t in texts]
    return mean_nll(handle.model, ids, [[True] * len(i) for i in ids], handle.prefix_token_id)


def test_relearning_descends_on_the_benign_texts_and_is_seeded() -> None:
    settings = RelearnSettings(steps=5, learning_rate=1e-2, batch_size=2, seed=3, source="test texts")
    handle, again = tiny_model_handle(), tiny_model_handle()
    start, nll = _weights(handle.model), _nll(handle, BENIGN)
    info = relearn(handle, BENIGN, settings)
    relearn(again, BENIGN, settings)
    assert not torch.equal(_weights(handle.model), start)
    assert _nll(handle, BENIGN) < nll - 0.1  # descent: the texts became likelier
    assert torch.equal(_weights(handle.model), _weights(again.model))  # one seed, the same weights
    assert info["steps"] == 5 and info["texts"] == 5 and info["texts_used"] == 5 and info["lora"] is False
    assert info["loss_last"] < info["loss_first"] and info["trained_parameters"] == start.numel()
    assert all(not p.requires_grad or p.grad is None for p in handle.model.parameters())


def test_relearning_under_lora_trains_adapters_and_merges_them() -> None:
    from debiasbench.training.options import TrainingOptions

    handle = tiny_model_handle()
    start = _weights(handle.model)
    lora = TrainingOptions(lora=True, lora_r=2, lora_targets="c_attn")
    info = relearn(handle, BENIGN, RelearnSettings(steps=3, learning_rate=1e-2, batch_size=2, seed=0, source="t", lora=lora))
    assert info["lora"] is True and 0 < info["trained_parameters"] < start.numel() / 4  # adapters only
    assert type(handle.model).__name__ == "GPT2LMHeadModel"  # merged back into a plain model
    assert not torch.equal(_weights(handle.model), start)


def test_run_writes_relearned_rows_and_records_the_settings(tmp_path: Path, plugins: Any) -> None:
    result = execute(plan_run(_config(tmp_path), plugins))
    metrics = read_table(tmp_path / "results", "metrics").to_pylist()
    by_stage = {(r["stage"], r["domain"]): r["value"] for r in metrics}
    assert {s for s, _ in by_stage} == {"before", "after", "relearned"}
    assert by_stage[("relearned", "gender")] != by_stage[("after", "gender")]
    items = read_table(tmp_path / "results", "items").to_pylist()
    per_stage = {s: sorted(r["item"] for r in items if r["stage"] == s) for s in ("before", "after", "relearned")}
    assert per_stage["relearned"] == per_stage["before"] == per_stage["after"] and per_stage["before"]
    run = read_table(tmp_path / "results", "runs").to_pylist()[0]
    record = json.loads(run["config"])["resolved"]["relearn"]
    assert record["steps"] == 4 and record["batch_size"] == 8 and record["texts"] == len(BENIGN)
    assert record["learning_rate"] == RunConfig().relearn_learning_rate and "tiny-hate-retain" in record["source"]
    assert not check_results(tmp_path / "results").damage  # the third stage is a valid one
    from rich.console import Console

    from debiasbench.reports.summary import relearn_table

    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(relearn_table(result.metrics_rows, "relearned", items=result.items))
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    gender = next(line.split() for line in lines if line.split()[:2] == ["item-logprob", "gender"])
    assert len(gender) in (7, 8)  # measure domain n before after relearned kept [interval]
    assert float(gender[5]) == pytest.approx(by_stage_test(items, "relearned"), abs=0.01)
    assert relearn_table([r for r in metrics if r["stage"] != "relearned"], "none") is None


def test_compare_shows_survival_of_relearned_runs(tmp_path: Path, plugins: Any) -> None:
    from debiasbench.reports.compare import compare
    from debiasbench.reports.compare_formats import render_csv, render_text

    execute(plan_run(_config(tmp_path, method_options={"learning_rate": 0.05}), plugins))
    comparison = compare(tmp_path / "results")
    cells = [c for c in comparison.cells.values() if c.paired is not None]
    assert cells and all(c.survival is not None for c in cells)
    defined = [c.survival for c in cells if c.survival.value is not None]  # type: ignore[union-attr]
    for s in defined:
        assert s.ci[0] <= s.value <= s.ci[1]  # type: ignore[index,operator]
    assert "kept" in render_text(comparison) and "survival_ci_low" in render_csv(comparison).splitlines()[0]


def test_config_without_relearning_keeps_its_hash() -> None:
    assert RunConfig(method="m", domain="gender").config_hash() == RunConfig(method="m", domain="gender", relearn_steps=0).config_hash()
    assert RunConfig(method="m", domain="gender").config_hash() != RunConfig(method="m", domain="gender", relearn_steps=5).config_hash()


def test_plain_evaluation_and_save_model_are_refused(tmp_path: Path, plugins: Any) -> None:
    with pytest.raises(DebiasbenchError, match="plain evaluation"):
        plan_run(_config(tmp_path, method=None, domain=None), plugins)
    with pytest.raises(DebiasbenchError, match="--save-model"):
        plan_run(_config(tmp_path, save_model=tmp_path / "saved"), plugins)
    with pytest.raises(DebiasbenchError, match="no effect without --relearn-steps"):
        plan_run(_config(tmp_path, relearn_steps=0, relearn_learning_rate=1e-3), plugins)


@pytest.fixture()
def cli_plugins(plugins: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setattr(plugins_module, "_CACHED", plugins)
    return plugins


@pytest.mark.parametrize("args, message", [
    (["--relearn-steps", "-2"], "--relearn-steps must be 0 (off) or more, got -2"),
    (["--relearn-steps", "3", "--relearn-learning-rate", "0"], "--relearn-learning-rate must be a positive number"),
    (["--relearn-steps", "3", "--forget-set", "tiny-hate"], "forget set 'tiny-hate' has none for domain 'gender'"),
])
def test_bad_relearning_input_is_one_line_and_writes_nothing(cli_plugins: Any, tmp_path: Path, args: list[str],
                                                             message: str) -> None:
    common = ["run", "--method", "tiny-ga", "--model", "tiny", "--domain", "gender", "--metrics", "item-logprob",
              "--forget-set", "tiny-hate-retain", "--results-dir", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c"),
              "--device", "cpu", "--threads", "1"]
    result = CliRunner().invoke(app, common + args, catch_exceptions=False)
    assert result.exit_code != 0 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert not (tmp_path / "r").exists() or not any((tmp_path / "r").rglob("*.parquet"))


def test_eval_has_no_relearning(cli_plugins: Any, tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["eval", "--model", "tiny", "--metrics", "item-logprob", "--relearn-steps", "3",
                                      "--results-dir", str(tmp_path / "r")])
    assert result.exit_code == 2 and not (tmp_path / "r").exists()


def test_sweep_files_take_relearn_steps(tmp_path: Path, cli_plugins: Any) -> None:
    from debiasbench.campaign.sweep import validate
    from debiasbench.campaign.sweep_file import load_sweep

    grid = tmp_path / "grid.toml"
    grid.write_text('model = "tiny"\nforget_set = "tiny-hate-retain"\nmetrics = ["item-logprob"]\ndevice = "cpu"\n'
                    'relearn_steps = 6\nrelearn_batch_size = 2\n[grid]\nmethod = ["tiny-ga"]\ndomain = ["gender"]\n')
    plans = validate(load_sweep(grid, results_dir=tmp_path / "r", plugins=cli_plugins))
    assert [(p.config.relearn_steps, p.config.relearn_batch_size) for p in plans] == [(6, 2)]
    bad = tmp_path / "bad.toml"
    bad.write_text(grid.read_text().replace("relearn_steps = 6", "relearn_steps = -1"))
    with pytest.raises(DebiasbenchError, match="sweep point 1 .*--relearn-steps must be 0"):
        validate(load_sweep(bad, results_dir=tmp_path / "r", plugins=cli_plugins))


STUDY = """
model = "tiny"
forget_set = "tiny-hate-retain"
metrics = ["item-logprob"]
device = "cpu"
cache_dir = "{cache}"
results_dir = "{results}"
relearn_steps = 3

[grid]
method = ["tiny-ga"]
domain = ["gender", "race"]

[options.tiny-ga]
learning_rate = 0.05

[study]
name = "tiny-relearn"
controls = ["tiny-half-lr"]

[study.family]
name = "tiny family"
measures = ["item-logprob"]
"""


def test_study_report_shows_survival(tmp_path: Path, cli_plugins: Any) -> None:
    import csv

    path = tmp_path / "study.toml"
    path.write_text(STUDY.format(cache=tmp_path / "cache", results=tmp_path / "results"))
    result = CliRunner().invoke(app, ["study", str(path), "-q"])
    assert result.exit_code == 0, result.output
    report = tmp_path / "results" / "report"
    assert "Survival of item-logprob after relearning" in (report / "report.md").read_text()
    changes = [r for r in csv.DictReader((report / "cells.csv").open()) if r["kind"] == "change"]
    assert changes and all(r["relearned"] and r["survival"] for r in changes)


def test_study_preflight_refuses_relearning_without_benign_text(tmp_path: Path, cli_plugins: Any) -> None:
    path = tmp_path / "study.toml"
    text = STUDY.format(cache=tmp_path / "cache", results=tmp_path / "results")
    path.write_text(text.replace('forget_set = "tiny-hate-retain"', 'forget_set = "tiny-hate-2"'))
    result = CliRunner().invoke(app, ["study", str(path), "--dry-run"])
    assert result.exit_code != 0 and "forget set 'tiny-hate-2' has none for domain" in result.output
    assert not (tmp_path / "results").exists() or not any((tmp_path / "results").rglob("*.parquet"))
