import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from maskkit import cli, io


def test_simulate_then_convert_round_trip(tmp_path, capsys):
    out = tmp_path / "demo"
    assert (
        cli.main(
            [
                "simulate",
                str(out),
                "--n-diploids",
                "12",
                "--length",
                "60000",
                "--seed",
                "4",
                "--window-size",
                "16",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    assert str(out) in captured.out
    assert "MAF (training samples)" in captured.err
    assert "<0.01" in captured.err
    demo = io.DemoData(out)
    assert demo.summary()["window_size"] == 16
    vcf = demo.write_vcf(tmp_path / "demo.vcf")
    h5 = tmp_path / "conv.h5"
    assert cli.main(["convert", str(vcf), str(h5), "--no-progress"]) == 0
    assert "biallelic SNVs kept" in capsys.readouterr().out
    np.testing.assert_array_equal(io.open_store(h5).to_numpy(), demo.open_store().to_numpy())
    # refusing to overwrite, then --force
    assert cli.main(["convert", str(vcf), str(h5), "--no-progress"]) == 1
    assert "--force" in capsys.readouterr().err
    assert cli.main(["convert", str(vcf), str(h5), "--no-progress", "--force"]) == 0


def test_errors_are_one_line_exit_1(tmp_path, capsys):
    assert cli.main(["convert", str(tmp_path / "missing.vcf"), str(tmp_path / "o.h5")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("maskkit convert: error:")
    assert "missing.vcf" in err
    assert "Traceback" not in err
    bad = tmp_path / "bad.vcf"
    bad.write_text(
        "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\n"
        "1\t5\t.\tA\tG\t.\t.\t.\tGT\t0|"
    )
    assert cli.main(["convert", str(bad), str(tmp_path / "o.h5"), "--no-progress"]) == 1
    assert "truncated or malformed" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.vcf"]
    assert cli.main(["simulate", str(tmp_path / "x"), "--n-diploids", "2"]) == 1
    assert "n_diploids" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main([])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["--version"])
    assert exc.value.code == 0
    assert "maskkit" in capsys.readouterr().out


def test_commands_are_extensible():
    calls = []
    entry = (
        "hello",
        "say hello",
        lambda p: p.add_argument("--name"),
        lambda a: calls.append(a.name) or 0,
    )
    cli.COMMANDS.append(entry)
    try:
        assert cli.main(["hello", "--name", "x"]) == 0
    finally:
        cli.COMMANDS.remove(entry)
    assert calls == ["x"]


def test_console_script_entry_point(tmp_path):
    exe = Path(sys.executable).parent / "maskkit"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "maskkit.cli"]
    env = dict(os.environ)
    res = subprocess.run(
        [*cmd, "simulate", "--help"], capture_output=True, text=True, env=env, check=True
    )
    assert "--n-diploids" in res.stdout


@pytest.mark.parametrize("kind", ["directory", "fifo", "dev-zero", "dangling link"])
def test_convert_says_what_a_non_file_input_is(tmp_path, capsys, kind):
    src = tmp_path / "in.vcf"
    if kind == "directory":
        src.mkdir()
        says = "is a directory, not a file"
    elif kind == "fifo":
        os.mkfifo(src)
        says = r"is a named pipe \(FIFO\), not a regular file"
    elif kind == "dev-zero":
        src = Path("/dev/zero")
        says = "is a character device, not a regular file"
    else:
        src.symlink_to(tmp_path / "gone.vcf")
        says = "is a symbolic link to .*gone.vcf, which does not exist"
    assert cli.main(["convert", str(src), str(tmp_path / "out.h5"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("maskkit convert: error: VCF ")
    assert "does not exist" not in err.replace("which does not exist", "")
    assert re.search(says, err), err
    assert not (tmp_path / "out.h5").exists()


# Runs `maskkit convert` in a real process; the process waits at a barrier (a folder both
# processes sign) just before it puts its output in place, so both have passed the up-front
# "output exists?" check and finished writing before either commits: the race, every time.
_RACER = """
import os, sys, time, types
from maskkit import cli
from maskkit.io import _atomic

barrier, vcf, out = sys.argv[1:4]
waited = []

def wait():
    if waited:
        return
    waited.append(1)
    open(os.path.join(barrier, str(os.getpid())), "w").close()
    deadline = time.monotonic() + 60
    while len(os.listdir(barrier)) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)

def hooked(name):
    def call(*args, **kwargs):
        wait()
        return getattr(os, name)(*args, **kwargs)
    return call

proxy = types.SimpleNamespace(**{k: getattr(os, k) for k in dir(os) if not k.startswith("__")})
proxy.replace, proxy.link, proxy.rename = hooked("replace"), hooked("link"), hooked("rename")
_atomic.os = proxy
sys.exit(cli.main(["convert", vcf, out, "--no-progress"]))
"""


def _vcf(path, samples, n_sites):
    rng = np.random.default_rng(len(samples))
    gts = rng.integers(0, 2, size=(n_sites, len(samples), 2))
    head = (
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"
    )
    rows = [
        f"1\t{10 * (i + 1)}\t.\tA\tG\t.\t.\t.\tGT\t" + "\t".join(f"{a}|{b}" for a, b in gts[i])
        for i in range(n_sites)
    ]
    path.write_text(head + "\t".join(samples) + "\n" + "\n".join(rows) + "\n")
    return path, gts.transpose(1, 2, 0)


@pytest.mark.parametrize("output", ["absent", "dangling link"])
def test_two_concurrent_converts_one_wins_the_other_exits_1(tmp_path, output):
    inputs = [_vcf(tmp_path / "a.vcf", ["A1", "A2"], 40), _vcf(tmp_path / "b.vcf", ["B1"], 30)]
    out = tmp_path / "out.h5"
    if output == "dangling link":
        out.symlink_to(tmp_path / "nowhere.h5")
    barrier = tmp_path / "barrier"
    barrier.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _RACER, str(barrier), str(vcf), str(out)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for vcf, _ in inputs
    ]
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = [r[0] for r in results]
    if output == "dangling link":  # an existing output: both refuse, the link stays
        assert codes == [1, 1], results
        assert out.is_symlink()
        assert not (tmp_path / "nowhere.h5").exists()
        for _, _, err in results:
            assert err.count("\n") == 1, err
            assert "already exists" in err
            assert "--force" in err
        args = ["convert", str(inputs[0][0]), str(out), "--no-progress", "--force"]
        assert cli.main(args) == 0  # --force replaces the link itself, not where it points
        assert not out.is_symlink()
        assert not (tmp_path / "nowhere.h5").exists()
        np.testing.assert_array_equal(io.open_store(out).to_numpy(), inputs[0][1])
    else:
        assert sorted(codes) == [0, 1], results
        assert len(os.listdir(barrier)) == 2, "both processes reached the commit"
        winner, loser = (0, 1) if codes[0] == 0 else (1, 0)
        err = results[loser][2]
        assert err.count("\n") == 1, err
        assert err.startswith("maskkit convert: error:")
        assert str(out) in err
        assert "--force" in err
        np.testing.assert_array_equal(io.open_store(out).to_numpy(), inputs[winner][1])
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
