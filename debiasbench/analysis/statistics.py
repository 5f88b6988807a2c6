"""Paired before/after statistics for bias figures (spec section 9).

Before and after are measured on the same items, so every change is paired: one bootstrap
resample (a count-weight matrix, see :mod:`debiasbench.analysis.resampling`) is applied to
before and after alike. Intervals are percentile intervals over the resamples.

Bootstrap p-values (``delta_p``, ``d_delta_p``, ``DiffInDiff.p``) test "the change is 0" by
inverting the percentile interval: ``p = min(1, 2 * min((1 + #{t <= 0}) / (B + 1),
(1 + #{t >= 0}) / (B + 1)))`` over the ``B`` finite resampled values ``t``; it is the smallest
level at which the two-sided percentile interval excludes 0, and the +1 keeps it above 0 (at
least ``2 / (B + 1)``). Resamples that leave a figure undefined (a ratio whose denominator
drew only zeros) are dropped; ``resamples`` in each result is the number actually used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from .resampling import (
    Figure,
    cluster_weights,
    combine,
    group_mean_figure,
    item_weights,
    mean_figure,
    ratio_figure,
    weights_for,
)

__all__ = [
    "Adjusted",
    "Change",
    "DiffInDiff",
    "Figure",
    "McNemar",
    "SeedChange",
    "SeedDiffInDiff",
    "adjust",
    "cluster_weights",
    "combine",
    "diff_in_diff",
    "distance",
    "group_mean_figure",
    "hierarchical_change",
    "hierarchical_diff_in_diff",
    "item_weights",
    "mcnemar_exact",
    "mean_figure",
    "paired_change",
    "paired_permutation_p",
    "ratio_figure",
]

BETTER = ("closer", "higher", "lower")
Interval = tuple[float, float]


def _no_ideal(ideal: float | None) -> bool:
    return ideal is None or bool(np.isnan(ideal))


def _check_better(ideal: float | None, better: str) -> None:
    if better not in BETTER:
        raise ValueError(f"better must be one of {BETTER}; got {better!r}")
    if better == "closer" and _no_ideal(ideal):
        raise ValueError("better='closer' needs an ideal value")


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


# --------------------------------------------------------------------------- shared checks and summaries


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1); got {level!r}")


def _check_same_items(*figures: Figure) -> int:
    """The common item count; pairing is only meaningful on the same (aligned) items."""
    sizes = [f.n for f in figures]
    if len(set(sizes)) != 1:
        raise ValueError(f"paired figures must be over the same items (align them by item id); got sizes {sizes}")
    if sizes[0] < 2:
        raise ValueError(f"need at least 2 items; got {sizes[0]}")
    return sizes[0]


def _check_resamples(resamples: int, min_resamples: int) -> None:
    if int(resamples) != resamples or resamples < max(1, min_resamples):
        raise ValueError(f"resamples must be an integer >= {min_resamples}; got {resamples!r}")


def _resolve_weights(weights: np.ndarray | None, figures: Sequence[Figure], resamples: int, seed: int,
                     min_resamples: int) -> np.ndarray:
    """Caller-given weights (checked) or seeded item/cluster weights for ``figures``."""
    if weights is None:
        _check_resamples(resamples, min_resamples)
        return weights_for(figures, resamples, np.random.default_rng(seed))
    w = np.asarray(weights, dtype=float)
    if w.ndim != 2 or w.shape[1] != figures[0].n:
        raise ValueError(f"weights must have shape (B, {figures[0].n}); got {w.shape}")
    _check_resamples(w.shape[0], min_resamples)
    if not np.all(np.isfinite(w)) or np.any(w < 0):
        raise ValueError("weights must be finite and non-negative")
    return w


def _summary(samples: np.ndarray, level: float) -> tuple[Interval, float, int]:
    """Percentile interval, two-sided bootstrap p for "= 0", and the number of finite resamples."""
    s = samples[np.isfinite(samples)]
    if s.size == 0:
        return (float("nan"), float("nan")), float("nan"), 0
    low, high = np.percentile(s, [50.0 * (1.0 - level), 50.0 * (1.0 + level)])
    below, above = (1 + np.sum(s <= 0)) / (s.size + 1), (1 + np.sum(s >= 0)) / (s.size + 1)
    return (float(low), float(high)), float(min(1.0, 2.0 * min(below, above))), int(s.size)


def _changes(before: Figure, after: Figure, w: np.ndarray, ideal: float | None,
             better: str) -> tuple[np.ndarray, np.ndarray]:
    """Resampled ``delta`` and ``d_delta`` with the same rows of ``w`` applied to both figures."""
    b, a = before.resampled(w), after.resampled(w)
    return a - b, distance(a, ideal, better) - distance(b, ideal, better)


def _point(before: Figure, after: Figure, ideal: float | None, better: str) -> tuple[float, float, float, float]:
    b, a = before.value(), after.value()
    return b, a, a - b, distance(a, ideal, better) - distance(b, ideal, better)


# --------------------------------------------------------------------------- one run: paired change


@dataclass(frozen=True)
class Change:
    """A paired before/after change; ``d_delta`` < 0 means closer to the ideal."""

    before: float
    after: float
    delta: float
    delta_ci: Interval
    delta_p: float
    d_delta: float
    d_delta_ci: Interval
    d_delta_p: float
    n: int
    resamples: int
    level: float = 0.95


def paired_change(before: Figure, after: Figure, ideal: float | None, better: str, resamples: int = 1000,
                  seed: int = 0, weights: np.ndarray | None = None, level: float = 0.95,
                  min_resamples: int = 1000) -> Change:
    """``after - before`` and the change in distance to the ideal, with paired bootstrap intervals.

    Without ``weights``, draws ``resamples`` seeded item weights, or two-stage cluster weights when
    a figure averages over groups. ``min_resamples`` guards the spec's floor; lower it only in tests.
    """
    n = _check_same_items(before, after)
    _check_better(ideal, better)
    _check_level(level)
    w = _resolve_weights(weights, (before, after), resamples, seed, min_resamples)
    delta_b, dd_b = _changes(before, after, w, ideal, better)
    b, a, delta, dd = _point(before, after, ideal, better)
    delta_ci, delta_p, used = _summary(delta_b, level)
    dd_ci, dd_p, _ = _summary(dd_b, level)
    return Change(b, a, delta, delta_ci, delta_p, dd, dd_ci, dd_p, n, used, level)


# --------------------------------------------------------------------------- several seeds: hierarchical


@dataclass(frozen=True)
class SeedChange:
    """Mean over seeds of the per-seed changes, with hierarchical (seeds, then items) intervals."""

    seeds: int
    before: float
    after: float
    delta: float
    delta_ci: Interval
    delta_p: float
    d_delta: float
    d_delta_ci: Interval
    d_delta_p: float
    per_seed_delta: list[float]
    per_seed_d_delta: list[float]
    resamples: int
    level: float = 0.95


def _seed_picks(k: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(B, k)``: how many of each resample's k seed slots drew each seed."""
    if k == 1:  # nothing to draw; keeps one seed bit-identical to paired_change
        return np.ones((resamples, 1), dtype=np.int64)
    return rng.multinomial(k, np.full(k, 1.0 / k), size=resamples)


def hierarchical_change(runs: Sequence[tuple[Figure, Figure]], ideal: float | None, better: str,
                        resamples: int = 1000, seed: int = 0, level: float = 0.95,
                        min_resamples: int = 1000) -> SeedChange:
    """Resample seeds with replacement, then items within each drawn seed's run, independently per draw.

    Each resample's statistic is the mean over its k drawn seed slots of that slot's resampled
    change; a seed drawn twice gets two independent item resamples. Runs may differ in size.
    """
    if not runs:
        raise ValueError("hierarchical_change needs at least one (before, after) run")
    _check_better(ideal, better)
    _check_level(level)
    _check_resamples(resamples, min_resamples)
    for before, after in runs:
        _check_same_items(before, after)
    rng = np.random.default_rng(seed)
    k = len(runs)
    picks = _seed_picks(k, resamples, rng)
    sums = np.zeros((2, resamples))
    for j, (before, after) in enumerate(runs):
        slots = np.repeat(np.arange(resamples), picks[:, j])  # resample index of each slot that drew seed j
        if slots.size:
            delta_b, dd_b = _changes(before, after, weights_for((before, after), slots.size, rng), ideal, better)
            sums[0] += np.bincount(slots, weights=delta_b, minlength=resamples)
            sums[1] += np.bincount(slots, weights=dd_b, minlength=resamples)
    points = np.array([_point(b, a, ideal, better) for b, a in runs])  # (k, 4): before, after, delta, d_delta
    delta_ci, delta_p, used = _summary(sums[0] / k, level)
    dd_ci, dd_p, _ = _summary(sums[1] / k, level)
    mean = points.mean(axis=0)
    return SeedChange(k, float(mean[0]), float(mean[1]), float(mean[2]), delta_ci, delta_p, float(mean[3]),
                      dd_ci, dd_p, points[:, 2].tolist(), points[:, 3].tolist(), used, level)


# --------------------------------------------------------------------------- controls: difference in differences


@dataclass(frozen=True)
class DiffInDiff:
    """The method's ``d_delta`` minus the control's, on the same items; < 0: the method beats the control."""

    method_d_delta: float
    control_d_delta: float
    effect: float
    effect_ci: Interval
    p: float
    n: int
    resamples: int
    level: float = 0.95


def diff_in_diff(method: tuple[Figure, Figure], control: tuple[Figure, Figure], ideal: float | None, better: str,
                 resamples: int = 1000, seed: int = 0, weights: np.ndarray | None = None, level: float = 0.95,
                 min_resamples: int = 1000) -> DiffInDiff:
    """Effect beyond a control, with one resample applied to all four arrays (caller aligns items by id)."""
    figures = (*method, *control)
    if len(figures) != 4:
        raise ValueError("method and control must each be a (before, after) pair of figures")
    n = _check_same_items(*figures)
    _check_better(ideal, better)
    _check_level(level)
    w = _resolve_weights(weights, figures, resamples, seed, min_resamples)
    _, dd_method = _changes(method[0], method[1], w, ideal, better)
    _, dd_control = _changes(control[0], control[1], w, ideal, better)
    m, c = _point(*method, ideal, better)[3], _point(*control, ideal, better)[3]
    ci, p, used = _summary(dd_method - dd_control, level)
    return DiffInDiff(m, c, m - c, ci, p, n, used, level)


@dataclass(frozen=True)
class SeedDiffInDiff:
    """Mean over seeds of (method ``d_delta`` - control ``d_delta``), seeds paired by seed; < 0: the method beats the control."""

    seeds: int
    method_d_delta: float
    control_d_delta: float
    effect: float
    effect_ci: Interval
    p: float
    per_seed_effect: list[float]
    resamples: int
    level: float = 0.95


def hierarchical_diff_in_diff(pairs: Sequence[tuple[tuple[Figure, Figure], tuple[Figure, Figure]]], ideal: float | None,
                              better: str, resamples: int = 1000, seed: int = 0, level: float = 0.95,
                              min_resamples: int = 1000) -> SeedDiffInDiff:
    """The effect beyond a control over k seeds: resample seeds (a method run and the control run of
    the same seed travel together), then items within each drawn seed, one item resample applied to
    all four figures of that seed (they cover the same items). One seed equals :func:`diff_in_diff`."""
    if not pairs:
        raise ValueError("hierarchical_diff_in_diff needs at least one (method, control) pair")
    _check_better(ideal, better)
    _check_level(level)
    _check_resamples(resamples, min_resamples)
    for method, control in pairs:
        _check_same_items(*method, *control)
    rng = np.random.default_rng(seed)
    k = len(pairs)
    picks = _seed_picks(k, resamples, rng)
    sums = np.zeros(resamples)
    for j, (method, control) in enumerate(pairs):
        slots = np.repeat(np.arange(resamples), picks[:, j])
        if slots.size:
            w = weights_for((*method, *control), slots.size, rng)
            _, dd_method = _changes(method[0], method[1], w, ideal, better)
            _, dd_control = _changes(control[0], control[1], w, ideal, better)
            sums += np.bincount(slots, weights=dd_method - dd_control, minlength=resamples)
    points = np.array([(_point(*m, ideal, better)[3], _point(*c, ideal, better)[3]) for m, c in pairs])  # (k, 2)
    ci, p, used = _summary(sums / k, level)
    effects = points[:, 0] - points[:, 1]
    return SeedDiffInDiff(k, float(points[:, 0].mean()), float(points[:, 1].mean()), float(effects.mean()), ci, p,
                          effects.tolist(), used, level)


# --------------------------------------------------------------------------- per-item tests


class McNemar(NamedTuple):
    """Discordant counts and the exact two-sided McNemar p."""

    b: int  # stereotyped before, not after
    c: int  # not stereotyped before, stereotyped after
    p: float


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
