"""The configuration of one run or evaluation, and the one schema every surface is built from.

Each :class:`RunConfig` field carries a :class:`Setting` in its metadata: its help, which commands
have it, its flags, where a sweep file may set it, and whether the configuration hash ignores it.
The ``run`` and ``eval`` options (``debiasbench.cli.options``), the sweep file's keys, types and
axes (``debiasbench.campaign.sweep``) and :meth:`RunConfig.config_hash` all read that schema,
so a new setting is one field here.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from debiasbench.errors import DebiasbenchError
from debiasbench.runtime.hashing import sha256_json

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.plugin_system.registry import Registry

RUN, EVAL = "run", "eval"
RELEARN_LEARNING_RATE = 1e-4
"""Default AdamW rate of relearning: chosen on dev items, see docs/relearning.md."""
RELEARN_BATCH_SIZE = 8
"""Default benign texts per relearning step (the unlearning loop's default batch)."""
BOTH = (RUN, EVAL)


@dataclass(frozen=True)
class Setting:
    """How one run setting appears on the command line and in sweep files.

    ``cli``: ``value`` (one typed value), ``csv`` (a comma-separated list), ``pairs`` (repeatable
    ``KEY=VALUE``), ``owner-pairs`` (repeatable ``OWNER.KEY=VALUE``), ``repeat`` (a repeatable
    option, one value each) or ``negated`` (a ``--no-X`` flag that sets the field to False). ``sweep``: ``top`` (the file's top level), ``grid`` (only
    under ``[grid]``), ``table`` (its own ``[table]``) or ``no``. ``axis``: where it may be a
    ``[grid]`` axis, its enumeration rank (lower = outer; seed first).
    """

    help: str
    commands: tuple[str, ...] = BOTH
    flags: tuple[str, ...] = ()  # empty: --field-name
    cli: str = "value"
    metavar: str | None = None
    envvar: str | None = None
    required: bool = False  # by every command that has it
    sweep: str = "top"
    sweep_key: str | None = None  # the table's name, when it differs from the field's
    axis: int | None = None
    hashed: bool = True  # False: where or how a run writes, not what it computes
    hashed_at_default: bool = True  # False: left out of the hash while at its default (a setting added later keeps older hashes)
    not_in_sweep: str = ""  # why a sweep file may not set it


def setting(default: Any = None, help: str = "", *, factory: Callable[[], Any] | None = None, **spec: Any) -> Any:
    """A :class:`RunConfig` field described by a :class:`Setting`."""
    metadata = {"setting": Setting(help=help, **spec)}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class RunConfig:
    """Everything that defines a run. ``method=None`` means evaluate only (``debiasbench eval``);
    ``model``, ``metrics`` and ``forget_set`` None mean the installed plugins' defaults."""

    method: str | None = setting(None, "Unlearning method (see `debiasbench list methods`).", commands=(RUN,),
                                 required=True, sweep="grid", axis=8)
    domain: str | None = setting(None, "Source domain: the group whose hate speech is unlearned.", commands=(RUN,),
                                 required=True, sweep="grid", axis=9)
    model: str | None = setting(None, "Registered model, Hugging Face hub id, local folder or .gguf file; PROVIDER:SPEC picks "
                                      "the provider (default: the installed default, see `debiasbench list models`).", axis=1)
    forget_set: str | None = setting(None, "Forget set (default: the installed default, see `debiasbench list datasets`).",
                                     commands=(RUN,), axis=3)
    split: str | None = setting(None, "Forget-set split, for sets that have splits.", commands=(RUN,), axis=4)
    metrics: list[str] | None = setting(None, "Comma-separated metric names (default: the installed defaults, "
                                              "see `debiasbench list metrics`).", cli="csv")
    eval_domains: list[str] | None = setting(None, "Comma-separated evaluated domains (default: all).", cli="csv")
    method_options: dict[str, Any] = setting(
        help="Method option key=value (see `debiasbench list methods`).", factory=dict, commands=(RUN,),
        flags=("--option", "-o"), cli="pairs", metavar="KEY=VALUE", sweep="table", sweep_key="options")
    selector_options: dict[str, Any] = setting(
        help="Span-selector option key=value (see `debiasbench list selectors`).", factory=dict, commands=(RUN,),
        flags=("--selector-option", "-s"), cli="pairs", metavar="KEY=VALUE", sweep="table")
    metric_options: dict[str, dict[str, Any]] = setting(
        help="Metric option, e.g. -M METRIC.KEY=VALUE (see `debiasbench list metrics`).", factory=dict,
        flags=("--metric-option", "-M"), cli="owner-pairs", metavar="METRIC.KEY=VALUE", sweep="table")
    preset: str = setting("full", "full (the study's protocol) | quick (each plugin's subsets, minutes) | a preset a plugin declares.",
                          axis=2)
    eval_limit: int | None = setting(None, "At most N pairs/examples per evaluated domain.", axis=5)
    forget_limit: int | None = setting(None, "Use at most N forget texts (seeded sample).", commands=(RUN,), axis=6)
    eval_every: int | None = setting(None, "Probe the metrics that declare a probe every N steps (trajectory table).",
                                     commands=(RUN,))
    relearn_steps: int = setting(0, "After the after-evaluation, fine-tune the unlearned model for N steps of next-token "
                                    "cross-entropy on the forget set's benign retain texts and evaluate again (stage "
                                    "'relearned'; docs/relearning.md). 0: off.", commands=(RUN,), hashed_at_default=False)
    relearn_learning_rate: float = setting(RELEARN_LEARNING_RATE, "AdamW learning rate of --relearn-steps "
                                           "(default chosen on dev items: docs/relearning.md).", commands=(RUN,),
                                           hashed_at_default=False)
    relearn_batch_size: int = setting(RELEARN_BATCH_SIZE, "Benign texts per step of --relearn-steps.", commands=(RUN,),
                                      hashed_at_default=False)
    save_model: Path | None = setting(None, "Save the unlearned model here (HF layout, safetensors).", commands=(RUN,),
                                      hashed=False, sweep="no", not_in_sweep="each point would need its own folder; rerun "
                                      "the point you want with `debiasbench run --save-model`")
    overwrite: bool = setting(False, "With --save-model: replace the folder's contents when it is not empty (else refused).",
                              commands=(RUN,), hashed=False, sweep="no", not_in_sweep="--save-model is not a sweep setting either")
    save_examples: bool = setting(False, "Also write per-pair / per-example scores.", hashed=False)
    seed: int = setting(0, "Seed of training (shuffling, LoRA, random selectors); evaluation uses --heldout-seed.", axis=0)
    heldout_seed: int = setting(0, "Seed of everything on the evaluation side: the dev/test split of the benchmark items, "
                                   "item subsets (--eval-limit, presets) and bootstrap intervals; kept apart from --seed so "
                                   "every training seed is evaluated on the same items.")
    dev_fraction: float = setting(0.5, "Share of each benchmark's items in the dev split (choices such as a trajectory's "
                                       "best step are made on dev; paired figures are reported on test). 0: no dev items, for runs that choose nothing.")
    device: str = setting("auto", "auto | cpu | cuda | cuda:N | mps", hashed=False)
    device_map: str | None = setting(None, "auto: split the model over the GPUs this process sees (then CPU) with "
                                           "accelerate, for models too large for one GPU; leave --device out. "
                                           "Default: the whole model on --device.", hashed=False)
    dtype: str = setting("float32", "float32 | bfloat16 | float16 (bfloat16 flips a few % of pair decisions).", axis=7)
    lora_threshold: float = setting(1e9, "Train LoRA adapters instead of all weights when the model has more parameters "
                                         "than this (methods with a lora option; -o lora=true|false decides explicitly).",
                                    commands=(RUN,), hashed_at_default=False)
    full_finetune: bool = setting(False, "Train all weights whatever the model's size (no automatic LoRA).", commands=(RUN,),
                                  flags=("--full-finetune", "--no-lora"), hashed_at_default=False)
    gradient_checkpointing: bool = setting(False, "Recompute activations in the backward pass instead of keeping them: less "
                                                  "memory, ~30% more time; the same losses.", commands=(RUN,), hashed=False)
    results_dir: str | Path = setting(Path("results"), "Folder of result tables (Parquet): a local path, or an object-store "
                                      "URI such as s3://BUCKET/PREFIX or gs://BUCKET/PREFIX (docs/scale-storage.md).",
                                      metavar="DIR|URI", hashed=False)
    data_dir: Path | None = setting(None, "Data folder (else cache, else download).", envvar="DEBIASBENCH_DATA", hashed=False)
    cache_dir: Path | None = setting(None, "Toolkit cache (models, baselines, data).", envvar="DEBIASBENCH_CACHE", hashed=False)
    use_cache: bool = setting(True, "Recompute baseline evaluations instead of reusing cached ones.", flags=("--no-cache",),
                              cli="negated", hashed=False)
    threads: int | None = setting(None, "CPU threads for torch (default: every core); give concurrent runs a share each.",
                                  hashed=False)
    batch_size: str | None = setting(None, "Batch size of every metric with a batch_size option: N, or auto (the largest "
                                           "batch that fits the device's free memory, measured once per model); "
                                           "-M METRIC.batch_size wins. Changes no figure.", hashed=False)
    track: list[str] = setting(help="Log to an experiment tracker: mlflow[:URI], wandb[:PROJECT], tensorboard[:DIR] or a "
                                    "plugin's (see `debiasbench list trackers`); repeatable. A sweep or study logs one parent "
                                    "run with a child per point (docs/tracking.md).", factory=list, cli="repeat",
                               metavar="NAME[:TARGET]", hashed=False)
    trust_remote_code: bool = setting(False, "Allow model code from the hub (off by default).")
    metric_include: Path | None = setting(None, "A folder of extra definitions for metrics named FAMILY:ARG (lm-eval:TASK: "
                                                "lm-eval's task include path, task yamls of your own; docs/lm-eval.md).",
                                          flags=("--lm-eval-include", "--metric-include"), metavar="DIR",
                                          hashed_at_default=False)

    def __post_init__(self) -> None:
        # A URI stays a string (Path would fold s3:// into s3:/); a local path is a Path, as it always was.
        from debiasbench.results.storage import results_location

        self.results_dir = results_location(self.results_dir)

    @property
    def command(self) -> str:
        return EVAL if self.method is None else RUN

    def to_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(self).items()}

    def config_hash(self) -> str:
        """Identifies what the run computes (not where it writes): sweeps skip runs already done."""
        defaults = hashed_only_off_default()
        payload = {k: v for k, v in self.to_json().items()
                   if k not in hash_ignored() and not (k in defaults and v == defaults[k])}
        return sha256_json(payload, 16)


@dataclass(frozen=True)
class SchemaField:
    """One field of the schema: its name, :class:`Setting`, resolved type and default."""

    name: str
    setting: Setting
    annotation: Any  # the type without ``| None``
    optional: bool  # None is a valid value
    default: Any  # the default value (a fresh one for factory fields)


@functools.lru_cache(maxsize=1)
def schema() -> tuple[SchemaField, ...]:
    """Every :class:`RunConfig` field with its setting, in declaration order (the CLI's option order)."""
    hints = typing.get_type_hints(RunConfig)
    out = []
    for f in dataclasses.fields(RunConfig):
        annotation = hints[f.name]
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        optional = len(args) < len(typing.get_args(annotation))
        union = typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) > 1
        default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default  # type: ignore[misc]
        # ``X | None`` -> X; ``str | Path`` -> str: the first member is the type the CLI and sweep files parse
        out.append(SchemaField(f.name, f.metadata["setting"], args[0] if optional or union else annotation, optional, default))
    return tuple(out)


@functools.lru_cache(maxsize=1)
def hash_ignored() -> frozenset[str]:
    """Fields :meth:`RunConfig.config_hash` leaves out: where and how a run writes, not what it computes."""
    return frozenset(f.name for f in schema() if not f.setting.hashed)


@functools.lru_cache(maxsize=1)
def hashed_only_off_default() -> dict[str, Any]:
    """Fields the hash leaves out while they hold their default (name -> default)."""
    return {f.name: f.default for f in schema() if not f.setting.hashed_at_default}


def with_typed_options(config: RunConfig, registry: Registry) -> RunConfig:
    """``config`` with its option tables typed against the Options of the method, selector and metrics it names.

    Strings (``-o key=value``) and typed values (TOML) go through the same conversion, so the
    stored values and the configuration hash do not depend on where the run was configured.
    Metric options are keyed by the metric's registered name (an alias is resolved).
    """
    from debiasbench.plugin_system.options import typed_values

    build_family_metrics(config, registry)
    method_options, selector_options = dict(config.method_options), dict(config.selector_options)
    if config.method is not None:
        method = registry.method(config.method)
        method_options = typed_values(method.Options, method_options, f"method {method.name!r}")
        selector_options = _typed_selector_options(method, method_options, selector_options, registry)
    metric_options: dict[str, dict[str, Any]] = {}
    for name, values in config.metric_options.items():
        metric = registry.metric(name)
        metric_options.setdefault(metric.name, {}).update(typed_values(metric.Options, values, f"metric {metric.name!r}"))
    return dataclasses.replace(config, method_options=method_options, selector_options=selector_options,
                               metric_options=metric_options)


def build_family_metrics(config: RunConfig, registry: Registry) -> None:
    """Register the metrics named ``FAMILY:ARG`` in ``config`` (``--metrics`` and ``-M`` keys), built by their
    families with ``--metric-include``: what checks such a name (an unknown task, a missing folder) runs here,
    before any model loads."""
    include = Path(config.metric_include) if config.metric_include is not None else None
    if include is not None and not include.is_dir():
        raise DebiasbenchError(f"--lm-eval-include {include} is not a folder; pass the folder that holds the task definitions")
    for name in dict.fromkeys([*(config.metrics or ()), *config.metric_options]):
        registry.build_metric(name, include)


def method_selector(method: Any, method_options: dict[str, Any], registry: Registry | None = None) -> str | None:
    """The span selector a method will use: its ``selector`` option as given, else that option's
    default, else (a ``selector`` option defaulting to None) the registry's default selector."""
    if "selector" in method_options:
        return method_options["selector"]
    declared = {f.name: f for f in dataclasses.fields(method.Options)}.get("selector")
    if declared is None or declared.default is dataclasses.MISSING:
        return None
    if declared.default is None and registry is not None:
        entry = registry.default("selector")
        return entry.name if entry is not None else None
    return declared.default  # type: ignore[no-any-return]


def _typed_selector_options(method: Any, method_options: dict[str, Any], raw: dict[str, Any], registry: Registry) -> dict[str, Any]:
    """``-s`` values typed by the selected selector's Options. A selector that overrides
    ``check_options`` may pass options on to another selector, so keys its own Options lacks are
    kept as given for that check (made while the run is planned)."""
    from debiasbench.plugin_system.interfaces import SpanSelector
    from debiasbench.plugin_system.options import typed_values

    if not raw:
        return {}
    name = method_selector(method, method_options, registry)
    if not isinstance(name, str):
        raise DebiasbenchError(f"-s selector options were given, but method {method.name!r} takes no span selector")
    selector = registry.selector(name)
    passes_on = type(selector).check_options is not SpanSelector.check_options
    return typed_values(selector.Options, raw, f"selector {selector.name!r}", keep_unknown=passes_on)
