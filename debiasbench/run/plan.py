"""Planning a run: every check that needs no model, every name resolved to a typed object.

A :class:`Plan` is what :func:`debiasbench.run.execute.execute` carries out. Planning
loads no model and reads no data, so bad input (an unknown name, a typo in a method, selector or
metric option, an impossible domain) fails in one line within seconds and nothing is written.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debiasbench.domains import check_domain
from debiasbench.errors import DebiasbenchError
from debiasbench.run.config import RunConfig, build_family_metrics
from debiasbench.run.models import find_provider, model_spec
from debiasbench.plugin_system.interfaces import ForgetSet, Metric, RunFacts, SpanSelector, UnlearningMethod
from debiasbench.plugin_system.loader import LoadedPlugins, get_plugins
from debiasbench.plugin_system.options import build_options, typed_values
from debiasbench.lm.batch_size import check_batch_size
from debiasbench.plugin_system.presets import check_preset, values_for
from debiasbench.plugin_system.registry import Registry
from debiasbench.training.options import ALL_TEXTS
from debiasbench.results.tables import check_results_dir
from debiasbench.data.locator import DataLocator
from debiasbench.runtime.devices import check_threads
from debiasbench.tracking.targets import TrackTarget, check_tracking


@dataclass(frozen=True)
class PlannedMetric:
    """One metric of a run: the object, the plugin that provides it, typed options, items per domain."""

    metric: Metric
    provider: str
    options: Any
    limit: int | None
    domains: tuple[str, ...] | None = None  # the metric's evaluated domains (None: the run's)


@dataclass
class Plan:
    """A validated run: every name resolved, every option typed, every preset applied."""

    config: RunConfig
    plugins: LoadedPlugins
    model: str
    metrics: list[PlannedMetric]
    eval_domains: tuple[str, ...] | None = None
    method: UnlearningMethod | None = None
    method_provider: str = ""
    method_options: Any = None
    forget_set: ForgetSet | None = None
    forget_limit: int | None = None
    selector: SpanSelector | None = None
    selector_options: dict[str, Any] = field(default_factory=dict)
    model_config: Any = None  # the model's config.json as on disk, when it is (ModelProvider.describe)
    run_facts: RunFacts | None = None  # what the method's check_run saw; handed on in UnlearnContext.run
    trackers: list[TrackTarget] = field(default_factory=list)  # --track, checked (docs/tracking.md)

    @property
    def registry(self) -> Registry:
        return self.plugins.registry


def plan_run(config: RunConfig, plugins: LoadedPlugins | None = None) -> Plan:
    """Resolve and validate ``config`` without loading a model or reading data."""
    plugins = plugins or get_plugins()
    registry = plugins.registry
    _check_numbers(config)
    check_preset(config.preset, registry)
    if config.method is not None:
        registry.method(config.method)  # the most visible name is checked first
    model = config.model or _default(registry, "model", "--model").name
    provider = find_provider(model, registry)  # unknown model names fail here
    metrics = _plan_metrics(config, registry)
    eval_domains = tuple(check_domain(d) for d in config.eval_domains) if config.eval_domains else None
    check_results_dir(config.results_dir)  # an object store is probed with a marker write, before any model loads
    trackers = check_tracking(config.track, registry)  # installed, well formed, answering: before any model loads
    _check_runtime(config)
    _check_data(config, metrics, registry)
    plan = Plan(config=config, plugins=plugins, model=model, metrics=metrics, eval_domains=eval_domains, trackers=trackers)
    if config.method is not None:
        from debiasbench.runtime.paths import cache_dir

        # facts on disk (config.json, weights cut short) before the model loads
        plan.model_config = provider.describe(model_spec(model, registry), cache_dir(config.cache_dir))
        _plan_unlearning(plan, registry)
    # The defaults resolved into the configuration: leaving out --model and naming the default
    # model are the same run, with the same config hash.
    resolved: dict[str, Any] = {"forget_set": plan.forget_set.name if plan.forget_set else config.forget_set}
    if plan.method is not None and not plan.method.needs_forget:  # no forget texts: what would choose them is no part of the run
        resolved = {"forget_set": plan.forget_set.name if plan.forget_set else None, "split": None, "forget_limit": None}
    plan.config = dataclasses.replace(config, model=model, metrics=[p.metric.name for p in metrics], **resolved)
    return plan


MAX_SEED = 2**63 - 1
"""Seeds are stored as int64 in the result tables; a larger one would fail at the final write."""


def _check_numbers(config: RunConfig) -> None:
    check_threads(config.threads)
    if config.batch_size is not None:
        check_batch_size(config.batch_size, "--batch-size")
    for value, flag in ((config.seed, "--seed"), (config.heldout_seed, "--heldout-seed")):
        if not 0 <= value <= MAX_SEED:
            raise DebiasbenchError(f"{flag} must be between 0 and 2**63 - 1, got {value}")
    if not config.lora_threshold >= 0:  # also NaN
        raise DebiasbenchError(f"--lora-threshold is a number of parameters and must be 0 or more, got {config.lora_threshold:g}")
    if not 0.0 <= config.dev_fraction < 1.0:
        raise DebiasbenchError(f"--dev-fraction must be at least 0 and below 1, got {config.dev_fraction}")
    if config.dev_fraction == 0.0 and config.eval_every:
        raise DebiasbenchError("--eval-every records a trajectory that choices are made on, which needs dev items, but "
                               "--dev-fraction is 0; give a dev share (e.g. --dev-fraction 0.3) or leave --eval-every out")
    for value, flag in ((config.eval_limit, "--eval-limit"), (config.forget_limit, "--forget-limit"), (config.eval_every, "--eval-every")):
        if value is not None and value < 1:
            raise DebiasbenchError(f"{flag} must be 1 or more, got {value}")
    _check_relearn(config)


def _check_relearn(config: RunConfig) -> None:
    """``--relearn-steps`` and its options: numbers in range, a method to relearn after, a model left to save."""
    from debiasbench.run.config import RELEARN_BATCH_SIZE, RELEARN_LEARNING_RATE

    if config.relearn_steps < 0:
        raise DebiasbenchError(f"--relearn-steps must be 0 (off) or more, got {config.relearn_steps}")
    if not (math.isfinite(config.relearn_learning_rate) and config.relearn_learning_rate > 0):
        raise DebiasbenchError(f"--relearn-learning-rate must be a positive number, got {config.relearn_learning_rate:g}")
    if config.relearn_batch_size < 1:
        raise DebiasbenchError(f"--relearn-batch-size must be 1 or more, got {config.relearn_batch_size}")
    if not config.relearn_steps:
        if (config.relearn_learning_rate, config.relearn_batch_size) != (RELEARN_LEARNING_RATE, RELEARN_BATCH_SIZE):
            raise DebiasbenchError("--relearn-learning-rate / --relearn-batch-size have no effect without --relearn-steps N; "
                                   "add it or leave them out")
        return
    if config.method is None:
        raise DebiasbenchError("--relearn-steps relearns what a method unlearned, and this is a plain evaluation; "
                               "use debiasbench run --method NAME, or leave --relearn-steps out")
    if config.save_model is not None:
        raise DebiasbenchError("--save-model with --relearn-steps is ambiguous (the unlearned or the relearned model?); "
                               "save the unlearned model in a run without --relearn-steps")


def _check_runtime(config: RunConfig) -> None:
    """Device, dtype and the folders the run writes, checked before a model loads."""
    from debiasbench.runtime.paths import cache_dir
    from debiasbench.runtime.devices import DTYPES, check_device_map, resolve_device

    if config.dtype not in DTYPES:
        raise DebiasbenchError(f"unknown dtype {config.dtype!r}; use one of {', '.join(DTYPES)}")
    check_device_map(config.device_map, config.device)
    if config.device not in ("auto", "cpu"):
        resolve_device(config.device)  # an unknown or unavailable device is one line here, not after loading
    if config.use_cache:
        check_writable(cache_dir(config.cache_dir), "the cache (--cache-dir / DEBIASBENCH_CACHE)")
    if config.save_model is not None:
        check_writable(Path(config.save_model), "--save-model")
        _check_save_target(Path(config.save_model), config.overwrite)
    elif config.overwrite:
        raise DebiasbenchError("--overwrite replaces the folder of --save-model DIR, which was not given; add it or leave --overwrite out")


def _check_save_target(target: Path, overwrite: bool) -> None:
    """A saved model goes into a new or empty folder, or (``--overwrite``) replaces a folder's contents; never a file."""
    if target.exists() and not target.is_dir():
        raise DebiasbenchError(f"--save-model {target} is a file, not a folder; choose a folder")
    if target.is_dir() and any(target.iterdir()) and not overwrite:
        raise DebiasbenchError(f"--save-model {target} already exists and is not empty; choose a new folder, or add "
                               "--overwrite to replace its contents")


def _check_data(config: RunConfig, metrics: list[PlannedMetric], registry: Registry) -> None:
    """The data folder exists, and every file the metrics read can be had (found or downloadable):
    before the model loads, not after it."""
    from debiasbench.runtime.paths import data_dir

    folder = data_dir(config.data_dir)
    if folder is not None and not folder.is_dir():
        raise DebiasbenchError(f"data dir {folder} (--data-dir / DEBIASBENCH_DATA) does not exist or is not a folder; "
                               "pass the folder that holds the data sets")
    locator = DataLocator(config.data_dir, config.cache_dir)
    for planned in metrics:
        for name in planned.metric.datasets:
            entry = registry.find("dataset", name)
            for file in entry.obj.files if entry is not None else ():
                reason = locator.missing(file)
                if reason is not None:
                    raise DebiasbenchError(f"metric {planned.metric.name!r}: {reason}; put it in the data folder (see its README)")


def check_writable(path: Path, what: str) -> None:
    """``path`` exists as a writable folder, or its nearest existing parent is one (nothing is created)."""
    import os

    from debiasbench.runtime.paths import check_resolves

    check_resolves(path, what)  # a link loop or a dangling link would fail only at the write
    existing = path
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise DebiasbenchError(f"{what} {path} cannot be written: {existing} is not a writable folder; choose another location")


def _default(registry: Registry, kind: str, flag: str, where: Any = None) -> Any:
    entry = registry.default(kind, where)
    if entry is None:
        raise DebiasbenchError(f"no {kind} was named and no installed plugin provides a default one; pass {flag} "
                               f"(see `debiasbench list {kind}s`)")
    return entry


def resolve_options(obj: Any, explicit: dict[str, Any], preset: str, owner: str) -> Any:
    """``obj.Options`` from the user's values, with the preset's values for the options the user left alone."""
    options = build_options(obj.Options, dict(explicit), owner)
    preset_options = {k: v for k, v in values_for(obj, preset).options.items() if k not in explicit}
    return dataclasses.replace(options, **preset_options) if preset_options else options


def _plan_metrics(config: RunConfig, registry: Registry) -> list[PlannedMetric]:
    if config.metrics is None:
        names = [e.name for e in registry.entries("metric") if e.obj.default]
    else:
        names = list(dict.fromkeys(config.metrics))
    if not names:
        raise DebiasbenchError("no metric to evaluate: --metrics names none; pass e.g. --metrics NAME,NAME "
                               "(see `debiasbench list metrics`)")
    build_family_metrics(config, registry)
    entries = [registry.find("metric", n) or registry.metric(n) for n in names]
    chosen = {e.name for e in entries}
    for name in config.metric_options:
        entry = registry.find("metric", name)
        if entry is None or entry.name not in chosen:
            raise DebiasbenchError(f"metric option given for {name!r}, which is not among the metrics of this run ({', '.join(names)})")
    planned = []
    for entry in entries:
        explicit: dict[str, Any] = {}
        for key, values in config.metric_options.items():  # keyed by the name or an alias, as the user wrote it
            if registry.find("metric", key) is entry:
                explicit.update(values)
        explicit = _with_batch_size(entry.obj, explicit, config.batch_size)
        options = resolve_options(entry.obj, explicit, config.preset, f"metric {entry.name!r}")
        preset = values_for(entry.obj, config.preset)
        limit = config.eval_limit if config.eval_limit is not None else preset.limit
        domains = tuple(check_domain(d) for d in preset.domains) if preset.domains and not config.eval_domains else None
        planned.append(PlannedMetric(entry.obj, entry.provider, options, limit, domains))
    return planned


def _with_batch_size(metric: Any, explicit: dict[str, Any], batch_size: str | None) -> dict[str, Any]:
    """``--batch-size`` as the metric's ``batch_size`` option, unless ``-M`` set it or the metric has no such
    option; ``auto`` only where the option accepts it (a generation metric's batch is a count of prompts)."""
    fields = {f.name for f in dataclasses.fields(metric.Options)}
    if batch_size is None or "batch_size" not in fields or "batch_size" in explicit:
        return explicit
    value = check_batch_size(batch_size, "--batch-size")
    try:
        typed = typed_values(metric.Options, {"batch_size": value}, f"metric {metric.name!r}")
    except DebiasbenchError:
        return explicit
    return {**explicit, **typed}


def _plan_unlearning(plan: Plan, registry: Registry) -> None:
    config = plan.config
    entry = registry.find("method", config.method)  # type: ignore[arg-type]
    assert entry is not None
    plan.method, plan.method_provider = entry.obj, entry.provider
    plan.method_options = resolve_options(entry.obj, config.method_options, config.preset, f"method {entry.name!r}")
    if "selector" in {f.name for f in dataclasses.fields(plan.method_options)} and plan.method_options.selector is None:
        default = _default(registry, "selector", "-o selector=NAME")
        plan.method_options = dataclasses.replace(plan.method_options, selector=default.name)
    like = getattr(plan.method_options, "texts_like", None)
    if isinstance(like, str) and like != ALL_TEXTS:
        registry.selector(like)  # an every-token method filtering its texts like a selector: the name must exist
    selector_name = getattr(plan.method_options, "selector", None)
    if isinstance(selector_name, str):
        plan.selector = registry.selector(selector_name)
        plan.selector.check_options(dict(config.selector_options), registry)
        plan.selector_options = dict(config.selector_options)
    elif config.selector_options:
        raise DebiasbenchError(f"-s selector options were given, but method {entry.name!r} takes no span selector")
    _check_training_flags(config, entry.obj)
    if config.domain is None:
        raise DebiasbenchError("--domain is required for a run: the group whose hate speech is unlearned (see `debiasbench list datasets`)")
    check_domain(config.domain)
    _plan_forget_set(plan, registry)
    plan.run_facts = RunFacts(
        domain=config.domain, preset=config.preset, eval_every=config.eval_every,
        forget_set=plan.forget_set.name if plan.forget_set is not None and plan.method.needs_forget else "",
        probed_metrics=tuple(p.metric.name for p in plan.metrics if p.metric.probe is not None),
        data=DataLocator(config.data_dir, config.cache_dir), save_model=config.save_model is not None,
        model_config=plan.model_config, metrics=tuple(p.metric.name for p in plan.metrics),
        heldout_seed=config.heldout_seed, dev_fraction=config.dev_fraction)
    plan.method.check_run(plan.method_options, plan.run_facts)
    check_lora_targets(plan.method_options, plan.model_config)
    if plan.forget_set is not None and plan.method.needs_forget:
        plan.forget_limit = config.forget_limit if config.forget_limit is not None else values_for(plan.forget_set, config.preset).limit


def check_lora_targets(options: Any, model_config: Any) -> None:
    """``-o lora_targets`` names modules of the model (peft matches a name's end), checked against the
    module names the weights' headers hold, when they are on disk: before the model loads."""
    from debiasbench.plugin_system.interfaces import MODULES_KEY

    targets = [t.strip() for t in str(getattr(options, "lora_targets", "") or "").split(",") if t.strip()]
    modules = (model_config or {}).get(MODULES_KEY)
    if not targets or not modules:
        return
    for target in targets:
        if not any(m == target or m.endswith("." + target) for m in modules):
            ends = sorted({m.rsplit(".", 1)[-1] for m in modules})
            raise DebiasbenchError(f"-o lora_targets: {target!r} names no module of the model; its weighted modules end in "
                                   f"{', '.join(ends[:12])}{' ...' if len(ends) > 12 else ''}")


def _check_training_flags(config: RunConfig, method: Any) -> None:
    """``--gradient-checkpointing`` only for a method that honours it; ``--full-finetune`` not against ``-o lora=true``."""
    if config.gradient_checkpointing and not method.supports_gradient_checkpointing:
        raise DebiasbenchError(f"method {method.name!r} does not train through the shared loop and cannot use gradient "
                               "checkpointing; leave --gradient-checkpointing out")
    if config.full_finetune and config.method_options.get("lora") is True:
        raise DebiasbenchError("--full-finetune (train all weights) contradicts -o lora=true; keep one of them")


def _plan_forget_set(plan: Plan, registry: Registry) -> None:
    """The forget set, where the run reads one: forget texts for a method that ``needs_forget``, retain
    texts for one that ``needs_retain`` or for ``--relearn-steps``. A method that needs neither gets
    none (a named one must still exist: a typo is not ignored)."""
    config, method = plan.config, plan.method
    assert method is not None and config.domain is not None
    if not (method.needs_forget or method.needs_retain or config.relearn_steps):
        if config.forget_set is not None:
            registry.dataset(config.forget_set)
        return
    plan.forget_set = _forget_set(config, registry)
    if method.needs_forget and config.split is not None and config.split not in plan.forget_set.splits:
        raise DebiasbenchError(f"forget set {plan.forget_set.name!r} "
                               + (f"has splits {', '.join(plan.forget_set.splits)}; got --split {config.split}"
                                  if plan.forget_set.splits else f"has no splits (got --split {config.split}); leave --split out"))
    if config.domain not in plan.forget_set.domains():
        raise DebiasbenchError(f"forget set {plan.forget_set.name!r} has no texts for domain {config.domain!r}; "
                               f"its domains: {', '.join(plan.forget_set.domains())}")


def _forget_set(config: RunConfig, registry: Registry) -> ForgetSet:
    if config.forget_set is not None:
        return registry.forget_set(config.forget_set)
    entry = registry.default("dataset", lambda obj: isinstance(obj, ForgetSet))
    if entry is None:
        entry = next((e for e in registry.entries("dataset") if isinstance(e.obj, ForgetSet)), None)
    if entry is None:
        raise DebiasbenchError("no forget set is registered; install a plugin that provides one (see `debiasbench plugins`)")
    return entry.obj
