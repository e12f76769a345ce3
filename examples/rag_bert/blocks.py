"""Blocks of consecutive windows for the Li and Stephens prior (``--hmm-block``).

``impute`` and the trainer's validation and calibration phase unphased targets, select the
HMM's states and run the HMM once per block of consecutive windows, over the block's windows and
their flanks, and every window of the block takes its prior from that one pass (docs/beagle.md,
"Blocks of windows"). A block of one window is the per-window prior, exactly: the window and its
``--hmm-flank`` sites each side. :class:`Blocks` is that plan, shared by :mod:`.impute` and
:mod:`.evaluate`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from . import hmm
from .cli import auto_states
from .data import InputError


def default_block(windows: np.ndarray, flank: int) -> int:
    """Windows per block by default: as many windows as cover twice ``flank`` (at least 1), so
    each block's flanks cost at most as much as the block itself."""
    windows = np.asarray(windows)
    size = int((windows[:, 1] - windows[:, 0]).max())
    return max(1, (2 * int(flank)) // max(size, 1))


def hmm_block(state: dict[str, Any], block: int | None = None) -> int:
    """Windows per HMM block (see ``--hmm-block``): ``block``, or by default
    :func:`default_block` of the checkpoint's (or run's) windows and flank.

    Examples
    --------
    >>> import numpy as np
    >>> hmm_block({"windows": np.array([[0, 128], [128, 256]]), "hmm": {"flank": 1024}})
    16
    """
    if block is not None:
        if block < 1:
            raise InputError(f"--hmm-block must be >= 1 (1: per window), got {block}")
        return int(block)
    return default_block(state["windows"], int((state.get("hmm") or {}).get("flank", 0)))


def block_states(n_haps: int, n_sites: int, window: int, flank: int, block: int) -> int:
    """Default states per block HMM (:func:`.cli.auto_states`) over ``block`` windows of up to
    ``window`` sites plus ``flank`` sites each side, so a block's HMM holds as many states per
    segment of its range as a window's (``block`` 1: the per-window default)."""
    return auto_states(n_haps, min(n_sites, window * max(1, int(block)) + 2 * int(flank)))


def block_ranges(
    windows: np.ndarray, ranges: np.ndarray, n_sites: int, flank: int, block: int
) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """``(groups, read ranges, HMM ranges)``: consecutive windows in groups of ``block``, and
    per group the union of its windows' ``ranges`` (what phasing reads) and of their HMM
    ranges (each window widened by ``flank``, :func:`.hmm.flank_range`)."""
    n = len(windows)
    groups = [np.arange(i, min(i + block, n)) for i in range(0, n, block)]
    spans = np.array([hmm.flank_range(int(s), int(e), n_sites, flank) for s, e in windows])
    read = np.array([[ranges[g, 0].min(), ranges[g, 1].max()] for g in groups], dtype=np.int64)
    hmm_r = np.array([[spans[g, 0].min(), spans[g, 1].max()] for g in groups], dtype=np.int64)
    return groups, read.reshape(-1, 2), hmm_r.reshape(-1, 2)


@dataclass
class Blocks:
    """The block plan of ``windows``: ``groups`` of consecutive window ids, per group the
    ``read`` range (union of the windows' ``ranges``: what phasing and the model read) and the
    ``hmm`` range (union of the windows widened by ``flank``); ``group_of[w]`` is window
    ``w``'s group. Without an HMM (``flank`` None) every window is its own group, read over its
    own range."""

    windows: np.ndarray
    groups: list[np.ndarray]
    read: np.ndarray
    hmm: np.ndarray
    group_of: np.ndarray

    @classmethod
    def plan(
        cls, windows: np.ndarray, ranges: np.ndarray, n_sites: int, flank: int | None, block: int
    ) -> Blocks:
        windows = np.asarray(windows, dtype=np.int64).reshape(-1, 2)
        ranges = np.asarray(ranges, dtype=np.int64).reshape(-1, 2)
        if flank is None:
            groups = [np.array([w]) for w in range(len(windows))]
            read = hmm_r = ranges
        else:
            groups, read, hmm_r = block_ranges(windows, ranges, n_sites, flank, block)
        group_of = np.zeros(len(windows), dtype=np.int64)
        for g, gr in enumerate(groups):
            group_of[gr] = g
        return cls(windows, groups, read, hmm_r, group_of)

    def posterior(
        self,
        g: int,
        panel_rows: np.ndarray,
        rho: np.ndarray,
        rows: np.ndarray,
        hidden: np.ndarray,
        start: int,
        *,
        own: np.ndarray | None = None,
        ploidy: int = 2,
        eps: float = 1e-3,
        states: int = 0,
    ) -> np.ndarray:
        """The HMM posterior P(alt) of group ``g``: :func:`.hmm.alt_prob` of haplotype
        ``rows`` (R, sites ``start ..``) and their mask ``hidden`` over the group's HMM range,
        ``(R, HMM range)``; ``own[r]``: the panel sample row ``r`` must not copy, or -1."""
        a, b = (int(x) for x in self.hmm[g])
        if a < start or b > start + rows.shape[-1]:
            raise ValueError(f"rows of sites {start}.. do not cover the HMM range {a}..{b}")
        return hmm.alt_prob(
            panel_rows, rho, rows[:, a - start : b - start], hidden[:, a - start : b - start], a,
            own=own, ploidy=ploidy, eps=eps, states=states,
        )  # fmt: skip

    def prior(self, w: int, post: np.ndarray) -> np.ndarray:
        """Window ``w``'s input prior (float32 log odds of alt, :func:`.hmm.log_odds`) from
        its group's :meth:`posterior` ``post``."""
        s, e = self.windows[w]
        a = int(self.hmm[self.group_of[w], 0])
        return hmm.log_odds(post[:, s - a : e - a])
