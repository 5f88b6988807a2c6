"""Seeded percentile bootstrap, vectorised: every resample is one row of an index matrix.

Each (measure, domain) row draws from its own generator, seeded by the run's seed and the row's
name, so an interval does not depend on which other domains were evaluated or in what order.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np

LEVEL = 95.0
"""Percentile interval: the 2.5th and 97.5th percentiles of the resampled statistic."""


def generator(seed: int, *key: str) -> np.random.Generator:
    """A generator determined by ``seed`` and ``key`` (e.g. the measure and the domain)."""
    return np.random.default_rng([seed % (2**32), zlib.crc32("/".join(key).encode())])


def resample_indices(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``[resamples, n]`` indices drawn with replacement from ``range(n)``."""
    return rng.integers(0, n, size=(resamples, n))


def stratified_indices(strata: Sequence[np.ndarray], resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``[resamples, sum of sizes]``: each stratum (an index array) resampled within itself."""
    parts = [stratum[rng.integers(0, len(stratum), size=(resamples, len(stratum)))] for stratum in strata if len(stratum)]
    return np.concatenate(parts, axis=1)


def percentile_interval(statistics: np.ndarray) -> tuple[float, float]:
    """The central ``LEVEL`` % percentile interval of resampled statistics (NaNs ignored)."""
    tail = (100.0 - LEVEL) / 2
    low, high = np.nanpercentile(statistics, [tail, 100.0 - tail])
    return float(low), float(high)


def mean_interval(values: np.ndarray, resamples: int, rng: np.random.Generator, scale: float = 1.0) -> tuple[float | None, float | None]:
    """Interval of ``scale * mean(values)`` over resamples of ``values``; (None, None) when disabled or empty."""
    if resamples <= 0 or len(values) == 0:
        return None, None
    means = np.asarray(values, dtype=np.float64)[resample_indices(len(values), resamples, rng)].mean(axis=1)
    return percentile_interval(scale * means)


def grouped_means(values: np.ndarray, groups: np.ndarray, n_groups: int) -> np.ndarray:
    """Mean of ``values`` per group for every row of a resample matrix: ``[R, n] -> [R, n_groups]``.

    ``values`` and ``groups`` have the resample matrix's shape; a group absent from a resample
    gives NaN (callers average over the groups present, with ``nanmean``).
    """
    rows = values.shape[0]
    flat = (np.arange(rows)[:, None] * n_groups + groups).ravel()
    counts = np.bincount(flat, minlength=rows * n_groups).reshape(rows, n_groups)
    sums = np.bincount(flat, weights=values.ravel().astype(np.float64), minlength=rows * n_groups).reshape(rows, n_groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
