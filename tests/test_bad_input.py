"""Bad input never corrupts data: named errors for integers that do not fit, damaged files,
unsafe output buffers, bad training state and CLI file handling."""

from __future__ import annotations

import copy
import math
import os
import signal
import stat
import subprocess
import sys
import textwrap

import h5py
import numpy as np
import pytest

import maskkit as mk
from maskkit import cli, io
from maskkit.curriculum import Levels, Plateau
from maskkit.io._atomic import atomic_dir, atomic_file

HEADER = (
    "##fileformat=VCFv4.2\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\n"
)


def _vcf(path, *records):
    path.write_text(HEADER + "".join("\t".join(r.split()) + "\n" for r in records))
    return path


def _convert(tmp_path, *records, **kw):
    vcf = _vcf(tmp_path / "in.vcf", *records)
    out = tmp_path / "out.h5"
    return vcf, out, lambda: io.vcf_to_hdf5(vcf, out, show_progress=False, **kw)


# -- VCF: integers that do not fit are errors, never wrapped -----------------------------------


@pytest.mark.parametrize(
    "gt",
    ["0|2 1|200", "0|1 1|128", "0|1 1|65537", "0|1 2|1"],
    ids=["2-and-200", "int8-overflow", "int16-wrap-to-1", "first-allele"],
)
def test_allele_index_beyond_alt_is_an_error(tmp_path, gt):
    _, out, run = _convert(tmp_path, "1 5 . A C . . . GT 0|0 0|1", f"1 9 . A C . . . GT {gt}")
    with pytest.raises(io.VCFFormatError, match=r"in\.vcf:1:9: sample '[AB]' has allele index"):
        run()
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["in.vcf"]


def test_haploid_call_in_diploid_record_is_an_error(tmp_path):
    _, out, run = _convert(tmp_path, "1 5 . A C . . . GT 0|1 1")
    with pytest.raises(io.VCFFormatError, match="sample 'B' has a call of ploidy 1 in a store"):
        run()
    assert not out.exists()


def test_missing_dot_in_diploid_record_is_stored_missing(tmp_path):
    _, out, run = _convert(tmp_path, "1 5 . A C . . . GT 0|1 .", "1 6 . A C . . . GT ./. 1|1")
    assert run().kept == 2
    np.testing.assert_array_equal(
        io.open_store(out).to_numpy(), [[[0, -1], [1, -1]], [[-1, 1], [-1, 1]]]
    )


def test_positions_above_int32_are_named_not_unsorted(tmp_path):
    _, out, run = _convert(
        tmp_path, "1 5 . A C . . . GT 0|1 1|1", "1 2147483653 . A C . . . GT 0|1 1|1"
    )
    with pytest.raises(io.VCFFormatError, match="position 2147483653 is above 2147483647"):
        run()
    _, out, run = _convert(tmp_path, "1 2147483647 . A C . . . GT 0|1 1|1")
    run()
    assert io.open_store(out).positions.tolist() == [2147483647]


def test_second_contig_is_named(tmp_path):
    _, _, run = _convert(tmp_path, "1 50 . A C . . . GT 0|1 1|1", "2 5 . A C . . . GT 0|1 1|1")
    with pytest.raises(io.VCFFormatError, match=r"more than one contig \('1', then '2'"):
        run()


def test_nothing_kept_is_an_error_and_binary_alleles_option(tmp_path):
    recs = ["1 5 . 0 1 . . . GT 0|1 1|1", "1 7 . 0 1 . . . GT 0|0 1|0"]
    _, out, run = _convert(tmp_path, *recs)
    with pytest.raises(io.VCFFormatError, match=r"no biallelic SNV.*--binary-alleles"):
        run()
    assert not out.exists()
    stats = io.vcf_to_hdf5(tmp_path / "in.vcf", out, show_progress=False, binary_alleles=True)
    assert (stats.kept, stats.non_snv) == (2, 0)
    store = io.open_store(out)
    np.testing.assert_array_equal(store.to_numpy(), [[[0, 0], [1, 0]], [[1, 1], [1, 0]]])
    assert [a.tolist() for a in store.ref_alt()] == [["0", "0"], ["1", "1"]]
    out.unlink()
    _, out, run = _convert(tmp_path, "1 5 . AT A . . . GT 0|1 1|1")
    with pytest.raises(io.VCFFormatError, match=r"no biallelic SNV .*1 non-SNV records\)$"):
        run()


def test_chunks_are_sized_to_the_data(tmp_path):
    _, out, run = _convert(tmp_path, "1 5 . A C . . . GT 0|1 1|1", chunk_sites=2**20)
    run()
    assert out.stat().st_size < 100_000
    with h5py.File(out) as f:
        assert f["calldata/GT"].chunks[0] == 1
    for bad in (0, 2**20 + 1):
        with pytest.raises(ValueError, match="chunk_sites"):
            io.vcf_to_hdf5(tmp_path / "in.vcf", tmp_path / "x.h5", chunk_sites=bad)


# -- stores: wide dtypes read only when they fit, damaged files named ------------------------


def _store(path, gt, pos=None):
    with h5py.File(path, "w") as f:
        f["calldata/GT"] = gt
        f["variants/POS"] = np.arange(1, gt.shape[0] + 1) if pos is None else pos
    return path


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.uint8, np.uint16, np.int64])
def test_wide_gt_dtypes_read_exactly_or_refuse(tmp_path, dtype):
    missing = -1 if np.issubdtype(dtype, np.signedinteger) else 0  # unsigned: no missing
    fits = np.array([[[0, 1]], [[127, missing]]]).astype(dtype)
    path = _store(tmp_path / "ok.h5", fits)
    got = io.open_store(path).to_numpy()
    assert got.dtype == np.int8
    np.testing.assert_array_equal(got, fits.astype(np.int64).transpose(1, 2, 0))
    for bad in (128, 200, 256):
        if bad > np.iinfo(dtype).max:
            continue
        path = _store(tmp_path / f"bad{bad}.h5", np.array([[[0, bad]]]).astype(dtype))
        for in_memory in (False, True):
            store = io.open_store(path, in_memory=in_memory, verbose=False)
            with pytest.raises(io.StoreFormatError, match=f"allele index {bad}"):
                store.to_numpy()


def test_very_negative_wide_values_read_as_missing(tmp_path):
    path = _store(tmp_path / "neg.h5", np.array([[[0, -300]], [[1, -1]]], dtype=np.int16))
    np.testing.assert_array_equal(io.open_store(path).to_numpy(), [[[0, 1], [-1, -1]]])


def test_truncated_and_corrupted_stores_raise_store_format_error(tmp_path):
    rng = np.random.default_rng(0)
    full = tmp_path / "full.h5"
    with h5py.File(full, "w") as f:
        f.create_dataset(
            "calldata/GT", data=rng.integers(-1, 2, (300, 8, 2), dtype=np.int8), chunks=(50, 8, 2)
        )
        f["variants/POS"] = np.arange(300) + 1
    data = full.read_bytes()
    cut = tmp_path / "cut.h5"
    for n in (100, len(data) // 3, len(data) // 2, len(data) - 5):
        cut.write_bytes(data[:n])
        with pytest.raises(io.StoreFormatError, match=r"cut\.h5"):
            io.open_store(cut).to_numpy()


def test_converted_stores_carry_checksums(tmp_path):
    _, out, run = _convert(tmp_path, *[f"1 {i} . A C . . . GT 0|1 1|0" for i in range(1, 99)])
    run()
    with h5py.File(out) as f:
        assert f["calldata/GT"].fletcher32
        info = f["calldata/GT"].id.get_chunk_info(0)  # damage one byte of the first chunk
    raw = bytearray(out.read_bytes())
    raw[info.byte_offset + 3] ^= 0xFF
    out.write_bytes(bytes(raw))
    with pytest.raises(io.StoreFormatError, match="truncated or corrupted"):
        io.open_store(out).to_numpy()


def test_zero_site_and_odd_shape_stores(tmp_path):
    path = _store(tmp_path / "z.h5", np.zeros((0, 3, 2), np.int8))
    for in_memory in (False, True):
        store = io.open_store(path, in_memory=in_memory, verbose=False)
        assert store.to_numpy().shape == (3, 2, 0)
        assert store.read([0, 2], 0, 0).shape == (2, 2, 0)
    with pytest.raises(io.StoreFormatError, match="ploidy axis is empty"):
        io.open_store(_store(tmp_path / "p0.h5", np.zeros((4, 3, 0), np.int8)))
    with pytest.raises(io.StoreFormatError, match="integer positions"):
        io.open_store(_store(tmp_path / "fp.h5", np.zeros((2, 1, 2), np.int8), [1.5, 2.0]))


# -- tokens and output buffers ---------------------------------------------------------------


def test_collate_refuses_alleles_beyond_n_alleles_and_narrow_dtypes():
    haps = np.array([[0, 2, 1, 5]], dtype=np.int8)
    mask = np.zeros_like(haps, dtype=bool)
    with pytest.raises(ValueError, match=r"haps holds allele 5 but n_alleles=2.*n_alleles=6"):
        mk.collate(haps, mask)
    assert mk.collate(haps, mask, lengths=[1])["labels"].shape == (1, 1)  # padding: not read
    assert mk.collate(haps, mask, n_alleles=6, dtype=np.int8)["input_ids"].tolist() == [
        [3, 5, 4, 8]
    ]
    with pytest.raises(ValueError, match=r"input_ids dtype int8 cannot hold.*\[0, 129\]"):
        mk.collate(np.array([[0, 1]], np.int8), np.zeros((1, 2), bool), n_alleles=127,
                   replace=(0.8, 0.1, 0.1), dtype=np.int8)  # fmt: skip


def test_read_only_and_aliasing_out_buffers_are_refused():
    haps = np.zeros((2, 64), dtype=np.int8)
    out = np.zeros((2, 64), dtype=bool)
    out.flags.writeable = False
    for fn in (mk.random_mask, mk.smart_balanced_mask):
        with pytest.raises(ValueError, match="out is read-only"):
            fn(haps, 0.5, seed=1, out=out)
        with pytest.raises(ValueError, match="out shares memory with an input"):
            fn(haps, 0.5, seed=1, out=haps.view(bool), exact=True)
    m = np.zeros((2, 2, 3), dtype=bool)
    with pytest.raises(ValueError, match="out shares memory"):
        mk.union(m, out=m.reshape(4, 3)[:2])  # C-contiguous view of the input
    # a separate writeable buffer is still fine (and reused)
    buf = np.empty((2, 64), dtype=bool)
    assert mk.random_mask(haps, 0.5, seed=1, out=buf) is buf


# -- training state: validate the whole state, then apply it ----------------------------------


def _masker():
    return mk.Masker("smart_balanced", rate=Plateau([0.3, 0.5, 0.7], mode="max"), seed=1)


@pytest.mark.parametrize(
    ("edit", "error", "match"),
    [
        (lambda d: d.update(epoch=9, step="x"), TypeError, r"state\['step'\]"),
        (lambda d: d.pop("epoch"), ValueError, r"missing \['epoch'\]"),
        (lambda d: d["schedules"].pop("rate"), ValueError, r"state\['schedules'\]\['rate'\]"),
        (lambda d: d.update(schedules=[]), TypeError, "must be a dict"),
        (
            lambda d: d["schedules"]["rate"]["state"].update(level=2, best=math.nan),
            ValueError,
            "NaN",
        ),
        (
            lambda d: d["schedules"]["rate"]["state"].update(level=2, best="x"),
            TypeError,
            "None or a real number",
        ),
        (lambda d: d["schedules"]["rate"]["state"].pop("num_bad"), ValueError, "num_bad"),
        (lambda d: d["schedules"]["rate"]["state"].update(level=3), ValueError, r"\[0, 2\]"),
    ],
    ids=[
        "bad-step",
        "no-epoch",
        "no-schedule",
        "schedules-list",
        "nan-best",
        "str-best",
        "no-num_bad",
        "level-range",
    ],
)
def test_masker_load_state_dict_is_all_or_nothing(edit, error, match):
    m = _masker()
    m.set_epoch(2)
    m.update(1.0)
    before = copy.deepcopy(m.state_dict())
    bad = copy.deepcopy(m.state_dict())
    bad["epoch"] = 7
    edit(bad)
    with pytest.raises(error, match=match):
        m.load_state_dict(bad)
    assert m.state_dict() == before


def test_plateau_load_state_dict_is_all_or_nothing():
    p = Plateau([0.3, 0.5])
    good = {**p.state_dict(), "state": {"level": 1, "best": 0.5, "num_bad": 0,
                                        "cooldown_left": 0}}  # fmt: skip
    for state in (
        {"level": 1, "best": math.nan, "num_bad": 0, "cooldown_left": 0},
        {"level": 1, "best": 1.0, "num_bad": -1, "cooldown_left": 0},
        {"level": 1, "best": 1.0, "num_bad": 0, "cooldown_left": 0, "typo": 1},
    ):
        with pytest.raises((TypeError, ValueError)):
            p.load_state_dict({**good, "state": state})
        assert (p.level(), p.best) == (0, None)
    p.load_state_dict(good)
    assert (p.level(), p.best) == (1, 0.5)
    with pytest.raises(TypeError, match=r"state\['state'\] must be a dict"):
        Levels().load_state_dict({**Levels().state_dict(), "state": None})


def test_scorer_add_state_refuses_non_finite_counts():
    s = mk.metrics.MinorAlleleScorer([0.02, 0.3])
    bad = s.state()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="finite"):
        s.add_state(bad)
    assert (s.state() == 0).all()


# -- the CLI's file handling ----------------------------------------------------------------


def test_cli_refuses_to_write_over_its_input(tmp_path, capsys):
    vcf = _vcf(tmp_path / "x.vcf", "1 5 . A C . . . GT 0|1 1|1")
    before = vcf.read_bytes()
    assert cli.main(["convert", "--force", "--no-progress", str(vcf), str(vcf)]) == 1
    assert "is the input VCF" in capsys.readouterr().err
    assert vcf.read_bytes() == before
    link = tmp_path / "link.h5"
    link.symlink_to(vcf)
    assert cli.main(["convert", "--force", "--no-progress", str(vcf), str(link)]) == 1
    assert vcf.read_bytes() == before


def test_cli_os_errors_are_one_line(tmp_path, capsys):
    vcf = _vcf(tmp_path / "x.vcf", "1 5 . A C . . . GT 0|1 1|1")
    (tmp_path / "adir").mkdir()
    assert cli.main(["convert", "--no-progress", str(vcf), str(tmp_path / "adir")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("maskkit convert: error: output ")
    assert "is an existing directory" in err
    assert cli.main(["convert", "--force", "--no-progress", str(vcf), str(tmp_path / "adir")]) == 1
    assert "existing directory" in capsys.readouterr().err
    assert cli.main(["convert", "--no-progress", str(vcf), str(tmp_path / "no" / "o.h5")]) == 1
    assert "does not exist" in capsys.readouterr().err
    empty = _vcf(tmp_path / "e.vcf")
    assert cli.main(["convert", "--no-progress", str(empty), str(tmp_path / "e.h5")]) == 1
    assert "no biallelic SNV" in capsys.readouterr().err


def test_cli_unwritable_folder_is_one_line(tmp_path, capsys, monkeypatch):
    # a folder no one may write (root ignores permission bits, so fail mkstemp directly too)
    vcf = _vcf(tmp_path / "x.vcf", "1 5 . A C . . . GT 0|1 1|1")
    import tempfile

    def denied(*a, **k):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", denied)
    assert cli.main(["convert", "--no-progress", str(vcf), str(tmp_path / "o.h5")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("maskkit convert: error: ")
    assert "cannot create a file in" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_outputs_honour_the_umask(tmp_path, umask):
    old = os.umask(umask)
    try:
        with atomic_file(tmp_path / "f.txt") as tmp:
            tmp.write_text("x")
        with atomic_dir(tmp_path / "d") as tmp:
            (tmp / "x").write_text("x")
        vcf = _vcf(tmp_path / "x.vcf", "1 5 . A C . . . GT 0|1 1|1")
        io.vcf_to_hdf5(vcf, tmp_path / "o.h5", show_progress=False)
    finally:
        os.umask(old)
    for name in ("f.txt", "o.h5"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~umask
    assert stat.S_IMODE((tmp_path / "d").stat().st_mode) == 0o777 & ~umask


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_remove_the_temporary_file(tmp_path, sig):
    script = textwrap.dedent(
        f"""
        import signal, sys, time
        from maskkit.io._atomic import atomic_dir, atomic_file
        signal.signal({int(sig)}, signal.SIG_DFL)  # the default, also under nohup
        with atomic_file({str(tmp_path / "out.h5")!r}) as tmp:
            tmp.write_text("partial")
            print("ready", flush=True)
            time.sleep(60)
        """
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    with subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, env=env) as proc:
        assert proc.stdout.readline() == b"ready\n"
        assert len(list(tmp_path.iterdir())) == 1  # the temporary file, while writing
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == -sig  # still ends as the signal says
    assert list(tmp_path.iterdir()) == []


def test_ignored_signals_stay_ignored(tmp_path):
    from maskkit.io._atomic import atomic_file

    old = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        with atomic_file(tmp_path / "x.txt") as tmp:
            tmp.write_text("partial")
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
        assert (tmp_path / "x.txt").read_text() == "partial"
    finally:
        signal.signal(signal.SIGHUP, old)
