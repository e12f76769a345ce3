"""Counter-based random bits for numba kernels.

Every random decision is a pure function of a key built from ``(seed, stream, epoch, sample,
haplotype)`` and a counter (the position). There is no generator state to carry, so a mask does
not depend on batch composition, batch order, worker or thread count.

The mixer is the splitmix64 finaliser. One 64-bit hash gives two 32-bit decisions: position ``j``
uses the low half of ``hash(key, j // 2)`` when ``j`` is even and the high half when odd:
the 32-bit words of the hashes in little-endian memory order, so a row's words can be
written as 64-bit hashes and read as 32-bit words.
"""

from __future__ import annotations

import numpy as np

from ._numba import jit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
LOW32 = np.uint64(0xFFFFFFFF)
ONE = np.uint64(1)

# Streams keep independent decisions about the same position apart.
STREAM_MASK = 1
STREAM_EXACT_ROUND = 2
STREAM_EXACT_FIX = 3
STREAM_REPLACE = 4
STREAM_REPLACE_ALLELE = 5
STREAM_SAMPLE_RATE = 6
STREAM_SPAN = 7  # span lengths (even counters) and starts (odd counters)
STREAM_SPAN_ROUND = 8  # a span row's stochastically rounded target


@jit
def mix64(z: np.uint64) -> np.uint64:
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@jit
def row_key(seed: np.uint64, stream: int, epoch: int, sample: int, hap: int) -> np.uint64:
    k = mix64(seed + GOLDEN)
    k = mix64(k ^ (np.uint64(stream) * GOLDEN + ONE))
    k = mix64(k ^ (np.uint64(epoch) * GOLDEN + ONE))
    k = mix64(k ^ (np.uint64(sample) * GOLDEN + ONE))
    return mix64(k ^ (np.uint64(hap) * GOLDEN + ONE))


@jit
def bits(key: np.uint64, counter: int) -> np.uint64:
    """Return 64 random bits for ``counter`` under ``key`` (splitmix64 at state key + counter)."""
    return mix64(key + (np.uint64(counter) + ONE) * GOLDEN)


@jit
def u32_at(key: np.uint64, j: int) -> np.uint64:
    """Return the 32-bit decision word of position ``j`` (same word the row kernels use)."""
    h = bits(key, j >> 1)
    if j & 1:
        return h >> _S32
    return h & LOW32


@jit
def uniform01(key: np.uint64, counter: int) -> float:
    """Return a float in [0, 1) with 53 random bits."""
    return float(bits(key, counter) >> _S11) * (1.0 / 9007199254740992.0)


@jit
def below(h: np.uint64, n: int) -> int:
    """Map 64 random bits to an integer in ``[0, n)`` (multiply-shift; bias below n / 2**32)."""
    return int(((h >> _S32) * np.uint64(n)) >> _S32)
