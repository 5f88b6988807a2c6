"""Planning: presets declared by plugin objects, defaults from the registry, selector options
validated before any model loads, and what plugins report (notes, method info) in the run record."""

from __future__ import annotations

import json
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest

from debiasbench.api import MeasureSpec, MetricResult, PresetValues, SpanSelector, hookimpl, option
from debiasbench.errors import DebiasbenchError
from debiasbench.run.config import RunConfig
from debiasbench.run.end_to_end import execute, plan_run
from debiasbench.plugin_system.loader import load_plugins
from debiasbench.plugin_system.presets import known_presets
from tests import tiny_plugins


@dataclass
class NotedOptions:
    depth: int = option(3, "how deep")
    bootstrap: int = option(1000, "resamples")


class NotedMetric(tiny_plugins.TextLogProb):
    """A metric with its own quick values, a probe, and a note in every result."""

    name = "noted"
    measures = (MeasureSpec("noted", ideal=None, better="higher", headline=True),)
    Options = NotedOptions
    default: ClassVar[bool] = True
    presets: ClassVar[dict[str, PresetValues]] = {"quick": PresetValues(options={"depth": 1}, limit=7),
                                                  "tiny-preset": PresetValues(limit=2)}
    probe = PresetValues(options={"bootstrap": 0}, limit=1)

    def evaluate(self, model: Any, ctx: Any, options: Any) -> MetricResult:
        result = super().evaluate(model, ctx, options)
        result.notes.append(f"evaluated with depth {options.depth} and limit {ctx.limit}")
        return result


@dataclass
class PickyOptions:
    width: int = option(2, "tokens")


class PickySelector(SpanSelector):
    name = "picky"
    Options = PickyOptions

    def select(self, items: Any, ctx: Any) -> list[list[bool]]:
        return [[True] * len(it.input_ids) for it in items]


@dataclass
class SelectiveGAOptions(tiny_plugins.GAOptions):
    selector: str = option("picky", "span selector")


class SelectiveGA(tiny_plugins.TinyGA):
    name = "tiny-selective"
    Options = SelectiveGAOptions


def _extra() -> types.SimpleNamespace:
    return types.SimpleNamespace(
        register_metrics=hookimpl(lambda register: register(NotedMetric())),
        register_span_selectors=hookimpl(lambda register: register(PickySelector())),
        register_methods=hookimpl(lambda register: register(SelectiveGA())),
    )


@pytest.fixture()
def plugins() -> Any:
    return load_plugins(extra={"tiny": tiny_plugins, "extra": _extra()}, entry_points=[])


def _config(tmp_path: Path, **kw: Any) -> RunConfig:
    base = dict(method="tiny-ga", model="tiny", domain="gender", forget_set="tiny-hate", metrics=["noted"],
                results_dir=tmp_path / "results", cache_dir=tmp_path / "cache", device="cpu")
    base.update(kw)
    return RunConfig(**base)


def test_each_object_says_what_a_preset_means(tmp_path: Path, plugins: Any) -> None:
    quick = plan_run(_config(tmp_path, preset="quick"), plugins).metrics[0]
    assert (quick.options.depth, quick.limit) == (1, 7)
    full = plan_run(_config(tmp_path), plugins).metrics[0]
    assert (full.options.depth, full.limit) == (3, None)
    explicit = plan_run(_config(tmp_path, preset="quick", eval_limit=3, metric_options={"noted": {"depth": "5"}}), plugins).metrics[0]
    assert (explicit.options.depth, explicit.limit) == (5, 3)  # the user's values win over the preset
    assert "tiny-preset" in known_presets(plugins.registry)  # a plugin may add a preset
    assert plan_run(_config(tmp_path, preset="tiny-preset"), plugins).metrics[0].limit == 2


def test_a_preset_naming_no_option_fails_at_registration() -> None:
    class Broken(NotedMetric):
        name = "broken"
        presets: ClassVar[dict[str, PresetValues]] = {"quick": PresetValues(options={"dept": 1})}

    loaded = load_plugins(extra={"bad": types.SimpleNamespace(register_metrics=hookimpl(lambda register: register(Broken())))},
                          entry_points=[])
    status = next(s for s in loaded.statuses if s.name == "bad")
    assert status.status == "error" and "dept" in (status.error or "")
    assert loaded.registry.find("metric", "broken") is None


def test_defaults_come_from_the_registry(tmp_path: Path, plugins: Any) -> None:
    plan = plan_run(_config(tmp_path, method=None, domain=None, metrics=None), plugins)
    assert [p.metric.name for p in plan.metrics] == ["noted"]  # the one metric that declares itself default
    with pytest.raises(DebiasbenchError, match="no metric to evaluate"):
        plan_run(_config(tmp_path, method=None, domain=None, metrics=[]), plugins)


def test_selector_options_fail_before_any_model_loads(tmp_path: Path, plugins: Any) -> None:
    started = time.perf_counter()
    with pytest.raises(DebiasbenchError, match="did you mean 'width'"):
        plan_run(_config(tmp_path, method="tiny-selective", selector_options={"widht": "3"}), plugins)
    assert time.perf_counter() - started < 3
    with pytest.raises(DebiasbenchError, match="takes no span selector"):
        plan_run(_config(tmp_path, selector_options={"width": "3"}), plugins)
    assert plan_run(_config(tmp_path, method="tiny-selective", selector_options={"width": "3"}), plugins).selector.name == "picky"


def test_notes_method_info_and_probe_values_are_recorded(tmp_path: Path, plugins: Any) -> None:
    result = execute(plan_run(_config(tmp_path, preset="quick", eval_every=3), plugins))
    notes = json.loads(result.run_row["notes"])
    assert notes == ["noted: evaluated with depth 1 and limit 7"]  # the probe's own limit-1 notes are not run notes
    assert json.loads(result.run_row["method_info"]) == {}  # the tiny method reports nothing; loss-based methods do
    assert {r["step"] for r in result.trajectory_rows} == {0, 3}
    assert all(r["headline"] for r in result.trajectory_rows)
    assert all(r["headline"] for r in result.metrics_rows)
