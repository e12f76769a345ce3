"""The reference imputer beside Beagle 5.4 on the same targets: wall, CPU seconds and F1.

Run from the repository root:  python benchmarks/bench_impute.py [--small] [--checkpoint PATH]

Trains a checkpoint (or takes ``--checkpoint``), imputes the panel-scale demo's unphased targets
with ``examples.rag_bert.impute`` and with Beagle (Debian package ``beagle``) one after the other,
and prints wall and CPU seconds, their ratio, and minor-allele F1 by MAF bin and rare r² of both
on the same masked genotypes (``examples/rag_bert/impute_bench.py`` has the details).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from examples.rag_bert.impute_bench import main

if __name__ == "__main__":
    sys.exit(main())
