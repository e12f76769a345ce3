"""Explicit acceptance bounds for the statistical tests (scipy-free).

Every interval here is rigorous: the probability that a correct implementation falls outside it
is at most ``alpha`` (two-sided), from the Chernoff bound with the Kullback-Leibler exponent,
``P(X >= k) <= exp(-n KL(k/n || p))`` for ``k >= n p`` and symmetrically below. Statistical tests
use a fixed seed, so a given test either always passes or always fails; ``alpha`` is the chance
that an arbitrary seed would make a correct implementation fail.
"""

from __future__ import annotations

import math
from typing import Any

ALPHA = 1e-7  # per interval; a test checking m intervals passes alpha / m (union bound)


def _kl(q: float, p: float) -> float:
    """KL divergence between Bernoulli(q) and Bernoulli(p)."""
    out = 0.0
    if q > 0.0:
        out += q * math.log(q / p) if p > 0.0 else math.inf
    if q < 1.0:
        out += (1.0 - q) * math.log((1.0 - q) / (1.0 - p)) if p < 1.0 else math.inf
    return out


def binomial_interval(n: int, p: float, alpha: float = ALPHA) -> tuple[int, int]:
    """Return ``(lo, hi)`` with ``P(lo <= Binomial(n, p) <= hi) >= 1 - alpha``."""
    if not 0.0 <= p <= 1.0 or n < 0:
        raise ValueError(f"bad binomial parameters n={n}, p={p}")
    if p == 0.0:
        return 0, 0
    if p == 1.0:
        return n, n
    target = math.log(2.0 / alpha)
    mean = n * p

    # hi: the smallest k >= mean with P(X >= k) <= alpha/2, minus one (P(X > hi) <= alpha/2)
    lo_k, hi_k = math.ceil(mean), n + 1
    while lo_k < hi_k:  # first k in [ceil(mean), n] whose tail bound reaches the target
        mid = (lo_k + hi_k) // 2
        if n * _kl(mid / n, p) >= target:
            hi_k = mid
        else:
            lo_k = mid + 1
    hi = min(lo_k - 1, n)

    # lo: the largest k <= mean with P(X <= k) <= alpha/2, plus one
    lo_k, hi_k = -1, math.floor(mean)
    while lo_k < hi_k:  # last k in [0, floor(mean)] whose tail bound reaches the target
        mid = (lo_k + hi_k + 1) // 2
        if n * _kl(mid / n, p) >= target:
            lo_k = mid
        else:
            hi_k = mid - 1
    lo = max(lo_k + 1, 0)
    return lo, hi


def assert_binomial(count: int, n: int, p: float, alpha: float = ALPHA, what: str = "") -> None:
    """Assert ``count`` is a plausible draw of ``Binomial(n, p)`` (false-fail prob <= alpha)."""
    lo, hi = binomial_interval(n, p, alpha)
    assert lo <= count <= hi, (
        f"{what}: count {count} of {n} (rate {count / max(n, 1):.5f}) outside the "
        f"[{lo}, {hi}] interval of Binomial({n}, {p:.6f}) at alpha={alpha:g}"
    )


def chi2_sf(x: float, df: int) -> float:
    """``P(X > x)`` for a chi-square law with ``df`` degrees of freedom (regularised gamma)."""
    a, z = df / 2.0, x / 2.0
    if z <= 0.0:
        return 1.0
    log_front = a * math.log(z) - z - math.lgamma(a)
    if z < a + 1.0:  # series for the lower tail P(a, z), then 1 - P
        term = total = 1.0 / a
        k = a
        while term > total * 1e-17:
            k += 1.0
            term *= z / k
            total += term
        return max(0.0, 1.0 - math.exp(log_front) * total)
    # continued fraction (Lentz) for the upper tail Q(a, z)
    tiny = 1e-300
    b = z + 1.0 - a
    c = 1.0 / tiny
    d = 1.0 / b
    h = d
    for i in range(1, 10_000):
        an = -i * (i - a)
        b += 2.0
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1.0 / d
        step = d * c
        h *= step
        if abs(step - 1.0) < 1e-15:
            break
    return math.exp(log_front) * h


def assert_uniform_counts(counts: Any, alpha: float = ALPHA) -> None:
    """Assert category counts are a plausible uniform multinomial draw (Pearson chi-square).

    The false-fail probability is ``alpha`` under the chi-square law of the statistic, which
    holds closely when every category expects hundreds of counts or more (checked: >= 500).
    """
    c = [int(x) for x in counts]
    n, k = sum(c), len(c)
    expected = n / k
    assert expected >= 500, f"{expected:.0f} expected per category: too few for the chi-square law"
    stat = sum((x - expected) ** 2 for x in c) / expected
    p = chi2_sf(stat, k - 1)
    assert p >= alpha, (
        f"chi-square {stat:.1f} on {k - 1} degrees of freedom (p = {p:.3g} < {alpha:g}): "
        f"counts {min(c)}..{max(c)}, expected {expected:.0f} each"
    )
