"""RAG-BERT checkpoints: tensors and JSON only; a file holding other objects never runs code."""

from __future__ import annotations

import os
import pickle

import numpy as np
import pytest
import torch
from test_rag_bert import TINY

from examples.rag_bert import checkpoint as ckpt_io
from examples.rag_bert import impute, train
from examples.rag_bert.data import InputError
from examples.rag_bert.model import RagBert

pytestmark = pytest.mark.torch


class Payload:
    """Unpickling this runs ``touch <marker>``: what a hostile checkpoint would do."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _state() -> dict:
    model = RagBert(dims=8, layers=1, heads=2, max_len=16)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model(
        torch.zeros((1, 4), dtype=torch.long),
        torch.zeros((1, 4)),
        torch.zeros((1, 2, 4), dtype=torch.int8),
    ).sum().backward()
    opt.step()
    return {
        "config": {"levels": [0.3, 0.5], "seed": 1, "key": "hamming"},
        "model": model.state_dict(), "model_config": model.config,
        "optimizer": opt.state_dict(), "masker": {"epoch": 2}, "schedule": {"type": "Levels"},
        "epoch": 2, "history": [{"val_loss": np.float32(0.5), "n": np.int64(3)}],
        "torch_rng": torch.get_rng_state(), "windows": np.array([[0, 4]]),
        "alt_freq": np.array([0.1, 0.2, 0.3, 0.4]), "positions": np.arange(4, dtype=np.int32),
        "panel": np.zeros((2, 2, 4), np.int8), "thresholds": None,
    }  # fmt: skip


def test_checkpoint_round_trips_tensors_and_json(tmp_path):
    state = _state()
    path = tmp_path / "c.pt"
    ckpt_io.save(path, state)
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]
    back = ckpt_io.load(path)
    assert back.keys() == state.keys()
    for k, v in state["model"].items():
        torch.testing.assert_close(back["model"][k], v)
    assert back["optimizer"]["param_groups"] == state["optimizer"]["param_groups"]
    torch.testing.assert_close(back["torch_rng"], state["torch_rng"])
    for k in ckpt_io.ARRAYS:
        np.testing.assert_array_equal(back[k], state[k])
        assert back[k].dtype == state[k].dtype
    assert back["history"] == [{"val_loss": 0.5, "n": 3}]
    assert back["config"] == state["config"]
    model = RagBert(**back["model_config"])
    model.load_state_dict(back["model"])


def _hostile_files(tmp_path, marker):
    """A torch zip checkpoint and raw pickles (protocols 2 and 5), each holding the payload."""
    zipped = tmp_path / "zipped.pt"
    torch.save({"format": ckpt_io.FORMAT, "model": Payload(str(marker))}, zipped)
    paths = [zipped]
    for protocol in (2, 5):
        paths.append(tmp_path / f"raw{protocol}.pt")
        paths[-1].write_bytes(pickle.dumps({"model": Payload(str(marker))}, protocol=protocol))
    return paths


def test_hostile_pickle_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "pwned"
    for path in _hostile_files(tmp_path, marker):
        with pytest.raises(InputError) as info:
            ckpt_io.load(path)
        assert not marker.exists()
        if path.name != "raw5.pt":  # torch reads protocol 2 only; others fail before any object
            assert "could run code" in str(info.value)
    # the check can fail: unpickling the same file the unsafe way does run the payload
    torch.load(tmp_path / "zipped.pt", weights_only=False)
    assert marker.exists()


def test_impute_and_resume_refuse_hostile_checkpoints(tmp_path, capsys):
    marker = tmp_path / "pwned"
    for path in _hostile_files(tmp_path, marker):
        args = ["--checkpoint", str(path), "--store", "x.h5", "--out", str(tmp_path / "o.h5")]
        assert impute.main(args) == 2
        assert capsys.readouterr().err.startswith("error: ")
        assert not marker.exists()
    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoint.pt").write_bytes((tmp_path / "zipped.pt").read_bytes())
    argv = [*TINY, "--epochs", "1", "--out", str(out), "--resume"]
    assert train.main([*argv, "--cache-dir", str(tmp_path / "cache")]) == 2
    assert "refusing to load" in capsys.readouterr().err
    assert not marker.exists()


@pytest.mark.parametrize(
    "content",
    [b"", b"not a checkpoint at all", b"PK\x03\x04garbage", pickle.dumps([1, 2, 3])],
    ids=["empty", "text", "broken-zip", "foreign-pickle"],
)
def test_garbage_checkpoint_gives_a_clean_error(tmp_path, capsys, content):
    path = tmp_path / "bad.pt"
    path.write_bytes(content)
    with pytest.raises(InputError, match="is not a RAG-BERT checkpoint"):
        ckpt_io.load(path)
    args = ["--checkpoint", str(path), "--store", "x.h5", "--out", str(tmp_path / "o.h5")]
    assert impute.main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ")
    assert "Traceback" not in err


def test_damaged_or_foreign_checkpoints_are_named(tmp_path):
    path = tmp_path / "c.pt"
    torch.save({"model": {}}, path)  # a plain weights file of some other program
    with pytest.raises(InputError, match="format 'rag_bert-checkpoint/1'"):
        ckpt_io.load(path)
    torch.save({"format": ckpt_io.FORMAT, "meta": "{}"}, path)
    with pytest.raises(InputError, match=r"damaged .*missing entries"):
        ckpt_io.load(path)
    torch.save({"format": ckpt_io.FORMAT, "meta": "[1"}, path)
    with pytest.raises(InputError, match="damaged"):
        ckpt_io.load(path)
    with pytest.raises(InputError, match="checkpoint not found"):
        ckpt_io.load(tmp_path / "nope.pt")
