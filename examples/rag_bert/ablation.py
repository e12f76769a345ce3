"""Masking ablation: ``python -m examples.rag_bert.ablation [train flags...]``.

Trains random vs smart balanced (alt 0.7) vs smart balanced (alt 0.8) for the same epochs over
several seeds (``--seeds 1 2 3``) on the same data and frozen validation masks, then writes
``ablation.md`` (mean ± sd of rare and common minor-allele F1), ``ablation.json`` and
``ablation.png`` under ``--out``. Any other flag is passed to the trainer (e.g. ``--epochs 4``).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from maskkit import metrics as mm

from . import train
from .data import InputError

ARMS: dict[str, list[str]] = {
    "random": ["--strategy", "random"],
    "smart_balanced_0.7": ["--strategy", "smart_balanced", "--alt-rate", "0.7"],
    "smart_balanced_0.8": ["--strategy", "smart_balanced", "--alt-rate", "0.8"],
}
BINS = mm.bin_labels()
COLUMNS = [BINS[0], "rare", BINS[-1]]


def _mean_sd(x: list[float]) -> tuple[float, float]:
    a = np.asarray(x, dtype=np.float64)
    return float(np.nanmean(a)), float(np.nanstd(a, ddof=1)) if a.size > 1 else 0.0


def table(results: dict[str, Any]) -> str:
    head = (
        "| masking | " + " | ".join(f"F1 {c}" for c in COLUMNS)
        + " | " + " | ".join(f"r² {c}" for c in COLUMNS[:2]) + " | val loss |"
    )  # fmt: skip
    lines = [head, "|---" * (len(COLUMNS) + 4) + "|"]
    for arm, runs in results["arms"].items():
        cells = []
        for c in COLUMNS:
            m, s = _mean_sd([r["val"][c]["f1"] for r in runs])
            cells.append(f"{m:.4f} ± {s:.4f}")
        for c in COLUMNS[:2]:
            m, s = _mean_sd([r["val"][c]["r2"] for r in runs])
            cells.append(f"{m:.4f} ± {s:.4f}")
        m, s = _mean_sd([r["val_loss"] for r in runs])
        lines.append(f"| {arm} | " + " | ".join(cells) + f" | {m:.4f} ± {s:.4f} |")
    for name, res in results["baselines"].items():
        cells = [f"{res[c]['f1']:.4f}" for c in COLUMNS]
        cells += [f"{res[c]['r2']:.4f}" for c in COLUMNS[:2]]
        lines.append(f"| baseline: {name} | " + " | ".join(cells) + " | – |")
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(results["arms"])
    x = np.arange(len(COLUMNS))
    width = 0.8 / (len(arms) + 1)
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for i, arm in enumerate(arms):
        runs = results["arms"][arm]
        ms = [_mean_sd([r["val"][c]["f1"] for r in runs]) for c in COLUMNS]
        ax.bar(x + i * width, [m for m, _ in ms], width, yerr=[s for _, s in ms], label=arm,
               capsize=3)  # fmt: skip
    nn = results["baselines"]["nearest_copy"]
    ax.bar(x + len(arms) * width, [nn[c]["f1"] for c in COLUMNS], width, label="nearest copy",
           color="grey")  # fmt: skip
    ax.set_xticks(x + width * len(arms) / 2, COLUMNS)
    ax.set(ylabel="minor-allele F1 (mean ± sd over seeds)", ylim=(0, 1.05))
    ax.set_title("masking ablation")
    ax.set_ylim(0, 1.25)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m examples.rag_bert.ablation", description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--out", default="runs/ablation")
    args, rest = p.parse_known_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"arms": {}, "train_flags": rest, "seeds": args.seeds}
    try:
        for arm, flags in ARMS.items():
            runs = []
            for seed in args.seeds:
                targs = train.build_parser().parse_args(
                    [
                        *rest,
                        *flags,
                        "--seed",
                        str(seed),
                        "--out",
                        str(out / f"{arm}_s{seed}"),
                        "--quiet",
                        "--no-plots",
                    ]
                )
                summary = train.run(targs)
                last = summary["history"][-1]
                runs.append({"seed": seed, "val": last["val"], "val_loss": last["val_loss"]})
                results["baselines"] = summary["baselines"]
                print(f"{arm} seed {seed}: rare F1 {last['val']['rare']['f1']:.4f} "
                      f"common F1 {last['val'][BINS[-1]]['f1']:.4f}")  # fmt: skip
            results["arms"][arm] = runs
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    md = table(results)
    (out / "ablation.md").write_text(md + "\n")
    (out / "ablation.json").write_text(json.dumps(results, indent=1, default=float))
    plot(results, out / "ablation.png")
    print(md)
    print(f"table: {out / 'ablation.md'}  plot: {out / 'ablation.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
