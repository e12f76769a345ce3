"""Outputs of the reference trainer: ``metrics.csv``, ``metrics.json`` and the two plots."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import data as dt
from .baselines import BINS


def progress(enabled: bool) -> Callable[..., Any]:
    """Return ``bar(it, desc=None, total=None)``, a phase's progress bar with its time left.

    The phases are train, calibrate and validate; when not ``enabled`` the bar is ``it`` itself.
    """

    def bar(it: Any, desc: str | None = None, total: int | None = None) -> Any:
        if not enabled:
            return it
        from tqdm import tqdm

        # smoothing 0: the mean rate, so the time left holds across blocks (one HMM pass, then
        # its windows)
        return tqdm(it, desc=desc, total=total, leave=False, dynamic_ncols=True, smoothing=0)

    return bar


def timed(name: str, fn: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Return ``fn(*args)``'s log with the seconds it took as ``{name}_s`` and ``{name}_cpu_s``.

    Wall clock and CPU time of this process (its threads included).
    """
    wall, cpu = time.perf_counter(), time.process_time()
    log = fn(*args)
    log[f"{name}_s"], log[f"{name}_cpu_s"] = time.perf_counter() - wall, time.process_time() - cpu
    return log


def flat_row(epoch_log: dict[str, Any]) -> dict[str, Any]:
    skip = ("val", "val_argmax", "thresholds", "prior_rates", "val_uncorrected")
    skip += ("val_loss_uncorrected",)  # last epoch only; kept in metrics.json
    row = {k: v for k, v in epoch_log.items() if k not in skip}
    row["thresholds"] = " ".join(f"{t:g}" for t in epoch_log.get("thresholds") or [])
    for b in [*BINS, "rare", "all"]:
        for m in ("f1", "precision", "recall", "r2", "concordance"):
            row[f"val_{b}_{m}"] = epoch_log["val"][b][m]
        if "val_argmax" in epoch_log:
            row[f"val_argmax_{b}_f1"] = epoch_log["val_argmax"][b]["f1"]
    return row


def write_metrics(out: Path, history: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    rows = [flat_row(h) for h in history]
    buf = io.StringIO(newline="")
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    dt.write_text(out / "metrics.csv", buf.getvalue())
    summary_json = json.dumps({**summary, "history": history}, indent=1, default=float)
    dt.write_text(out / "metrics.json", summary_json)


def plot(out: Path, history: list[dict[str, Any]], base: dict[str, Any]) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] + 1 for h in history]
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.plot(ep, [h["train_loss"] for h in history], "o-", label="train")
    ax.plot(ep, [h["val_loss"] for h in history], "s-", label="val (frozen masks)")
    ax.set(xlabel="epoch", ylabel="cross-entropy at masked sites", title="RAG-BERT loss")
    ax.set_xticks(ep)
    ax.legend()
    fig.tight_layout()
    p1 = out / "trainer_loss.png"
    fig.savefig(p1, dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, b in enumerate(BINS):
        color = f"C{i}"
        ax.plot(ep, [h["val"][b]["f1"] for h in history], "o-", color=color, label=f"model {b}")
        ax.axhline(base["nearest_copy"][b]["f1"], color=color, ls="--", lw=1)
    ax.plot([], [], "k--", lw=1, label="nearest-haplotype copy")
    ax.set(xlabel="epoch", ylabel="minor-allele F1 (masked genotypes)", ylim=(0, 1.02))
    ax.set_xticks(ep)
    ax.set_title("validation F1 by MAF bin")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    p2 = out / "trainer_f1.png"
    fig.savefig(p2, dpi=110)
    plt.close(fig)
    return [p1, p2]
