"""maskkit.lightning under a real Lightning Trainer: DDP on CPU, Plateau from a metric, resume."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import types
import warnings

import numpy as np
import pytest
import pytorch_lightning as pl

import maskkit as mk
from maskkit.curriculum import Levels, Plateau
from maskkit.lightning import CurriculumCallback
from maskkit.torch import MaskingCollator

pytestmark = pytest.mark.torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "integrations", "lightning_train.py")


def _reference(lt, plateau, records):
    """Masks of ``(epoch, level, index)`` from a MaskingCollator in this one process."""
    haps = lt.make_data()
    collators = {}
    out = []
    for epoch, level, idx in records:
        if (epoch, level) not in collators:
            masker = lt.make_masker(plateau)
            masker.apply_sync_state([epoch, 0, level] if plateau else [epoch, 0])
            collators[epoch, level] = MaskingCollator(masker)
        batch = [{"haps": haps[i], "index": int(i)} for i in idx]
        out.append(collators[epoch, level](batch)["mask"].numpy())
    return out


@pytest.mark.slow
def test_ddp_ranks_mask_as_one_process_and_plateau_reaches_workers(tmp_path):
    from examples.integrations import lightning_train as lt

    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run(
        [sys.executable, SCRIPT, "--devices", "2", "--plateau", "--out", str(tmp_path)],
        capture_output=True, text=True, env=env, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.count("realized mask rate") == lt.EPOCHS  # rank 0 prints, checked there
    ranks = [np.load(tmp_path / f"masks-rank{r}.npz") for r in (0, 1)]
    # both ranks end on one curriculum: the epoch after the last, Plateau level raised once
    for r in ranks:
        assert r["sync_state"].tolist() == [lt.EPOCHS, r["sync_state"][1], 1]
    for epoch in range(lt.EPOCHS):
        seen = [r["index"][r["epoch"] == epoch] for r in ranks]
        assert len(seen[0]) == len(seen[1]) == 48  # DistributedSampler: half each
        assert sorted(np.concatenate(seen).tolist()) == list(range(96))  # disjoint, complete
    for r in ranks:
        records = [
            (int(e), lt.PLATEAU_LEVELS[int(e)], [int(i)]) for e, i in zip(r["epoch"], r["index"])
        ]
        want = np.concatenate(_reference(lt, True, records))
        np.testing.assert_array_equal(r["mask"], want)
    # the masks do change with the epoch and the level (the comparison above can fail)
    m0 = ranks[0]["mask"][ranks[0]["epoch"] == 0].mean()
    m2 = ranks[0]["mask"][ranks[0]["epoch"] == 2].mean()
    assert m2 > m0


class _Lag(pl.Callback):
    """Gives DataLoader workers time to mask their prefetched batches before epoch start."""

    def on_train_epoch_start(self, trainer, pl_module):
        time.sleep(1.0)


def _fit(lt, root, masker, epochs, callbacks, ckpt_path=None):
    model = lt.TinyMLM(masker, plateau=True)
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_epochs=epochs, num_sanity_val_steps=0,
        default_root_dir=root, logger=False, enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[*callbacks, CurriculumCallback(masker, metric="val_loss")],
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's own deprecation and advice warnings
        trainer.fit(model, ckpt_path=ckpt_path)
    return [(e, lt.PLATEAU_LEVELS[e], idx) for e, idx, _ in model.records], model.records


@pytest.mark.slow
def test_resumed_fit_masks_as_the_uninterrupted_run(tmp_path):
    from examples.integrations import lightning_train as lt

    checkpoint = pl.callbacks.ModelCheckpoint(dirpath=tmp_path, save_last=True)
    first, rec1 = _fit(lt, tmp_path, lt.make_masker(True), 2, [checkpoint])
    masker = lt.make_masker(True)
    # the resumed run's loader starts its workers before any epoch-start hook; _Lag lets them
    # mask the prefetched batches first, so a stale epoch would show
    second, rec2 = _fit(
        lt, tmp_path / "2", masker, 3, [_Lag()], ckpt_path=str(tmp_path / "last.ckpt")
    )
    assert sorted({e for e, _, _ in first}) == [0, 1]
    assert sorted({e for e, _, _ in second}) == [2]
    got = [m for _, _, m in rec1 + rec2]
    for have, want in zip(got, _reference(lt, True, first + second)):
        np.testing.assert_array_equal(have, want)
    assert masker.sync_state()[::2] == (3, 1)  # epoch after the last; Plateau level restored


def _trainer(**kw):
    defaults = dict(
        current_epoch=0, global_step=0, is_last_batch=False, sanity_checking=False,
        ckpt_path=None, callback_metrics={}, state=types.SimpleNamespace(fn="fit"),
        strategy=types.SimpleNamespace(broadcast=lambda value, src=0: value),
    )  # fmt: skip
    return types.SimpleNamespace(**{**defaults, **kw})


def test_callback_drives_epoch_step_and_plateau():
    masker = mk.Masker("random", rate=Plateau([0.1, 0.2, 0.3], patience=0, mode="min"), seed=0)
    cb = CurriculumCallback(masker, metric="val_loss")
    assert masker.sync_channel is not None
    masker.set_epoch(5)
    cb.on_fit_start(_trainer(current_epoch=2), None)
    assert masker.epoch == 2
    cb.on_fit_start(_trainer(current_epoch=0, ckpt_path="x.ckpt"), None)  # checkpoint: keep
    assert masker.epoch == 2
    cb.on_train_epoch_start(_trainer(current_epoch=3), None)
    cb.on_train_batch_end(_trainer(current_epoch=3, global_step=17), None, None, None, 0)
    assert masker.sync_state() == (3, 17, 0)
    cb.on_train_batch_end(_trainer(current_epoch=3, global_step=18, is_last_batch=True), None)
    assert masker.sync_state() == (4, 18, 0)
    loss = {"val_loss": 1.0}
    cb.on_validation_end(_trainer(callback_metrics=loss, sanity_checking=True), None)
    cb.on_validation_end(
        _trainer(callback_metrics=loss, state=types.SimpleNamespace(fn="validate")), None
    )
    assert masker.schedule.level() == 0  # neither the sanity check nor trainer.validate counts
    cb.on_validation_end(_trainer(callback_metrics={"val_loss": 1.0}), None)
    cb.on_validation_end(_trainer(callback_metrics={"val_loss": 1.5}), None)
    assert masker.schedule.level() == 1
    # under DDP every rank takes rank 0's value
    cb.on_validation_end(
        _trainer(callback_metrics={"val_loss": 9.0}, strategy=types.SimpleNamespace(
            broadcast=lambda value, src=0: 0.5)), None,
    )  # fmt: skip
    assert masker.schedule.level() == 1  # 0.5 improved on 1.0: no advance
    with pytest.raises(KeyError, match="val_loss"):
        cb.on_validation_end(_trainer(callback_metrics={"loss": 1.0}), None)


def test_callback_state_round_trips_through_json():
    masker = mk.Masker("random", rate=Plateau([0.1, 0.2], patience=0), seed=3)
    cb = CurriculumCallback(masker, metric="val_loss")  # mode "min" from the name
    masker.set_epoch(4)
    masker.update(0.5)
    masker.update(0.6)  # a loss that got worse: patience 0, the level moves
    state = json.loads(json.dumps(cb.state_dict()))
    other = mk.Masker("random", rate=Plateau([0.1, 0.2], patience=0), seed=3)
    CurriculumCallback(other, metric="val_loss").load_state_dict(state)
    assert other.sync_state() == masker.sync_state() == (4, 0, 1)
    with pytest.raises(ValueError, match="different configuration"):
        CurriculumCallback(mk.Masker("random", rate=0.2, seed=3)).load_state_dict(state)
    with pytest.raises(TypeError, match=r"CurriculumCallback\.state_dict"):
        cb.load_state_dict({"epoch": 1})


def test_bad_arguments_name_the_fix():
    with pytest.raises(TypeError, match=r"maskkit\.Masker"):
        CurriculumCallback("random")
    with pytest.raises(ValueError, match="Plateau"):
        CurriculumCallback(mk.Masker("random", rate=Levels([0.1, 0.2]), seed=0), metric="val_loss")
    with pytest.raises(TypeError, match="metric"):
        CurriculumCallback(mk.Masker("random", rate=Plateau([0.1, 0.2]), seed=0), metric=1)
    with pytest.raises(ValueError, match="metric='val_loss'"):  # a Plateau nothing drives
        CurriculumCallback(mk.Masker("random", rate=Plateau([0.1, 0.2]), seed=0))
    with pytest.raises(ValueError, match="mode"):  # max on a loss would advance on every gain
        CurriculumCallback(
            mk.Masker("random", rate=Plateau([0.1, 0.2], mode="max"), seed=0), metric="val_loss"
        )
    masker = mk.Masker("random", rate=Plateau([0.1, 0.2]), seed=0)
    CurriculumCallback(masker, metric="val_loss")
    assert masker.schedule.mode == "min"


_PROBE = """
import sys, types
import maskkit
assert not any(m in sys.modules for m in ("pytorch_lightning", "lightning")), "core imported it"

def base():
    sys.modules.pop("maskkit.lightning", None)
    try:
        import maskkit.lightning as ml
    except ImportError as e:
        return f"ImportError: {e}"
    return ml.CurriculumCallback.__mro__[1].__module__

# neither package: the error says what to install
sys.modules.update({"pytorch_lightning": None, "lightning": None})
print(base())
# a program that imported the `lightning` package gets callbacks of that package
pkg, sub = types.ModuleType("lightning"), types.ModuleType("lightning.pytorch")
class Callback: pass
Callback.__module__ = "lightning.pytorch"
sub.Callback, pkg.pytorch = Callback, sub
sys.modules.update({"lightning": pkg, "lightning.pytorch": sub})
print(base())
# otherwise the `pytorch-lightning` package
for name in ("pytorch_lightning", "lightning", "lightning.pytorch"):
    del sys.modules[name]
print(base())
"""


def test_import_names_and_install_hint():
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    out = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    hint, fake, real = out.stdout.strip().splitlines()
    assert hint.startswith("ImportError")
    assert 'pip install "maskkit[lightning]"' in hint
    assert fake == "lightning.pytorch"
    assert real == "pytorch_lightning.callbacks.callback"
