"""PyTorch Lightning: a callback that drives a Masker's curriculum from ``Trainer``.

Lightning is imported only when this module is, from the ``pytorch-lightning`` package
(``import pytorch_lightning``) or, without it, the ``lightning`` package
(``import lightning.pytorch``); with neither, importing raises ImportError with the install hint
(``pip install "maskkit[lightning]"``). Lightning calls callback hooks by name, so the callback
works under either package's ``Trainer``.

The data side is [`maskkit.torch.MaskingCollator`][] (or
[`maskkit.hf.HaplotypeDataCollator`][]) as the ``collate_fn`` of your ``train_dataloader``:
items carry a stable id, so a mask is a pure function of ``(seed, epoch, id)`` and each DDP
rank masks its share of the items exactly as a single process would.

Examples
--------
>>> import maskkit as mk
>>> from maskkit.curriculum import Levels
>>> from maskkit.lightning import CurriculumCallback
>>> masker = mk.Masker("random", rate=Levels([0.15, 0.3], epochs_per_level=1), seed=0)
>>> callback = CurriculumCallback(masker)  # Trainer(callbacks=[callback], ...)
>>> callback.state_dict()["masker"]["epoch"]
0
"""

from __future__ import annotations

import math
import sys
from typing import Any

if "lightning.pytorch" in sys.modules:  # the user's Trainer comes from the `lightning` package
    import lightning.pytorch as pl
else:
    try:
        import pytorch_lightning as pl
    except ImportError:
        try:
            import lightning.pytorch as pl
        except ImportError as _exc:  # pragma: no cover - exercised in a subprocess by the tests
            raise ImportError(
                "maskkit.lightning needs PyTorch Lightning, which is not installed; install it "
                'with: pip install "maskkit[lightning]"'
            ) from _exc

from .curriculum import _bind_metric
from .masker import Masker
from .torch import share

__all__ = ["CurriculumCallback"]


class CurriculumCallback(pl.Callback):
    """Advance a Masker's curriculum from a Lightning ``Trainer``'s epochs, steps and metrics.

    At each training epoch start it calls ``masker.set_epoch(trainer.current_epoch)``, and after
    an epoch's last batch ``masker.set_epoch(trainer.current_epoch + 1)`` (so that checkpoints
    hold the epoch a resumed run starts with); after each training batch
    ``masker.set_step(trainer.global_step)``; at the end of each validation
    run during ``fit`` (not the sanity check), with ``metric`` given,
    ``masker.update(trainer.callback_metrics[metric])`` for Plateau schedules. Under DDP the
    value is rank 0's, broadcast to every rank, so all ranks keep one curriculum (log the metric
    with ``sync_dist=True`` to average it over ranks first). The Masker is shared
    ([`maskkit.torch.share`][]), so DataLoader workers, persistent or not, follow it.

    The callback's ``state_dict`` is the Masker's: Lightning saves it in each checkpoint and
    restores it on ``fit(ckpt_path=...)``, Plateau level and best value included.

    Parameters
    ----------
    masker : Masker
        The Masker of the ``collate_fn`` (or Dataset) of the training DataLoader.
    metric : str, optional
        A logged metric fed to Plateau schedules, e.g. ``"val_loss"`` (``Plateau(mode="min")``).

    Examples
    --------
    >>> import maskkit as mk
    >>> from maskkit.curriculum import Plateau
    >>> from maskkit.lightning import CurriculumCallback
    >>> masker = mk.Masker("random", rate=Plateau([0.15, 0.3], mode="min"), seed=0)
    >>> cb = CurriculumCallback(masker, metric="val_loss")
    >>> cb.metric, masker.sync_channel is not None
    ('val_loss', True)
    """

    def __init__(self, masker: Masker, *, metric: str | None = None) -> None:
        if not isinstance(masker, Masker):
            raise TypeError(f"masker must be a maskkit.Masker, got {type(masker).__name__}")
        _bind_metric([s for _, s in masker._schedules()], metric, example="val_loss")
        self.masker = masker
        self.metric = metric
        share(masker)

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Set the Masker's epoch to the Trainer's when ``fit`` starts without a checkpoint."""
        if trainer.ckpt_path is None:  # with one, load_state_dict sets it
            self.masker.set_epoch(int(trainer.current_epoch))

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        """Set the Masker's epoch to the Trainer's."""
        self.masker.set_epoch(int(trainer.current_epoch))

    def on_train_batch_end(self, trainer: Any, pl_module: Any, *args: Any, **kwargs: Any) -> None:
        """Set the Masker's global step; after an epoch's last batch, move to the next epoch.

        A Lightning ``fit`` that resumes from a checkpoint makes the DataLoader iterator (and
        its workers start masking) before any epoch-start hook runs. Moving on after the last
        batch puts the next epoch into every checkpoint saved after it (at validation or epoch
        end), so a resumed run masks its first batches at the right epoch.
        """
        if trainer.global_step != self.masker.global_step:
            self.masker.set_step(int(trainer.global_step))
        if trainer.is_last_batch:
            self.masker.set_epoch(int(trainer.current_epoch) + 1)

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        """Feed the metric to the Masker's Plateau schedules (during ``fit`` only)."""
        if self.metric is None or trainer.sanity_checking or trainer.state.fn != "fit":
            return
        metrics = trainer.callback_metrics
        if self.metric not in metrics:
            raise KeyError(
                f"metric {self.metric!r} was not logged; logged metrics are {sorted(metrics)}: "
                "log it with self.log(...) in validation_step or pass one of these as metric="
            )
        value = float(metrics[self.metric])
        value = float(trainer.strategy.broadcast(value, src=0))
        if math.isfinite(value):
            self.masker.update(value)

    def state_dict(self) -> dict[str, Any]:
        """Return ``{"masker": masker.state_dict()}`` (JSON types), saved in checkpoints."""
        return {"masker": self.masker.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore the Masker from `state_dict` (a checkpoint of the same configuration)."""
        if not isinstance(state, dict) or "masker" not in state:
            raise TypeError(
                "state must come from CurriculumCallback.state_dict() (a dict with key "
                f"'masker'), got {type(state).__name__}"
            )
        self.masker.load_state_dict(state["masker"])
