"""Metrics: per-item rows the core aggregates, measures with their ideals, the evaluation context."""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from debiasbench.plugin_system.interfaces.common import Named, PluginLookup, PresetValues, ProgressFactory
from debiasbench.plugin_system.interfaces.datasets import DataLocatorProto
from debiasbench.plugin_system.interfaces.lm_eval import LmEvalExport
from debiasbench.plugin_system.interfaces.models import ModelHandle

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyarrow



Aggregate = Literal["mean", "group-mean", "ratio", "exp-ratio"]
"""How a measure's value follows from its per-item rows (``MetricResult.items``):

* ``mean``: the mean of ``value`` (CrowS-Pairs: 100 x stereotyped, per pair);
* ``group-mean``: the mean over ``group`` of the per-group means (StereoSet: per target term);
* ``ratio``: ``sum(value) / sum(weight)``;
* ``exp-ratio``: ``exp(sum(value) / sum(weight))`` (perplexity: window NLL over scored tokens).

The core recomputes every such figure from the items to pair before and after on the same items
(docs/statistics.md), so the declared aggregate must reproduce the row's value exactly.
"""


@dataclass(frozen=True)
class MeasureSpec:
    """One number a metric reports, with its ideal value so ``compare`` hard-codes nothing.

    ``better``: ``closer`` (distance to ``ideal`` should shrink, e.g. CrowS 50), ``higher``
    (e.g. LMS, ideal 100) or ``lower`` (perplexity; ``ideal`` may be None).

    With an ``aggregate``, the core computes the measure's rows (value, ``n``, 95 % interval) from
    the metric's per-item rows; the metric returns rows only for measures without one. ``range``
    bounds the values (it validates equivalence margins); ``item_sd`` is the standard deviation of
    one item's paired before/after change, a planning value for the minimum detectable effect
    before any data exists (say in a comment which measurement it comes from). ``utility`` marks a
    measure of what the model can still do (BLiMP, LAMBADA, perplexity-like damage checks) rather
    than of its bias, so reports can keep the two apart; ``damage`` (with ``damage_relative``) is
    the change the worse way beyond which a run is said to have damaged the model (the damage line).
    """

    name: str  # unique across metrics, e.g. "<metric>.score"
    ideal: float | None
    better: Literal["closer", "higher", "lower"]
    description: str = ""
    unit: str = ""
    headline: bool = False  # shown by default in summaries, compare and trajectories (stored in every row)
    aggregate: Aggregate | None = None  # how the value follows from the per-item rows (None: no paired statistics)
    range: tuple[float, float] | None = None  # the values the measure can take, e.g. (0, 100) for a % score; None: unbounded
    item_sd: float | None = None  # planning value: SD of one item's paired after - before change (minimum detectable effects)
    utility: bool = False  # a utility (capability / damage-check) measure, not a bias measure
    damage: float | None = None  # how far it may move the worse way before a run is called damaging (docs/damage.md)
    damage_relative: bool = False  # damage is a fraction of the before value (perplexity: 0.2 = +20 %), else points


@dataclass
class MetricRow:
    """One value for one evaluated domain (``all`` for the overall figure)."""

    domain: str
    measure: str
    value: float
    n: int  # pairs, examples or scored tokens
    ci_low: float | None = None
    ci_high: float | None = None


@dataclass
class MetricResult:
    """What :meth:`Metric.evaluate` returns. ``protocol`` records every choice that changes the
    numbers (scoring convention, window, stride, subset ...); ``items`` are the per-item rows
    behind every measure that declares an ``aggregate`` (build them with :func:`item_rows`; they
    are always written, so every change can be computed paired); ``examples`` is an optional,
    wider per-example table (texts, raw scores) for ``--save-examples``."""

    rows: list[MetricRow]  # measures without an aggregate (the core computes the others from ``items``)
    protocol: dict[str, Any]
    data_checksums: dict[str, str] = field(default_factory=dict)
    examples: pyarrow.Table | None = None
    notes: list[str] = field(default_factory=list)
    items: pyarrow.Table | None = None




@dataclass
class EvalContext:
    """Everything a metric needs besides the model and its own options."""

    data: DataLocatorProto
    registry: PluginLookup
    domains: tuple[str, ...] | None = None  # evaluated domains; None = every domain the data has
    limit: int | None = None  # at most this many pairs/examples per domain (seeded subset; quick runs, probes)
    seed: int = 0
    save_examples: bool = False
    progress: ProgressFactory | None = None
    # the frozen model the run started from, loaded on the first call (a run's later stages); None
    # where the evaluated model is that model (before unlearning, a plain eval). Fluency checks
    # score generations under it (docs/damage.md).
    start_model: Callable[[], ModelHandle] | None = None

    def frozen_start(self) -> ModelHandle | None:
        """The run's starting model when it differs from the evaluated one, else None."""
        return self.start_model() if self.start_model is not None else None

    def evaluated_domains(self, available: Sequence[str]) -> tuple[list[str], list[str]]:
        """The domains to evaluate (``available`` ones the run asked for, in the data's order) and the
        asked-for ones the data lacks (worth a note)."""
        from debiasbench.plugin_system.item_subsets import evaluated_domains

        return evaluated_domains(available, self.domains)

    def subset(self, domain_of: Sequence[Any], domains: Sequence[str], *key: str) -> Any:
        """Indices (a numpy array) of the items to score: per domain of ``domains``, at most ``limit``
        items drawn with the run's seed and ``key`` (the metric's name, and a task if it has several),
        kept in file order; every item when there is no limit. The same seed and limit choose the
        same items in every run, so before, after and every probe are paired on them."""
        from debiasbench.plugin_system.item_subsets import domain_subsets

        return domain_subsets(domain_of, domains, self.limit, self.seed, *key)

    def subset_protocol(self) -> dict[str, Any]:
        """How the items were chosen, for ``MetricResult.protocol``."""
        from debiasbench.plugin_system.item_subsets import subset_protocol

        return subset_protocol(self.limit)


class Metric(Named, ABC):
    """A bias or quality measurement. ``measures`` declares every measure name it reports.

    :meth:`evaluate` scores the items ``ctx.subset`` chooses and returns them as
    ``MetricResult.items``; the core computes the row (value, ``n``, 95 % interval) of every
    measure with an ``aggregate`` from them, so ``MetricResult.rows`` holds only measures without one.

    ``probe`` says what the trajectory probe (``run --eval-every``) evaluates: option values and
    an item limit applied on top of the run's own options; None = this metric is not probed.
    """

    measures: ClassVar[tuple[MeasureSpec, ...]]
    datasets: ClassVar[tuple[str, ...]] = ()  # EvalDataset names it reads (their checksums key the baseline cache)
    probe: ClassVar[PresetValues | None] = None
    # True: an item's dev/test split follows its ``group`` (StereoSet: the target term), so no group
    # has items in both splits and a choice made on dev never sees a test group (docs/statistics.md)
    split_by_group: ClassVar[bool] = False
    # its lm-evaluation-harness tasks, for ``debiasbench export lm-eval`` (None: not exported)
    lm_eval: ClassVar[LmEvalExport | None] = None

    @abstractmethod
    def evaluate(self, model: ModelHandle, ctx: EvalContext, options: Any) -> MetricResult:
        """Score ``model``; ``options`` is an instance of ``self.Options``."""

    def item_domains(self, ctx: EvalContext, measure: str) -> Sequence[str] | None:
        """The domain of every item behind ``measure`` that :meth:`evaluate` could score, read from
        the data without a model, before ``ctx.subset`` (``study --dry-run`` counts them to give each
        cell's minimum detectable effect). None: the metric cannot say (no MDE is planned for it)."""
        return None

    def protocol_key(self, ctx: EvalContext, options: Any) -> dict[str, Any]:
        """What, besides model and data checksums, decides the numbers (used for the baseline cache)."""
        return {"options": dataclasses.asdict(options), "domains": ctx.domains, "limit": ctx.limit, "seed": ctx.seed}

    def rows_from_items(self, items: pyarrow.Table, options: Any) -> list[MetricRow] | None:
        """This metric's rows without an aggregate (gaps between groups...) recomputed from ``items``.

        The core calls it when it keeps fewer items than the metric scored: per-item rows with
        ``kept`` False in any stage of a run are dropped from every stage (the fluency guard,
        docs/damage.md), and rows derived from the items must follow. None (the default): the
        metric's own rows stand.
        """
        return None


FAMILY_SEPARATOR = ":"
"""Between a family's name and its argument in a metric name: ``<family>:<argument>``."""


class MetricFamily(Named, ABC):
    """Metrics whose name carries an argument, ``<name>:<argument>``, built on demand: one object
    stands for an open set of metrics that cannot be registered one by one (the tasks of an external
    harness). A plugin registers it through ``register_metrics`` like a metric; the core builds the
    :class:`Metric` for ``<name>:<argument>`` while it plans a run, before any model loads, so
    :meth:`build` validates the argument (one :class:`~debiasbench.errors.DebiasbenchError` line,
    with a did-you-mean where it can). The built metric's ``name`` must be exactly
    ``<name>:<argument>``; from then on it is a metric like any other (options, presets, items).

    ``argument`` names the argument in listings (``lm-eval:TASK``). ``include`` is the run's
    ``--metric-include`` folder: extra definitions the family reads (a harness's task folder), or None.
    """

    argument: ClassVar[str] = "ARG"

    @abstractmethod
    def build(self, argument: str, include: Path | None) -> Metric:
        """The metric ``<name>:<argument>``; raises a one-line DebiasbenchError on a bad argument."""

    @property
    def pattern(self) -> str:
        """How the family is written in ``--metrics``: ``<name>:<ARGUMENT>``."""
        return f"{self.name}{FAMILY_SEPARATOR}{self.argument}"

