"""One estimator for every change: items crossed with seeds (docs/statistics.md, "The crossed estimator").

All seeds and arms of a cell are scored on the *same* items, and "before" is one measurement shared
by every seed. So items are crossed with seeds, not nested in them: a per-item effect repeats in
every seed, and resampling items separately per seed (as a seeds-then-items bootstrap does) treats
k seeds as k new item samples and shrinks the interval about sqrt(k)-fold.

The model behind the estimator is the two-way random-effects model without replication,
``c[s, i] = mu + alpha_i + gamma_s + e[s, i]`` (items i, seeds s), for which the mean over seeds
and items has ``Var = s2_item / n + s2_seed / k + s2_error / (n k)``. Each term is estimated:

* the item term, from **one** item resample per replicate applied to every seed (and every arm):
  the bootstrap variance of the seed-averaged figure, ``V_boot``, estimates
  ``(s2_item + s2_error / k) / n``; two-stage cluster resampling where a figure averages groups;
* the error term, from the same resamples seed by seed: the mean per-seed bootstrap variance
  ``V_seed`` estimates ``(s2_item + s2_error) / n``, so ``s2_error / n = k / (k - 1) (V_seed - V_boot)``;
* the seed term, from the spread of the per-seed figures, whose variance ``S2`` estimates
  ``s2_seed + s2_error / n``: ``s2_seed / k = (S2 - s2_error / n) / k``, floored at 0.

``Var = V_boot + max(0, S2 - s2_error / n) / k``. Identical seed copies give ``S2 = 0`` and
``V_seed = V_boot``: exactly the one-run variance, never narrower. The interval combines the two
terms in quadrature, each with its own quantile: t(units - 1) for the item term, t(k - 1) for the
seed term, so with few seeds the seed term is paid for with a wide quantile (k < 5 is where this
matters). A Welch-Satterthwaite t on the sum covered only 90-93 % with three seeds in the
simulations (its degrees of freedom grow exactly when the seed term is underestimated); the
per-term quantiles cover 93.5-96 % (tests/test_statistics_simulation.py). The bootstrap only
estimates a variance; p-values are the duals of the intervals, so they have no resampling floor
and can reach any family's adjusted threshold.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Estimate", "crossed", "from_draws", "mde", "pooled", "resamples_for_family", "scaled", "t_quantile"]


def t_quantile(q: float, df: float) -> float:
    """The q-quantile of Student's t with ``df`` degrees of freedom (the normal's when df is infinite)."""
    from scipy.stats import norm, t

    return float(norm.ppf(q) if not math.isfinite(df) else t.ppf(q, df))


def _t_cdf(x: float, df: float) -> float:
    from scipy.stats import norm, t

    return float(norm.cdf(x) if not math.isfinite(df) else t.cdf(x, df))


@dataclass(frozen=True)
class Estimate:
    """A figure averaged over seeds, with the two terms of its variance and their degrees of freedom.

    Intervals combine the terms in quadrature, each with its own quantile: the item term with
    t(``df_item``), the seed term with t(``df_seed`` = k - 1). With no seed term this is the plain
    t interval; when the seed term dominates it is the seed-level t interval, exact for normal seed
    effects however few the seeds. Tests are the duals of these intervals: ``p_equal(x)`` is the
    largest alpha whose 1 - alpha interval still holds ``x``, so "p < 0.05" and "the 95 % interval
    excludes x" always agree.
    """

    value: float
    item_var: float
    seed_var: float  # 0 with one seed
    df_item: float
    df_seed: float  # k - 1 (NaN with one seed)
    per_seed: tuple[float, ...]
    units: int  # items, or groups for a figure that averages groups
    resamples: int
    full: np.ndarray | None = field(default=None, compare=False, repr=False)  # (k,) per-seed figures on the sample
    draws: np.ndarray | None = field(default=None, compare=False, repr=False)  # (B, k) the same per item resample (NaN: undefined)

    @property
    def seeds(self) -> int:
        return len(self.per_seed)

    @property
    def se(self) -> float:
        return math.sqrt(self.item_var + self.seed_var) if math.isfinite(self.item_var) else float("nan")

    def half_width(self, q: float) -> float:
        """``sqrt(t_item(q)**2 item_var + t_seed(q)**2 seed_var)``: the combined quantile ``q`` of the error."""
        width = t_quantile(q, self.df_item) ** 2 * self.item_var
        if self.seed_var > 0:
            width += t_quantile(q, self.df_seed) ** 2 * self.seed_var
        return math.sqrt(width)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """The two-sided interval at ``level``."""
        if not 0.0 < level < 1.0:
            raise ValueError(f"level must be in (0, 1); got {level!r}")
        if not math.isfinite(self.se):
            return (float("nan"), float("nan"))
        half = self.half_width(0.5 + level / 2.0)
        return (self.value - half, self.value + half)

    def p_equal(self, null: float = 0.0) -> float:
        """Two-sided p for "the true value is ``null``": the alpha at which the interval touches it."""
        if not math.isfinite(self.se):
            return float("nan")
        gap = abs(self.value - null)
        if self.se == 0:
            return 1.0 if gap == 0 else 0.0
        if self.seed_var == 0:
            return float(2.0 * _t_sf(gap / self.se, self.df_item))
        from scipy.optimize import brentq

        def excess(log_alpha: float) -> float:
            return self.half_width(1.0 - math.exp(log_alpha) / 2.0) - gap

        lo = math.log(1e-300)
        if excess(lo) <= 0:
            return 0.0
        if excess(0.0) >= 0:
            return 1.0
        return float(math.exp(brentq(excess, lo, 0.0, xtol=1e-10)))

    def p_below(self, bound: float = 0.0) -> float:
        """One-sided p for "the true value is below ``bound``" (small when the estimate is well below)."""
        two = self.p_equal(bound)
        if math.isnan(two):
            return two
        return two / 2.0 if self.value < bound else 1.0 - two / 2.0

    def p_above(self, bound: float = 0.0) -> float:
        """One-sided p for "the true value is above ``bound``"."""
        two = self.p_equal(bound)
        if math.isnan(two):
            return two
        return two / 2.0 if self.value > bound else 1.0 - two / 2.0

    def mde(self, alpha: float = 0.05, power: float = 0.8) -> float:
        """Minimum detectable effect of the two-sided level-``alpha`` test with ``power`` (each term
        with its own quantiles, as the interval)."""
        _check_alpha_power(alpha, power)
        z = t_quantile(1.0 - alpha / 2.0, self.df_item) + t_quantile(power, self.df_item)
        width = z**2 * self.item_var
        if self.seed_var > 0:
            width += (t_quantile(1.0 - alpha / 2.0, self.df_seed) + t_quantile(power, self.df_seed)) ** 2 * self.seed_var
        return math.sqrt(width)


def _t_sf(x: float, df: float) -> float:
    """Upper tail of t(df) (the normal's when df is infinite), accurate far into the tail."""
    from scipy.stats import norm, t

    return float(norm.sf(x) if not math.isfinite(df) else t.sf(x, df))


def _check_alpha_power(alpha: float, power: float) -> None:
    if not (0.0 < alpha < 1.0 and 0.0 < power < 1.0):
        raise ValueError(f"alpha and power must be in (0, 1); got {alpha!r}, {power!r}")


def mde(se: float, df: float, alpha: float = 0.05, power: float = 0.8) -> float:
    """``(t(1 - alpha/2) + t(power)) se``: the smallest true effect detected with the given power."""
    _check_alpha_power(alpha, power)
    return (t_quantile(1.0 - alpha / 2.0, df) + t_quantile(power, df)) * se


def scaled(e: Estimate, factor: float, shift: float = 0.0) -> Estimate:
    """``factor * e + shift`` (a linear transform scales both variance terms by factor**2)."""
    return Estimate(factor * e.value + shift, factor**2 * e.item_var, factor**2 * e.seed_var, e.df_item, e.df_seed,
                    tuple(factor * v + shift for v in e.per_seed), e.units, e.resamples,
                    None if e.full is None else factor * e.full + shift, None if e.draws is None else factor * e.draws + shift)


def crossed(per_seed: Callable[[np.ndarray], np.ndarray], n: int, weights: np.ndarray, units: int,
            seed_term: bool = True) -> Estimate:
    """The crossed estimate of ``mean over seeds of per_seed(W)``.

    ``per_seed`` maps a ``(B, n)`` weight matrix to ``(B, k)`` per-seed figures (NaN where a
    resample leaves a figure undefined); ``weights`` is the one item resample shared by every seed
    and arm; ``units`` is the number of resampled units (items, or groups) for the item term's df.
    ``seed_term=False`` leaves the seed term out: the interval is then about the seeds that ran.
    """
    full = np.asarray(per_seed(np.ones((1, n))), dtype=float).reshape(-1)
    draws = np.asarray(per_seed(weights), dtype=float).reshape(weights.shape[0], full.size)
    return from_draws(full, draws, units, seed_term)


def from_draws(full: np.ndarray, draws: np.ndarray, units: int, seed_term: bool = True) -> Estimate:
    """The crossed estimate from the per-seed figures on the sample (``full``, k) and on each item
    resample (``draws``, B x k; rows with a NaN are left out)."""
    full = np.asarray(full, dtype=float).reshape(-1)
    k = full.size
    kept = draws[np.all(np.isfinite(draws), axis=1)]
    b = kept.shape[0]
    value = float(full.mean())
    df_item, df_seed = float(max(units - 1, 1)), float(k - 1) if k >= 2 else float("nan")
    if b < 2 or not np.all(np.isfinite(full)):
        nan = float("nan")
        return Estimate(value, nan, nan, df_item, df_seed, tuple(full.tolist()), units, b, full, draws)
    item_var = float(np.var(kept.mean(axis=1), ddof=1))
    seed_var = 0.0
    if k >= 2 and seed_term:
        spread = float(np.var(full, ddof=1))
        per_seed_var = float(np.var(kept, axis=0, ddof=1).mean())
        error = k / (k - 1) * max(0.0, per_seed_var - item_var)
        seed_var = max(0.0, spread - error) / k
    return Estimate(value, item_var, seed_var, df_item, df_seed, tuple(full.tolist()), units, b, full, draws)


def pooled(parts: Sequence[Estimate], seed_term: bool = True, weights: Sequence[float] | None = None,
           blocks: Sequence[str] | None = None) -> Estimate:
    """The weighted mean of several cells' estimates, with its crossed variance.

    The item term is kept exact: every cell's draws come from the study's one item resample per
    measure x domain, so replicate b of two cells on the same items used the same resample (their
    covariance is kept) and cells on different items used independent ones (their variances add).
    The seed term: cells in one ``block`` (e.g. one source domain) come from the same runs, so
    their seeds are paired by position and their per-seed figures averaged first; blocks are
    independent runs, so their seed terms add, with Welch-Satterthwaite degrees of freedom.
    ``weights`` must be fixed by the design (e.g. each cell's test items), never by the results.
    ``units`` is the smallest cell's, so the item term's t quantile is the most conservative."""
    if not parts or any(p.full is None or p.draws is None for p in parts):
        raise ValueError("pooled needs estimates that carry their draws (from crossed)")
    if len({p.draws.shape[0] for p in parts}) != 1:  # type: ignore[union-attr]
        raise ValueError("pooled needs the same item resamples in every part")
    w = np.ones(len(parts)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != (len(parts),) or not np.all(w > 0):
        raise ValueError(f"pooled needs one positive weight per part; got {weights!r}")
    w = w / w.sum()
    labels = ["all"] * len(parts) if blocks is None else list(blocks)
    if len(labels) != len(parts):
        raise ValueError("pooled needs one block label per part")
    units = min(p.units for p in parts)
    block_estimates, block_weights, draws, per_seed = [], [], 0.0, []
    for label in dict.fromkeys(labels):
        idx = [i for i, x in enumerate(labels) if x == label]
        if len({parts[i].full.shape for i in idx}) != 1:  # type: ignore[union-attr]
            raise ValueError(f"pooled needs the same seeds in every part of block {label!r}")
        wb = w[idx].sum()
        full = sum(w[i] / wb * parts[i].full for i in idx)  # type: ignore[operator]
        block_draws = sum(w[i] / wb * parts[i].draws for i in idx)  # type: ignore[operator]
        block_estimates.append(from_draws(full, block_draws, units, seed_term))  # type: ignore[arg-type]
        block_weights.append(wb)
        draws = draws + wb * block_draws.mean(axis=1)  # type: ignore[union-attr]
        per_seed += list(full)  # type: ignore[arg-type]
    value = float(sum(wb * e.value for wb, e in zip(block_weights, block_estimates)))
    kept = np.asarray(draws)[np.isfinite(draws)]
    nan = float("nan")
    if kept.size < 2 or any(not math.isfinite(e.item_var) for e in block_estimates):
        return Estimate(value, nan, nan, float(max(units - 1, 1)), nan, tuple(per_seed), units, int(kept.size))
    item_var = float(np.var(kept, ddof=1))
    terms = [(wb**2 * e.seed_var, e.df_seed) for wb, e in zip(block_weights, block_estimates)]
    seed_var = float(sum(a for a, _ in terms))
    df_seed = nan
    if seed_var > 0:
        df_seed = seed_var**2 / sum(a**2 / df for a, df in terms if a > 0)
    elif all(math.isfinite(df) for _, df in terms):
        df_seed = float(sum(df for _, df in terms))
    return Estimate(value, item_var, seed_var, float(max(units - 1, 1)), df_seed, tuple(per_seed), units, int(kept.size))


def resamples_for_family(members: int, alpha: float = 0.05, shift: float = 0.05) -> int:
    """Resamples for a family of ``members`` tests: at least 1,000, and enough that the bootstrap
    SE's Monte-Carlo error (relative ``1 / sqrt(2 B)``) moves the critical value at the family's
    smallest Holm threshold (``alpha / members``, two-sided) by at most ``shift``:
    ``z / sqrt(2 B) <= shift``, i.e. ``B >= z**2 / (2 shift**2)``."""
    from scipy.stats import norm

    if members < 1:
        raise ValueError(f"a family needs at least one member; got {members}")
    z = float(norm.isf(alpha / (2.0 * members)))
    return max(1000, math.ceil(z**2 / (2.0 * shift**2)))
