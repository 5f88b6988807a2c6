"""Adjustment of p-values over a named family of claims: Holm and Benjamini-Hochberg.

Its own module because it works on any list of p-values (a study's cells, a compare's rows), not on
figures or estimates (docs/statistics.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Adjusted", "adjust"]


@dataclass(frozen=True)
class Adjusted:
    """Raw, Holm-adjusted and Benjamini-Hochberg p-values over one named family."""

    family: str
    raw: list[float]
    holm: list[float]
    bh: list[float]


def adjust(pvalues: Sequence[float], family: str) -> Adjusted:
    """Holm and BH adjustment; NaN p-values stay NaN and do not count towards the family size."""
    if not isinstance(family, str) or not family:
        raise ValueError("family must be a non-empty name")
    p = np.asarray(pvalues, dtype=float).reshape(-1)
    known = ~np.isnan(p)
    if np.any((p[known] < 0) | (p[known] > 1)):
        raise ValueError("p-values must lie in [0, 1] (or be NaN)")
    holm, bh = np.full(p.size, np.nan), np.full(p.size, np.nan)
    if known.any():
        from statsmodels.stats.multitest import multipletests

        holm[known] = multipletests(p[known], method="holm")[1]
        bh[known] = multipletests(p[known], method="fdr_bh")[1]
    return Adjusted(family, p.tolist(), holm.tolist(), bh.tolist())
