"""Options of every ``lm-eval:<task>`` metric (also shown by ``debiasbench list metrics lm-eval``)."""

from __future__ import annotations

from dataclasses import dataclass

from debiasbench.api import check_range, option


@dataclass
class LmEvalOptions:
    """Options of every ``lm-eval:<task>`` metric."""

    batch_size: int = option(16, "requests per forward pass (lm-eval's --batch_size)")
    num_fewshot: int | None = option(None, "few-shot examples (lm-eval's --num_fewshot); none: the task's own (0 if it sets none)")
    bootstrap_iters: int = option(100000, "lm-eval's resamples for the stderr of figures without a closed form "
                                          "(perplexity; its default); 0: no such stderr")

    def __post_init__(self) -> None:
        check_range(self, "batch_size", at_least=1)
        check_range(self, "bootstrap_iters", at_least=0)
        if self.num_fewshot is not None:
            check_range(self, "num_fewshot", at_least=0)
