import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.codes import (
    GENERATED_CODE_BITS,
    MIN_CODE_LENGTH,
    WEAK_CODE_BITS,
    InvalidCode,
    WeakCode,
    chosen_code,
    code_strength_bits,
    generate_code,
    normalize_code,
)


def test_generated_code_is_two_groups_of_four_digits() -> None:
    for _ in range(200):
        assert re.fullmatch(r"\d{4}-\d{4}", generate_code())


def test_generated_codes_differ() -> None:
    # 50 draws from 10**8 values collide with probability about 1e-5.
    assert len({generate_code() for _ in range(50)}) == 50


def test_generated_code_normalizes_to_its_eight_digits() -> None:
    code = generate_code()
    assert normalize_code(code) == code.replace("-", "")


def test_generated_code_strength_constant() -> None:
    assert math.isclose(GENERATED_CODE_BITS, 26.5754, abs_tol=1e-4)


@pytest.mark.parametrize(
    "spoken",
    ["314-159", "314 159", "314.159", "314_159", " 3 1 4 - 1 5 9 ", "314\t159", "３１４－１５９"],
)
def test_ways_of_writing_the_same_code_agree(spoken: str) -> None:
    assert normalize_code(spoken) == "314159"


def test_letters_are_casefolded_and_compatibility_forms_folded() -> None:
    assert normalize_code("Blue-Heron") == "blueheron"
    assert normalize_code("STRASSE-7") == normalize_code("straße-7") == "strasse7"
    assert normalize_code("ＡＢＣＤＥＦ") == "abcdef"


def test_combining_mark_left_alone_by_a_dash_is_composed() -> None:
    # "e-\u0301": once the dash goes, e + combining acute must compose like a typed "é".
    assert normalize_code("cafe-\u0301-123") == normalize_code("café123") == "caf\u00e9123"


@pytest.mark.parametrize("short", ["", "12345", "12-34-5", "  -  ", "a.b.c.d.e"])
def test_short_codes_are_rejected_with_a_clear_message(short: str) -> None:
    with pytest.raises(InvalidCode, match=r"at least 6 letters or digits"):
        normalize_code(short)


def test_invalid_code_is_a_value_error() -> None:
    assert issubclass(InvalidCode, ValueError)


def test_six_characters_is_enough() -> None:
    assert MIN_CODE_LENGTH == 6
    assert normalize_code("abc-def") == "abcdef"


@given(st.text())
def test_normalize_is_idempotent_or_rejects(text: str) -> None:
    try:
        once = normalize_code(text)
    except InvalidCode:
        return
    assert normalize_code(once) == once
    assert len(once) >= MIN_CODE_LENGTH
    assert not any(ch in once for ch in " -._")


@pytest.mark.parametrize(
    ("code", "bits"),
    [
        ("31415926", 8 * math.log2(10)),
        ("314-159", 6 * math.log2(10)),
        ("123456", 2 * math.log2(10) + 4),
        ("111111", 2 * math.log2(10) + 4),
        ("9876-5432", 2 * math.log2(10) + 6),
        ("abcdef", 2 * math.log2(26) + 4),
        ("a1b2c3", 6 * math.log2(36)),
        ("", 0.0),
        ("7", math.log2(10)),
    ],
)
def test_strength_estimates(code: str, bits: float) -> None:
    assert code_strength_bits(code) == pytest.approx(bits)


def test_weak_threshold_separates_random_six_digits_from_runs() -> None:
    assert code_strength_bits("314159") > WEAK_CODE_BITS
    assert code_strength_bits("123456") < WEAK_CODE_BITS
    assert code_strength_bits("000000") < WEAK_CODE_BITS


def test_strength_ignores_separators_and_case() -> None:
    assert code_strength_bits("AB-CD-EF") == code_strength_bits("abcdef")


@given(st.text())
def test_strength_is_finite_and_non_negative(text: str) -> None:
    bits = code_strength_bits(text)
    assert 0.0 <= bits < math.inf


@pytest.mark.parametrize("weak", ["111-111", "aaaaaa", "123456", "AAAA-AAAA", "9876-5432",
                                  "0000-0000", "abc-def"])
def test_a_chosen_code_made_of_repeats_or_runs_is_refused(weak: str) -> None:
    with pytest.raises(WeakCode, match="too easy to guess"):
        chosen_code(weak)


@pytest.mark.parametrize("fine", ["314-159", "4821-9130", "blue-heron", "k7x-q2m"])
def test_a_varied_chosen_code_is_kept_as_typed(fine: str) -> None:
    assert chosen_code(fine) == fine


def test_a_short_chosen_code_is_refused_as_short_not_weak() -> None:
    with pytest.raises(InvalidCode, match="at least 6") as caught:
        chosen_code("12")
    assert not isinstance(caught.value, WeakCode)


def test_generated_codes_always_pass_the_check_a_chosen_code_must_pass() -> None:
    for _ in range(2000):
        assert chosen_code(generate_code())


def test_a_code_typed_to_join_is_not_judged_for_strength() -> None:
    # Joining sends a guess at the host's code; only the host's own choice is judged.
    assert normalize_code("111-111") == "111111"
