"""Imputation metrics on the *minor* allele, stratified by minor-allele frequency (MAF).

Why the minor allele: at a site where alt is the major allele, an "alt F1" rewards predicting the
majority, and pooled over sites it lets a trivial always-major predictor reach ~0.45 "rare F1".
Here the minor allele is decided per site from the *training panel's* alt-allele frequency
(alt when its frequency is at most 0.5, else ref), and a site's MAF bin comes from the same
frequency, so scores never look at the data being scored.

Counts are pooled over the masked genotypes of a bin. A genotype's minor-allele dosage is the
number of its haplotypes carrying the minor allele (0..ploidy); true positives are
``min(true, predicted)``, false positives ``max(predicted - true, 0)`` and false negatives
``max(true - predicted, 0)``, so the score is phase-free (a phased imputer's switch errors do not
count). A per-haplotype mask scores each haplotype as a haploid genotype. Concordance (share of
genotypes whose dosage is exactly right) is reported as a secondary figure only: always-major
already scores ~0.99 on rare sites.

Examples
--------
>>> import numpy as np
>>> from maskkit import metrics
>>> truth = np.array([[1, 0, 0, 0]], dtype=np.int8)        # one haplotype, 4 sites
>>> pred = np.array([[1, 1, 0, 0]], dtype=np.int8)
>>> mask = np.ones((1, 4), dtype=bool)
>>> freq = np.array([0.005, 0.005, 0.02, 0.5])              # training-panel alt frequency
>>> r = metrics.score(truth, pred, mask, freq)
>>> r["maf<0.01"]["f1"], r["maf<0.01"]["precision"], r["maf<0.01"]["recall"]
(0.6666666666666666, 0.5, 1.0)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from . import freq as _freq

__all__ = [
    "DEFAULT_EDGES",
    "MinorAlleleScorer",
    "bin_labels",
    "flatten",
    "maf_from_alt_freq",
    "minor_allele",
    "score",
]

DEFAULT_EDGES: tuple[float, ...] = _freq.DEFAULT_EDGES
"""MAF bin edges: ``< 0.01``, ``0.01 - 0.05``, ``>= 0.05`` (`maskkit.freq.DEFAULT_EDGES`)."""
_FORMAT = "maskkit.MinorAlleleScorer/1"

_FIELDS = ("tp", "fp", "fn", "n", "hit", "sx", "sy", "sxx", "syy", "sxy")


def _check_freq(alt_freq: Any) -> np.ndarray:
    # the minor allele needs a frequency at every site: NaN (no calls) is an error here
    f = _freq.maf(alt_freq, name="alt_freq")  # checks dtype and range
    if f.ndim != 1:
        raise ValueError(f"alt_freq must be 1-D (sites,), got shape {f.shape}")
    if np.isnan(f).any():
        raise ValueError(
            "alt_freq must hold frequencies in [0, 1] at every scored site, got NaN (a site "
            "without calls in the training panel); drop those sites or give them a frequency"
        )
    return np.asarray(alt_freq, dtype=np.float64)


def minor_allele(alt_freq: Any) -> np.ndarray:
    """Return the minor allele per site: ``1`` (alt) where ``alt_freq <= 0.5``, else ``0`` (ref).

    Examples
    --------
    >>> minor_allele([0.1, 0.5, 0.9]).tolist()
    [1, 1, 0]
    """
    return (_check_freq(alt_freq) <= 0.5).astype(np.int8)


def maf_from_alt_freq(alt_freq: Any) -> np.ndarray:
    """Return the minor-allele frequency ``min(f, 1 - f)`` per site ([`maskkit.freq.maf`][]).

    Examples
    --------
    >>> maf_from_alt_freq([0.1, 0.97]).round(2).tolist()
    [0.1, 0.03]
    """
    return _freq.maf(_check_freq(alt_freq))


def bin_labels(edges: Sequence[float] = DEFAULT_EDGES) -> list[str]:
    """Return the bin names for MAF ``edges`` ([`maskkit.freq.bin_labels`][]).

    Examples
    --------
    >>> bin_labels()
    ['maf<0.01', '0.01<=maf<0.05', 'maf>=0.05']
    """
    e = _freq.check_edges(edges)
    if not e.size or e[0] <= 0 or e[-1] > 0.5:
        raise ValueError(f"edges must be increasing values in (0, 0.5], got {list(edges)!r}")
    return _freq.bin_labels(e)


def _nan_div(a: float, b: float) -> float:
    return a / b if b else float("nan")


def _finish(c: np.ndarray) -> dict[str, float]:
    tp, fp, fn, n, hit, sx, sy, sxx, syy, sxy = (float(x) for x in c)
    precision = _nan_div(tp, tp + fp)
    recall = _nan_div(tp, tp + fn)
    f1 = _nan_div(2 * tp, 2 * tp + fp + fn)
    r2 = float("nan")
    if n > 1:
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        cov = sxy - sx * sy / n
        if vx > 1e-12 * max(n, 1.0) and vy > 1e-12 * max(n, 1.0):
            r2 = min(1.0, cov * cov / (vx * vy))
    return {
        "f1": f1,
        "precision": precision,
        "recall": recall,
        "r2": r2,
        "concordance": _nan_div(hit, n),
        "n_genotypes": n,
        "n_minor_true": tp + fn,
        "n_minor_pred": tp + fp,
    }


class MinorAlleleScorer:
    """Accumulate minor-allele scores over batches, pooled per MAF bin.

    Parameters
    ----------
    alt_freq : array of float, shape (sites,)
        Alt-allele frequency of every site *in the training panel*; decides each site's minor
        allele and MAF bin.
    edges : sequence of float, default (0.01, 0.05)
        MAF bin edges. Besides one bin per interval, ``result()`` reports ``"rare"`` (MAF below
        the last edge) and ``"all"``.

    Examples
    --------
    >>> import numpy as np
    >>> s = MinorAlleleScorer([0.02, 0.3])
    >>> truth = np.array([[[1, 0], [0, 1]]], dtype=np.int8)   # 1 diploid sample, 2 sites
    >>> pred = np.array([[[0, 0], [0, 1]]], dtype=np.int8)
    >>> s.update(truth, pred, np.array([[True, True]]))
    >>> r = s.result()
    >>> r["rare"]["recall"], r["maf>=0.05"]["f1"]
    (0.0, 1.0)
    """

    def __init__(self, alt_freq: Any, edges: Sequence[float] = DEFAULT_EDGES) -> None:
        f = _check_freq(alt_freq)
        self.labels = bin_labels(edges)
        self.edges = tuple(float(e) for e in edges)
        self.minor = minor_allele(f)
        self.site_bin = _freq.maf_bins(f, self.edges, name="alt_freq").astype(np.intp)
        self.counts = np.zeros((len(self.labels), len(_FIELDS)), dtype=np.float64)

    @property
    def n_sites(self) -> int:
        """Number of sites the scorer knows frequencies for."""
        return int(self.minor.shape[0])

    def reset(self) -> None:
        """Forget everything accumulated so far."""
        self.counts[...] = 0.0

    def update(
        self,
        truth: Any,
        pred: Any,
        mask: Any,
        *,
        alt_prob: Any = None,
        sites: Any = None,
    ) -> None:
        """Add the masked genotypes of one batch.

        Parameters
        ----------
        truth : int array, shape (samples, ploidy, sites) or (rows, sites)
            True alleles (``0`` ref, ``>= 1`` alt). Negative ``truth`` is missing: a genotype
            with a missing true call is not scored.
        pred : int array, the shape of truth
            Predicted alleles.
        mask : bool array
            Which genotypes to score: a site mask ``(samples, sites)`` for 3-D input scores
            diploid (ploidy-``p``) genotypes; a mask of ``truth``'s shape scores each haplotype on
            its own.
        alt_prob : float array, optional
            Predicted probability that each haplotype carries an alt allele (the shape of
            ``truth``); gives the dosage used for r². Without it r² uses the hard calls.
        sites : int array, shape (sites,), optional
            Index into ``alt_freq`` of each column (default ``0..sites-1``), e.g. a window's
            global site indices.
        """
        t = np.asarray(truth)
        p = np.asarray(pred)
        m = np.asarray(mask)
        if t.ndim not in (2, 3) or p.shape != t.shape:
            raise ValueError(
                f"truth and pred must have the same 2-D or 3-D shape, got {t.shape} and {p.shape}"
            )
        if m.dtype != np.bool_:
            raise TypeError(f"mask must be a boolean array, got dtype {m.dtype}")
        if m.shape == t.shape:
            t = t.reshape(-1, 1, t.shape[-1])
            p = p.reshape(-1, 1, p.shape[-1])
            m = m.reshape(-1, m.shape[-1])
            if alt_prob is not None:
                alt_prob = np.asarray(alt_prob, dtype=np.float64).reshape(t.shape)
        elif t.ndim == 3 and m.shape == (t.shape[0], t.shape[2]):
            pass
        else:
            raise ValueError(f"mask shape {m.shape} fits neither truth {t.shape} nor its sites")
        n_cols = t.shape[-1]
        if sites is None:
            if n_cols != self.n_sites:
                raise ValueError(
                    f"arrays have {n_cols} sites but alt_freq has {self.n_sites}; pass sites="
                )
            cols = np.arange(n_cols)
        else:
            cols = np.asarray(sites, dtype=np.int64)
            if cols.shape != (n_cols,):
                raise ValueError(f"sites must have shape ({n_cols},), got {cols.shape}")
            if n_cols and (cols.min() < 0 or cols.max() >= self.n_sites):
                raise ValueError(f"sites must index alt_freq's {self.n_sites} sites")
        minor = self.minor[cols]
        is_alt_minor = minor.astype(bool)
        t_alt = t > 0
        p_alt = p > 0
        t_min = np.where(is_alt_minor, t_alt, ~t_alt).sum(axis=1)  # (samples, sites)
        p_min = np.where(is_alt_minor, p_alt, ~p_alt).sum(axis=1)
        if alt_prob is None:
            d = p_min.astype(np.float64)
        else:
            ap = np.asarray(alt_prob, dtype=np.float64)
            if ap.shape != t.shape:
                raise ValueError(f"alt_prob must have shape {t.shape}, got {ap.shape}")
            d = np.where(is_alt_minor, ap, 1.0 - ap).sum(axis=1)
        keep = m & (t >= 0).all(axis=1)
        bins = np.broadcast_to(self.site_bin[cols], keep.shape)[keep]
        tm = t_min[keep].astype(np.float64)
        pm = p_min[keep].astype(np.float64)
        dd = d[keep]
        vals = np.stack(
            [
                np.minimum(tm, pm),
                np.maximum(pm - tm, 0.0),
                np.maximum(tm - pm, 0.0),
                np.ones_like(tm),
                (tm == pm).astype(np.float64),
                tm,
                dd,
                tm * tm,
                dd * dd,
                tm * dd,
            ],
            axis=1,
        )
        for k in range(len(_FIELDS)):
            self.counts[:, k] += np.bincount(bins, weights=vals[:, k], minlength=len(self.labels))

    def state_dict(self) -> dict[str, Any]:
        """Return the accumulated sums (bins x fields) and the bins, as plain JSON types.

        To pool ranks, all-reduce ``state["counts"]`` (or add other scorers' states with
        [`merge_state_dict`][maskkit.metrics.MinorAlleleScorer.merge_state_dict]).

        Examples
        --------
        >>> import json, numpy as np
        >>> a = MinorAlleleScorer([0.02, 0.3])
        >>> a.update(np.ones((1, 2), np.int8), np.ones((1, 2), np.int8), np.ones((1, 2), bool))
        >>> b = MinorAlleleScorer([0.02, 0.3])
        >>> b.load_state_dict(json.loads(json.dumps(a.state_dict())))
        >>> b.result()["all"]["f1"]
        1.0
        """
        return {
            "format": _FORMAT,
            "edges": list(self.edges),
            "n_sites": self.n_sites,
            "counts": self.counts.tolist(),
        }

    def state(self) -> np.ndarray:
        """Return the raw sums (bins x fields) as an array, e.g. for ``all_reduce`` of ranks."""
        return self.counts.copy()

    def add_state(self, counts: Any) -> None:
        """Add raw sums from `state` of another scorer with the same bins."""
        c = np.asarray(counts, dtype=np.float64)
        if c.shape != self.counts.shape:
            raise ValueError(f"counts must have shape {self.counts.shape}, got {c.shape}")
        if not (np.isfinite(c).all() and (c >= 0).all()):
            raise ValueError(
                "counts must be finite and >= 0 (sums from MinorAlleleScorer.state()); "
                "nothing was added"
            )
        self.counts += c

    def _counts_of(self, state: Any) -> np.ndarray:
        if not isinstance(state, dict) or state.get("format") != _FORMAT:
            raise TypeError(
                f"state must be a dict from MinorAlleleScorer.state_dict() (format {_FORMAT!r})"
            )
        if tuple(state["edges"]) != self.edges or state["n_sites"] != self.n_sites:
            raise ValueError(
                f"state comes from a scorer with edges {state['edges']} over {state['n_sites']} "
                f"sites, this one has edges {list(self.edges)} over {self.n_sites}; "
                "load it into a scorer built with the same frequencies and edges"
            )
        c = np.asarray(state["counts"], dtype=np.float64)
        if c.shape != self.counts.shape:
            raise ValueError(f"state['counts'] must have shape {self.counts.shape}, got {c.shape}")
        return c

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Replace the accumulated sums with those of `state_dict` (same bins and sites)."""
        self.counts[...] = self._counts_of(state)

    def merge_state_dict(self, state: dict[str, Any]) -> None:
        """Add the sums of another scorer's `state_dict` (same bins and sites) to these."""
        self.counts += self._counts_of(state)

    def result(self) -> dict[str, dict[str, float]]:
        """Return ``{bin: {f1, precision, recall, r2, concordance, n_genotypes, ...}}``.

        Bins are the MAF intervals plus ``"rare"`` (all but the last) and ``"all"``. Undefined
        values (no minor alleles, no variance) are ``nan``.
        """
        out = {label: _finish(self.counts[i]) for i, label in enumerate(self.labels)}
        out["rare"] = _finish(self.counts[:-1].sum(axis=0))
        out["all"] = _finish(self.counts.sum(axis=0))
        return out


def score(
    truth: Any,
    pred: Any,
    mask: Any,
    alt_freq: Any,
    *,
    alt_prob: Any = None,
    sites: Any = None,
    edges: Sequence[float] = DEFAULT_EDGES,
) -> dict[str, dict[str, float]]:
    """Score predictions at masked genotypes on the minor allele, per MAF bin.

    One-shot form of [`MinorAlleleScorer`][maskkit.metrics.MinorAlleleScorer]: a scorer built
    from ``alt_freq`` and ``edges``, one ``update`` with the other arguments, then ``result()``.
    The module docstring has the definitions.

    Parameters
    ----------
    truth : int array, shape (samples, ploidy, sites) or (rows, sites)
        True alleles (``0`` ref, ``>= 1`` alt); a negative true call is missing and not scored.
    pred : int array, the shape of truth
        Predicted alleles.
    mask : bool array
        Which genotypes to score: a site mask ``(samples, sites)`` for 3-D input, or a mask of
        ``truth``'s shape to score each haplotype on its own.
    alt_freq : array of float, shape (sites,)
        Alt-allele frequency of every site in the training panel; decides each site's minor
        allele and MAF bin.
    alt_prob : float array, optional
        Predicted alt probability of each haplotype (the shape of ``truth``), for the dosage r²;
        without it r² uses the hard calls.
    sites : int array, shape (sites,), optional
        Index into ``alt_freq`` of each column (default ``0..sites-1``).
    edges : sequence of float
        MAF bin edges.

    Returns
    -------
    dict of str to dict of str to float
        ``{bin: {metric: value}}`` for each bin, ``"rare"`` and ``"all"``.

    Examples
    --------
    >>> import numpy as np
    >>> truth = np.array([[0, 0, 1, 1]], dtype=np.int8)     # alt is the major allele here
    >>> always_major = np.ones_like(truth)
    >>> r = score(truth, always_major, np.ones((1, 4), bool), [0.9] * 4)
    >>> r["all"]["recall"], r["all"]["concordance"]
    (0.0, 0.5)
    """
    s = MinorAlleleScorer(alt_freq, edges)
    s.update(truth, pred, mask, alt_prob=alt_prob, sites=sites)
    return s.result()


def flatten(result: Mapping[str, Mapping[str, float]], *, prefix: str = "") -> dict[str, float]:
    """Flatten ``{bin: {metric: value}}`` into ``{prefix + bin + "/" + metric: value}``.

    Examples
    --------
    >>> flatten({"all": {"f1": 0.5}}, prefix="val/")
    {'val/all/f1': 0.5}
    """
    return {f"{prefix}{b}/{k}": float(v) for b, d in result.items() for k, v in d.items()}
