"""StereoSet and CrowS-Pairs as lm-evaluation-harness tasks (``debiasbench export lm-eval``).

lm-eval has no StereoSet task and its ``crows_pairs`` scores a revised data set differently, so these
metrics declare tasks that reproduce their figures inside lm-eval (docs/lm-eval-export.md). The scoring
runs in ``task_functions.py``, which the export copies beside the yamls and which imports nothing from
debiasbench.
"""

from __future__ import annotations

from pathlib import Path

from debiasbench.api import LmEvalExport, LmEvalTask

from debiasbench_metrics.lm_eval_export.task_functions import CROWS_DOMAINS, STEREOSET_DOMAINS

MODULE = "debiasbench_metrics_lm_eval"
"""The stem of the copied functions file; the yamls call ``!function debiasbench_metrics_lm_eval.<name>``."""
SOURCE = Path(__file__).with_name("task_functions.py")
GROUP_TAG = "debiasbench"
DOC = "mean log-probability per token after the scoring prefix token, counted and aggregated as the toolkit's metric"

_STEREOSET_METRICS = tuple(
    (f"{name}{suffix}", f"!function {MODULE}.{name}", higher)
    for suffix in ("", *(f"_{d}" for d in STEREOSET_DOMAINS))
    for name, higher in (("ss", False), ("lms", True), ("icat", True))
) + (("margin", "mean", False),)
_CROWS_METRICS = (("score", "mean", False), ("stereo", "mean", False), ("antistereo", "mean", False),
                  *((f"score_{d}", "mean", False) for d in CROWS_DOMAINS), ("margin", "mean", False))

STEREOSET_EXPORT = LmEvalExport(
    module=MODULE, source=SOURCE, doc=f"StereoSet intra- and intersentence: {DOC}",
    tasks=tuple(
        LmEvalTask(f"debiasbench_stereoset_{short}", "stereoset", "json", f"stereoset_{task}", "process_stereoset",
                   _STEREOSET_METRICS, (GROUP_TAG, "debiasbench_stereoset"))
        for short, task in (("intra", "intrasentence"), ("inter", "intersentence"))
    ),
)
CROWS_EXPORT = LmEvalExport(
    module=MODULE, source=SOURCE, doc=f"CrowS-Pairs (the original 1,508 pairs): {DOC}",
    tasks=(LmEvalTask("debiasbench_crows_pairs", "crows-pairs", "csv", "crows_pairs", "process_crows", _CROWS_METRICS, (GROUP_TAG,)),),
)
