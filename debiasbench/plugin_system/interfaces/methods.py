"""Unlearning methods: change a model's weights given forget (and retain) texts."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from debiasbench.plugin_system.interfaces.common import Named, PluginLookup, ProgressFactory
from debiasbench.plugin_system.interfaces.datasets import DataLocatorProto, ForgetText
from debiasbench.plugin_system.interfaces.models import ModelHandle
from debiasbench.plugin_system.interfaces.selectors import SelectorContext, SpanSelector


@dataclass
class StepInfo:
    """One optimisation step, reported to the orchestrator (progress bar, trajectory)."""

    step: int
    epoch: int
    forget_loss: float  # the method's forget objective on this batch (mean selected-token log-prob for GA)
    retain_loss: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


@dataclass
class UnlearnOutcome:
    """How unlearning ended: steps taken and why it stopped (``steps``, ``forget-loss``,
    ``retain-ppl``, ``probe``...). ``history`` is every StepInfo."""

    steps: int
    stop_reason: str
    history: list[StepInfo] = field(default_factory=list)
    selected_tokens: int = 0
    total_tokens: int = 0
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class UnlearnContext:
    """What the orchestrator hands a method besides the model and its options.

    ``on_step`` must be called after every optimisation step; it returns True when the
    orchestrator wants the method to stop (the stop reason is then ``callback``).
    ``selector`` is the resolved span selector (``None`` for methods that take no selector).
    """

    forget: list[ForgetText]
    retain: list[str]
    selector: SpanSelector | None
    selector_ctx: SelectorContext | None
    registry: PluginLookup
    seed: int = 0
    on_step: Callable[[StepInfo], bool] = lambda info: False
    progress: ProgressFactory | None = None
    trajectory: Sequence[Mapping[str, Any]] = ()  # the probe's rows so far (``--eval-every``), read-only
    gradient_checkpointing: bool = False  # ``--gradient-checkpointing``: recompute activations in backward (methods that declare support)
    run: RunFacts | None = None  # the facts ``check_run`` saw at plan time (a method that re-derives its data the same way)
    measure: Callable[[str], float] | None = None
    """``measure(metric)``: the headline figure of one of the run's metrics on the model as it is
    now, with the run's options and items, i.e. the figure its after-evaluation will report
    (a control matched on perplexity steers by it). None outside a run."""


@dataclass(frozen=True)
class RunFacts:
    """What a method may check about the run at plan time, before any model loads."""

    domain: str
    preset: str
    eval_every: int | None
    probed_metrics: tuple[str, ...]  # the run's metrics that the trajectory probe evaluates
    forget_set: str  # "" for a method that reads no forget texts (``needs_forget = False``)
    data: DataLocatorProto | None = None  # the run's data locator: small files (word lists, a corpus) may be read
    save_model: bool = False  # --save-model was given: a method that changes no weights refuses it here, not after the run
    model_config: Mapping[str, Any] | None = None  # the model's config.json as on disk (ModelProvider.describe); None: unknown yet
    metrics: tuple[str, ...] = ()  # every metric the run evaluates (a method training on benchmark items must avoid them)
    heldout_seed: int = 0  # ``--heldout-seed``: with ``dev_fraction``, fixes each item's dev/test split (``split_of``)
    dev_fraction: float = 0.5


class UnlearningMethod(Named, ABC):
    """Changes the weights of ``model.model`` in place. ``Options`` is a dataclass of typed,
    documented options; a field called ``selector`` is resolved by the core to a SpanSelector."""

    needs_forget: ClassVar[bool] = True
    """False for a method that learns from something else (a debiasing baseline's corpus): a run then
    needs no forget set, loads no forget texts (``UnlearnContext.forget`` is empty) and records none."""
    needs_retain: ClassVar[bool] = False
    supports_gradient_checkpointing: ClassVar[bool] = False
    """True when :meth:`unlearn` honours ``UnlearnContext.gradient_checkpointing`` (the shared training
    loop does); ``run --gradient-checkpointing`` refuses other methods at plan time."""

    @abstractmethod
    def unlearn(self, model: ModelHandle, options: Any, ctx: UnlearnContext) -> UnlearnOutcome:
        """Run until a stopping rule fires; raise ``TrainingDiverged`` on NaN/inf loss."""

    def check_run(self, options: Any, run: RunFacts) -> None:
        """Refuse (raise ``DebiasbenchError``) options that cannot work in this run; called at plan time."""

    def check_model(self, options: Any, model: ModelHandle) -> None:
        """Refuse options that do not fit the loaded model (a layer index beyond it); called right after the
        model loads, before any evaluation, for what cannot be known at plan time."""
