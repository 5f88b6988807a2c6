"""The plugin API: what a plugin imports from the core, and all it may rely on (docs/api.md).

Everything here, and in the three sub-namespaces, is covered by the compatibility promise of
:data:`API_VERSION`; anything else in ``debiasbench`` is internal and may change in any release::

    from debiasbench.api import Metric, MeasureSpec, MetricResult, hookimpl, item_rows, option
    from debiasbench.api import lm        # scoring, generation, batch sizes, shards (torch on use)
    from debiasbench.api import training  # the shared training loop of loss-based methods
    from debiasbench.api import data      # data files, rows, domains, the dev/test split

Nothing imported by ``import debiasbench.api`` loads torch: the names that need it load on
first use, so plugin modules import fast for the command line.
"""

from __future__ import annotations

from debiasbench.errors import DataError, DebiasbenchError, TrainingDiverged, UnknownNameError
from debiasbench.domains import OVERALL
from debiasbench.plugin_system.hookspecs import API_VERSION, Register, RegisterCommand, hookimpl
from debiasbench.plugin_system.interfaces import (
    Control,
    ControlArm,
    ControlledPoint,
    ControlledResult,
    DataFile,
    DataLocatorProto,
    Dataset,
    EvalContext,
    EvalDataset,
    ForgetSet,
    ForgetText,
    LmEvalExport,
    LmEvalTask,
    MeasureSpec,
    Metric,
    MetricFamily,
    MetricResult,
    MetricRow,
    ModelHandle,
    ModelProvider,
    ModelSettings,
    NoOptions,
    PresetValues,
    ProgressFactory,
    RunFacts,
    SelectorContext,
    SpanSelector,
    StepInfo,
    TokenizedText,
    Tracker,
    TrackerRun,
    UnlearnContext,
    UnlearningMethod,
    UnlearnOutcome,
    option,
)
from debiasbench.plugin_system.options import build_options, check_range, parse_pairs
from debiasbench.plugin_system.registry import Registry
from debiasbench.results.items import concat_items, item_rows, kept_mask

def get_registry() -> Registry:
    """The registry of every loaded plugin's objects (plugins are loaded on first use, once per process)."""
    from debiasbench.plugin_system.loader import get_registry as process_registry

    return process_registry()


def load_model(spec: str, settings: ModelSettings) -> ModelHandle:
    """Load ``spec`` (a registered model name, or a hub id, folder or file a provider claims) with
    the provider that owns it, as ``debiasbench run --model`` does."""
    from debiasbench.run.models import load_model as load_with

    return load_with(spec, settings, get_registry())


__all__ = [
    # the API itself and plugin registration
    "API_VERSION", "hookimpl", "Register", "RegisterCommand",
    # options of every registered object
    "NoOptions", "PresetValues", "option", "check_range", "build_options",
    # errors a plugin raises
    "DebiasbenchError", "DataError", "UnknownNameError", "TrainingDiverged",
    # model providers
    "ModelProvider", "ModelHandle", "ModelSettings",
    # data sets
    "Dataset", "EvalDataset", "ForgetSet", "ForgetText", "DataFile", "DataLocatorProto",
    # metrics
    "Metric", "MetricFamily", "MeasureSpec", "MetricResult", "MetricRow", "EvalContext", "OVERALL", "item_rows", "concat_items", "kept_mask",
    "LmEvalExport", "LmEvalTask",
    # span selectors
    "SpanSelector", "SelectorContext", "TokenizedText",
    # unlearning methods
    "UnlearningMethod", "UnlearnContext", "UnlearnOutcome", "StepInfo", "RunFacts", "ProgressFactory",
    # study controls
    "Control", "ControlArm", "ControlledPoint", "ControlledResult",
    # experiment trackers
    "Tracker", "TrackerRun",
    # the registry, and what a command needs
    "Registry", "get_registry", "load_model", "parse_pairs",
]

SUBMODULES = ("lm", "training", "data")
"""The promised sub-namespaces (``debiasbench.api.lm`` ...); each has its own ``__all__``."""

from debiasbench.api import data, lm, training  # noqa: E402  (after the names they may use)
