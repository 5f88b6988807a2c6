"""Paired changes (the crossed estimator), contrasts, claims, McNemar, permutation, power and multiplicity.

Each statistic is checked against scipy/statsmodels or against values worked out by hand in the test;
tests/test_statistics_simulation.py checks coverage and error rates by simulation.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from debiasbench.statistics.crossed import Estimate, resamples_for_family
from debiasbench.statistics.change import change, contrast
from debiasbench.statistics.distance import distance
from debiasbench.statistics.item_tests import mcnemar_exact, paired_permutation_p
from debiasbench.statistics.multiplicity import adjust
from debiasbench.statistics.resampling import cluster_weights, combine, group_mean_figure, item_weights, mean_figure, ratio_figure
from debiasbench.statistics.verdicts import beats_all, equivalent, planned_mde, verdict

FEW = {"min_resamples": 200}  # lets fast tests use fewer resamples than the spec's 1,000 floor


def _rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# --------------------------------------------------------------------------- distance


@pytest.mark.parametrize("value, ideal, better, expected", [
    (60.0, 50.0, "closer", 10.0), (40.0, 50.0, "closer", 10.0),
    (0.7, 1.0, "higher", 0.3), (0.7, None, "higher", -0.7), (0.7, float("nan"), "higher", -0.7),
    (0.7, 0.5, "lower", 0.2), (0.7, None, "lower", 0.7),
])
def test_distance_scalar(value, ideal, better, expected):
    d = distance(value, ideal, better)
    assert isinstance(d, float)
    assert d == pytest.approx(expected)


def test_distance_array():
    v = np.array([40.0, 50.0, 65.0])
    np.testing.assert_allclose(distance(v, 50.0, "closer"), [10.0, 0.0, 15.0])
    np.testing.assert_allclose(distance(v, 100.0, "higher"), [60.0, 50.0, 35.0])
    np.testing.assert_allclose(distance(v, None, "higher"), -v)
    np.testing.assert_allclose(distance(v, 0.0, "lower"), v)


def test_distance_rejects_bad_direction_and_missing_ideal():
    with pytest.raises(ValueError, match="better"):
        distance(1.0, 0.0, "nearer")
    with pytest.raises(ValueError, match="ideal"):
        distance(1.0, None, "closer")


# --------------------------------------------------------------------------- figures


def test_mean_figure_value_and_resample():
    fig = mean_figure([1, 0, 1, 1], scale=100)
    assert fig.value() == pytest.approx(75.0)
    w = np.array([[0, 2, 1, 1], [4, 0, 0, 0]], dtype=float)  # (0+0+1+1)/4, 4/4
    np.testing.assert_allclose(fig.resampled(w), [50.0, 100.0])


def test_group_mean_figure_is_mean_of_group_means():
    x, groups = [1, 0, 1, 1, 0], ["a", "a", "b", "b", "b"]
    fig = group_mean_figure(x, groups, scale=100)
    assert fig.value() == pytest.approx(100 * (0.5 + 2 / 3) / 2)
    # Row 0: group a drawn twice (4 draws: item0 x3, item1 x1), b absent -> the pooled a draws: 3/4.
    # Row 1: a once (item0 x2) and b once (item3 x1, item4 x2) -> (1 + 1/3) / 2.
    w = np.array([[3, 1, 0, 0, 0], [2, 0, 0, 1, 2]], dtype=float)
    np.testing.assert_allclose(fig.resampled(w), [75.0, 100 * (1 + 1 / 3) / 2])


def test_ratio_figure_bbq_style_affine():
    biased, non_unknown = [1, 0, 1, 0, 0], [1, 1, 1, 0, 1]  # 2 biased of 4 non-unknown
    fig = ratio_figure(biased, non_unknown, a=2.0, b=-1.0)
    assert fig.value() == pytest.approx(2 * 2 / 4 - 1)
    w = np.array([[0, 0, 0, 5, 0], [2, 1, 0, 0, 0]], dtype=float)  # row 0: no non-unknown item -> undefined
    out = fig.resampled(w)
    assert np.isnan(out[0]) and out[1] == pytest.approx(2 * 2 / 3 - 1)


def test_combine_icat_from_components():
    lms = mean_figure([1, 1, 1, 0], scale=100)  # 75
    ss = mean_figure([1, 1, 0, 0], scale=100)  # 50 on the full data, 60 under the weights below
    icat = combine(lambda lm, s: lm * np.minimum(s, 100 - s) / 50, lms, ss)
    assert icat.value() == pytest.approx(75.0)
    w = np.array([[1, 2, 2, 0]], dtype=float)  # lms 100, ss 60 -> 100 * 40 / 50
    np.testing.assert_allclose(icat.resampled(w), [80.0])


def test_figures_reject_bad_input():
    with pytest.raises(ValueError, match="non-finite"):
        mean_figure([1.0, float("nan")])
    with pytest.raises(ValueError, match="labels"):
        group_mean_figure([1, 0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="same items"):
        combine(np.add, mean_figure([1, 0]), mean_figure([1, 0, 1]))
    with pytest.raises(ValueError, match="shape"):
        mean_figure([1, 0]).resampled(np.ones((3, 5)))


# --------------------------------------------------------------------------- weights


def test_item_weights_rows_sum_to_n():
    w = item_weights(7, 500, _rng())
    assert w.shape == (500, 7)
    np.testing.assert_array_equal(w.sum(axis=1), 7)
    assert np.all(w >= 0) and np.allclose(w.mean(axis=0), 1.0, atol=0.15)


def test_cluster_weights_draw_whole_groups():
    groups = np.array(["a"] * 3 + ["b"] * 3 + ["c"] * 2)
    sizes = {"a": 3, "b": 3, "c": 2}
    w = cluster_weights(groups, 2000, _rng(1))
    assert w.shape == (2000, 8)
    totals = {g: w[:, groups == g].sum(axis=1) for g in sizes}
    copies = {g: totals[g] / sizes[g] for g in sizes}
    for g in sizes:  # a group gets whole copies of its size, or zero when it was not drawn
        np.testing.assert_array_equal(copies[g], np.round(copies[g]))
    np.testing.assert_array_equal(sum(copies.values()), 3)  # G = 3 group draws per resample
    np.testing.assert_array_equal(w.sum(axis=1), sum(totals.values()))
    assert np.any(copies["c"] == 0) and np.all(w[copies["c"] == 0][:, groups == "c"] == 0)


def test_cluster_weights_two_groups_share_single_group_half():
    groups = np.repeat([0, 1], [4, 6])
    w = cluster_weights(groups, 4000, _rng(2))
    only_one = (w[:, groups == 0].sum(axis=1) == 0) | (w[:, groups == 1].sum(axis=1) == 0)
    assert only_one.mean() == pytest.approx(0.5, abs=0.04)  # P(both draws hit the same group) = 1/2


# --------------------------------------------------------------------------- paired change


def _correlated(n: int = 300, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = _rng(seed)
    before = rng.normal(0.0, 1.0, n)
    return before, before + 0.1 + rng.normal(0.0, 0.05, n)


def test_change_point_estimates_and_interval_equal_the_paired_t_interval():
    """One seed, a mean measure: the crossed estimator is the paired t interval (bootstrap SE)."""
    before, after = _correlated()
    ch = change(mean_figure(before), [mean_figure(after)], 0.0, "lower", resamples=5000, seed=0)
    assert ch.delta.value == pytest.approx(after.mean() - before.mean())
    assert ch.d_delta.value == pytest.approx(ch.delta.value)  # lower, ideal 0: the distance is the value itself
    assert ch.n == 300 and ch.seeds == 1 and ch.test == "t"
    ref = stats.ttest_rel(after, before).confidence_interval(0.95)
    assert ch.delta_ci[0] == pytest.approx(ref.low, rel=0.02) and ch.delta_ci[1] == pytest.approx(ref.high, rel=0.02)
    assert ch.p == pytest.approx(stats.ttest_rel(after, before).pvalue, abs=1e-12)  # both far below any threshold


def test_pairing_narrows_the_interval():
    before, after = _correlated()
    b_fig, a_fig = mean_figure(before), mean_figure(after)
    paired = change(b_fig, [a_fig], 0.0, "lower", resamples=1000, seed=0)
    rng = _rng(9)  # independent resamples of before and after break the pairing
    unpaired = a_fig.resampled(item_weights(300, 1000, rng)) - b_fig.resampled(item_weights(300, 1000, rng))
    low, high = np.percentile(unpaired, [2.5, 97.5])
    assert paired.delta_ci[1] - paired.delta_ci[0] < 0.2 * (high - low)


def test_change_uses_cluster_weights_for_group_figures():
    rng = _rng(5)
    groups = np.repeat(np.arange(20), 10)
    before = (rng.random(200) < 0.6).astype(float)
    after = (rng.random(200) < 0.5).astype(float)
    ss_before, ss_after = group_mean_figure(before, groups, 100), group_mean_figure(after, groups, 100)
    auto = change(ss_before, [ss_after], 50.0, "closer", resamples=1000, seed=7)
    given = change(ss_before, [ss_after], 50.0, "closer", weights=cluster_weights(groups, 1000, np.random.default_rng(7)))
    assert (auto.delta_ci, auto.d_delta_ci, auto.p) == (given.delta_ci, given.d_delta_ci, given.p)  # NaN df_seed: compare figures
    assert auto.delta.units == 20 and auto.delta.df_item == 19  # groups are the resampled units


def test_change_validates_inputs():
    with pytest.raises(ValueError, match="same items"):
        change(mean_figure([1, 0, 1]), [mean_figure([1, 0])], None, "lower")
    with pytest.raises(ValueError, match="at least 2"):
        change(mean_figure([1.0]), [mean_figure([0.0])], None, "lower")
    with pytest.raises(ValueError, match="resamples"):
        change(mean_figure([1, 0]), [mean_figure([0, 1])], None, "lower", resamples=100)
    with pytest.raises(ValueError, match="better"):
        change(mean_figure([1, 0]), [mean_figure([0, 1])], None, "up")
    with pytest.raises(ValueError, match="at least one"):
        change(mean_figure([1, 0]), [], None, "lower")


def test_d_delta_is_the_signed_change_toward_the_ideal_from_the_starting_side():
    """Below the ideal, a rise is closer; a fall past the ideal is marked with how far it went."""
    rising = change(mean_figure([40.0] * 10 + [42.0] * 10), [mean_figure([46.0] * 10 + [48.0] * 10)], 50.0, "closer", **FEW)
    assert rising.side == -1 and rising.d_delta.value == pytest.approx(-6.0) and not rising.crossed
    over = change(mean_figure([56.0] * 10 + [58.0] * 10), [mean_figure([36.0] * 10 + [38.0] * 10)], 50.0, "closer", **FEW)
    assert over.side == 1 and over.d_delta.value == pytest.approx(-20.0)
    assert over.crossed and over.past.value == pytest.approx(13.0)  # 50 - 37
    higher = change(mean_figure([0.5, 0.7] * 5), [mean_figure([0.6, 0.8] * 5)], 1.0, "higher", **FEW)
    assert higher.d_delta.value == pytest.approx(-0.1) and higher.past is None
    on = change(mean_figure([50.0] * 20), [mean_figure([48.0] * 20)], 50.0, "closer", **FEW)
    assert on.side == 0 and on.d_delta.value == pytest.approx(2.0)  # from the ideal, any move is away


def test_the_change_in_distance_turns_back_up_past_the_ideal_and_its_test_is_monotone():
    """56.7 % of 300 items before; after values landing short of 50, on it, past it and far past it."""
    before = np.zeros(300, dtype=bool)
    before[:170] = True
    def after_at(k: int):
        a = np.zeros(300, dtype=bool)
        a[:k] = True
        return change(mean_figure(100.0 * before), [mean_figure(100.0 * a)], 50.0, "closer", decisions=(before, a), **FEW)
    short, land, past, far = after_at(160), after_at(150), after_at(140), after_at(110)
    r = 170 / 3 - 50
    assert short.d == pytest.approx(-10 / 3) and land.d == pytest.approx(-r) and not land.crossed
    assert past.crossed and past.d == pytest.approx(abs(140 / 3 - 50) - r)  # crossed, still closer than it started
    assert far.crossed and far.d == pytest.approx(abs(110 / 3 - 50) - r) and far.d > 0  # crossed and farther
    assert land.d_p <= short.d_p and land.d_p <= past.d_p  # landing on the ideal is the most significant
    low, high = far.d_ci
    assert low <= far.d <= high
    d = far.distance  # the interval is the image of the linear change's interval
    xl, xh = d.x.interval()
    assert (low, high) == pytest.approx((d.at(min(max(-d.s, xl), xh)), max(d.at(xl), d.at(xh))))


def test_one_seed_decisions_use_exact_mcnemar_and_its_floor():
    before = np.array([True] * 30 + [False] * 30)
    after = before.copy()
    after[:8] = False
    ch = change(mean_figure(100.0 * before), [mean_figure(100.0 * after)], 50.0, "closer", decisions=(before, after), **FEW)
    assert ch.test == "mcnemar" and ch.p == pytest.approx(mcnemar_exact(before, after).p)
    assert ch.p_floor == pytest.approx(2 * 0.5**8)


# --------------------------------------------------------------------------- the crossed estimator by hand


def test_two_seeds_by_hand_every_item_shifted_alike():
    """Seed changes -0.3 and -0.5 on every item: no item variance, seed variance S2/k = 0.02/2 = 0.01,
    so the interval is -0.4 +- t(1, 0.975) * 0.1 and p = 2 P(t(1) > 4)."""
    base = np.linspace(4.0, 6.0, 50)
    ch = change(mean_figure(base), [mean_figure(base - 0.3), mean_figure(base - 0.5)], 0.0, "closer", **FEW)
    assert ch.delta.value == pytest.approx(-0.4) and ch.delta.per_seed == pytest.approx((-0.3, -0.5))
    assert ch.delta.item_var == pytest.approx(0.0, abs=1e-20) and ch.delta.seed_var == pytest.approx(0.01)
    half = stats.t.ppf(0.975, 1) * 0.1
    assert ch.delta_ci == pytest.approx((-0.4 - half, -0.4 + half))
    assert ch.p == pytest.approx(2 * stats.t.sf(4.0, 1))


def test_without_the_seed_term_the_interval_is_about_the_seeds_that_ran():
    """``[study] seed_level = false``: the same item term, no seed term (here the whole variance)."""
    base = np.linspace(4.0, 6.0, 50)
    afters = [mean_figure(base - 0.3), mean_figure(base - 0.5)]
    ch = change(mean_figure(base), afters, 0.0, "closer", seed_term=False, **FEW)
    assert ch.delta.value == pytest.approx(-0.4) and ch.delta.seed_var == 0.0 and ch.p == 0.0
    c = contrast(mean_figure(base), afters, [mean_figure(base)] * 2, 0.0, "closer", seed_term=False, **FEW)
    assert c.effect.seed_var == 0.0 and c.p_better == 0.0


def test_identical_seeds_keep_the_one_seed_variance_and_the_seed_term_is_corrected_for_noise():
    rng = _rng(12)
    before = rng.normal(0, 1, 200)
    after = before - 0.2 + rng.normal(0, 0.5, 200)
    w = item_weights(200, 2000, _rng(1))
    one = change(mean_figure(before), [mean_figure(after)], None, "lower", weights=w)
    three = change(mean_figure(before), [mean_figure(after)] * 3, None, "lower", weights=w)
    assert three.delta.se == pytest.approx(one.delta.se) and three.delta.seed_var == 0.0
    # three seeds that differ only by independent item noise: no seed effect to estimate
    noisy = [mean_figure(before - 0.2 + rng.normal(0, 0.5, 200)) for _ in range(3)]
    est = change(mean_figure(before), noisy, None, "lower", weights=w).delta
    spread = np.var(est.per_seed, ddof=1)
    assert est.seed_var < spread / 3  # the noise part of the spread is not counted twice


def test_estimate_tests_are_the_duals_of_the_intervals():
    e = Estimate(1.3, item_var=0.2, seed_var=0.15, df_item=80.0, df_seed=2.0, per_seed=(1.0, 1.3, 1.6), units=81, resamples=1000)
    low, high = e.interval(0.95)
    assert e.p_equal(low) == pytest.approx(0.05, abs=1e-6) and e.p_equal(high) == pytest.approx(0.05, abs=1e-6)
    assert e.p_below(high) == pytest.approx(0.025, abs=1e-6) and e.p_above(low) == pytest.approx(0.025, abs=1e-6)
    assert e.p_above(high) == pytest.approx(0.975, abs=1e-6)
    item_only = Estimate(1.3, 0.2, 0.0, 80.0, float("nan"), (1.3,), 81, 1000)
    assert item_only.p_equal(0.0) == pytest.approx(2 * stats.t.sf(1.3 / np.sqrt(0.2), 80))


# --------------------------------------------------------------------------- contrasts, claims, verdicts, power


def test_contrast_identical_control_is_zero():
    before, after = _correlated(200)
    c = contrast(mean_figure(before), [mean_figure(after)], [mean_figure(after)], 0.0, "closer", **FEW)
    assert c.effect.value == 0.0 and c.effect_ci == (0.0, 0.0) and c.p == 1.0


def test_contrast_recovers_a_shift_toward_the_ideal():
    rng = _rng(8)
    before = rng.normal(5.0, 1.0, 250)  # above the ideal 0: closer = lower
    control_after = before + rng.normal(0.0, 0.3, 250)
    c = contrast(mean_figure(before), [mean_figure(control_after - 0.4)], [mean_figure(control_after)], 0.0, "closer", **FEW)
    assert c.effect.value == pytest.approx(-0.4) and c.effect_ci == pytest.approx((-0.4, -0.4)) and c.value == pytest.approx(-0.4)
    assert c.method_d_delta - c.control_d_delta == pytest.approx(-0.4) and c.p_better == 0.0


def test_a_method_that_overshoots_does_not_beat_a_control_that_stops_near_the_ideal():
    """Control 56 -> 51, method 56 -> 40: the method moved further, but ends farther from 50."""
    before = np.repeat([56.0, 56.0], 100)
    c = contrast(mean_figure(before), [mean_figure(before - 16.0)], [mean_figure(before - 5.0)], 50.0, "closer", **FEW)
    assert c.value == pytest.approx(10.0 - 1.0) and c.p_better > 0.5


def test_contrast_rejects_unshared_items_and_unpaired_seeds():
    with pytest.raises(ValueError, match="same items"):
        contrast(mean_figure([1, 0, 1]), [mean_figure([0, 0, 1])], [mean_figure([1, 0])], None, "lower")
    with pytest.raises(ValueError, match="same seeds"):
        contrast(mean_figure([1, 0]), [mean_figure([0, 1])], [], None, "lower")


def test_beats_all_is_the_largest_one_sided_p():
    rng = _rng(3)
    before = rng.normal(5, 1, 100)
    method = before - 0.5 + rng.normal(0, 0.3, 100)
    c1 = contrast(mean_figure(before), [mean_figure(method)], [mean_figure(before - 0.45 + rng.normal(0, 0.3, 100))], 0.0, "closer", **FEW)
    c2 = contrast(mean_figure(before), [mean_figure(method)], [mean_figure(before - 0.1 + rng.normal(0, 0.3, 100))], 0.0, "closer", **FEW)
    assert beats_all([c1, c2]) == max(c1.p_better, c2.p_better) == c1.p_better


def test_verdict_and_equivalence_by_hand():
    e = Estimate(0.5, item_var=1.0, seed_var=0.0, df_item=1e9, df_seed=float("nan"), per_seed=(0.5,), units=100, resamples=1000)
    # 90 % interval 0.5 +- 1.645: inside +-2.5, not inside +-2
    assert equivalent(e, 2.5) and not equivalent(e, 2.0)
    assert verdict(e, e.p_equal(), 2.5) == "equivalent" and verdict(e, e.p_equal(), 2.0) == "inconclusive"
    assert verdict(e, 0.01, None) == "farther" and verdict(Estimate(-3.0, 1.0, 0.0, 1e9, float("nan"), (-3.0,), 100, 1000), 0.003, None) == "closer"
    with pytest.raises(ValueError, match="positive"):
        equivalent(e, -1.0)


def test_planned_mde_matches_statsmodels_power():
    from statsmodels.stats.power import TTestPower

    effect = TTestPower().solve_power(nobs=100, alpha=0.05, power=0.8, alternative="two-sided")  # in SD units
    assert planned_mde(10.0, 100) == pytest.approx(effect * 10.0, rel=0.01)
    assert planned_mde(10.0, 100, contrast=True) == pytest.approx(np.sqrt(2) * planned_mde(10.0, 100))


def test_resamples_for_family_bounds_the_monte_carlo_shift_of_the_critical_value():
    z = stats.norm.isf(0.05 / 90)
    assert resamples_for_family(45) == int(np.ceil(z**2 / (2 * 0.05**2)))
    assert resamples_for_family(1) == 1000  # 1.96**2 / 0.005 = 769: the 1,000 floor
    assert z / np.sqrt(2 * resamples_for_family(45)) <= 0.05


def test_a_change_can_reach_a_holm_threshold_of_45():
    """Bootstrap p-values by counting were floored at 2 / (B + 1); the crossed test is not."""
    rng = _rng(14)
    before = rng.random(300) < 0.6
    after = before & (rng.random(300) < 0.6)
    ch = change(mean_figure(100.0 * before), [mean_figure(100.0 * after)] * 2, 50.0, "closer", **FEW)
    assert ch.p < 0.05 / 45


# --------------------------------------------------------------------------- McNemar and permutation


def test_mcnemar_exact_matches_binomial():
    rng = _rng(6)
    before, after = rng.random(120) < 0.6, rng.random(120) < 0.5
    b, c, p = mcnemar_exact(before, after)
    assert b == np.sum(before & ~after) and c == np.sum(~before & after)
    assert p == pytest.approx(stats.binomtest(min(b, c), b + c, 0.5).pvalue)
    # hand case: 3 pairs stop being stereotyped and 10 start -> p = 2 * P(Bin(13, 1/2) <= 3)
    before = np.array([1] * 3 + [0] * 10 + [1] * 5 + [0] * 4)
    after = np.array([0] * 3 + [1] * 10 + [1] * 5 + [0] * 4)
    assert mcnemar_exact(before, after) == (3, 10, pytest.approx(min(1.0, 2 * stats.binom.cdf(3, 13, 0.5))))


def test_mcnemar_no_discordant_items():
    same = np.array([True, False, True, True])
    assert mcnemar_exact(same, same) == (0, 0, 1.0)
    with pytest.raises(ValueError, match="0/1"):
        mcnemar_exact([0, 2], [1, 0])


def test_paired_permutation_p_is_exact_sign_flip():
    before = np.array([0.1, 0.5, 0.3, 0.9, 0.2, 0.4, 0.8, 0.6])
    after = np.array([0.3, 0.6, 0.2, 1.2, 0.5, 0.4, 1.0, 0.9])
    d = after - before
    null = np.array([np.mean(np.array(s) * d) for s in itertools.product([1, -1], repeat=d.size)])
    observed, tol = d.mean(), 1e-12
    expected = min(1.0, 2 * min(np.mean(null <= observed + tol), np.mean(null >= observed - tol)))
    assert paired_permutation_p(before, after, resamples=1000) == pytest.approx(expected)


# --------------------------------------------------------------------------- multiple comparisons


def test_adjust_holm_and_bh_by_hand():
    raw = [0.01, 0.04, 0.03, 0.005]
    # Holm: sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 = 0.02, 0.03, 0.06, 0.04 -> running max 0.06
    holm = [0.03, 0.06, 0.06, 0.02]
    # BH: sorted p * 4 / rank = 0.02, 0.02, 0.04, 0.04 -> running min from the top leaves them
    bh = [0.02, 0.04, 0.04, 0.02]
    out = adjust(raw, "crows-domains")
    assert out.family == "crows-domains" and out.raw == raw
    assert out.holm == pytest.approx(holm) and out.bh == pytest.approx(bh)


def test_adjust_passes_nan_through_and_excludes_it_from_the_family():
    out = adjust([0.01, float("nan"), 0.04, 0.03, 0.005], "f")
    assert np.isnan(out.holm[1]) and np.isnan(out.bh[1]) and np.isnan(out.raw[1])
    assert [out.holm[i] for i in (0, 2, 3, 4)] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert [out.bh[i] for i in (0, 2, 3, 4)] == pytest.approx([0.02, 0.04, 0.04, 0.02])
    assert adjust([float("nan")], "f").holm[0] != adjust([float("nan")], "f").holm[0]  # still NaN
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjust([1.5], "f")


def test_pooled_estimates_equal_hand_computed_means_and_variances() -> None:
    """Pooling one cell gives that cell; two cells on independent item resamples give the weighted
    mean with variance sum(w_i^2 var_i); two copies of one cell (same items, same resample) give the
    cell again, not a narrower interval."""
    import numpy as np

    from debiasbench.statistics.crossed import pooled
    from debiasbench.statistics.change import change
    from debiasbench.statistics.pairing import shared_weights
    from debiasbench.statistics.resampling import mean_figure

    rng = np.random.default_rng(0)
    cells = []
    for d in range(2):
        z = rng.normal(0.5, 1, 200)
        before = mean_figure(z)
        w = shared_weights([before], 2000, d, min_resamples=1000)
        afters = [mean_figure(z - 0.1 + rng.normal(0, 0.5, 200)) for _ in range(1)]
        cells.append(change(before, afters, None, "lower", weights=w, min_resamples=1000).d_delta)
    one = pooled([cells[0]])
    assert one.value == pytest.approx(cells[0].value) and one.item_var == pytest.approx(cells[0].item_var)
    both = pooled(cells, weights=[1, 3])
    assert both.value == pytest.approx(0.25 * cells[0].value + 0.75 * cells[1].value)
    assert both.item_var == pytest.approx(0.25**2 * cells[0].item_var + 0.75**2 * cells[1].item_var, rel=0.15)
    twice = pooled([cells[0], cells[0]])
    assert twice.item_var == pytest.approx(cells[0].item_var) and twice.value == pytest.approx(cells[0].value)
    with pytest.raises(ValueError, match="one positive weight per part"):
        pooled(cells, weights=[1, 0])
