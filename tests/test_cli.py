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
