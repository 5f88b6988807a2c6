"""From an estimate to a claim: verdicts, equivalence (TOST), "beats every control", planned MDE.

These read an estimate and its (possibly family-adjusted) p and say what may be claimed; they draw
no resample themselves, so they live apart from the estimators of :mod:`.change`
(docs/statistics.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from .crossed import Estimate, mde

__all__ = ["VERDICTS", "beats_all", "equivalent", "planned_mde", "verdict"]

VERDICTS = ("closer", "farther", "equivalent", "inconclusive")


def beats_all(contrasts: Sequence[Any]) -> float:
    """Intersection-union p of "the method beats every control": the largest one-sided p.

    The claim holds only if it holds against each control, so no adjustment across the controls
    is needed (Berger 1982): the test has level alpha when each one-sided test has.
    """
    if not contrasts:  # anything with ``p_better``: a Contrast, or the study report's rows of one
        raise ValueError("beats_all needs at least one contrast")
    return float(max(c.p_better for c in contrasts))


def equivalent(estimate: Estimate, margin: float, alpha: float = 0.05) -> bool:
    """TOST: both one-sided tests reject at ``alpha`` (the 1 - 2 alpha interval lies inside +-margin)."""
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be positive; got {margin!r}")
    return max(estimate.p_below(margin), estimate.p_above(-margin)) < alpha


def verdict(estimate: Estimate, p: float, margin: float | None, alpha: float = 0.05) -> str:
    """``closer`` / ``farther`` (p < alpha, by the estimate's sign), ``equivalent`` (TOST within
    ``margin``), else ``inconclusive``. ``p`` may be a family-adjusted p."""
    if p is not None and not math.isnan(p) and p < alpha:
        return "closer" if estimate.value < 0 else "farther"
    if margin is not None and equivalent(estimate, margin, alpha):
        return "equivalent"
    return "inconclusive"


def planned_mde(item_sd: float, items: int, contrast: bool = False, alpha: float = 0.05, power: float = 0.8) -> float:
    """The MDE a cell can expect before any data: SE = ``item_sd / sqrt(items)`` (times sqrt 2 for a
    contrast of two arms, whose item-level noise adds). Seeds shrink only the seed and error terms,
    which this planning value leaves out, so with several seeds it is an approximation."""
    if items < 2:
        raise ValueError(f"need at least 2 items to plan; got {items}")
    se = item_sd * math.sqrt(2.0 if contrast else 1.0) / math.sqrt(items)
    return mde(se, items - 1, alpha, power)
