"""Render the haplotype/mask grids used in docs/concepts.md (run from the repo root).

    python docs/scripts/render_masks.py

Everything is drawn from the library's own functions, so the pictures stay true.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap

import maskkit as mk

OUT = Path(__file__).resolve().parents[1] / "img"
# Figures are drawn about as wide as the docs' text column (~760 px at 110 dpi), so that a
# 12-point label reads at about 18 px in the browser instead of being scaled down.
WIDTH = 7.0
plt.rcParams.update({"font.size": 12})


def toy_haps(samples: int = 4, sites: int = 40, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    freq = rng.beta(0.3, 2.0, size=sites)
    haps = (rng.random((samples, 2, sites)) < freq).astype(np.int8)
    haps[rng.random(haps.shape) < 0.03] = -1
    lengths = np.array([sites, sites - 6, sites - 12, sites - 3])[:samples]
    for i, n in enumerate(lengths):
        haps[i, :, n:] = 0  # content beyond the real length is ignored
    return haps, lengths


def grid(ax, haps, mask, lengths, title):  # type: ignore[no-untyped-def]
    """Draw rows = haplotypes; colour = allele class; a dot marks a masked position."""
    rows = haps.reshape(-1, haps.shape[-1])
    m = mask.reshape(-1, haps.shape[-1])
    lens = np.repeat(lengths, haps.shape[1])
    code = np.where(rows < 0, 2, np.where(rows > 0, 1, 0))
    code[np.arange(rows.shape[1])[None, :] >= lens[:, None]] = 3
    cmap = ListedColormap(["#e8eef7", "#f4a259", "#b0b0b0", "#ffffff"])
    ax.imshow(code, cmap=cmap, vmin=0, vmax=3, aspect="auto", interpolation="nearest")
    r, c = np.nonzero(m)
    ax.scatter(c, r, marker="s", s=28, facecolors="none", edgecolors="#1d3557", linewidths=1.4)
    for k in range(1, haps.shape[0]):
        ax.axhline(k * haps.shape[1] - 0.5, color="black", lw=1.2)
    ax.set_title(title, fontsize=12, loc="left")
    ax.set_yticks(np.arange(rows.shape[0]))
    ax.set_yticklabels([f"s{i} h{h}" for i in range(haps.shape[0]) for h in range(haps.shape[1])])
    ax.set_xticks([])


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    haps, lengths = toy_haps()
    kw = {"seed": 7, "lengths": lengths}
    panels = [
        ("random, Bernoulli p=0.3", mk.random_mask(haps, 0.3, **kw)),
        ("random, exact p=0.3 (same count per row)", mk.random_mask(haps, 0.3, exact=True, **kw)),
        ("smart balanced: ref 0.3, alt 0.7", mk.smart_balanced_mask(haps, 0.3, 0.7, **kw)),
    ]
    smart = panels[-1][1]
    site = mk.union(smart)
    # A site mask applies to every haplotype of the site, except missing calls (collate skips them).
    per_hap = site[:, None, :] & (haps >= 0)
    panels.append(("its union: a site mask (any haplotype masked)", per_hap))
    fig, axes = plt.subplots(
        len(panels), 1, figsize=(WIDTH, 2.4 * len(panels)), constrained_layout=True
    )
    for ax, (title, m) in zip(axes, panels):
        grid(ax, haps, m, lengths, title)
    handles = [
        plt.Rectangle((0, 0), 1, 1, color="#e8eef7", label="ref (0)"),
        plt.Rectangle((0, 0), 1, 1, color="#f4a259", label="alt (>0)"),
        plt.Rectangle((0, 0), 1, 1, color="#b0b0b0", label="missing"),
        plt.Rectangle((0, 0), 1, 1, facecolor="#ffffff", edgecolor="#999", label="padding"),
        plt.Line2D([], [], marker="s", ls="", mfc="none", mec="#1d3557", label="masked"),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    fig.savefig(OUT / "mask_rules.png", dpi=110)
    print(f"wrote {OUT / 'mask_rules.png'}")

    # The rules of docs/rules.md: AF-aware, span and genotyping-array masks.
    sites = haps.shape[-1]
    freq = np.random.default_rng(5).beta(0.3, 2.0, size=sites)
    more = [
        ("AF-aware: MAF<0.05 ref 0.6 / alt 0.9, common ref 0.1 / alt 0.3",
         mk.af_mask(haps, freq, [0.05], [[0.6, 0.1], [0.9, 0.3]], **kw)),
        ("span: rate 0.3, geometric lengths, mean 4 (exact count per row)",
         mk.span_mask(haps, 0.3, mean_span=4, exact=True, **kw)),
        ("genotyping array: every 4th site kept visible, kept_rate 0.1",
         mk.array_mask(haps, every=4, kept_rate=0.1, **kw)),
    ]  # fmt: skip
    fig, axes = plt.subplots(
        len(more), 1, figsize=(WIDTH, 2.4 * len(more)), constrained_layout=True
    )
    for ax, (title, m) in zip(axes, more):
        grid(ax, haps, m, lengths, title)
    fig.legend(handles=handles, loc="outside lower center", ncol=3, frameon=False)
    fig.savefig(OUT / "mask_rules_more.png", dpi=110)
    print(f"wrote {OUT / 'mask_rules_more.png'}")

    # Effective site rate under union, analytic vs realized.
    rng = np.random.default_rng(0)
    big = (rng.random((2000, 2, 500)) < 0.2).astype(np.int8)
    ps = np.linspace(0.05, 0.9, 12)
    realized = [mk.mask_stats(mk.random_mask(big, p, seed=1), big)["site_rate"] for p in ps]
    fig, ax = plt.subplots(figsize=(5.5, 4.0), constrained_layout=True)
    ax.plot(ps, ps, "--", color="grey", label="per-haplotype rate")
    ax.plot(ps, [mk.effective_rate(p) for p in ps], color="#1d3557", label="1-(1-p)^2 (analytic)")
    ax.plot(ps, realized, "o", color="#e76f51", label="realized site rate")
    ax.set_xlabel("per-haplotype rate p")
    ax.set_ylabel("site rate after union")
    ax.legend(frameon=False)
    fig.savefig(OUT / "union_rate.png", dpi=110)
    print(f"wrote {OUT / 'union_rate.png'}")


if __name__ == "__main__":
    main()
