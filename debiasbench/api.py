"""The plugin API: the one module a plugin imports from the core.

Everything a first-party plugin uses is here, so a third-party package can do the same::

    from debiasbench.api import Metric, MeasureSpec, MetricResult, MetricRow, hookimpl, option

Names that need torch (the reference scorer, the training loop, the generation engine) are
loaded on first use, so importing this module stays fast for the command line. Test helpers
for plugin authors live in :mod:`debiasbench.testing`.
"""

from __future__ import annotations

import importlib
from typing import Any

from debiasbench.statistics.paired import split_of
from debiasbench.statistics.resampling import Figure, cluster_weights, combine, group_mean_figure, item_weights, mean_figure, ratio_figure
from debiasbench.domains import DOMAINS, OVERALL, STUDY_DOMAINS, check_domain
from debiasbench.errors import (
    DataError,
    DebiasbenchError,
    DuplicateNameError,
    PluginError,
    TrainingDiverged,
    UnknownNameError,
)
from debiasbench.plugin_system.hookspecs import Register, hookimpl
from debiasbench.plugin_system.interfaces import (
    KINDS,
    Aggregate,
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
    MeasureSpec,
    Metric,
    MetricResult,
    MetricRow,
    MODULES_KEY,
    ModelHandle,
    ModelProvider,
    ModelSettings,
    Named,
    NoOptions,
    PresetValues,
    ProgressFactory,
    RunFacts,
    SAVED_MODEL_MANIFEST,
    SelectorContext,
    SpanSelector,
    StepInfo,
    TokenizedText,
    UnlearnContext,
    UnlearningMethod,
    UnlearnOutcome,
    option,
)
from debiasbench.plugin_system.options import build_options, check_range
from debiasbench.results.items import concat_items, item_rows, kept_mask
from debiasbench.lm.batch_size import AUTO, BatchSize, check_batch_size, resolve_batch_size
from debiasbench.runtime.atomic import atomic_dir, atomic_path, write_bytes_atomic, write_table_atomic, write_text_atomic
from debiasbench.data.locator import DataLocator
from debiasbench.runtime.distributed import Ranks, broadcast, gather, main_process_first, ranks, shard, sum_over_processes, wait_for_everyone
from debiasbench.runtime.hashing import dumps, sha256_file, sha256_json
from debiasbench.runtime.paths import cache_dir
from debiasbench.runtime.progress import progress, progress_bar
from debiasbench.data.rows import RowFile, load_rows
from debiasbench.runtime.devices import resolve_device, seed_everything, torch_dtype

_LAZY: dict[str, str] = {
    # the reference token log-prob scorer (torch)
    "collate": "debiasbench.lm.logprobs",
    "logits_of": "debiasbench.lm.logprobs",
    "mean_nll": "debiasbench.lm.logprobs",
    "model_device": "debiasbench.lm.logprobs",
    "pad_masks": "debiasbench.lm.logprobs",
    "target_logprobs": "debiasbench.lm.logprobs",
    "token_logprobs": "debiasbench.lm.logprobs",
    # the training loop and its loss interface (debiasbench.training); options, objective and
    # method import no torch, the loop, the batch and the loss functions do
    "TrainingOptions": "debiasbench.training.options",
    "SelectiveOptions": "debiasbench.training.options",
    "EveryTokenOptions": "debiasbench.training.options",
    "UnlearningLoss": "debiasbench.training.objective",
    "LossMethod": "debiasbench.training.method",
    "TextBatch": "debiasbench.training.batch",
    "train": "debiasbench.training.loop",
    "selected_mean_logprob": "debiasbench.training.losses",
    "ga_loss": "debiasbench.training.losses",
    "nll_loss": "debiasbench.training.losses",
    "kl_loss": "debiasbench.training.losses",
    "sequence_logprob": "debiasbench.training.losses",
    "npo_loss": "debiasbench.training.losses",
    "tokenize_forget": "debiasbench.training.data",
    # the generation engine shared by generation metrics (torch inside its functions)
    "DecodingSettings": "debiasbench.lm.generation",
    "Generation": "debiasbench.lm.generation",
    "generate": "debiasbench.lm.generation",
    # the fluency check of generations (docs/damage.md); torch inside its functions
    "Fluency": "debiasbench.lm.fluency",
    "FluencyThresholds": "debiasbench.lm.fluency",
    "fluency": "debiasbench.lm.fluency",
    "stop_token_ids": "debiasbench.lm.generation",  # no torch, but loaded lazily to keep the import graph acyclic
}
"""Public names imported on first use (they import torch)."""


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'debiasbench.api' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "Aggregate", "DOMAINS", "Figure", "KINDS", "cluster_weights", "combine", "group_mean_figure", "item_weights", "mean_figure", "ratio_figure", "concat_items", "item_rows", "kept_mask", "OVERALL", "STUDY_DOMAINS", "DataError", "DataFile", "DataLocator", "DataLocatorProto", "Dataset",
    "Control", "ControlArm", "ControlledPoint", "ControlledResult", "DebiasbenchError", "DuplicateNameError", "EvalContext", "EvalDataset", "ForgetSet", "ForgetText", "MeasureSpec",
    "Metric", "MetricResult", "MetricRow", "MODULES_KEY", "ModelHandle", "ModelProvider", "ModelSettings", "Named", "NoOptions",
    "PluginError", "PresetValues", "ProgressFactory", "Register", "RowFile", "RunFacts", "SAVED_MODEL_MANIFEST", "SelectorContext", "SpanSelector", "StepInfo",
    "TokenizedText", "TrainingDiverged", "UnknownNameError", "UnlearnContext", "UnlearnOutcome", "UnlearningMethod",
    "AUTO", "BatchSize", "check_batch_size", "resolve_batch_size", "atomic_dir", "atomic_path", "build_options", "cache_dir", "check_range", "check_domain", "split_of", "dumps", "hookimpl", "load_rows",
    "option", "progress", "progress_bar", "resolve_device", "seed_everything", "sha256_file", "sha256_json",
    "torch_dtype", "write_bytes_atomic", "write_table_atomic", "write_text_atomic", *_LAZY,
    # data parallelism under ``accelerate launch``: split the batches, gather per-item results
    "Ranks", "broadcast", "gather", "main_process_first", "ranks", "shard", "sum_over_processes", "wait_for_everyone",
]


# --------------------------------------------------------------------------- plugin commands
# What a command added through the ``register_commands`` hook needs besides the names above.

from debiasbench.plugin_system.hookspecs import RegisterCommand  # noqa: E402
from debiasbench.plugin_system.options import parse_pairs, typed_values  # noqa: E402
from debiasbench.plugin_system.registry import Registry  # noqa: E402


def get_registry() -> Registry:
    """The registry of every loaded plugin's objects (plugins are loaded on first use, once per process)."""
    from debiasbench.plugin_system.loader import get_registry as process_registry

    return process_registry()


def load_model(spec: str, settings: ModelSettings) -> ModelHandle:
    """Load ``spec`` (a registered model name, or a hub id, folder or file a provider claims) with
    the provider that owns it, as ``debiasbench run --model`` does."""
    from debiasbench.run.models import load_model as load_with

    return load_with(spec, settings, get_registry())


__all__ += ["Registry", "RegisterCommand", "get_registry", "load_model", "parse_pairs", "typed_values"]
