"""What a plugin provides: the typed interface of each plugin kind, one module per kind.

A plugin author reads this package and ``hookspecs.py`` and nothing else. Seven kinds of object exist
(:data:`KINDS`), and a plugin may add commands too:

* :class:`ModelProvider`  -- loads a causal LM into a :class:`ModelHandle`;
* :class:`Metric`         -- scores the items the core chose and returns one row per item (the core computes
  each measure's figure and interval), plus :class:`MetricRow` s for measures no aggregate expresses;
  a metric may declare :class:`LmEvalExport` tasks that reproduce it inside lm-evaluation-harness;
* :class:`MetricFamily` -- an open set of metrics named ``<family>:<argument>``, each built on demand
  (registered through ``register_metrics``);
* :class:`Dataset`        -- a data set (:class:`ForgetSet` for unlearning, :class:`EvalDataset`
  for benchmarks) whose files are located and checksum-checked by :class:`DataLocatorProto`;
* :class:`SpanSelector`   -- picks which tokens of a forget text are "the harmful part";
* :class:`UnlearningMethod` -- changes a model's weights given forget (and retain) texts;
* :class:`Control`        -- a study's control arm: a run derived from each run it controls;
* :class:`Tracker`        -- an experiment tracker (MLflow, W&B, TensorBoard) runs, sweeps and studies log to;
* commands -- ``debiasbench`` subcommands (Typer functions, the ``register_commands`` hook), not
  registry objects.

Nothing here imports torch: the CLI must stay fast, so heavy imports happen inside methods.
Typed options are plain dataclasses; every field needs a default and a ``help`` entry in its
``metadata`` so the CLI can validate ``-o key=value`` and the docs can list them.
"""

from __future__ import annotations

from debiasbench.plugin_system.interfaces.common import NoOptions, option, PresetValues, Named, ProgressFactory
from debiasbench.plugin_system.interfaces.models import ModelSettings, ModelHandle, SAVED_MODEL_MANIFEST, MODULES_KEY, ModelProvider
from debiasbench.plugin_system.interfaces.datasets import DataFile, DataLocatorProto, Dataset, EvalDataset, ForgetText, ForgetSet
from debiasbench.plugin_system.interfaces.lm_eval import LmEvalTask, LmEvalExport
from debiasbench.plugin_system.interfaces.metrics import Aggregate, MeasureSpec, MetricRow, MetricResult, EvalContext, Metric, MetricFamily, FAMILY_SEPARATOR
from debiasbench.plugin_system.interfaces.selectors import TokenizedText, SelectorContext, SpanSelector
from debiasbench.plugin_system.interfaces.methods import StepInfo, UnlearnOutcome, UnlearnContext, RunFacts, UnlearningMethod
from debiasbench.plugin_system.interfaces.controls import ControlledPoint, ControlledResult, ControlArm, Control
from debiasbench.plugin_system.interfaces.trackers import TrackerRun, Tracker

KINDS: tuple[str, ...] = ("method", "model", "metric", "dataset", "selector", "control", "tracker")
"""Registry kinds, in the order ``debiasbench plugins`` lists them."""

KIND_BASES: dict[str, type] = {
    "method": UnlearningMethod,
    "model": ModelProvider,
    "metric": Metric,
    "dataset": Dataset,
    "selector": SpanSelector,
    "control": Control,
    "tracker": Tracker,
}

__all__ = ["NoOptions", "option", "PresetValues", "Named", "ProgressFactory", "ModelSettings", "ModelHandle", "SAVED_MODEL_MANIFEST", "MODULES_KEY", "ModelProvider", "DataFile", "DataLocatorProto", "Dataset", "EvalDataset", "ForgetText", "ForgetSet", "Aggregate", "MeasureSpec", "MetricRow", "MetricResult", "EvalContext", "Metric", "MetricFamily", "FAMILY_SEPARATOR", "LmEvalTask", "LmEvalExport", "TokenizedText", "SelectorContext", "SpanSelector", "StepInfo", "UnlearnOutcome", "UnlearnContext", "RunFacts", "UnlearningMethod", "ControlledPoint", "ControlledResult", "ControlArm", "Control", "TrackerRun", "Tracker", "KINDS", "KIND_BASES"]
