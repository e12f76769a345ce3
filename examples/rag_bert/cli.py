"""The reference trainer's command line: flags, derived defaults and the run's configuration."""

from __future__ import annotations

import argparse
import hashlib
from typing import Any

from . import data as dt
from .data import InputError

CONFIG_KEYS = (
    "dims", "layers", "heads", "window", "k_retrieve", "key", "no_af", "strategy", "alt_rate",
    "levels", "epochs_per_level", "dynamic", "schedule", "seed", "exact", "batch_size", "lr",
    "no_copy_prior", "prior_correction", "importance_weights", "hmm_prior", "hmm_flank",
    "hmm_ne", "hmm_eps", "hmm_states",
)  # fmt: skip


DESCRIPTION = """Train the reference RAG-BERT model.

Without paths it trains on the built-in simulated demo data (small model, CPU, a few minutes);
with --train/--val stores it runs the original script's configuration (--dims 384 on GPU).
Writes metrics.csv, metrics.json, trainer_loss.png, trainer_f1.png and an atomically replaced
checkpoint.pt (every epoch) under --out.
"""


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m examples.rag_bert.train", description=DESCRIPTION)
    g = p.add_argument_group("data (demo data when --train is not given)")
    g.add_argument("--train", help="training store (HDF5, scikit-allel layout); also the panel")
    g.add_argument(
        "--val", help="validation store (same sites); without it, --val-fraction of --train"
    )
    g.add_argument(
        "--val-fraction", type=float, default=0.1,
        help="--train without --val: share of its samples held out for validation (seed: "
        "--data-seed); imputation still uses every sample",
    )  # fmt: skip
    g.add_argument("--train-panel", help="sample list selecting training samples")
    g.add_argument("--val-panel", help="sample list selecting validation samples")
    g.add_argument("--freq", help="alt-allele frequency per site (default: from --train)")
    g.add_argument("--windows", help="window file: 'start stop' site indices per line")
    g.add_argument("--window", type=int, default=128, help="window size when no --windows")
    g.add_argument("--demo-train", type=int, default=200, help="demo: training diploids")
    g.add_argument("--demo-val", type=int, default=50, help="demo: validation diploids")
    g.add_argument("--demo-length", type=float, default=5.0e5, help="demo: sequence length (bp)")
    g.add_argument("--data-seed", type=int, default=42)
    g.add_argument(
        "--demo-model", choices=["ooa", "constant"], default="ooa",
        help="demo: maskkit.io Out-of-Africa simulation or a constant-size population",
    )  # fmt: skip
    g.add_argument(
        "--cache-dir", default=None,
        help="cache simulated demo data here (default for the Out-of-Africa demo: "
        "maskkit.io.default_cache_dir(), i.e. $MASKKIT_CACHE_DIR, else "
        "$XDG_CACHE_HOME/maskkit, else ~/.cache/maskkit)",
    )  # fmt: skip
    g = p.add_argument_group("model and retrieval")
    g.add_argument("--dims", type=int, default=64)
    g.add_argument("--layers", type=int, default=2)
    g.add_argument("--heads", type=int, default=4)
    g.add_argument("--no-af", action="store_true", help="no allele-frequency embedding")
    g.add_argument("--k-retrieve", type=int, default=16)
    g.add_argument("--key", choices=["similarity", "learned"], default="similarity")
    g.add_argument("--rebuild-every", type=int, default=1, help="learned key: epochs per rebuild")
    g.add_argument(
        "--no-copy-prior", action="store_true",
        help="no copying prior at all (neither --hmm-prior nor the retrieved copy): the head "
        "starts from scratch",
    )  # fmt: skip
    g.add_argument(
        "--hmm-prior", action=argparse.BooleanOptionalAction, default=True,
        help="the model starts from a Li-Stephens copying posterior over the whole panel "
        "(window plus --hmm-flank sites each side); --no-hmm-prior: from the retrieved "
        "haplotypes' copy (default: %(default)s)",
    )  # fmt: skip
    g.add_argument(
        "--hmm-flank", type=int, default=None,
        help="--hmm-prior: sites each side (default: from the panel size, see hmm_defaults)",
    )  # fmt: skip
    g.add_argument(
        "--hmm-states", type=int, default=None,
        help="--hmm-prior: panel haplotypes each query's HMM runs over, chosen by matching at "
        "its observed sites (0: every haplotype; default: from the panel size)",
    )  # fmt: skip
    g.add_argument(
        "--hmm-block", type=int, default=None,
        help="--hmm-prior: validation and calibration phase and run the HMM once per block of "
        "this many consecutive windows over the block and its flanks, as impute --hmm-block "
        "does (1: once per window; default: as many windows as cover twice --hmm-flank)",
    )  # fmt: skip
    g.add_argument("--hmm-ne", type=float, default=1e4, help="--hmm-prior: effective size Ne")
    g.add_argument("--hmm-eps", type=float, default=1e-3, help="--hmm-prior: copying error")
    g = p.add_argument_group("training")
    g.add_argument("--epochs", type=int, default=4)
    g.add_argument("--batch-size", type=int, default=16, help="diploid samples per step")
    g.add_argument("--lr", type=float, default=2e-3)
    g.add_argument(
        "--strategy", choices=["random", "smart_balanced", "af_aware"], default="smart_balanced",
        help="af_aware: rates x --af-rates per MAF bin (< 0.01, 0.01-0.05, >= 0.05), both alleles",
    )  # fmt: skip
    g.add_argument("--alt-rate", type=float, default=0.7)
    g.add_argument("--af-rates", type=float, nargs=3, default=[1.6, 1.3, 1.0])
    g.add_argument(
        "--prior-correction", action="store_true",
        help="at evaluation, subtract the training masks' log odds log(P(masked|alt) / "
        "P(masked|ref)) from the alt logit (class-rate masking shifts the prior otherwise)",
    )  # fmt: skip
    g.add_argument(
        "--importance-weights", action="store_true",
        help="weight each masked genotype's training loss by 1 / P(masked) under the rule "
        "(Masker.probabilities), so over-sampled classes or bins do not shift the model's prior",
    )  # fmt: skip
    g.add_argument("--levels", type=float, nargs="+", default=[0.3, 0.4, 0.5, 0.6, 0.7, 0.8])
    g.add_argument("--epochs-per-level", type=int, default=1)
    g.add_argument("--dynamic", action="store_true", help="advance level when val rare F1 stalls")
    g.add_argument(
        "--schedule", choices=["levels", "linear", "cosine", "constant"], default="levels",
        help="curriculum shape over --levels (ignored with --dynamic)",
    )  # fmt: skip
    g.add_argument("--exact", action="store_true", help="exact-count masks")
    g.add_argument("--seed", type=int, default=1234)
    g.add_argument("--max-steps", type=int, default=0, help="cap steps per epoch (0: all)")
    g.add_argument("--threads", type=int, default=0, help="torch threads (0: min(2, cores))")
    g.add_argument(
        "--num-workers", type=int, default=0,
        help="DataLoader workers for training batches (0: in the main process)",
    )  # fmt: skip
    g = p.add_argument_group("validation masks (frozen)")
    g.add_argument("--val-mask-rule", choices=["random", "smart_balanced"], default="random")
    g.add_argument("--val-mask-rate", type=float, default=0.3)
    g.add_argument("--val-mask-unit", choices=["site", "haplotype"], default="site")
    g.add_argument("--val-seed", type=int, default=999)
    g.add_argument(
        "--val-mask-window", type=int, default=128,
        help="tile size the validation masks are drawn on (independent of --window)",
    )  # fmt: skip
    g.add_argument(
        "--val-unphased", action="store_true",
        help="validate (and calibrate) on genotypes: phase is dropped, the visible genotypes are "
        "phased against the panel, calls are scored per genotype",
    )  # fmt: skip
    g.add_argument(
        "--val-stride", type=int, default=0,
        help="validate and calibrate on windows of --window sites starting every N sites, each "
        "site scored in the window whose centre is nearest (0: the training windows)",
    )  # fmt: skip
    g.add_argument(
        "--val-retrieval-window", type=int, default=0,
        help="at validation and calibration, retrieve by similarity over N sites centred on each "
        "window (0: the window itself); the model still reads its window",
    )  # fmt: skip
    g.add_argument(
        "--val-k-retrieve", type=int, default=0,
        help="retrieved haplotypes per query at validation and calibration (0: --k-retrieve)",
    )  # fmt: skip
    g.add_argument(
        "--calib-samples", type=int, default=None,
        help="training samples used to fit per-MAF-bin call thresholds (0: argmax calls; "
        "default 0 with the HMM prior, whose argmax calls scored as well or better, else 64)",
    )  # fmt: skip
    g = p.add_argument_group("output")
    g.add_argument("--out", default="runs/rag_bert")
    g.add_argument("--resume", action="store_true", help="continue from --out/checkpoint.pt")
    g.add_argument("--no-plots", action="store_true")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    return p


def config_of(args: argparse.Namespace, data: dt.Data) -> dict[str, Any]:
    cfg = {k: getattr(args, k) for k in CONFIG_KEYS}
    cfg["n_sites"] = data.n_sites
    cfg["windows_sha"] = hashlib.sha1(data.windows.tobytes()).hexdigest()[:12]
    return cfg


def uses_hmm_prior(args: argparse.Namespace) -> bool:
    """Whether the model starts from the Li and Stephens posterior (``--no-copy-prior`` turns
    every prior off, this one too)."""
    return bool(args.hmm_prior and not args.no_copy_prior)


def auto_flank(n_haps: int) -> int:
    """Default ``--hmm-flank`` for a panel of ``n_haps`` haplotypes: 256 sites up to about 700
    haplotypes, 512 up to about 1,400, then 1,024 (rare F1 of the posterior on the demo data:
    256 best at 398 haplotypes, 1,024 far ahead of 256 at 2,400; docs/beagle.md)."""
    if n_haps < 724:  # 500 * sqrt(2): the nearest power of two of n_haps / 500 is 1
        return 256
    return 512 if n_haps < 1448 else 1024


def auto_states(n_haps: int, n_sites: int) -> int:
    """Default ``--hmm-states`` for ``n_haps`` panel haplotypes and an HMM range of ``n_sites``
    sites: every haplotype (0) up to 1,000 of them, else ``STATES_PER_SEGMENT`` per
    ``hmm.SEGMENT`` sites of the range, at least ``MIN_STATES`` (see :func:`.hmm.select_states`)."""
    from .hmm import SEGMENT

    if n_haps <= 1000:
        return 0
    k = max(MIN_STATES, STATES_PER_SEGMENT * (-(-n_sites // SEGMENT) + 1))
    return 0 if k >= n_haps else k


MIN_STATES = 100
STATES_PER_SEGMENT = 12


def hmm_defaults(
    args: argparse.Namespace, n_haps: int, n_sites: int, window: int
) -> argparse.Namespace:
    """Fill ``--hmm-flank`` and ``--hmm-states`` left at None from the panel (``n_haps``
    haplotypes, ``n_sites`` sites, windows of up to ``window`` sites); in place."""
    if args.hmm_flank is None:
        args.hmm_flank = auto_flank(n_haps)
    if args.hmm_states is None:
        span = min(n_sites, window + 2 * args.hmm_flank)
        args.hmm_states = auto_states(n_haps, span)
    for flag, value in (("--hmm-flank", args.hmm_flank), ("--hmm-states", args.hmm_states)):
        if value < 0:
            raise InputError(f"{flag} must be >= 0 (--hmm-states 0: every haplotype), got {value}")
    return args


def hmm_banner(args: argparse.Namespace, n_haps: int, block_states: int | None = None) -> str:
    """One line naming the HMM's flank and states (or that there is no HMM prior), and with
    ``--hmm-block`` resolved, the evaluation blocks and their HMM's states (``block_states``)."""
    if not uses_hmm_prior(args):
        return "hmm prior: off"
    k = f"{args.hmm_states} selected" if args.hmm_states else "all"
    line = f"hmm prior: flank {args.hmm_flank} sites, {k} of {n_haps} haplotypes per query"
    block = getattr(args, "hmm_block", None)
    if block is not None:
        line += f"; validation in blocks of {block} window{'s' if block != 1 else ''}"
        if block_states is not None:
            line += f" ({f'{block_states} selected' if block_states else 'all'} per block)"
    return line


def resolve_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Fill the flags whose default depends on others (in place; returns ``args``).

    ``--calib-samples``: argmax calls with the HMM prior, whose posterior is close to
    calibrated; thresholds fitted on 32-64 training samples moved its rare F1 by -0.022 to
    +0.015 against argmax from run to run (docs/trainer.md, "Calls"). The copy-prior models
    under-call rare variants at argmax and keep fitted thresholds (64 samples).
    """
    if args.calib_samples is None:
        args.calib_samples = 0 if uses_hmm_prior(args) else 64
    if args.calib_samples < 0:
        raise InputError(f"--calib-samples must be >= 0, got {args.calib_samples}")
    return args
