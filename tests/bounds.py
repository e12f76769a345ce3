"""Explicit acceptance bounds for the statistical tests (scipy-free).

Every interval here is rigorous: the probability that a correct implementation falls outside it
is at most ``alpha`` (two-sided), from the Chernoff bound with the Kullback-Leibler exponent,
``P(X >= k) <= exp(-n KL(k/n || p))`` for ``k >= n p`` and symmetrically below. Statistical tests
use a fixed seed, so a given test either always passes or always fails; ``alpha`` is the chance
that an arbitrary seed would make a correct implementation fail.
"""

from __future__ import annotations

import math

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
