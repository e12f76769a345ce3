"""Time and score ``impute`` beside Beagle on the same targets (benchmarks/bench_impute.py).

Loads the trainer's data (the panel-scale demo by default: 1,200 reference and 300 target
diploids over 0.5 Mb; ``--small``: a tiny demo that runs in a minute or two), hides the
trainer's frozen validation masks in the targets (30 % of genotypes) and, one after the other in
this process:

1. trains a checkpoint with the trainer (``--checkpoint PATH`` uses one instead), unless given;
2. runs ``impute`` on the targets as unphased genotypes (``--phase unphased``) with the whole
   reference panel;
3. runs Beagle 5.4 (``beagle``, Debian package; skipped with ``--no-beagle``) on the same
   targets written as an unphased VCF, with the panel as its phased reference.

Each step runs as a child process; its wall time and CPU seconds (user + system of the child,
``resource.getrusage(RUSAGE_CHILDREN)``) are printed with the ratio of ``impute`` to Beagle,
and both are scored on the same masked genotypes with ``maskkit.metrics`` (minor-allele F1 per
MAF bin and dosage r², MAF from the panel). The machine's load average is printed at the start
and the end. Results go to ``--out/bench_impute.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from maskkit import metrics as mm

from . import beagle_bench as bb
from . import data as dt
from .data import InputError

#: the panel-scale demo of docs/beagle.md
PANEL = ["--demo-train", "1200", "--demo-val", "300", "--demo-length", "5e5"]
#: a tiny demo and model for a test (about a minute)
SMALL = [
    "--demo-train", "40", "--demo-val", "8", "--demo-length", "8e4", "--window", "32",
    "--dims", "16", "--layers", "1", "--heads", "2", "--k-retrieve", "4", "--batch-size", "8",
    "--data-seed", "3", "--val-mask-window", "32",
]  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    p = bb.build_parser()
    p.prog = "python benchmarks/bench_impute.py"
    p.description = __doc__
    p.set_defaults(out="runs/bench_impute")
    g = p.add_argument_group("impute against Beagle")
    g.add_argument("--small", action="store_true", help="a tiny demo and model (test size)")
    g.add_argument("--checkpoint", help="trainer checkpoint to impute with (default: train one)")
    g.add_argument(
        "--train-steps", type=int, default=200,
        help="training steps (one epoch) when no --checkpoint is given",
    )  # fmt: skip
    g.add_argument(
        "--untrained", action="store_true",
        help="impute with an untrained model instead of training one: it predicts the HMM "
        "posterior exactly, so this times impute (and scores the posterior) without training",
    )  # fmt: skip
    g.add_argument("--no-beagle", action="store_true", help="time and score impute only")
    g.add_argument(
        "--impute-args", default="",
        help="extra flags for impute, one string (e.g. '--hmm-states 0')",
    )  # fmt: skip
    return p


def parse_args(argv: list[str]) -> argparse.Namespace:
    """Flags of the benchmark; ``--small`` and the panel-scale demo are defaults that the
    flags given override."""
    base = SMALL if "--small" in argv else PANEL
    return build_parser().parse_args([*base, *argv])


def load_average() -> tuple[float, float, float]:
    return os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3


def timed(cmd: list[str], log: Path) -> dict[str, Any]:
    """Run ``cmd`` (output to ``log``); its wall seconds and the CPU seconds of the child
    processes it ran (user + system). A failure raises with the log's tail."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log, "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if rc != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise InputError(f"{' '.join(cmd)} failed (exit {rc}):\n{tail}")
    return {"wall_s": wall, "cpu_s": cpu, "command": " ".join(cmd)}


def trainer_flags(args: argparse.Namespace) -> list[str]:
    """The trainer's flags (data, masks, model) that ``args`` sets away from their defaults."""
    out: list[str] = []
    for a in bb.cli.build_parser()._actions:
        if not a.option_strings or a.dest in ("help", "out", "quiet", "no_plots", "max_steps"):
            continue
        value = getattr(args, a.dest, a.default)
        if value == a.default:
            continue
        flag = a.option_strings[0]
        if isinstance(a, argparse.BooleanOptionalAction):
            out.append(flag if value else "--no-" + flag[2:])
        elif a.nargs == 0:  # store_true
            out.append(flag)
        elif isinstance(value, list):
            out += [flag, *map(str, value)]
        else:
            out += [flag, str(value)]
    return out


def untrained_checkpoint(args: argparse.Namespace, data: dt.Data, path: Path) -> None:
    """Write a checkpoint of the trainer's model before any step: with the HMM prior it
    predicts the prior it is given (``test_untrained_model_predicts_the_prior_it_is_given``)."""
    import torch

    from . import checkpoint as ckpt_io
    from . import cli
    from .train import Trainer

    args.calib_samples = None
    tr = Trainer(args, data)
    try:
        eng = tr.engine
        path.parent.mkdir(parents=True, exist_ok=True)
        ckpt_io.save(path, {
            "config": cli.config_of(args, data), "model": tr.model.state_dict(),
            "model_config": tr.model.config, "optimizer": tr.opt.state_dict(),
            "torch_rng": torch.get_rng_state(), "epoch": 0, "history": [],
            "windows": data.windows, "alt_freq": data.alt_freq, "positions": data.positions,
            **ckpt_io.panel_entries(data.train, data.val), "thresholds": None,
            "prior_rates": None,
            "eval": {"stride": args.val_stride, "k_retrieve": eng.eval_index.k,
                     "retrieval_window": args.val_retrieval_window},
            "hmm": {k: getattr(args, f"hmm_{k}") for k in ("flank", "ne", "eps", "states")},
        })  # fmt: skip
    finally:
        tr.close()


def score(truth: np.ndarray, called: np.ndarray, prob: np.ndarray, site: np.ndarray,
          alt_freq: np.ndarray) -> dict[str, Any]:  # fmt: skip
    """Minor-allele F1 and r² at the masked genotypes ``site`` (``maskkit.metrics``)."""
    if (called[np.broadcast_to(site[:, None, :], called.shape)] < 0).any():
        raise InputError("an imputer left masked genotypes missing")
    return mm.score(truth, called, site, alt_freq, alt_prob=prob)


def run_impute(args: argparse.Namespace, data: dt.Data, site: np.ndarray, ckpt: Path,
               work: Path) -> dict[str, Any]:  # fmt: skip
    """``impute --phase unphased`` on the masked targets; its timing and scores."""
    target = np.where(site[:, None, :], -1, data.val.haps).astype(np.int8)
    tpath, opath = work / "target.h5", work / "imputed.h5"
    dt.write_store(tpath, target, data.positions, data.val.samples)
    cmd = [
        sys.executable, "-m", "examples.rag_bert.impute", "--checkpoint", str(ckpt),
        "--store", str(tpath), "--out", str(opath), "--phase", "unphased", "--quiet",
        "--threads", "2", *args.impute_args.split(),
    ]  # fmt: skip
    res = timed(cmd, work / "impute.log")
    called, _pos, _ = dt.read_store(opath)
    import h5py

    with h5py.File(opath, "r") as f:
        dosage = np.asarray(f["calldata/DS"]).T  # (samples, sites)
    prob = np.repeat((dosage / 2.0)[:, None, :], 2, axis=1).astype(np.float32)
    report = json.loads(Path(f"{opath}.json").read_text())
    res["hmm_states"] = report.get("hmm_states")
    res["panel_haplotypes"] = report["panel"]["haplotypes"]
    res["scores"] = score(data.val.haps, called, prob, site, data.alt_freq)
    return res


def run_beagle(args: argparse.Namespace, data: dt.Data, site: np.ndarray,
               work: Path) -> dict[str, Any]:  # fmt: skip
    """Beagle on the same targets (an unphased VCF, masked genotypes ``./.``)."""
    prefix, env = bb.beagle_command(args.beagle, args.java_mem)
    ref, tgt = work / "ref.vcf.gz", work / "target.vcf.gz"
    bb.write_vcf(ref, data.train.haps, data.positions, data.train.samples)
    bb.write_vcf(tgt, data.val.haps, data.positions, data.val.samples, site, phased=False)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    cmd, wall = bb.run_beagle(
        prefix, env, ref, tgt, work / "beagle", nthreads=args.nthreads, seed=args.beagle_seed,
        genetic_map=args.map,
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    called, prob = bb.read_vcf(work / "beagle.vcf.gz", data.val.samples, data.positions)
    return {
        "wall_s": wall, "cpu_s": cpu, "command": " ".join(cmd),
        "scores": score(data.val.haps, called, prob, site, data.alt_freq),
    }  # fmt: skip


def table(result: dict[str, Any]) -> list[str]:
    """The printed comparison: time, then F1 by MAF bin and rare r² per imputer."""
    bins = [*mm.bin_labels(), "rare"]
    lines = [
        "| imputer | wall s | CPU s | " + " | ".join(f"F1 {b}" for b in bins) + " | r² rare |",
        "|---" * (len(bins) + 4) + "|",
    ]
    for name in ("impute", "beagle"):
        if name in result:
            r = result[name]
            f1 = " | ".join(f"{r['scores'][b]['f1']:.4f}" for b in bins)
            lines.append(f"| {name} | {r['wall_s']:.1f} | {r['cpu_s']:.1f} | {f1} | "
                         f"{r['scores']['rare']['r2']:.4f} |")  # fmt: skip
    if "impute" in result and "beagle" in result:
        w = result["impute"]["wall_s"] / result["beagle"]["wall_s"]
        c = result["impute"]["cpu_s"] / result["beagle"]["cpu_s"]
        lines.append(f"impute / Beagle: wall {w:.2f}x, CPU {c:.2f}x")
        result["ratio"] = {"wall": w, "cpu": c}
    return lines


def bench(argv: list[str]) -> dict[str, Any]:
    args = parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    if not args.no_beagle:
        bb.beagle_command(args.beagle, args.java_mem)  # missing Beagle: stop before any work
    result: dict[str, Any] = {"argv": argv, "load_start": load_average()}
    print(f"load average {result['load_start'][0]:.2f} {result['load_start'][1]:.2f} "
          f"{result['load_start'][2]:.2f}", flush=True)  # fmt: skip
    data = dt.load_data(args)
    if data.train.ploidy != 2 or (data.train.haps < 0).any() or (data.val.haps < 0).any():
        raise InputError("the benchmark needs diploid data without missing calls")
    _, _, site = bb.val_masks(data, args)
    result["data"] = {"panel": data.train.n, "targets": data.val.n, "sites": data.n_sites,
                      "masked_genotypes": int(site.sum())}  # fmt: skip
    print(f"data: {data.source}; panel {data.train.n}, targets {data.val.n}, {data.n_sites} "
          f"sites; {int(site.sum()):,} masked target genotypes", flush=True)  # fmt: skip
    flags = trainer_flags(args)
    with tempfile.TemporaryDirectory(prefix="bench_impute_") as tmp:
        work = Path(tmp)
        ckpt = Path(args.checkpoint) if args.checkpoint else out / "train" / "checkpoint.pt"
        if args.untrained and not args.checkpoint:
            untrained_checkpoint(args, data, ckpt)
        elif not args.checkpoint:
            cmd = [
                sys.executable, "-m", "examples.rag_bert.train", *flags, "--out",
                str(out / "train"), "--epochs", "1", "--max-steps", str(args.train_steps),
                "--no-plots", "--quiet", "--val-unphased",
            ]  # fmt: skip
            print("training ...", flush=True)
            result["train"] = timed(cmd, out / "train.log")
            print(f"train: {result['train']['wall_s']:.1f} s wall, "
                  f"{result['train']['cpu_s']:.1f} s CPU", flush=True)  # fmt: skip
        print("impute ...", flush=True)
        result["impute"] = run_impute(args, data, site, ckpt, work)
        if not args.no_beagle:
            print("Beagle ...", flush=True)
            result["beagle"] = run_beagle(args, data, site, work)
    result["load_end"] = load_average()
    lines = table(result)
    print("\n".join(lines))
    print(f"load average at the end {result['load_end'][0]:.2f} {result['load_end'][1]:.2f} "
          f"{result['load_end'][2]:.2f}")  # fmt: skip
    dt.write_text(out / "bench_impute.json", json.dumps(result, indent=1, default=float))
    return result


def main(argv: list[str] | None = None) -> int:
    try:
        bench(sys.argv[1:] if argv is None else argv)
    except (InputError, bb.BeagleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
