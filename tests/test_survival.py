"""The survival of a change after relearning, (relearned - before) / (after - before): its value by hand,
its percentile interval by hand on a given resample, undefined where the change's interval holds 0,
and a simulation on items with a known truth (the 95 % interval covers about 95 % of the time)."""

from __future__ import annotations

import numpy as np
import pytest

from debiasbench.statistics.resampling import item_weights, mean_figure
from debiasbench.statistics.change import change
from debiasbench.statistics.survival import UNDEFINED, survival

BEFORE = [1.0, 2.0, 3.0, 4.0]  # mean 2.5
AFTER = [3.0, 5.0, 6.0, 6.0]  # mean 5.0: the change is +2.5
RELEARNED = [2.0, 3.0, 4.0, 5.0]  # mean 3.5: +1.0 of it is left, 0.4


def test_value_and_interval_by_hand() -> None:
    weights = item_weights(4, 1000, np.random.default_rng(7))
    s = survival(mean_figure(BEFORE), [mean_figure(AFTER)], [mean_figure(RELEARNED)], weights, (1.0, 4.0))
    assert s.value == pytest.approx(0.4) and s.relearned == pytest.approx(3.5)
    ratios = []
    for w in weights:  # each resample by hand: weighted means of the same draw in all three stages
        b, a, r = (sum(wi * x for wi, x in zip(w, xs)) / sum(w) for xs in (BEFORE, AFTER, RELEARNED))
        if a != b:
            ratios.append((r - b) / (a - b))
    assert s.ci == pytest.approx(tuple(np.percentile(ratios, [2.5, 97.5])))
    assert s.text() == f"0.40 [{s.ci[0]:.2f}, {s.ci[1]:.2f}]"  # type: ignore[index]


def test_all_kept_and_all_lost() -> None:
    weights = item_weights(4, 1000, np.random.default_rng(0))
    kept = survival(mean_figure(BEFORE), [mean_figure(AFTER)], [mean_figure(AFTER)], weights, (1.0, 4.0))
    lost = survival(mean_figure(BEFORE), [mean_figure(AFTER)], [mean_figure(BEFORE)], weights, (1.0, 4.0))
    assert kept.value == pytest.approx(1.0) and kept.ci == pytest.approx((1.0, 1.0))
    assert lost.value == pytest.approx(0.0) and lost.ci == pytest.approx((0.0, 0.0))


def test_undefined_when_the_change_interval_holds_zero() -> None:
    weights = item_weights(4, 1000, np.random.default_rng(0))
    s = survival(mean_figure(BEFORE), [mean_figure(AFTER)], [mean_figure(RELEARNED)], weights, (-0.5, 4.0))
    assert s.value is None and s.ci is None and s.note == UNDEFINED and s.text() == "undefined"
    assert s.relearned == pytest.approx(3.5)  # the relearned figure is still reported


def test_seeds_are_averaged_before_the_ratio() -> None:
    weights = item_weights(4, 1000, np.random.default_rng(0))
    afters = [mean_figure(AFTER), mean_figure([x + 1.0 for x in AFTER])]  # changes +2.5 and +3.5: mean +3
    relearneds = [mean_figure(RELEARNED), mean_figure([x + 0.5 for x in RELEARNED])]  # +1.0 and +1.5: mean +1.25
    s = survival(mean_figure(BEFORE), afters, relearneds, weights, (1.0, 4.0))
    assert s.value == pytest.approx(1.25 / 3.0)


def test_interval_covers_the_truth_about_95_percent() -> None:
    """Items with a known truth: before b_i, after b_i - 1 + noise, relearned b_i - 0.3 + noise sharing
    part of the after noise, so the true survival is 0.3 / 1.0 = 0.3. Over 400 data sets of 200 items the
    percentile interval (1,000 resamples) must cover 0.3 in 92-98 % of them (binomial SE ~1.1 %)."""
    rng = np.random.default_rng(2024)
    truth, covered, defined, reps, n = 0.3, 0, 0, 400, 200
    for _ in range(reps):
        b = rng.normal(50.0, 5.0, n)
        noise = rng.normal(0.0, 1.0, n)
        a = b - 1.0 + noise
        r = b - 0.3 + 0.5 * noise + rng.normal(0.0, 1.0, n)
        before, after, relearned = mean_figure(b), mean_figure(a), mean_figure(r)
        weights = item_weights(n, 1000, rng)
        ci = change(before, [after], None, "lower", weights=weights).delta_ci
        s = survival(before, [after], [relearned], weights, ci)
        if s.ci is not None:
            defined += 1
            covered += s.ci[0] <= truth <= s.ci[1]
    assert defined == reps  # a change of 1 with SE ~0.07 is always detected
    assert 0.92 <= covered / reps <= 0.98
