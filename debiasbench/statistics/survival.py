"""How much of a debiasing survives relearning (docs/relearning.md).

``survival = (relearned - before) / (after - before)``: 1 = every bit of the change unlearning made
is still there after ``--relearn-steps`` of fine-tuning on benign text, 0 = all of it is gone
(below 0: relearning went past the starting point; above 1: it moved further the same way).
Its interval is a percentile bootstrap over the same items resampled jointly in the three stages:
the one item resample of the cell (:func:`~debiasbench.statistics.pairing.shared_weights`)
applied to before, to every seed's after and to every seed's relearned figure, so the ratio's
numerator and denominator keep their correlation. A ratio whose denominator may be 0 has no
interval, so survival is **undefined** where the change's own 95 % interval holds 0: nothing was
shown to be debiased, so there is nothing to survive. With several seeds it is the survival of the
seed means, conditional on the seeds that ran (items only are resampled).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from debiasbench.statistics.resampling import Figure

if TYPE_CHECKING:  # pragma: no cover
    from debiasbench.statistics.paired import Side

LEVEL = 0.95
UNDEFINED = "undefined: the change's interval holds 0 (nothing was debiased to survive)"


@dataclass(frozen=True)
class Survival:
    """One cell's survival; ``value`` and ``ci`` None where it is undefined (``note`` says why)."""

    relearned: float  # the relearned figure (mean over seeds)
    value: float | None
    ci: tuple[float, float] | None
    note: str = ""

    def text(self, digits: int = 2) -> str:
        """``0.41 [0.12, 0.73]``, or ``undefined`` (the summaries' cell)."""
        if self.value is None or self.ci is None:
            return "undefined"
        return f"{self.value:.{digits}f} [{self.ci[0]:.{digits}f}, {self.ci[1]:.{digits}f}]"


def _mean_of(figures: Sequence[Figure], w: np.ndarray) -> np.ndarray:
    return np.mean(np.stack([f.resampled(w) for f in figures], axis=1), axis=1)


def survival(before: Figure, afters: Sequence[Figure], relearneds: Sequence[Figure], weights: np.ndarray,
             change_ci: tuple[float, float], level: float = LEVEL) -> Survival:
    """Survival of one cell: ``afters`` and ``relearneds`` one figure per seed (paired by position),
    ``weights`` the cell's shared item resample, ``change_ci`` the interval of after - before
    (:attr:`~debiasbench.statistics.change.Change.delta_ci`) that decides whether it is defined."""
    if not afters or len(afters) != len(relearneds):
        raise ValueError(f"survival needs one relearned figure per after figure; got {len(afters)} and {len(relearneds)}")
    full = np.ones((1, before.n))
    b, a, r = (float(x[0]) for x in (before.resampled(full), _mean_of(afters, full), _mean_of(relearneds, full)))
    low, high = change_ci
    if not (np.isfinite(low) and np.isfinite(high)) or low <= 0.0 <= high or a == b:
        return Survival(r, None, None, UNDEFINED)
    with np.errstate(invalid="ignore", divide="ignore"):
        draws = (_mean_of(relearneds, weights) - before.resampled(weights)) / (_mean_of(afters, weights) - before.resampled(weights))
    draws = draws[np.isfinite(draws)]
    if not draws.size:
        return Survival(r, None, None, UNDEFINED)
    tail = 100.0 * (1.0 - level) / 2.0
    lo, hi = np.percentile(draws, [tail, 100.0 - tail])
    return Survival(r, (r - b) / (a - b), (float(lo), float(hi)))


def cell_survival(before: Side, afters: Sequence[Side], relearneds: Sequence[Side], aggregate: str,
                  change_ci: tuple[float, float], seed: int, resamples: int = 1000) -> Survival:
    """:func:`survival` from a cell's item rows (one after and one relearned side per seed, aligned
    on the before side's items); ``seed`` keys the cell's shared resample (:func:`~.paired.weights_seed`),
    so the draws are those of the cell's change."""
    from debiasbench.statistics.paired import aligned, figure
    from debiasbench.statistics.pairing import shared_weights

    for relearned in relearneds:
        aligned(before, relearned, "before and relearned")
    figures = [figure(s, aggregate) for s in (before, *afters, *relearneds)]
    weights = shared_weights(figures[:1 + len(afters)], resamples, seed, min_resamples=min(resamples, 1000))
    return survival(figures[0], figures[1:1 + len(afters)], figures[1 + len(afters):], weights, change_ci)
