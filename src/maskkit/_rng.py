"""Counter-based random bits for numba kernels.

Every random decision is a pure function of a key built from ``(seed, stream, epoch, sample,
haplotype)`` and a counter (the position). There is no generator state to carry, so a mask does
not depend on batch composition, batch order, worker or thread count.

The mixer is the splitmix64 finaliser. Mask decisions use 16-bit words: one 64-bit hash gives
four, and position ``j`` uses bits ``16 * (j % 4)`` to ``16 * (j % 4) + 15`` of
``hash(key, j // 4)`` (``u16_at``): the 16-bit words of the hashes in little-endian memory
order, so a row's words are written as 64-bit hashes and read as 16-bit words (``hash_words``
puts them in that order on big-endian machines too). A rate ``p`` is thus resolved to
``round(p * 2**16) / 2**16`` (within ``2**-17``); four decisions per hash keep the cost of
random bits low on CPUs without a fast 64-bit vector multiply (AVX2, NEON). Other random draws
(fix-up probes, replacement tokens) use 32-bit words (``u32_at``) or 53-bit uniforms.
"""

from __future__ import annotations

import sys

import numpy as np

from ._numba import ijit, jit

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S32 = np.uint64(32)
_S11 = np.uint64(11)
_S16 = np.uint64(16)
_S48 = np.uint64(48)
LOW32 = np.uint64(0xFFFFFFFF)
LOW16 = np.uint64(0xFFFF)
ONE = np.uint64(1)
LITTLE = sys.byteorder == "little"

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
def u16_at(key: np.uint64, j: int) -> np.uint64:
    """Return the 16-bit mask decision word of position ``j`` (the word ``hash_words`` writes)."""
    return (bits(key, j >> 2) >> np.uint64(16 * (j & 3))) & LOW16


@ijit
def hash_words(key: np.uint64, n: int, w: np.ndarray) -> None:
    """Write ``bits(key, q)`` for ``q < n`` into ``w`` so that ``w.view(uint16)[j]`` is ``u16_at``.

    The counter advances by addition (``key + (q + 1) * GOLDEN``), which vectorises without a
    multiply. On a big-endian machine the four 16-bit words of each hash are stored reversed.
    """
    c = key
    for q in range(n):
        c += GOLDEN
        z = mix64(c)
        if LITTLE:
            w[q] = z
        else:
            w[q] = (
                (z << _S48) | ((z << _S16) & (LOW16 << np.uint64(32)))
                | ((z >> _S16) & (LOW16 << _S16)) | (z >> _S48)
            )  # fmt: skip


@jit
def uniform01(key: np.uint64, counter: int) -> float:
    """Return a float in [0, 1) with 53 random bits."""
    return float(bits(key, counter) >> _S11) * (1.0 / 9007199254740992.0)


@jit
def below(h: np.uint64, n: int) -> int:
    """Map 64 random bits to an integer in ``[0, n)`` (multiply-shift; bias below n / 2**32)."""
    return int(((h >> _S32) * np.uint64(n)) >> _S32)
