"""The ``lm-eval:TASK`` metric family: any lm-evaluation-harness task, as a metric built when a run names it."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from debiasbench.api import Metric, MetricFamily
from debiasbench_metrics.lm_eval_tasks.options import LmEvalOptions


class LmEvalFamily(MetricFamily):
    """``lm-eval:<task>``: one lm-evaluation-harness task (its own or one of ``--lm-eval-include DIR``), run
    in-process on the loaded model; repeat the prefix for several tasks (``lm-eval:a,lm-eval:b``)."""

    name: ClassVar[str] = "lm-eval"
    argument: ClassVar[str] = "TASK"
    Options: ClassVar[type] = LmEvalOptions
    description: ClassVar[str] = ("lm-evaluation-harness task TASK on the loaded model: its figures as utility measures "
                                  "with lm-eval's stderr, per-document items where lm-eval's figure is a mean, a "
                                  "perplexity or bits per byte (needs the lm-eval extra; docs/lm-eval.md)")

    def build(self, argument: str, include: Path | None) -> Metric:
        from debiasbench_metrics.lm_eval_tasks.harness import load_task, require_lm_eval
        from debiasbench_metrics.lm_eval_tasks.metric import LmEvalTaskMetric

        require_lm_eval()
        return LmEvalTaskMetric(self.name, argument, load_task(argument, include), include)
