"""The ``perplexity`` metric (docs/concepts.md, "WikiText-2 perplexity"): WikiText-2 raw test, windowed.

The whole text is tokenised once (no special tokens; cached per tokenizer), optionally cut to
its first ``max_tokens`` tokens, and scored in the windows of :mod:`windows`:
``PPL = exp(sum of NLL over scored tokens / number of scored tokens)``. Windows of full length
are batched ``batch_size`` per forward pass (default one, the fastest on CPU); the last, shorter
window runs alone, so no window is ever padded. The metric returns one item per window (its NLL
sum and scored tokens, aggregate ``exp-ratio``); the core computes the figure and its interval
(windows resampled, their NLL sums and token counts pooled).
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np

from debiasbench.api import (
    DebiasbenchError,
    EvalContext,
    MeasureSpec,
    Metric,
    MetricResult,
    ModelHandle,
    OVERALL,
    PresetValues,
    item_rows,
    option,
)
from debiasbench.api.lm import BatchSize, check_batch_size, resolve_batch_size, gather, progress_bar, shard
from debiasbench_metrics.scoring.logprob_head import LogProbHead
from debiasbench_metrics.shared.provenance import data_checksums, table, tokenizer_fingerprint
from debiasbench_metrics.perplexity.windows import PROTOCOLS, Window, plan_windows, window_size

MEASURE = "perplexity.wikitext2"
# item_sd (a planning value): the SD over windows of the paired after - before change of each window's
# linearised (delta-method) contribution to exp(sum NLL / sum tokens), in perplexity points, measured on the
# README's quick run (run --method mlm-unlearn --model smollm2-135m-q4 --domain gender --preset quick
# --threads 1; seed 0, 2026-12-07; results/items/*.parquet): 5 windows of the first 4096 tokens (the quick
# preset), so a rough value (24.33 -> 28.16 there).
ITEM_SD = 2.461
_TOKENS: weakref.WeakKeyDictionary[Any, dict[str, np.ndarray]] = weakref.WeakKeyDictionary()


@dataclass
class PerplexityOptions:
    """Options of the ``perplexity`` metric."""

    protocol: Literal["bias-bench", "hf-strided"] = option("bias-bench", "windows: bias-bench (L=992, stride=L) or hf-strided (L=1024, stride=512)")
    max_tokens: int | None = option(None, "score only the first N tokens of the text (None = all)")
    # 1: a 992-token window already fills a CPU's matmuls, more per pass only spills the caches
    # (measured in debiasbench.lm.batch_size); on a GPU, auto batches as many as fit
    batch_size: BatchSize = option(1, "windows per forward pass, or auto: as many as fit the free memory (CPU: ~1k tokens a pass)")

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {', '.join(PROTOCOLS)}, not {self.protocol!r}")
        if self.max_tokens is not None and self.max_tokens < 2:
            raise ValueError(f"max_tokens must be at least 2 (or None for the whole text), not {self.max_tokens}")
        self.batch_size = check_batch_size(self.batch_size)


class PerplexityMetric(Metric):
    """Perplexity on the raw WikiText-2 test text: what unlearning cost in language modelling."""

    name: ClassVar[str] = "perplexity"
    aliases: ClassVar[tuple[str, ...]] = ("ppl",)
    description: ClassVar[str] = "WikiText-2 raw test perplexity (bias-bench or hf-strided windows; lower is better)"
    Options: ClassVar[type] = PerplexityOptions
    datasets: ClassVar[tuple[str, ...]] = ("wikitext2",)
    default: ClassVar[bool] = True
    # quick: the first 4096 test tokens (the probe's windows), a damage check in seconds; the
    # full protocol's 303k tokens take ~10 minutes on 2 cores (benchmarks/README.md)
    presets: ClassVar[Mapping[str, PresetValues]] = {"quick": PresetValues(options={"max_tokens": 4096})}
    probe: ClassVar[PresetValues | None] = PresetValues(options={"max_tokens": 4096})
    measures: ClassVar[tuple[MeasureSpec, ...]] = (
        MeasureSpec(MEASURE, None, "lower", "perplexity of the WikiText-2 raw test text; only comparable under one tokenizer and protocol",
                    headline=True, aggregate="exp-ratio", range=(1.0, math.inf), item_sd=ITEM_SD, utility=True,
                    damage=0.2, damage_relative=True),  # +20 %: about one model size of language ability (docs/damage.md)
    )

    def evaluate(self, model: ModelHandle, ctx: EvalContext, options: Any) -> MetricResult:
        dataset = ctx.registry.get("dataset", "wikitext2")
        checksums = data_checksums(dataset, ctx.data)
        all_tokens = text_tokens(model, lambda: dataset.load(ctx.data), "".join(checksums.values()))
        tokens = all_tokens[:options.max_tokens] if options.max_tokens else all_tokens
        try:
            length, stride, limited = window_size(options.protocol, model.max_length)
        except ValueError as exc:
            raise DebiasbenchError(f"perplexity: {exc}") from None
        windows = plan_windows(len(tokens), length, stride)
        nll, counts = window_nll(model, tokens, windows, options.batch_size, ctx.progress)
        scored = int(counts.sum())
        protocol = {
            "metric": self.name, "protocol": options.protocol, "window": length, "stride": stride,
            "context_limited": limited, "model_context": model.max_length, "text_tokens": len(all_tokens),
            "tokens": len(tokens), "max_tokens": options.max_tokens, "scored_tokens": scored, "windows": len(windows),
            "tokenizer": tokenizer_fingerprint(model.tokenizer), "dtype": model.dtype, "special_tokens": "none",
            "seed": ctx.seed,
        }
        examples = None
        if ctx.save_examples:
            examples = table({
                "window": np.arange(len(windows)), "start": [w.start for w in windows], "end": [w.end for w in windows],
                "first_scored": [w.first_scored for w in windows], "scored_tokens": counts, "nll": nll,
                "perplexity": np.exp(nll / counts),
            })
        notes = [f"model context {model.max_length} < window; used L={length}, stride={stride}"] if limited else []
        items = item_rows(MEASURE, OVERALL, [f"window-{w.start}" for w in windows], nll, weight=counts)  # exp(sum nll / sum tokens)
        return MetricResult(rows=[], protocol=protocol, data_checksums=checksums, examples=examples, notes=notes, items=items)


def text_tokens(model: ModelHandle, load_text: Any, key: str) -> np.ndarray:
    """Token ids of the whole text, no special tokens; cached per tokenizer and data checksum."""
    cache = _TOKENS.setdefault(model.tokenizer, {})
    if key not in cache:
        ids = model.tokenizer(load_text(), add_special_tokens=False, verbose=False)["input_ids"]
        cache[key] = np.asarray(ids, dtype=np.int64)
    return cache[key]


def window_nll(model: ModelHandle, tokens: np.ndarray, windows: list[Window], batch_size: BatchSize, progress: Any) -> tuple[np.ndarray, np.ndarray]:
    """Summed NLL and scored-token count of every window (float64 sums).

    Windows are never padded, so no attention mask is passed: the model runs its causal
    attention kernel (on CPU, flash attention skips the masked upper triangle).
    """
    import torch

    from debiasbench.api.lm import model_device

    head = LogProbHead(model.model)
    device = model_device(model.model)  # split models: the input embedding's device
    nll = np.zeros(len(windows), dtype=np.float64)
    counts = np.array([w.scored for w in windows], dtype=np.int64)
    # Equal-length windows share a batch; the last, cut window (if shorter) gets its own.
    batch_size = resolve_batch_size(model, batch_size, item_tokens=max(w.end - w.start for w in windows), ceiling=len(windows))
    groups: dict[int, list[int]] = {}
    for i, w in enumerate(windows):
        groups.setdefault(w.end - w.start, []).append(i)
    batches = shard([ids[s:s + batch_size] for ids in groups.values() for s in range(0, len(ids), batch_size)])
    summed: dict[int, float] = {}
    with progress_bar(progress, "perplexity", sum(len(b) for b in batches)) as shown, torch.inference_mode():
        for batch in batches:
            width = windows[batch[0]].end - windows[batch[0]].start
            ids = torch.from_numpy(np.stack([tokens[windows[i].start:windows[i].end] for i in batch])).to(device)
            nodes = np.concatenate([b * width + np.arange(windows[i].first_scored - windows[i].start - 1, width - 1) for b, i in enumerate(batch)])
            targets = np.concatenate([tokens[windows[i].first_scored:windows[i].end] for i in batch])
            positions = torch.arange(width, device=device).expand(len(batch), width)
            features = head.features(ids, None, positions)
            lp = head.logprobs(features.reshape(-1, features.shape[-1]), torch.from_numpy(nodes).to(device), torch.from_numpy(targets).to(device))
            pieces = np.split(lp.double().cpu().numpy(), np.cumsum(counts[batch])[:-1])
            for i, piece in zip(batch, pieces):
                summed[i] = -piece.sum()
            shown.advance(len(batch))
    for i, value in gather(summed).items():  # under accelerate launch: every process's windows
        nll[i] = value
    return nll, counts
