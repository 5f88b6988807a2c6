"""Distance to a measure's ideal, and the change in that distance (docs/statistics.md).

Every change and contrast is read as "closer to the ideal or farther from it"; this module holds that
one geometric idea, apart from the resampling that estimates it (:mod:`.change`): :func:`distance`
in the measure's units, :func:`orientation` (which sign of ``after - before`` is toward the ideal),
:class:`Distance` (the piecewise-linear change in distance, its interval and its monotone test),
the TOST :func:`within` a margin, and :func:`linearised` for pooling cells.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .crossed import Estimate, scaled

__all__ = ["BETTER", "Distance", "Interval", "check_better", "check_level", "distance", "linearised", "orientation", "within"]

BETTER = ("closer", "higher", "lower")
Interval = tuple[float, float]


def _no_ideal(ideal: float | None) -> bool:
    return ideal is None or bool(np.isnan(ideal))


def check_better(ideal: float | None, better: str) -> None:
    """Refuse a ``better`` direction the toolkit does not know, or ``closer`` without an ideal."""
    if better not in BETTER:
        raise ValueError(f"better must be one of {BETTER}; got {better!r}")
    if better == "closer" and _no_ideal(ideal):
        raise ValueError("better='closer' needs an ideal value")


def check_level(level: float) -> None:
    """Refuse a confidence level outside (0, 1)."""
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level!r}")


def distance(value: float | np.ndarray, ideal: float | None, better: str) -> float | np.ndarray:
    """How far ``value`` is from the ideal in the measure's units (smaller is better).

    ``closer``: |v - ideal|; ``higher``: ideal - v (or -v without an ideal); ``lower``: v - ideal
    (or v without an ideal). An ideal of None or NaN means "no ideal". Scalar in, float out.
    """
    check_better(ideal, better)
    v = np.asarray(value, dtype=float)
    if better == "closer":
        d = np.abs(v - ideal)
    elif better == "higher":
        d = -v if _no_ideal(ideal) else ideal - v
    else:
        d = v if _no_ideal(ideal) else v - ideal
    return float(d) if d.ndim == 0 else d


def orientation(before: float, ideal: float | None, better: str) -> int:
    """The sign that turns ``after - before`` into a change toward the ideal (negative = closer).

    ``closer``: +1 when the model started above the ideal, -1 below, 0 exactly on it;
    ``higher``: -1; ``lower``: +1.
    """
    check_better(ideal, better)
    if better == "higher":
        return -1
    if better == "lower":
        return 1
    gap = before - float(ideal)  # type: ignore[arg-type]
    return 0 if gap == 0 else (1 if gap > 0 else -1)


@dataclass(frozen=True)
class Distance:
    """``|x + s| - |s|``: the change in distance to the ideal, where ``x`` is the linear change toward
    the ideal (an :class:`Estimate`, negative = toward) and ``s`` the reference's signed distance
    (positive = on the side the change is measured from). Negative = closer.

    It is ``x`` itself while the value stays on its side (``x >= -s``), and turns back up once it
    crosses. Interval: the image of ``x``'s interval (the map is piecewise linear, so the image holds
    the truth whenever ``x``'s interval does). Test of "no change in distance": its zeros are
    ``x = 0`` and ``x = -2s``; closer is ``x`` strictly between them, so its p is the larger of two
    one-sided p-values (intersection-union), and farther is ``x`` beyond the nearer zero. Monotone:
    landing on the ideal (``x = -s``) is the most significant point.
    """

    x: Estimate
    s: float
    level: float = 0.95

    def at(self, x: float) -> float:
        return abs(x + self.s) - abs(self.s)

    @property
    def value(self) -> float:
        return self.at(self.x.value)

    @property
    def per_seed(self) -> tuple[float, ...]:
        return tuple(self.at(v) for v in self.x.per_seed)

    def interval(self, level: float | None = None) -> Interval:
        low, high = self.x.interval(level or self.level)
        if math.isnan(low):
            return (low, high)
        turn = min(max(-self.s, low), high)  # where the distance is smallest inside x's interval
        return (self.at(turn), max(self.at(low), self.at(high)))

    @property
    def p_closer(self) -> float:
        """One-sided p for "closer": ``x`` strictly between the zeros, so both one-sided tests must
        reject (intersection-union); 1 when there is no room to be closer (``s = 0``)."""
        a, b = sorted((0.0, -2.0 * self.s))
        return 1.0 if a == b else max(self.x.p_above(a), self.x.p_below(b))

    @property
    def p(self) -> float:
        a, b = sorted((0.0, -2.0 * self.s))
        x = self.x.value
        if a < x < b:
            return min(1.0, 2.0 * self.p_closer)
        return self.x.p_equal(b if x >= b else a)

    def mde(self, alpha: float = 0.05, power: float = 0.8) -> float:
        return self.x.mde(alpha, power)


def within(d: Distance, margin: float, alpha: float = 0.05) -> bool:
    """TOST on the change in distance: its 1 - 2 alpha interval lies inside +-margin."""
    if not margin > 0:
        raise ValueError(f"the equivalence margin must be positive; got {margin!r}")
    low, high = d.interval(1.0 - 2.0 * alpha)
    return -margin < low and high < margin


def linearised(distance: Distance | None, x: Estimate) -> Estimate:
    """A cell's change in distance as a linear function of its change ``x``, taken at the estimate:
    ``x`` itself while the value stays on its side of the ideal, ``-(x + 2s)`` once it crossed.
    Linear, so it averages over seeds and cells without the bias of ``|.|`` near the ideal; the
    cells' own tests keep the exact piecewise form (:class:`Distance`)."""
    if distance is None:
        return x
    if x.value >= -distance.s:
        return x
    return scaled(x, -1.0, -2.0 * distance.s)
