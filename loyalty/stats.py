"""Statistics for experiments on loyalty rules: pure, standard library only.

Everything here takes and returns plain numbers so it can be checked against published values
(tests/unit/test_stats.py) without a database. Rates are proportions in [0, 1]; a "difference"
is always variant minus control, in absolute rate points (0.05 = five percentage points).

Choices, and why:
- One proportion: the Wilson score interval. The Wald interval (p ± z·se) collapses to a width
  of zero at 0 or n repeaters and undercovers badly for the small arms and low repeat rates a
  shop sees; Wilson keeps close to 95% coverage there and never leaves [0, 1].
- The difference: Newcombe's hybrid score interval (his method 10), built from the two Wilson
  intervals, so the two numbers a merchant sees are consistent and the interval behaves near
  0 and 1 where the Wald difference does not.
- The test: the pooled two-proportion z (what the sample size formula assumes), two-sided.
- Sample size: the classic normal-approximation formula without continuity correction
  (Fleiss), α 0.05 two-sided and power 0.8, for an absolute minimum detectable effect.
- Sample ratio: Pearson's χ² against the planned split, k-1 degrees of freedom; the survival
  function is exact (erfc for 1 df, the regularised upper incomplete gamma otherwise).
- Sequential: four equally spaced O'Brien–Fleming looks with the published two-sided bounds
  for an overall α of 0.05 (Jennison & Turnbull, table 2.3).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import NormalDist

_N = NormalDist()
ALPHA = 0.05
POWER = 0.8
Z_95 = _N.inv_cdf(1 - ALPHA / 2)  # 1.959964…

# |z| bounds of four equally spaced O'Brien–Fleming looks, overall two-sided α 0.05.
OBRIEN_FLEMING_BOUNDS = (4.048, 2.862, 2.337, 2.024)
LOOKS = len(OBRIEN_FLEMING_BOUNDS)

CONTINUE = "continue"
STOP_FOR_EFFECT = "stop_for_effect"
NO_DIFFERENCE = "no_difference"


def sample_size_per_arm(baseline: float, mde: float, alpha: float = ALPHA,
                        power: float = POWER) -> int | None:
    """Payers needed in each arm to detect baseline → baseline + mde; None if impossible.

    n = (z_{α/2}·√(2·p̄·q̄) + z_β·√(p1·q1 + p2·q2))² / (p2 − p1)², rounded up.
    """
    p1, p2 = baseline, baseline + mde
    if not (0 <= p1 < 1) or not (0 < p2 < 1) or mde <= 0:
        return None
    p_bar = (p1 + p2) / 2
    z_a = _N.inv_cdf(1 - alpha / 2)
    z_b = _N.inv_cdf(power)
    numerator = (z_a * math.sqrt(2 * p_bar * (1 - p_bar))
                 + z_b * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
    return math.ceil(numerator / (p2 - p1) ** 2 - 1e-9)


def smallest_feasible_effect(baseline: float, payers_available_per_arm: float) -> float | None:
    """The smallest absolute effect (to 0.001) detectable with that many payers per arm."""
    if payers_available_per_arm < 1:
        return None
    lo, hi = 0.001, 1 - baseline - 1e-9
    if hi < lo or (sample_size_per_arm(baseline, hi) or math.inf) > payers_available_per_arm:
        return None
    while hi - lo > 1e-4:
        mid = (lo + hi) / 2
        if (sample_size_per_arm(baseline, mid) or math.inf) <= payers_available_per_arm:
            hi = mid
        else:
            lo = mid
    return math.ceil(hi * 1000) / 1000


def wilson_interval(successes: int, n: int, z: float = Z_95) -> tuple[float, float]:
    """Wilson score interval for successes/n; (0, 1) when there is nobody yet."""
    if n <= 0:
        return (0.0, 1.0)
    p = successes / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_difference_interval(x1: int, n1: int, x2: int, n2: int,
                                 z: float = Z_95) -> tuple[float, float]:
    """Newcombe's hybrid score interval for p2 − p1 (method 10, 1998)."""
    p1, p2 = (x1 / n1 if n1 else 0.0), (x2 / n2 if n2 else 0.0)
    l1, u1 = wilson_interval(x1, n1, z)
    l2, u2 = wilson_interval(x2, n2, z)
    d = p2 - p1
    lower = d - math.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    upper = d + math.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return (max(-1.0, lower), min(1.0, upper))


def two_proportion_z(x1: int, n1: int, x2: int, n2: int) -> tuple[float, float]:
    """Pooled two-proportion z for p2 − p1 and its two-sided p; (0, 1) when undefined."""
    if n1 <= 0 or n2 <= 0:
        return (0.0, 1.0)
    pooled = (x1 + x2) / (n1 + n2)
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se == 0:
        return (0.0, 1.0)
    z = (x2 / n2 - x1 / n1) / se
    return (z, two_sided_p(z))


def two_sided_p(z: float) -> float:
    return math.erfc(abs(z) / math.sqrt(2))


def chi2_sf(x: float, df: int) -> float:
    """P(χ²_df ≥ x), exact: erfc for one degree of freedom, Q(df/2, x/2) otherwise."""
    if df < 1:
        raise ValueError("df must be at least 1")
    if x <= 0:
        return 1.0
    if df == 1:
        return math.erfc(math.sqrt(x / 2))
    return regularized_gamma_q(df / 2, x / 2)


def regularized_gamma_q(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x)/Γ(a): the series for P below a+1, Lentz's continued fraction above."""
    if x <= 0:
        return 1.0
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1 / a
        ap = a
        for _ in range(1000):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * 1e-15:
                break
        return max(0.0, 1 - total * math.exp(log_prefix))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, 1000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < 1e-15:
            break
    return min(1.0, math.exp(log_prefix) * h)


@dataclass(frozen=True)
class SampleRatio:
    chi2: float
    df: int
    p_value: float


def sample_ratio_check(observed: list[int], split: list[float]) -> SampleRatio:
    """Pearson χ² of the enrolled counts against the planned split (weights, any scale)."""
    total, weight = sum(observed), sum(split)
    if total == 0 or len(observed) < 2:
        return SampleRatio(0.0, max(1, len(observed) - 1), 1.0)
    chi2 = 0.0
    for count, share in zip(observed, split, strict=True):
        expected = total * share / weight
        chi2 += (count - expected) ** 2 / expected
    df = len(observed) - 1
    return SampleRatio(chi2, df, chi2_sf(chi2, df))


def look_reached(enrolled_per_arm: int, planned_per_arm: int) -> int:
    """How many of the four equally spaced looks the smallest arm has reached (0–4)."""
    if planned_per_arm <= 0:
        return 0
    return min(LOOKS, (enrolled_per_arm * LOOKS) // planned_per_arm)


def sequential_decision(z: float, look: int) -> str:
    """O'Brien–Fleming at look 1–4: stop for effect past the bound; at the last, no difference."""
    if look < 1:
        return CONTINUE
    look = min(look, LOOKS)
    if abs(z) >= OBRIEN_FLEMING_BOUNDS[look - 1]:
        return STOP_FOR_EFFECT
    return NO_DIFFERENCE if look == LOOKS else CONTINUE


def fixed_decision(p_value: float, alpha: float = ALPHA) -> str:
    """A fixed-horizon test, read once at the planned analysis date."""
    return STOP_FOR_EFFECT if p_value < alpha else NO_DIFFERENCE
