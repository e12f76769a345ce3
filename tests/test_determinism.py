"""A mask is a pure function of (seed, epoch, sample, haplotype, position) and the rule.

Same inputs give bit-identical masks; batch order, batch composition, padding, numba thread count
and worker processes change nothing; epoch and seed change the mask.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import numba
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from strategies import MaskCase, mask_cases

import maskkit as mk

MODES = [
    pytest.param(False, False, id="bernoulli-random"),
    pytest.param(True, False, id="exact-random"),
    pytest.param(False, True, id="bernoulli-class"),
    pytest.param(True, True, id="exact-class"),
]


def _mask(case: MaskCase, exact: bool, by_class: bool, **kw: Any) -> np.ndarray:
    args = {**case.kwargs, **kw}
    if by_class:
        return mk.smart_balanced_mask(case.haps, case.ref_rate, case.alt_rate, exact=exact, **args)
    return mk.random_mask(case.haps, case.ref_rate, exact=exact, **args)


def _take(value: Any, idx: np.ndarray) -> Any:
    """Select samples from a per-sample argument (scalars and None pass through)."""
    return value[idx] if isinstance(value, np.ndarray) else value


def _subcase(case: MaskCase, idx: np.ndarray) -> MaskCase:
    ids = np.arange(case.haps.shape[0]) if case.indices is None else case.indices
    return MaskCase(
        haps=case.haps[idx],
        ref_rate=_take(case.ref_rate, idx),
        alt_rate=_take(case.alt_rate, idx),
        seed=case.seed,
        epoch=case.epoch,
        indices=ids[idx],
        lengths=_take(case.lengths, idx),
    )


@pytest.mark.parametrize(("exact", "by_class"), MODES)
@given(case=mask_cases(), parallel=st.booleans())
def test_same_inputs_bit_identical(
    case: MaskCase, parallel: bool, exact: bool, by_class: bool
) -> None:
    a = _mask(case, exact, by_class)
    b = _mask(case, exact, by_class, parallel=parallel)
    np.testing.assert_array_equal(a, b)
    haps_copy = case.haps.copy()
    _mask(case, exact, by_class)
    np.testing.assert_array_equal(case.haps, haps_copy)  # inputs untouched


@pytest.mark.parametrize(("exact", "by_class"), MODES)
@given(case=mask_cases(), data=st.data())
def test_batch_order_and_composition(
    case: MaskCase, data: st.DataObject, exact: bool, by_class: bool
) -> None:
    """A sample's mask depends on its global index only, not on its batch neighbours or slot."""
    n = case.haps.shape[0]
    full = _mask(case, exact, by_class)
    idx = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    idx = idx[: data.draw(st.integers(0, n))]  # a reordered sub-batch
    sub = _subcase(case, idx)
    np.testing.assert_array_equal(_mask(sub, exact, by_class), full[idx])


@pytest.mark.parametrize(("exact", "by_class"), MODES)
@given(case=mask_cases(), extra=st.integers(1, 9), junk=st.sampled_from([-1, 0, 1, 2]))
def test_padding_invariance(
    case: MaskCase, extra: int, junk: int, exact: bool, by_class: bool
) -> None:
    """Padding a row longer (with any content) leaves the mask of its real part unchanged."""
    h = case.haps
    sites = h.shape[-1]
    lengths = np.full(h.shape[0], sites) if case.lengths is None else case.lengths
    padded = np.concatenate([h, np.full((*h.shape[:-1], extra), junk, dtype=h.dtype)], axis=-1)
    base = _mask(case, exact, by_class, lengths=lengths)
    longer = MaskCase(padded, case.ref_rate, case.alt_rate, case.seed, case.epoch,
                      case.indices, lengths)  # fmt: skip
    m = _mask(longer, exact, by_class)
    np.testing.assert_array_equal(m[..., :sites], base)
    assert not m[..., sites:].any()
    # and the content beyond the length never matters either
    scrambled = padded.copy()
    real = np.arange(sites + extra)[None, :] < lengths[:, None]
    if h.ndim == 3:
        real = np.broadcast_to(real[:, None, :], padded.shape)
    scrambled[~real] = (junk + 1) % 3
    again = MaskCase(scrambled, case.ref_rate, case.alt_rate, case.seed, case.epoch,
                     case.indices, lengths)  # fmt: skip
    np.testing.assert_array_equal(_mask(again, exact, by_class), m)


@given(case=mask_cases(ndim=2))
def test_two_d_rows_are_ploidy_one_samples(case: MaskCase) -> None:
    """A 2-D batch keys row r as (sample r, haplotype 0), like a 3-D batch of ploidy 1."""
    for exact in (False, True):
        two = _mask(case, exact, True)
        three = _mask(MaskCase(case.haps[:, None, :], case.ref_rate, case.alt_rate, case.seed,
                               case.epoch, case.indices, case.lengths), exact, True)  # fmt: skip
        np.testing.assert_array_equal(two, three[:, 0, :])


@pytest.mark.parametrize(("exact", "by_class"), MODES)
def test_epoch_and_seed_change_the_mask(exact: bool, by_class: bool) -> None:
    rng = np.random.default_rng(1)
    haps = rng.integers(-1, 3, size=(4, 2, 500)).astype(np.int8)
    case = MaskCase(haps, 0.5, 0.5, seed=10, epoch=0, indices=None, lengths=None)
    base = _mask(case, exact, by_class)
    # P(two independent masks of ~1000 eligible positions per sample agree) < 2**-300
    for kw in ({"epoch": 1}, {"seed": 11}, {"indices": np.arange(4) + 1}):
        other = _mask(case, exact, by_class, **kw)
        for s in range(4):
            assert not np.array_equal(other[s], base[s]), kw
    # the haplotypes of one sample get different masks, even when their alleles are equal
    same = np.repeat(haps[:, :1], 2, axis=1)
    twin = _mask(MaskCase(same, 0.5, 0.5, seed=10, epoch=0, indices=None, lengths=None),
                 exact, by_class)  # fmt: skip
    for s in range(4):
        assert not np.array_equal(twin[s, 0], twin[s, 1])


# ----------------------------------------------------------------------------- threads, processes


def _big_batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(2)
    haps = rng.choice(np.array([0, 0, 0, 1, -1], dtype=np.int8), size=(64, 2, 3001))
    lengths = rng.integers(0, 3002, size=64)
    return haps, lengths


@pytest.mark.parametrize(
    "fn",
    [
        lambda h, **kw: mk.random_mask(h, 0.37, **kw),
        lambda h, **kw: mk.random_mask(h, 0.37, exact=True, **kw),
        lambda h, **kw: mk.smart_balanced_mask(h, 0.3, 0.7, exact=True, **kw),
        lambda h, **kw: mk.smart_balanced_mask(h, np.linspace(0, 1, len(h)), 0.7, **kw),
    ],
    ids=["bernoulli", "exact", "exact-class", "per-sample-rates"],
)
@pytest.mark.parametrize("batch", ["long rows", "short rows"])
def test_thread_invariance(fn: Callable[..., np.ndarray], batch: str) -> None:
    """parallel=True under 1 and 2 numba threads equals the serial kernel, bit for bit.

    Short rows make the exact mode's fix-up use its per-thread scratch buffer often.
    """
    if batch == "long rows":
        haps, lengths = _big_batch()
    else:
        rng = np.random.default_rng(3)
        haps = rng.choice(np.array([0, 1, -1], dtype=np.int8), size=(20000, 2, 9))
        lengths = rng.integers(0, 10, size=20000)
    kw = {"seed": 2**64 - 1, "epoch": 3, "lengths": lengths}
    serial = fn(haps, **kw)
    before = numba.get_num_threads()
    try:
        for threads in sorted({1, min(2, getattr(numba.config, "NUMBA_NUM_THREADS", 1))}):
            numba.set_num_threads(threads)
            for _ in range(2):
                np.testing.assert_array_equal(fn(haps, parallel=True, **kw), serial)
    finally:
        numba.set_num_threads(before)


def _worker_masks(sample_ids: list[int]) -> dict[int, bytes]:
    """Run in a worker process: masks for some samples, keyed by global id."""
    haps, lengths = _big_batch()
    idx = np.asarray(sample_ids, dtype=np.int64)
    m = mk.smart_balanced_mask(
        haps[idx], 0.3, 0.7, seed=5, epoch=2, indices=idx, lengths=lengths[idx], exact=True
    )
    return {int(i): m[k].tobytes() for k, i in enumerate(idx)}


def test_worker_process_invariance() -> None:
    """Two worker processes, each with an interleaved shard, give the single-process masks."""
    haps, lengths = _big_batch()
    want = mk.smart_balanced_mask(haps, 0.3, 0.7, seed=5, epoch=2, lengths=lengths, exact=True)
    shards = [list(range(0, 64, 2))[::-1], list(range(1, 64, 2))]
    ctx = multiprocessing.get_context("spawn")  # fork after numba's threads start is unsafe
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        got: dict[int, bytes] = {}
        for part in pool.map(_worker_masks, shards):
            got.update(part)
    assert sorted(got) == list(range(64))
    for i in range(64):
        assert got[i] == want[i].tobytes(), f"sample {i}"
