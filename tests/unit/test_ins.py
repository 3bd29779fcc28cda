"""INS / NIR checks (console.domain.ins): control key, Corsica, normalisation, INS tokens."""

from __future__ import annotations

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from console.domain.errors import ConsoleError, InvalidINSError
from console.domain.ins import (
    INS,
    INS_NIA_OID,
    INS_NIR_DEMO_OID,
    INS_NIR_OID,
    INS_NIR_SYSTEM,
    INS_NIR_TEST_OID,
    INS_NIR_TEST_SYSTEM,
    INS_SYSTEMS,
    is_valid_nir,
    nir_key,
    normalize_nir,
    validate_nir,
)

# Keys computed by hand as 97 - (n mod 97); the first one is the NIR given as an example by
# the INSEE / Wikipedia ("2 55 08 14 168 025 38"), which pins the formula to an outside source.
KNOWN_VALID = [
    "255081416802538",
    "185057800608491",
    "299039912345615",
    "185051900608435",  # department 19 (Corrèze): the number 2A is read as
    "185052A00608435",  # 2A is read as 19: same key as above
    "185052B00608462",  # 2B is read as 18
]

BODY_PATTERN = r"[1-478][0-9]{2}(0[1-9]|1[0-2]|[2-9][0-9])(2[AB]|[0-9]{2})[0-9]{6}"


def reference_key(body13: str) -> int:
    """Independent computation: Corsica letters only at the department position (6th-7th)."""
    department = body13[5:7]
    digits = body13[:5] + {"2A": "19", "2B": "18"}.get(department, department) + body13[7:]
    return 97 - int(digits) % 97


# --- known values ---------------------------------------------------------------------------


@pytest.mark.parametrize("nir", KNOWN_VALID)
def test_known_valid_nirs(nir: str) -> None:
    assert validate_nir(nir) == nir
    assert is_valid_nir(nir)
    assert nir_key(nir[:13]) == int(nir[13:])


def test_reference_key_matches_published_example() -> None:
    assert reference_key("2550814168025") == 38


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("2550814168025", 38),
        ("1850578006084", 91),
        ("185052A006084", 35),
        ("185052B006084", 62),
    ],
)
def test_nir_key(body: str, key: int) -> None:
    assert nir_key(body) == key


def test_corsica_2a_2b_are_read_as_19_and_18() -> None:
    assert nir_key("185052A006084") == nir_key("1850519006084")
    assert nir_key("185052B006084") == nir_key("1850518006084")
    assert nir_key("185052A006084") != nir_key("185052B006084")


def test_corsica_key_of_the_other_department_is_refused() -> None:
    # 2A and 2B give different keys: swapping the letter must break the key.
    with pytest.raises(InvalidINSError):
        validate_nir("185052B00608435")
    with pytest.raises(InvalidINSError):
        validate_nir("185052A00608462")


def test_key_97_when_body_is_a_multiple_of_97() -> None:
    body = "1850578006078"
    assert int(body) % 97 == 0
    assert nir_key(body) == 97
    assert is_valid_nir(body + "97")
    assert not is_valid_nir(body + "00")


# --- refusals ---------------------------------------------------------------------------------


@pytest.mark.parametrize("wrong", ["00", "37", "39", "83", "98", "99"])
def test_wrong_key_is_refused(wrong: str) -> None:
    with pytest.raises(InvalidINSError, match="clé"):
        validate_nir("2550814168025" + wrong)
    assert not is_valid_nir("2550814168025" + wrong)


@pytest.mark.parametrize(
    "text",
    ["", "2", "2550814168025", "25508141680253", "2550814168025380", "2550814168025381234"],
)
def test_wrong_length_is_refused(text: str) -> None:
    with pytest.raises(InvalidINSError, match="15 caractères"):
        validate_nir(text)


@pytest.mark.parametrize(
    "text",
    [
        "2550814168O2538",  # letter O instead of zero
        "25508141680253A",  # letter in the key
        "A55081416802538",  # letter as sex
        "185052C00608435",  # no department 2C
        "18505AA00608435",  # letters outside the Corsica pattern
        "1850519OO608435",
        "2550814168025+8",
        "２55081416802538",  # full-width digit
        "٢55081416802538",  # Arabic-Indic digit: int() would accept it, the NIR must not
    ],
)
def test_letters_and_symbols_are_refused(text: str) -> None:
    assert len(text) == 15
    with pytest.raises(InvalidINSError):
        validate_nir(text)
    assert not is_valid_nir(text)


@pytest.mark.parametrize(
    "text",
    [
        "555081416802538",  # sex digit 5 does not exist
        "055081416802538",
        "255001416802538",  # month 00
    ],
)
def test_impossible_shape_is_refused(text: str) -> None:
    with pytest.raises(InvalidINSError, match="forme"):
        validate_nir(text)


def test_invalid_ins_error_is_a_console_error_and_a_value_error() -> None:
    with pytest.raises(ConsoleError):
        validate_nir("nope")
    with pytest.raises(ValueError):
        validate_nir("nope")


# --- what a user types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "2 55 08 14 168 025 38",
        "2.55.08.14.168.025.38",
        "2-55-08-14-168-025-38",
        " 255081416802538 ",
        "2\t55 08\n14 168 025 38",
        "2\u00a055\u00a008\u00a014\u00a0168\u00a0025\u00a038",  # no-break spaces (pasted)
        "2\u202f55\u202f08 14 168 025 38",  # narrow no-break spaces
    ],
)
def test_spaces_dots_and_dashes_are_normalised(typed: str) -> None:
    assert normalize_nir(typed) == "255081416802538"
    assert validate_nir(typed) == "255081416802538"


def test_lower_case_corsica_letter_is_upper_cased() -> None:
    assert validate_nir("1 85 05 2a 006 084 35") == "185052A00608435"
    assert validate_nir("185052b00608462") == "185052B00608462"


# --- INS tokens -------------------------------------------------------------------------------


def test_ins_systems() -> None:
    assert {
        f"urn:oid:{oid}" for oid in (INS_NIR_OID, INS_NIA_OID, INS_NIR_TEST_OID, INS_NIR_DEMO_OID)
    } == INS_SYSTEMS
    assert INS_NIR_SYSTEM == "urn:oid:1.2.250.1.213.1.4.8"
    assert INS_NIR_TEST_SYSTEM == "urn:oid:1.2.250.1.213.1.4.10"


@pytest.mark.parametrize("system", sorted(INS_SYSTEMS))
def test_parse_system_and_value(system: str) -> None:
    ins = INS.parse(f"{system}|255081416802538")
    assert ins == INS(system, "255081416802538")
    assert ins.token() == f"{system}|255081416802538"
    assert INS.parse(ins.token()) == ins


def test_parse_bare_value_assumes_the_nir_system() -> None:
    assert INS.parse("255081416802538") == INS(INS_NIR_SYSTEM, "255081416802538")


def test_parse_normalises_the_value() -> None:
    ins = INS.parse(f"{INS_NIR_TEST_SYSTEM}|2 55 08 14 168 025 38")
    assert ins.value == "255081416802538"
    assert INS.parse("1 85 05 2a 006 084 35").value == "185052A00608435"


@pytest.mark.parametrize(
    "token",
    [
        "urn:oid:1.2.250.1.213.1.4.99|255081416802538",
        "1.2.250.1.213.1.4.8|255081416802538",  # an OID without its urn:oid: prefix
        "urn:oid:1.2.250.1.213.1.4.8 |255081416802538",
        "http://example.org|255081416802538",
        "|255081416802538",
    ],
)
def test_parse_refuses_an_unknown_system(token: str) -> None:
    with pytest.raises(InvalidINSError, match="inconnu"):
        INS.parse(token)


@pytest.mark.parametrize(
    "token",
    [
        f"{INS_NIR_SYSTEM}|255081416802539",
        f"{INS_NIR_SYSTEM}|",
        f"{INS_NIR_SYSTEM}|{INS_NIR_SYSTEM}|255081416802538",
        "255081416802539",
        "",
    ],
)
def test_parse_refuses_an_invalid_value(token: str) -> None:
    with pytest.raises(InvalidINSError):
        INS.parse(token)


# --- property ---------------------------------------------------------------------------------


@given(
    body=st.from_regex(BODY_PATTERN, fullmatch=True),
    other=st.integers(min_value=0, max_value=99),
)
@example(body="1850578006078", other=0)
@example(body="185052A006084", other=62)
@example(body="185052B006084", other=35)
def test_property_only_the_right_key_validates(body: str, other: int) -> None:
    key = reference_key(body)
    assert 1 <= key <= 97
    assert nir_key(body) == key
    assert validate_nir(f"{body}{key:02d}") == f"{body}{key:02d}"
    if other != key:
        assert not is_valid_nir(f"{body}{other:02d}")
