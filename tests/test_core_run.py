"""Run orchestration end to end on a tiny model with small in-process plugins.

The plugins here are real (a real gradient-ascent step, a real metric), just tiny, so the
orchestrator's contract is tested without the first-party plugins.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from debiasbench import hookimpl
from debiasbench.config import RunConfig
from debiasbench.errors import DebiasbenchError, UnknownNameError
from debiasbench.interfaces import (
    DataFile,
    EvalContext,
    ForgetSet,
    ForgetText,
    MeasureSpec,
    Metric,
    MetricResult,
    MetricRow,
    ModelHandle,
    ModelProvider,
    ModelSettings,
    StepInfo,
    UnlearningMethod,
    UnlearnOutcome,
    option,
)
from debiasbench.plugins import load_plugins
from debiasbench.results import read_table
from debiasbench.run import execute, plan_run
from debiasbench.testing import tiny_model_handle

TEXTS = ["Women are too emotional to lead.", "She is a terrible engineer.", "Girls are bad at football."]
PROBE = "The woman worked as a nurse and the man worked as an engineer."


class TinyProvider(ModelProvider):
    name = "tiny"

    def load(self, spec: str, settings: ModelSettings) -> ModelHandle:
        return tiny_model_handle(seed=settings.seed)


class TextLogProb(Metric):
    """Mean token log-prob of one sentence; changes whenever the weights change."""

    name = "text-logprob"
    measures = (MeasureSpec("text-logprob", ideal=None, better="higher"),)
    calls = 0

    def evaluate(self, model: ModelHandle, ctx: EvalContext, options: Any) -> MetricResult:
        import torch

        type(self).calls += 1
        ids = [model.prefix_token_id, *model.tokenizer(PROBE, add_special_tokens=False).input_ids]
        tokens = torch.tensor([ids])
        with torch.inference_mode():
            logp = torch.log_softmax(model.model(tokens).logits[0, :-1], -1).gather(1, tokens[0, 1:, None])
        return MetricResult(rows=[MetricRow("gender", "text-logprob", float(logp.mean()), len(ids) - 1)], protocol={"sentence": PROBE})


class TinyForgetSet(ForgetSet):
    name = "tiny-hate"
    files = (DataFile("tiny/none.txt"),)

    def domains(self) -> tuple[str, ...]:
        return ("gender",)

    def load_forget(self, data: Any, domain: str, split: str | None = None) -> list[ForgetText]:
        return [ForgetText(t, "gender", "women", source=self.name) for t in TEXTS]


@dataclass
class GAOptions:
    learning_rate: float = option(1e-2, "step size")
    max_steps: int = option(3, "steps")

    def __post_init__(self) -> None:
        if self.max_steps < 1:
            raise ValueError("max_steps must be >= 1")


class OneBatchGA(UnlearningMethod):
    """Gradient ascent on every token of all forget texts as one batch."""

    name = "tiny-ga"
    Options = GAOptions

    def unlearn(self, model: ModelHandle, options: Any, ctx: Any) -> UnlearnOutcome:
        import torch

        optimiser = torch.optim.SGD(model.model.parameters(), lr=options.learning_rate)
        history = []
        for step in range(1, options.max_steps + 1):
            loss = 0.0
            for item in ctx.forget:
                ids = torch.tensor([[model.prefix_token_id, *model.tokenizer(item.text).input_ids]])
                logp = torch.log_softmax(model.model(ids).logits[0, :-1], -1).gather(1, ids[0, 1:, None]).mean()
                logp.backward()
                loss += float(logp.detach())
            optimiser.step()
            optimiser.zero_grad()
            info = StepInfo(step=step, epoch=0, forget_loss=loss / len(ctx.forget))
            history.append(info)
            if ctx.on_step(info):
                return UnlearnOutcome(step, "callback", history)
        return UnlearnOutcome(options.max_steps, "steps", history)


@hookimpl
def register_models(register: Any) -> None:
    register(TinyProvider())


@hookimpl
def register_metrics(register: Any) -> None:
    register(TextLogProb())


@hookimpl
def register_datasets(register: Any) -> None:
    register(TinyForgetSet())


@hookimpl
def register_methods(register: Any) -> None:
    register(OneBatchGA())


@pytest.fixture()
def plugins() -> Any:
    import sys

    return load_plugins(extra={"tiny": sys.modules[__name__]}, entry_points=[])


def _config(tmp_path: Path, **kw: Any) -> RunConfig:
    base = dict(method="tiny-ga", model="tiny", domain="gender", forget_set="tiny-hate", metrics=["text-logprob"],
                results_dir=tmp_path / "results", cache_dir=tmp_path / "cache", device="cpu")
    base.update(kw)
    return RunConfig(**base)


def test_run_writes_before_and_after_rows(tmp_path: Path, plugins: Any) -> None:
    result = execute(plan_run(_config(tmp_path), plugins))
    metrics = read_table(tmp_path / "results", "metrics").to_pylist()
    stages = {row["stage"]: row["value"] for row in metrics}
    assert stages["after"] < stages["before"]  # gradient ascent lowered the likelihood of text
    assert {row["source_domain"] for row in metrics} == {"gender"}
    runs = read_table(tmp_path / "results", "runs").to_pylist()
    assert runs[0]["stop_reason"] == "steps" and runs[0]["steps"] == 3 and runs[0]["forget_texts"] == 3
    assert json.loads(runs[0]["versions"])["plugin:tiny"]
    assert result.run_id == runs[0]["run_id"]


def test_baseline_is_cached_across_runs(tmp_path: Path, plugins: Any) -> None:
    TextLogProb.calls = 0
    execute(plan_run(_config(tmp_path), plugins))
    execute(plan_run(_config(tmp_path), plugins))
    assert TextLogProb.calls == 3  # before once (then cached), after twice
    values = [r["value"] for r in read_table(tmp_path / "results", "metrics").to_pylist() if r["stage"] == "before"]
    assert len(values) == 2 and values[0] == values[1]


def test_eval_only(tmp_path: Path, plugins: Any) -> None:
    execute(plan_run(_config(tmp_path, method=None, domain=None), plugins))
    rows = read_table(tmp_path / "results", "metrics").to_pylist()
    assert [(r["method"], r["stage"]) for r in rows] == [("none", "before")]


def test_trajectory_probe_every_step(tmp_path: Path, plugins: Any) -> None:
    result = execute(plan_run(_config(tmp_path, eval_every=1, metrics=["text-logprob"]), plugins))
    # no crows-pairs/perplexity registered here: the probe has nothing to run, and says so by writing nothing
    assert result.trajectory_rows == []


def test_save_model_round_trip(tmp_path: Path, plugins: Any) -> None:
    target = tmp_path / "saved"
    execute(plan_run(_config(tmp_path, save_model=target), plugins))
    assert (target / "model.safetensors").is_file()
    manifest = json.loads((target / "debiasbench-manifest.json").read_text())
    assert manifest["method"] == "tiny-ga" and manifest["prefix_token_id"] == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".saved")]


@pytest.mark.parametrize(
    ("changes", "error", "message"),
    [
        ({"method": "tiny-gaa"}, UnknownNameError, "did you mean 'tiny-ga'"),
        ({"metrics": ["text-logprb"]}, UnknownNameError, "did you mean 'text-logprob'"),
        ({"domain": "gendr"}, UnknownNameError, "did you mean 'gender'"),
        ({"domain": "race"}, DebiasbenchError, "has no texts for domain 'race'"),
        ({"method_options": {"max_step": "2"}}, DebiasbenchError, "did you mean 'max_steps'"),
        ({"method_options": {"max_steps": "0"}}, DebiasbenchError, "max_steps must be >= 1"),
        ({"preset": "fast"}, UnknownNameError, "unknown preset 'fast'"),
    ],
)
def test_bad_input_fails_before_any_work(tmp_path: Path, plugins: Any, changes: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        plan_run(_config(tmp_path, **changes), plugins)
    assert not (tmp_path / "results" / "metrics").exists()


def test_results_dir_is_a_file(tmp_path: Path, plugins: Any) -> None:
    (tmp_path / "file").write_text("x")
    with pytest.raises(DebiasbenchError, match="is a file"):
        plan_run(_config(tmp_path, results_dir=tmp_path / "file"), plugins)
