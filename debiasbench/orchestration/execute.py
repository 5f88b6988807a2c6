"""Executing a plan: load the model, evaluate before, unlearn, evaluate after, then record.

Forget texts are loaded before the first evaluation so an empty filter fails before hours of
work; the records are built in memory and written only at the end (see :mod:`records`).
"""

from __future__ import annotations

import datetime as dt
import random
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from debiasbench.errors import DataError, DebiasbenchError
from debiasbench.orchestration.evaluation import Evaluated, evaluate
from debiasbench.orchestration.models import find_provider
from debiasbench.orchestration.plan import Plan
from debiasbench.orchestration.probe import Probe
from debiasbench.orchestration.records import Outcome, RunRecords, build_records, manifest, write_or_recover
from debiasbench.plugin_system.interfaces import (
    SAVED_MODEL_MANIFEST,
    EvalContext,
    ForgetText,
    ModelHandle,
    ModelSettings,
    SelectorContext,
    StepInfo,
    UnlearnContext,
    UnlearnOutcome,
)
from debiasbench.support.atomic import atomic_dir
from debiasbench.support.data import DataLocator
from debiasbench.support.faults import fault_point
from debiasbench.support.paths import cache_dir as default_cache_dir
from debiasbench.support.progress import progress
from debiasbench.support.runtime import seed_everything, set_threads


@dataclass
class RunResult:
    """What a finished run wrote."""

    run_id: str
    metrics_rows: list[dict[str, Any]]
    run_row: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    trajectory_rows: list[dict[str, Any]] = field(default_factory=list)
    outcome: UnlearnOutcome | None = None
    notes: list[str] = field(default_factory=list)
    items: Any = None  # the per-item rows (pyarrow table), before and after
    baselines_computed: int = 0  # before-evaluations computed and stored in the cache (0: every one was reused)


def new_run_id(plan: Plan) -> str:
    """Sortable and unique even for runs started in the same second."""
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    what = plan.method.name if plan.method else "eval"
    model = Path(plan.model).name.replace("/", "_")[:40]
    return f"{stamp}-{what}-{model}-{plan.config.domain or 'none'}-{uuid.uuid4().hex[:6]}"


def peak_memory_mb(device: str) -> float:
    """Peak resident memory of this process (or peak CUDA allocation on a GPU), in MiB."""
    if device.startswith("cuda"):
        import torch

        return torch.cuda.max_memory_allocated() / 2**20
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_model(plan: Plan) -> ModelHandle:
    """The plan's model, loaded with the run's device, dtype and seed."""
    config = plan.config
    settings = ModelSettings(device=config.device, dtype=config.dtype, trust_remote_code=config.trust_remote_code,
                             cache_dir=config.cache_dir, seed=config.seed)
    return find_provider(plan.model, plan.registry).load(plan.model, settings)


def eval_context(plan: Plan, locator: DataLocator) -> EvalContext:
    """The context of the before and after evaluations (one definition, so a baseline computed
    ahead of the runs, see :mod:`debiasbench.orchestration.baselines`, has the runs' cache key)."""
    config = plan.config
    return EvalContext(data=locator, registry=plan.registry, domains=plan.eval_domains, seed=config.heldout_seed,
                       save_examples=config.save_examples, progress=progress)


def baselines_dir(plan: Plan) -> Path | None:
    """Where baseline evaluations are cached, or None with ``--no-cache``."""
    return default_cache_dir(plan.config.cache_dir) / "eval" if plan.config.use_cache else None


def execute(plan: Plan, *, log: Any = None) -> RunResult:
    """Carry out a validated plan; ``log`` receives status lines."""
    config = plan.config
    say = log or (lambda message: None)
    locator = DataLocator(config.data_dir, config.cache_dir)
    started, run_id, when = time.perf_counter(), new_run_id(plan), dt.datetime.now(dt.timezone.utc)

    set_threads(config.threads)
    forget, retain = _load_forget(plan, locator)  # before the model: a forget set without retain text fails in seconds
    say(f"loading model {plan.model}")
    handle = load_model(plan)
    say(f"model {handle.source} on {handle.device} ({handle.dtype}), prefix token {handle.prefix_token_id}")
    if plan.method is not None:
        plan.method.check_model(plan.method_options, handle)  # before minutes of evaluation

    ctx = eval_context(plan, locator)
    baselines = baselines_dir(plan)
    before = evaluate(handle, plan.metrics, ctx, plan.plugins.versions(), baselines)
    for item in before:
        say(f"before: {item.metric.name} {'(cached)' if item.cached else f'{item.seconds:.1f}s'}")
    fault_point("evaluated-before")
    unlearned: UnlearnOutcome | None = None
    trajectory: list[dict[str, Any]] = []
    after: list[Evaluated] = []
    if plan.method is not None:
        unlearned, trajectory, probe = _unlearn(plan, handle, forget, retain, locator, run_id, baselines)
        say(f"unlearning stopped after {unlearned.steps} steps: {unlearned.stop_reason}")
        fault_point("unlearned")
        handle.fingerprint = f"{handle.fingerprint}+{run_id}"
        after = evaluate(handle, plan.metrics, ctx, plan.plugins.versions(), None)
        if probe is not None and (not trajectory or trajectory[-1]["step"] != unlearned.steps) and unlearned.history:
            probe(unlearned.history[-1], reuse=after, reuse_ctx=ctx)  # the last step: the evaluation just made, where it is the probe's
        fault_point("evaluated-after")

    done = Outcome(run_id=run_id, when=when, handle=handle, before=before, after=after, unlearned=unlearned,
                   trajectory=trajectory, forget_texts=len(forget), forget_checksums=_forget_checksums(plan, locator),
                   duration_s=time.perf_counter() - started, peak_memory_mb=peak_memory_mb(handle.device))
    records = build_records(plan, done)
    for note in records.notes:
        say(f"note: {note}")
    files = write_or_recover(Path(config.results_dir), records, config.cache_dir)
    if config.save_model is not None and plan.method is not None:
        _save_model(handle, Path(config.save_model), records)
        files.append(Path(config.save_model))
    return RunResult(run_id, records.metric_rows, records.run_row, files, trajectory, unlearned, records.notes, records.items,
                     baselines_computed=sum(not item.cached for item in before) if baselines is not None else 0)


def _forget_checksums(plan: Plan, locator: DataLocator) -> dict[str, str]:
    if plan.forget_set is None:
        return {}
    sums = {}
    for file in plan.forget_set.files:
        try:
            sums[file.relpath] = locator.checksum(file)
        except DataError:  # an optional file of the set that this run did not need
            continue
    return sums


def _load_forget(plan: Plan, locator: DataLocator) -> tuple[list[ForgetText], list[str]]:
    if plan.method is None or plan.forget_set is None:
        return [], []
    config = plan.config
    forget = plan.forget_set.load_forget(locator, config.domain, config.split)  # type: ignore[arg-type]
    if not forget:
        raise DebiasbenchError(f"forget set {plan.forget_set.name!r} has no texts for domain {config.domain!r}"
                               + (f" and split {config.split!r}" if config.split else ""))
    if plan.forget_limit is not None and len(forget) > plan.forget_limit:
        forget = random.Random(config.seed).sample(forget, plan.forget_limit)
    retain = plan.forget_set.load_retain(locator, config.domain) if plan.method.needs_retain else []  # type: ignore[arg-type]
    if plan.method.needs_retain and not retain:
        raise DebiasbenchError(f"method {plan.method.name!r} needs retain text, but forget set {plan.forget_set.name!r} "
                               f"has none for domain {config.domain!r}; choose another --forget-set or method")
    return forget, retain


def _unlearn(plan: Plan, handle: ModelHandle, forget: list[ForgetText], retain: list[str], locator: DataLocator,
             run_id: str, baselines: Path | None = None) -> tuple[UnlearnOutcome, list[dict[str, Any]], Probe | None]:
    config = plan.config
    selector_ctx = SelectorContext(model=handle, data=locator, registry=plan.registry, domain=config.domain or "",
                                   seed=config.seed, options=dict(plan.selector_options))
    trajectory: list[dict[str, Any]] = []
    probe = Probe(plan, handle, locator, run_id, trajectory, baselines) if config.eval_every else None
    if probe is not None:
        probe(StepInfo(step=0, epoch=0, forget_loss=float("nan")))

    def on_step(info: StepInfo) -> bool:
        if probe is not None and info.step % (config.eval_every or 1) == 0:
            probe(info)
        return False

    seed_everything(config.seed)
    ctx = UnlearnContext(forget=forget, retain=retain, selector=plan.selector, selector_ctx=selector_ctx,
                         registry=plan.registry, seed=config.seed, on_step=on_step, progress=progress,
                         trajectory=trajectory)
    assert plan.method is not None
    outcome = plan.method.unlearn(handle, plan.method_options, ctx)
    handle.model.eval()
    return outcome, trajectory, probe


def _save_model(handle: ModelHandle, target: Path, records: RunRecords) -> None:
    """Saved into a temp folder beside ``target`` and renamed, so a killed save leaves nothing half-written."""
    with atomic_dir(target) as tmp:  # validated absent or empty in plan_run
        handle.save(tmp)
        (tmp / SAVED_MODEL_MANIFEST).write_text(manifest(records, handle))
