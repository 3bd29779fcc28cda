"""The habilitation matrix (data + console.domain.habilitation) and the DMP document types."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from console.domain.errors import ResourceDataError, UnknownDocumentTypeError
from console.domain.habilitation import (
    HabilitationMatrix,
    MatrixRow,
    RuleKind,
    habilitation_matrix,
)
from console.domain.terminology import terminology

RESOURCES = Path(__file__).resolve().parents[2] / "resources"
RAW_MATRIX: dict[str, Any] = json.loads(
    (RESOURCES / "habilitation_matrix.json").read_text(encoding="utf-8")
)
RAW_TYPES: dict[str, Any] = json.loads(
    (RESOURCES / "dmp_type_class_map.json").read_text(encoding="utf-8")
)
ROWS: list[dict[str, Any]] = RAW_MATRIX["rows"]
ROW_IDS = [str(r["profession"]) for r in ROWS]
DMP_TYPES: list[str] = sorted(str(t["code"]) for t in RAW_TYPES["types"])

MEDECIN = "10"
DENTISTE = "40"
COORDINATION = "GENR08"
SECRETARY = "SECRETARIAT_MEDICAL"

DENTIST_FORBIDDEN = frozenset({"80788-3", "75496-0", "83981-1", "83901-9", "68599-0"})
COORDINATION_ONLY = frozenset({"11488-4", "11490-0", "83981-1", "18761-7", "74207-2", "34842-5"})

# Rows confirmed by design.md section 3 (the annex of the arrêté du 26 octobre 2023) and the
# DMP's own secretary rule. Any other row must be flagged provisional.
CONFIRMED_ROWS = {MEDECIN, DENTISTE, COORDINATION, SECRETARY}


def expected_allows(row: dict[str, Any], type_code: str) -> bool:
    listed = type_code in row["types"]
    if row["rule"] == "only":
        return listed
    assert row["rule"] == "all_except"
    return not listed


# --- the DMP document types ------------------------------------------------------------------


def test_there_are_102_dmp_types() -> None:
    assert len(DMP_TYPES) == 102
    assert len(set(DMP_TYPES)) == 102
    assert set(terminology().types) == set(DMP_TYPES)


def test_every_type_has_a_known_class() -> None:
    term = terminology()
    assert set(term.classes) == {
        "10",
        "11",
        "31",
        "42",
        "43",
        "44",
        "45",
        "52",
        "60",
        "90",
        "95",
        "99",
    }
    for code, doc_type in term.types.items():
        assert doc_type.code == code
        assert doc_type.class_code in term.classes
        assert doc_type.class_label == term.classes[doc_type.class_code]
        assert doc_type.label.strip()
        assert doc_type.system.startswith(("http://", "https://", "urn:"))


def test_type_lookup() -> None:
    term = terminology()
    assert term.is_dmp_type("11488-4")
    assert term.type("11488-4").code == "11488-4"
    assert not term.is_dmp_type("00000-0")
    assert not term.is_dmp_type("")
    with pytest.raises(UnknownDocumentTypeError, match="inconnu"):
        term.type("00000-0")


def test_codes_named_in_the_design_are_dmp_types() -> None:
    named = DENTIST_FORBIDDEN | COORDINATION_ONLY | {"ATTEST-RESID"}
    assert named <= set(DMP_TYPES)


# --- the data file ----------------------------------------------------------------------------


def test_matrix_has_a_global_source() -> None:
    assert "26 octobre 2023" in RAW_MATRIX["_source"]


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_every_row_has_a_source_and_a_provisional_flag(row: dict[str, Any]) -> None:
    assert isinstance(row["source"], str)
    assert row["source"].strip()
    assert isinstance(row["provisional"], bool)
    assert isinstance(row["label"], str)
    assert row["label"].strip()
    assert row["rule"] in {"all_except", "only"}


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_unconfirmed_rows_are_flagged_provisional(row: dict[str, Any]) -> None:
    says_provisional = "PROVISIONAL" in row["source"].upper()
    assert row["provisional"] == says_provisional
    if row["profession"] not in CONFIRMED_ROWS:
        assert row["provisional"], f"row {row['profession']} is not confirmed by the design"


@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_every_listed_type_is_a_dmp_type(row: dict[str, Any]) -> None:
    assert set(row["types"]) <= set(DMP_TYPES)
    assert len(row["types"]) == len(set(row["types"])), "duplicate type in a row"


def test_professions_appear_once() -> None:
    assert len(ROW_IDS) == len(set(ROW_IDS))


def test_loaded_matrix_matches_the_data_file() -> None:
    matrix = habilitation_matrix()
    assert set(matrix.rows) == set(ROW_IDS)
    assert matrix.known_types == frozenset(DMP_TYPES)
    for raw in ROWS:
        row = matrix.row(raw["profession"])
        assert row is not None
        assert row.rule is RuleKind(raw["rule"])
        assert row.types == frozenset(raw["types"])
        assert row.provisional is raw["provisional"]
        assert row.source == raw["source"]
        assert row.label == raw["label"]


def test_matrix_is_loaded_once() -> None:
    assert habilitation_matrix() is habilitation_matrix()


# --- the confirmed rows (design.md section 3) -------------------------------------------------


def test_medecin_reads_every_type_except_the_residence_attestation() -> None:
    matrix = habilitation_matrix()
    assert matrix.readable_types(MEDECIN) == frozenset(DMP_TYPES) - {"ATTEST-RESID"}
    assert not matrix.allows(MEDECIN, "ATTEST-RESID")
    row = matrix.row(MEDECIN)
    assert row is not None and not row.provisional


def test_dentist_rule() -> None:
    matrix = habilitation_matrix()
    for code in DENTIST_FORBIDDEN:
        assert not matrix.allows(DENTISTE, code), code
    for code in set(DMP_TYPES) - DENTIST_FORBIDDEN:
        assert matrix.allows(DENTISTE, code), code
    row = matrix.row(DENTISTE)
    assert row is not None and not row.provisional


def test_coordination_reads_exactly_six_types() -> None:
    matrix = habilitation_matrix()
    assert matrix.readable_types(COORDINATION) == COORDINATION_ONLY
    row = matrix.row(COORDINATION)
    assert row is not None and not row.provisional


def test_secretary_reads_nothing() -> None:
    matrix = habilitation_matrix()
    assert matrix.readable_types(SECRETARY) == frozenset()
    for code in DMP_TYPES:
        assert not matrix.allows(SECRETARY, code)


@pytest.mark.parametrize("profession", ["", "99", "GENR01", "medecin", "SM26", "10 ", " 10"])
def test_profession_without_a_row_reads_nothing(profession: str) -> None:
    matrix = habilitation_matrix()
    assert profession not in matrix.rows
    assert matrix.row(profession) is None
    assert matrix.readable_types(profession) == frozenset()
    for code in DMP_TYPES:
        assert not matrix.allows(profession, code)


@pytest.mark.parametrize("profession", ROW_IDS)
@pytest.mark.parametrize("type_code", ["", "00000-0", "attest-resid", "11488-4 ", "LOINC"])
def test_unknown_type_is_never_allowed(profession: str, type_code: str) -> None:
    assert not habilitation_matrix().allows(profession, type_code)


def test_all_except_row_with_unknown_type_still_refuses_it() -> None:
    # MatrixRow.allows alone would say yes for an unlisted code: the matrix must guard it.
    row = habilitation_matrix().row(MEDECIN)
    assert row is not None
    assert row.allows("00000-0")
    assert not habilitation_matrix().allows(MEDECIN, "00000-0")


# --- every profession row x every DMP type ---------------------------------------------------


@pytest.mark.parametrize("type_code", DMP_TYPES)
@pytest.mark.parametrize("row", ROWS, ids=ROW_IDS)
def test_allows_follows_the_row_rule(row: dict[str, Any], type_code: str) -> None:
    matrix = habilitation_matrix()
    expected = expected_allows(row, type_code)
    assert matrix.allows(row["profession"], type_code) is expected
    assert (type_code in matrix.readable_types(row["profession"])) is expected


# --- from_data on malformed data --------------------------------------------------------------


def _good_data() -> dict[str, Any]:
    return {
        "rows": [
            {
                "profession": "10",
                "label": "Médecin",
                "rule": "all_except",
                "types": ["B"],
                "provisional": False,
                "source": "test",
            },
            {
                "profession": "60",
                "label": "Infirmier",
                "rule": "only",
                "types": ["A"],
                "provisional": True,
                "source": "PROVISIONAL test",
            },
        ]
    }


KNOWN = ["A", "B", "C"]


def test_from_data_accepts_good_data() -> None:
    matrix = HabilitationMatrix.from_data(_good_data(), KNOWN)
    assert matrix.allows("10", "A") and matrix.allows("10", "C")
    assert not matrix.allows("10", "B")
    assert matrix.allows("60", "A")
    assert not matrix.allows("60", "B")
    assert not matrix.allows("60", "Z")
    assert matrix.readable_types("10") == {"A", "C"}
    assert matrix.row("60") == MatrixRow(
        "60", "Infirmier", RuleKind.ONLY, frozenset({"A"}), True, "PROVISIONAL test"
    )


def test_from_data_accepts_the_bundled_file() -> None:
    matrix = HabilitationMatrix.from_data(copy.deepcopy(RAW_MATRIX), DMP_TYPES)
    assert matrix == habilitation_matrix()


def _broken(mutate: str) -> dict[str, Any]:
    data = _good_data()
    row = data["rows"][0]
    match mutate:
        case "unknown type":
            row["types"] = ["B", "Z"]
        case "missing source":
            del row["source"]
        case "empty source":
            row["source"] = ""
        case "blank source":
            row["source"] = "   \n"
        case "duplicate row":
            data["rows"].append(copy.deepcopy(row))
        case "bad rule":
            row["rule"] = "except"
        case "missing rule":
            del row["rule"]
        case "missing profession":
            del row["profession"]
        case "missing label":
            del row["label"]
        case "missing types":
            del row["types"]
        case "types not a list":
            row["types"] = 3
        case "types a string of unknown letters":
            row["types"] = "XYZ"
        case "missing provisional":
            del row["provisional"]
        case "missing rows":
            del data["rows"]
        case "rows not a list":
            data["rows"] = 7
        case "row not an object":
            data["rows"].append("10")
        case _:
            raise AssertionError(mutate)
    return data


@pytest.mark.parametrize(
    "mutate",
    [
        "unknown type",
        "missing source",
        "empty source",
        "blank source",
        "duplicate row",
        "bad rule",
        "missing rule",
        "missing profession",
        "missing label",
        "missing types",
        "types not a list",
        "types a string of unknown letters",
        "missing provisional",
        "missing rows",
        "rows not a list",
        "row not an object",
    ],
)
def test_from_data_rejects_malformed_data(mutate: str) -> None:
    with pytest.raises(ResourceDataError):
        HabilitationMatrix.from_data(_broken(mutate), KNOWN)


def test_from_data_error_messages_name_the_problem() -> None:
    with pytest.raises(ResourceDataError, match="unknown types"):
        HabilitationMatrix.from_data(_broken("unknown type"), KNOWN)
    with pytest.raises(ResourceDataError, match="no source"):
        HabilitationMatrix.from_data(_broken("missing source"), KNOWN)
    with pytest.raises(ResourceDataError, match="twice"):
        HabilitationMatrix.from_data(_broken("duplicate row"), KNOWN)
    with pytest.raises(ResourceDataError, match="malformed"):
        HabilitationMatrix.from_data(_broken("bad rule"), KNOWN)
