"""The statistics `ingressd bench` reports: Wilson intervals and a chi-square goodness-of-fit test.

Pure math on counts, standard library only (no scipy): the chi-square p-value is the regularized
upper incomplete gamma function Q(df/2, x/2), computed as in Numerical Recipes (a series below
x = a + 1, a continued fraction above it).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

SRM_ALPHA = 0.001  # a split this unlikely under the configured weights is a sample-ratio mismatch

_EPS = 1e-15
_TINY = 1e-300


def z_score(confidence: float) -> float:
    """Two-sided standard normal quantile: 0.95 -> 1.95996..., 0.999 -> 3.29052..."""
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson_interval(successes: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval for a binomial share; unlike p ± z·se it stays inside [0, 1] and is
    honest near 0 % and 100 %, where canary weights (1 %) and header overrides (100 %) live."""
    if trials <= 0:
        raise ValueError("trials must be positive")
    if not 0 <= successes <= trials:
        raise ValueError(f"successes must be between 0 and {trials}, got {successes}")
    z = z_score(confidence)
    p = successes / trials
    z2n = z * z / trials
    centre = (p + z2n / 2) / (1 + z2n)
    half = z / (1 + z2n) * math.sqrt(p * (1 - p) / trials + z2n / (4 * trials))
    # The bounds are exactly 0 for 0/n and 1 for n/n; floats would leave rounding dust.
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == trials else min(1.0, centre + half)
    return low, high


def _iteration_limit(a: float) -> int:
    # Both expansions need O(sqrt(a)) terms near x ≈ a; generous so huge df still converge.
    return 200 + int(20 * math.sqrt(a))


def _gamma_p_series(a: float, x: float) -> float:
    term = total = 1.0 / a
    ap = a
    for _ in range(_iteration_limit(a)):
        ap += 1.0
        term *= x / ap
        total += term
        if abs(term) < abs(total) * _EPS:
            return total * math.exp(-x + a * math.log(x) - math.lgamma(a))
    raise ArithmeticError(f"incomplete gamma series did not converge for a={a}, x={x}")


def _gamma_q_fraction(a: float, x: float) -> float:
    # Modified Lentz evaluation of the continued fraction for Q(a, x).
    b = x + 1.0 - a
    c = 1.0 / _TINY
    d = 1.0 / b if b != 0 else 1.0 / _TINY
    h = d
    for i in range(1, _iteration_limit(a)):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        if abs(d) < _TINY:
            d = _TINY
        c = b + an / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return math.exp(-x + a * math.log(x) - math.lgamma(a)) * h
    raise ArithmeticError(f"incomplete gamma continued fraction did not converge for a={a}, x={x}")


def gamma_q(a: float, x: float) -> float:
    """Regularized upper incomplete gamma function Q(a, x) = Γ(a, x) / Γ(a)."""
    if a <= 0 or x < 0 or math.isnan(x):
        raise ValueError(f"gamma_q needs a > 0 and x >= 0, got a={a}, x={x}")
    if x == 0:
        return 1.0
    if math.isinf(x):
        return 0.0
    if x < a + 1.0:
        return max(0.0, 1.0 - _gamma_p_series(a, x))
    return min(1.0, _gamma_q_fraction(a, x))


def chi2_sf(statistic: float, df: int) -> float:
    """P(X >= statistic) for X ~ chi-square with df degrees of freedom: the test's p-value."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    return gamma_q(df / 2.0, statistic / 2.0)


@dataclass(frozen=True)
class GoodnessOfFit:
    """Observed counts against expected shares. `statistic` is inf when a backend expected to get
    nothing got something: no sampling noise explains that."""

    statistic: float
    df: int
    p_value: float
    n: int
    expected_counts: dict[str, float]
    small_expected: tuple[str, ...]  # categories expected below 5: the p-value is approximate there

    @property
    def mismatch(self) -> bool:
        return self.p_value < SRM_ALPHA


def chi_square_gof(observed: Mapping[str, int], expected_shares: Mapping[str, float]) -> GoodnessOfFit | None:
    """Pearson's chi-square goodness of fit; None when there is nothing to test (no observations).

    Categories expected at 0 % take no degree of freedom; a single category expected at 100 % is
    a test with df 0 that passes exactly when every observation landed in it.
    """
    total_share = sum(expected_shares.values())
    if any(s < 0 for s in expected_shares.values()) or abs(total_share - 1.0) > 1e-6:
        raise ValueError(f"expected shares must be >= 0 and add up to 1, got {dict(expected_shares)}")
    n = sum(observed.values())
    if n == 0:
        return None
    names = sorted(set(observed) | set(expected_shares))
    expected_counts = {name: n * expected_shares.get(name, 0.0) / total_share for name in names}
    impossible = any(observed.get(name, 0) > 0 and expected_counts[name] == 0 for name in names)
    live = [name for name in names if expected_counts[name] > 0]
    df = len(live) - 1
    if impossible:
        statistic, p_value = math.inf, 0.0
    else:
        statistic = sum((observed.get(name, 0) - expected_counts[name]) ** 2 / expected_counts[name] for name in live)
        p_value = chi2_sf(statistic, df) if df >= 1 else 1.0
    small = tuple(name for name in live if expected_counts[name] < 5)
    return GoodnessOfFit(statistic, max(df, 0), p_value, n, expected_counts, small)


def status_class(status: int) -> str:
    """200 -> "2xx"; anything outside 100-599 -> "other"."""
    if 100 <= status <= 599:
        return f"{status // 100}xx"
    return "other"
