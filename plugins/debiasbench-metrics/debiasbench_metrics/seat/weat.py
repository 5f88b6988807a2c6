"""WEAT on embeddings (Caliskan et al. 2017; SEAT, May et al. 2019), as bias-bench's ``seat/weat.py`` computes it.

For target sets X, Y and attribute sets A, B of unit vectors:
``s(w, A, B) = mean_a cos(w, a) - mean_b cos(w, b)``;
effect size ``d = (mean_X s(x) - mean_Y s(y)) / std_{X u Y} s(w)`` (sample std, ddof 1);
one-sided permutation p = share of equal-size partitions (X', Y') of X u Y with
``sum_X' s >= sum_X s`` (ties count, bias-bench's "conservative test"). Exact over every partition
when there are at most ``samples`` of them; otherwise ``samples - 1`` seeded random partitions plus one
counted positive (bias-bench's bias by one), so p is never 0.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

CHUNK = 8192  # random partitions drawn per vectorised step


def associations(targets: np.ndarray, attr_a: np.ndarray, attr_b: np.ndarray) -> np.ndarray:
    """``s(w, A, B)`` of each row of ``targets`` (rows need not be normalised: cosines are taken)."""
    def unit(m: np.ndarray) -> np.ndarray:
        return m / np.linalg.norm(m, axis=1, keepdims=True)

    t = unit(np.asarray(targets, dtype=np.float64))
    return (t @ unit(np.asarray(attr_a, dtype=np.float64)).T).mean(axis=1) - (t @ unit(np.asarray(attr_b, dtype=np.float64)).T).mean(axis=1)


def effect_size(s_x: np.ndarray, s_y: np.ndarray) -> float:
    """WEAT ``d`` from the associations of the two target sets."""
    return float((s_x.mean() - s_y.mean()) / np.concatenate([s_x, s_y]).std(ddof=1))


def permutation_p(s_x: np.ndarray, s_y: np.ndarray, samples: int, rng: np.random.Generator) -> tuple[float, bool]:
    """One-sided p of ``sum_X s`` against the partitions of X u Y, and whether it was exact."""
    if len(s_x) != len(s_y):
        raise ValueError(f"WEAT's permutation test needs target sets of equal size, not {len(s_x)} and {len(s_y)}")
    size = len(s_x)
    pooled = np.concatenate([s_x, s_y])
    observed = pooled[None, :size].sum(axis=1)[0]  # summed as the partitions' rows are, so X itself ties exactly
    if math.comb(2 * size, size) <= samples:
        hits = total = 0
        combos = itertools.combinations(range(2 * size), size)
        while True:
            block = np.array(list(itertools.islice(combos, CHUNK)), dtype=np.int64)
            if not len(block):
                break
            hits += int((pooled[block].sum(axis=1) >= observed).sum())
            total += len(block)
        return hits / total, True
    hits, drawn = 1, 0  # one hallucinated positive, as bias-bench counts it
    while drawn < samples - 1:
        n = min(CHUNK, samples - 1 - drawn)
        order = rng.permuted(np.tile(np.arange(2 * size), (n, 1)), axis=1)[:, :size]
        hits += int((pooled[order].sum(axis=1) >= observed).sum())
        drawn += n
    return hits / samples, False
