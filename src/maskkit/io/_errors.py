"""Exception types of [`maskkit.io`][]; each message names the argument or path and the fix."""

from __future__ import annotations

__all__ = [
    "DataError",
    "PloidyError",
    "SplitError",
    "StoreFormatError",
    "VCFFormatError",
    "WindowError",
]


class DataError(ValueError):
    """Base class for problems with haplotype data files or their side files."""


class StoreFormatError(DataError):
    """A file is not HDF5, or lacks the scikit-allel layout (``calldata/GT`` and friends)."""


class PloidyError(DataError):
    """The data has a ploidy other than the one an operation requires."""


class WindowError(DataError):
    """A window is empty, reversed or outside the store's sites."""


class SplitError(DataError):
    """A train/validation split would leave a part empty or is inconsistent with the samples."""


class VCFFormatError(DataError):
    """A VCF file is truncated, unreadable or has no samples."""
