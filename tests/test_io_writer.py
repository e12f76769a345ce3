import os
import threading

import h5py
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from maskkit import io


def _haps(seed=0, shape=(7, 2, 50), high=3):
    rng = np.random.default_rng(seed)
    return rng.integers(-1, high, size=shape).astype(np.int8)


def test_round_trip_with_every_field(tmp_path):
    haps = _haps()
    pos = np.arange(1, 51) * 7
    names = [f"NA{i:03d}" for i in range(7)]
    ref = ["A"] * 50
    alt = ["G"] * 50
    path = io.write_store(
        tmp_path / "s.h5",
        haps,
        positions=pos,
        samples=names,
        ref=ref,
        alt=alt,
        phased=True,
        attrs={"source": "test"},
        chunk_sites=16,
    )
    store = io.open_store(path, verbose=False)
    np.testing.assert_array_equal(store.to_numpy(), haps)
    np.testing.assert_array_equal(store.positions, pos)
    assert store.samples.tolist() == names
    assert store.phased is True
    got_ref, got_alt = store.ref_alt()
    assert got_ref.tolist() == ref
    assert got_alt.tolist() == alt
    with h5py.File(path) as f:  # scikit-allel's layout and dtypes
        assert f["calldata/GT"].dtype == np.int8
        assert f["calldata/GT"].shape == (50, 7, 2)
        assert f["calldata/GT"].chunks[0] == 16
        assert f["variants/POS"].dtype == np.int32
        assert f.attrs["source"] == "test"


def test_defaults_and_wide_dtypes(tmp_path):
    haps = _haps(1).astype(np.int64)
    haps[0, 0, 0] = -7  # any negative value is missing
    haps[1, 1, 1] = 127  # the largest allele index int8 holds
    path = io.write_store(tmp_path / "s.h5", haps, positions=np.arange(1, 51))
    store = io.open_store(path, verbose=False)
    expected = np.where(haps < 0, -1, haps).astype(np.int8)
    np.testing.assert_array_equal(store.to_numpy(), expected)
    assert store.samples.tolist() == [f"sample{i}" for i in range(7)]
    assert store.phased is None
    assert store.ref_alt() is None


@given(
    hnp.arrays(
        np.int16,
        hnp.array_shapes(min_dims=3, max_dims=3, min_side=1, max_side=6),
        elements=st.integers(-3, 127),
    )
)
def test_round_trip_property(tmp_path_factory, haps):
    path = tmp_path_factory.mktemp("w") / "s.h5"
    pos = np.arange(1, haps.shape[2] + 1)
    io.write_store(path, haps, positions=pos, chunk_sites=4)
    got = io.open_store(path, verbose=False).to_numpy()
    np.testing.assert_array_equal(got, np.where(haps < 0, -1, haps))


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"genotypes": np.zeros((2, 2, 3), np.float32)}, TypeError, "integer allele"),
        ({"genotypes": np.zeros((2, 2, 3), bool)}, TypeError, "integer allele"),
        ({"genotypes": np.zeros((2, 3), np.int8)}, ValueError, r"genotypes\[:, None, :\]"),
        ({"genotypes": np.zeros((0, 2, 3), np.int8)}, ValueError, "at least one sample"),
        ({"genotypes": np.full((2, 2, 3), 128, np.int16)}, ValueError, "allele index 128"),
        ({"genotypes": np.full((2, 2, 3), 300, np.int16)}, ValueError, "never|up to 127"),
        ({"positions": [1, 2]}, ValueError, "positions has 2 entries"),
        ({"positions": [0, 1, 2]}, ValueError, "1-based"),
        ({"positions": [3, 2, 5]}, ValueError, "sorted"),
        ({"positions": [1.0, 2.0, 3.0]}, TypeError, "positions must be integer"),
        ({"positions": [[1, 2, 3]]}, ValueError, "positions must be 1-D"),
        ({"samples": ["a"]}, ValueError, "one entry per sample"),
        ({"samples": ["a", "a"]}, ValueError, "unique"),
        ({"samples": ["a", ""]}, ValueError, "non-empty"),
        ({"ref": ["A", "C", "G"]}, ValueError, "both ref and alt"),
        ({"ref": ["A", "C", "G"], "alt": ["T", "T"]}, ValueError, "alt must be 1-D"),
        ({"ref": ["A", "C", "G"], "alt": ["T", "T", "é"]}, ValueError, "ASCII"),
        ({"chunk_sites": 0}, ValueError, "chunk_sites"),
        (
            {"positions": np.array([1, 2, 2**63 + 5], dtype=np.uint64)},
            ValueError,
            r"positions holds 9223372036854775813, outside int64",
        ),
        ({"positions": np.array([1, 2, 2**64 - 1], np.uint64)}, ValueError, "outside int64"),
    ],
)
def test_bad_input_names_the_argument_and_writes_nothing(tmp_path, kwargs, exc, match):
    args = {"genotypes": np.zeros((2, 2, 3), np.int8), "positions": [1, 2, 3], **kwargs}
    genotypes = args.pop("genotypes")
    with pytest.raises(exc, match=match):
        io.write_store(tmp_path / "s.h5", genotypes, **args)
    assert os.listdir(tmp_path) == []


def test_variants_first_order_gets_a_hint(tmp_path):
    allel_order = np.zeros((5, 3, 2), np.int8)  # (variants, samples, ploidy)
    with pytest.raises(ValueError, match=r"transpose\(1, 2, 0\)"):
        io.write_store(tmp_path / "s.h5", allel_order, positions=np.arange(1, 6))


def test_overwrite_is_explicit(tmp_path):
    path = io.write_store(tmp_path / "s.h5", _haps(), positions=np.arange(1, 51))
    with pytest.raises(FileExistsError, match="overwrite=True"):
        io.write_store(path, _haps(2), positions=np.arange(1, 51))
    np.testing.assert_array_equal(io.open_store(path).to_numpy(), _haps())
    io.write_store(path, _haps(2), positions=np.arange(1, 51), overwrite=True)
    np.testing.assert_array_equal(io.open_store(path).to_numpy(), _haps(2))


def test_reader_never_sees_a_half_written_store(tmp_path, monkeypatch):
    """Readers polling the target during a slow write see no file, then the whole store."""
    path = tmp_path / "s.h5"
    haps = _haps(3, shape=(20, 2, 400))
    seen = []
    done = threading.Event()

    def poll():
        while not done.is_set():
            if path.exists():
                seen.append(io.open_store(path, verbose=False).to_numpy())
                return

    real = h5py.Dataset.__setitem__

    def slow(self, key, value):  # widen the window a reader could hit mid-write
        real(self, key, value)
        assert not path.exists()

    monkeypatch.setattr(h5py.Dataset, "__setitem__", slow)
    reader = threading.Thread(target=poll)
    reader.start()
    io.write_store(path, haps, positions=np.arange(1, 401), chunk_sites=8)
    done.set()
    reader.join()
    np.testing.assert_array_equal(io.open_store(path).to_numpy(), haps)
    for got in seen:
        np.testing.assert_array_equal(got, haps)


def test_failed_write_leaves_no_file(tmp_path, monkeypatch):
    path = tmp_path / "s.h5"

    def boom(self, key, value):
        raise OSError("disk full")

    monkeypatch.setattr(h5py.Dataset, "__setitem__", boom)
    with pytest.raises(OSError, match="disk full"):
        io.write_store(path, _haps(), positions=np.arange(1, 51))
    assert os.listdir(tmp_path) == []


def test_uint64_positions_that_fit_are_stored_exactly(tmp_path):
    pos = np.array([1, 2, 2**63 - 1], dtype=np.uint64)
    path = io.write_store(tmp_path / "s.h5", np.zeros((1, 2, 3), np.int8), positions=pos)
    assert io.open_store(path).positions.tolist() == [1, 2, 2**63 - 1]
