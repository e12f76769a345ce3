"""Checkpoints that hold only tensors and plain JSON data, loaded without unpickling objects.

A checkpoint is a ``torch.save`` file of one dict: ``format`` (a string), ``meta`` (a JSON string
holding the configuration, the masker and schedule state, the history...) and tensors (model and
optimizer state, the torch RNG state, and the panel arrays as tensors). It is read back with
``torch.load(..., weights_only=True)``, which rebuilds tensors and plain containers only and never
calls code named in the file: a file that holds any other Python object is refused with
:class:`~examples.rag_bert.data.InputError`, as is anything that is not a checkpoint of this format.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from .data import InputError

FORMAT = "rag_bert-checkpoint/1"
#: entries stored as tensors (or torch state dicts of tensors and numbers); the rest is JSON
TENSORS = ("model", "optimizer", "torch_rng")
#: numpy arrays stored as tensors and handed back as numpy arrays
ARRAYS = ("windows", "alt_freq", "positions", "panel")


def _plain(x: Any) -> Any:
    """JSON fallback for numpy scalars and arrays (history entries hold numpy floats)."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, np.generic):
        return x.item()
    raise TypeError(f"checkpoint state holds a {type(x).__name__}, which is not plain JSON data")


def save(path: Path, state: dict[str, Any]) -> None:
    """Write ``state`` atomically (temporary file in the same folder, then ``os.replace``)."""
    import torch

    blob: dict[str, Any] = {k: state[k] for k in TENSORS if k in state}
    blob.update({k: torch.from_numpy(np.ascontiguousarray(state[k])) for k in ARRAYS if k in state})
    meta = {k: v for k, v in state.items() if k not in TENSORS and k not in ARRAYS}
    blob["meta"] = json.dumps(meta, default=_plain)
    blob["format"] = FORMAT
    tmp = path.with_name(path.name + f".tmp{os.getpid()}")
    try:
        torch.save(blob, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint written by :func:`save`; refuse anything else with ``InputError``."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise InputError(f"checkpoint not found: {p}")
    try:
        blob = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # any failure means "not a checkpoint we can read"
        lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
        found = [line for line in lines if "GLOBAL" in line]
        if found:  # the file names a Python callable or class: what a code-running pickle does
            raise InputError(
                f"refusing to load {p}: it holds Python objects other than tensors and plain "
                f"data, and loading those could run code from the file ({found[0]}). "
                "Checkpoints of this trainer hold tensors and JSON only; re-create it with "
                "this version of the trainer, and unpickle a file yourself only if you trust "
                "its source"
            ) from None
        why = lines[0] if lines else type(exc).__name__
        if why.startswith("Weights only load failed"):
            why = "not a file of tensors and plain data"
        raise InputError(f"{p} is not a RAG-BERT checkpoint (cannot read it: {why})") from None
    if not isinstance(blob, dict) or blob.get("format") != FORMAT:
        found = blob.get("format") if isinstance(blob, dict) else type(blob).__name__
        raise InputError(
            f"{p} is not a RAG-BERT checkpoint of format {FORMAT!r} (found {found!r}); "
            "re-create it with this version of the trainer"
        )
    try:
        meta = json.loads(blob["meta"])
        if not isinstance(meta, dict):
            raise TypeError(f"meta is a {type(meta).__name__}, not a JSON object")
        missing = [k for k in (*TENSORS, *ARRAYS) if k not in blob]
        if missing:
            raise KeyError(f"missing entries {missing}")
        arrays = {k: _array(blob[k], k) for k in ARRAYS}
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(f"{p} is a damaged RAG-BERT checkpoint: {exc}") from None
    return {**meta, **{k: blob[k] for k in TENSORS}, **arrays}


def _array(t: Any, name: str) -> np.ndarray:
    import torch

    if not isinstance(t, torch.Tensor):
        raise TypeError(f"entry {name!r} is a {type(t).__name__}, not a tensor")
    return t.numpy()


def panel_entries(train: Any, val: Any) -> dict[str, Any]:
    """The imputation panel a checkpoint carries: every reference sample, training and
    validation (a validation sample with missing calls is left out), with the samples' names.

    ``train`` and ``val`` are :class:`~examples.rag_bert.data.Split` objects.
    """
    complete = ~(val.haps < 0).any(axis=(1, 2))
    haps = np.concatenate([train.haps, val.haps[complete]])
    names = [*np.asarray(train.samples).tolist(), *np.asarray(val.samples)[complete].tolist()]
    return {"panel": haps, "panel_samples": [str(n) for n in names]}


def load_training(path: Path, cfg: dict[str, Any]) -> dict[str, Any]:
    """``--resume``: the checkpoint at ``path``, refused unless made with configuration ``cfg``.

    Checkpoints of earlier versions load too (their separate ``schedule`` entry, the same
    schedule the Masker's state holds, is ignored); an ``af_aware`` one, whose Masker was built
    otherwise, is refused when its Masker state is loaded.
    """
    if not path.exists():
        raise InputError(f"--resume: no checkpoint at {path}")
    state = load(path)  # never unpickles objects; InputError for anything else
    old = state.get("config", {})
    diff = {k: (old.get(k), v) for k, v in cfg.items() if old.get(k) != v}
    if diff:
        lines = ", ".join(f"{k}: checkpoint {a!r} vs now {b!r}" for k, (a, b) in diff.items())
        raise InputError(f"checkpoint {path} was made with another configuration ({lines})")
    return state
