"""Paired statistics of a change and of a contrast between arms (docs/statistics.md).

Before and after, every seed and every arm of a cell are scored on the same items, so every figure
here is computed from *one* item resample (a count-weight matrix, :mod:`.resampling`) applied to all
of them, and from the crossed item x seed estimator of :mod:`.crossed` (t intervals and tests).

* :func:`change`: ``delta = after - before`` (pooled over seeds), ``d_delta``, the signed change
  toward the measure's ideal from the side it started on (linear, unbiased), and :class:`Distance`,
  the change in distance to the ideal computed from it (its interval the image of ``d_delta``'s, its
  test monotone: landing on the ideal is always at least as significant as stopping short of it or
  overshooting). A change that goes *past* the ideal is marked (``past``: how far beyond, with a
  one-sided test), so an overshoot is never read as debiasing.
* :func:`contrast`: a method's ``d_delta`` minus a control's, seeds paired, on the same items.
* :func:`beats_all`: the intersection-union test of "the method beats every control".
* :func:`verdict`: effect (closer / farther), equivalent within a margin (TOST), or inconclusive.
* :func:`mcnemar_exact`, :func:`paired_permutation_p`, :func:`adjust` (Holm and Benjamini-Hochberg).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from .crossed import Estimate, crossed, mde, pooled, scaled
from .resampling import Figure, cluster_weights, combine, group_mean_figure, item_weights, mean_figure, ratio_figure, weights_for

__all__ = [
    "Adjusted",
    "Change",
    "Contrast",
    "Estimate",
    "Figure",
    "McNemar",
    "VERDICTS",
    "adjust",
    "beats_all",
    "change",
    "cluster_weights",
    "combine",
    "contrast",
    "Distance",
    "distance",
    "within",
    "equivalent",
    "group_mean_figure",
    "item_weights",
    "mcnemar_exact",
    "mde",
    "mean_figure",
    "paired_permutation_p",
    "linearised",
    "planned_mde",
    "pooled_beyond",
    "pooled_change",
    "ratio_figure",
    "shared_weights",
    "verdict",
]

BETTER = ("closer", "higher", "lower")
VERDICTS = ("closer", "farther", "equivalent", "inconclusive")
Interval = tuple[float, float]


def _no_ideal(ideal: float | None) -> bool:
    return ideal is None or bool(np.isnan(ideal))


def _check_better(ideal: float | None, better: str) -> None:
    if better not in BETTER:
        raise ValueError(f"better must be one of {BETTER}; got {better!r}")
    if better == "closer" and _no_ideal(ideal):
        raise ValueError("better='closer' needs an ideal value")


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level!r}")


def distance(value: float | np.ndarray, ideal: float | None, better: str) -> float | np.ndarray:
    """How far ``value`` is from the ideal in the measure's units (smaller is better).

    ``closer``: |v - ideal|; ``higher``: ideal - v (or -v without an ideal); ``lower``: v - ideal
    (or v without an ideal). An ideal of None or NaN means "no ideal". Scalar in, float out.
    """
    _check_better(ideal, better)
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
    _check_better(ideal, better)
    if better == "higher":
        return -1
    if better == "lower":
        return 1
    gap = before - float(ideal)  # type: ignore[arg-type]
    return 0 if gap == 0 else (1 if gap > 0 else -1)


# --------------------------------------------------------------------------- weights shared by a cell


def _check_same_items(*figures: Figure) -> int:
    """The common item count; pairing is only meaningful on the same (aligned) items."""
    sizes = [f.n for f in figures]
    if len(set(sizes)) != 1:
        raise ValueError(f"paired figures must be over the same items (align them by item id); got sizes {sizes}")
    if sizes[0] < 2:
        raise ValueError(f"need at least 2 items; got {sizes[0]}")
    return sizes[0]


def _check_resamples(resamples: int, min_resamples: int) -> None:
    if int(resamples) != resamples or resamples < max(2, min_resamples):
        raise ValueError(f"resamples must be an integer >= {min_resamples}; got {resamples!r}")


def shared_weights(figures: Sequence[Figure], resamples: int = 1000, seed: int = 0, min_resamples: int = 1000) -> np.ndarray:
    """One item resample for every figure of a cell (before, each seed's after, each arm's).

    Cluster weights when the figures average groups (StereoSet target terms), item weights otherwise.
    """
    _check_same_items(*figures)
    _check_resamples(resamples, min_resamples)
    return weights_for(figures, resamples, np.random.default_rng(seed))


def _resolve(figures: Sequence[Figure], weights: np.ndarray | None, resamples: int, seed: int, min_resamples: int) -> np.ndarray:
    if weights is None:
        return shared_weights(figures, resamples, seed, min_resamples)
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != figures[0].n:
        raise ValueError(f"weights must have shape (B, {figures[0].n}); got {w.shape}")
    _check_resamples(w.shape[0], min_resamples)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    return w


def _units(figures: Sequence[Figure]) -> int:
    """Resampled units: groups for a figure that averages groups, else items."""
    groups = next((f.groups for f in figures if f.groups is not None), None)
    return int(np.unique(groups).size) if groups is not None else figures[0].n


# --------------------------------------------------------------------------- the change in distance


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


# --------------------------------------------------------------------------- a change


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


def _stack(figures: Sequence[Figure], w: np.ndarray) -> np.ndarray:
    return np.stack([f.resampled(w) for f in figures], axis=1)


def change(before: Figure, afters: Sequence[Figure], ideal: float | None, better: str, *, weights: np.ndarray | None = None,
           resamples: int = 1000, seed: int = 0, level: float = 0.95, decisions: tuple[np.ndarray, np.ndarray] | None = None,
           min_resamples: int = 1000, seed_term: bool = True) -> Change:
    """The paired change of ``afters`` (one figure per seed) from the shared ``before``.

    ``decisions`` (per-item booleans before and after, one seed) switch the test to exact McNemar;
    ``seed_term=False`` conditions on the seeds that ran (no seed-to-seed term).
    """
    if not afters:
        raise ValueError("change needs at least one after figure")
    _check_better(ideal, better)
    _check_level(level)
    figures = (before, *afters)
    n = _check_same_items(*figures)
    w = _resolve(figures, weights, resamples, seed, min_resamples)
    units = _units(figures)
    delta = crossed(lambda m: _stack(afters, m) - before.resampled(m)[:, None], n, w, units, seed_term)
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
        past = crossed(lambda m: -side * (_stack(afters, m) - float(ideal)), n, w, units, seed_term)  # type: ignore[arg-type]
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
    _check_better(ideal, better)
    _check_level(level)
    figures = (before, *method, *control)
    n = _check_same_items(*figures)
    w = _resolve(figures, weights, resamples, seed, min_resamples)
    side = orientation(before.value(), ideal, better) or 1
    effect = crossed(lambda m: side * (_stack(method, m) - _stack(control, m)), n, w, _units(figures), seed_term)
    b = before.value()
    m_after, c_after = float(np.mean([f.value() for f in method])), float(np.mean([f.value() for f in control]))
    distance = None
    if better == "closer":  # the control's after value is the reference the method is measured from
        distance = Distance(effect, side * (c_after - float(ideal)), level)  # type: ignore[arg-type]
        m_d, c_d = abs(m_after - float(ideal)) - abs(b - float(ideal)), abs(c_after - float(ideal)) - abs(b - float(ideal))  # type: ignore[arg-type]
    else:
        m_d, c_d = side * (m_after - b), side * (c_after - b)
    return Contrast(m_d, c_d, effect, level, distance)


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


def beats_all(contrasts: Sequence[Any]) -> float:
    """Intersection-union p of "the method beats every control": the largest one-sided p.

    The claim holds only if it holds against each control, so no adjustment across the controls
    is needed (Berger 1982): the test has level alpha when each one-sided test has.
    """
    if not contrasts:  # anything with ``p_better``: a Contrast, or the study report's rows of one
        raise ValueError("beats_all needs at least one contrast")
    return float(max(c.p_better for c in contrasts))


# --------------------------------------------------------------------------- verdicts, equivalence, power


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


# --------------------------------------------------------------------------- per-item tests


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
    _check_resamples(resamples, min_resamples)
    from scipy.stats import permutation_test

    res = permutation_test((after, before), lambda a, b, axis: np.mean(a - b, axis=axis), vectorized=True,
                           permutation_type="samples", n_resamples=resamples, batch=1000,
                           alternative="two-sided", random_state=seed)
    return float(res.pvalue)


# --------------------------------------------------------------------------- multiple comparisons


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
