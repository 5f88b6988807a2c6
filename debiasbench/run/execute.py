"""Executing a plan: load the model, evaluate before, unlearn, evaluate after (and relearn and
evaluate again with ``--relearn-steps``), then record.

Forget texts are loaded before the first evaluation so an empty filter fails before hours of
work; the records are built in memory and written only at the end (see :mod:`records`).
Under ``accelerate launch`` every process executes the plan in step (one run id, the evaluation
batches and training texts split among them); only the main process logs and writes.
"""

from __future__ import annotations

import dataclasses

import datetime as dt
import random
import time
import uuid
from dataclasses import dataclass, field
from collections.abc import Callable
from pathlib import Path
from typing import Any

from debiasbench.errors import DataError, DebiasbenchError
from debiasbench.run.config import RunConfig
from debiasbench.run.evaluation import Evaluated, evaluate
from debiasbench.run.kept_items import jointly_kept
from debiasbench.run.lora_choice import choose_lora
from debiasbench.run.models import find_provider, model_spec
from debiasbench.run.plan import Plan
from debiasbench.run.probe import Probe
from debiasbench.run.records import Outcome, RunRecords, build_records, manifest, write_or_recover
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
from debiasbench.results.storage import ResultsLocation
from debiasbench.runtime.atomic import atomic_dir
from debiasbench.data.locator import DataLocator
from debiasbench.runtime.distributed import broadcast, main_process_first, quiet_unless_main, ranks
from debiasbench.runtime.faults import fault_point
from debiasbench.runtime.memory import peaks_mb, reset_peaks
from debiasbench.runtime.paths import cache_dir as default_cache_dir
from debiasbench.runtime.progress import progress
from debiasbench.runtime.devices import seed_everything, set_threads


@dataclass
class RunResult:
    """What a finished run wrote."""

    run_id: str
    metrics_rows: list[dict[str, Any]]
    run_row: dict[str, Any]
    files: list[ResultsLocation] = field(default_factory=list)  # Paths, or URIs on an object store
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


def model_settings(config: RunConfig) -> ModelSettings:
    """How the run's model is loaded: device or device map, dtype, seed."""
    return ModelSettings(device=config.device, device_map=config.device_map, dtype=config.dtype,
                         trust_remote_code=config.trust_remote_code, cache_dir=config.cache_dir, seed=config.seed)


def load_model(plan: Plan) -> ModelHandle:
    """The plan's model, loaded with the run's device, dtype and seed."""
    return find_provider(plan.model, plan.registry).load(model_spec(plan.model, plan.registry), model_settings(plan.config))


class StartModel:
    """``EvalContext.start_model``: the frozen model the run started from, loaded from its source
    on the first call (only metrics that check fluency ask), once, and dropped by :meth:`release`.
    A second copy of the weights is held meanwhile; the unlearned weights cannot give it back."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.handle: ModelHandle | None = None

    def __call__(self) -> ModelHandle:
        if self.handle is None:
            self.handle = load_model(self.plan)
            self.handle.model.eval()
        return self.handle

    def release(self) -> None:
        self.handle = None


def eval_context(plan: Plan, locator: DataLocator) -> EvalContext:
    """The context of the before and after evaluations (one definition, so a baseline computed
    ahead of the runs, see :mod:`debiasbench.run.baselines`, has the runs' cache key)."""
    config = plan.config
    return EvalContext(data=locator, registry=plan.registry, domains=plan.eval_domains, seed=config.heldout_seed,
                       save_examples=config.save_examples, progress=progress)


def baselines_dir(plan: Plan) -> Path | None:
    """Where baseline evaluations are cached, or None with ``--no-cache``."""
    return default_cache_dir(plan.config.cache_dir) / "eval" if plan.config.use_cache else None


def _locate_metric_data(plan: Plan, locator: DataLocator) -> None:
    """Find (or download, and checksum) every file the metrics read, before the model loads."""
    for planned in plan.metrics:
        for name in planned.metric.datasets:
            entry = plan.registry.find("dataset", name)
            for file in entry.obj.files if entry is not None else ():
                locator.path(file)


ModelCard = Callable[[Plan, RunRecords], str]
"""Writes the card of a saved model (``README.md``) from the plan and the run's records; the CLI
passes :func:`debiasbench.reports.model_card.saved_model_card` (a report, which this layer cannot import)."""


def execute(plan: Plan, *, log: Any = None, card: ModelCard | None = None) -> RunResult:
    """Carry out a validated plan; ``log`` receives status lines; ``card`` writes a saved model's card."""
    config = plan.config
    main = ranks().is_main  # under accelerate launch: only the main process logs and writes
    quiet_unless_main()
    say = (log if main else None) or (lambda message: None)
    locator = DataLocator(config.data_dir, config.cache_dir)
    started, run_id, when = time.perf_counter(), broadcast(new_run_id(plan)), dt.datetime.now(dt.timezone.utc)

    set_threads(config.threads)
    reset_peaks()
    if ranks().parallel:
        say(f"data parallel over {ranks().world_size} processes: each evaluates and trains on its share of every batch")
    with main_process_first():  # launched processes: rank 0 fills the caches (downloads, a dequantised model), then the rest read them
        forget, retain = _load_forget(plan, locator)  # before the model: a forget set without retain text fails in seconds
        benign = load_benign(plan, locator)  # relearning's texts, likewise
        _locate_metric_data(plan, locator)  # before the model too: a missing data file (or a failed download) in seconds
        say(f"loading model {plan.model}")
        provider = find_provider(plan.model, plan.registry)
        handle = provider.load(model_spec(plan.model, plan.registry), model_settings(config))
    _say_placement(handle, provider.name, config.device_map, say)
    training: dict[str, Any] = {}
    if plan.method is not None:  # before minutes of evaluation: what only the loaded model can tell
        training = _training_choices(plan, handle, say)
        plan.method.check_model(plan.method_options, handle)

    ctx = eval_context(plan, locator)
    baselines = baselines_dir(plan)
    before = evaluate(handle, plan.metrics, ctx, plan.plugins.versions(), baselines)
    for item in before:
        say(f"before: {item.metric.name} {'(cached)' if item.cached else f'{item.seconds:.1f}s'}")
    fault_point("evaluated-before")
    unlearned: UnlearnOutcome | None = None
    trajectory: list[dict[str, Any]] = []
    after: list[Evaluated] = []
    start = StartModel(plan)  # what fluency checks score the later stages' generations under
    stage_ctx = dataclasses.replace(ctx, start_model=start)
    if plan.method is not None:
        unlearned, trajectory, probe = _unlearn(plan, handle, forget, retain, locator, run_id, baselines)
        say(f"unlearning stopped after {unlearned.steps} steps: {unlearned.stop_reason}")
        fault_point("unlearned")
        handle.fingerprint = f"{handle.fingerprint}+{run_id}"
        after = evaluate(handle, plan.metrics, stage_ctx, plan.plugins.versions(), None)
        if probe is not None and (not trajectory or trajectory[-1]["step"] != unlearned.steps) and unlearned.history:
            probe(unlearned.history[-1], reuse=after, reuse_ctx=ctx)  # the last step: the evaluation just made, where it is the probe's
        fault_point("evaluated-after")
    relearned: list[Evaluated] = []
    relearn_info: dict[str, Any] = {}
    if plan.method is not None and config.relearn_steps:
        relearn_info = _relearn(plan, handle, benign, training)
        say(f"relearned for {config.relearn_steps} steps on {relearn_info['texts']} benign texts: "
            f"loss {relearn_info['loss_first']:.3f} -> {relearn_info['loss_last']:.3f}")
        handle.fingerprint = f"{handle.fingerprint}+relearned"
        relearned = evaluate(handle, plan.metrics, stage_ctx, plan.plugins.versions(), None)
    start.release()
    if after:  # every stage on the items every stage kept (the fluency guard: docs/damage.md)
        stages = jointly_kept([before, after, *([relearned] if relearned else [])], ctx.seed)
        before, after, relearned = stages[0], stages[1], (stages[2] if relearned else [])

    done = Outcome(run_id=run_id, when=when, handle=handle, before=before, after=after, unlearned=unlearned,
                   trajectory=trajectory, forget_texts=len(forget), forget_checksums=_forget_checksums(plan, locator),
                   duration_s=time.perf_counter() - started, peak_memory=peaks_mb(), training=training,
                   relearned=relearned, relearn=relearn_info)
    records = build_records(plan, done)
    for note in records.notes:
        say(f"note: {note}")
    if not main:
        return RunResult(run_id, records.metric_rows, records.run_row, [], trajectory, unlearned, records.notes, records.items)
    files = write_or_recover(config.results_dir, records, config.cache_dir)
    if config.save_model is not None and plan.method is not None:
        _save_model(handle, Path(config.save_model), records, card(plan, records) if card is not None else None, config.overwrite)
        files.append(Path(config.save_model))
    return RunResult(run_id, records.metric_rows, records.run_row, files, trajectory, unlearned, records.notes, records.items,
                     baselines_computed=sum(not item.cached for item in before) if baselines is not None else 0)


def _say_placement(handle: ModelHandle, provider: str, device_map: str | None, say: Any) -> None:
    """Where the model went: one device, or the devices a device map spread it over."""
    mapped = handle.info.get("device_map")
    placed = f"split over {', '.join(sorted(set(mapped.values())))}" if mapped else f"on {handle.device}"
    say(f"model {handle.source} {placed} ({handle.dtype}), prefix token {handle.prefix_token_id}")
    if device_map and not mapped:
        say(f"note: model provider {provider!r} reported no device map; the whole model is on {handle.device}")


def _training_choices(plan: Plan, handle: ModelHandle, say: Any) -> dict[str, Any]:
    """LoRA or all weights (by the model's size), and whether the model can checkpoint; recorded in the run row."""
    choices: dict[str, Any] = {"gradient_checkpointing": plan.config.gradient_checkpointing}
    if plan.config.gradient_checkpointing and not getattr(handle.model, "supports_gradient_checkpointing", False):
        raise DebiasbenchError(f"model {plan.model} ({type(handle.model).__name__}) does not support gradient checkpointing; "
                               "leave --gradient-checkpointing out")
    lora = choose_lora(plan, handle)
    if lora is not None:
        choices["lora"] = lora.record()
        say(f"training {'LoRA adapters' if lora.applied else 'all weights'}: {lora.reason}")
        if not lora.applied and handle.dtype in ("bfloat16", "float16"):
            say(f"note: all weights train in {handle.dtype}, whose resolution (~0.4% of a weight for bfloat16) is coarser "
                "than a small learning-rate step, so much of each step is lost; LoRA (adapters in float32) or float32 avoids it")
    return choices


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
    forget: list[ForgetText] = []
    if plan.method.needs_forget:  # a debiasing baseline reads none (its forget set, if any, gives retain or relearn text)
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


def load_benign(plan: Plan, locator: DataLocator) -> list[str]:
    """The forget set's retain texts for the run's domain, which ``--relearn-steps`` fine-tunes on
    (benign text about the same groups, never evaluation items); refused when there are none."""
    config = plan.config
    if not config.relearn_steps or plan.method is None or plan.forget_set is None:
        return []
    texts = plan.forget_set.load_retain(locator, config.domain)  # type: ignore[arg-type]
    if not texts:
        raise DebiasbenchError(f"--relearn-steps fine-tunes on the forget set's benign retain texts, but forget set "
                               f"{plan.forget_set.name!r} has none for domain {config.domain!r}; choose a --forget-set "
                               "with retain text (e.g. hatecheck) or leave --relearn-steps out")
    return texts


def _relearn(plan: Plan, handle: ModelHandle, texts: list[str], training: dict[str, Any]) -> dict[str, Any]:
    """Fine-tune the unlearned model on ``texts`` (:mod:`debiasbench.training.relearn`): the run's
    seed; LoRA adapters of the run's rank and targets where it trained LoRA (its own adapters are
    merged into the weights once unlearning ends), all weights otherwise."""
    from debiasbench.training.relearn import MAX_LENGTH, RelearnSettings, relearn

    config, options = plan.config, plan.method_options
    lora = options if training.get("lora", {}).get("applied") else None
    assert plan.forget_set is not None
    settings = RelearnSettings(steps=config.relearn_steps, learning_rate=config.relearn_learning_rate,
                               batch_size=config.relearn_batch_size, seed=config.seed,
                               source=f"forget set {plan.forget_set.name!r} retain texts, domain {config.domain}",
                               lora=lora, max_length=getattr(options, "max_length", MAX_LENGTH))
    seed_everything(config.seed)
    info = relearn(handle, texts, settings, progress)
    handle.model.eval()
    return info


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
                         trajectory=trajectory, gradient_checkpointing=config.gradient_checkpointing,
                         run=plan.run_facts, measure=_measurer(plan, handle, locator))
    assert plan.method is not None
    outcome = plan.method.unlearn(handle, plan.method_options, ctx)
    handle.model.eval()
    return outcome, trajectory, probe


def _measurer(plan: Plan, handle: ModelHandle, locator: DataLocator) -> Any:
    """``UnlearnContext.measure``: one metric's headline figure now, evaluated exactly as the
    after-evaluation will evaluate it (same options, items and context, no cache)."""
    ctx = dataclasses.replace(eval_context(plan, locator), progress=None)

    def measure(name: str) -> float:
        planned = next((p for p in plan.metrics if p.metric.name == name), None)
        if planned is None:
            raise DebiasbenchError(f"the method measures {name!r}, which this run does not evaluate; add it to --metrics")
        was_training = handle.model.training
        handle.model.eval()
        try:
            result = evaluate(handle, [planned], ctx, plan.plugins.versions(), None, intervals=False)[0].result
        finally:
            handle.model.train(was_training)
        specs = {m.name: m for m in planned.metric.measures}
        rows = [r for r in result.rows if specs.get(r.measure) is not None and specs[r.measure].headline]
        if not rows:
            raise DebiasbenchError(f"metric {name!r} reported no headline figure to measure")
        return float(rows[0].value)

    return measure


def _save_model(handle: ModelHandle, target: Path, records: RunRecords, card: str | None, replace: bool) -> None:
    """Saved into a temp folder beside ``target`` and renamed, so a killed save leaves nothing half-written;
    with ``card`` a Hugging Face model card ``README.md`` beside the weights (docs/model-card.md)."""
    with atomic_dir(target, replace=replace) as tmp:  # validated absent or empty (or --overwrite) in plan_run
        handle.save(tmp)
        (tmp / SAVED_MODEL_MANIFEST).write_text(manifest(records, handle))
        if card is not None:
            (tmp / "README.md").write_text(card, encoding="utf-8")
