"""Score Beagle 5.4 on the trainer's frozen validation masks.

Run ``python -m examples.rag_bert.beagle_bench [trainer data flags]``.

Writes the training panel (``ref.vcf.gz``, phased) and the validation targets with masked
genotypes set to ``./.`` (``target.vcf.gz``), runs ``beagle ref=... gt=... out=...`` when the
``beagle`` command exists (Debian package ``beagle``), and scores its calls with the same
minor-allele metrics and masks as the trainer. Accepts the trainer's data and validation-mask flags.
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np

from maskkit import metrics as mm

from . import data as dt
from . import train


def write_vcf(
    path: Path, haps: np.ndarray, pos: np.ndarray, names: np.ndarray, hide: np.ndarray | None
) -> None:
    """Phased biallelic VCF; genotypes where ``hide`` is True become ``./.``."""
    with gzip.open(path, "wt") as f:
        f.write("##fileformat=VCFv4.2\n##contig=<ID=1>\n")
        f.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        f.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(names) + "\n")
        for j in range(haps.shape[-1]):
            a, b = haps[:, 0, j], haps[:, 1, j]
            gts = [f"{x}|{y}" for x, y in zip(a, b)]
            if hide is not None:
                gts = ["./." if h else g for g, h in zip(gts, hide[:, j])]
            f.write(f"1\t{pos[j]}\t.\tA\tC\t.\tPASS\t.\tGT\t" + "\t".join(gts) + "\n")


def read_vcf_gt(path: Path, n: int, n_sites: int) -> np.ndarray:
    out = np.full((n, 2, n_sites), -1, dtype=np.int8)
    j = 0
    with gzip.open(path, "rt") as f:
        for line in f:
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            for i, g in enumerate(fields[9 : 9 + n]):
                gt = g.split(":")[0].replace("/", "|").split("|")
                out[i, 0, j], out[i, 1, j] = int(gt[0]), int(gt[1])
            j += 1
    return out


def main(argv: list[str] | None = None) -> int:
    args = train.build_parser().parse_args([*(argv or sys.argv[1:]), "--quiet"])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    data = dt.load_data(args)
    site = np.zeros((data.val.n, data.n_sites), dtype=bool)
    covered = np.zeros(data.n_sites, dtype=bool)
    for w, (s, e) in enumerate(data.windows):
        m = dt.val_site_mask(
            data.val.haps[:, :, s:e], args.val_mask_rule, args.val_mask_rate,
            args.val_mask_unit, args.alt_rate, args.val_seed, w,
        )  # fmt: skip
        cols = np.flatnonzero(~covered[s:e])
        site[:, s + cols] = m[:, cols]
        covered[s:e] = True
    write_vcf(out / "ref.vcf.gz", data.train.haps, data.positions, data.train.samples, None)
    write_vcf(out / "target.vcf.gz", data.val.haps, data.positions, data.val.samples, site)
    beagle = shutil.which("beagle")
    if beagle is None:
        print(f"beagle not found (Debian: apt install beagle); VCFs written to {out}")
        return 0
    subprocess.run(
        [beagle, f"ref={out / 'ref.vcf.gz'}", f"gt={out / 'target.vcf.gz'}",
         f"out={out / 'beagle'}", "nthreads=2", "seed=1"],
        check=True,
    )  # fmt: skip
    called = read_vcf_gt(out / "beagle.vcf.gz", data.val.n, data.n_sites)
    res = mm.score(data.val.haps, called, site, data.alt_freq)
    (out / "beagle_scores.json").write_text(json.dumps(res, indent=1, default=float))
    for b in [*mm.bin_labels(), "rare", "all"]:
        print(f"beagle {b:15s} F1 {res[b]['f1']:.4f} r2 {res[b]['r2']:.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
