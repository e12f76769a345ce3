"""pytest setup for the doctests under src/ (tests/conftest.py sets up tests/)."""

from importlib import metadata


def _has_zarr3() -> bool:
    try:
        return int(metadata.version("zarr").split(".")[0]) >= 3
    except metadata.PackageNotFoundError:
        return False


# VCF Zarr needs zarr >= 3.1, which needs Python >= 3.11 (the test extra installs it there).
collect_ignore = [] if _has_zarr3() else ["src/maskkit/io/vcz.py"]
