import numpy as np
import pyarrow as pa
import pytest

from envlake.kernel.identifiers import ALPHABET, is_valid_uscc, uscc_valid_mask
from envlake.simulators.enterprises import make_credit_code

REAL_CODES = ["91330100799655058B", "91330000733796106P"]
ALL_CHARS = ALPHABET + "IOSVZabc-* "


@pytest.mark.parametrize("code", REAL_CODES)
def test_published_hangzhou_codes_pass(code: str) -> None:
    assert is_valid_uscc(code)
    assert uscc_valid_mask(pa.array([code])).to_pylist() == [True]


def single_changes(code: str) -> list[str]:
    changes = []
    for i, original in enumerate(code):
        changes += [code[:i] + ch + code[i + 1:] for ch in ALL_CHARS if ch != original]
        changes.append(code[:i] + code[i + 1:])  # deletion
        changes += [code[:i] + ch + code[i:] for ch in "0A"]  # insertion
    return changes


@pytest.mark.parametrize("code", REAL_CODES)
def test_every_single_character_change_fails(code: str) -> None:
    changed = single_changes(code)
    assert len(changed) > 18 * len(ALPHABET)
    assert not any(is_valid_uscc(c) for c in changed)
    assert not any(uscc_valid_mask(pa.array(changed)).to_pylist())


def test_vectorised_check_agrees_with_scalar_check() -> None:
    rng = np.random.default_rng(7)
    codes = [make_credit_code(rng, "330106") for _ in range(300)]
    mutated = [c[:5] + str(rng.choice(list(ALPHABET))) + c[6:] for c in codes]
    sample = codes + mutated + [None, "", "short", REAL_CODES[0].lower()]
    assert uscc_valid_mask(pa.array(sample)).to_pylist() == [None if c is None else is_valid_uscc(c) for c in sample]
    assert all(is_valid_uscc(c) for c in codes)
