"""A tiny Flax masked model fed by a Grain loader with 2 worker processes and a rising curriculum.

Grain runs the pipeline (here: read a window, batch, mask) in worker processes that it starts
with ``spawn`` and feeds with a pickled copy of the pipeline, Masker included. ``maskkit.share``
gives that Masker a framework-free shared-memory channel: the main process's ``set_epoch``
reaches the workers' copies, which read it before every mask. The workers read ahead of the
training loop (here by about an epoch), so at each epoch boundary the iterator is moved to where
it stands (``set_state(get_state())``): Grain drops what the workers prefetched and they mask
those batches again, at the new level. Checks each epoch's realized mask rate against the
schedule, and that every mask equals the one ``maskkit.torch.HaplotypeDataset`` draws for the
same (seed, epoch, index) when torch is installed. Runs offline in seconds on a CPU.
"""

from __future__ import annotations

import grain
import jax
import numpy as np
import optax
from absl import flags
from flax import nnx

import maskkit as mk
from maskkit.curriculum import Levels

LEVELS = [0.2, 0.4, 0.6]
SEED, WIDTH, BATCH = 7, 50, 32


def make_haps() -> np.ndarray:
    """Alleles ``(samples, ploidy, sites)``: 80 diploid samples of 200 sites."""
    rng = np.random.default_rng(1)
    return (rng.random((80, 2, 200)) < 0.2).astype(np.int8)


class Windows:
    """A Grain data source (``__len__``, ``__getitem__``): one item per (sample, window).

    Item ``index`` is sample ``index % samples`` in window ``index // samples``, as in
    ``maskkit.torch.HaplotypeDataset``; ``key`` (``sample * windows + window``) keys its mask.
    """

    def __init__(self, haps: np.ndarray, width: int) -> None:
        self.haps, self.width = haps, width
        self.n_samples, self.n_windows = haps.shape[0], haps.shape[-1] // width

    def __len__(self) -> int:
        return self.n_samples * self.n_windows

    def __getitem__(self, index: int) -> dict[str, np.ndarray]:
        window, sample = divmod(int(index), self.n_samples)
        start = window * self.width
        return {
            "haps": self.haps[sample, :, start : start + self.width],
            "index": np.int64(index),
            "key": np.int64(sample * self.n_windows + window),
        }


class MaskBatch(grain.transforms.Map):
    """Runs in the workers: mask, pad and tokenize a batch, keyed by each item's ``key``."""

    def __init__(self, masker: mk.Masker) -> None:
        self.masker = masker

    def map(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        out = self.masker.batch(batch["haps"], indices=batch["key"])
        return {**out, "index": batch["index"]}


def loader(masker: mk.Masker, epochs: int, *, workers: int = 2) -> grain.IterDataset:
    """Shuffled windows (a new order each epoch), batched, masked in ``workers`` processes."""
    source = Windows(make_haps(), WIDTH)
    assert len(source) % BATCH == 0, "whole batches: an epoch ends at a batch boundary"
    return (
        grain.MapDataset.source(source)
        .shuffle(seed=0)
        .repeat(epochs)
        .batch(BATCH)
        .map(MaskBatch(masker))
        # one thread per worker calls the Masker, and reads ahead little
        .to_iter_dataset(grain.ReadOptions(num_threads=1, prefetch_buffer_size=2))
        .mp_prefetch(grain.MultiprocessingOptions(num_workers=workers))
    )


class TinyMLM(nnx.Module):
    """Token embedding and a linear head over the two alleles."""

    def __init__(self, rngs: nnx.Rngs) -> None:
        self.embed = nnx.Embed(mk.tokens.vocab_size(), 16, rngs=rngs)
        self.head = nnx.Linear(16, 2, rngs=rngs)

    def __call__(self, ids: jax.Array) -> jax.Array:
        return self.head(self.embed(ids))


@nnx.jit
def train_step(model: TinyMLM, opt: nnx.Optimizer, ids: jax.Array, labels: jax.Array) -> jax.Array:
    def loss_fn(model: TinyMLM) -> jax.Array:
        masked = labels >= 0  # labels are -100 where nothing is predicted
        losses = optax.softmax_cross_entropy_with_integer_labels(
            model(ids), jax.numpy.where(masked, labels, 0)
        )
        return (losses * masked).sum() / jax.numpy.maximum(masked.sum(), 1)

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    opt.update(model, grads)
    return loss


def torch_masks(epoch: int) -> dict[int, np.ndarray] | None:
    """The masks ``maskkit.torch.HaplotypeDataset`` draws at ``epoch``, by dataset index."""
    try:
        from maskkit.torch import HaplotypeDataset
    except ImportError:  # torch is not installed: nothing to compare with
        return None
    masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=SEED)
    ds = HaplotypeDataset(make_haps(), masker, windows=WIDTH)
    ds.set_epoch(epoch)
    batch = ds.__getitems__(list(range(len(ds))))
    return dict(zip(batch["index"].tolist(), batch["mask"].numpy()))


def parse_absl_flags() -> None:
    """Grain reads absl flags, which a script not started by ``absl.app.run`` never parsed."""
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


def main() -> dict[int, float]:
    parse_absl_flags()
    masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=SEED)
    mk.share(masker)  # before the workers start: they follow set_epoch through shared memory
    data = loader(masker, epochs=len(LEVELS))
    batches_per_epoch = len(Windows(make_haps(), WIDTH)) // BATCH
    model = TinyMLM(nnx.Rngs(0))
    opt = nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)

    rates = {}
    it = iter(data)
    for epoch in range(len(LEVELS)):
        masker.set_epoch(epoch)
        it.set_state(it.get_state())  # drop the batches the workers masked ahead at the old level
        masks: dict[int, np.ndarray] = {}
        for _ in range(batches_per_epoch):
            batch = next(it)
            train_step(model, opt, batch["input_ids"], batch["labels"])
            masks.update(zip(batch["index"].tolist(), batch["mask"].copy()))
            del batch  # Grain frees a batch's shared memory when its arrays are deleted
        n = sum(m.size for m in masks.values())
        rates[epoch] = sum(int(m.sum()) for m in masks.values()) / n
        target = LEVELS[epoch]
        sd = (target * (1 - target) / n) ** 0.5  # binomial: every position masked independently
        print(f"epoch {epoch}: realized mask rate {rates[epoch]:.4f}, schedule {target:.2f}")
        assert abs(rates[epoch] - target) < 6 * sd, (epoch, rates[epoch], target)
        want = torch_masks(epoch)
        if want is not None:
            assert sorted(masks) == sorted(want), "every window once per epoch"
            assert all(np.array_equal(masks[i], want[i]) for i in want), "masks differ from torch"
    it.close()
    return rates


def without_share() -> mk.WorkerSyncError:
    """The same pipeline with a Masker nobody shared: its copy in the worker refuses to mask."""
    parse_absl_flags()
    masker = mk.Masker("random", rate=Levels(LEVELS, epochs_per_level=1), seed=SEED)
    it = iter(loader(masker, epochs=1, workers=1))  # no mk.share(masker)
    try:
        next(it)
    except mk.WorkerSyncError as err:
        return err
    finally:
        it.close()
    raise AssertionError("a Masker copy without a channel masked in a Grain worker")


if __name__ == "__main__":
    main()
    print(f"without maskkit.share: {type(without_share()).__name__}")
