"""Masking ablation: ``python -m examples.rag_bert.ablation [train flags...]``.

Trains random, smart balanced (alt 0.7) and allele-frequency-aware masking, the last two also
with importance weights (each masked genotype's loss weighted by ``1 / P(masked)``,
``--importance-weights``), for the same epochs over several seeds (``--seeds 1 2 3``) on the same
data and frozen validation masks. The smart balanced run is scored twice, as trained and with the
prior correction (``--prior-correction``: the training masks' class log odds subtracted from the
alt logit), so "smart balanced corrected" is the same model as "smart balanced". Writes
``ablation.md`` (mean and 95 % t-interval over seeds of minor-allele F1 and dosage r², then each
arm minus random paired by seed), ``ablation.json`` and ``ablation.png`` under ``--out``. Any
other flag is passed to the trainer (e.g. ``--epochs 4``); calls are the trainer's (argmax with
the HMM prior, the default).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from maskkit import metrics as mm

from . import cli, train
from .data import InputError, write_text

ARMS: dict[str, list[str]] = {
    "random": ["--strategy", "random"],
    "smart_balanced_0.7": [
        "--strategy",
        "smart_balanced",
        "--alt-rate",
        "0.7",
        "--prior-correction",
    ],
    "smart_balanced_0.7_weighted": [
        "--strategy",
        "smart_balanced",
        "--alt-rate",
        "0.7",
        "--importance-weights",
    ],
    "af_aware": ["--strategy", "af_aware"],
    "af_aware_weighted": ["--strategy", "af_aware", "--importance-weights"],
}
# Student t quantile 0.975 for 1..9 degrees of freedom (95 % interval of a mean)
T975 = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262)
BINS = mm.bin_labels()
COLUMNS = [BINS[0], "rare", BINS[-1]]


def _mean_ci(x: list[float]) -> tuple[float, float]:
    """Mean and half-width of its 95 % t-interval (0 for one value)."""
    a = np.asarray(x, dtype=np.float64)
    a = a[np.isfinite(a)]
    if a.size == 0:
        return float("nan"), float("nan")
    if a.size == 1:
        return float(a[0]), 0.0
    t = T975[min(a.size - 2, len(T975) - 1)]
    return float(a.mean()), float(t * a.std(ddof=1) / np.sqrt(a.size))


def table(results: dict[str, Any]) -> str:
    head = (
        "| masking | " + " | ".join(f"F1 {c}" for c in COLUMNS)
        + " | " + " | ".join(f"r² {c}" for c in COLUMNS) + " | val loss |"
    )  # fmt: skip
    lines = [head, "|---" * (2 * len(COLUMNS) + 2) + "|"]
    for arm, runs in results["arms"].items():
        cells = []
        for metric in ("f1", "r2"):
            for c in COLUMNS:
                m, h = _mean_ci([r["val"][c][metric] for r in runs])
                cells.append(f"{m:.3f} ± {h:.3f}")
        m, h = _mean_ci([r["val_loss"] for r in runs])
        lines.append(f"| {arm} | " + " | ".join(cells) + f" | {m:.4f} ± {h:.4f} |")
    for name, res in results["baselines"].items():
        cells = [f"{res[c]['f1']:.3f}" for c in COLUMNS]
        cells += [f"{res[c]['r2']:.3f}" for c in COLUMNS]
        lines.append(f"| baseline: {name} | " + " | ".join(cells) + " | – |")
    return "\n".join(lines)


def paired(
    results: dict[str, Any], base: str = "random", col: str = "rare"
) -> list[dict[str, Any]]:
    """Each arm minus ``base``, paired by seed (same data, validation masks and model seed).

    Returns one row per other arm: mean and 95 % t-interval half-width of the per-seed
    differences in F1 and dosage r² of bin ``col``, the seeds paired, and ``beats``: the F1
    interval lies above 0 while the r² interval reaches 0 or above (no loss of r² shown).
    """
    arms = results["arms"]
    if base not in arms:
        return []
    ref = {r["seed"]: r for r in arms[base]}
    rows = []
    for arm, runs in arms.items():
        if arm == base:
            continue
        pairs = [(r, ref[r["seed"]]) for r in runs if r["seed"] in ref]
        if not pairs:
            continue
        d_f1 = _mean_ci([a["val"][col]["f1"] - b["val"][col]["f1"] for a, b in pairs])
        d_r2 = _mean_ci([a["val"][col]["r2"] - b["val"][col]["r2"] for a, b in pairs])
        beats = len(pairs) > 1 and d_f1[0] - d_f1[1] > 0 and d_r2[0] + d_r2[1] >= 0
        rows.append({"arm": arm, "seeds": len(pairs), "f1": d_f1, "r2": d_r2, "beats": beats})
    return rows


def paired_table(results: dict[str, Any], base: str = "random", col: str = "rare") -> str:
    rows = paired(results, base, col)
    if not rows:
        return ""
    lines = [
        f"| masking − {base}, paired by seed | seeds | Δ F1 {col} | Δ r² {col} | beats {base} |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        (f, fh), (q, qh) = r["f1"], r["r2"]
        lines.append(
            f"| {r['arm']} | {r['seeds']} | {f:+.3f} ± {fh:.3f} | {q:+.3f} ± {qh:.3f} | "
            f"{'yes' if r['beats'] else 'no'} |"
        )
    return "\n".join(lines)


def plot(results: dict[str, Any], path: Path) -> None:
    """F1 per arm and bin; with a random arm, also each arm minus random paired by seed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    arms = list(results["arms"])
    rows = paired(results)
    fig, axes = plt.subplots(1, 2 if rows else 1, figsize=(11 if rows else 6.5, 4), squeeze=False)
    ax = axes[0, 0]
    x = np.arange(len(COLUMNS))
    width = 0.8 / (len(arms) + 1)
    for i, arm in enumerate(arms):
        runs = results["arms"][arm]
        ms = [_mean_ci([r["val"][c]["f1"] for r in runs]) for c in COLUMNS]
        ax.bar(x + i * width, [m for m, _ in ms], width, yerr=[s for _, s in ms], label=arm,
               capsize=3)  # fmt: skip
    nn = results["baselines"]["nearest_copy"]
    ax.bar(x + len(arms) * width, [nn[c]["f1"] for c in COLUMNS], width, label="nearest copy",
           color="grey")  # fmt: skip
    ax.set_xticks(x + width * len(arms) / 2, COLUMNS)
    ax.set(ylabel="minor-allele F1 (mean, 95 % interval over seeds)", ylim=(0, 1.25))
    ax.set_title("masking ablation")
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    if rows:
        ax = axes[0, 1]
        y = np.arange(len(rows))[::-1]
        for yi, r in zip(y, rows):
            for key, dy, colour, name in (
                ("f1", 0.12, "C0", "Δ F1 rare"),
                ("r2", -0.12, "C1", "Δ r² rare"),
            ):
                m, h = r[key]
                label = name if yi == y[0] else None
                ax.errorbar(m, yi + dy, xerr=h, fmt="o", color=colour, capsize=3, label=label)
        ax.axvline(0.0, color="grey", lw=1)
        ax.set_yticks(y, [r["arm"] for r in rows], fontsize=8)
        ax.set_xlabel("arm minus random, paired by seed (mean, 95 % interval)")
        ax.set_title("does a rule beat random?")
        ax.legend(fontsize=7, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _canon(x: Any) -> str:
    return json.dumps(x, sort_keys=True, default=float)


def merge(parts: list[dict[str, Any]]) -> dict[str, Any]:
    """One result from runs split by ``--arms`` or by ``--seeds``: each arm's runs in order of
    seed. A seed of an arm present in two parts must hold the same scores (a re-run), else
    ``ValueError``: two different runs under one seed would make the pairing meaningless."""
    results: dict[str, Any] = {**parts[0], "arms": {}}
    for part in parts:
        for arm, runs in part["arms"].items():
            have = {r["seed"]: r for r in results["arms"].setdefault(arm, [])}
            for r in runs:
                if r["seed"] in have:
                    # compared as JSON: NaN scores (a bin without minor alleles) never equal
                    if _canon(have[r["seed"]]["val"]) != _canon(r["val"]):
                        raise ValueError(f"arm {arm} seed {r['seed']} has two different results")
                    continue
                results["arms"][arm].append(r)
    for runs in results["arms"].values():
        runs.sort(key=lambda r: r["seed"])
    results["seeds"] = sorted({r["seed"] for runs in results["arms"].values() for r in runs})
    return results


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m examples.rag_bert.ablation", description=__doc__)
    p.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    p.add_argument("--out", default="runs/ablation")
    p.add_argument("--arms", nargs="+", choices=list(ARMS), default=list(ARMS))
    p.add_argument(
        "--merge", nargs="+", metavar="JSON",
        help="only combine the ablation.json files of runs split by --arms or --seeds into one "
        "table",
    )  # fmt: skip
    args, rest = p.parse_known_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"arms": {}, "train_flags": rest, "seeds": args.seeds}
    runs: dict[str, list[dict[str, Any]]] = {}
    if args.merge:
        try:
            results = merge([json.loads(Path(f).read_text()) for f in args.merge])
        except KeyError as exc:
            print(f"error: --merge: not an ablation.json (no {exc} entry)", file=sys.stderr)
            return 2
        except (OSError, ValueError) as exc:
            print(f"error: --merge: {exc}", file=sys.stderr)
            return 2
        args.seeds = []  # nothing to train
    try:
        for seed in args.seeds:  # seeds outside: a cut-short run still has every arm
            for arm in args.arms:
                flags = ARMS[arm]
                targs = cli.build_parser().parse_args(
                    [*rest, *flags, "--seed", str(seed), "--out", str(out / f"{arm}_s{seed}"),
                     "--quiet", "--no-plots"]
                )  # fmt: skip
                summary = train.run(targs)
                last = summary["history"][-1]
                done = {"seed": seed, "val": last["val"], "val_loss": last["val_loss"]}
                if "val_uncorrected" in last:  # as trained, then the same model corrected
                    runs.setdefault(arm, []).append(
                        {"seed": seed, "val": last["val_uncorrected"],
                         "val_loss": last["val_loss_uncorrected"]}
                    )  # fmt: skip
                    runs.setdefault(arm + "_corrected", []).append(done)
                else:
                    runs.setdefault(arm, []).append(done)
                results["baselines"] = summary["baselines"]
                results["arms"] = runs
                write_text(out / "ablation.json", json.dumps(results, indent=1, default=float))
                print(f"{arm} seed {seed}: rare F1 {last['val']['rare']['f1']:.4f} "
                      f"common F1 {last['val'][BINS[-1]]['f1']:.4f}", flush=True)  # fmt: skip
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    md = table(results)
    pt = paired_table(results)
    if pt:
        md += "\n\n" + pt
    write_text(out / "ablation.md", md + "\n")
    write_text(out / "ablation.json", json.dumps(results, indent=1, default=float))
    plot(results, out / "ablation.png")
    print(md)
    print(f"table: {out / 'ablation.md'}  plot: {out / 'ablation.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
