import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from maskkit import io


# -- frequencies -----------------------------------------------------------------------------
def _numpy_freq(haps):
    alt = (haps > 0).sum(axis=(0, 1)).astype(float)
    called = (haps >= 0).sum(axis=(0, 1))
    out = np.full(haps.shape[2], np.nan)
    np.divide(alt, called, out=out, where=called > 0)
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    import h5py

    rng = np.random.default_rng(3)
    gt = rng.integers(-1, 2, size=(500, 25, 2)).astype(np.int8)
    gt[7] = -1  # a site with no calls
    path = tmp_path_factory.mktemp("freq") / "s.h5"
    with h5py.File(path, "w") as f:
        f["calldata/GT"] = gt
        f["variants/POS"] = np.arange(500) + 1
        f["samples"] = np.array([f"s{i}" for i in range(25)], dtype=object).astype("S")
    return io.open_store(path)


@pytest.mark.parametrize("samples", [None, [0, 3, 4, 20], np.arange(1, 25, 2)])
@pytest.mark.parametrize("chunk", [7, 8192])
def test_frequency_matches_numpy(store, samples, chunk):
    haps = store.to_numpy()
    ref = _numpy_freq(haps if samples is None else haps[np.asarray(samples)])
    got = io.alt_allele_frequency(store, samples, chunk_sites=chunk)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    assert np.isnan(got[7])
    np.testing.assert_allclose(got, ref, equal_nan=True)
    np.testing.assert_allclose(io.alt_allele_frequency(haps, samples), ref, equal_nan=True)


def test_frequency_save_load(store, tmp_path):
    f = io.alt_allele_frequency(store)
    p = io.save_frequencies(tmp_path / "f.npy", f)
    np.testing.assert_array_equal(io.load_frequencies(p, n_sites=store.n_sites), f)
    with pytest.raises(io.DataError, match=r"expected \(3,\)"):
        io.load_frequencies(p, n_sites=3)
    with pytest.raises(FileNotFoundError, match="alt_allele_frequency"):
        io.load_frequencies(tmp_path / "none.npy")
    with pytest.raises(io.DataError, match="empty"):
        io.alt_allele_frequency(store, [])


@given(st.lists(st.floats(0, 1), min_size=1, max_size=50))
def test_maf_bins_match_definition(freqs):
    f = np.asarray(freqs)
    m = np.minimum(f, 1 - f)
    expected = np.where(m < 0.01, 0, np.where(m < 0.05, 1, 2))
    np.testing.assert_array_equal(io.maf_bins(f), expected)
    spec = io.maf_spectrum(f)
    assert list(spec.values()) == [int((expected == k).sum()) for k in range(3)]


def test_maf_bins_edges_and_nan():
    assert io.maf_bins([np.nan, 0.2], edges=(0.1, 0.3)).tolist() == [-1, 1]
    assert io.maf_spectrum([np.nan, 0.2])["no calls"] == 1
    with pytest.raises(ValueError, match="increasing"):
        io.maf_bins([0.1], edges=(0.05, 0.01))


# -- panel -----------------------------------------------------------------------------------
def test_panel_round_trip_and_errors(tmp_path):
    p = io.write_panel(tmp_path / "p.tsv", ["a", "b", "c"], ["YRI", "CEU", "YRI"])
    panel = io.read_panel(p)
    assert panel.samples.tolist() == ["a", "b", "c"]
    assert len(panel) == 3
    assert panel.aligned_to(["c", "a"]).tolist() == ["YRI", "YRI"]
    with pytest.raises(io.DataError, match="'zz'"):
        panel.aligned_to(["a", "zz"])
    raw = tmp_path / "raw.tsv"
    raw.write_text("a\tX\nb\tY\n")  # no header is fine
    assert io.read_panel(raw).populations.tolist() == ["X", "Y"]
    raw.write_text("a X\n")
    with pytest.raises(io.DataError, match=r"raw.tsv:1"):
        io.read_panel(raw)
    raw.write_text("a\tX\na\tY\n")
    with pytest.raises(io.DataError, match="more than once"):
        io.read_panel(raw)
    with pytest.raises(FileNotFoundError):
        io.read_panel(tmp_path / "missing.tsv")
    with pytest.raises(ValueError, match="same length"):
        io.write_panel(tmp_path / "q.tsv", ["a"], [])


# -- windows ---------------------------------------------------------------------------------
@given(
    n=st.integers(1, 300),
    size=st.integers(1, 80),
    stride=st.integers(1, 80),
    drop_last=st.booleans(),
)
def test_fixed_windows_properties(n, size, stride, drop_last):
    if drop_last and size > n:
        with pytest.raises(io.WindowError, match="drop_last"):
            io.Windows.fixed(n, size, stride, drop_last=drop_last)
        return
    w = io.Windows.fixed(n, size, stride, drop_last=drop_last)
    b = w.bounds
    assert len(w) >= 1
    assert b[0, 0] == 0
    assert np.all(np.diff(b[:, 0]) == stride)
    assert np.all(b[:, 1] <= n)
    assert np.all(w.lengths >= 1)
    assert np.all(w.lengths <= size)
    w.validate(n)
    if drop_last:
        assert np.all(w.lengths == size)
        assert b[-1, 0] + stride + size > n  # no further full window fits
    elif stride <= size:
        covered = np.zeros(n, bool)
        for s, e in w:
            covered[s:e] = True
        assert covered.all()
    full = b[w.lengths == size]
    assert np.all(full[:, 1] - full[:, 0] == size)


def test_windows_csv_and_validation(tmp_path, store):
    w = io.Windows.fixed(500, 100, 50)
    p = w.to_csv(tmp_path / "w.csv")
    assert io.Windows.from_csv(p) == w
    (tmp_path / "end.csv").write_text("start,end\n0,10\n490,500\n")
    assert io.Windows.from_csv(tmp_path / "end.csv").validate(store).bounds.tolist() == [
        [0, 10],
        [490, 500],
    ]
    (tmp_path / "far.csv").write_text("start,stop\n0,10\n495,501\n")
    far = io.Windows.from_csv(tmp_path / "far.csv")
    with pytest.raises(io.WindowError, match=r"window 1 = \(495, 501\).*500 sites"):
        far.validate(store)
    for bad, msg in [
        ("start,stop\n5,5\n", "start < stop"),
        ("start,stop\n-1,4\n", "0 <= start"),
        ("a,b\n1,2\n", "'start' and 'stop'"),
        ("start,stop\nx,2\n", "integers"),
    ]:
        (tmp_path / "bad.csv").write_text(bad)
        with pytest.raises(io.WindowError, match=msg):
            io.Windows.from_csv(tmp_path / "bad.csv")
    (tmp_path / "none.csv").write_text("start,stop\n")
    with pytest.raises(io.WindowError, match="no windows"):
        io.Windows.from_csv(tmp_path / "none.csv").validate(store)
    with pytest.raises(FileNotFoundError):
        io.Windows.from_csv(tmp_path / "missing.csv")
    s, e = io.Windows.fixed(500, 100)[4]
    np.testing.assert_array_equal(store.read([1, 2], s, e), store.to_numpy()[[1, 2], :, s:e])


# -- split -----------------------------------------------------------------------------------
POPS = ["YRI"] * 40 + ["CEU"] * 25 + ["CHB"] * 10 + ["ONE"]


@pytest.mark.parametrize("frac", [0.1, 0.25, 0.5])
@pytest.mark.parametrize("seed", [0, 1])
def test_split_disjoint_cover_stratified_deterministic(frac, seed):
    names = [f"s{i}" for i in range(len(POPS))]
    s = io.split_by_population(names, POPS, frac, seed=seed)
    assert np.intersect1d(s.train, s.val).size == 0
    np.testing.assert_array_equal(np.union1d(s.train, s.val), np.arange(len(POPS)))
    pops = np.asarray(POPS)
    for pop, n in [("YRI", 40), ("CEU", 25), ("CHB", 10)]:
        k = (pops[s.val] == pop).sum()
        assert k == min(max(round(frac * n), 1), n - 1)
    assert "ONE" not in pops[s.val]
    assert io.split_by_population(names, POPS, frac, seed=seed) == s
    other = io.split_by_population(names, POPS, frac, seed=seed + 10)
    assert not np.array_equal(other.val, s.val)


def test_split_tsv_round_trip_and_errors(tmp_path):
    names = [f"s{i}" for i in range(len(POPS))]
    s = io.split_by_population(names, POPS, 0.2, seed=3)
    p = s.write_tsv(tmp_path / "split.tsv")
    assert io.read_split(p) == s
    rev = io.read_split(p, samples=names[::-1])
    assert set(np.asarray(names[::-1], dtype=object)[rev.val]) == set(
        np.asarray(names, dtype=object)[s.val]
    )
    with pytest.raises(io.SplitError, match="differ"):
        io.read_split(p, samples=names[:-1])
    with pytest.raises(io.SplitError, match="validation part is empty"):
        io.split_by_population(["a", "b"], ["X", "Y"], 0.5)
    with pytest.raises(io.SplitError, match="val_fraction"):
        io.split_by_population(names, POPS, 1.0)
    with pytest.raises(io.SplitError, match="at least 2"):
        io.split_by_population(["a"], ["X"], 0.5)
    (tmp_path / "t.tsv").write_text("sample\tpopulation\tsplit\na\tX\ttrain\nb\tX\ttrain\n")
    with pytest.raises(io.SplitError, match="empty validation"):
        io.read_split(tmp_path / "t.tsv")
    (tmp_path / "t.tsv").write_text("a\tX\ttest\n")
    with pytest.raises(io.SplitError, match="train\\|val"):
        io.read_split(tmp_path / "t.tsv")
