"""What a plugin provides: the typed interface of each plugin kind, in one file.

A plugin author reads this file and ``hookspecs.py`` and nothing else. Six kinds of object exist
(:data:`KINDS`), and a plugin may add commands too:

* :class:`ModelProvider`  -- loads a causal LM into a :class:`ModelHandle`;
* :class:`Metric`         -- scores the items the core chose and returns one row per item (the core computes
  each measure's figure and interval), plus :class:`MetricRow` s for measures no aggregate expresses;
* :class:`Dataset`        -- a data set (:class:`ForgetSet` for unlearning, :class:`EvalDataset`
  for benchmarks) whose files are located and checksum-checked by :class:`DataLocatorProto`;
* :class:`SpanSelector`   -- picks which tokens of a forget text are "the harmful part";
* :class:`UnlearningMethod` -- changes a model's weights given forget (and retain) texts;
* :class:`Control`        -- a study's control arm: a run derived from each run it controls;
* commands -- ``debiasbench`` subcommands (Typer functions, the ``register_commands`` hook), not
  registry objects.

Nothing here imports torch: the CLI must stay fast, so heavy imports happen inside methods.
Typed options are plain dataclasses; every field needs a default and a ``help`` entry in its
``metadata`` so the CLI can validate ``-o key=value`` and the docs can list them.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pyarrow

    from debiasbench.plugin_system.registry import Registry


@dataclass
class NoOptions:
    """Options class for a plugin object that takes none."""


def option(default: Any, help: str, **kwargs: Any) -> Any:
    """A documented dataclass field for typed plugin options (``-o key=value``)."""
    if isinstance(default, (list, dict, set)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kwargs})
    return field(default=default, metadata={"help": help, **kwargs})


@dataclass(frozen=True)
class PresetValues:
    """What one preset (``quick``, ``full`` or a plugin's own) means for one object.

    ``options``: typed values for fields of the object's ``Options`` (validated when plugins
    load); ``limit``: for a metric, items per evaluated domain (a seeded subset); for a forget
    set, forget texts; ``domains``: for a metric, the evaluated domains (None: every domain).
    The user's explicit options, ``--eval-limit``, ``--forget-limit`` and ``--eval-domains``
    always win over a preset.
    """

    options: Mapping[str, Any] = field(default_factory=dict)
    limit: int | None = None
    domains: tuple[str, ...] | None = None


class Named:
    """Shared by every registrable object: a unique name per kind, aliases, a one-line description.

    ``presets`` maps preset names to :class:`PresetValues`: each object says itself what a preset
    means for it, so the core knows no option of any plugin. ``default`` marks the object the core
    uses when the user names none (the model, the metrics of a run, the forget set); when several
    plugins mark a default, the first in name order wins.
    """

    name: ClassVar[str]
    aliases: ClassVar[tuple[str, ...]] = ()
    description: ClassVar[str] = ""
    Options: ClassVar[type] = NoOptions
    presets: ClassVar[Mapping[str, PresetValues]] = {}
    default: ClassVar[bool] = False


# --------------------------------------------------------------------------- models


@dataclass
class ModelSettings:
    """How to load a model; filled from the CLI (``--device``, ``--device-map``, ``--dtype``, ...).

    ``device_map``: None puts the whole model on ``device``; ``"auto"`` asks the provider to split
    it over the accelerators the process sees (largest first, then CPU), as transformers'
    ``from_pretrained(device_map="auto")`` does, with ``device`` left at ``auto``. A provider that
    cannot split a model raises :class:`~debiasbench.errors.DebiasbenchError` saying so; one that
    can records the placement in ``ModelHandle.info["device_map"]``.
    """

    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    device_map: str | None = None  # None | auto (see DEVICE_MAPS in debiasbench.support.runtime)
    dtype: str = "float32"  # float32 | bfloat16 | float16
    trust_remote_code: bool = False
    cache_dir: Path | None = None  # the toolkit cache (DEBIASBENCH_CACHE); None = default
    seed: int = 0

    def torch_device(self) -> str:
        """The device to load onto: ``device`` with ``auto`` resolved (this process's accelerator, else CPU)."""
        from debiasbench.support.runtime import resolve_device

        return resolve_device(self.device)

    def torch_dtype(self) -> Any:
        """``dtype`` as a torch dtype (imports torch); a name outside float32, bfloat16, float16 raises ``DebiasbenchError``."""
        from debiasbench.support.runtime import torch_dtype

        return torch_dtype(self.dtype)

    def seed_everything(self) -> None:
        """Seed python, numpy and torch with ``seed`` before the model is built, so weights a
        checkpoint lacks (and anything else drawn while loading) are the same in every run."""
        from debiasbench.support.runtime import seed_everything

        seed_everything(self.seed)


@dataclass
class ModelHandle:
    """A loaded causal LM plus everything metrics and methods need to use it correctly.

    ``prefix_token_id`` is the single context token of docs/concepts.md, "Protocols" (BOS, or end-of-text
    where BOS is absent or a chat marker). ``fingerprint`` identifies the exact weights, so
    cached baseline evaluations are reused only for the same model.
    """

    model: Any  # transformers.PreTrainedModel (causal LM), in eval mode
    tokenizer: Any  # transformers.PreTrainedTokenizerBase; pad token set
    name: str  # what the user asked for (registry name, hub id, path)
    source: str  # what was actually loaded (resolved path or hub id@revision)
    provider: str  # the ModelProvider that loaded it
    prefix_token_id: int
    device: str  # torch device string actually used; with a device map, where the inputs go (the input embedding's device)
    dtype: str  # float32 | bfloat16 | float16
    fingerprint: str
    max_length: int  # usable context length in tokens
    info: dict[str, Any] = field(default_factory=dict)  # anything worth recording (revision, ...)

    def save(self, directory: Path) -> None:
        """Write the model in Hugging Face layout with safetensors weights (no pickle)."""
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory, safe_serialization=True)
        self.tokenizer.save_pretrained(directory)


SAVED_MODEL_MANIFEST = "debiasbench-manifest.json"
"""Written beside a model saved by ``run --save-model`` (its run row, base model, prefix token);
model providers read it back when loading such a folder."""


MODULES_KEY = "debiasbench:modules"
"""Key of :meth:`ModelProvider.describe`'s answer: the names of the model's modules that hold weights."""


class ModelProvider(Named, ABC):
    """Loads models. Registered names (``smollm2-135m-q4``) are matched first; then each
    provider's :meth:`claims` is asked whether it understands an arbitrary spec (a hub id,
    a directory, a ``.gguf`` path), and the claimant of highest :attr:`precedence` loads it.
    ``--model PROVIDER:SPEC`` names the provider outright."""

    MODULES_KEY: ClassVar[str] = MODULES_KEY
    """The key under which :meth:`describe` may list the modules that hold weights."""
    SAVED_MODEL_MANIFEST: ClassVar[str] = SAVED_MODEL_MANIFEST
    """The JSON file beside a model saved by ``run --save-model`` (its run row, base model, prefix
    token): a provider that loads folders reads it back into ``ModelHandle.info``."""

    precedence: ClassVar[int] = 0
    """Which provider loads a spec that several claim: the highest wins. Two claimants of equal
    precedence are refused, naming both (the user then writes ``PROVIDER:SPEC``), so a plugin never
    takes specs from another silently. A provider of one narrow format (``.gguf`` files) declares
    more than a catch-all one (any hub id, 0); one meant to replace another declares more than it."""

    def claims(self, spec: str) -> bool:
        """True when this provider can load ``spec`` although it is not a registered name."""
        return False

    @abstractmethod
    def load(self, spec: str, settings: ModelSettings) -> ModelHandle:
        """Load ``spec``; raise :class:`debiasbench.errors.DebiasbenchError` with one clear line on failure."""

    def describe(self, spec: str, cache: Path | None = None) -> Mapping[str, Any] | None:
        """What is on disk about ``spec``, read without loading a weight: its configuration
        (``config.json``), so methods can check their options against it at plan time; None when it
        is not on disk yet (a hub id not downloaded). Raise ``DebiasbenchError`` (one line) when the
        files on disk can never load (weights cut short). It may add :data:`MODULES_KEY`: the names of
        the modules that hold weights, read from the weights' headers (``-o lora_targets`` is checked
        against them)."""
        return None


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class DataFile:
    """A file a data set reads: where it lives under the data directory, its checksum, its origin."""

    relpath: str  # relative to the data dir, e.g. "crows_pairs/crows_pairs_anonymized.csv"
    sha256: str | None = None  # expected checksum; None = not checked
    url: str | None = None  # download source when neither data dir nor cache has it
    member: str | None = None  # when ``url`` is a zip archive: the path of this file inside it
    fallback: DataFile | None = None  # another file (e.g. another layout) used when this one is nowhere local and has no url
    git_blob: str | None = None  # expected git blob id (sha1 of "blob <size>\0" + content), for sources that publish only that


class DataLocatorProto(Protocol):
    """Finds data files: the data dir (``--data-dir`` / ``DEBIASBENCH_DATA``), else the cache,
    else the source URL. Verifies the sha256 and raises ``DataError`` with one line."""

    def path(self, file: DataFile) -> Path: ...

    def checksum(self, file: DataFile) -> str: ...


class Dataset(Named, ABC):
    """A data set plugin. ``role`` says what it is for; ``files`` are located by the core."""

    role: ClassVar[Literal["forget", "eval"]]
    files: ClassVar[tuple[DataFile, ...]] = ()
    license: ClassVar[str] = ""
    citation: ClassVar[str] = ""


class EvalDataset(Dataset):
    """Benchmark data (CrowS-Pairs, StereoSet, WikiText-2). Metrics look it up by name."""

    role: ClassVar[Literal["forget", "eval"]] = "eval"

    @abstractmethod
    def load(self, data: DataLocatorProto) -> Any:
        """Return the parsed records (a list of dataclasses, a string, ...)."""


@dataclass(frozen=True)
class ForgetText:
    """One hateful text to unlearn. ``spans`` are character spans marked harmful by the data set
    (HateCheck ``focus_words``); ``None`` when the data set has no annotation."""

    text: str
    domain: str  # canonical domain, e.g. "gender"
    group: str  # the targeted group as the data set names it, e.g. "women"
    spans: tuple[tuple[int, int], ...] | None = None
    source: str = ""  # data set name


class ForgetSet(Dataset):
    """Hate speech aimed at groups, by domain, plus neutral retain text about the same groups."""

    role: ClassVar[Literal["forget", "eval"]] = "forget"
    splits: ClassVar[tuple[str, ...]] = ()  # the values ``--split`` may take (checked at plan time); () = no splits

    @abstractmethod
    def domains(self) -> tuple[str, ...]:
        """Domains this set has texts for."""

    @abstractmethod
    def load_forget(self, data: DataLocatorProto, domain: str, split: str | None = None) -> list[ForgetText]:
        """Hateful texts for ``domain`` (all splits when ``split`` is None)."""

    def load_retain(self, data: DataLocatorProto, domain: str) -> list[str]:
        """Neutral texts about the same groups (never evaluation text); empty when none."""
        return []


# --------------------------------------------------------------------------- metrics


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


ProgressFactory = Callable[..., Any]
"""``progress(description, total=None)`` -> a context manager with ``advance(n=1, **fields)``."""


@dataclass
class EvalContext:
    """Everything a metric needs besides the model and its own options."""

    data: DataLocatorProto
    registry: Registry
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
        from debiasbench.support.subsets import evaluated_domains

        return evaluated_domains(available, self.domains)

    def subset(self, domain_of: Sequence[Any], domains: Sequence[str], *key: str) -> Any:
        """Indices (a numpy array) of the items to score: per domain of ``domains``, at most ``limit``
        items drawn with the run's seed and ``key`` (the metric's name, and a task if it has several),
        kept in file order; every item when there is no limit. The same seed and limit choose the
        same items in every run, so before, after and every probe are paired on them."""
        from debiasbench.support.subsets import domain_subsets

        return domain_subsets(domain_of, domains, self.limit, self.seed, *key)

    def subset_protocol(self) -> dict[str, Any]:
        """How the items were chosen, for ``MetricResult.protocol``."""
        from debiasbench.support.subsets import subset_protocol

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


# --------------------------------------------------------------------------- span selectors


@dataclass
class TokenizedText:
    """A forget text with its token ids (no special tokens) and each token's character span."""

    item: ForgetText
    input_ids: list[int]
    offsets: list[tuple[int, int]]


@dataclass
class SelectorContext:
    """What a selector may use: the model (counterfactual), the data (lexicon), a seed, options."""

    model: ModelHandle | None
    data: DataLocatorProto
    registry: Registry
    domain: str
    seed: int = 0
    options: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)  # facts the selector records (method_info: ``selector_<key>``)


class SpanSelector(Named, ABC):
    """Decides which tokens of each forget text are unlearned. Its ``-s`` options arrive in
    ``SelectorContext.options``; :meth:`check_options` validates them while the run is planned."""

    def check_options(self, options: Mapping[str, Any], registry: Registry) -> None:
        """Raise ``DebiasbenchError`` (one line) when ``options`` do not fit this selector; the
        default builds ``Options`` from them. A selector that passes options on overrides this."""
        from debiasbench.plugin_system.options import build_options

        build_options(self.Options, dict(options), f"selector {self.name!r}")

    @abstractmethod
    def select(self, items: Sequence[TokenizedText], ctx: SelectorContext) -> list[list[bool]]:
        """One boolean per token of each item: True = unlearn this token."""


# --------------------------------------------------------------------------- unlearning methods


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
    registry: Registry
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


@dataclass(frozen=True)
class ControlledPoint:
    """A study's run that a control is derived from (before it runs)."""

    method: str
    method_options: Mapping[str, Any]  # the options the study gave it (not the defaults)
    selector: str | None  # its resolved span selector; None for methods that take none
    selector_options: Mapping[str, Any]
    domain: str
    seed: int


@dataclass(frozen=True)
class ControlledResult:
    """What the controlled run recorded, for controls that are matched to its outcome."""

    run_id: str
    run: Mapping[str, Any]  # its runs row (steps, stop_reason, config ...)
    trajectory: Sequence[Mapping[str, Any]]  # its trajectory rows (``--eval-every``)
    metrics: Sequence[Mapping[str, Any]]  # its metric rows, before and after


@dataclass(frozen=True)
class ControlArm:
    """The control run, as what replaces the controlled run's method and options (same model,
    forget set, source domain, seed and evaluation)."""

    method: str
    method_options: Mapping[str, Any]
    selector_options: Mapping[str, Any] = field(default_factory=dict)


class Control(Named, ABC):
    """A control arm of a study (docs/statistics.md, "The controls"): a run derived from each run it controls, so a
    method's effect can be compared with what the same amount of generic change does.

    ``needs_result``: the control is derived from the controlled run's records (e.g. stopped at
    its perplexity increase), so the study runs it after that run."""

    needs_result: ClassVar[bool] = False

    def applies(self, point: ControlledPoint) -> str | None:
        """None when this control can be derived from ``point``; else why not (shown in the study)."""
        return None

    def check_run(self, facts: RunFacts) -> str | None:
        """None when a controlled run with these settings gives this control what it needs; else
        what the study file must change. The study's preflight asks this of every controlled run
        before any run starts, so a study never runs for hours to fail at its controls."""
        return None

    @abstractmethod
    def derive(self, point: ControlledPoint, result: ControlledResult | None) -> ControlArm:
        """The control run of ``point`` (``result`` is given when ``needs_result``)."""

    def matched(self, controlled: ControlledResult, control: ControlledResult) -> str | None:
        """None when the finished control run matches the run it controls as the control promises
        (e.g. the same perplexity increase within a tolerance); else why not, in one line. The
        study report shows an unmatched control's contrast with this reason and does not test it."""
        return None


KINDS: tuple[str, ...] = ("method", "model", "metric", "dataset", "selector", "control")
"""Registry kinds, in the order ``debiasbench plugins`` lists them."""

KIND_BASES: dict[str, type] = {
    "method": UnlearningMethod,
    "model": ModelProvider,
    "metric": Metric,
    "dataset": Dataset,
    "selector": SpanSelector,
    "control": Control,
}
