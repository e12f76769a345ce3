"""Hypothesis strategies for maskkit tests. Import from here; keep the names stable.

Conventions: alleles ``0`` ref, ``>= 1`` alt, negative missing; haplotype arrays are 2-D
``(rows, sites)`` or 3-D ``(samples, ploidy, sites)``; ``lengths`` / ``indices`` / per-sample
rates have one entry per sample (``shape[0]``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

HAP_DTYPES: tuple[type[np.signedinteger[Any]], ...] = (np.int8, np.int16, np.int32, np.int64)
MAX_SEED = 2**64 - 1
MAX_EPOCH = 2**63 - 1


def dtypes() -> st.SearchStrategy[np.dtype[Any]]:
    """Every haplotype dtype the kernels are compiled for."""
    return st.sampled_from([np.dtype(d) for d in HAP_DTYPES])


def alleles(dtype: Any, *, missing: bool = True, max_allele: int = 3) -> st.SearchStrategy[int]:
    """One allele value: mostly ref/alt, sometimes multi-allelic, sometimes missing.

    Missing calls include ``-1`` and the most negative value of ``dtype``.
    """
    info = np.iinfo(dtype)
    common = st.sampled_from([0, 0, 0, 1, 1])
    rare = st.integers(2, min(max_allele, int(info.max)))
    options = [common, rare]
    if missing:
        options.append(st.sampled_from([-1, int(info.min)]))
    return st.one_of(*options)


@st.composite
def haplotypes(
    draw: st.DrawFn,
    *,
    dtype: Any = None,
    ndim: int | None = None,
    max_samples: int = 6,
    max_ploidy: int = 3,
    min_sites: int = 0,
    max_sites: int = 40,
    missing: bool = True,
    max_allele: int = 3,
) -> np.ndarray:
    """An allele array of a kernel dtype, 2-D or 3-D, possibly empty, with missing calls."""
    dt = np.dtype(dtype) if dtype is not None else draw(dtypes())
    nd = ndim if ndim is not None else draw(st.sampled_from([2, 3]))
    n = draw(st.integers(0, max_samples))
    sites = draw(st.integers(min_sites, max_sites))
    shape = (n, sites) if nd == 2 else (n, draw(st.integers(1, max_ploidy)), sites)
    return draw(hnp.arrays(dt, shape, elements=alleles(dt, missing=missing, max_allele=max_allele)))


def lengths_for(n: int, sites: int) -> st.SearchStrategy[np.ndarray]:
    """Real lengths per sample in ``[0, sites]`` (empty rows and odd lengths included)."""
    return hnp.arrays(np.int64, (n,), elements=st.integers(0, sites))


def indices_for(n: int, *, unique: bool = True) -> st.SearchStrategy[np.ndarray]:
    """Global sample ids (non-negative int64)."""
    ids = st.one_of(st.integers(0, 1000), st.integers(0, 2**63 - 1))
    return hnp.arrays(np.int64, (n,), elements=ids, unique=unique)


def rates() -> st.SearchStrategy[float]:
    """A rate in [0, 1], with 0, 1 and awkward values drawn often."""
    return st.one_of(
        st.sampled_from([0.0, 1.0, 0.5, 0.3, 0.7, 1e-9, 1.0 - 1e-9]),
        st.floats(0.0, 1.0, allow_nan=False),
    )


def rates_for(n: int) -> st.SearchStrategy[Any]:
    """A shared scalar rate or one rate per sample (float64 array of ``n``)."""
    return st.one_of(rates(), hnp.arrays(np.float64, (n,), elements=rates()))


def seeds() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 2**32), st.integers(0, MAX_SEED), st.just(MAX_SEED))


def epochs() -> st.SearchStrategy[int]:
    return st.one_of(st.integers(0, 100), st.integers(0, MAX_EPOCH))


@dataclass
class MaskCase:
    """Arguments for one call of a mask function (``ref_rate`` doubles as ``rate``)."""

    haps: np.ndarray
    ref_rate: Any
    alt_rate: Any
    seed: int
    epoch: int
    indices: np.ndarray | None
    lengths: np.ndarray | None

    @property
    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments shared by every mask function."""
        return {
            "seed": self.seed,
            "epoch": self.epoch,
            "indices": self.indices,
            "lengths": self.lengths,
        }


@st.composite
def mask_cases(draw: st.DrawFn, **haplotype_options: Any) -> MaskCase:
    """Mask arguments: haps, rates (scalar or per sample), seed, epoch, indices, lengths."""
    haps = draw(haplotypes(**haplotype_options))
    n, sites = haps.shape[0], haps.shape[-1]
    return MaskCase(
        haps=haps,
        ref_rate=draw(rates_for(n)),
        alt_rate=draw(rates_for(n)),
        seed=draw(seeds()),
        epoch=draw(epochs()),
        indices=draw(st.none() | indices_for(n)),
        lengths=draw(st.none() | lengths_for(n, sites)),
    )


@st.composite
def masks_for(draw: st.DrawFn, haps: np.ndarray, lengths: Any = None) -> np.ndarray:
    """An arbitrary valid per-haplotype mask for ``haps``: only eligible positions are set."""
    m = draw(hnp.arrays(np.bool_, haps.shape))
    n, sites = haps.shape[0], haps.shape[-1]
    lens = np.full(n, sites) if lengths is None else np.asarray(lengths)
    real = np.arange(sites)[None, :] < lens[:, None]
    if haps.ndim == 3:
        real = real[:, None, :]
    return m & real & (haps >= 0)


def replacements() -> st.SearchStrategy[tuple[float, float, float] | None]:
    """``replace=`` arguments of collate: None, BERT's 80/10/10 and other splits summing to 1."""
    fixed = st.sampled_from(
        [None, (0.8, 0.1, 0.1), (1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0), (0.5, 0.5, 0.0)]
    )

    @st.composite
    def split(draw: st.DrawFn) -> tuple[float, float, float]:
        pm = draw(st.floats(0.0, 1.0))
        pr = draw(st.floats(0.0, 1.0 - pm))
        return (pm, pr, 1.0 - pm - pr)

    return st.one_of(fixed, split())


# ----------------------------------------------------------------------------- more rules


@st.composite
def af_tables(draw: st.DrawFn, n: int, sites: int) -> dict[str, Any]:
    """``af_mask`` rule arguments: freq (shared or per sample), edges, a 1-D or 2-D table, scale."""
    nb = draw(st.integers(1, 4))
    edges = sorted(draw(st.sets(st.floats(0.0, 0.6, allow_nan=False), min_size=nb - 1,
                                max_size=nb - 1)))  # fmt: skip
    freq_shape = draw(st.sampled_from([(sites,), (n, sites)]))
    freq = draw(hnp.arrays(np.float64, freq_shape, elements=st.floats(0.0, 1.0)))
    table_shape = draw(st.sampled_from([(nb,), (2, nb)]))
    table = draw(hnp.arrays(np.float64, table_shape, elements=rates()))
    scale = draw(
        st.one_of(
            st.just(1.0),
            st.floats(0.0, 3.0),
            hnp.arrays(np.float64, (n,), elements=st.floats(0.0, 2.0)),
        )
    )
    return {"freq": freq, "edges": edges, "rates": table, "scale": scale,
            "fold": draw(st.booleans())}  # fmt: skip


def keep_vectors(sites: int) -> st.SearchStrategy[np.ndarray]:
    """A boolean genotyping-array site vector."""
    return hnp.arrays(np.bool_, (sites,))


def span_distributions() -> st.SearchStrategy[dict[str, Any]]:
    """``span_mask`` length arguments: geometric (maybe truncated) or an explicit table."""
    geo = st.fixed_dictionaries(
        {
            "mean_span": st.one_of(st.none(), st.floats(1.0, 12.0)),
            "max_span": st.one_of(st.none(), st.integers(1, 20)),
        }
    )

    @st.composite
    def table(draw: st.DrawFn) -> dict[str, Any]:
        vals = draw(st.lists(st.integers(1, 30), min_size=1, max_size=5))
        w = np.array(draw(st.lists(st.floats(0.01, 1.0), min_size=len(vals),
                                   max_size=len(vals))))  # fmt: skip
        return {"span_lengths": (np.array(vals), w / w.sum())}

    return st.one_of(geo, table())


# -- input files (VCF text, HDF5 stores) for fuzzing the readers ------------------------------

GT_ALLELES = ("0", "0", "1", "1", ".", "2", "128", "65537")  # valid ones first, then too large


@st.composite
def vcf_texts(draw: st.DrawFn) -> tuple[str, str]:
    """``(header, records)`` VCF text: valid and broken records, mostly small biallelic SNVs.

    Records vary allele indices (beyond the one ALT too), ploidy per call, phasing, missing
    calls, positions (unsorted, above ``2**31 - 1``), contigs, REF/ALT kinds and sample names.
    """
    name = st.text("ABCXYZabc019_-.", min_size=1, max_size=4)
    samples = draw(st.lists(name, min_size=1, max_size=3, unique=True))
    if len(samples) > 1 and draw(st.integers(0, 9)) == 0:
        samples[-1] = samples[0]  # a duplicate name, now and then
    header = (
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n##contig=<ID=2>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples) + "\n"
    )
    position = st.one_of(st.integers(1, 60), st.sampled_from([2**31 - 1, 2**31, 2**32 + 3]))
    lines = []
    pos = 0
    for _ in range(draw(st.integers(0, 6))):
        pos = draw(position) if draw(st.integers(0, 9)) == 0 else pos + draw(st.integers(0, 9))
        chrom = "2" if draw(st.integers(0, 39)) == 0 else "1"
        ref = draw(st.sampled_from(["A", "C", "g", "T", "A", "C", "N", "AT", "0"]))
        alt = draw(st.sampled_from(["C", "G", "t", "A", "G", "T", "C,G", "<DEL>", ".", "1", "AT"]))
        calls = []
        for _ in samples:
            k = draw(st.sampled_from([2] * 8 + [1, 3]))
            al = [draw(st.sampled_from(GT_ALLELES[:5] if draw(st.integers(0, 7)) else GT_ALLELES))
                  for _ in range(k)]  # fmt: skip
            seps = [draw(st.sampled_from("||/")) for _ in range(k - 1)]
            calls.append(al[0] + "".join(s + a for s, a in zip(seps, al[1:])))
        lines.append("\t".join([chrom, str(pos), ".", ref, alt, ".", ".", ".", "GT", *calls]))
    return header, "".join(line + "\n" for line in lines)


@st.composite
def store_layouts(draw: st.DrawFn) -> dict[str, Any]:
    """Datasets of a scikit-allel-layout store with odd dtypes, shapes and values."""
    dtype = np.dtype(
        draw(st.sampled_from([np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                              np.uint32, np.float32, np.bool_]))
    )  # fmt: skip
    shape = (draw(st.integers(0, 5)), draw(st.integers(0, 3)), draw(st.integers(0, 3)))
    if dtype.kind == "f":
        elements: st.SearchStrategy[Any] = st.sampled_from([0.0, 1.0, -1.0, 0.5])
    elif dtype.kind == "b":
        elements = st.booleans()
    else:
        info = np.iinfo(dtype)
        small = [v for v in (0, 1, -1, 127, -128) if info.min <= v <= info.max]
        elements = (
            st.sampled_from(small)
            if draw(st.booleans())
            else st.one_of(st.sampled_from(small), st.integers(int(info.min), int(info.max)))
        )
    gt = draw(hnp.arrays(dtype, shape, elements=elements))
    n_pos = shape[0] if draw(st.integers(0, 5)) else draw(st.integers(0, 6))
    pos_dtype = draw(st.sampled_from([np.int32, np.int64, np.uint32, np.float64]))
    pos = np.arange(1, n_pos + 1).astype(pos_dtype)
    samples = None
    if draw(st.booleans()):
        n_names = shape[1] if draw(st.integers(0, 5)) else draw(st.integers(0, 4))
        samples = [f"s{i}" for i in range(n_names)]
    return {"gt": gt, "pos": pos, "samples": samples}


@st.composite
def token_batches(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(ids, protect, eligible)``: token ids 0..19 of which a few are protected specials.

    ``ids`` is 2-D or 3-D; ``eligible`` is False exactly where ``ids`` holds a protected id.
    """
    shape = draw(
        st.one_of(
            st.tuples(st.integers(1, 5), st.integers(1, 40)),
            st.tuples(st.integers(1, 4), st.integers(1, 3), st.integers(1, 30)),
        )
    )
    ids = draw(hnp.arrays(np.int64, shape, elements=st.integers(0, 19)))
    protect = np.array(draw(st.lists(st.integers(0, 19), max_size=4, unique=True)), np.int64)
    return ids, protect, ~np.isin(ids, protect)


ALL_INT_DTYPES: tuple[np.dtype[Any], ...] = tuple(
    np.dtype(t)
    for t in (np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64)
)


def any_int_dtypes() -> st.SearchStrategy[np.dtype[Any]]:
    """Every NumPy integer dtype, signed and unsigned (what a user's array may hold)."""
    return st.sampled_from(ALL_INT_DTYPES)


@st.composite
def wide_int_arrays(draw: st.DrawFn, shape: tuple[int, ...], dtype: Any = None) -> np.ndarray:
    """An integer array of any width whose values reach its dtype's bounds (for narrowing)."""
    dt = np.dtype(dtype) if dtype is not None else draw(any_int_dtypes())
    info = np.iinfo(dt)
    small = st.integers(max(int(info.min), -3), 3)
    bounds = (int(info.min), int(info.max), 127, 128, 255, 256, 32767, 32768, -129, -255, 2**63)
    edges = st.sampled_from([x for x in bounds if info.min <= x <= info.max])
    anything = st.integers(int(info.min), int(info.max))
    return draw(hnp.arrays(dt, shape, elements=st.one_of(small, small, edges, anything)))


@st.composite
def block_layouts(draw: st.DrawFn) -> np.ndarray:
    """Block ids of dataset items (:func:`maskkit.io.item_blocks`): 1-30 blocks of 1-12 items.

    The ids are arbitrary non-negative ints (not 0..k-1), in grouped or interleaved order.
    """
    sizes = draw(st.lists(st.integers(1, 12), min_size=1, max_size=30))
    ids = draw(
        st.lists(st.integers(0, 10_000), min_size=len(sizes), max_size=len(sizes), unique=True)
    )
    blocks = np.repeat(np.asarray(ids, dtype=np.int64), sizes)
    if draw(st.booleans()):
        blocks = blocks[np.random.default_rng(draw(st.integers(0, 2**32))).permutation(blocks.size)]
    return blocks
