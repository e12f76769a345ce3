"""HaplotypeDataset batches from a VCF Zarr store against the HDF5 store of the same data.

Run:  python benchmarks/bench_vcz.py [--repeats 5] [--n-diploids 1000] [--workdir DIR]

Simulates the demo data, writes its VCF, converts it with bio2zarr (default chunks), and times
``HaplotypeDataset.__getitems__`` over one epoch of ``WindowBatchSampler`` batches from each
store, alternating the two so both see the same machine load. Prints windows per second.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from bio2zarr import vcf as vcf2zarr

import maskkit as mk
from maskkit import io
from maskkit.torch import HaplotypeDataset, WindowBatchSampler


def epoch_rate(path: Path, seed: int, window: int, batch_size: int) -> float:
    ds = HaplotypeDataset(path, mk.Masker("random", rate=0.15, seed=seed), windows=window)
    sampler = WindowBatchSampler(ds, batch_size=batch_size, seed=seed)
    t = time.perf_counter()
    n = 0
    for batch in sampler:
        ds.__getitems__(batch)
        n += len(batch)
    return n / (time.perf_counter() - t)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-diploids", type=int, default=1000)
    parser.add_argument("--window", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=24)
    parser.add_argument("--workdir", type=Path)
    args = parser.parse_args()
    tmp = args.workdir or Path(tempfile.mkdtemp(prefix="bench_vcz_"))
    demo = io.simulate_demo(tmp / "demo", args.n_diploids, seed=3, overwrite=True, verbose=False)
    vcf = demo.write_vcf(tmp / "demo.vcf")
    vcz = tmp / "demo.vcz"
    shutil.rmtree(vcz, ignore_errors=True)
    vcf2zarr.convert([vcf], vcz)
    store = io.open_store(vcz)
    print(f"{store}, chunks (variants, samples) = {store._chunks}")
    rates: dict[str, list[float]] = {"hdf5": [], "vcz": []}
    for rep in range(args.repeats):
        for name, path in (("hdf5", demo.store), ("vcz", vcz)):
            rates[name].append(epoch_rate(path, rep, args.window, args.batch_size))
    for name, values in rates.items():
        print(f"{name:5s} windows/s: " + ", ".join(f"{v:,.0f}" for v in values))
    if args.workdir is None:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
