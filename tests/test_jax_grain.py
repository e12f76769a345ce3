"""A Flax model fed by Grain workers: examples/integrations/jax_grain.py and the worker sync.

Grain starts its workers with ``spawn`` and hands them a cloudpickled copy of the pipeline, the
Masker inside it. With ``maskkit.share`` the copies follow the main process's curriculum; without
it a copy refuses to mask.
"""

from __future__ import annotations

import pytest

pytest.importorskip("jax", reason="the jax extra is not installed: pip install 'maskkit[jax]'")
pytest.importorskip("flax", reason="the jax extra is not installed: pip install 'maskkit[jax]'")
pytest.importorskip("optax", reason="the jax extra is not installed: pip install 'maskkit[jax]'")
pytest.importorskip("grain", reason="the jax extra is not installed: pip install 'maskkit[jax]'")

import maskkit as mk
from examples.integrations import jax_grain as ex
from maskkit.curriculum import Levels

pytestmark = pytest.mark.slow


def test_example_trains_and_matches_torch(capsys):
    # 2 Grain workers, 3 epochs; asserts each epoch's rate and, with torch installed, that every
    # mask equals maskkit.torch.HaplotypeDataset's for the same (seed, epoch, index)
    pytest.importorskip("torch")
    rates = ex.main()
    assert sorted(rates) == [0, 1, 2]
    assert rates[0] < rates[1] < rates[2]
    assert capsys.readouterr().out.count("realized mask rate") == 3


def test_grain_worker_without_a_channel_raises():
    ex.parse_absl_flags()
    masker = mk.Masker("random", rate=Levels(ex.LEVELS, epochs_per_level=1), seed=ex.SEED)
    it = iter(ex.loader(masker, epochs=1, workers=1))  # no mk.share(masker)
    try:
        with pytest.raises(mk.WorkerSyncError, match=r"maskkit\.share\(masker\)"):
            next(it)
    finally:
        it.close()
