"""The shared pieces of ``maskkit._kernels`` against small NumPy references.

The golden mask tests (``test_masks.py``, ``test_rules.py``) check whole rules; these check the
decision loop in each of its modes, the 80/10/10 replacement shared by ``collate`` and
``mask_tokens``, and the sample / table lookups, directly.
"""

from __future__ import annotations

import numpy as np
import pytest
import reference as ref

from maskkit import _data_kernels, _token_kernels
from maskkit import _kernels as K

SITES = 203  # not a multiple of 4 or 8: the tail of the vector loops runs too
FULL = K.FULL16


def _row_data(seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    h = rng.integers(-1, 3, size=(3, SITES)).astype(np.int8)  # missing, ref, two alts
    w16 = rng.integers(0, 2**16, size=SITES).astype(np.uint16)
    return h, w16


def _site_tables(t_ref: np.ndarray, t_alt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``_spread``'s packed one-threshold-per-site table (uint16 pairs in a uint32 array)."""
    lo = np.empty(2 * SITES, dtype=np.uint16)
    lo[0::2] = np.minimum(t_alt, 65535)
    lo[1::2] = np.where(t_alt >= FULL, 65535, 0)
    return lo, lo.view(np.uint32)


@pytest.mark.parametrize("mode", [K._ONE, K._CLASSES, K._SITES, K._SITE_CLASSES])
@pytest.mark.parametrize("combine", [False, True])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decide_every_mode_matches_threshold_compare(mode, combine, seed):
    h, w16 = _row_data(seed)
    rng = np.random.default_rng(100 + seed)
    # thresholds from rate 0 to rate 1 (FULL16: every word is below it)
    pick = np.array([0, 1, 9830, 32768, 65535, FULL])
    if mode in (K._ONE, K._CLASSES):
        t0, t1 = (int(x) for x in rng.choice(pick, 2))
        if mode == K._ONE:
            t1 = t0
        t_ref = np.full(SITES, t0, dtype=np.int64)
        t_alt = np.full(SITES, t1, dtype=np.int64)
    else:
        t_ref = rng.choice(pick, SITES).astype(np.int64)
        t_alt = t_ref.copy() if mode == K._SITES else rng.choice(pick, SITES).astype(np.int64)
    length = SITES - 17
    r = 1
    before = np.random.default_rng(seed).random((2, SITES)) < 0.5
    o = before.copy()

    a = h[r].astype(np.int64)
    t = np.where(a > 0, t_alt, t_ref)
    sel = (w16.astype(np.int64) < t) & (a >= 0)
    want = before.copy()
    want[1, :length] = (before[1, :length] & combine) | sel[:length]
    if not combine:
        want[1, length:] = False

    lo, packed = _site_tables(t_ref, t_alt)
    t32_ref = t_ref.astype(np.uint32)
    t32_alt = t_alt.astype(np.uint32)
    b0, f0 = np.uint16(min(t_ref[0], 65535)), bool(t_ref[0] >= FULL)
    b1, f1 = np.uint16(min(t_alt[0], 65535)), bool(t_alt[0] >= FULL)
    if mode == K._SITES:
        t32_alt = packed
    n_elig, m_all = K._decide(
        mode, h, r, length, w16, b0, f0, b1, f1, lo, t32_ref, t32_alt, o, 1, combine, True, np.int16
    )
    np.testing.assert_array_equal(o, want)
    assert n_elig == int((a[:length] >= 0).sum())
    assert m_all == int(sel[:length].sum())


@pytest.mark.parametrize(
    ("t_mask", "t_keep"),
    [(2**32, 2**32), (0, 0), (0, 2**32), (3435973837, 3865470566), (2**31, 2**31)],
)
def test_replace_matches_reference(t_mask, t_keep):
    """80/10/10 as the reference defines it: word < t_mask -> MASK, >= t_keep -> true token."""
    key_rep = ref.row_key_int(5, ref.STREAM_REPLACE, 2, 7, 1)
    key_all = ref.row_key_int(5, ref.STREAM_REPLACE_ALLELE, 2, 7, 1)
    pool = np.array([11, 12, 13], dtype=np.int64)
    seen = set()
    for j in range(400):
        u = ref.word_int(key_rep, j)
        want = 99 if u < t_mask else (50 if u >= t_keep else int(pool[ref.below_int(
            ref.bits_int(key_all, j), 3)]))  # fmt: skip
        got = K.replace(np.uint64(key_rep), np.uint64(key_all), j, 50, np.uint64(t_mask),
                        np.uint64(t_keep), 99, pool)  # fmt: skip
        assert got == want
        seen.add(got)
    if (t_mask, t_keep) == (3435973837, 3865470566):  # every kind of token appears in 400 draws
        assert seen == {99, 50, 11, 12, 13}


def test_replacement_keys_are_the_row_keys_of_the_sample():
    indices = np.array([4, 9, 30], dtype=np.int64)
    for r in range(6):
        k_rep, k_all = K.replacement_keys(np.uint64(3), 8, r, 2, indices)
        assert int(k_rep) == ref.row_key_int(3, ref.STREAM_REPLACE, 8, int(indices[r // 2]), r % 2)
        assert int(k_all) == ref.row_key_int(
            3, ref.STREAM_REPLACE_ALLELE, 8, int(indices[r // 2]), r % 2
        )


def test_who_and_at():
    none = np.zeros(0, dtype=np.int64)
    idx = np.array([10, 20, 30], dtype=np.int64)
    assert K._who(5, 2, none) == (2, 2, 1)
    assert K._who(5, 2, idx) == (2, 30, 1)
    assert K._who(4, 1, idx[:1].repeat(5)) == (4, 10, 0)
    assert K._at(np.zeros(1), 6) == 0
    assert K._at(np.zeros(7), 6) == 6


def test_mask_tokens_kernel_without_random_ids():
    """No random ids: the kernel never reads the (empty) pool; tokens are MASK or kept."""
    rng = np.random.default_rng(3)
    ids = rng.integers(5, 50, size=(4, 300)).astype(np.int64)
    mask = rng.random((4, 300)) < 0.5
    out = np.empty_like(ids)
    labels = np.empty_like(ids)
    t = np.uint64(int(0.8 * 2**32))
    n = _token_kernels.mask_tokens(
        ids, mask, 1, 1, np.zeros(0, np.int64), np.uint64(1), 0, t, t, 4,
        np.zeros(0, np.int64), np.zeros(0, np.int64), -100, out, labels,
    )  # fmt: skip
    assert n == 0
    want = ids.copy()
    for r in range(4):
        key = ref.row_key_int(1, ref.STREAM_REPLACE, 0, r, 0)
        for j in np.flatnonzero(mask[r]):
            if ref.word_int(key, int(j)) < int(t):
                want[r, j] = 4
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(labels, np.where(mask, ids, -100))


@pytest.mark.parametrize(("n_sites", "at"), [(1, 0), (64, 3), (150, 7)])
def test_gather_sites_matches_numpy_transpose(n_sites, at):
    rng = np.random.default_rng(n_sites)
    slab = rng.integers(-1, 3, (n_sites, 9, 2), dtype=np.int8)
    cols = np.array([4, 0, 4, 8], dtype=np.int64)  # repeated and unsorted
    rows = np.array([5, 1, 0, 3], dtype=np.int64)
    out = np.full((6, 2, n_sites + at + 2), 99, dtype=np.int8)
    expected = out.copy()
    expected[rows, :, at : at + n_sites] = slab.transpose(1, 2, 0)[cols]
    _data_kernels.gather_sites(slab, cols, rows, at, out)
    np.testing.assert_array_equal(out, expected)  # rows 2 and 4 and the margins untouched
