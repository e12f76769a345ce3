"""Score Beagle 5.4 on the trainer's frozen validation masks.

Run ``python -m examples.rag_bert.beagle_bench [trainer data and validation-mask flags]``.

Loads the same data as the trainer (``--train/--val`` stores or the demo data with the same
``--demo-*`` / ``--data-seed`` / ``--window`` flags) and draws the same frozen validation masks
(``--val-mask-*``, ``--val-seed``, window by window; a site is scored in the first window that
holds it). Writes the training panel as a phased reference VCF and the validation targets with the
masked genotypes set to ``./.``, runs ``beagle ref=... gt=... out=...`` (Debian package
``beagle``, Beagle 5.4) and scores its calls on exactly the masked genotypes with
``maskkit.metrics`` (minor allele and MAF bin from the training panel), next to the trainer's
baselines (major allele, nearest-haplotype copy) on the same masks.

Beagle fills sporadic missing genotypes of genotyped markers during phasing and prints only
``GT`` there (``DS``/``AP``/``GP`` exist only for markers it imputes from the reference), so its
r² here is computed from hard calls. Results go to ``--out/beagle_bench.json``; the VCFs and
Beagle's output live in a temporary folder that is removed afterwards unless ``--keep-vcf``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from maskkit import metrics as mm

from . import cli, masking
from . import data as dt
from .baselines import baselines
from .data import InputError

BINS = mm.bin_labels()
# VCF genotype text for (allele a, allele b), alleles -1 (missing), 0, 1: code (a + 1) * 3 + (b + 1)
_GT = np.array([f"{x}|{y}" for x in (".", "0", "1") for y in (".", "0", "1")], dtype=object)
_GT_UNPHASED = np.array(
    ["/".join(sorted((x, y), key=lambda a: (a != ".", a))) for x in (".", "0", "1")
     for y in (".", "0", "1")], dtype=object,
)  # fmt: skip


class BeagleError(RuntimeError):
    """Beagle is missing or failed; the message says what to do."""


def build_parser() -> argparse.ArgumentParser:
    p = cli.build_parser()
    p.prog = "python -m examples.rag_bert.beagle_bench"
    p.description = __doc__
    p.set_defaults(out="runs/beagle")
    g = p.add_argument_group("beagle")
    g.add_argument(
        "--beagle", default="beagle",
        help="Beagle command (Debian wrapper 'beagle') or path to a Beagle .jar",
    )  # fmt: skip
    g.add_argument("--nthreads", type=int, default=2, help="Beagle threads")
    g.add_argument("--beagle-seed", type=int, default=1, help="Beagle's seed=")
    g.add_argument("--map", help="PLINK genetic map (cM) for Beagle (default: 1 cM/Mb)")
    g.add_argument(
        "--java-mem", default=None,
        help="Java heap, e.g. 8g (passed as -Xmx via JAVA_TOOL_OPTIONS; default: Java's)",
    )  # fmt: skip
    g.add_argument("--keep-vcf", action="store_true", help="keep VCFs and Beagle output in --out")
    g.add_argument(
        "--vcf-only",
        action="store_true",
        help="write the VCFs to --out and score the baselines; no Beagle",
    )
    return p


# -- VCF --------------------------------------------------------------------------------------


def write_vcf(
    path: str | os.PathLike[str],
    haps: np.ndarray,
    pos: np.ndarray,
    names: Any,
    hide: np.ndarray | None = None,
    chrom: str = "1",
    phased: bool = True,
) -> None:
    """Write a phased biallelic VCF (REF ``A``, ALT ``C``; allele ``-1`` becomes ``.``).

    ``haps`` is ``(samples, 2, sites)``; genotypes where ``hide`` ``(samples, sites)`` is True
    become ``./.``. ``phased=False`` writes unphased genotypes (``0/1``, alt allele second).
    """
    haps = np.asarray(haps)
    pos = np.asarray(pos, dtype=np.int64)
    names = [str(s) for s in names]
    if haps.ndim != 3 or haps.shape[1] != 2:
        raise InputError(f"VCF export needs diploid (samples, 2, sites) data, got {haps.shape}")
    n, _, n_sites = haps.shape
    if pos.shape != (n_sites,) or len(names) != n:
        raise InputError("positions / sample names do not match the genotype array")
    if n_sites and (pos.min() < 1 or np.any(np.diff(pos) <= 0)):
        raise InputError("positions must be >= 1 and strictly increasing for VCF export")
    if haps.size and (haps.min() < -1 or haps.max() > 1):
        raise InputError("VCF export supports biallelic sites only (alleles -1, 0, 1)")
    if hide is not None:
        hide = np.asarray(hide, dtype=bool)
        if hide.shape != (n, n_sites):
            raise InputError(f"hide must have shape {(n, n_sites)}, got {hide.shape}")
    if len(set(names)) != n or any(not s or any(c.isspace() for c in s) for s in names):
        raise InputError("sample names must be unique and free of whitespace")
    code = (haps[:, 0, :].astype(np.int64) + 1) * 3 + (haps[:, 1, :] + 1)
    if hide is not None:
        code = np.where(hide, 0, code)  # 0 -> ".|.", written as "./."
    gt = _GT.copy() if phased else _GT_UNPHASED.copy()
    gt[0] = "./."
    with gzip.open(path, "wt", compresslevel=3) as f:
        f.write("##fileformat=VCFv4.2\n")
        f.write(f"##contig=<ID={chrom}>\n")
        f.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(names) + "\n")
        for j in range(n_sites):
            f.write(f"{chrom}\t{pos[j]}\t.\tA\tC\t.\tPASS\t.\tGT\t")
            f.write("\t".join(gt[code[:, j]]) + "\n")


def _allele(a: str) -> int:
    return -1 if a == "." else int(a)


def read_vcf(
    path: str | os.PathLike[str], names: Any, positions: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Read a biallelic VCF (e.g. Beagle's output) back onto ``names`` x ``positions``.

    Returns ``(gt, alt_prob)``, both ``(samples, 2, sites)``: alleles (``-1`` missing) and the
    alt probability per haplotype, from ``AP1``/``AP2`` when present, else ``DS / 2``, else the
    hard call. Samples are matched by name and sites by position; every requested sample and
    site must be in the file.
    """
    names = [str(s) for s in names]
    positions = np.asarray(positions, dtype=np.int64)
    col_of = {int(p): j for j, p in enumerate(positions)}
    n = len(names)
    gt = np.full((n, 2, positions.shape[0]), -1, dtype=np.int8)
    prob = np.full(gt.shape, np.nan, dtype=np.float32)
    seen = np.zeros(positions.shape[0], dtype=bool)
    idx: list[int] | None = None
    with gzip.open(path, "rt") if str(path).endswith(".gz") else open(path) as f:
        for line in f:
            if line.startswith("##"):
                continue
            fields = line.rstrip("\n").split("\t")
            if line.startswith("#"):
                header = fields[9:]
                missing = sorted(set(names) - set(header))
                if missing:
                    raise InputError(f"{path}: samples missing from the VCF: {missing[:5]}")
                where = {s: i for i, s in enumerate(header)}
                idx = [9 + where[s] for s in names]
                continue
            if idx is None:
                raise InputError(f"{path}: no #CHROM header line")
            j = col_of.get(int(fields[1]))
            if j is None:
                continue
            if "," in fields[4]:
                raise InputError(f"{path}: multi-allelic site at position {fields[1]}")
            fmt = fields[8].split(":")
            k_gt = fmt.index("GT")
            k_ap = (fmt.index("AP1"), fmt.index("AP2")) if "AP1" in fmt and "AP2" in fmt else None
            k_ds = fmt.index("DS") if "DS" in fmt else None
            for i, c in enumerate(idx):
                parts = fields[c].split(":")
                g = parts[k_gt].replace("/", "|").split("|")
                a = _allele(g[0])
                b = _allele(g[1]) if len(g) > 1 else a
                gt[i, 0, j], gt[i, 1, j] = a, b
                if k_ap is not None:
                    prob[i, 0, j], prob[i, 1, j] = float(parts[k_ap[0]]), float(parts[k_ap[1]])
                elif k_ds is not None:
                    prob[i, :, j] = float(parts[k_ds]) / 2.0
            seen[j] = True
    if idx is None:
        raise InputError(f"{path}: no #CHROM header line")
    if not seen.all():
        miss = positions[~seen]
        raise InputError(f"{path}: {miss.size} sites missing from the VCF, e.g. position {miss[0]}")
    prob = np.where(np.isnan(prob), np.clip(gt, 0, 1), prob).astype(np.float32)
    return gt, prob


# -- masks ------------------------------------------------------------------------------------


def val_masks(
    data: dt.Data, args: argparse.Namespace
) -> tuple[list[np.ndarray], list[np.ndarray], np.ndarray]:
    """The trainer's frozen validation masks: per-window masks, scored columns per window and
    the global ``(val samples, sites)`` mask of scored genotypes (see ``evaluate.Evaluator``)."""
    site = masking.val_genotype_mask(
        data.val.haps, dt.make_windows(data.n_sites, args.val_mask_window), args.val_mask_rule,
        args.val_mask_rate, args.val_mask_unit, args.alt_rate, args.val_seed,
    )  # fmt: skip
    masks = [site[:, s:e] for s, e in data.windows]
    return masks, dt.score_windows(data.windows, data.n_sites), site


# -- Beagle -----------------------------------------------------------------------------------


def beagle_command(
    beagle: str, java_mem: str | None = None
) -> tuple[list[str], dict[str, str] | None]:
    """Resolve ``--beagle`` to an argv prefix and environment; raise :class:`BeagleError` when
    it does not exist. A ``.jar`` runs as ``java [-Xmx] -jar``; the Debian wrapper
    (``exec java -jar ...``) takes the heap through ``JAVA_TOOL_OPTIONS``."""
    if beagle.endswith(".jar"):
        java = shutil.which("java")
        if not Path(beagle).is_file() or java is None:
            raise BeagleError(f"Beagle jar {beagle!r} or the 'java' command is missing")
        return [java, *([f"-Xmx{java_mem}"] if java_mem else []), "-jar", beagle], None
    exe = shutil.which(beagle)
    if exe is None:
        raise BeagleError(
            f"Beagle command {beagle!r} not found. Install Beagle 5.4 (Debian/Ubuntu: "
            "'apt-get install beagle') or pass --beagle /path/to/beagle.jar; "
            "--vcf-only writes the VCFs without running it."
        )
    env = None
    if java_mem:
        env = dict(os.environ)
        env["JAVA_TOOL_OPTIONS"] = f"{env.get('JAVA_TOOL_OPTIONS', '')} -Xmx{java_mem}".strip()
    return [exe], env


def run_beagle(
    prefix: list[str],
    env: dict[str, str] | None,
    ref: Path,
    gt: Path,
    out: Path,
    *,
    nthreads: int = 2,
    seed: int = 1,
    genetic_map: str | None = None,
) -> tuple[list[str], float]:
    """Run Beagle (``out`` is the output prefix); return the command and its wall seconds.
    Its console output goes to ``out.stdout``; a failure raises with the log's tail."""
    cmd = [
        *prefix, f"ref={ref}", f"gt={gt}", f"out={out}", f"nthreads={nthreads}",
        "impute=true", "gp=true", f"seed={seed}",
    ]  # fmt: skip
    if genetic_map:
        cmd.append(f"map={genetic_map}")
    t0 = time.perf_counter()
    with open(f"{out}.stdout", "w") as log:
        rc = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    seconds = time.perf_counter() - t0
    if rc != 0 or not Path(f"{out}.vcf.gz").exists():
        tail = Path(f"{out}.stdout").read_text(errors="replace").splitlines()[-15:]
        raise BeagleError(f"Beagle failed (exit {rc}): {' '.join(cmd)}\n" + "\n".join(tail))
    return cmd, seconds


# -- main -------------------------------------------------------------------------------------


def _row(name: str, res: dict[str, Any]) -> str:
    cells = [f"{res[b]['f1']:.3f} / {res[b]['r2']:.3f}" for b in [*BINS, "rare"]]
    return f"| {name} | " + " | ".join(cells) + f" | {res['all']['concordance']:.4f} |"


def _beagle(
    args: argparse.Namespace,
    prefix: list[str],
    env: dict[str, str] | None,
    data: dt.Data,
    site: np.ndarray,
    work: Path,
) -> dict[str, Any]:
    """Run Beagle on the VCFs in ``work`` and score its calls at the masked genotypes."""
    cmd, seconds = run_beagle(
        prefix, env, work / "ref.vcf.gz", work / "target.vcf.gz", work / "beagle",
        nthreads=args.nthreads, seed=args.beagle_seed, genetic_map=args.map,
    )  # fmt: skip
    print(f"Beagle finished [{seconds:.1f} s]", flush=True)
    called, prob = read_vcf(work / "beagle.vcf.gz", data.val.samples, data.positions)
    if (called[np.broadcast_to(site[:, None, :], called.shape)] < 0).any():
        raise BeagleError("Beagle left masked genotypes missing")
    # unmasked genotypes are input, not imputed: Beagle may re-phase but not change them
    vis = ~site & (data.val.haps >= 0).all(axis=1)
    changed = called.sum(axis=1) != data.val.haps.sum(axis=1)
    return {
        "beagle_s": seconds,
        "beagle_command": " ".join(cmd),
        "visible_genotypes_changed": int(changed[vis].sum()),
        "beagle": mm.score(data.val.haps, called, site, data.alt_freq, alt_prob=prob),
    }


def bench(args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out)
    prefix, env = ([], None) if args.vcf_only else beagle_command(args.beagle, args.java_mem)
    t_all = time.perf_counter()
    t0 = time.perf_counter()
    data = dt.load_data(args)
    if data.train.ploidy != 2:
        raise InputError("the Beagle benchmark needs diploid data")
    if (data.train.haps < 0).any():
        raise InputError("Beagle's reference panel must have no missing alleles (training panel)")
    masks, cols_of, site = val_masks(data, args)
    t_data = time.perf_counter() - t0
    print(f"data: {data.source}; train {data.train.n}, val {data.val.n}, {data.n_sites} sites, "
          f"{len(data.windows)} windows; {int(site.sum()):,} masked target genotypes "
          f"({site.mean():.3f}) [{t_data:.1f} s]")  # fmt: skip
    out.mkdir(parents=True, exist_ok=True)
    work = out if (args.keep_vcf or args.vcf_only) else Path(tempfile.mkdtemp(prefix="beagle_"))
    result: dict[str, Any] = {"data": data.source, "n_sites": data.n_sites}
    try:
        t0 = time.perf_counter()
        ref, tgt = work / "ref.vcf.gz", work / "target.vcf.gz"
        write_vcf(ref, data.train.haps, data.positions, data.train.samples)
        write_vcf(tgt, data.val.haps, data.positions, data.val.samples, site)
        result["vcf_write_s"] = time.perf_counter() - t0
        if args.vcf_only:
            print(f"VCFs written: {ref}, {tgt}")
        else:
            print(f"VCFs written [{result['vcf_write_s']:.1f} s]; running Beagle ...", flush=True)
            result.update(_beagle(args, prefix, env, data, site, work))
            if work != out:
                shutil.copy(work / "beagle.log", out / "beagle.log")
    finally:
        if work != out:
            shutil.rmtree(work, ignore_errors=True)
    from .retrieval import PanelIndex

    t0 = time.perf_counter()
    index = PanelIndex(data.train.haps, data.windows, 1)
    result.update(baselines(data, index, masks, cols_of))
    result["baselines_s"] = time.perf_counter() - t0
    result["total_s"] = time.perf_counter() - t_all
    result["masked_genotypes"] = {b: result["nearest_copy"][b]["n_genotypes"] for b in BINS}
    dt.write_text(out / "beagle_bench.json", json.dumps(result, indent=1, default=float))
    print("minor-allele F1 / r² at the masked genotypes (r² of Beagle from hard calls):")
    print("| predictor | " + " | ".join([*BINS, "rare"]) + " | concordance |")
    for name in ("major_allele", "nearest_copy", "beagle"):
        if name in result:
            print(_row(name, result[name]))
    print(f"total {result['total_s']:.1f} s; results: {out / 'beagle_bench.json'}")
    return result


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    try:
        bench(args)
    except (InputError, BeagleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
