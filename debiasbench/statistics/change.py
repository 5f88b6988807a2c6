"""Paired statistics of a change and of a contrast between arms (docs/statistics.md).

Before and after, every seed and every arm of a cell are scored on the same items, so every figure
here is computed from *one* item resample (a count-weight matrix, :mod:`.pairing`) applied to all
of them, and from the crossed item x seed estimator of :mod:`.crossed` (t intervals and tests).

* :func:`change`: ``delta = after - before`` (pooled over seeds), ``d_delta``, the signed change
  toward the measure's ideal from the side it started on (linear, unbiased), and
  :class:`~.distance.Distance`, the change in distance to the ideal computed from it (its interval
  the image of ``d_delta``'s, its test monotone: landing on the ideal is always at least as
  significant as stopping short of it or overshooting). A change that goes *past* the ideal is
  marked (``past``: how far beyond, with a one-sided test), so an overshoot is never read as
  debiasing.
* :func:`contrast`: a method's ``d_delta`` minus a control's, seeds paired, on the same items.
* :func:`pooled_beyond`, :func:`pooled_change`: several cells pooled into one claim.

What to claim from them lives in :mod:`.verdicts`, the exact per-item tests in :mod:`.item_tests`,
the family adjustment in :mod:`.multiplicity`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .crossed import Estimate, crossed, pooled, scaled
from .distance import Distance, Interval, check_better, check_level, linearised, orientation
from .item_tests import mcnemar_exact
from .pairing import check_same_items, resampled_units, resolve_weights, stack
from .resampling import Figure

__all__ = ["Change", "Contrast", "change", "contrast", "pooled_beyond", "pooled_change"]


@dataclass(frozen=True)
class Change:
    """The paired change of one cell over its seeds (docs/statistics.md).

    ``delta``: after - before; ``d``/``distance``: the change in distance to the ideal (negative =
    closer), what summaries show; ``d_delta``: the signed change toward the ideal (negative = closer;
    for ``closer`` measures relative to the side the model started on, equal to the change in
    distance as long as the after value stays on that side); ``past``: how far the after value lies
    beyond the ideal, on the other side from where it started (positive = crossed), None without an
    ideal to cross. ``p`` tests "no change" (delta and d_delta are one linear quantity, one test):
    exact McNemar for one seed with per-item decisions, else the crossed t test. ``p_floor`` is
    the smallest p this test could give on these items.
    """

    before: float
    after: float
    delta: Estimate
    d_delta: Estimate
    side: int
    past: Estimate | None
    p: float
    test: str
    p_floor: float
    level: float = 0.95
    items: int = 0  # items per run (the resampled units may be fewer: groups)
    distance: Distance | None = None  # the change in distance to the ideal (None: no ideal to be near)

    @property
    def d(self) -> float:
        """The change in distance to the ideal (negative = closer): what the summaries lead with."""
        return self.distance.value if self.distance is not None else self.d_delta.value

    @property
    def d_ci(self) -> Interval:
        return self.distance.interval(self.level) if self.distance is not None else self.d_delta_ci

    @property
    def d_p(self) -> float:
        """p of "no change in distance": the change's own test while the value stays on its side."""
        if self.distance is None or not self.crossed:
            return self.p
        return self.distance.p

    @property
    def n(self) -> int:
        return self.items or self.delta.units

    @property
    def seeds(self) -> int:
        return self.delta.seeds

    @property
    def delta_ci(self) -> Interval:
        return self.delta.interval(self.level)

    @property
    def d_delta_ci(self) -> Interval:
        return self.d_delta.interval(self.level)

    @property
    def crossed(self) -> bool:
        """The pooled after value lies past the ideal (on the other side from the start)."""
        return self.past is not None and self.past.value > 0

    @property
    def past_p(self) -> float:
        """One-sided p for "the after value is truly past the ideal" (NaN when not crossed)."""
        return self.past.p_above(0.0) if self.crossed else float("nan")  # type: ignore[union-attr]


def change(before: Figure, afters: Sequence[Figure], ideal: float | None, better: str, *, weights: np.ndarray | None = None,
           resamples: int = 1000, seed: int = 0, level: float = 0.95, decisions: tuple[np.ndarray, np.ndarray] | None = None,
           min_resamples: int = 1000, seed_term: bool = True) -> Change:
    """The paired change of ``afters`` (one figure per seed) from the shared ``before``.

    ``decisions`` (per-item booleans before and after, one seed) switch the test to exact McNemar;
    ``seed_term=False`` conditions on the seeds that ran (no seed-to-seed term).
    """
    if not afters:
        raise ValueError("change needs at least one after figure")
    check_better(ideal, better)
    check_level(level)
    figures = (before, *afters)
    n = check_same_items(*figures)
    w = resolve_weights(figures, weights, resamples, seed, min_resamples)
    units = resampled_units(figures)
    delta = crossed(lambda m: stack(afters, m) - before.resampled(m)[:, None], n, w, units, seed_term)
    b = before.value()
    side = orientation(b, ideal, better)
    if side == 0:  # started on the ideal: any change moves away from it
        d_delta = Estimate(abs(delta.value), delta.item_var, delta.seed_var, delta.df_item, delta.df_seed,
                           tuple(abs(v) for v in delta.per_seed), delta.units, delta.resamples)
    else:
        d_delta = scaled(delta, side)
    past = None
    if better == "closer" and side != 0:
        # signed distance beyond the ideal, measured from the ideal toward the side opposite the start
        past = crossed(lambda m: -side * (stack(afters, m) - float(ideal)), n, w, units, seed_term)  # type: ignore[arg-type]
    p, test, floor = delta.p_equal(0.0), "t", 0.0
    if decisions is not None and len(afters) == 1:
        mc = mcnemar_exact(*decisions)
        p, test, floor = mc.p, "mcnemar", mc.floor
    after = float(np.mean([f.value() for f in afters]))
    distance = Distance(d_delta, abs(b - float(ideal)), level) if better == "closer" and side != 0 else None  # type: ignore[arg-type]
    return Change(b, after, delta, d_delta, side, past, p, test, floor, level, n, distance)


# --------------------------------------------------------------------------- contrasts between arms


@dataclass(frozen=True)
class Contrast:
    """A method's ``d_delta`` minus a control's on the same items, seeds paired; < 0: the method
    moved closer to the ideal than the control did.

    Both arms start from the same ``before`` (same model, same items), so the contrast is the
    difference of their after values, oriented toward the ideal from the starting side.
    """

    method_d_delta: float
    control_d_delta: float
    effect: Estimate
    level: float = 0.95
    distance: Distance | None = None  # |method after - ideal| - |control after - ideal| (closer measures)

    @property
    def value(self) -> float:
        """The method's distance to the ideal minus the control's (linear toward-change without an ideal)."""
        return self.distance.value if self.distance is not None else self.effect.value

    @property
    def effect_ci(self) -> Interval:
        return self.distance.interval(self.level) if self.distance is not None else self.effect.interval(self.level)

    @property
    def p(self) -> float:
        """Two-sided p for "no difference"."""
        return self.distance.p if self.distance is not None else self.effect.p_equal(0.0)

    @property
    def p_better(self) -> float:
        """One-sided p for "the method ends closer to the ideal than the control" (for a distance:
        both one-sided tests of the intersection-union, so no overshoot counts as better)."""
        return self.effect.p_below(0.0) if self.distance is None else self.distance.p_closer

    def mde(self) -> float:
        return self.effect.mde()


def contrast(before: Figure, method: Sequence[Figure], control: Sequence[Figure], ideal: float | None, better: str, *,
             weights: np.ndarray | None = None, resamples: int = 1000, seed: int = 0, level: float = 0.95,
             min_resamples: int = 1000, seed_term: bool = True) -> Contrast:
    """The effect beyond a control: ``method[s]`` and ``control[s]`` are the after figures of seed s."""
    if not method or len(method) != len(control):
        raise ValueError(f"method and control need the same seeds, at least one; got {len(method)} and {len(control)}")
    check_better(ideal, better)
    check_level(level)
    figures = (before, *method, *control)
    n = check_same_items(*figures)
    w = resolve_weights(figures, weights, resamples, seed, min_resamples)
    side = orientation(before.value(), ideal, better) or 1
    effect = crossed(lambda m: side * (stack(method, m) - stack(control, m)), n, w, resampled_units(figures), seed_term)
    b = before.value()
    m_after, c_after = float(np.mean([f.value() for f in method])), float(np.mean([f.value() for f in control]))
    distance = None
    if better == "closer":  # the control's after value is the reference the method is measured from
        distance = Distance(effect, side * (c_after - float(ideal)), level)  # type: ignore[arg-type]
        m_d, c_d = abs(m_after - float(ideal)) - abs(b - float(ideal)), abs(c_after - float(ideal)) - abs(b - float(ideal))  # type: ignore[arg-type]
    else:
        m_d, c_d = side * (m_after - b), side * (c_after - b)
    return Contrast(m_d, c_d, effect, level, distance)


def pooled_beyond(contrasts: Sequence[Contrast], weights: Sequence[float], seed_term: bool = True,
                  blocks: Sequence[str] | None = None) -> Estimate:
    """The pooled effect beyond one control over several cells (e.g. every cross-domain cell of a
    method): the weighted mean of the cells' distance differences (method minus control, negative =
    the method ends closer), each linearised at its estimate, with the crossed variance of the mean
    (the cells share the study's item resamples, so their covariances are kept). ``blocks``: the
    cells' source domains (cells of one source come from the same runs)."""
    return pooled([linearised(c.distance, c.effect) for c in contrasts], seed_term, weights, blocks)


def pooled_change(changes: Sequence[Change], weights: Sequence[float], seed_term: bool = True,
                  blocks: Sequence[str] | None = None) -> Estimate:
    """The pooled change in distance of several cells (a method without controls)."""
    return pooled([linearised(c.distance, c.d_delta) for c in changes], seed_term, weights, blocks)
