"""loyalty/stats.py against published values and by simulation.

Expected numbers were computed once with statsmodels 0.15 / scipy (proportion_confint
method="wilson", confint_proportions_2indep method="newcomb", proportions_ztest,
chi2.sf, chisquare) and pasted here; the Wilson and Newcombe cases are Newcombe's own worked
examples (Stat Med 1998: 81/263, and 56/70 vs 48/80), the sample size the textbook 5% → 10%
case (Fleiss, no continuity correction: 435 per group).
"""
import math
import random

import pytest

from loyalty import stats


def test_sample_size_per_arm_matches_the_textbook():
    assert stats.sample_size_per_arm(0.05, 0.05) == 435
    assert stats.sample_size_per_arm(0.20, 0.05) == 1094
    assert stats.sample_size_per_arm(0.30, 0.10) == 356
    assert stats.sample_size_per_arm(0.95, 0.05) is None  # a rate cannot reach 100%


def test_smallest_feasible_effect_is_one_the_payers_can_detect():
    effect = stats.smallest_feasible_effect(0.20, 1094)
    assert effect == pytest.approx(0.05, abs=0.001)
    assert stats.sample_size_per_arm(0.20, effect) <= 1094
    assert stats.smallest_feasible_effect(0.20, 0) is None


def test_wilson_interval_matches_newcombes_example():
    low, high = stats.wilson_interval(81, 263)
    assert low == pytest.approx(0.2552885198782742, abs=1e-12)
    assert high == pytest.approx(0.36620957698280004, abs=1e-12)
    assert stats.wilson_interval(0, 10) == pytest.approx((0.0, 0.27753279986288926))
    assert stats.wilson_interval(0, 0) == (0.0, 1.0)


def test_difference_interval_is_newcombes_hybrid_score():
    low, high = stats.newcombe_difference_interval(48, 80, 56, 70)
    assert low == pytest.approx(0.05243147240236498, abs=1e-12)
    assert high == pytest.approx(0.33387265403690614, abs=1e-12)


def test_pooled_z_and_two_sided_p_match_statsmodels():
    z, p = stats.two_proportion_z(48, 80, 56, 70)
    assert z == pytest.approx(2.6501719512585336, abs=1e-12)
    assert p == pytest.approx(0.00804508136819656, rel=1e-9)
    assert stats.two_proportion_z(0, 10, 0, 10) == (0.0, 1.0)


@pytest.mark.parametrize(("x", "df", "expected"), [
    (3.84, 1, 0.05004352124870519),
    (5.991, 2, 0.05001161502657909),
    (7.815, 3, 0.049993902974883875),
    (20, 5, 0.0012497305630313773),
    (0.5, 4, 0.9735009788392561),    # the series branch
    (30, 2, 3.0590232050182594e-07),  # the continued fraction far in the tail
])
def test_chi2_survival_matches_scipy(x, df, expected):
    assert stats.chi2_sf(x, df) == pytest.approx(expected, rel=1e-9)


def test_sample_ratio_check_matches_scipy_chisquare():
    skewed = stats.sample_ratio_check([5200, 4800], [50, 50])
    assert skewed.chi2 == pytest.approx(16.0)
    assert skewed.p_value == pytest.approx(6.334248366623988e-05, rel=1e-9)
    three = stats.sample_ratio_check([350, 330, 320], [1, 1, 1])
    assert three.chi2 == pytest.approx(1.4)
    assert three.p_value == pytest.approx(0.4965853037914095, rel=1e-9)


def test_obrien_fleming_decisions():
    assert stats.sequential_decision(3.9, 1) == stats.CONTINUE
    assert stats.sequential_decision(-4.1, 1) == stats.STOP_FOR_EFFECT
    assert stats.sequential_decision(2.9, 2) == stats.STOP_FOR_EFFECT
    assert stats.sequential_decision(2.0, 3) == stats.CONTINUE
    assert stats.sequential_decision(2.0, 4) == stats.NO_DIFFERENCE
    assert stats.sequential_decision(2.03, 4) == stats.STOP_FOR_EFFECT
    assert stats.sequential_decision(9.0, 0) == stats.CONTINUE
    assert [stats.look_reached(n, 1000) for n in (0, 249, 250, 740, 999, 1000, 5000)] == \
        [0, 0, 1, 2, 3, 4, 4]


# --- A/A simulation: no true effect ---------------------------------------------------------

SIMULATIONS = 4000
PER_LOOK = 100     # payers per arm between looks: 400 per arm at the end
RATE = 0.3


def _binomial(rng: random.Random, n: int, p: float) -> int:
    """Inverse-CDF binomial draw (the standard library has none before 3.12)."""
    u = rng.random()
    q = 1 - p
    pmf = q ** n
    k, cdf = 0, pmf
    while u > cdf and k < n:
        pmf *= (n - k) / (k + 1) * p / q
        k += 1
        cdf += pmf
    return k


def _band(alpha: float, n: int = SIMULATIONS) -> tuple[float, float]:
    """A 99.9% binomial band for an observed rejection rate whose true rate is alpha."""
    half = 3.29 * math.sqrt(alpha * (1 - alpha) / n)
    return alpha - half, alpha + half


def _aa_rejections() -> tuple[float, float, float]:
    rng = random.Random(20261203)
    fixed = sequential = naive = 0
    for _ in range(SIMULATIONS):
        x1 = x2 = n = 0
        stopped = peeked = False
        for look in range(1, stats.LOOKS + 1):
            x1 += _binomial(rng, PER_LOOK, RATE)
            x2 += _binomial(rng, PER_LOOK, RATE)
            n += PER_LOOK
            z, p = stats.two_proportion_z(x1, n, x2, n)
            if not stopped and stats.sequential_decision(z, look) == stats.STOP_FOR_EFFECT:
                stopped = True
            peeked = peeked or abs(z) >= 1.96
        fixed += stats.fixed_decision(p) == stats.STOP_FOR_EFFECT
        sequential += stopped
        naive += peeked
    return fixed / SIMULATIONS, sequential / SIMULATIONS, naive / SIMULATIONS


def test_aa_simulation_keeps_false_alarms_at_five_percent():
    fixed, sequential, naive = _aa_rejections()
    low, high = _band(0.05)
    assert low <= fixed <= high, fixed
    assert sequential <= high, sequential          # O'Brien–Fleming spends at most α
    # peeking at 1.96 at each of four looks: ≈ 12.6% (Armitage, McPherson & Rowe 1969)
    naive_low, naive_high = _band(0.126)
    assert naive_low <= naive <= naive_high, naive
