"""Impute missing calls with a trained RAG-BERT: ``python -m examples.rag_bert.impute``.

Every negative call of ``--store`` is a position to fill. The output store (scikit-allel layout)
holds ``calldata/GT`` with those calls imputed and everything else copied unchanged,
``calldata/DS`` (alt-allele dosage per genotype: observed alleles count 0/1, imputed haplotypes
their predicted alt probability) and ``calldata/IMPUTED`` (which haplotype calls were filled).
With ``--truth`` the filled positions are scored (minor-allele F1 per MAF bin), which is how a model
is compared with another imputer on exactly the positions that imputer saw. Unphased targets
(``--phase unphased``, or a store whose ``phased`` attribute is false) are read as genotypes and
phased against the panel window by window before the model fills them (:mod:`.phase`).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from maskkit import metrics as mm
from maskkit import tokens as tk

from . import calls, hmm, masking, vcfio
from . import checkpoint as ckpt_io
from . import data as dt
from .baselines import fmt
from .blocks import Blocks, block_ranges, block_states, hmm_block  # noqa: F401 (re-exported)
from .data import InputError
from .phase import phase_segments, phase_window
from .retrieval import PanelIndex, query_keys


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m examples.rag_bert.impute", description=__doc__)
    p.add_argument("--checkpoint", required=True, help="checkpoint.pt written by the trainer")
    p.add_argument("--store", required=True, help="target store; negative calls get imputed")
    p.add_argument("--out", required=True, help="output store (written atomically)")
    p.add_argument("--truth", help="store with the true calls, to score the imputed positions")
    p.add_argument("--batch-size", type=int, default=64, help="haplotypes per step")
    p.add_argument(
        "--phase", choices=["auto", "phased", "unphased"], default="auto",
        help="read the target calls as phased haplotypes or as unphased genotypes (phased "
        "against the panel first); auto: the store's 'phased' attribute, phased if not recorded",
    )  # fmt: skip
    p.add_argument(
        "--stride", type=int, default=None,
        help="impute with windows of the model's size starting every N sites, each site from "
        "the window whose centre is nearest (default: the checkpoint's validation setting; "
        "0: the training windows)",
    )  # fmt: skip
    p.add_argument(
        "--k-retrieve", type=int, default=None,
        help="retrieved haplotypes per query (default: the checkpoint's validation setting)",
    )  # fmt: skip
    p.add_argument(
        "--retrieval-window", type=int, default=None,
        help="retrieve by similarity over N sites centred on each window (0: the window; "
        "default: the checkpoint's validation setting)",
    )  # fmt: skip
    p.add_argument(
        "--calls", choices=["fitted", "argmax"], default="fitted",
        help="minor-allele calls at the checkpoint's per-MAF-bin thresholds (argmax when it "
        "has none) or at P >= 0.5",
    )  # fmt: skip
    p.add_argument(
        "--panel",
        help="reference panel store (same sites) to condition on instead of the checkpoint's "
        "(every reference sample of the training run, training and validation)",
    )  # fmt: skip
    p.add_argument(
        "--hmm-states", type=int, default=None,
        help="panel haplotypes each query's HMM runs over, chosen by matching at its observed "
        "sites (0: every haplotype; default: from the panel's size, as the trainer chooses)",
    )  # fmt: skip
    p.add_argument(
        "--hmm-block", type=int, default=None,
        help="with the HMM prior: windows per block; phasing, state selection and the HMM run "
        "once over a block and its flanks and every window of the block takes its prior from "
        "that pass (1: once per window, over the window and its flanks; default: "
        "2 x flank / window sites, at least 1)",
    )  # fmt: skip
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


def reference_panel(
    state: dict[str, Any],
    targets: np.ndarray,
    path: str | None = None,
    ref: vcfio.Calls | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """The haplotypes imputation conditions on, and a report of them.

    The checkpoint's panel (every reference sample of the training run) or ``ref``, the calls
    of the store or VCF at ``path``; a panel sample that is also a target (same name) is left
    out, so a target never copies itself. Checkpoints of earlier versions hold the training
    samples only, unnamed.
    """
    if path is None or ref is None:
        haps, names = np.asarray(state["panel"]), state.get("panel_samples")
        source = "checkpoint"
    else:
        haps, pos, names = ref.haps, ref.positions, ref.samples
        if not np.array_equal(pos, np.asarray(state["positions"])):
            raise InputError(f"--panel {path} has other sites than the model was trained on")
        if (haps < 0).any():
            raise InputError(f"--panel {path} has missing calls; a reference panel is complete")
        source = str(path)
    dropped = 0
    if names is not None:
        keep = ~np.isin(np.asarray(names).astype(str), np.asarray(targets).astype(str))
        dropped = int((~keep).sum())
        haps = haps[keep]
    if haps.shape[0] == 0:
        raise InputError("the reference panel is empty once the targets are left out of it")
    report = {
        "source": source,
        "samples": int(haps.shape[0]),
        "haplotypes": int(haps.shape[0] * haps.shape[1]),
        "targets_left_out": dropped,
    }
    return np.ascontiguousarray(haps), report


def hmm_states(state: dict[str, Any], n_haps: int, block: int = 1) -> int:
    """Default states per query HMM for a panel of ``n_haps`` haplotypes: the trainer's rule
    (:func:`.cli.auto_states`) over ``block`` windows plus the checkpoint's flanks (0: every
    one), so a block's HMM holds as many states per segment of its range as a window's
    (:func:`.blocks.block_states`)."""
    windows = np.asarray(state["windows"])
    flank = int((state.get("hmm") or {}).get("flank", 0))
    size = int((windows[:, 1] - windows[:, 0]).max())
    return block_states(n_haps, len(state["positions"]), size, flank, block)


def eval_windows(state: dict[str, Any], stride: int | None) -> tuple[np.ndarray, bool]:
    """Windows to impute with and whether sites are taken from window centres.

    ``stride`` None takes the checkpoint's ``--val-stride``; 0 the training windows; N > 0
    windows of the training window size starting every N sites.
    """
    windows = np.asarray(state["windows"])
    if stride is None:
        stride = int(state.get("eval", {}).get("stride", 0))
    if not stride:
        return windows, False
    sizes = np.unique(windows[:, 1] - windows[:, 0])
    if sizes.size != 1:
        raise InputError("--stride needs a checkpoint trained on windows of one size")
    return dt.make_windows(len(state["positions"]), int(sizes[0]), stride), True


def load_model(path: str | Path) -> tuple[Any, dict[str, Any]]:
    from .model import RagBert

    p = Path(path)
    state = ckpt_io.load(p)  # never unpickles objects; InputError for anything else
    try:
        model = RagBert(**state["model_config"])
        model.load_state_dict(state["model"])
    except (KeyError, RuntimeError, TypeError, ValueError) as exc:
        raise InputError(f"{p} is not a RAG-BERT checkpoint: {exc}") from exc
    return model.eval(), state


def impute(
    model: Any,
    state: dict[str, Any],
    haps: np.ndarray,
    batch_size: int = 64,
    unphased: bool = False,
    stride: int | None = None,
    k_retrieve: int | None = None,
    argmax: bool = False,
    retrieval_window: int | None = None,
    progress: bool = False,
    states: int | None = None,
    block: int | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return ``(filled haps, P(alt) per haplotype call, imputed mask)`` for ``haps``.

    Observed calls have P(alt) 0 or 1; the alt dosage of a genotype is the sum over ploidy.
    ``unphased=True`` reads ``haps`` as genotypes: the observed genotypes are phased against
    the panel before the model imputes the missing calls of the two haplotypes (with the HMM
    prior once over all sites, :func:`.phase.phase_segments`; without it in each window,
    :func:`.phase.phase_window`); observed calls are returned in their original order.
    ``stride``, ``k_retrieve`` and ``retrieval_window`` override the checkpoint's validation
    windows, neighbours and retrieval range (see :func:`eval_windows`); ``argmax`` calls at
    P >= 0.5 instead of the fitted thresholds. ``progress`` shows a bar with the windows done,
    the rate and the time left (on standard error). ``states``: panel haplotypes per query
    HMM (:func:`.hmm.select_states`; 0 every one; None: :func:`hmm_states` of the panel and
    the block). ``block``: with the HMM prior, windows per block (:func:`hmm_block`; 1 runs
    the HMM once per window over its flanks, None the default): the HMM's states are selected
    and its posterior computed once per block over the block's windows and their flanks, and
    each window takes its prior from that pass.
    """
    import torch

    panel = state["panel"]
    windows, centre = eval_windows(state, stride)
    if k_retrieve is None:
        k_retrieve = int(state.get("eval", {}).get("k_retrieve", state["config"]["k_retrieve"]))
    k = int(k_retrieve)
    if retrieval_window is None:
        retrieval_window = int(state.get("eval", {}).get("retrieval_window", 0))
    learned = bool(model.config.get("learned_key")) and model.key_encoder is not None
    keys = None
    if retrieval_window:
        if learned:
            raise InputError("--retrieval-window needs a similarity-key checkpoint")
        keys = dt.centred_windows(windows, haps.shape[-1], retrieval_window)
    index = PanelIndex(panel, windows, k, key_windows=keys)
    if learned:
        with torch.inference_mode():
            embs = []
            for s, e in windows:
                rows = index.panel_rows[:, s:e]
                tok = np.where(rows >= 0, rows.astype(np.int64) + tk.ALLELE_OFFSET, tk.MISSING)
                embs.append(model.encode_key(torch.as_tensor(tok)).float().numpy())
        index.set_embeddings(embs)
    af = torch.as_tensor(np.asarray(state["alt_freq"]), dtype=torch.float32)
    n, ploidy, n_sites = haps.shape
    rho = None
    # unphased targets are phased over each window's key range, or with the HMM prior once over
    # all sites: the model's input, the search key and the HMM's rows come from one phasing
    ranges, phase_index = index.key_windows, index
    if model.prior_input:  # trained with --hmm-prior: the Li-Stephens prior over the flanks
        hcfg = state.get("hmm") or {}
        if not {"flank", "ne", "eps"} <= set(hcfg):
            raise InputError("checkpoint of an --hmm-prior model lacks its 'hmm' settings")
        flank, eps = int(hcfg["flank"]), float(hcfg["eps"])
        panel_rows = np.ascontiguousarray(panel.reshape(-1, panel.shape[-1]))
        block = hmm_block(state, block)
        if states is None:
            states = hmm_states(state, panel_rows.shape[0], block)
        rho = hmm.switch_probabilities(state["positions"], panel_rows.shape[0], float(hcfg["ne"]))
        ranges = hmm.flanked_ranges(windows, index.key_windows, n_sites, flank)
        plan = Blocks.plan(windows, ranges, n_sites, flank, block)
    else:
        plan = Blocks.plan(windows, ranges, n_sites, None, 1)
    groups, read = plan.groups, plan.read
    missing = haps < 0
    filled = haps.copy()
    alt_p = np.where(haps > 0, 1.0, 0.0)
    fill_cols = dt.score_windows(windows, n_sites, centre=centre)
    rows_all = haps.reshape(n * ploidy, n_sites)
    miss_all = missing.reshape(n * ploidy, n_sites)
    from tqdm import tqdm

    def impute_window(w: int, need: np.ndarray, need_g: np.ndarray, post: Any) -> None:
        """Fill the missing calls of rows ``need`` in window ``w`` (``post``: the block's
        posterior of rows ``need_g``)."""
        s, e = windows[w]
        ks, ke = index.key_windows[w]
        cols = fill_cols[w]
        for i in range(0, need.size, batch_size):
            r = need[i : i + batch_size]
            rows = rows_all[r, s:e]
            hidden = miss_all[r, s:e]
            tok = np.where(hidden, tk.MASK, rows.astype(np.int64) + tk.ALLELE_OFFSET)
            qkey = query_keys(rows, hidden)
            tok_t = torch.as_tensor(tok)
            with torch.inference_mode():
                key = qkey if keys is None else query_keys(rows_all[r, ks:ke], miss_all[r, ks:ke])
                key = model.encode_key(tok_t).float().numpy() if learned else key
                ids, _ = index.search(w, key, None, learned=learned)
                ref = torch.as_tensor(index.alleles(w, ids))
                prior = None
                if post is not None:
                    prior = torch.as_tensor(plan.prior(w, post[np.searchsorted(need_g, r)]))
                logits = model(
                    tok_t, torch.as_tensor(qkey), ref, af[s:e], learned_key=learned, prior=prior
                )
                logits = logits.float()
                rates = state.get("prior_rates")
                if rates:  # the trainer's --prior-correction (class-rate masks' log odds)
                    shift = masking.class_log_odds(rates[0], rates[1], af[s:e].numpy(), ploidy)
                    logits[..., 1] -= torch.as_tensor(shift, dtype=logits.dtype)
                prob = torch.softmax(logits, -1).numpy()
            p_alt = 1.0 - prob[..., 0]
            th = None if argmax else state.get("thresholds")
            pred = calls.call(
                p_alt, np.asarray(state["alt_freq"])[s:e], None if th is None else np.asarray(th)
            )
            hr = hidden[:, cols]
            fr = filled.reshape(n * ploidy, n_sites)
            ar = alt_p.reshape(n * ploidy, n_sites)
            sub_f = fr[r][:, s + cols]
            sub_a = ar[r][:, s + cols]
            sub_f[hr] = pred[:, cols][hr]
            sub_a[hr] = p_alt[:, cols][hr]
            fr[np.ix_(r, s + cols)] = sub_f
            ar[np.ix_(r, s + cols)] = sub_a

    def rows_to_fill(w: int) -> np.ndarray:
        s, e = windows[w]
        return np.flatnonzero(miss_all[:, s:e][:, fill_cols[w]].any(axis=1))

    if unphased and rho is not None:  # with the HMM prior: phased once, over every site
        step = 256  # samples at a time: candidate scores are (samples, panel haplotypes)
        parts = []
        for i in tqdm(range(0, n, step), desc="phase", unit="chunk", disable=not progress):
            parts.append(phase_segments(panel_rows, haps[i : i + step], rho, eps=eps))
        rows_all = np.concatenate(parts).reshape(n * ploidy, n_sites)
    bar = tqdm(total=len(windows), desc="impute", unit="window", disable=not progress)
    for g, group in enumerate(groups):
        need_w = {int(w): rows_to_fill(int(w)) for w in group}
        need_g = np.unique(np.concatenate(list(need_w.values())))
        lo, hi = read[g]
        if unphased and rho is None and need_g.size:
            rows_all = haps.reshape(n * ploidy, n_sites).copy()
            # in chunks of samples: the pair search holds (samples, 32, 32, sites) sums
            chunks = [haps[i : i + 32, :, lo:hi] for i in range(0, n, 32)]
            s, e = windows[group[0]]
            phased = np.concatenate(
                [phase_window(phase_index, g, c, focus=(s - lo, e - lo)) for c in chunks]
            )
            rows_all[:, lo:hi] = phased.reshape(n * ploidy, -1)
        post = None
        if rho is not None and need_g.size:  # the block's posterior, every row it needs
            a, b = plan.hmm[g]
            post = plan.posterior(
                g, panel_rows, rho, rows_all[need_g, a:b], miss_all[need_g, a:b], int(a),
                eps=eps, states=states or 0,
            )  # fmt: skip
        for w in group:
            impute_window(int(w), need_w[int(w)], need_g, post)
            bar.update(1)
    bar.close()
    return filled, alt_p, missing


def targets_on_model_sites(
    tgt: vcfio.Calls, model_pos: np.ndarray, where: str, panel: vcfio.Calls | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(haps on the model's sites, model site of each target site or -1, in_targets)``.

    A store must hold exactly the model's sites; a VCF's biallelic records at the model's
    positions are read (the first record at a position; where ``panel`` knows the site's REF
    and ALT, only a record with the same alleles), every other record passes through.
    """
    if tgt.lines is None:
        if not np.array_equal(tgt.positions, model_pos):
            raise InputError(
                f"{where} has other sites ({tgt.positions.shape[0]}) than the model was trained "
                f"on ({model_pos.shape[0]}); impute on the training panel's sites"
            )
        return tgt.haps, np.arange(model_pos.shape[0]), np.ones(model_pos.shape[0], dtype=bool)
    at = np.searchsorted(model_pos, tgt.positions)
    at_c = np.minimum(at, model_pos.shape[0] - 1)
    hit = (model_pos[at_c] == tgt.positions) & tgt.biallelic
    if panel is not None and panel.ref is not None and panel.alt is not None and tgt.ref:
        same = [
            tgt.ref[k] == panel.ref[at_c[k]] and (tgt.alt or [])[k] == panel.alt[at_c[k]]
            for k in range(hit.size)
        ]  # fmt: skip
        hit &= np.asarray(same, dtype=bool)
    site_of = np.where(hit, at_c, -1)
    _, first = np.unique(np.where(hit, site_of, -1 - np.arange(hit.size)), return_index=True)
    dup = np.ones(hit.size, dtype=bool)
    dup[first] = False
    site_of[dup & hit] = -1  # a second record at one position passes through
    haps = np.full((tgt.haps.shape[0], 2, model_pos.shape[0]), -1, dtype=np.int8)
    keep = site_of >= 0
    haps[..., site_of[keep]] = tgt.haps[..., keep]
    in_targets = np.zeros(model_pos.shape[0], dtype=bool)
    in_targets[site_of[keep]] = True
    return haps, site_of, in_targets


def write_vcf_out(
    path: str, tgt: vcfio.Calls, panel: vcfio.Calls | None, pos: np.ndarray, site_of: np.ndarray,
    filled: np.ndarray, alt_p: np.ndarray, in_targets: np.ndarray,
) -> None:  # fmt: skip
    """The imputed VCF: the model's sites (site columns from the targets, else the panel) and
    the targets' other records passed through."""
    n = pos.shape[0]
    ids, ref, alt = ["."] * n, [""] * n, [""] * n
    if panel is not None and panel.ref is not None:
        ref, alt = list(panel.ref), list(panel.alt or [])
        ids = list(panel.ids or ids)
    chroms = set()
    for k, j in enumerate(site_of):
        if j >= 0 and tgt.ids is not None and tgt.ref is not None and tgt.alt is not None:
            ids[j], ref[j], alt[j] = tgt.ids[k], tgt.ref[k], tgt.alt[k]
            chroms.add((tgt.chrom or ["1"])[k])
    if not all(ref) or not all(alt):
        raise InputError(
            "a VCF out needs REF/ALT of the model's sites that the targets lack: pass --panel "
            "(the reference VCF or a store with variants/REF and variants/ALT)"
        )
    if len(chroms) > 1:
        raise InputError(f"the targets' model sites lie on several contigs {sorted(chroms)}")
    chrom = chroms.pop() if chroms else (tgt.chrom or ["1"])[0]
    order = {c: i for i, c in enumerate(dict.fromkeys([chrom, *(tgt.chrom or [])]))}
    ours = {vcfio.header_id(ln) for ln in vcfio.INFO_FORMAT}
    kept = [
        ln for ln in (tgt.header or [])
        if not ln.startswith("##fileformat") and vcfio.header_id(ln) not in ours
    ]  # fmt: skip
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
    header = [
        "##fileformat=VCFv4.2", "##source=maskkit examples.rag_bert.impute", *kept,
        *vcfio.INFO_FORMAT, "\t".join([*columns, *map(str, tgt.samples)]),
    ]  # fmt: skip
    records = list(vcfio.imputed_lines(chrom, pos, ids, ref, alt, filled, alt_p, in_targets))
    for k in np.flatnonzero(site_of < 0):
        line = (tgt.lines or [])[k]
        records.append((line.split("\t", 1)[0], int(tgt.positions[k]), len(tgt.ref[k]), line))
    records.sort(key=lambda r: (order.get(r[0], len(order)), r[1]))
    vcfio.write_bgzf_vcf(path, header, records)


def run(args: argparse.Namespace) -> dict[str, Any]:
    import torch

    torch.set_num_threads(args.threads or 2)
    model, state = load_model(args.checkpoint)
    pos = np.asarray(state["positions"])
    tgt = vcfio.read_calls(args.store)
    samples = tgt.samples
    pcalls = vcfio.read_calls(args.panel) if args.panel else None
    panel, panel_report = reference_panel(state, samples, args.panel, pcalls)
    haps, site_of, in_targets = targets_on_model_sites(tgt, pos, args.store, pcalls)
    if args.hmm_states is not None and args.hmm_states < 0:
        raise InputError(f"--hmm-states must be >= 0 (0: every haplotype), got {args.hmm_states}")
    n_haps = panel_report["haplotypes"]
    block = hmm_block(state, args.hmm_block)
    states = hmm_states(state, n_haps, block) if args.hmm_states is None else args.hmm_states
    how = f"{states} selected" if states else "all"
    flank = (state.get("hmm") or {}).get("flank")
    hmm_line = (
        f"; hmm: flank {flank} sites, {how} of {n_haps} haplotypes per query, blocks of "
        f"{block} windows"
    )
    print(
        f"panel: {n_haps} haplotypes of {panel_report['samples']} reference "
        f"samples ({panel_report['source']}; {panel_report['targets_left_out']} that are "
        "targets left out)" + (hmm_line if model.prior_input else "")
    )
    passed = int((site_of < 0).sum())
    print(f"sites: {pos.shape[0]} of the model, {int(in_targets.sum())} in the targets; "
          f"{passed} target records not in the panel passed through")  # fmt: skip
    t0 = time.perf_counter()
    recorded = tgt.phased
    unphased = args.phase == "unphased" or (args.phase == "auto" and recorded is False)
    how = " (store attribute)" if args.phase == "auto" and recorded is not None else ""
    print(f"targets read as {'unphased genotypes' if unphased else 'phased haplotypes'}{how}")
    filled, alt_p, imputed = impute(
        model, {**state, "panel": panel}, haps, args.batch_size, unphased, args.stride,
        args.k_retrieve, args.calls == "argmax", args.retrieval_window, not args.quiet, states,
        block,
    )  # fmt: skip
    dosage = alt_p.sum(axis=1).astype(np.float32)
    elapsed = time.perf_counter() - t0
    if vcfio.is_vcf(args.out):
        write_vcf_out(args.out, tgt, pcalls, pos, site_of, filled, alt_p, in_targets)
    else:
        dt.write_store(
            args.out, filled, pos, samples,
            extra={"calldata/DS": dosage.T, "calldata/IMPUTED": imputed.transpose(2, 0, 1)},
        )  # fmt: skip
    report: dict[str, Any] = {
        "imputed_calls": int(imputed.sum()),
        "seconds": elapsed,
        "phase": "unphased" if unphased else "phased",
        "panel": panel_report,
        "hmm_states": states,
        "hmm_block": block,
        "sites": {
            "model": int(pos.shape[0]), "in_targets": int(in_targets.sum()),
            "imputed_only": int((~in_targets).sum()), "passed_through": passed,
        },
    }  # fmt: skip
    print(f"imputed {report['imputed_calls']} calls in {elapsed:.1f} s -> {args.out}")
    if args.truth:
        truth, tpos, _ = dt.read_store(args.truth)
        if truth.shape != haps.shape or not np.array_equal(tpos, pos):
            raise InputError(f"--truth {args.truth} does not match --store in shape or sites")
        site = imputed.any(axis=1)
        res = mm.score(truth, filled, site, np.asarray(state["alt_freq"]), alt_prob=alt_p)
        report["scores"] = res
        for b in [*mm.bin_labels(), "rare", "all"]:
            r = res[b]
            print(f"  {b:15s} F1 {fmt(r['f1'], 4)}  r2 {fmt(r['r2'], 4)}  n {r['n_genotypes']:.0f}")
    dt.write_text(str(args.out) + ".json", json.dumps(report, indent=1, default=float))
    return report


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        run(args)
    except InputError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
