"""Exact per-item tests of a change: McNemar on binary decisions, sign-flip permutation on scores.

Kept apart from the crossed estimator (:mod:`.change`) because they test one run's items directly,
without an item resample: McNemar is what :func:`~.change.change` uses for one seed with per-item
decisions, and the permutation test serves continuous scores (docs/statistics.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

from .pairing import check_resamples

__all__ = ["McNemar", "mcnemar_exact", "paired_permutation_p"]


class McNemar(NamedTuple):
    """Discordant counts and the exact two-sided McNemar p."""

    b: int  # stereotyped before, not after
    c: int  # not stereotyped before, stereotyped after
    p: float

    @property
    def floor(self) -> float:
        """The smallest p any split of these b + c discordant items could give: 2 * 0.5**(b + c)."""
        return min(1.0, 2.0 * 0.5 ** (self.b + self.c))


def _binary(x: Sequence | np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got shape {a.shape}")
    if a.dtype != bool:
        if not np.all(np.isin(a, (0, 1))):
            raise ValueError(f"{name} must hold per-item booleans or 0/1 values")
        a = a.astype(bool)
    return a


def mcnemar_exact(before_bool: Sequence | np.ndarray, after_bool: Sequence | np.ndarray) -> McNemar:
    """Exact McNemar test on per-item binary decisions (e.g. CrowS-Pairs pair stereotyped or not).

    With no discordant items there is no evidence of change: ``p = 1``.
    """
    before, after = _binary(before_bool, "before_bool"), _binary(after_bool, "after_bool")
    if before.size != after.size:
        raise ValueError(f"before and after must cover the same items; got {before.size} and {after.size}")
    if before.size < 2:
        raise ValueError(f"need at least 2 items; got {before.size}")
    b, c = int(np.sum(before & ~after)), int(np.sum(~before & after))
    if b + c == 0:
        return McNemar(0, 0, 1.0)
    from statsmodels.stats.contingency_tables import mcnemar

    table = [[int(np.sum(before & after)), b], [c, int(np.sum(~before & ~after))]]
    return McNemar(b, c, float(mcnemar(table, exact=True).pvalue))


def paired_permutation_p(before_x: Sequence[float] | np.ndarray, after_x: Sequence[float] | np.ndarray,
                         resamples: int = 10_000, seed: int = 0, min_resamples: int = 1000) -> float:
    """Two-sided sign-flip permutation p for the mean per-item change (continuous scores).

    Chosen over the Wilcoxon signed-rank test because it tests the statistic we report (the mean
    change, not a rank shift) and has no zero/tie conventions; it is exact when
    ``2**n <= resamples``.
    """
    before, after = np.asarray(before_x, dtype=float), np.asarray(after_x, dtype=float)
    if before.ndim != 1 or before.shape != after.shape:
        raise ValueError(f"before and after must be 1-D and cover the same items; got {before.shape}, {after.shape}")
    if before.size < 2:
        raise ValueError(f"need at least 2 items; got {before.size}")
    if not (np.all(np.isfinite(before)) and np.all(np.isfinite(after))):
        raise ValueError("per-item scores must be finite")
    check_resamples(resamples, min_resamples)
    from scipy.stats import permutation_test

    res = permutation_test((after, before), lambda a, b, axis: np.mean(a - b, axis=axis), vectorized=True,
                           permutation_type="samples", n_resamples=resamples, batch=1000,
                           alternative="two-sided", random_state=seed)
    return float(res.pvalue)
