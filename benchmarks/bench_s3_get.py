"""Client CPU per chunk GET from S3: VcfZarrStore's fsspec (s3fs) backend against obstore.

Run:  python benchmarks/bench_s3_get.py [--reads 200] [--json out.json]

A VCF Zarr store with ``call_genotype`` chunks of 2,048 sites x 256 samples x 2 (Blosc, ~300
KiB each, the layout of ``bench_loader.py --vcz``) is uploaded to a moto S3 server in a process
of its own on 127.0.0.1; each backend then fetches ``--reads`` whole chunks, round robin over
the store's chunks, the way the loader does (one GET from byte 0: through the zarr store for
fsspec, obstore's blocking ``get`` for obstore). ``time.process_time`` of this process only (all
its threads: zarr's event loop, obstore's runtime; the server's CPU is not counted) gives ms of
client CPU per read, for the GET alone and for the GET plus its Blosc decode (``chunk_reader``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

# the moto server and the upload of bench_loader.py --vcz (this script's folder is on sys.path)
from bench_loader import s3_copy

from maskkit import io
from maskkit.io._chunks import _obstore_of, chunk_reader, read_obstore

N_SITES, N_SAMPLES, PLOIDY, CHUNK_SITES = 8192, 256, 2, 2048
BACKENDS = ("fsspec", "obstore")


def make_store(path: Path) -> Path:
    """A VCF Zarr store (zarr v2, Blosc) of random genotypes, 10 % alt."""
    import zarr

    rng = np.random.default_rng(0)
    gt = (rng.random((N_SITES, N_SAMPLES, PLOIDY)) < 0.1).astype(np.int8)
    root = zarr.open_group(path, mode="w", zarr_format=2)
    root.create_array("call_genotype", data=gt, chunks=(CHUNK_SITES, N_SAMPLES, PLOIDY))
    root.create_array("variant_position", data=np.arange(1, N_SITES + 1, dtype=np.int32))
    root.create_array("sample_id", data=np.array([f"s{i}" for i in range(N_SAMPLES)]))
    return path


def measure(store: io.VcfZarrStore, reads: int) -> dict[str, float]:
    """ms of client CPU per whole-chunk GET, and per GET + decode."""
    from zarr.abc.store import OffsetByteRequest
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.sync import sync

    gt = store._dataset()
    zstore, prefix = gt.store_path.store, gt.store_path.path
    keys = [f"{prefix}/{i}.0.0" if prefix else f"{i}.0.0" for i in range(N_SITES // CHUNK_SITES)]
    proto, everything = default_buffer_prototype(), OffsetByteRequest(0)
    read = chunk_reader(gt)
    assert read is not None
    direct = _obstore_of(zstore)

    def get(k: int) -> Any:
        if direct is not None:  # as chunk_reader does: obstore's blocking get
            return read_obstore(direct, keys[k])
        return sync(zstore.get(keys[k], proto, byte_range=everything))

    get(0)  # connections warm
    res = {}
    for name, one in (
        ("get", get),
        ("get_decode", lambda k: read((k, 0, 0))),
    ):
        c0, t0 = time.process_time(), time.perf_counter()
        for i in range(reads):
            one(i % len(keys))
        res[f"{name}_cpu_ms"] = (time.process_time() - c0) / reads * 1e3
        res[f"{name}_wall_ms"] = (time.perf_counter() - t0) / reads * 1e3
    return res


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--reads", type=int, default=200)
    p.add_argument("--json", default=None)
    args = p.parse_args()
    import s3fs

    with tempfile.TemporaryDirectory() as tmp:
        local = make_store(Path(tmp) / "g.vcz")
        with s3_copy(local) as (url, options):
            size = s3fs.S3FileSystem(**options).size(f"{url}/call_genotype/0.0.0")
            rows = []
            for rnd in range(2):  # two rounds, alternating, so both see the same machine load
                for backend in BACKENDS if rnd == 0 else BACKENDS[::-1]:
                    store = io.VcfZarrStore(url, storage_options=options, backend=backend)
                    rows.append({"backend": backend, "round": rnd, **measure(store, args.reads)})
    print(f"{args.reads} whole-chunk reads of ~{size / 1024:.0f} KiB each, client CPU per read:")
    for r in rows:
        print(
            f"  {r['backend']:<8} round {r['round']}: GET {r['get_cpu_ms']:.2f} ms CPU "
            f"({r['get_wall_ms']:.2f} ms wall), GET + decode {r['get_decode_cpu_ms']:.2f} ms CPU"
        )
    if args.json:
        Path(args.json).write_text(json.dumps({"chunk_bytes": size, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
