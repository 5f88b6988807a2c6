"""Run presets: ``full`` is the paper's protocol; ``quick`` uses recorded subsets for a few-minute run."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Preset:
    """Subsets a preset applies (None = everything). Explicit CLI options override them."""

    name: str
    eval_limit: int | None  # pairs / examples per evaluated domain (CrowS-Pairs, StereoSet)
    perplexity_tokens: int | None  # WikiText-2 prefix in tokens
    forget_limit: int | None  # forget texts used for unlearning
    method_options: dict[str, str]  # defaults for the method's options
    description: str


PRESETS: dict[str, Preset] = {
    "full": Preset("full", None, None, None, {}, "the full benchmarks and forget set (the study's protocol)"),
    "quick": Preset(
        "quick",
        eval_limit=40,
        perplexity_tokens=8192,
        forget_limit=64,
        method_options={"epochs": "1"},
        description="40 pairs/examples per domain, 8,192 WikiText-2 tokens, 64 forget texts, 1 epoch",
    ),
}

PROBE_PERPLEXITY_TOKENS = 4096
"""WikiText-2 prefix scored by the --eval-every probe."""
