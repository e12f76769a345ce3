"""Open an ``s3://`` VCF Zarr store through obstore (Rust) instead of fsspec (s3fs, botocore).

[`maskkit.io.VcfZarrStore`][] with ``backend="obstore"`` builds an ``obstore.store.S3Store``
from the URL's bucket and prefix and the s3fs-style ``storage_options`` that the fsspec backend
takes, so the same options open the same store either way. A chunk GET then costs far less
client CPU (no botocore request signing and parsing in Python).

obstore runs its requests on a tokio runtime, which does not survive ``fork``: a process forked
from one that has used obstore hangs on its first request (obstore 0.12; tokio issue 4301).
`zarr_object_store` refuses to open a store in such a process with a RuntimeError that says
what to do (start workers with ``spawn`` or ``forkserver``) instead of hanging.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from ._deps import require

__all__ = ["BACKENDS", "ForkedRuntimeError", "check_backend", "s3_config", "zarr_object_store"]

#: Values of ``VcfZarrStore(backend=...)``.
BACKENDS = ("fsspec", "obstore")

#: s3fs ``storage_options`` keys and the obstore S3 config key each becomes.
_TOP = {
    "key": "access_key_id",
    "secret": "secret_access_key",
    "token": "session_token",
    "endpoint_url": "endpoint",
}
#: s3fs ``client_kwargs`` (botocore client arguments) and the obstore S3 config key each becomes.
_CLIENT = {
    "endpoint_url": "endpoint",
    "region_name": "region",
    "aws_access_key_id": "access_key_id",
    "aws_secret_access_key": "secret_access_key",
    "aws_session_token": "session_token",
}

#: The process that has opened an obstore store (its tokio runtime started there), or None.
_started_in: int | None = None


class ForkedRuntimeError(RuntimeError):
    """obstore was used before this process was forked: its runtime would hang here."""


def check_backend(backend: str) -> str:
    """Return ``backend`` if it is one of `BACKENDS`, else raise ValueError naming them."""
    if backend not in BACKENDS:
        raise ValueError(
            f"backend={backend!r} is not one of {', '.join(repr(b) for b in BACKENDS)}: "
            'backend="fsspec" reads URLs through fsspec (s3fs), backend="obstore" through obstore'
        )
    return backend


def s3_config(storage_options: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """Translate s3fs-style ``storage_options`` into obstore ``(config, client_options)``.

    Accepted: ``key``, ``secret``, ``token``, ``endpoint_url``, ``anon`` and ``client_kwargs``
    holding ``endpoint_url``, ``region_name``, ``aws_access_key_id``, ``aws_secret_access_key``
    or ``aws_session_token``. An ``http://`` endpoint allows plain HTTP. Any other key raises
    ValueError naming it (never its value: values may be credentials).

    Examples
    --------
    >>> config, client = s3_config({
    ...     "key": "K", "secret": "S",
    ...     "client_kwargs": {"endpoint_url": "http://127.0.0.1:9000", "region_name": "eu-west-1"},
    ... })
    >>> sorted(config), client
    (['access_key_id', 'endpoint', 'region', 'secret_access_key'], {'allow_http': True})
    """
    config: dict[str, Any] = {}
    supported = ", ".join([*_TOP, "anon", "client_kwargs"])
    for name, value in (storage_options or {}).items():
        if name in _TOP:
            config[_TOP[name]] = value
        elif name == "anon":
            config["skip_signature"] = bool(value)
        elif name == "client_kwargs":
            for inner, inner_value in dict(value or {}).items():
                if inner not in _CLIENT:
                    raise ValueError(
                        f"storage_options key client_kwargs[{inner!r}] is not supported by "
                        f'backend="obstore"; client_kwargs takes {", ".join(_CLIENT)} (use '
                        'backend="fsspec" for other botocore options)'
                    )
                config[_CLIENT[inner]] = inner_value
        else:
            raise ValueError(
                f'storage_options key {name!r} is not supported by backend="obstore"; it takes '
                f'{supported} (use backend="fsspec" for other s3fs options)'
            )
    endpoint = config.get("endpoint")
    client = {"allow_http": True} if str(endpoint or "").startswith("http://") else {}
    return config, client


def zarr_object_store(url: str, storage_options: dict[str, Any] | None) -> Any:
    """Return a read-only ``zarr.storage.ObjectStore`` over the ``s3://bucket/prefix`` ``url``."""
    parts = urlsplit(url)
    if parts.scheme != "s3":
        raise ValueError(
            f'backend="obstore" opens s3:// URLs only, not {parts.scheme}:// ({url}); use '
            'backend="fsspec" (the default)'
        )
    if not parts.netloc:
        raise ValueError(f"{url} names no bucket; an S3 URL is s3://BUCKET/PATH")
    config, client = s3_config(storage_options)
    require("obstore")
    global _started_in
    if _started_in is not None and _started_in != os.getpid():
        raise ForkedRuntimeError(
            f'backend="obstore" cannot open {url} in process {os.getpid()}: it was forked from '
            f"process {_started_in}, which had used obstore, and obstore's tokio runtime does "
            "not survive fork (its requests would hang). Start the workers with the spawn or "
            'forkserver method (torch: DataLoader(..., multiprocessing_context="forkserver")), '
            'or use backend="fsspec"'
        )
    _started_in = os.getpid()
    import zarr.storage

    prefix = parts.path.strip("/") or None
    store = require("obstore.store").S3Store(
        parts.netloc, prefix=prefix, config=config, client_options=client or None
    )
    return zarr.storage.ObjectStore(store, read_only=True)
