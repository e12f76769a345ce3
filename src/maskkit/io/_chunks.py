"""Telling a damaged zarr chunk from a good one, for [`maskkit.io.VcfZarrStore`][].

numcodecs' Blosc decoder trusts the sizes in a frame's header: a chunk cut short (a partial
copy, a full disk) can decode without an error into bytes the frame never held (numcodecs
issue 228). `checked_store` wraps a zarr store so that every chunk of a Blosc-compressed
array it is told about is checked against its own header before it is decoded: the frame must
be exactly as long as it says, and hold exactly one chunk's bytes. Anything else is a
`DamagedChunk`.
"""

from __future__ import annotations

import gzip
import lzma
import zipfile
import zlib
from typing import Any

__all__ = ["DECODE_ERRORS", "DamagedChunk", "blosc_chunk_bytes", "check_frame", "checked_store"]

_BLOSC_HEADER = 16


class DamagedChunk(ValueError):
    """A chunk's bytes disagree with its compression header (cut short or overwritten)."""


#: What zarr, its codecs and the stores raise for damaged metadata or chunks (not I/O errors:
#: a network or permission error passes through as it is).
DECODE_ERRORS: tuple[type[Exception], ...] = (
    ValueError,  # includes zarr's errors, json.JSONDecodeError and DamagedChunk
    RuntimeError,  # blosc / zstd decompression
    TypeError,
    IndexError,
    KeyError,
    EOFError,
    zlib.error,
    zipfile.BadZipFile,
    gzip.BadGzipFile,  # an OSError, but about the bytes, not the disk
    lzma.LZMAError,
)


def check_frame(data: Any, expected: int) -> None:
    """Raise `DamagedChunk` unless ``data`` is one whole Blosc frame of ``expected`` bytes.

    ``data`` is any contiguous bytes-like object (read in place, not copied).

    Examples
    --------
    >>> import numcodecs, numpy as np
    >>> frame = numcodecs.Blosc().encode(np.arange(8, dtype=np.int8))
    >>> check_frame(frame, 8)
    >>> check_frame(frame[:-3], 8)
    Traceback (most recent call last):
    ...
    maskkit.io._chunks.DamagedChunk: frame of 24 bytes holds 21 (cut short or overwritten)
    """
    view = memoryview(data).cast("B")
    if len(view) < _BLOSC_HEADER:
        raise DamagedChunk(f"{len(view)} bytes, shorter than a Blosc header ({_BLOSC_HEADER})")
    nbytes = int.from_bytes(view[4:8], "little")
    cbytes = int.from_bytes(view[12:16], "little")
    if cbytes != len(view):
        raise DamagedChunk(f"frame of {cbytes} bytes holds {len(view)} (cut short or overwritten)")
    if nbytes != expected:
        raise DamagedChunk(f"Blosc frame decodes to {nbytes} bytes, a chunk holds {expected}")


def blosc_chunk_bytes(array: Any) -> int | None:
    """Bytes one chunk of ``array`` decodes to when its chunks are plain Blosc frames, else None.

    Plain means: zarr v2 with a Blosc compressor and no filters, or zarr v3 whose codecs are
    ``bytes`` then ``blosc`` (no sharding, no other codec).
    """
    meta = array.metadata
    n = int(array.dtype.itemsize)
    for size in array.chunks:
        n *= int(size)
    if getattr(meta, "zarr_format", None) == 2:
        compressor = getattr(meta, "compressor", None)
        if getattr(compressor, "codec_id", None) == "blosc" and not meta.filters:
            return n
        return None
    codecs = list(getattr(meta, "codecs", ()) or ())
    names = [type(c).__name__ for c in codecs]
    return n if names == ["BytesCodec", "BloscCodec"] else None


def checked_store(store: Any) -> Any:
    """Wrap the zarr ``store``; call ``.check(array_path, chunk_bytes)`` to guard an array."""
    import zarr.storage

    class CheckedStore(zarr.storage.WrapperStore):
        def __init__(self, store: Any, guarded: dict[str, int] | None = None) -> None:
            super().__init__(store)
            self.guarded: dict[str, int] = {} if guarded is None else guarded

        def _with_store(self, store: Any) -> Any:
            return type(self)(store, self.guarded)

        def check(self, path: str, chunk_bytes: int) -> None:
            self.guarded[path.strip("/") + "/"] = chunk_bytes

        async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
            buf = await self._store.get(key, prototype, byte_range)
            if buf is None or byte_range is not None:
                return buf
            leaf = key.rpartition("/")[2]
            if leaf.startswith(".") or leaf == "zarr.json":
                return buf  # metadata, not a chunk
            for prefix, expected in self.guarded.items():
                if key.startswith(prefix):
                    try:
                        check_frame(buf.as_numpy_array(), expected)
                    except DamagedChunk as exc:
                        raise DamagedChunk(f"chunk {key!r}: {exc}") from None
            return buf

    return CheckedStore(store)
