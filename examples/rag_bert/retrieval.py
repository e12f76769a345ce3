"""Top-k reference haplotypes per query window with FAISS, without label leakage.

Two keys:

* ``similarity`` — ±1 encoding of alleles (alt = +1, ref = -1) with masked and missing sites set to
  0 in the *query*; the inner product with a panel haplotype is agreements − disagreements over the
  sites the model may see. Exact search (``IndexFlatIP``).
* ``learned`` — the model's pooled encoding of the (masked) query against the panel encoded by the
  model in eval mode; the index is rebuilt on a schedule (:meth:`PanelIndex.set_embeddings`).

A training query never retrieves its own sample's haplotypes: we search ``k + ploidy`` neighbours
and drop ids that belong to the query's sample (panel id = ``sample * ploidy + haplotype``).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from .data import InputError


def _faiss() -> Any:
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover
        raise InputError("retrieval needs faiss: pip install 'maskkit[examples]'") from exc
    return faiss


def pm1(haps: np.ndarray) -> np.ndarray:
    """±1 encoding (alt +1, ref -1, missing 0) as float32, same shape."""
    h = np.asarray(haps)
    return np.where(h > 0, 1.0, np.where(h == 0, -1.0, 0.0)).astype(np.float32)


def query_keys(haps: np.ndarray, hidden: np.ndarray) -> np.ndarray:
    """Similarity keys ``(rows, sites)``: ±1 alleles with hidden (masked) sites zeroed.

    ``hidden`` is True where the model may not look (masked); missing calls are zero anyway.
    """
    k = pm1(haps)
    k[np.asarray(hidden, dtype=bool)] = 0.0
    return np.ascontiguousarray(k)


def _exclude_self(
    ids: np.ndarray, scores: np.ndarray, own: np.ndarray | None, ploidy: int, k: int
) -> tuple[np.ndarray, np.ndarray]:
    if own is None:
        return ids[:, :k], scores[:, :k]
    ok = (ids // ploidy != own[:, None]) & (ids >= 0)
    # stable: keep the first k allowed columns per row
    order = np.argsort(~ok, axis=1, kind="stable")[:, :k]
    out_ids = np.take_along_axis(ids, order, axis=1)
    out_sc = np.take_along_axis(scores, order, axis=1)
    if not np.take_along_axis(ok, order, axis=1).all():
        raise InputError("not enough reference haplotypes left after excluding the query sample")
    return out_ids, out_sc


class PanelIndex:
    """One exact inner-product index per window over the panel's haplotypes.

    Parameters
    ----------
    panel : int8 array (samples, ploidy, sites)
        Reference haplotypes (the training panel).
    windows : int array (n_windows, 2)
    k : int
        Neighbours to return; must leave room for excluding a query's own haplotypes.
    key_windows : int array (n_windows, 2), optional
        Site ranges the similarity keys span, one per window (default ``windows``): a query of
        window ``w`` is matched over ``key_windows[w]`` (a longer range around the window finds
        haplotypes shared over more sites), while :meth:`alleles` returns ``windows[w]``.
    """

    def __init__(
        self,
        panel: np.ndarray,
        windows: np.ndarray,
        k: int,
        threads: int = 1,
        key_windows: np.ndarray | None = None,
    ) -> None:
        self.faiss = _faiss()
        self.faiss.omp_set_num_threads(max(1, threads))
        self.ploidy = int(panel.shape[1])
        self.n_haps = int(panel.shape[0] * panel.shape[1])
        if k < 1 or k + self.ploidy > self.n_haps:
            raise InputError(
                f"k_retrieve={k} is too large for a panel of {self.n_haps} haplotypes "
                f"(need k + ploidy <= {self.n_haps} so a sample's own haplotypes can be excluded)"
            )
        self.k = int(k)
        self.windows = np.asarray(windows)
        self.key_windows = self.windows if key_windows is None else np.asarray(key_windows)
        if self.key_windows.shape != self.windows.shape:
            raise InputError("key_windows must hold one site range per window")
        self.panel_rows = panel.reshape(self.n_haps, panel.shape[-1])
        self.sim_indexes: list[Any] = []
        self.learned_indexes: list[Any] | None = None
        t0 = time.perf_counter()
        for start, stop in self.key_windows:
            idx = self.faiss.IndexFlatIP(int(stop - start))
            idx.add(pm1(self.panel_rows[:, start:stop]))
            self.sim_indexes.append(idx)
        self.build_seconds = time.perf_counter() - t0

    def set_embeddings(self, embeddings: list[np.ndarray]) -> float:
        """Use the learned key: one ``(n_haps, d)`` float32 array per window; returns seconds."""
        t0 = time.perf_counter()
        new = []
        for e in embeddings:
            e = np.ascontiguousarray(e, dtype=np.float32)
            if e.shape[0] != self.n_haps:
                raise ValueError(f"embeddings must have {self.n_haps} rows, got {e.shape[0]}")
            idx = self.faiss.IndexFlatIP(e.shape[1])
            idx.add(e)
            new.append(idx)
        self.learned_indexes = new
        self.build_seconds = time.perf_counter() - t0
        return self.build_seconds

    def search(
        self,
        window: int,
        keys: np.ndarray,
        own_sample: np.ndarray | None,
        k: int | None = None,
        learned: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return ``(ids, scores)``, each ``(rows, k)``, best first.

        ``own_sample`` holds each query's sample index *in the panel* (training queries) or is
        ``None`` (queries from other samples).
        """
        k = self.k if k is None else k
        if learned:
            if self.learned_indexes is None:
                raise RuntimeError("learned key requested before set_embeddings()")
            index = self.learned_indexes[window]
        else:
            index = self.sim_indexes[window]
        extra = 0 if own_sample is None else self.ploidy
        scores, ids = index.search(np.ascontiguousarray(keys, dtype=np.float32), k + extra)
        own = None if own_sample is None else np.asarray(own_sample, dtype=np.int64)
        return _exclude_self(ids.astype(np.int64), scores, own, self.ploidy, k)

    def alleles(self, window: int, ids: np.ndarray) -> np.ndarray:
        """Alleles of retrieved haplotypes in a window: ``(rows, k, sites)`` int8."""
        start, stop = self.windows[window]
        return self.panel_rows[ids, start:stop]

    def key_alleles(self, window: int, ids: np.ndarray) -> np.ndarray:
        """Alleles of retrieved haplotypes over the window's key range ``(rows, k, key sites)``."""
        start, stop = self.key_windows[window]
        return self.panel_rows[ids, start:stop]


def nearest_copy(
    index: PanelIndex,
    window: int,
    haps_rows: np.ndarray,
    hidden: np.ndarray,
    own_sample: np.ndarray | None,
) -> np.ndarray:
    """Baseline: copy the alleles of the nearest panel haplotype (Hamming on visible sites)."""
    ids, _ = index.search(window, query_keys(haps_rows, hidden), own_sample, k=1)
    return index.alleles(window, ids)[:, 0]
