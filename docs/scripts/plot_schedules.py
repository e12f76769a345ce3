"""Plot every curriculum schedule as rate against epoch; writes docs/img/schedules.png.

Run from the repository root::

    python docs/scripts/plot_schedules.py

Needs matplotlib (``pip install maskkit[docs]``). The plateau panel replays a synthetic
validation-F1 curve that rises, then stalls; the per-sample panels show the distribution of the
rates samples draw in one epoch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from maskkit.curriculum import Beta, Constant, Cosine, Levels, Linear, Plateau, Uniform

EPOCHS = 30
OUT = Path(__file__).resolve().parents[1] / "img" / "schedules.png"


def synthetic_f1(epochs: int) -> list[float]:
    """A validation F1 that improves quickly, then stalls around noise (fixed seed)."""
    rng = np.random.default_rng(0)
    t = np.arange(epochs)
    curve = 0.9 - 0.4 * np.exp(-t / 3.0) + rng.normal(0, 0.002, size=epochs)
    return curve.tolist()


def main(out: Path = OUT) -> Path:
    epochs = np.arange(EPOCHS)
    fig, axes = plt.subplots(3, 2, figsize=(7.5, 11), sharex=True)
    ax = axes[0, 0]
    for p, style in ((0.15, "-"), (0.5, "--")):
        s = Constant(p)
        ax.step(epochs, [s.rate(e) for e in epochs], style, where="post", label=repr(s))
    ax.set_title("Constant")
    ax.legend(loc="upper right", fontsize=8.5)

    ax = axes[0, 1]
    for s, label in (
        (Levels(epochs_per_level=2), "epochs_per_level=2"),
        (Levels(epochs_per_level=4), "epochs_per_level=4"),
        (Levels(boundaries=[3, 6, 10, 15, 21]), "boundaries=[3, 6, ...]"),
    ):
        ax.step(epochs, [s.rate(e) for e in epochs], where="post", label=label)
    ax.set_title("Levels([0.30, ..., 0.80])")
    ax.legend(loc="lower right", fontsize=8.5)

    ax = axes[1, 0]
    for s in (
        Linear(0.15, 0.80, epochs=20),
        Cosine(0.15, 0.80, epochs=20),
        Linear(0.30, 0.15, epochs=20),
        Cosine(0.30, 0.15, epochs=20),
    ):
        ax.plot(epochs, [s.rate(e) for e in epochs], marker=".", label=repr(s))
    ax.set_title("Linear and Cosine, up or down")
    ax.legend(loc="upper left", fontsize=8.5)

    ax = axes[1, 1]
    f1 = synthetic_f1(EPOCHS)
    sched = Plateau(patience=2, min_delta=0.005, mode="max")
    rates = []
    for e in epochs:
        rates.append(sched.rate(e))
        sched.update(f1[e])
    ax.step(epochs, rates, where="post", label="mask rate")
    twin = ax.twinx()
    twin.plot(epochs, f1, color="grey", alpha=0.7, label="validation F1 (synthetic)")
    twin.set_ylim(0.45, 0.95)
    twin.set_ylabel("validation F1", color="grey")
    twin.legend(loc="lower right", fontsize=8.5)
    ax.set_title("Plateau(patience=2,\nmin_delta=0.005)")
    ax.legend(loc="upper left", fontsize=8.5)

    for ax, dist in ((axes[2, 0], Uniform(0.5, 0.99)), (axes[2, 1], Beta(2.0, 5.0))):
        lo, hi = [], []
        for e in epochs:
            r = dist.sample_rates(np.arange(2000), seed=1234, epoch=int(e))
            lo.append(np.quantile(r, 0.05))
            hi.append(np.quantile(r, 0.95))
            ax.scatter(np.full(40, e), r[:40], s=3, alpha=0.4, color="tab:blue")
        ax.fill_between(epochs, lo, hi, alpha=0.15, color="tab:blue", label="5-95% of samples")
        ax.plot(epochs, [dist.rate(e) for e in epochs], color="black", label="mean")
        ax.set_title(f"per sample: {dist!r}")
        ax.legend(loc="upper right", fontsize=8.5)

    for ax in axes.flat:
        ax.set_ylim(0.0, 1.02)
        ax.grid(alpha=0.3)
    for ax in axes[2]:
        ax.set_xlabel("epoch")
    for ax in axes[:, 0]:
        ax.set_ylabel("mask rate")
    fig.suptitle("maskkit.curriculum: mask rate against epoch")
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=100)
    plt.close(fig)
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT, help=f"output PNG (default {OUT})")
    print(main(parser.parse_args().out))
