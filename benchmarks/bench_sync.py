"""Worker sync channels: ns per ``publish`` and per ``read`` of both, interleaved.

Run:  python benchmarks/bench_sync.py [--rounds 30] [--calls 20000] [--size 3]

``maskkit._sync.SharedMemoryChannel`` (an mmap of a small file in ``/dev/shm``) against the
torch-tensor channel (``share_memory_``) that ``maskkit.torch.share`` attached before
(``SharedChannel``, kept below as ``TorchTensorChannel``), both behind the same seqlock.
What a DataLoader worker does per batch is one ``read`` (``Masker._pull`` before each mask);
the main process does one ``publish`` per ``set_epoch`` / ``set_step`` / ``update``, i.e. at
most once per training step. ``size`` is ``len(masker.sync_fields)`` (epoch, step, one Plateau
level: 3). The channels take turns within every round (the order alternates from one round to
the next) so that load on a shared machine hits both alike; each row is the median over rounds
of the mean ns per call in a round, with the 10th-90th percentile range.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from collections.abc import Callable

from maskkit._sync import SharedMemoryChannel, seqlock_publish, seqlock_read


class TorchTensorChannel:
    """The torch-tensor channel that ``maskkit.torch.share`` used to attach (``SharedChannel``).

    An int64 tensor in shared memory (``share_memory_``) behind the same seqlock, kept here
    verbatim so that the comparison can be rerun.
    """

    def __init__(self, size: int) -> None:
        import torch

        self.buffer = torch.zeros(int(size) + 1, dtype=torch.int64).share_memory_()

    def publish(self, values: tuple[int, ...]) -> None:
        import torch

        vals = torch.tensor(values, dtype=torch.int64)
        if vals.shape != (self.buffer.numel() - 1,):
            raise ValueError(f"values must hold {self.buffer.numel() - 1} ints")
        seqlock_publish(self.buffer, vals)

    def read(self) -> tuple[int, ...]:
        return seqlock_read(self.buffer)


def ns_per_call(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter_ns()
    for _ in range(calls):
        fn()
    return (time.perf_counter_ns() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--size", type=int, default=3)
    a = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    channels = {
        "SharedMemoryChannel": SharedMemoryChannel(a.size),
        "torch tensor": TorchTensorChannel(a.size),
    }
    values = tuple(range(a.size))
    ops: dict[str, Callable[[object], Callable[[], object]]] = {
        "read": lambda ch: ch.read,  # type: ignore[attr-defined]
        "publish": lambda ch: lambda: ch.publish(values),  # type: ignore[attr-defined]
    }
    times: dict[tuple[str, str], list[float]] = {(c, o): [] for c in channels for o in ops}
    for ch in channels.values():  # warm-up
        for op in ops.values():
            ns_per_call(op(ch), 1000)
    names = list(channels)
    for r in range(a.rounds):
        for name in names if r % 2 == 0 else names[::-1]:
            for op_name, op in ops.items():
                times[name, op_name].append(ns_per_call(op(channels[name]), a.calls))

    where = f"{platform.processor() or platform.machine()}, python {platform.python_version()}"
    print(f"{where}, torch {torch.__version__}; {a.rounds} x {a.calls} calls, size {a.size}")
    print(f"{'channel':<22}{'op':<9}{'median ns':>10}{'p10':>8}{'p90':>8}")
    for (name, op_name), ts in times.items():
        q = statistics.quantiles(ts, n=10)
        med = statistics.median(ts)
        print(f"{name:<22}{op_name:<9}{med:>10.0f}{q[0]:>8.0f}{q[-1]:>8.0f}")
    for op_name in ops:
        shm = statistics.median(times["SharedMemoryChannel", op_name])
        tt = statistics.median(times["torch tensor", op_name])
        print(f"{op_name}: torch tensor / SharedMemoryChannel = {tt / shm:.2f}")


if __name__ == "__main__":
    main()
