import json
import pickle
import subprocess
import sys

import h5py
import numpy as np
import pytest
import tskit

from maskkit import io


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("sim") / "demo"
    return io.simulate_demo(
        out, n_diploids=30, length=200_000, seed=11, window_size=64, verbose=False
    )


def _contents(demo):
    store = demo.open_store(verbose=False)
    return {
        "gt": store.to_numpy(),
        "pos": store.positions,
        "samples": store.samples.tolist(),
        "ref_alt": [a.tolist() for a in store.ref_alt()],
        "panel": demo.panel.read_text(),
        "split": demo.split.read_text(),
        "windows": demo.windows.read_text(),
        "freq": np.load(demo.freq),
        "summary": demo.summary(),
    }


def test_layout_and_summary(demo):
    names = {p.name for p in demo.outdir.iterdir()}
    assert names == {
        "haplotypes.h5",
        "panel.tsv",
        "freq.npy",
        "windows.csv",
        "split.tsv",
        "summary.json",
        "simulation.trees",
    }
    s = json.loads(demo.summary_path.read_text())
    store = demo.open_store()
    assert s["n_sites"] == store.n_sites > 0
    assert s["populations"] == {"YRI": 10, "CEU": 10, "CHB": 10}
    assert sum(s["maf_spectrum_train"].values()) == store.n_sites
    assert s["n_train"] + s["n_val"] == 30
    with h5py.File(demo.store, "r") as f:
        assert f["calldata/GT"].dtype == np.int8
        assert f["calldata/GT"].shape == (store.n_sites, 30, 2)


def test_sites_biallelic_sorted_and_match_tree_sequence(demo):
    store = demo.open_store()
    gt = store.to_numpy()
    assert set(np.unique(gt).tolist()) <= {0, 1}
    assert np.all(np.diff(store.positions) > 0)
    ts = tskit.load(demo.trees)
    assert ts.num_sites == store.n_sites
    g = ts.genotype_matrix()  # (sites, haplotypes) in sample-node order
    # individuals own nodes (2i, 2i+1) in msprime output
    np.testing.assert_array_equal(gt.transpose(2, 0, 1).reshape(ts.num_sites, -1), g)
    np.testing.assert_array_equal(store.positions, ts.tables.sites.position.astype(int) + 1)
    # every site is polymorphic in the sample
    assert np.all(gt.sum(axis=(0, 1)) > 0)
    assert np.all(gt.sum(axis=(0, 1)) < 60)


def test_panel_split_frequency_consistent(demo):
    store = demo.open_store()
    panel = io.read_panel(demo.panel)
    assert panel.samples.tolist() == store.samples.tolist()
    split = io.read_split(demo.split, samples=store.samples)
    np.testing.assert_array_equal(split.populations, panel.populations)
    gt = store.to_numpy()[split.train]
    expected = (gt == 1).sum(axis=(0, 1)) / (gt >= 0).sum(axis=(0, 1))
    np.testing.assert_allclose(io.load_frequencies(demo.freq, n_sites=store.n_sites), expected)
    w = io.Windows.from_csv(demo.windows).validate(store)
    assert w == io.Windows.fixed(store.n_sites, 64)


def test_deterministic_by_seed(demo, tmp_path):
    again = io.simulate_demo(
        tmp_path / "again", n_diploids=30, length=200_000, seed=11, window_size=64, verbose=False
    )
    a, b = _contents(demo), _contents(again)
    for key in a:
        if isinstance(a[key], np.ndarray):
            np.testing.assert_array_equal(a[key], b[key])
        else:
            assert a[key] == b[key], key
    other = io.simulate_demo(
        tmp_path / "other", n_diploids=30, length=200_000, seed=12, window_size=64, verbose=False
    )
    c = _contents(other)
    assert c["gt"].shape != a["gt"].shape or not np.array_equal(c["gt"], a["gt"])


def test_existing_outdir_refused_and_untouched(demo, tmp_path):
    out = tmp_path / "x"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError, match="overwrite"):
        io.simulate_demo(out, n_diploids=6, length=20_000, seed=1, verbose=False)
    assert [p.name for p in out.iterdir()] == ["keep.txt"]
    io.simulate_demo(out, n_diploids=6, length=20_000, seed=1, verbose=False, overwrite=True)
    assert not (out / "keep.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]  # no temp dirs left


def test_failed_simulation_leaves_nothing(tmp_path):
    with pytest.raises(ValueError, match="no sites"):
        io.simulate_demo(tmp_path / "empty", n_diploids=6, length=1, seed=1, verbose=False)
    with pytest.raises(io.SplitError, match="validation part is empty"):
        io.simulate_demo(tmp_path / "tiny", n_diploids=3, length=20_000, seed=1, verbose=False)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(ValueError, match="n_diploids"):
        io.simulate_demo(tmp_path / "few", n_diploids=2, verbose=False)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        io.simulate_demo(tmp_path / "no" / "parent", n_diploids=6, length=20_000, verbose=False)


def test_demography_is_gutenkunst_ooa():
    dem = io.out_of_africa_demography()
    names = [p.name for p in dem.populations]
    assert names == ["YRI", "CEU", "CHB", "OOA", "AMH", "ANC"]
    assert dem["YRI"].initial_size == 12300
    assert dem["OOA"].initial_size == 2100
    assert dem["ANC"].initial_size == 7300
    assert dem["CEU"].growth_rate == 0.004
    assert dem["CHB"].growth_rate == 0.0055
    times = sorted({round(e.time) for e in dem.events})
    assert times == [848, 5600, 8800]
    dem.debug()  # validates the model


def test_demo_data_caches(tmp_path, monkeypatch):
    from maskkit.io import simulate as sim_mod

    calls = []
    real = sim_mod.simulate_demo

    def small(target, n_diploids, length, **kwargs):
        calls.append(target)
        assert (n_diploids, length) == (1000, 1_500_000)  # the defaults, unchanged
        return real(target, n_diploids=6, length=20_000, **kwargs)

    monkeypatch.setattr(sim_mod, "simulate_demo", small)
    a = io.demo_data(tmp_path, seed=3, verbose=False)
    b = io.demo_data(tmp_path, seed=3, verbose=False)
    assert a == b
    assert len(calls) == 1
    assert a.outdir.parent == tmp_path
    assert a.outdir.name.endswith("seed3")
    assert a.store.is_file()
    monkeypatch.setenv("MASKKIT_CACHE_DIR", str(tmp_path / "env"))
    c = io.demo_data(seed=3, verbose=False)
    assert c.outdir.parent == tmp_path / "env"
    assert len(calls) == 2


def test_demo_data_sizes_key_the_cache(tmp_path):
    import maskkit

    kw = dict(seed=5, n_diploids=12, length=20_000, val_fraction=0.25, window_size=32)
    a = io.demo_data(tmp_path, **kw)
    assert a.outdir.name == f"demo-{maskkit.__version__}-n12-len20000-val0.25-win32-seed5"
    assert a.summary()["n_diploids"] == 12
    assert a.summary()["n_val"] == 3
    assert io.demo_data(tmp_path, **kw) == a  # cached
    b = io.demo_data(tmp_path, **{**kw, "n_diploids": 15})
    assert b != a
    assert b.summary()["n_diploids"] == 15
    fresh = io.simulate_demo(
        tmp_path / "fresh", 12, 20_000, seed=5, val_fraction=0.25, window_size=32
    )
    with a.open_store() as s, fresh.open_store() as t:
        np.testing.assert_array_equal(s.to_numpy(), t.to_numpy())


def test_store_pickles_path_not_handle(demo):
    store = demo.open_store()
    first = store.read([0, 1], 0, 5)
    blob = pickle.dumps(store)  # h5py handles cannot be pickled: this proves none is
    assert b"haplotypes.h5" in blob
    assert len(blob) < 1000
    clone = pickle.loads(blob)
    assert clone._file is not store._file
    np.testing.assert_array_equal(clone.read([0, 1], 0, 5), first)


def test_import_maskkit_is_light():
    code = (
        "import sys, maskkit\n"
        "bad = [m for m in ('h5py', 'msprime', 'tskit', 'cyvcf2', 'maskkit.io', 'torch')"
        " if m in sys.modules]\n"
        "assert not bad, bad\n"
        "import maskkit.io\n"
        "bad = [m for m in ('h5py', 'msprime', 'tskit', 'cyvcf2') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_default_cache_dir_is_the_users(monkeypatch, tmp_path):
    monkeypatch.setenv("MASKKIT_CACHE_DIR", str(tmp_path / "env"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert io.default_cache_dir() == tmp_path / "env"
    monkeypatch.delenv("MASKKIT_CACHE_DIR")
    assert io.default_cache_dir() == tmp_path / "xdg" / "maskkit"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert io.default_cache_dir() == tmp_path / "home" / ".cache" / "maskkit"
    assert not (tmp_path / "home").exists()  # only named, not created
