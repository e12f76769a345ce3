"""Train/validation split by sample, stratified by population, deterministic by seed."""

from __future__ import annotations

import dataclasses
import os
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._atomic import atomic_file
from ._errors import SplitError

__all__ = ["Split", "read_split", "split_by_population"]


@dataclasses.dataclass(frozen=True)
class Split:
    """Sample indices (sorted, int64) of the training and validation parts.

    Examples
    --------
    >>> s = split_by_population(["a", "b", "c", "d"], ["X", "X", "Y", "Y"], 0.5, seed=0)
    >>> len(s.train), len(s.val)
    (2, 2)
    """

    train: np.ndarray
    val: np.ndarray
    samples: np.ndarray
    populations: np.ndarray

    def write_tsv(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Write ``sample<TAB>population<TAB>split`` lines (``train``/``val``) atomically.

        Examples
        --------
        >>> import pathlib, shutil, tempfile
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> s = split_by_population(["a", "b"], ["X", "X"], 0.5, seed=0)
        >>> read_split(s.write_tsv(tmp / "split.tsv")) == s
        True
        >>> shutil.rmtree(tmp)
        """
        part = np.full(len(self.samples), "train", dtype=object)
        part[self.val] = "val"
        with atomic_file(path, overwrite=overwrite) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write("sample\tpopulation\tsplit\n")
            for row in zip(self.samples.tolist(), self.populations.tolist(), part.tolist()):
                fh.write("\t".join(row) + "\n")
        return Path(path)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Split) and all(
            np.array_equal(getattr(self, f.name), getattr(other, f.name))
            for f in dataclasses.fields(self)
        )

    __hash__ = None  # type: ignore[assignment]


def split_by_population(
    samples: Sequence[str] | np.ndarray,
    populations: Sequence[str] | np.ndarray,
    val_fraction: float = 0.1,
    *,
    seed: int = 0,
) -> Split:
    """Split samples into train/validation, taking ``val_fraction`` of each population.

    Each population with at least two samples puts ``round(val_fraction * n)`` of them
    (at least one, at most ``n - 1``) in validation; a population of one stays in training.
    The choice within a population depends only on ``seed`` and the population name.

    Parameters
    ----------
    samples : sequence of str
        Sample names.
    populations : sequence of str
        The population of each sample (same length as ``samples``).
    val_fraction : float
        Fraction of each population to put in validation, in (0, 1).
    seed : int
        Seed of the choice within each population.

    Returns
    -------
    Split
        Indices into ``samples`` of the training and validation parts.

    Raises
    ------
    SplitError
        ``val_fraction`` is outside (0, 1), or the training or validation part would be empty.

    Examples
    --------
    >>> s = split_by_population(list("abcdef"), ["P"] * 3 + ["Q"] * 3, 0.34, seed=1)
    >>> sorted(set(np.array(list("PPPQQQ"))[s.val].tolist()))
    ['P', 'Q']
    """
    names = np.asarray(list(samples), dtype=object)
    pops = np.asarray(list(populations), dtype=object)
    if names.shape != pops.shape:
        raise SplitError(
            f"samples and populations must have the same length, got {names.size} and {pops.size}"
        )
    if not 0.0 < float(val_fraction) < 1.0:
        raise SplitError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if names.size < 2:
        raise SplitError(
            f"need at least 2 samples to split into train and validation, got {names.size}"
        )
    val: list[np.ndarray] = []
    for pop in sorted(set(pops.tolist())):
        members = np.flatnonzero(pops == pop)
        n = members.size
        if n < 2:
            continue
        k = min(max(round(val_fraction * n), 1), n - 1)
        rng = np.random.default_rng([seed, zlib.crc32(str(pop).encode())])
        val.append(rng.choice(members, size=k, replace=False))
    val_idx = np.sort(np.concatenate(val)) if val else np.empty(0, dtype=np.int64)
    if val_idx.size == 0:
        raise SplitError(
            "the validation part is empty: every population has a single sample; "
            "add samples or assign populations so some have two or more"
        )
    is_val = np.zeros(names.size, dtype=bool)
    is_val[val_idx] = True
    return Split(
        train=np.flatnonzero(~is_val).astype(np.int64),
        val=val_idx.astype(np.int64),
        samples=names,
        populations=pops,
    )


def read_split(
    path: str | os.PathLike[str], samples: Sequence[str] | np.ndarray | None = None
) -> Split:
    """Read a split TSV; with ``samples`` (e.g. ``store.samples``) indices follow that order.

    Parameters
    ----------
    path : str or os.PathLike
        A ``sample<TAB>population<TAB>part`` file (part ``train`` or ``val``), as
        [Split.write_tsv][maskkit.io.Split.write_tsv] writes it; an optional header line starts
        with ``sample``.
    samples : sequence of str, optional
        The samples the indices refer to (the same set as the file's); by default the file's
        order.

    Returns
    -------
    Split

    Raises
    ------
    SplitError
        A line is malformed, a split label is not ``train``/``val``, a part is empty, or
        ``samples`` and the file name different samples.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> s = split_by_population(["a", "b", "c"], ["X"] * 3, 0.4, seed=0)
    >>> p = s.write_tsv(tmp / "s.tsv")
    >>> read_split(p, samples=["c", "b", "a"]).samples.tolist()
    ['c', 'b', 'a']
    >>> shutil.rmtree(tmp)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"split file {path} does not exist")
    rows: dict[str, tuple[str, str]] = {}
    order: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.rstrip("\r\n").split("\t")
            if lineno == 1 and fields[0].lower() == "sample":
                continue
            if not fields[0]:
                continue
            if len(fields) != 3 or fields[2] not in ("train", "val"):
                raise SplitError(
                    f"{path}:{lineno}: expected `sample<TAB>population<TAB>train|val`, "
                    f"got {line.rstrip()!r}"
                )
            if fields[0] in rows:
                raise SplitError(f"{path}:{lineno}: sample {fields[0]!r} is listed twice")
            rows[fields[0]] = (fields[1], fields[2])
            order.append(fields[0])
    names = order if samples is None else list(samples)
    if samples is not None and set(names) != set(order):
        extra = sorted(set(names) ^ set(order))[:3]
        raise SplitError(
            f"{path} and the given samples differ (e.g. {extra}); "
            "make the split for this store's samples"
        )
    part = np.asarray([rows[s][1] for s in names], dtype=object)
    pops = np.asarray([rows[s][0] for s in names], dtype=object)
    train = np.flatnonzero(part == "train").astype(np.int64)
    val = np.flatnonzero(part == "val").astype(np.int64)
    if train.size == 0 or val.size == 0:
        raise SplitError(
            f"{path} has an empty {'training' if train.size == 0 else 'validation'} part; "
            "every split needs samples in both"
        )
    return Split(train=train, val=val, samples=np.asarray(names, dtype=object), populations=pops)
