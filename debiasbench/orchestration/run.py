"""Run orchestration: validate, evaluate before, unlearn, evaluate after, write the tables.

Everything that can be checked without a model (names, options, domains, folders) is
checked first, so bad input fails in one line before any work and nothing is written.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debiasbench import __version__
from debiasbench.domains import DOMAINS, STUDY_DOMAINS, check_domain
from debiasbench.errors import DataError, DebiasbenchError, UnknownNameError
from debiasbench.orchestration.config import DEFAULT_FORGET_SET, RunConfig
from debiasbench.orchestration.evaluation import Evaluated, evaluate, resolve_metrics
from debiasbench.orchestration.models import find_provider
from debiasbench.plugin_system.interfaces import (
    EvalContext,
    ForgetSet,
    Metric,
    ModelHandle,
    ModelSettings,
    SelectorContext,
    StepInfo,
    UnlearnContext,
    UnlearningMethod,
    UnlearnOutcome,
)
from debiasbench.plugin_system.loader import LoadedPlugins, get_plugins
from debiasbench.plugin_system.options import build_options
from debiasbench.plugin_system.presets import PRESETS, PROBE_PERPLEXITY_TOKENS
from debiasbench.results.schemas import METRICS_SCHEMA, RUNS_SCHEMA, TRAJECTORY_SCHEMA
from debiasbench.results.tables import check_results_dir, to_table
from debiasbench.support.atomic import atomic_dir, write_table_atomic
from debiasbench.support.data import DataLocator
from debiasbench.support.hashing import dumps
from debiasbench.support.paths import cache_dir as default_cache_dir
from debiasbench.support.progress import progress
from debiasbench.support.runtime import check_threads, seed_everything, set_threads

MANIFEST = "debiasbench-manifest.json"


@dataclass
class Plan:
    """A validated run: every name resolved, every option typed."""

    config: RunConfig
    plugins: LoadedPlugins
    metrics: list[tuple[Metric, str, Any]]
    method: UnlearningMethod | None = None
    method_provider: str = ""
    method_options: Any = None
    forget_set: ForgetSet | None = None
    selector_name: str | None = None
    eval_domains: tuple[str, ...] | None = None
    eval_limit: int | None = None
    forget_limit: int | None = None


@dataclass
class RunResult:
    """What a finished run wrote."""

    run_id: str
    metrics_rows: list[dict[str, Any]]
    run_row: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    trajectory_rows: list[dict[str, Any]] = field(default_factory=list)
    outcome: UnlearnOutcome | None = None


def plan_run(config: RunConfig, plugins: LoadedPlugins | None = None) -> Plan:
    """Resolve and validate a configuration without loading a model or data."""
    plugins = plugins or get_plugins()
    registry = plugins.registry
    check_threads(config.threads)
    if config.preset not in PRESETS:
        raise UnknownNameError(f"unknown preset {config.preset!r}; choose from {', '.join(PRESETS)}")
    preset = PRESETS[config.preset]
    if config.method is not None:
        registry.get("method", config.method)  # the most visible name is checked first
    find_provider(config.model, registry)  # unknown model names fail here
    raw_metric_options = {name: dict(opts) for name, opts in config.metric_options.items()}
    metric_names = list(dict.fromkeys(config.metrics))
    for name in metric_names:
        registry.get("metric", name)
    for name in raw_metric_options:
        if registry.find("metric", name) is None or name not in [registry.find("metric", m).name for m in metric_names]:  # type: ignore[union-attr]
            raise DebiasbenchError(f"metric option given for {name!r}, which is not among the metrics of this run ({', '.join(metric_names)})")
    metrics = resolve_metrics(metric_names, registry, raw_metric_options)
    if preset.perplexity_tokens is not None:
        metrics = [(m, p, _preset_option(o, "max_tokens", preset.perplexity_tokens, raw_metric_options.get(m.name, {})))
                   for m, p, o in metrics]
    eval_domains = tuple(check_domain(d) for d in config.eval_domains) if config.eval_domains else None
    if config.seed < 0:
        raise DebiasbenchError(f"--seed must be 0 or more, got {config.seed}")
    for value, flag in ((config.eval_limit, "--eval-limit"), (config.forget_limit, "--forget-limit"), (config.eval_every, "--eval-every")):
        if value is not None and value < 1:
            raise DebiasbenchError(f"{flag} must be 1 or more, got {value}")
    check_results_dir(Path(config.results_dir))
    plan = Plan(
        config=config, plugins=plugins, metrics=metrics, eval_domains=eval_domains,
        eval_limit=config.eval_limit if config.eval_limit is not None else preset.eval_limit,
        forget_limit=config.forget_limit if config.forget_limit is not None else preset.forget_limit,
    )
    if config.method is None:
        return plan

    method = registry.get("method", config.method)
    plan.method = method
    plan.method_provider = registry.find("method", config.method).provider  # type: ignore[union-attr]
    raw = {**_applicable(method.Options, preset.method_options), **config.method_options}
    plan.method_options = build_options(method.Options, raw, f"method {method.name!r}")
    selector = getattr(plan.method_options, "selector", None)
    if isinstance(selector, str):
        registry.get("selector", selector)
        plan.selector_name = selector
    if config.domain is None:
        raise DebiasbenchError("--domain is required for a run: the group whose hate speech is unlearned (e.g. --domain gender)")
    check_domain(config.domain)
    plan.forget_set = _forget_set(config, registry)
    if config.domain not in plan.forget_set.domains():
        raise DebiasbenchError(
            f"forget set {plan.forget_set.name!r} has no texts for domain {config.domain!r}; "
            f"its domains: {', '.join(plan.forget_set.domains())}"
        )
    if config.save_model is not None:
        target = Path(config.save_model)
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise DebiasbenchError(f"--save-model {target} already exists and is not empty; choose a new folder")
    return plan


def _applicable(options_cls: type, defaults: dict[str, str]) -> dict[str, str]:
    names = {f.name for f in dataclasses.fields(options_cls)}
    return {k: v for k, v in defaults.items() if k in names}


def _preset_option(options: Any, name: str, value: Any, explicit: dict[str, str]) -> Any:
    """Apply a preset value to a metric option the user did not set."""
    if name in explicit or name not in {f.name for f in dataclasses.fields(options)}:
        return options
    return dataclasses.replace(options, **{name: value})


def _forget_set(config: RunConfig, registry: Any) -> ForgetSet:
    if config.forget_set is not None:
        dataset = registry.get("dataset", config.forget_set)
        if not isinstance(dataset, ForgetSet):
            raise DebiasbenchError(f"data set {dataset.name!r} is {dataset.role} data, not a forget set; see `debiasbench list datasets`")
        return dataset
    entry = registry.find("dataset", DEFAULT_FORGET_SET)
    if entry is not None:
        return entry.obj
    forget_sets = [e.obj for e in registry.entries("dataset") if isinstance(e.obj, ForgetSet)]
    if not forget_sets:
        raise DebiasbenchError("no forget set is registered; install a plugin that provides one (see `debiasbench plugins`)")
    return forget_sets[0]


def new_run_id(config: RunConfig) -> str:
    """Sortable and unique even for runs started in the same second."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    what = config.method or "eval"
    model = Path(config.model).name.replace("/", "_")[:40]
    return f"{stamp}-{what}-{model}-{config.domain or 'none'}-{uuid.uuid4().hex[:6]}"


def versions(plugins: LoadedPlugins) -> dict[str, str]:
    """debiasbench, python, torch, transformers and every loaded plugin."""
    import importlib.metadata as md

    out = {"debiasbench": __version__, "python": sys.version.split()[0]}
    for lib in ("torch", "transformers", "datasets", "pyarrow"):
        try:
            out[lib] = md.version(lib)
        except md.PackageNotFoundError:
            pass
    out.update({f"plugin:{k}": v for k, v in plugins.versions().items()})
    return out


def peak_memory_mb(device: str) -> float:
    """Peak resident memory of this process (or peak CUDA allocation on a GPU), in MiB."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def execute(plan: Plan, *, log: Any = None) -> RunResult:
    """Carry out a validated plan; see module docstring. ``log`` receives status lines."""
    config = plan.config
    say = log or (lambda message: None)
    registry = plan.plugins.registry
    cache = default_cache_dir(config.cache_dir)
    locator = DataLocator(config.data_dir, config.cache_dir)
    started = time.perf_counter()
    run_id = new_run_id(config)
    when = dt.datetime.now(dt.timezone.utc)

    set_threads(config.threads)
    settings = ModelSettings(device=config.device, dtype=config.dtype, trust_remote_code=config.trust_remote_code,
                             cache_dir=config.cache_dir, seed=config.seed)
    say(f"loading model {config.model}")
    handle = find_provider(config.model, registry).load(config.model, settings)
    say(f"model {handle.source} on {handle.device} ({handle.dtype}), prefix token {handle.prefix_token_id}")

    ctx = EvalContext(data=locator, registry=registry, domains=plan.eval_domains, limit=plan.eval_limit,
                      seed=config.seed, save_examples=config.save_examples, progress=progress)
    # Forget data is loaded before any evaluation so an empty filter fails fast.
    forget, retain = _load_forget(plan, locator)

    before = evaluate(handle, plan.metrics, ctx, plan.plugins.versions(), cache / "eval" if config.use_cache else None)
    for item in before:
        say(f"before: {item.metric.name} {'(cached)' if item.cached else f'{item.seconds:.1f}s'}")
    outcome: UnlearnOutcome | None = None
    trajectory: list[dict[str, Any]] = []
    after: list[Evaluated] = []
    if plan.method is not None:
        outcome, trajectory = _unlearn(plan, handle, forget, retain, locator, run_id)
        say(f"unlearning stopped after {outcome.steps} steps: {outcome.stop_reason}")
        handle.fingerprint = f"{handle.fingerprint}+{run_id}"
        after = evaluate(handle, plan.metrics, ctx, plan.plugins.versions(), None)

    duration = time.perf_counter() - started
    base = {
        "run_id": run_id, "time": when, "model": config.model, "model_fingerprint": handle.fingerprint.split("+")[0],
        "method": plan.method.name if plan.method else "none",
        "forget_set": plan.forget_set.name if plan.forget_set else "none",
        "source_domain": config.domain if plan.method else "none", "seed": config.seed, "preset": config.preset,
        "method_options": dumps(dataclasses.asdict(plan.method_options)) if plan.method_options is not None else "{}",
        "config_hash": config.config_hash(),
    }
    metric_rows = _metric_rows(base, before, "before", plan) + _metric_rows(base, after, "after", plan)
    checksums: dict[str, str] = {}
    for item in before:
        checksums.update(item.result.data_checksums)
    if plan.forget_set is not None:
        checksums.update({f.relpath: locator.checksum(f) for f in plan.forget_set.files if _available(locator, f)})
    run_row = {
        "run_id": run_id, "time": when, "command": config.command, "model": config.model,
        "model_fingerprint": base["model_fingerprint"], "method": base["method"], "forget_set": base["forget_set"],
        "source_domain": base["source_domain"], "seed": config.seed, "preset": config.preset,
        "config": dumps({**config.to_json(), "resolved": {
            "method_options": json.loads(base["method_options"]),
            "metric_options": {m.name: dataclasses.asdict(o) for m, _, o in plan.metrics},
            "eval_limit": plan.eval_limit, "forget_limit": plan.forget_limit, "eval_domains": plan.eval_domains,
            "model_source": handle.source, "model_info": handle.info,
        }}),
        "config_hash": base["config_hash"], "versions": dumps(versions(plan.plugins)), "data_checksums": dumps(checksums),
        "duration_s": duration, "stop_reason": outcome.stop_reason if outcome else None,
        "steps": outcome.steps if outcome else None, "forget_texts": len(forget),
        "selected_tokens": outcome.selected_tokens if outcome else None,
        "total_tokens": outcome.total_tokens if outcome else None,
        "peak_memory_mb": peak_memory_mb(handle.device), "device": handle.device, "dtype": handle.dtype,
    }
    files = _write(Path(config.results_dir), run_id, metric_rows, run_row, trajectory, before + after, plan)
    if config.save_model is not None and plan.method is not None:
        _save_model(handle, Path(config.save_model), run_row)
        files.append(Path(config.save_model))
    return RunResult(run_id, metric_rows, run_row, files, trajectory, outcome)


def _available(locator: DataLocator, file: Any) -> bool:
    try:
        locator.path(file)
    except DataError:
        return False
    return True


def _load_forget(plan: Plan, locator: DataLocator) -> tuple[list[Any], list[str]]:
    if plan.method is None or plan.forget_set is None:
        return [], []
    config = plan.config
    forget = plan.forget_set.load_forget(locator, config.domain, config.split)  # type: ignore[arg-type]
    if not forget:
        raise DebiasbenchError(f"forget set {plan.forget_set.name!r} has no texts for domain {config.domain!r}"
                               + (f" and split {config.split!r}" if config.split else ""))
    if plan.forget_limit is not None and len(forget) > plan.forget_limit:
        import random

        forget = random.Random(config.seed).sample(forget, plan.forget_limit)
    retain = plan.forget_set.load_retain(locator, config.domain) if plan.method.needs_retain else []  # type: ignore[arg-type]
    if plan.method.needs_retain and not retain:
        raise DebiasbenchError(f"method {plan.method.name!r} needs retain text, but forget set {plan.forget_set.name!r} "
                               f"has none for domain {config.domain!r}; choose another --forget-set or method")
    return forget, retain


def _unlearn(plan: Plan, handle: ModelHandle, forget: list[Any], retain: list[str], locator: DataLocator,
             run_id: str) -> tuple[UnlearnOutcome, list[dict[str, Any]]]:
    config = plan.config
    registry = plan.plugins.registry
    selector = registry.get("selector", plan.selector_name) if plan.selector_name else None
    selector_ctx = SelectorContext(model=handle, data=locator, registry=registry, domain=config.domain or "",
                                   seed=config.seed, options=dict(config.selector_options))
    trajectory: list[dict[str, Any]] = []
    probe = _Probe(plan, handle, locator, run_id, trajectory) if config.eval_every else None
    if probe is not None:
        probe(StepInfo(step=0, epoch=0, forget_loss=float("nan")))

    def on_step(info: StepInfo) -> bool:
        if probe is not None and info.step % (config.eval_every or 1) == 0:
            probe(info)
        return False

    seed_everything(config.seed)
    ctx = UnlearnContext(forget=forget, retain=retain, selector=selector, selector_ctx=selector_ctx, registry=registry,
                         seed=config.seed, on_step=on_step, progress=progress)
    assert plan.method is not None
    outcome = plan.method.unlearn(handle, plan.method_options, ctx)
    if probe is not None and (not trajectory or trajectory[-1]["step"] != outcome.steps) and outcome.history:
        probe(outcome.history[-1])
    handle.model.eval()
    return outcome, trajectory


class _Probe:
    """The fast evaluation behind ``--eval-every``: CrowS-Pairs on the evaluated domains plus a
    WikiText-2 prefix, without bootstrap intervals."""

    def __init__(self, plan: Plan, handle: ModelHandle, locator: DataLocator, run_id: str, rows: list[dict[str, Any]]):
        self.handle, self.rows, self.run_id = handle, rows, run_id
        registry = plan.plugins.registry
        domains = plan.eval_domains or STUDY_DOMAINS
        self.ctx = EvalContext(data=locator, registry=registry, domains=domains, limit=plan.eval_limit, seed=plan.config.seed)
        self.metrics: list[tuple[Metric, Any]] = []
        for name, changes in (("crows-pairs", {"bootstrap": 0}), ("perplexity", {"bootstrap": 0, "max_tokens": PROBE_PERPLEXITY_TOKENS})):
            entry = registry.find("metric", name)
            if entry is None:
                continue
            chosen = next((o for m, _, o in plan.metrics if m.name == entry.obj.name), None)
            options = chosen if chosen is not None else entry.obj.Options()
            fields = {f.name for f in dataclasses.fields(options)}
            updates = {k: v for k, v in changes.items() if k in fields}
            if "max_tokens" in updates and getattr(options, "max_tokens", None):
                updates["max_tokens"] = min(options.max_tokens, PROBE_PERPLEXITY_TOKENS)
            self.metrics.append((entry.obj, dataclasses.replace(options, **updates)))

    def __call__(self, info: StepInfo) -> None:
        was_training = self.handle.model.training
        self.handle.model.eval()
        try:
            for metric, options in self.metrics:
                result = metric.evaluate(self.handle, self.ctx, options)
                spec = {m.name: m for m in metric.measures}
                for row in result.rows:
                    ideal = spec[row.measure].ideal if row.measure in spec else None
                    self.rows.append({
                        "run_id": self.run_id, "step": info.step, "epoch": info.epoch, "forget_loss": info.forget_loss,
                        "retain_loss": info.retain_loss, "domain": row.domain, "metric": metric.name, "measure": row.measure,
                        "value": row.value,
                        "ideal": ideal, "distance": abs(row.value - ideal) if ideal is not None else row.value,
                    })
        finally:
            self.handle.model.train(was_training)


def _metric_rows(base: dict[str, Any], evaluated: list[Evaluated], stage: str, plan: Plan) -> list[dict[str, Any]]:
    rows = []
    versions_ = plan.plugins.versions()
    for item in evaluated:
        spec = {m.name: m for m in item.metric.measures}
        protocol = dumps(item.result.protocol)
        checksum = dumps(item.result.data_checksums)
        for row in item.result.rows:
            measure = spec.get(row.measure)
            rows.append({
                **base, "domain": row.domain, "metric": item.metric.name, "measure": row.measure, "value": row.value,
                "n": row.n, "ci_low": row.ci_low, "ci_high": row.ci_high, "stage": stage, "protocol": protocol,
                "data_checksum": checksum, "ideal": measure.ideal if measure else None,
                "better": measure.better if measure else None, "plugin_version": versions_.get(item.provider, ""),
            })
    return rows


def _write(results: Path, run_id: str, metric_rows: list[dict[str, Any]], run_row: dict[str, Any],
           trajectory: list[dict[str, Any]], evaluated: list[Evaluated], plan: Plan) -> list[Path]:
    """Examples and trajectory first, then metrics, then the run row that marks the run complete."""
    files: list[Path] = []
    if plan.config.save_examples:
        stages = ["before"] * (len(evaluated) if plan.method is None else len(evaluated) // 2)
        stages += ["after"] * (len(evaluated) - len(stages))
        for item, stage in zip(evaluated, stages):
            if item.result.examples is not None:
                files.append(write_table_atomic(item.result.examples, results / "examples" / run_id / f"{item.metric.name}-{stage}.parquet"))
    if trajectory:
        files.append(write_table_atomic(to_table(trajectory, TRAJECTORY_SCHEMA), results / "trajectories" / f"{run_id}.parquet"))
    files.append(write_table_atomic(to_table(metric_rows, METRICS_SCHEMA), results / "metrics" / f"{run_id}.parquet"))
    files.append(write_table_atomic(to_table([run_row], RUNS_SCHEMA), results / "runs" / f"{run_id}.parquet"))
    return files


def _save_model(handle: ModelHandle, target: Path, run_row: dict[str, Any]) -> None:
    """Save to a temp folder beside ``target`` and rename, so a killed save leaves nothing half-written."""
    with atomic_dir(target) as tmp:  # validated absent or empty in plan_run
        handle.save(tmp)
        manifest = {k: (v.isoformat() if isinstance(v, dt.datetime) else v) for k, v in run_row.items()}
        manifest["base_model"] = handle.name
        manifest["prefix_token_id"] = handle.prefix_token_id
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2, default=str))


def run_experiment(config: RunConfig, log: Any = None) -> RunResult:
    """Plan and execute one run or evaluation (the API behind ``debiasbench run`` and ``eval``)."""
    return execute(plan_run(config), log=log)


__all__ = ["RunConfig", "RunResult", "Plan", "plan_run", "execute", "run_experiment", "DOMAINS"]
