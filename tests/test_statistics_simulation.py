"""Proof by simulation (docs/statistics.md): the toolkit's own estimators on data shaped
like a study's, with known truth.

Each simulated study has ``n`` items shared by the before measurement, every seed and every arm.
An item's log-probability margin before is ``z_i ~ N(m, 1)``; after training seed s it is
``z_i + d + u_i + g_s + e_si`` (``u_i``: the item's own reaction, shared by all seeds; ``g_s``: the
seed's effect, shared by all items; ``e_si``: noise). The binary decision (CrowS-Pairs' "stereotyped")
is ``margin > 0``, the continuous measure is the margin itself. The truth is the population change
over items and seeds, known in closed form. Fixed generator seeds keep every figure reproducible.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from debiasbench.statistics.change import change, contrast
from debiasbench.statistics.multiplicity import adjust
from debiasbench.statistics.resampling import mean_figure
from debiasbench.statistics.verdicts import beats_all, verdict

B = 400  # resamples per simulated cell: the SE's Monte-Carlo error (~3.5 %) barely moves coverage
LOW = dict(resamples=B, min_resamples=B)


def simulate(rng: np.random.Generator, n: int, k: int, m: float, d: float, su: float, sg: float, se: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Margins before (n,), after (k, n) and their decisions."""
    z = rng.normal(m, 1.0, n)
    after = z + d + rng.normal(0, su, n) + rng.normal(0, sg, (k, 1)) + rng.normal(0, se, (k, n))
    return z, after, z > 0, after > 0


def true_binary_delta(m: float, d: float, su: float, sg: float, se: float) -> float:
    """Population change of the % of positive decisions over items and seeds."""
    return 100.0 * (norm.cdf((m + d) / math.sqrt(1 + su**2 + sg**2 + se**2)) - norm.cdf(m))


def _binary_change(z_dec: np.ndarray, a_dec: np.ndarray, seed: int):
    before = mean_figure(100.0 * z_dec)
    afters = [mean_figure(100.0 * a) for a in a_dec]
    decisions = (z_dec, a_dec[0]) if len(a_dec) == 1 else None
    return change(before, afters, 50.0, "closer", seed=seed, decisions=decisions, **LOW)


SCENARIOS = {  # name: n, k, m, d, su, sg, se
    "binary, 1 seed, real drop": (150, 1, 0.25, -0.3, 0.3, 0.0, 0.3),
    "binary, 3 seeds, seed effects": (150, 3, 0.25, -0.3, 0.3, 0.15, 0.3),
    "binary, 3 seeds, strong seed effects": (150, 3, 0.2, -0.2, 0.2, 0.3, 0.3),
    "binary, 5 seeds, small effect": (300, 5, 0.2, -0.1, 0.3, 0.1, 0.3),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_binary_intervals_cover_the_truth(name: str) -> None:
    n, k, m, d, su, sg, se = SCENARIOS[name]
    truth = true_binary_delta(m, d, su, sg, se)
    rng = np.random.default_rng(list(SCENARIOS).index(name) + 20261207)
    reps, hits = 800, 0
    for r in range(reps):
        _, _, zd, ad = simulate(rng, n, k, m, d, su, sg, se)
        low, high = _binary_change(zd, ad, r).delta_ci
        hits += low <= truth <= high
    coverage = hits / reps
    assert 0.93 <= coverage <= 0.97, f"{name}: coverage {coverage:.3f} of {truth:.2f}"


@pytest.mark.parametrize("k", [1, 3])
def test_continuous_margin_intervals_cover_the_truth(k: int) -> None:
    """With one seed there is no seed effect to see: its interval is about the one trained model
    (docs/statistics.md says so); with three, seed effects are part of the truth's uncertainty."""
    rng = np.random.default_rng(7 + k)
    reps, hits, d = 800, 0, -0.15
    for r in range(reps):
        z, after, _, _ = simulate(rng, 120, k, 0.3, d, 0.4, 0.2 if k > 1 else 0.0, 0.4)
        est = change(mean_figure(z), [mean_figure(a) for a in after], 0.0, "closer", seed=r, **LOW)
        low, high = est.delta_ci
        hits += low <= d <= high
    assert 0.93 <= hits / reps <= 0.97, hits / reps


@pytest.mark.parametrize("k", [1, 3])
def test_type_one_error_holds_with_shared_items(k: int) -> None:
    """No true change: before and every seed's after are exchangeable noisy readings of the same items
    (shared item effects, no seed effect). At most 6 % of studies reject at 0.05 — exact McNemar for
    one seed, the crossed t test for three."""
    rng = np.random.default_rng(100 + k)
    reps, rejected = 1000, 0
    for r in range(reps):
        z = rng.normal(0.2, 1.0, 150)
        before = z + rng.normal(0, 0.4, 150)
        after = z[None, :] + rng.normal(0, 0.4, (k, 150))
        rejected += _binary_change(before > 0, after > 0, r).p < 0.05
    assert rejected / reps <= 0.06, rejected / reps


def test_type_one_error_with_seed_effects_and_three_seeds() -> None:
    """Seed effects that average to zero over the seed population: the seed term must be paid for."""
    rng = np.random.default_rng(5)
    reps, rejected = 1000, 0
    for r in range(reps):
        z = rng.normal(0.0, 1.0, 200)
        after = z[None, :] + rng.normal(0, 0.3, (3, 1)) + rng.normal(0, 0.2, (3, 200))
        est = change(mean_figure(z), [mean_figure(a) for a in after], 0.0, "closer", seed=r, **LOW)
        rejected += est.p < 0.05
    assert rejected / reps <= 0.06, rejected / reps


def test_identical_seed_copies_do_not_narrow_the_interval() -> None:
    rng = np.random.default_rng(3)
    _, _, zd, ad = simulate(rng, 120, 1, 0.3, -0.3, 0.3, 0.0, 0.3)
    one = _binary_change(zd, ad, 0)
    before = mean_figure(100.0 * zd)
    three = change(before, [mean_figure(100.0 * ad[0])] * 3, 50.0, "closer", seed=0, **LOW)
    assert three.delta.value == pytest.approx(one.delta.value)
    assert three.delta.se == pytest.approx(one.delta.se, rel=1e-9)
    assert three.delta_ci == pytest.approx(one.delta_ci, rel=1e-9)


@pytest.mark.parametrize("seeds", [1, 5])
def test_a_large_true_effect_survives_holm_in_a_family_of_45(seeds: int) -> None:
    """One cell with a large drop (about 15 points on 300 items) among 44 null cells. With one seed
    the exact McNemar test decides; with five, the crossed t test with small seed effects. (With
    three seeds and real seed effects the seed term's t(2) quantile is the honest price of so few
    seeds: docs/statistics.md shows the MDE this leaves.)"""
    rng = np.random.default_rng(11 + seeds)
    p = []
    for cell in range(45):
        d = -0.6 if cell == 0 else 0.0
        z, after, zd, ad = simulate(rng, 300, seeds, 0.25, d, 0.3, 0.05, 0.3)
        p.append(_binary_change(zd, ad, cell).p)
    adjusted = adjust(p, "simulated family")
    assert adjusted.holm[0] < 0.05, adjusted.holm[0]
    assert sum(h < 0.05 for h in adjusted.holm[1:]) <= 1  # the null cells mostly stay null


@pytest.mark.parametrize("seeds", [1, 3])
def test_reaching_the_ideal_is_at_least_as_significant_as_stopping_short(seeds: int) -> None:
    """Before 56.7 % stereotyped on 300 items; arm A lands on 50 %, arm B stops at 53.3 %."""
    rng = np.random.default_rng(2)
    n = 300
    before = np.zeros(n, dtype=bool)
    before[: 170] = True  # 56.7 %
    def after_with(rate_items: int) -> list[np.ndarray]:
        out = []
        for _ in range(seeds):
            a = before.copy()
            flip = rng.choice(170, 170 - rate_items, replace=False)
            a[flip] = False
            out.append(a)
        return out
    land, short = after_with(150), after_with(160)
    p_land = change(mean_figure(100.0 * before), [mean_figure(100.0 * a) for a in land], 50.0, "closer",
                    decisions=(before, land[0]) if seeds == 1 else None, **LOW)
    p_short = change(mean_figure(100.0 * before), [mean_figure(100.0 * a) for a in short], 50.0, "closer",
                     decisions=(before, short[0]) if seeds == 1 else None, **LOW)
    assert p_land.d_delta.value < p_short.d_delta.value < 0
    assert p_land.p <= p_short.p
    assert not p_land.crossed and not p_short.crossed


def test_an_overshoot_is_marked_and_tested() -> None:
    """56.7 % -> 40 %: the change toward the ideal is real, and so is the crossing past it."""
    n = 300
    before = np.zeros(n, dtype=bool)
    before[:170] = True
    after = np.zeros(n, dtype=bool)
    after[:120] = True
    est = change(mean_figure(100.0 * before), [mean_figure(100.0 * after)], 50.0, "closer", decisions=(before, after), **LOW)
    assert est.crossed and est.past.value == pytest.approx(10.0)
    assert est.past_p < 0.001
    # the change in distance: 6.7 -> 10 from 50, farther (not significantly: 3.3 points on 300 items)
    assert est.d == pytest.approx(10.0 - 20 / 3) and est.d_ci[0] < est.d < est.d_ci[1] and est.d_p > 0.05


def test_contrasts_hold_their_level_and_the_iut_claim_needs_both_controls() -> None:
    """Method and control drawn from the same distribution: the one-sided "beats" test rejects at most
    ~5 % of the time, and the intersection-union test over two such controls no more often."""
    rng = np.random.default_rng(9)
    reps, rejected, rejected_iut = 600, 0, 0
    for r in range(reps):
        z = rng.normal(0.3, 1.0, 150)
        arms = [z[None, :] - 0.3 + rng.normal(0, 0.3, (3, 1)) + rng.normal(0, 0.4, (3, 150)) for _ in range(3)]
        before = mean_figure(100.0 * (z > 0))
        figs = [[mean_figure(100.0 * (a > 0)) for a in arm] for arm in arms]
        c1 = contrast(before, figs[0], figs[1], 50.0, "closer", seed=r, **LOW)
        c2 = contrast(before, figs[0], figs[2], 50.0, "closer", seed=r, **LOW)
        rejected += c1.p_better < 0.05
        rejected_iut += beats_all([c1, c2]) < 0.05
    assert rejected / reps <= 0.07 and rejected_iut <= rejected


def test_a_real_transfer_beyond_both_controls_is_detected() -> None:
    rng = np.random.default_rng(13)
    z = rng.normal(0.3, 1.0, 400)
    method = z[None, :] - 0.3 + rng.normal(0, 0.3, (3, 400))  # about 62 % -> 50 %: lands on the ideal
    controls = [z[None, :] - 0.05 + rng.normal(0, 0.3, (3, 400)) for _ in range(2)]  # stay near 60 %
    before = mean_figure(100.0 * (z > 0))
    m = [mean_figure(100.0 * (a > 0)) for a in method]
    cs = [contrast(before, m, [mean_figure(100.0 * (a > 0)) for a in c], 50.0, "closer", **LOW) for c in controls]
    assert beats_all(cs) < 0.01
    assert verdict(cs[0].effect, cs[0].p, 2.0) == "closer"


def test_equivalence_needs_a_tight_interval() -> None:
    """No change on 1,000 continuous items is equivalent within 0.1 nats; on 20 items it is inconclusive."""
    rng = np.random.default_rng(4)
    for n, expected in ((1000, "equivalent"), (20, "inconclusive")):
        z = rng.normal(0, 1, n)
        after = z + rng.normal(0, 0.3, n)
        est = change(mean_figure(z), [mean_figure(after)], 0.0, "closer", **LOW)
        assert verdict(est.d_delta, est.p, 0.1) == expected, (n, est.d_delta_ci)


# --------------------------------------------------------------------------- the pooled transfer claim


def _pooled_study(rng: np.random.Generator, seed: int, method_shift: float, control_shift: float,
                  sizes: tuple[int, int] = (150, 300), k: int = 3) -> tuple[list, list, list]:
    """Two sources, each unlearned in k seeds per arm (method, two controls), each run evaluated on
    the same two item sets (items shared by every source, arm and seed); a run's seed effect is
    shared by both item sets it is evaluated on. Continuous margin, ideal 0, before margin ~0.5:
    nobody crosses the ideal. Returns the cells' contrasts against each control, their item counts
    and their sources (the blocks)."""
    from debiasbench.statistics.pairing import shared_weights

    items = [rng.normal(0.5, 1.0, n) for n in sizes]
    befores = [mean_figure(z) for z in items]
    ws = [shared_weights([b], B, seed * 10 + d, min_resamples=B) for d, b in enumerate(befores)]
    per_control: list[list] = [[], []]
    weights, blocks = [], []
    for source in ("s1", "s2"):
        seed_effects = [rng.normal(0, 0.1, (k, 1)) for _ in range(3)]  # per arm and seed, shared by both item sets

        def arm(a: int, shift: float, z: np.ndarray) -> list:
            after = z[None, :] + shift + rng.normal(0, 0.3, z.size) + seed_effects[a] + rng.normal(0, 0.4, (k, z.size))
            return [mean_figure(x) for x in after]
        for z, before, w in zip(items, befores, ws):
            method = arm(0, method_shift, z)
            for c in range(2):
                per_control[c].append(contrast(before, method, arm(c + 1, control_shift, z), 0.0, "closer", weights=w, **LOW))
            weights.append(z.size)
            blocks.append(source)
    return per_control, weights, blocks


def test_the_pooled_contrast_covers_the_truth() -> None:
    """The item-weighted pool of four cells (two item sets, each under two sources whose runs are
    shared by both) covers the true difference (method - control = -0.05 in every cell)."""
    from debiasbench.statistics.change import pooled_beyond

    rng = np.random.default_rng(31)
    reps, hits = 500, 0
    for r in range(reps):
        per_control, weights, blocks = _pooled_study(rng, r, -0.10, -0.05)
        low, high = pooled_beyond(per_control[0], weights, blocks=blocks).interval()
        hits += low <= -0.05 <= high
    assert 0.93 <= hits / reps <= 0.97, hits / reps


def test_the_pooled_iut_claim_holds_its_level_and_detects_real_transfer() -> None:
    """Method and controls alike: the pooled "beats both controls" rejects at most 6 % of the time;
    a method that moves 0.3 further than both controls (above this design's MDE of about 0.25, set
    by the seed effects: two sources x three seeds) is detected at least 80 % of the time."""
    from debiasbench.statistics.change import pooled_beyond

    rng = np.random.default_rng(37)
    reps = 400
    null = real = 0
    for r in range(reps):
        for shift, key in ((-0.05, "null"), (-0.35, "real")):
            per_control, weights, blocks = _pooled_study(rng, r, shift, -0.05)
            p = max(pooled_beyond(cells, weights, blocks=blocks).p_below(0.0) for cells in per_control)
            if p < 0.05:
                null += key == "null"
                real += key == "real"
    assert null / reps <= 0.06 and real / reps >= 0.8, (null / reps, real / reps)
