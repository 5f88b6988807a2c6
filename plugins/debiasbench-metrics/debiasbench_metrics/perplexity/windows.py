"""Perplexity windows (docs/concepts.md, "Perplexity windows"): which tokens each window reads and which it scores.

Window ``k`` covers tokens ``[k*stride, k*stride + L)``, cut at the end of the text. A token is
predicted from the tokens before it in its window, so a window's first token is context only,
and each window scores only the predicted tokens no earlier window scored. With ``stride = L``
every window scores ``L - 1`` tokens and the first token of every window is never scored; with
``stride < L`` every token but the text's first is scored exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass

PROTOCOLS: dict[str, tuple[int, int]] = {"bias-bench": (992, 992), "hf-strided": (1024, 512)}
"""Protocol -> (window L, stride); kept for every model so figures compare across models."""
CONTEXT_MARGIN = 32
"""A model whose context is shorter than L uses its context minus this (and records it)."""


@dataclass(frozen=True)
class Window:
    """Tokens ``[start, end)`` are read; tokens ``[first_scored, end)`` are scored."""

    start: int
    end: int
    first_scored: int

    @property
    def scored(self) -> int:
        return self.end - self.first_scored


def window_size(protocol: str, model_context: int) -> tuple[int, int, bool]:
    """(L, stride, whether the model's context forced a smaller L) for ``protocol``."""
    length, stride = PROTOCOLS[protocol]
    if model_context >= length:
        return length, stride, False
    short = model_context - CONTEXT_MARGIN
    if short < 2:
        raise ValueError(f"a model context of {model_context} tokens leaves no room for perplexity windows")
    if stride == length:
        return short, short, True  # non-overlapping stays non-overlapping
    return short, stride if stride < short else short // 2, True  # overlapping keeps its stride while it fits


def plan_windows(n_tokens: int, length: int, stride: int) -> list[Window]:
    """The windows over ``n_tokens`` tokens that score at least one token."""
    if not 1 <= stride <= length:
        raise ValueError(f"stride must be between 1 and the window length {length}, not {stride}")
    windows, scored_until, start = [], 0, 0
    while True:
        end = min(start + length, n_tokens)
        first = max(start + 1, scored_until)
        if end > first:
            windows.append(Window(start, end, first))
        scored_until = max(scored_until, end)
        if end >= n_tokens:
            return windows
        start += stride
