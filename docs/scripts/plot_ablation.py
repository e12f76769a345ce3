"""Draw the ablation page's figures from the page's own tables; writes docs/img/ablation_*.png.

Run from the repository root::

    python docs/scripts/plot_ablation.py

Needs matplotlib (``pip install maskkit[docs]``). Each figure shows what its section's two tables
hold: minor-allele F1 per arm and MAF bin (mean and 95 % interval over seeds, with the
nearest-copy baseline), and each arm minus random paired by seed. The numbers are read from
docs/ablation.md, so the figure cannot drift from the table beside it; the per-seed results behind
them are written by ``python -m examples.rag_bert.ablation`` (its ``ablation.json``).
"""

from __future__ import annotations

import re
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

DOCS = Path(__file__).resolve().parents[1]
PAGE = DOCS / "ablation.md"
# section heading -> figure file
FIGURES = {
    "## With the default model (Li and Stephens prior)": "ablation_hmm_argmax_3seeds.png",
    "## Without the Li and Stephens prior": "ablation_nohmm_argmax_3seeds.png",
}
BINS = ("F1 maf<0.01", "F1 rare", "F1 maf>=0.05")
VALUE = re.compile(r"([+−-]?\d+\.\d+)(?:\s*±\s*(\d+\.\d+))?")


def _number(cell: str) -> tuple[float, float]:
    m = VALUE.search(cell)
    if m is None:
        raise ValueError(f"no number in table cell {cell!r}")
    return float(m.group(1).replace("−", "-")), float(m.group(2) or 0.0)


def _tables(section: str) -> list[list[list[str]]]:
    tables: list[list[list[str]]] = []
    current: list[list[str]] = []
    for line in section.splitlines():
        if line.startswith("|") and not line.startswith("|---"):
            current.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif not line.startswith("|---") and current:
            tables.append(current)
            current = []
    if current:
        tables.append(current)
    return tables


def _section(text: str, heading: str) -> str:
    start = text.index(heading) + len(heading)
    end = text.find("\n## ", start)
    return text[start : end if end >= 0 else len(text)]


def plot(section: str, out: Path) -> None:
    tables = _tables(section)
    arms_table = next(t for t in tables if all(b in t[0] for b in BINS))
    paired_table = next(t for t in tables if any("Δ F1 rare" in c for c in t[0]))
    head = arms_table[0]
    cols = [head.index(b) for b in BINS]
    arms = [(row[0], [_number(row[c]) for c in cols]) for row in arms_table[1:]]
    phead = paired_table[0]
    d_f1, d_r2 = phead.index("Δ F1 rare"), phead.index("Δ r² rare")
    paired = [(r[0], _number(r[d_f1]), _number(r[d_r2])) for r in paired_table[1:]]

    plt.rcParams.update({"font.size": 11})
    fig = plt.figure(figsize=(7.5, 9.0), layout="constrained")
    upper, lower = fig.subfigures(2, 1, height_ratios=[1.1, 1])
    top, bottom = upper.subplots(), lower.subplots()
    x = np.arange(len(BINS))
    width = 0.8 / len(arms)
    for i, (arm, values) in enumerate(arms):
        grey = arm.startswith("nearest copy")
        top.bar(
            x + i * width,
            [m for m, _ in values],
            width,
            yerr=None if grey else [h for _, h in values],
            capsize=2,
            label=arm.replace(", ", ",\n"),
            color="grey" if grey else f"C{i}",
        )
    top.set_xticks(x + width * (len(arms) - 1) / 2, ["MAF < 0.01", "rare", "common"])
    top.set(ylabel="minor-allele F1", ylim=(0, 1.0))
    top.set_title("F1 per arm (mean, 95 % interval over seeds)")
    top.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)

    y = np.arange(len(paired))[::-1]
    for yi, (_, f1, r2) in zip(y, paired, strict=True):
        first = yi == y[0]
        top_label = "Δ F1 rare" if first else None
        bottom.errorbar(f1[0], yi + 0.12, xerr=f1[1], fmt="o", color="C0", capsize=3,
                        label=top_label)  # fmt: skip
        bottom.errorbar(r2[0], yi - 0.12, xerr=r2[1], fmt="s", color="C1", capsize=3,
                        label="Δ r² rare" if first else None)  # fmt: skip
    bottom.axvline(0.0, color="grey", lw=1)
    bottom.set_yticks(y, [arm.replace(", ", ",\n") for arm, _, _ in paired])
    bottom.set_xlabel("arm minus random, paired by seed (mean, 95 % interval)")
    bottom.set_title("Does a rule beat random?")
    bottom.legend(fontsize=10, loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    fig.savefig(out, dpi=100)
    plt.close(fig)


def main() -> None:
    text = PAGE.read_text(encoding="utf-8")
    for heading, name in FIGURES.items():
        out = DOCS / "img" / name
        plot(_section(text, heading), out)
        print(out)


if __name__ == "__main__":
    main()
