"""Baseline ("before") evaluations computed once per model and protocol, ahead of parallel runs.

Run one after another, the first run of a model fills the baseline cache
(:mod:`debiasbench.run.evaluation`) and every later run reads it. Run in parallel, every
worker would find the cache empty and compute the same baseline. So a parallel executor first runs
one *warm-up* per distinct evaluation setting (:func:`baseline_waves`): it loads the model and
evaluates it exactly as a run's before-evaluation (and its step-0 trajectory probe) would, through
the same functions, so the runs that follow find every baseline in the cache.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from debiasbench.run.config import RunConfig

NOT_BEFORE = frozenset({"method", "domain", "forget_set", "split", "method_options", "selector_options", "forget_limit",
                        "eval_every", "save_model", "results_dir", "threads", "batch_size", "relearn_steps",
                        "relearn_learning_rate", "relearn_batch_size"})
"""Run settings that do not change the before-evaluation: points that differ only in these share
one baseline. Any other setting (a new one included) keeps points apart, which can only cost a
warm-up, never reuse a wrong baseline: the cache key itself decides what is reused."""


def baseline_key(config: RunConfig) -> str:
    """What decides a point's before-evaluation, as a string (points with equal keys share it)."""
    return json.dumps({k: v for k, v in config.to_json().items() if k not in NOT_BEFORE}, sort_keys=True, default=str)


def baseline_waves(configs: list[RunConfig]) -> list[list[RunConfig]]:
    """One configuration per distinct before-evaluation, among the points that use the cache, in
    waves to run one after another; the warm-ups of one wave run in parallel.

    The seed is part of the key, because a model provider may build its model from the seed
    (the cache key then differs); for a model read from files it does not, and a second seed's
    warm-up only finds the first one's baselines in the cache. So the seeds of one model go in
    successive waves: whichever is the case, no baseline is computed twice at the same time.
    A point that probes its trajectory is preferred, so its step-0 probe is warmed too."""
    chosen: dict[str, RunConfig] = {}
    for config in configs:
        if not config.use_cache:
            continue
        key = baseline_key(config)
        probes = config.eval_every is not None and config.method is not None
        if key not in chosen or (probes and chosen[key].eval_every is None):
            chosen[key] = config
    by_model: dict[str, list[RunConfig]] = {}
    for config in chosen.values():
        by_model.setdefault(baseline_key(dataclasses.replace(config, seed=0)), []).append(config)
    depth = max((len(group) for group in by_model.values()), default=0)
    return [[group[i] for group in by_model.values() if i < len(group)] for i in range(depth)]


def warm(plan: Any) -> int:
    """Evaluate the plan's model as its run's before-evaluation and step-0 probe would, filling the
    baseline cache; returns how many evaluations were computed (0: all were cached already)."""
    from debiasbench.run.evaluation import evaluate
    from debiasbench.run.execute import baselines_dir, eval_context, load_model
    from debiasbench.run.probe import Probe
    from debiasbench.data.locator import DataLocator
    from debiasbench.runtime.devices import set_threads

    config = plan.config
    cache = baselines_dir(plan)
    if cache is None:
        return 0
    set_threads(config.threads)
    locator = DataLocator(config.data_dir, config.cache_dir)
    handle = load_model(plan)
    before = evaluate(handle, plan.metrics, eval_context(plan, locator), plan.plugins.versions(), cache)
    computed = sum(not item.cached for item in before)
    if config.eval_every and plan.method is not None:
        probe = Probe(plan, handle, locator, "baseline-warm-up", [], cache)
        handle.model.eval()
        for planned in probe.metrics:  # what Probe.__call__ evaluates at step 0, with the cache
            computed += sum(not item.cached for item in evaluate(handle, [planned], probe.ctx, probe.versions, cache))
    return computed
