"""Token ids shared by `maskkit.collate`, the torch adapter and the reference trainer.

Allele ``a`` (``0`` = ref, ``1..`` = alt) becomes token ``ALLELE_OFFSET + a``. Labels are allele
indices, not tokens, so a model predicts ``n_alleles`` classes; unscored positions carry
``IGNORE_INDEX`` (the default ``ignore_index`` of ``torch.nn.CrossEntropyLoss``).

Examples
--------
>>> from maskkit import tokens
>>> tokens.allele_token(1), tokens.vocab_size(n_alleles=2)
(4, 5)
"""

from __future__ import annotations

import numpy as np

from ._narrow import narrow_int

__all__ = [
    "ALLELE_OFFSET",
    "IGNORE_INDEX",
    "MASK",
    "MISSING",
    "PAD",
    "allele_token",
    "vocab_size",
]

PAD = 0
MASK = 1
MISSING = 2
ALLELE_OFFSET = 3
IGNORE_INDEX = -100


def allele_token(allele: int) -> int:
    """Return the token id of allele index ``allele`` (``0`` = ref).

    Examples
    --------
    >>> allele_token(0)
    3
    """
    a = narrow_int(allele, np.int64, "allele", fix="pass an allele index (0 = ref, 1.. = alt)")
    if a < 0:
        raise ValueError(f"allele must be >= 0 (negative alleles are missing calls), got {a}")
    return ALLELE_OFFSET + a


def vocab_size(n_alleles: int = 2) -> int:
    """Return the number of token ids needed for ``n_alleles`` alleles plus PAD/MASK/MISSING.

    Examples
    --------
    >>> vocab_size(2)
    5
    """
    n = narrow_int(n_alleles, np.int64, "n_alleles", fix="pass the number of allele classes")
    if n < 1:
        raise ValueError(f"n_alleles must be >= 1, got {n}")
    return ALLELE_OFFSET + n
