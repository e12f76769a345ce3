"""The ``maskkit`` command line: ``maskkit convert`` and ``maskkit simulate``.

Subcommands register themselves in `COMMANDS` as ``(name, add_arguments, run)``;
another module adds one by appending to that list before `main` runs.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

__all__ = ["COMMANDS", "build_parser", "main"]

#: ``(name, help, add_arguments(parser), run(args) -> exit code)`` for each subcommand.
COMMANDS: list[
    tuple[str, str, Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int]]
] = []


def _add_convert(p: argparse.ArgumentParser) -> None:
    p.add_argument("vcf", help="input .vcf, .vcf.gz or .bcf")
    p.add_argument("out", help="output HDF5 store (scikit-allel layout)")
    p.add_argument("--force", action="store_true", help="replace OUT if it exists")
    p.add_argument("--chunk-sites", type=int, default=1024, help="sites per write/chunk (1..2**20)")
    p.add_argument(
        "--binary-alleles",
        action="store_true",
        help="also keep records with REF 0 and ALT 1 (tskit's binary mutation model)",
    )
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def _run_convert(args: argparse.Namespace) -> int:
    from .io import vcf_to_hdf5

    stats = vcf_to_hdf5(
        args.vcf,
        args.out,
        overwrite=args.force,
        chunk_sites=args.chunk_sites,
        show_progress=not args.no_progress,
        binary_alleles=args.binary_alleles,
    )
    print(f"wrote {args.out}: {stats}")
    return 0


def _add_simulate(p: argparse.ArgumentParser) -> None:
    from .io.simulate import DEFAULT_SEED

    p.add_argument("outdir", help="directory to create (its parent must exist)")
    p.add_argument("--n-diploids", type=int, default=1000, help="diploids over YRI/CEU/CHB")
    p.add_argument("--length", type=int, default=1_500_000, help="region length in bp")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    p.add_argument("--window-size", type=int, default=512, help="sites per window")
    p.add_argument("--window-stride", type=int, default=None, help="sites between windows")
    p.add_argument("--val-fraction", type=float, default=0.1, help="held out per population")
    p.add_argument("--force", action="store_true", help="replace OUTDIR if it exists")


def _run_simulate(args: argparse.Namespace) -> int:
    from .io import simulate_demo

    demo = simulate_demo(
        args.outdir,
        n_diploids=args.n_diploids,
        length=args.length,
        seed=args.seed,
        window_size=args.window_size,
        window_stride=args.window_stride,
        val_fraction=args.val_fraction,
        overwrite=args.force,
        verbose=True,
    )
    print(demo.outdir)
    return 0


COMMANDS.append(("convert", "convert a VCF to an HDF5 haplotype store", _add_convert, _run_convert))
COMMANDS.append(
    ("simulate", "simulate Out-of-Africa demo data into OUTDIR", _add_simulate, _run_simulate)
)


def build_parser() -> argparse.ArgumentParser:
    """Return the ``maskkit`` argument parser with one subparser per entry of COMMANDS.

    Examples
    --------
    >>> build_parser().parse_args(["convert", "in.vcf.gz", "out.h5"]).command
    'convert'
    """
    from ._version import __version__

    parser = argparse.ArgumentParser(prog="maskkit", description="maskkit command line tools")
    parser.add_argument("--version", action="version", version=f"maskkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, help_, add, run in COMMANDS:
        p = sub.add_parser(name, help=help_, description=help_)
        add(p)
        p.set_defaults(_run=run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``maskkit`` command line; return the exit code (0 ok, 1 error, 2 usage).

    Expected errors (missing or malformed files, existing outputs, unwritable folders and other
    OS errors, missing optional packages) are printed as one ``maskkit COMMAND: error:`` line,
    without a traceback, and return 1. SIGTERM and SIGHUP while an output is being written
    remove its temporary file, then end the process as the signal would.

    Examples
    --------
    >>> main(["convert", "no-such-file.vcf", "out.h5"])  # prints the error to stderr
    1
    """
    from .io import DataError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args._run(args)
    except (DataError, OSError, ImportError, ValueError) as exc:
        print(f"maskkit {args.command}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("maskkit: interrupted; no output was written", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
