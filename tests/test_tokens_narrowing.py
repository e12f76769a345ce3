"""maskkit.tokens takes integers only: a float allele or class count is refused, not used."""

from __future__ import annotations

import numpy as np
import pytest

from maskkit import tokens


@pytest.mark.parametrize("value", [1.5, 1.0, np.float32(2.0), True, "1"])
def test_float_bool_or_text_allele_is_refused(value):
    with pytest.raises(TypeError, match="allele must be an integer"):
        tokens.allele_token(value)
    with pytest.raises(TypeError, match="n_alleles must be an integer"):
        tokens.vocab_size(value)


@pytest.mark.parametrize("value", [1, np.int8(1), np.uint64(1)])
def test_integers_of_any_kind(value):
    assert tokens.allele_token(value) == tokens.ALLELE_OFFSET + 1
    assert tokens.vocab_size(value) == tokens.ALLELE_OFFSET + 1
    assert type(tokens.allele_token(value)) is int


def test_negative_allele_is_missing_not_a_token():
    with pytest.raises(ValueError, match="missing"):
        tokens.allele_token(-1)
