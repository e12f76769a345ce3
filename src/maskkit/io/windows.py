"""Windows: contiguous runs of sites, as half-open ``(start, stop)`` site indices."""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ._atomic import atomic_file
from ._errors import WindowError

__all__ = ["Windows"]


class Windows:
    """An ``(n, 2)`` int64 array of half-open ``[start, stop)`` site-index windows.

    Build with [`fixed`][maskkit.io.windows.Windows.fixed] or
    [`from_csv`][maskkit.io.windows.Windows.from_csv]; check against a store with
    [`validate`][maskkit.io.windows.Windows.validate]. Indexing gives ``(start, stop)`` tuples.

    Examples
    --------
    >>> w = Windows.fixed(10, size=4, stride=3)
    >>> w.bounds.tolist()
    [[0, 4], [3, 7], [6, 10]]
    >>> w[1], len(w)
    ((3, 7), 3)
    """

    def __init__(self, bounds: Any) -> None:
        arr = np.asarray(bounds)
        if arr.size == 0:
            arr = arr.reshape(0, 2)
        if arr.ndim != 2 or arr.shape[1] != 2:
            raise WindowError(f"windows must have shape (n, 2) = (start, stop), got {arr.shape}")
        if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
            raise WindowError(f"window bounds must be integer site indices, got {arr.dtype}")
        arr = arr.astype(np.int64)
        bad = np.flatnonzero((arr[:, 0] < 0) | (arr[:, 1] <= arr[:, 0]))
        if bad.size:
            s, e = arr[bad[0]]
            raise WindowError(
                f"window {bad[0]} = ({s}, {e}) is invalid: need 0 <= start < stop "
                "(half-open site indices)"
            )
        self.bounds = arr
        self.bounds.setflags(write=False)

    @classmethod
    def fixed(
        cls, n_sites: int, size: int, stride: int | None = None, *, drop_last: bool = False
    ) -> Windows:
        """Return windows of ``size`` sites every ``stride`` sites (default: ``size``).

        When the last full window does not reach ``n_sites``, one shorter window ending at
        ``n_sites`` is added so every site is covered, unless ``drop_last``.

        Examples
        --------
        >>> Windows.fixed(10, 4).bounds.tolist()
        [[0, 4], [4, 8], [8, 10]]
        >>> Windows.fixed(10, 4, drop_last=True).bounds.tolist()
        [[0, 4], [4, 8]]
        """
        stride = size if stride is None else stride
        for name, value in (("n_sites", n_sites), ("size", size), ("stride", stride)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise TypeError(f"{name} must be an integer, got {value!r}")
        if n_sites < 1:
            raise WindowError(f"n_sites must be >= 1 to make windows, got {n_sites}")
        if size < 1 or stride < 1:
            raise WindowError(f"size and stride must be >= 1, got size={size}, stride={stride}")
        if drop_last and size > n_sites:
            raise WindowError(
                f"size={size} is larger than n_sites={n_sites}, so drop_last=True leaves no "
                "window; use a smaller size or drop_last=False"
            )
        starts = np.arange(0, max(n_sites - size, 0) + 1, stride, dtype=np.int64)
        stops = np.minimum(starts + size, n_sites)
        if not drop_last and stops[-1] < n_sites:
            nxt = starts[-1] + stride
            if nxt < n_sites:
                starts = np.append(starts, nxt)
                stops = np.append(stops, n_sites)
        return cls(np.stack([starts, stops], axis=1))

    @classmethod
    def from_csv(cls, path: str | os.PathLike[str]) -> Windows:
        """Read windows from a CSV with a header naming ``start`` and ``stop`` (or ``end``).

        Values are 0-based site indices, ``stop`` exclusive.

        Examples
        --------
        >>> import pathlib, shutil, tempfile
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> p = Windows.fixed(10, 5).to_csv(tmp / "w.csv")
        >>> Windows.from_csv(p).bounds.tolist()
        [[0, 5], [5, 10]]
        >>> shutil.rmtree(tmp)
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"windows file {path} does not exist")
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            fields = [f.strip().lower() for f in (reader.fieldnames or [])]
            stop_key = "stop" if "stop" in fields else "end"
            if "start" not in fields or stop_key not in fields:
                raise WindowError(
                    f"{path} must have a header with columns 'start' and 'stop' (or 'end'), "
                    f"got {reader.fieldnames}"
                )
            rows = []
            for lineno, row in enumerate(reader, 2):
                row = {k.strip().lower(): v for k, v in row.items() if k is not None}
                try:
                    rows.append((int(row["start"]), int(row[stop_key])))
                except (TypeError, ValueError) as exc:
                    raise WindowError(
                        f"{path}:{lineno}: start/stop must be integers, got {row}"
                    ) from exc
        return cls(np.asarray(rows, dtype=np.int64).reshape(-1, 2))

    def to_csv(self, path: str | os.PathLike[str], *, overwrite: bool = True) -> Path:
        """Write ``start,stop`` CSV atomically and return its path.

        Examples
        --------
        >>> import pathlib, shutil, tempfile
        >>> tmp = pathlib.Path(tempfile.mkdtemp())
        >>> Windows.fixed(4, 2).to_csv(tmp / "w2.csv").read_text().splitlines()
        ['start,stop', '0,2', '2,4']
        >>> shutil.rmtree(tmp)
        """
        with atomic_file(path, overwrite=overwrite) as tmp, open(tmp, "w", encoding="utf-8") as fh:
            fh.write("start,stop\n")
            for s, e in self.bounds.tolist():
                fh.write(f"{s},{e}\n")
        return Path(path)

    def validate(self, n_sites: Any) -> Windows:
        """Raise `WindowError` unless every window lies in ``[0, n_sites]``.

        ``n_sites`` may be a store (anything with an ``n_sites`` attribute). Returns ``self``.

        Examples
        --------
        >>> Windows.fixed(10, 5).validate(10).bounds.shape
        (2, 2)
        """
        n = int(getattr(n_sites, "n_sites", n_sites))
        if len(self) == 0:
            raise WindowError("there are no windows; check the window file or size")
        bad = np.flatnonzero(self.bounds[:, 1] > n)
        if bad.size:
            s, e = self.bounds[bad[0]]
            raise WindowError(
                f"window {bad[0]} = ({s}, {e}) ends past the store's {n} sites "
                f"({bad.size} windows out of range); regenerate windows for this store "
                f"(Windows.fixed({n}, size))"
            )
        return self

    @property
    def lengths(self) -> np.ndarray:
        """Number of sites in each window."""
        return self.bounds[:, 1] - self.bounds[:, 0]

    def __len__(self) -> int:
        return int(self.bounds.shape[0])

    def __getitem__(self, i: int) -> tuple[int, int]:
        s, e = self.bounds[i]
        return int(s), int(e)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        yield from ((s, e) for s, e in self.bounds.tolist())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Windows) and np.array_equal(self.bounds, other.bounds)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Windows(n={len(self)}, sites={int(self.lengths.sum())})"
