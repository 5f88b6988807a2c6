"""A method that reads no forget texts (``needs_forget = False``, the debiasing baselines): planning
needs no forget set, execution loads none, the run record says none was used (issue 26)."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest

from debiasbench.api import NoOptions, UnlearningMethod, UnlearnOutcome, hookimpl
from debiasbench.errors import UnknownNameError
from debiasbench.run.config import RunConfig
from debiasbench.run.end_to_end import execute, plan_run
from debiasbench.plugin_system.loader import load_plugins
from debiasbench.results.tables import read_table
from tests import tiny_plugins


class CorpusMethod(UnlearningMethod):
    """Learns from elsewhere: records what forget texts it was handed and changes nothing."""

    name: ClassVar[str] = "corpus-only"
    Options: ClassVar[type] = NoOptions
    needs_forget: ClassVar[bool] = False
    seen: ClassVar[list[int]] = []

    def unlearn(self, model: Any, options: Any, ctx: Any) -> UnlearnOutcome:
        CorpusMethod.seen.append(len(ctx.forget))
        return UnlearnOutcome(0, "done", info={"forget_texts_used": 0})


def _plugins(with_forget_sets: bool) -> Any:
    module = types.ModuleType("corpus_plugin")
    module.register_methods = hookimpl(lambda register: register(CorpusMethod()))  # type: ignore[attr-defined]
    module.register_models = tiny_plugins.register_models  # type: ignore[attr-defined]
    module.register_metrics = tiny_plugins.register_metrics  # type: ignore[attr-defined]
    if with_forget_sets:
        module.register_datasets = tiny_plugins.register_datasets  # type: ignore[attr-defined]
    return load_plugins(extra={"corpus": module}, entry_points=[])


def _config(tmp_path: Path, **kw: Any) -> RunConfig:
    base = dict(method="corpus-only", model="tiny", domain="race", metrics=["text-logprob"],
                results_dir=tmp_path / "results", cache_dir=tmp_path / "cache", device="cpu")
    return RunConfig(**{**base, **kw})


def test_the_interface_defaults_to_needing_forget_texts() -> None:
    assert UnlearningMethod.needs_forget is True and tiny_plugins.TinyGA.needs_forget is True


def test_no_forget_set_is_needed_loaded_or_recorded(tmp_path: Path) -> None:
    CorpusMethod.seen.clear()
    plan = plan_run(_config(tmp_path), _plugins(with_forget_sets=False))  # no forget set is installed at all
    assert plan.forget_set is None and plan.run_facts is not None and plan.run_facts.forget_set == ""
    execute(plan)
    assert CorpusMethod.seen == [0]
    run = read_table(tmp_path / "results", "runs").to_pylist()[0]
    assert run["forget_set"] == "none" and run["forget_texts"] == 0
    assert json.loads(run["method_info"])["forget_texts_used"] == 0


def test_a_forget_set_named_for_such_a_method_is_not_loaded_nor_hashed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep may name a forget set for every method of its grid: for this one it is unused, so runs
    that differ only in it are the same run (one config hash)."""
    def refuse(*args: Any) -> Any:
        raise AssertionError("forget texts loaded")

    monkeypatch.setattr(tiny_plugins.TinyForgetSet, "load_forget", refuse)
    plugins = _plugins(with_forget_sets=True)
    named = plan_run(_config(tmp_path, forget_set="tiny-hate", domain="gender", split="x"), plugins)
    unnamed = plan_run(_config(tmp_path, domain="gender"), plugins)
    assert named.forget_set is None and named.config.forget_set is None
    assert named.config.config_hash() == unnamed.config.config_hash()
    execute(named)
    assert read_table(tmp_path / "results", "runs").to_pylist()[0]["forget_set"] == "none"
    with pytest.raises(UnknownNameError, match="did you mean 'tiny-hate'"):  # a typo is not ignored
        plan_run(_config(tmp_path, forget_set="tiny-hat"), plugins)


def test_relearning_still_reads_the_forget_sets_retain_texts(tmp_path: Path) -> None:
    plan = plan_run(_config(tmp_path, domain="gender", relearn_steps=2), _plugins(with_forget_sets=True))
    assert plan.forget_set is not None and plan.forget_set.name == "tiny-hate"
    assert plan.run_facts is not None and plan.run_facts.forget_set == "" and plan.forget_limit is None


def test_the_debiasing_baselines_need_no_forget_texts() -> None:
    pytest.importorskip("debiasbench_debias")
    from debiasbench.plugin_system.loader import get_registry

    registry = get_registry()
    for name in ("cda", "dropout", "inlp", "sentence-debias", "self-debias"):
        assert registry.get("method", name).needs_forget is False, name
    assert registry.get("method", "npo").needs_forget is True
