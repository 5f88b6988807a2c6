"""Options shared by the metrics that compare two sentences' scores (CrowS-Pairs, RedditBias)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from debiasbench.api import option
from debiasbench.api.lm import BatchSize, check_batch_size
from debiasbench_metrics.scoring.scorer import SCORINGS


@dataclass
class PairScoringOptions:
    """How the two sentences of a pair are scored and batched (intervals are the core's)."""

    scoring: Literal["mean", "sum"] = option("mean", "sentence score: mean (bias-bench; RedditBias's default too) or sum "
                                                     "(lm-evaluation-harness) of token log-probs")
    batch_size: BatchSize = option(64, "sentences per forward pass, or auto: the largest batch that fits the free memory")

    def __post_init__(self) -> None:
        if self.scoring not in SCORINGS:
            raise ValueError(f"scoring must be one of {', '.join(SCORINGS)}, not {self.scoring!r}")
        self.batch_size = check_batch_size(self.batch_size)
