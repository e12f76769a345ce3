"""The by-value caches of the mask functions' per-call checks give what a fresh check gives."""

from __future__ import annotations

import numpy as np
import pytest

import maskkit as mk
from maskkit import _validate as v
from maskkit import rules


def _haps() -> np.ndarray:
    return (np.random.default_rng(3).random((6, 200)) < 0.3).astype(np.int8)


def test_af_mask_rate_table_changed_in_place_is_read_again() -> None:
    haps = _haps()
    freq = np.random.default_rng(4).random(200)
    table = np.array([[0.0, 0.0], [0.0, 0.0]])
    assert not mk.af_mask(haps, freq, [0.2], table, seed=1).any()
    table[:] = 1.0  # same array object, new values: a cache by identity would keep zeros
    assert mk.af_mask(haps, freq, [0.2], table, seed=1)[haps >= 0].all()


def test_af_mask_cached_options_match_a_fresh_rule() -> None:
    haps = _haps()
    freq = np.random.default_rng(5).random(200)
    table = [[0.5, 0.3, 0.15], [0.9, 0.8, 0.7]]
    first = mk.af_mask(haps, freq, [0.01, 0.05], table, scale=0.5, seed=2)
    again = mk.af_mask(haps, freq, [0.01, 0.05], np.array(table), scale=0.5, seed=2)
    rule = rules.AlleleFrequency(edges=(0.01, 0.05), rates=table, scale=0.5)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, rule.draw(haps, seed=2, freq=freq))


@pytest.mark.parametrize(
    "rates", [[True, False], [[True, False], [True, False]], np.array([True, False])]
)
def test_af_mask_bool_rates_refused_after_equal_float_rates(rates: object) -> None:
    haps = _haps()
    freq = np.full(200, 0.3)
    mk.af_mask(haps, freq, [0.2], [1.0, 0.0], seed=1)  # cached: [1.0, 0.0] == [True, False]
    mk.af_mask(haps, freq, [0.2], [[1.0, 0.0], [1.0, 0.0]], seed=1)
    with pytest.raises(TypeError, match="rates"):
        mk.af_mask(haps, freq, [0.2], rates, seed=1)


def test_af_mask_bad_rates_refused_on_every_call() -> None:
    haps = _haps()
    freq = np.full(200, 0.3)
    for _ in range(2):
        with pytest.raises(ValueError, match="rates"):
            mk.af_mask(haps, freq, [0.2], [1.5, 0.0], seed=1)


def test_array_mask_keep_changed_in_place_is_read_again() -> None:
    haps = np.zeros((2, 50), dtype=np.int8)
    keep = np.zeros(50, dtype=bool)
    assert mk.array_mask(haps, keep, seed=0).all()
    keep[:] = True  # same array object, new flags
    assert not mk.array_mask(haps, keep, seed=0).any()


@pytest.mark.parametrize(
    ("a", "b", "shared"),
    [
        (np.zeros(8), np.zeros(8), False),
        (np.zeros((2, 4)), np.zeros(8).reshape(2, 4), False),
    ],
)
def test_shares_memory_of_different_owners(a: np.ndarray, b: np.ndarray, shared: bool) -> None:
    assert v._shares_memory(a, b) is shared


def test_shares_memory_of_views_of_one_owner() -> None:
    x = np.zeros(16, dtype=bool)
    assert v._shares_memory(x[:8], x[4:])
    assert not v._shares_memory(x[:8], x[8:])
    assert v._shares_memory(x.reshape(4, 4), x.view(np.int8))
    assert v._shares_memory(np.frombuffer(x, dtype=np.int8), x)
