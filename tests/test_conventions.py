"""The conventions of docs/api.md, checked on every public callable.

The keyword-only rule is checked mechanically: every public function, class and method of the
modules docs/api.md presents is listed in ``POSITIONAL`` with the parameters it takes
positionally (the ones not listed take none). A new public callable, or a parameter that moves,
fails :func:`test_positional_parameters_are_the_listed_operands` until it is added here, where
the rule of docs/api.md applies: operands only (arrays, data first, then the mask; the rates of
a mask function; the defining values of a constructor; the one value a method sets or reads).
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path
from typing import Any

import pytest

import maskkit as mk
from maskkit import curriculum, io, metrics, rules

P = inspect.Parameter
DOCS = Path(__file__).resolve().parents[1] / "docs"

#: Adapters that import a framework: where it is not installed (``pytest -m "not torch"`` in an
#: environment without torch) they leave the tables; ``test_every_adapter_is_checked`` fails when
#: a framework is installed but its adapter was left out.
ADAPTERS = ("maskkit.torch", "maskkit.hf", "maskkit.lightning")


def _importable(module_name: str) -> bool:
    try:
        importlib.import_module(module_name)
    except ImportError:  # the adapter's install hint: its framework is not installed
        return False
    return True


#: Modules whose ``__all__`` docs/api.md presents (maskkit.hf needs transformers: tested below).
ALL_MODULES = [
    "maskkit",
    "maskkit.curriculum",
    "maskkit.freq",
    "maskkit.io",
    "maskkit.metrics",
    "maskkit.report",
    "maskkit.rules",
    "maskkit.tokens",
    "maskkit.torch",
    "maskkit.hf",
    "maskkit.lightning",
]
MODULES = [m for m in ALL_MODULES if m not in ADAPTERS or _importable(m)]

#: Options: keyword-only wherever they appear (``site_rate`` is also the operand of
#: ``haplotype_rate_for_site_rate``, ``metric`` of ``update``: the table covers those).
OPTIONS = {
    "seed", "lengths", "exact", "union", "parallel", "out", "eligible", "protect", "fold",
    "scale", "upto", "mean_span", "max_span", "span_lengths", "every", "kept_rate",
    "fixed_epoch", "options", "name", "prefix", "pad_to", "pad_to_multiple_of", "replace",
    "dtype", "verbose", "show_progress", "overwrite", "contig", "format",
    "storage_options", "backend", "in_memory", "shuffle", "drop_last", "haps_key", "index_key",
    "lengths_key", "frozen", "haplotypes", "boundaries", "steps", "begin", "patience", "mode",
    "cooldown", "min_delta", "num_replicas",
}  # fmt: skip

#: Callables of other libraries' protocols, whose signatures are not maskkit's to choose.
PROTOCOLS = {
    "maskkit.hf.CurriculumCallback.on_epoch_begin",  # transformers.TrainerCallback
    "maskkit.hf.CurriculumCallback.on_evaluate",
    "maskkit.hf.CurriculumCallback.on_init_end",
    "maskkit.hf.CurriculumCallback.on_step_end",
    "maskkit.hf.CurriculumCallback.on_train_begin",
    # lightning.pytorch.Callback
    "maskkit.lightning.CurriculumCallback.on_fit_start",
    "maskkit.lightning.CurriculumCallback.on_train_epoch_start",
    "maskkit.lightning.CurriculumCallback.on_train_batch_end",
    "maskkit.lightning.CurriculumCallback.on_validation_end",
}

_SCHEDULE = {"rate": ("epoch", "step"), "level": ("epoch", "step"), "load_state_dict": ("state",)}
_RULE = {
    "draw": ("haps",), "probabilities": ("haps",), "site_rates": ("haps",),
    "from_config": ("config",), "from_params": ("params",),
}  # fmt: skip


def _members(prefix: str, table: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, ...]]:
    return {f"{prefix}.{name}": params for name, params in table.items()}


#: Every public callable that takes positional parameters, and which.
POSITIONAL: dict[str, tuple[str, ...]] = {
    # masks, union, collate, tokens: arrays first (data, then mask), then a mask's rates
    "maskkit.masks.random_mask": ("haps", "rate"),
    "maskkit.masks.class_rate_mask": ("haps", "ref_rate", "alt_rate"),
    "maskkit.masks.smart_balanced_mask": ("haps", "ref_rate", "alt_rate"),
    "maskkit.masks.af_mask": ("haps", "freq", "edges", "rates"),
    "maskkit.masks.array_mask": ("haps", "keep", "rate"),
    "maskkit.masks.span_mask": ("haps", "rate"),
    "maskkit.masks.af_bins": ("freq", "edges"),
    # formulas: all their inputs
    "maskkit.masks.haplotype_rate_for_site_rate": ("site_rate", "ploidy"),
    "maskkit.union.effective_rate": ("rate", "ploidy"),
    "maskkit.union.effective_site_rates": ("ref_rate", "alt_rate", "ploidy"),
    "maskkit.union.union": ("mask",),
    "maskkit.union.mask_stats": ("mask", "haps"),
    "maskkit.collate.collate": ("haps", "mask"),
    "maskkit.collate.padded_width": ("max_length",),
    "maskkit.vocab.mask_tokens": ("ids", "mask"),
    "maskkit.tokens.allele_token": ("allele",),
    "maskkit.tokens.vocab_size": ("n_alleles",),
    # Masker(strategy, rate, alt_rate) as the README and docs write it; methods take their operand
    "maskkit.masker.Masker": ("strategy", "rate", "alt_rate"),
    "maskkit.masker.Masker.__call__": ("haps",),
    "maskkit.masker.Masker.haplotype_mask": ("haps",),
    "maskkit.masker.Masker.probabilities": ("haps",),
    "maskkit.masker.Masker.batch": ("haps",),
    "maskkit.masker.Masker.stats": ("mask", "haps"),
    "maskkit.masker.Masker.sample_rates": ("indices",),
    "maskkit.masker.Masker.set_epoch": ("epoch",),
    "maskkit.masker.Masker.set_step": ("step",),
    "maskkit.masker.Masker.step": ("n",),
    "maskkit.masker.Masker.update": ("metric",),
    "maskkit.masker.Masker.apply_sync_state": ("values",),
    "maskkit.masker.Masker.set_sync_channel": ("channel",),
    "maskkit.masker.Masker.load_state_dict": ("state",),
    "maskkit.masker.Masker.from_state_dict": ("state",),
    "maskkit.report.describe": ("masker",),
    "maskkit.report.stats": ("masker", "mask", "haps"),
    # rules: the fields that define the rule
    "maskkit.rules.Random": ("rate",),
    "maskkit.rules.SmartBalanced": ("ref_rate", "alt_rate"),
    "maskkit.rules.AlleleFrequency": ("edges", "rates"),
    "maskkit.rules.Span": ("rate",),
    "maskkit.rules.Array": ("keep",),
    "maskkit.rules.PerPosition": ("rates",),
    **_members("maskkit.rules.Rule", _RULE),
    **{
        f"maskkit.rules.{cls}.{name}": params
        for cls in ("Random", "SmartBalanced", "AlleleFrequency", "Span", "Array", "PerPosition")
        for name, params in _RULE.items()
    },
    "maskkit.rules.from_config": ("config",),
    "maskkit.rules.rule_class": ("kind",),
    # curriculum: the values that define a schedule; rate(epoch, step=None) everywhere
    "maskkit.curriculum.Constant": ("p",),
    "maskkit.curriculum.Levels": ("levels", "epochs_per_level"),
    "maskkit.curriculum.Linear": ("start", "end", "epochs"),
    "maskkit.curriculum.Cosine": ("start", "end", "epochs"),
    "maskkit.curriculum.Plateau": ("levels",),
    "maskkit.curriculum.Distribution": ("low", "high"),
    "maskkit.curriculum.Uniform": ("low", "high"),
    "maskkit.curriculum.Beta": ("a", "b", "low", "high"),
    **{
        f"maskkit.curriculum.{cls}.{name}": params
        for cls in (
            "Schedule",
            "Constant",
            "Levels",
            "Linear",
            "Cosine",
            "Plateau",
            "Distribution",
            "Uniform",
            "Beta",
        )
        for name, params in _SCHEDULE.items()
    },
    "maskkit.curriculum.Linear.fraction": ("epoch", "step"),
    "maskkit.curriculum.Cosine.fraction": ("epoch", "step"),
    "maskkit.curriculum.Plateau.set_level": ("level",),
    "maskkit.curriculum.Plateau.update": ("metric",),
    "maskkit.curriculum.Distribution.sample_rates": ("indices",),
    "maskkit.curriculum.Uniform.sample_rates": ("indices",),
    "maskkit.curriculum.Beta.sample_rates": ("indices",),
    "maskkit.curriculum.as_schedule": ("value",),
    "maskkit.curriculum.from_state_dict": ("state",),
    # allele frequencies and metrics: arrays (data, then mask), then tables
    "maskkit.freq.maf": ("freq",),
    "maskkit.freq.maf_bins": ("freq", "edges"),
    "maskkit.freq.check_edges": ("edges",),
    "maskkit.freq.bin_labels": ("edges",),
    "maskkit.metrics.MinorAlleleScorer": ("alt_freq", "edges"),
    "maskkit.metrics.MinorAlleleScorer.update": ("truth", "pred", "mask"),
    "maskkit.metrics.MinorAlleleScorer.add_state": ("counts",),
    "maskkit.metrics.MinorAlleleScorer.load_state_dict": ("state",),
    "maskkit.metrics.MinorAlleleScorer.merge_state_dict": ("state",),
    "maskkit.metrics.score": ("truth", "pred", "mask", "alt_freq"),
    "maskkit.metrics.bin_labels": ("edges",),
    "maskkit.metrics.flatten": ("result",),
    "maskkit.metrics.maf_from_alt_freq": ("alt_freq",),
    "maskkit.metrics.minor_allele": ("alt_freq",),
    # io: a path to read or write, then the data; records' fields; a read's slab
    "maskkit.io.freq.alt_allele_frequency": ("data", "samples"),
    "maskkit.io.freq.load_frequencies": ("path",),
    "maskkit.io.freq.save_frequencies": ("path", "freq"),
    "maskkit.io.freq.maf": ("freq",),
    "maskkit.io.freq.maf_bins": ("freq", "edges"),
    "maskkit.io.freq.maf_spectrum": ("freq", "edges"),
    "maskkit.io.memory.ArrayStore": ("haps",),
    "maskkit.io.memory.ArrayStore.read": ("sample_indices", "start", "stop"),
    "maskkit.io.store.HaplotypeStore": ("path",),
    "maskkit.io.store.HaplotypeStore.read": ("sample_indices", "start", "stop"),
    "maskkit.io.store.HaplotypeStore.require_ploidy": ("ploidy",),
    "maskkit.io.vcz.VcfZarrStore": ("path",),
    "maskkit.io.vcz.VcfZarrStore.read": ("sample_indices", "start", "stop"),
    "maskkit.io.vcz.VcfZarrStore.require_ploidy": ("ploidy",),
    "maskkit.io.opener.open_store": ("path",),
    "maskkit.io.order.chunk_order": ("blocks",),
    "maskkit.io.order.item_blocks": ("bounds", "samples"),
    "maskkit.io.order.order_stats": ("order", "blocks"),
    "maskkit.io.order.store_chunks": ("store",),
    "maskkit.io.writer.write_store": ("path", "genotypes"),
    "maskkit.io.vcf.vcf_to_hdf5": ("vcf_path", "out_path"),
    "maskkit.io.vcf.ConvertStats": (
        "n_samples",
        "ploidy",
        "kept",
        "multiallelic",
        "non_snv",
        "phased",
    ),
    "maskkit.io.panel.Panel": ("samples", "populations"),
    "maskkit.io.panel.Panel.aligned_to": ("samples",),
    "maskkit.io.panel.read_panel": ("path",),
    "maskkit.io.panel.write_panel": ("path", "samples", "populations"),
    "maskkit.io.split.Split": ("train", "val", "samples", "populations"),
    "maskkit.io.split.Split.write_tsv": ("path",),
    "maskkit.io.split.read_split": ("path", "samples"),
    "maskkit.io.split.split_by_population": ("samples", "populations", "val_fraction"),
    "maskkit.io.windows.Windows": ("bounds",),
    "maskkit.io.windows.Windows.fixed": ("n_sites", "size", "stride"),
    "maskkit.io.windows.Windows.from_csv": ("path",),
    "maskkit.io.windows.Windows.to_csv": ("path",),
    "maskkit.io.windows.Windows.validate": ("n_sites",),
    "maskkit.io.simulate.DemoData": ("outdir",),
    "maskkit.io.simulate.DemoData.write_vcf": ("path",),
    "maskkit.io.simulate.demo_data": ("cache_dir",),
    "maskkit.io.simulate.simulate_demo": ("outdir", "n_diploids", "length"),
    # torch and hf adapters: what they wrap; sampler and records as torch's own
    "maskkit.torch.HaplotypeDataset": ("store", "masker", "windows"),
    "maskkit.torch.HaplotypeDataset.load_state_dict": ("state",),
    "maskkit.torch.HaplotypeDataset.locate": ("index",),
    "maskkit.torch.HaplotypeDataset.read": ("sample", "window"),
    "maskkit.torch.HaplotypeDataset.set_epoch": ("epoch",),
    "maskkit.torch.MaskingCollator": ("masker",),
    "maskkit.torch.MaskingCollator.__call__": ("items",),
    "maskkit.torch.WindowBatchSampler": ("dataset", "batch_size"),
    "maskkit.torch.WindowBatchSampler.load_state_dict": ("state",),
    "maskkit.torch.WindowBatchSampler.set_epoch": ("epoch",),
    "maskkit.torch.ChunkShuffleSampler": ("dataset", "batch_size"),
    "maskkit.torch.ChunkShuffleSampler.load_state_dict": ("state",),
    "maskkit.torch.ChunkShuffleSampler.set_epoch": ("epoch",),
    "maskkit.torch.WorkerInfo": ("rank", "world_size", "local_rank", "worker", "num_workers"),
    "maskkit.torch.collate_fn": ("batch",),
    "maskkit.torch.share": ("masker",),
    "maskkit._sync.share": ("masker",),
    "maskkit.hf.freeze_eval_masks": ("trainer",),
    "maskkit.curriculum.metric_mode": ("metric",),
    "maskkit.curriculum.Plateau.use_metric": ("metric",),
    "maskkit.hf.CurriculumCallback": ("masker",),
    "maskkit.lightning.CurriculumCallback": ("masker",),
    "maskkit.lightning.CurriculumCallback.load_state_dict": ("state",),
    "maskkit.hf.HaplotypeDataCollator": ("masker",),
    "maskkit.hf.HaplotypeDataCollator.__call__": ("items",),
}


def public_callables() -> dict[str, Any]:
    """``{qualified name: callable}`` of every public function, class and method."""
    out: dict[str, Any] = {}
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj) or not callable(obj):
                continue
            if inspect.isclass(obj) and issubclass(obj, BaseException):
                continue
            key = f"{obj.__module__}.{obj.__qualname__}"
            if not inspect.isclass(obj):
                out[key] = obj
                continue
            try:
                inspect.signature(obj)
            except ValueError:  # a builtin's subclass without its own constructor (torch.Batch)
                pass
            else:
                out[key] = obj
            for attr in dir(obj):
                if attr.startswith("_") and attr != "__call__":
                    continue
                raw = inspect.getattr_static(obj, attr)
                if isinstance(raw, (staticmethod, classmethod)):
                    raw = raw.__func__
                if inspect.isfunction(raw) and raw.__module__.startswith("maskkit"):
                    out[f"{key}.{attr}"] = getattr(obj, attr)
    return out


def positional(fn: Any) -> tuple[str, ...]:
    params = inspect.signature(fn).parameters.values()
    kinds = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD, P.VAR_POSITIONAL)
    return tuple(p.name for p in params if p.kind in kinds and p.name not in ("self", "cls"))


PUBLIC = public_callables()


def test_every_public_callable_is_checked() -> None:
    assert len(PUBLIC) > 150  # the walk found the API
    absent = tuple(f"{m}." for m in ADAPTERS if m not in MODULES)  # framework not installed
    unknown = sorted(n for n in set(POSITIONAL) - set(PUBLIC) if not n.startswith(absent))
    assert not unknown, f"POSITIONAL lists names that are not public callables: {unknown}"


@pytest.mark.parametrize("name", sorted(set(PUBLIC) - PROTOCOLS))
def test_positional_parameters_are_the_listed_operands(name: str) -> None:
    assert positional(PUBLIC[name]) == POSITIONAL.get(name, ()), (
        f"{name} takes {positional(PUBLIC[name])} positionally; docs/api.md: options are "
        "keyword-only (add a new operand to POSITIONAL in this file only if it is one)"
    )


def test_options_are_never_operands() -> None:
    both = {name: sorted(OPTIONS & set(params)) for name, params in POSITIONAL.items()}
    assert not {name: o for name, o in both.items() if o}


def _parameters(obj: object) -> dict[str, inspect.Parameter]:
    try:
        return dict(inspect.signature(obj).parameters)  # type: ignore[arg-type]
    except (TypeError, ValueError):  # builtins without a signature take no seed or verbose
        return {}


QUIET_FLAGS = ("verbose", "show_progress", "progress")
SEEDED = sorted(name for name, obj in PUBLIC.items() if "seed" in _parameters(obj))
CHATTY = sorted(name for name, obj in PUBLIC.items() if set(QUIET_FLAGS) & set(_parameters(obj)))


def test_convention_cases_are_found() -> None:
    # each parametrized case below checks something: only callables that take the parameter
    assert "maskkit.masker.Masker" in SEEDED
    assert "maskkit.masks.random_mask" in SEEDED
    assert any(name.startswith("maskkit.io.") for name in CHATTY)
    assert len(SEEDED) < len(PUBLIC) / 2
    assert len(CHATTY) < len(PUBLIC) / 2


@pytest.mark.parametrize("name", SEEDED)
def test_one_seed_convention(name: str) -> None:
    params = _parameters(PUBLIC[name])
    assert params["seed"].kind is P.KEYWORD_ONLY
    default = params["seed"].default
    assert default is P.empty or default is None or (type(default) is int and default >= 0)


@pytest.mark.parametrize("name", CHATTY)
def test_library_callables_are_quiet_by_default(name: str) -> None:
    params = _parameters(PUBLIC[name])
    flags = [flag for flag in QUIET_FLAGS if flag in params]
    assert flags
    for flag in flags:
        assert params[flag].default is False, f"{name}({flag}=...) must default to False"


def test_stateful_classes_have_state_dicts() -> None:
    """A public class that changes during training (set_epoch, update, step) saves its state."""
    stateful = [
        key
        for key, obj in PUBLIC.items()
        if inspect.isclass(obj) and any(hasattr(obj, m) for m in ("set_epoch", "update", "step"))
    ]
    assert "maskkit.masker.Masker" in stateful
    for key in stateful:
        obj = PUBLIC[key]
        assert callable(getattr(obj, "state_dict", None)), key
        assert callable(getattr(obj, "load_state_dict", None)), key


def test_docs_present_every_public_module() -> None:
    """The API pages (docs/api.md, docs/api/*.md) render every module's public names."""
    api = "\n".join(p.read_text() for p in [DOCS / "api.md", *sorted((DOCS / "api").glob("*.md"))])
    rendered = set(re.findall(r"^::: (maskkit[\w.]*)", api, flags=re.M))
    for module_name in MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            obj = getattr(module, name)
            home = getattr(obj, "__module__", None) if not inspect.ismodule(obj) else obj.__name__
            if name == "__version__":
                continue
            assert (
                home in rendered
                or f"{home}.{name}" in rendered
                or f"{module_name}" in rendered
                or f"{module_name}.{name}" in rendered
            ), f"{module_name}.{name} (from {home}) is not rendered in docs/api.md or docs/api/"


@pytest.mark.parametrize(
    "cls",
    [
        curriculum.Constant,
        curriculum.Levels,
        curriculum.Linear,
        curriculum.Cosine,
        curriculum.Plateau,
        curriculum.Uniform,
        curriculum.Beta,
    ],
)
def test_one_schedule_signature(cls: type) -> None:
    params = list(inspect.signature(cls.rate).parameters.values())[1:]
    assert [p.name for p in params] == ["epoch", "step"]
    assert params[0].default is P.empty
    assert params[1].default is None


@pytest.mark.parametrize(
    "cls", [mk.Masker, curriculum.Schedule, metrics.MinorAlleleScorer], ids=lambda c: c.__name__
)
def test_stateful_objects_have_state_dicts(cls: type) -> None:
    assert callable(getattr(cls, "state_dict", None))
    assert callable(getattr(cls, "load_state_dict", None))


@pytest.mark.parametrize(
    ("fn", "flag"),
    [
        (io.open_store, "verbose"),
        (io.HaplotypeStore.__init__, "verbose"),
        (io.VcfZarrStore.__init__, "verbose"),
        (io.simulate_demo, "verbose"),
        (io.demo_data, "verbose"),
        (io.vcf_to_hdf5, "show_progress"),
    ],
)
def test_library_functions_are_quiet_by_default(fn: Any, flag: str) -> None:
    assert inspect.signature(fn).parameters[flag].default is False


def test_top_level_exports_the_documented_names() -> None:
    for name in ("Rule", "Random", "SmartBalanced", "AlleleFrequency", "Span", "Array"):
        assert getattr(mk, name) is getattr(rules, name)
    assert "span_length_probabilities" in mk.__all__
    assert "OPTIONS" not in dir(mk.masker)


@pytest.mark.torch
def test_every_adapter_is_checked() -> None:
    """With the frameworks installed (the test extra), every adapter is in the tables."""
    assert set(ADAPTERS) <= set(MODULES)
