"""Paired bootstrap, McNemar, permutation, hierarchical, diff-in-diff and multiplicity statistics.

Each statistic is checked against scipy or against values worked out by hand in the test.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from debiasbench.analysis.statistics import (
    adjust,
    cluster_weights,
    combine,
    diff_in_diff,
    distance,
    group_mean_figure,
    hierarchical_change,
    hierarchical_diff_in_diff,
    item_weights,
    mcnemar_exact,
    mean_figure,
    paired_change,
    paired_permutation_p,
    ratio_figure,
)

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


def test_paired_change_point_estimates_and_interval():
    before, after = _correlated()
    ch = paired_change(mean_figure(before), mean_figure(after), 0.0, "lower", resamples=1000, seed=0)
    assert ch.delta == pytest.approx(after.mean() - before.mean())
    assert ch.d_delta == pytest.approx(ch.delta)  # lower, ideal 0: distance is the value itself
    assert ch.delta_ci[0] <= ch.delta <= ch.delta_ci[1]
    assert ch.d_delta_ci[0] <= ch.d_delta <= ch.d_delta_ci[1]
    assert ch.n == 300 and ch.resamples == 1000
    assert ch.delta_p == pytest.approx(2 / 1001)  # every resampled change is > 0


def test_pairing_narrows_the_interval():
    before, after = _correlated()
    b_fig, a_fig = mean_figure(before), mean_figure(after)
    paired = paired_change(b_fig, a_fig, 0.0, "lower", resamples=1000, seed=0)
    rng = _rng(9)  # independent resamples of before and after break the pairing
    unpaired = a_fig.resampled(item_weights(300, 1000, rng)) - b_fig.resampled(item_weights(300, 1000, rng))
    low, high = np.percentile(unpaired, [2.5, 97.5])
    assert paired.delta_ci[1] - paired.delta_ci[0] < 0.2 * (high - low)


def test_paired_change_matches_scipy_paired_percentile_bootstrap():
    rng = _rng(4)
    before = rng.normal(0.0, 1.0, 400)
    after = 0.6 * before + rng.normal(0.2, 0.8, 400)
    ours = paired_change(mean_figure(before), mean_figure(after), None, "lower", resamples=5000, seed=1)
    ref = stats.bootstrap((before, after), lambda b, a, axis: np.mean(a - b, axis=axis), paired=True,
                          vectorized=True, n_resamples=5000, method="percentile", random_state=2)
    assert ours.delta_ci[0] == pytest.approx(ref.confidence_interval.low, abs=0.02)
    assert ours.delta_ci[1] == pytest.approx(ref.confidence_interval.high, abs=0.02)


def test_paired_change_uses_cluster_weights_for_group_figures():
    rng = _rng(5)
    groups = np.repeat(np.arange(20), 10)
    before = (rng.random(200) < 0.6).astype(float)
    after = (rng.random(200) < 0.5).astype(float)
    ss_before, ss_after = group_mean_figure(before, groups, 100), group_mean_figure(after, groups, 100)
    auto = paired_change(ss_before, ss_after, 50.0, "closer", resamples=1000, seed=7)
    given = paired_change(ss_before, ss_after, 50.0, "closer",
                          weights=cluster_weights(groups, 1000, np.random.default_rng(7)))
    assert auto == given


def test_paired_change_validates_inputs():
    with pytest.raises(ValueError, match="same items"):
        paired_change(mean_figure([1, 0, 1]), mean_figure([1, 0]), None, "lower")
    with pytest.raises(ValueError, match="at least 2"):
        paired_change(mean_figure([1.0]), mean_figure([0.0]), None, "lower")
    with pytest.raises(ValueError, match="resamples"):
        paired_change(mean_figure([1, 0]), mean_figure([0, 1]), None, "lower", resamples=100)
    with pytest.raises(ValueError, match="better"):
        paired_change(mean_figure([1, 0]), mean_figure([0, 1]), None, "up")


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


# --------------------------------------------------------------------------- seeds


def _seed_runs(shifts: list[float], n: int = 150) -> list[tuple]:
    runs = []
    for j, shift in enumerate(shifts):
        before, after = _correlated(n, seed=20 + j)
        runs.append((mean_figure(before), mean_figure(after - 0.1 + shift)))
    return runs


def test_hierarchical_one_seed_equals_paired_change():
    (before, after), = _seed_runs([0.2])
    one = hierarchical_change([(before, after)], 0.0, "closer", resamples=1000, seed=3)
    ch = paired_change(before, after, 0.0, "closer", resamples=1000, seed=3)
    assert (one.delta, one.d_delta, one.before, one.after) == pytest.approx((ch.delta, ch.d_delta, ch.before, ch.after))
    assert one.delta_ci == pytest.approx(ch.delta_ci) and one.d_delta_ci == pytest.approx(ch.d_delta_ci)
    assert one.seeds == 1 and one.per_seed_delta == pytest.approx([ch.delta])


def test_hierarchical_mean_over_disagreeing_seeds_is_wider():
    runs = _seed_runs([0.0, 0.5, 1.0])
    per_seed = [paired_change(b, a, None, "lower", **FEW, resamples=400) for b, a in runs]
    hier = hierarchical_change(runs, None, "lower", resamples=1000, seed=0)
    assert hier.delta == pytest.approx(np.mean([c.delta for c in per_seed]))
    assert hier.per_seed_d_delta == pytest.approx([c.d_delta for c in per_seed])
    assert hier.delta_ci[0] <= hier.delta <= hier.delta_ci[1]
    widest_single = max(c.delta_ci[1] - c.delta_ci[0] for c in per_seed)
    assert hier.delta_ci[1] - hier.delta_ci[0] > 5 * widest_single


# --------------------------------------------------------------------------- controls


def test_diff_in_diff_identical_control_is_zero():
    before, after = _correlated(200)
    method = (mean_figure(before), mean_figure(after))
    did = diff_in_diff(method, method, 0.0, "closer", resamples=1000, seed=0)
    assert did.effect == 0.0 and did.effect_ci[0] <= 0.0 <= did.effect_ci[1]
    assert did.p == 1.0


def test_diff_in_diff_recovers_a_shift():
    rng = _rng(8)
    before = rng.normal(5.0, 1.0, 250)  # far from the ideal 0, so |v| = v throughout
    control_after = before + rng.normal(0.0, 0.3, 250)
    control = (mean_figure(before), mean_figure(control_after))
    method = (mean_figure(before), mean_figure(control_after - 0.4))
    did = diff_in_diff(method, control, 0.0, "closer", resamples=1000, seed=0)
    assert did.effect == pytest.approx(-0.4)
    assert did.effect_ci == pytest.approx((-0.4, -0.4))
    assert did.method_d_delta - did.control_d_delta == pytest.approx(did.effect)


def test_diff_in_diff_rejects_different_items():
    with pytest.raises(ValueError, match="same items"):
        diff_in_diff((mean_figure([1, 0, 1]), mean_figure([0, 0, 1])), (mean_figure([1, 0]), mean_figure([0, 1])),
                     None, "lower")


def test_hierarchical_diff_in_diff_one_seed_equals_diff_in_diff():
    rng = _rng(11)
    before = rng.normal(5.0, 1.0, 120)
    method = (mean_figure(before), mean_figure(before - 0.5 + rng.normal(0, 0.2, 120)))
    control = (mean_figure(before), mean_figure(before - 0.1 + rng.normal(0, 0.2, 120)))
    one = diff_in_diff(method, control, 0.0, "closer", resamples=1000, seed=4)
    seeded = hierarchical_diff_in_diff([(method, control)], 0.0, "closer", resamples=1000, seed=4)
    assert seeded.effect == pytest.approx(one.effect) and seeded.effect_ci == pytest.approx(one.effect_ci)
    assert seeded.p == pytest.approx(one.p) and seeded.per_seed_effect == pytest.approx([one.effect])


def test_hierarchical_diff_in_diff_by_hand():
    # far from the ideal 0: d_delta = after - before per seed; seed effects -0.3 and -0.5 exactly
    # (every item shifts alike, so item resampling cannot move them), mean -0.4; the seed
    # resamples give -0.3 (both draws seed 0), -0.4 or -0.5: the interval stays within [-0.5, -0.3].
    base = np.linspace(4.0, 6.0, 50)
    pairs = []
    for shift in (0.3, 0.5):
        control = (mean_figure(base), mean_figure(base + 0.2))
        method = (mean_figure(base), mean_figure(base + 0.2 - shift))
        pairs.append((method, control))
    out = hierarchical_diff_in_diff(pairs, 0.0, "closer", resamples=2000, seed=0)
    assert out.seeds == 2 and out.per_seed_effect == pytest.approx([-0.3, -0.5])
    assert out.effect == pytest.approx(-0.4) and out.control_d_delta == pytest.approx(0.2)
    assert -0.5 - 1e-9 <= out.effect_ci[0] <= out.effect_ci[1] <= -0.3 + 1e-9
    assert out.p == pytest.approx(2 / 2001)  # no resample reaches 0: the floor 2 / (B + 1)


def test_hierarchical_diff_in_diff_rejects_unshared_items():
    with pytest.raises(ValueError, match="same items"):
        hierarchical_diff_in_diff([((mean_figure([1, 0, 1]), mean_figure([0, 0, 1])), (mean_figure([1, 0]), mean_figure([0, 1])))],
                                  None, "lower")


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
