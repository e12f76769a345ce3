import multiprocessing as mp
import os
import pickle
import sys

import h5py
import numpy as np
import pytest

from maskkit import io
from maskkit.io import store as store_mod


def _write_store(path, gt, *, samples=True, pos=True, chunks=None):
    with h5py.File(path, "w") as f:
        f.create_dataset("calldata/GT", data=gt, chunks=chunks)
        if pos:
            f.create_dataset("variants/POS", data=np.arange(1, gt.shape[0] + 1) * 10)
        if samples:
            f.create_dataset(
                "samples", data=np.array([f"s{i}".encode() for i in range(gt.shape[1])])
            )
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    rng = np.random.default_rng(0)
    gt = rng.integers(-1, 3, size=(300, 40, 2)).astype(np.int8)  # (variants, samples, ploidy)
    path = _write_store(tmp_path_factory.mktemp("store") / "s.h5", gt, chunks=(64, 8, 2))
    return path, gt.transpose(1, 2, 0).copy()  # (samples, ploidy, sites)


def test_metadata(data):
    path, haps = data
    store = io.open_store(path)
    assert (store.n_samples, store.ploidy, store.n_sites) == haps.shape
    assert store.samples.tolist() == [f"s{i}" for i in range(40)]
    np.testing.assert_array_equal(store.positions, np.arange(1, 301) * 10)
    assert store.phased is None
    assert store.ref_alt() is None
    assert store.nbytes == haps.size


@pytest.mark.parametrize(
    "idx",
    [[0], [5, 3, 5, 39], list(range(40)), [39, 0], [2, 3, 4, 5, 6, 7, 30], []],
)
@pytest.mark.parametrize(("start", "stop"), [(0, 300), (17, 93), (299, 300), (50, 50)])
@pytest.mark.parametrize("mode", ["hdf5-span", "hdf5-list", "memory"])
def test_read_equals_numpy_slicing(data, idx, start, stop, mode, monkeypatch):
    path, haps = data
    if mode == "hdf5-list":  # force h5py list selections for sparse columns
        monkeypatch.setattr(store_mod, "_SPAN_BYTES", 0)
    store = io.HaplotypeStore(path, in_memory=mode == "memory", verbose=False)
    got = store.read(np.array(idx, dtype=np.int64), start, stop)
    assert got.dtype == np.int8
    assert got.flags.c_contiguous
    np.testing.assert_array_equal(got, haps[np.array(idx, dtype=np.int64)][:, :, start:stop])


@pytest.mark.parametrize("span_bytes", [0, 2**30])
def test_read_is_one_hdf5_read(data, monkeypatch, span_bytes):
    path, haps = data
    monkeypatch.setattr(store_mod, "_SPAN_BYTES", span_bytes)
    store = io.open_store(path)
    ds_cls = h5py.Dataset
    calls = []
    orig = ds_cls.__getitem__

    def counting(self, key, *a, **k):
        calls.append(key)
        return orig(self, key, *a, **k)

    monkeypatch.setattr(ds_cls, "__getitem__", counting)
    for idx in ([1, 38, 20, 7], list(range(10, 30))):  # sparse and dense
        calls.clear()
        got = store.read(idx, 10, 200)
        assert len(calls) == 1
        sparse = idx[0] == 1 and span_bytes == 0
        assert isinstance(calls[0][1], slice) != sparse  # column range vs list selection
        np.testing.assert_array_equal(got, haps[idx][:, :, 10:200])


def test_in_memory_prints_size(data, capsys):
    path, haps = data
    store = io.open_store(path, in_memory=True, verbose=True)
    np.testing.assert_array_equal(store.to_numpy(), haps)
    err = capsys.readouterr().err
    assert "into memory" in err
    assert "MiB" in err
    assert "300 sites" in err
    io.open_store(path, in_memory=True).to_numpy()  # quiet by default
    assert capsys.readouterr().err == ""


def test_errors_name_the_problem(data, tmp_path):
    path, _ = data
    store = io.open_store(path)
    with pytest.raises(io.WindowError, match="n_sites=300"):
        store.read([0], 10, 301)
    with pytest.raises(io.WindowError, match="start=20, stop=10"):
        store.read([0], 20, 10)
    with pytest.raises(IndexError, match=r"\[0, 40\)"):
        store.read([40], 0, 1)
    with pytest.raises(TypeError, match="integer"):
        store.read([0.5], 0, 1)
    with pytest.raises(FileNotFoundError, match="maskkit convert"):
        io.open_store(tmp_path / "missing.h5")
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(io.StoreFormatError, match="not an HDF5 file"):
        io.open_store(text)
    empty = tmp_path / "nogt.h5"
    with h5py.File(empty, "w") as f:
        f.create_dataset("variants/POS", data=[1])
    with pytest.raises(io.StoreFormatError, match=r"calldata/GT.*maskkit convert"):
        io.open_store(empty)
    nopos = _write_store(tmp_path / "nopos.h5", np.zeros((3, 2, 2), np.int8), pos=False)
    with pytest.raises(io.StoreFormatError, match="variants/POS"):
        io.open_store(nopos)


def test_ploidy_check(tmp_path):
    hap = _write_store(tmp_path / "hap.h5", np.zeros((5, 3, 1), np.int8))
    store = io.open_store(hap)
    assert store.ploidy == 1
    store.require_ploidy(1)
    with pytest.raises(io.PloidyError, match="ploidy 1 but ploidy 2 is required"):
        store.require_ploidy(2)


def test_missing_samples_dataset_gets_default_names(tmp_path):
    p = _write_store(tmp_path / "ns.h5", np.zeros((2, 3, 2), np.int8), samples=False)
    assert io.open_store(p).samples.tolist() == ["sample0", "sample1", "sample2"]


def test_close_and_context_manager(data):
    path, haps = data
    with io.open_store(path) as store:
        store.read([0], 0, 3)
        assert store._file is not None
    assert store._file is None
    np.testing.assert_array_equal(store.read([1], 0, 3), haps[[1]][:, :, :3])  # re-opens
    store.close()


_INHERITED = {}


def _child_read(i):
    store = _INHERITED["store"]  # inherited through fork, handle opened by the parent
    inherited_pid = store._pid
    arr = store.read([i, 3], 5, 50)
    return os.getpid(), inherited_pid, store._pid, arr


def test_reopens_after_fork(data):
    path, haps = data
    store = io.open_store(path)
    store.read([0], 0, 1)
    parent_pid = store._pid
    _INHERITED["store"] = store
    ctx = mp.get_context("fork")
    try:
        with ctx.Pool(2) as pool:
            results = pool.map(_child_read, range(4))
    finally:
        _INHERITED.clear()
    assert any(r[1] == parent_pid for r in results)  # some task saw the fork-inherited handle
    for i, (pid, inherited, seen_pid, arr) in enumerate(results):
        assert inherited in (parent_pid, pid)
        assert pid != parent_pid
        assert seen_pid == pid
        np.testing.assert_array_equal(arr, haps[[i, 3]][:, :, 5:50])
    # the parent's handle still works
    assert store._pid == parent_pid
    np.testing.assert_array_equal(store.read([2], 0, 4), haps[[2]][:, :, :4])


def test_pickle_in_memory_store_reloads(data):
    path, haps = data
    store = io.open_store(path, in_memory=True, verbose=False)
    store.read([0], 0, 1)
    blob = pickle.dumps(store)
    assert len(blob) < 1000  # path and options only: no arrays, no handle
    clone = pickle.loads(blob)
    np.testing.assert_array_equal(clone.read([4], 0, 300), haps[[4]])


@pytest.mark.parametrize(
    ("module", "extra"), [("h5py", "h5"), ("cyvcf2", "vcf"), ("msprime", "sim")]
)
def test_missing_optional_package_hint(tmp_path, monkeypatch, module, extra):
    monkeypatch.setitem(sys.modules, module, None)  # makes `import module` raise ImportError
    calls = {
        "h5py": lambda: io.open_store(tmp_path / "x.h5"),
        "cyvcf2": lambda: io.vcf_to_hdf5(tmp_path / "x.vcf", tmp_path / "x.h5"),
        "msprime": lambda: io.simulate_demo(tmp_path / "d", 6, 1000),
    }
    with pytest.raises(ImportError, match=rf'pip install "maskkit\[{extra}\]"'):
        calls[module]()
    assert list(tmp_path.iterdir()) == []
