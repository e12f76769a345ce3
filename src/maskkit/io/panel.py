"""Sample panel: a ``sample<TAB>population`` text file, one sample per line."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ._atomic import atomic_file
from ._errors import DataError

__all__ = ["Panel", "read_panel", "write_panel"]

_HEADER = ("sample", "population")


@dataclasses.dataclass(frozen=True)
class Panel:
    """Sample names and their populations, in file order.

    Examples
    --------
    >>> p = Panel(np.array(["a", "b"], dtype=object), np.array(["YRI", "CEU"], dtype=object))
    >>> p.aligned_to(["b", "a"]).tolist()
    ['CEU', 'YRI']
    """

    samples: np.ndarray
    populations: np.ndarray

    def __len__(self) -> int:
        return len(self.samples)

    def aligned_to(self, samples: Sequence[str] | np.ndarray) -> np.ndarray:
        """Return the population of each name in ``samples`` (for example ``store.samples``).

        Raises
        ------
        DataError
            A name in ``samples`` is not in the panel.

        Examples
        --------
        >>> p = Panel(np.array(["a"], dtype=object), np.array(["YRI"], dtype=object))
        >>> p.aligned_to(["a", "a"]).tolist()
        ['YRI', 'YRI']
        """
        lookup = dict(zip(self.samples.tolist(), self.populations.tolist()))
        missing = [s for s in list(samples) if s not in lookup]
        if missing:
            raise DataError(
                f"{len(missing)} samples are not in the panel (first: {missing[0]!r}); "
                "add a line `sample<TAB>population` for each"
            )
        return np.asarray([lookup[s] for s in list(samples)], dtype=object)


def write_panel(
    path: str | os.PathLike[str],
    samples: Sequence[str] | np.ndarray,
    populations: Sequence[str] | np.ndarray,
    *,
    overwrite: bool = True,
) -> Path:
    """Write a ``sample<TAB>population`` file with a header line, atomically.

    Parameters
    ----------
    path : str or os.PathLike
        The file to write.
    samples : sequence of str
        Sample names (no tabs or newlines).
    populations : sequence of str
        The population of each sample (same length as ``samples``).
    overwrite : bool
        Replace an existing file; without it an existing ``path`` raises ``FileExistsError``.

    Returns
    -------
    pathlib.Path
        ``path``.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> path = write_panel(tmp / "panel.tsv", ["a", "b"], ["YRI", "CEU"])
    >>> read_panel(path).populations.tolist()
    ['YRI', 'CEU']
    >>> shutil.rmtree(tmp)
    """
    samples, populations = list(samples), list(populations)
    if len(samples) != len(populations):
        raise ValueError(
            f"samples and populations must have the same length, got {len(samples)} "
            f"and {len(populations)}"
        )
    for s in samples + populations:
        if not s or any(c in str(s) for c in "\t\n\r"):
            raise ValueError(f"panel names must be non-empty without tabs/newlines, got {s!r}")
    with atomic_file(path, overwrite=overwrite) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        fh.write("\t".join(_HEADER) + "\n")
        for s, p in zip(samples, populations):
            fh.write(f"{s}\t{p}\n")
    return Path(path)


def read_panel(path: str | os.PathLike[str]) -> Panel:
    """Read a ``sample<TAB>population`` file (a ``sample<TAB>population`` header is optional).

    Parameters
    ----------
    path : str or os.PathLike
        The panel file; blank lines and lines starting with ``#`` are skipped.

    Returns
    -------
    Panel

    Raises
    ------
    FileNotFoundError
        ``path`` does not exist.
    DataError
        A line does not have two tab-separated fields, or a sample appears twice.

    Examples
    --------
    >>> import pathlib, shutil, tempfile
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> path = write_panel(tmp / "p.tsv", ["x"], ["CHB"])
    >>> read_panel(path).samples.tolist()
    ['x']
    >>> shutil.rmtree(tmp)
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"sample panel {path} does not exist")
    samples: list[str] = []
    pops: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.rstrip("\r\n")
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            if lineno == 1 and tuple(f.lower() for f in fields[:2]) == _HEADER:
                continue
            if len(fields) < 2 or not fields[0] or not fields[1]:
                raise DataError(f"{path}:{lineno}: expected `sample<TAB>population`, got {line!r}")
            samples.append(fields[0])
            pops.append(fields[1])
    if len(set(samples)) != len(samples):
        dup = next(s for s in samples if samples.count(s) > 1)
        raise DataError(f"{path}: sample {dup!r} appears more than once; keep one line per sample")
    return Panel(np.asarray(samples, dtype=object), np.asarray(pops, dtype=object))
