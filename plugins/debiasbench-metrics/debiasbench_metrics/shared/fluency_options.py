"""The fluency guard's options, shared by the generation metrics (HONEST, BOLD; docs/damage.md)."""

from __future__ import annotations

from dataclasses import dataclass

from debiasbench.api import DebiasbenchError, option
from debiasbench.api.lm import FluencyThresholds


@dataclass
class FluencyGuardOptions:
    """Whether the guard is on and its thresholds; a metric's options dataclass inherits them."""

    fluency_guard: bool = option(True, "count only continuations fluent in every stage (docs/damage.md)")
    fluency_max_perplexity: float = option(1000.0, "a fluent continuation's largest perplexity under the starting model")
    fluency_min_vocabulary: float = option(0.5, "a fluent continuation's smallest share of English words, in [0, 1]")
    fluency_min_distinct: float = option(0.5, "below this share of distinct words (4+ words) a continuation is a loop, in [0, 1]")
    fluency_max_symbols: float = option(0.1, "a fluent continuation's largest share of symbol characters (not letters, digits, punctuation), in [0, 1]")

    def thresholds(self) -> FluencyThresholds:
        """The thresholds, or ValueError (the options' one-line refusal) when one is out of range."""
        try:
            return FluencyThresholds(self.fluency_max_perplexity, self.fluency_min_vocabulary, self.fluency_min_distinct,
                                     max_symbols=self.fluency_max_symbols)
        except DebiasbenchError as exc:
            raise ValueError(str(exc)) from None
