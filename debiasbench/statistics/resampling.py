"""Bias figures as functions of item-level arrays, and bootstrap resamples as count-weight matrices.

A resample is a matrix ``W`` of shape ``(B, n)``: ``W[b, i]`` is how often item ``i`` is drawn in
resample ``b``. Every figure maps ``W`` to ``B`` values with matrix products, so one mechanism
serves means, per-group means and ratios, and pairing is automatic: applying the same ``W`` to
the before and the after figure resamples the same items for both. The full data is the
all-ones row, so ``value()`` and ``resampled()`` can never disagree about what a figure is.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Figure",
    "cluster_weights",
    "combine",
    "common_groups",
    "group_mean_figure",
    "item_weights",
    "mean_figure",
    "ratio_figure",
    "weights_for",
]


@dataclass(frozen=True, eq=False)
class Figure:
    """A figure over ``n`` items: ``stat`` maps a ``(B, n)`` weight matrix to ``(B,)`` values.

    ``groups`` (per-item labels) is set by figures that average over groups, so the statistics
    functions know to draw two-stage cluster weights for them instead of plain item weights.
    """

    n: int
    stat: Callable[[np.ndarray], np.ndarray]
    groups: np.ndarray | None = None

    def value(self) -> float:
        """The figure on the full data (every item weighted once)."""
        return float(self.stat(np.ones((1, self.n)))[0])

    def resampled(self, weights: np.ndarray) -> np.ndarray:
        """The figure under each row of ``weights``; NaN where a resample leaves it undefined."""
        w = np.asarray(weights, dtype=float)
        if w.ndim != 2 or w.shape[1] != self.n:
            raise ValueError(f"weights must have shape (B, {self.n}); got {w.shape}")
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.asarray(self.stat(w), dtype=float).reshape(w.shape[0])


def _items(x: Sequence[float] | np.ndarray, name: str = "x") -> np.ndarray:
    """A 1-D finite float array; a NaN item would silently poison every resample, so refuse it."""
    a = np.asarray(x, dtype=float)
    if a.ndim != 1 or a.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-D array of per-item values; got shape {a.shape}")
    if not np.all(np.isfinite(a)):
        raise ValueError(f"{name} has non-finite values: drop or impute those items before building a figure")
    return a


def _group_index(groups: Sequence | np.ndarray, n: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Labels as given, their integer codes 0..G-1 and each group's size."""
    labels = np.asarray(groups)
    if labels.ndim != 1 or labels.size == 0:
        raise ValueError(f"groups must be a non-empty 1-D array of per-item labels; got shape {labels.shape}")
    if n is not None and labels.size != n:
        raise ValueError(f"groups has {labels.size} labels for {n} items")
    _, codes, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    return labels, codes.reshape(-1), sizes


def mean_figure(x: Sequence[float] | np.ndarray, scale: float = 1.0) -> Figure:
    """``scale`` times the (weighted) mean of ``x``; CrowS score = ``mean_figure(stereotyped, 100)``."""
    a = _items(x)
    return Figure(a.size, lambda w: scale * (w @ a) / w.sum(axis=1))


def group_mean_figure(x: Sequence[float] | np.ndarray, groups: Sequence | np.ndarray, scale: float = 1.0) -> Figure:
    """``scale`` times the mean over groups of the per-group means (StereoSet SS/LMS by target term).

    Under a resample, a group counts ``(weight of its items) / (its size)`` times. A two-stage
    cluster draw puts ``m * size`` counts on a group drawn ``m`` times, so this is exactly "each
    drawn copy is one group"; with unit weights it is the plain mean of group means. Written as
    ``(W @ (x/size)) / (W @ (1/size))`` it stays one matrix product per resample.
    """
    a = _items(x)
    labels, codes, sizes = _group_index(groups, a.size)
    inv_size = 1.0 / sizes[codes]
    scaled = a * inv_size
    return Figure(a.size, lambda w: scale * (w @ scaled) / (w @ inv_size), groups=labels)


def ratio_figure(num: Sequence[float] | np.ndarray, den: Sequence[float] | np.ndarray,
                 a: float = 1.0, b: float = 0.0) -> Figure:
    """``a * sum(num) / sum(den) + b`` over the drawn items (BBQ S_DIS: ``a=2, b=-1``).

    A resample whose ``den`` sums to zero gives NaN; the statistics functions drop such resamples.
    """
    nu, de = _items(num, "num"), _items(den, "den")
    if nu.size != de.size:
        raise ValueError(f"num and den must cover the same items; got {nu.size} and {de.size}")
    if de.sum() == 0:
        raise ValueError("den sums to zero on the full data: the ratio is undefined")
    return Figure(nu.size, lambda w: a * (w @ nu) / (w @ de) + b)


def common_groups(*figures: Figure) -> np.ndarray | None:
    """The group labels shared by ``figures`` (None if none has any); conflicting labels are an error."""
    found = [f.groups for f in figures if f.groups is not None]
    for other in found[1:]:
        if not np.array_equal(other, found[0]):
            raise ValueError("figures carry different group labels: they must be over the same items and groups")
    return found[0] if found else None


def combine(f: Callable[..., np.ndarray], *figures: Figure) -> Figure:
    """A figure computed from component figures on the same resample, e.g. ICAT from LMS and SS.

    ``f`` must be vectorised (numpy ufuncs on ``(B,)`` arrays), e.g.
    ``combine(lambda lms, ss: lms * np.minimum(ss, 100 - ss) / 50, lms_fig, ss_fig)``.
    """
    if not figures:
        raise ValueError("combine needs at least one figure")
    n = figures[0].n
    if any(g.n != n for g in figures):
        raise ValueError(f"combined figures must be over the same items; got sizes {[g.n for g in figures]}")
    groups = common_groups(*figures)
    return Figure(n, lambda w: np.asarray(f(*(g.stat(w) for g in figures)), dtype=float), groups=groups)


def _check_rows(rows: int) -> None:
    if int(rows) != rows or rows < 1:
        raise ValueError(f"the number of resamples must be a positive integer; got {rows!r}")


def item_weights(n: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """``(resamples, n)`` counts of ``n`` items drawn uniformly with replacement (rows sum to ``n``)."""
    _check_rows(resamples)
    if int(n) != n or n < 1:
        raise ValueError(f"n must be a positive integer; got {n!r}")
    idx = rng.integers(0, n, size=(resamples, n))
    flat = (idx + n * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(float)


def cluster_weights(groups: Sequence | np.ndarray, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Two-stage counts: draw G groups with replacement, then each drawn copy's items with replacement.

    A group drawn ``m`` times receives ``m * size`` item draws from its own items (the sum of ``m``
    independent within-group resamples); a group not drawn gets zero weight. Rows sum to the drawn
    groups' sizes, so to ``n`` only on average when groups differ in size.
    """
    _check_rows(resamples)
    _, codes, sizes = _group_index(groups)
    n, g = codes.size, sizes.size
    order = np.argsort(codes, kind="stable")  # item positions, grouped
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    picks = rng.multinomial(g, np.full(g, 1.0 / g), size=resamples)  # (B, G) copies of each group
    cell = np.repeat(np.arange(resamples * g), (picks * sizes).ravel())  # one entry per item draw
    grp = cell % g
    item = order[starts[grp] + rng.integers(0, sizes[grp])]
    flat = (cell // g) * n + item
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(float)


def weights_for(figures: Sequence[Figure], resamples: int, rng: np.random.Generator) -> np.ndarray:
    """Cluster weights when the figures average over groups, item weights otherwise."""
    groups = common_groups(*figures)
    if groups is not None:
        return cluster_weights(groups, resamples, rng)
    return item_weights(figures[0].n, resamples, rng)
