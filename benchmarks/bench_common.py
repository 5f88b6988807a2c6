"""What every benchmark measures the same way: the model, the clock, the machine's matmul peak,
FLOP counts of what a scorer executes, and peak memory of one phase."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from debiasbench.lm.batch_size import peak_rss, reset_peak_rss


def load_handle(spec: str, device: str, dtype: str = "float32") -> Any:
    """The model as the toolkit loads it (registry name, hub id, folder or .gguf)."""
    from debiasbench.api import ModelSettings, load_model

    return load_model(spec, ModelSettings(device=device, dtype=dtype))


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_peak(device: str, size: int = 2048, repeats: int = 10) -> float:
    """Best float32 matmul throughput of this machine in FLOP/s (best of three timed bursts)."""
    import torch

    a, b = torch.randn(size, size, device=device), torch.randn(size, size, device=device)
    a @ b
    best = 0.0
    for _ in range(3):
        sync(device)
        start = time.perf_counter()
        for _ in range(repeats):
            a @ b
        sync(device)
        best = max(best, 2 * size**3 * repeats / (time.perf_counter() - start))
    return best


@dataclass
class Timing:
    """One scorer's run: its result, seconds and the phase's peak memory (MiB; None if unknown)."""

    result: Any
    seconds: float
    peak_mib: float | None


def timed(fn: Callable[[], Any], device: str) -> Timing:
    """Run ``fn`` once, timing it and measuring the peak memory it added (CUDA allocator or process RSS)."""
    import torch

    sync(device)
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    else:
        reset_peak_rss()
    start = time.perf_counter()
    result = fn()
    sync(device)
    seconds = time.perf_counter() - start
    rss = peak_rss()
    peak = torch.cuda.max_memory_allocated() / 2**20 if device.startswith("cuda") else (rss / 2**20 if rss is not None else None)
    return Timing(result, seconds, peak)


@dataclass(frozen=True)
class Shape:
    """Parameter counts that decide a forward pass's FLOPs."""

    body: int  # every weight the base model multiplies by (embeddings excluded)
    head: int  # output layer
    layers: int
    width: int

    @classmethod
    def of(cls, model: Any) -> Shape:
        total = sum(p.numel() for p in model.parameters())
        embed = model.get_input_embeddings().weight
        head = model.get_output_embeddings().weight
        tied = embed.data_ptr() == head.data_ptr()
        return cls(total - embed.numel() - (0 if tied else head.numel()), head.numel(), model.config.num_hidden_layers,
                   model.config.hidden_size)

    def causal_flops(self, lengths: np.ndarray, head_positions: np.ndarray | None = None) -> float:
        """Sequences alone: the body on every token, causal attention, the head on ``head_positions`` (default every token)."""
        n = np.asarray(lengths, dtype=np.float64)
        heads = n if head_positions is None else np.asarray(head_positions, dtype=np.float64)
        return float(np.sum(2 * self.body * n + 2 * self.head * heads + 4 * self.layers * self.width * n * (n + 1) / 2))


def tree_flops(shape: Shape, rows: list[Any], rows_per_batch: int) -> tuple[float, int]:
    """Packed tree rows padded per batch (dense attention over the row) plus the head on predicting nodes."""
    ordered = sorted(rows, key=lambda r: -len(r.tokens))
    flops, nodes = 0.0, 0
    for start in range(0, len(ordered), rows_per_batch):
        batch = ordered[start:start + rows_per_batch]
        width = max(len(r.tokens) for r in batch)
        flops += len(batch) * (2 * shape.body * width + 4 * shape.layers * shape.width * width * width)
        nodes += sum(len(r.tokens) for r in batch)
        predicting = sum(len({int(p) for k in range(len(r.members)) for p in r.paths[k, :r.lengths[k] - 1]}) for r in batch)
        flops += 2 * shape.head * predicting
    return flops, nodes


def seeded_subset(n: int, limit: int | None, seed: int = 0) -> np.ndarray:
    """Indices of ``limit`` items out of ``n`` (all when ``limit`` is None or 0), in their original order."""
    if not limit or limit >= n:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, limit, replace=False))
