"""Sort and filter keys of the document table (console.domain.table): pure, no Qt."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.domain.models import DocumentMeta, Visibility
from console.domain.table import (
    Column,
    DocumentFilter,
    DocumentRow,
    SortSpec,
    filter_rows,
    fold,
    insertion_plan,
    make_row,
    make_rows,
    sort_rows,
    text_key,
    view_rows,
)

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)


def doc(
    doc_id: str,
    *,
    title: str = "Document",
    type_code: str = "11488-4",
    class_code: str = "10",
    created: datetime = T0,
    author: str = "Dr Claire MARTIN",
    structure: str = "Cabinet",
    visibility: frozenset[Visibility] = frozenset(),
    archived: bool = False,
) -> DocumentMeta:
    return DocumentMeta(
        id=doc_id,
        master_id=doc_id,
        patient_ins="255081416802538",
        type_code=type_code,
        class_code=class_code,
        title=title,
        author_id_nat="810000000001",
        created=created,
        deposited=created,
        author_name=author,
        structure_name=structure,
        visibility=visibility,
        archived=archived,
    )


def ids(rows: list[DocumentRow]) -> list[str]:
    return [r.id for r in rows]


# -- text keys -----------------------------------------------------------------------------------


def test_fold_ignores_accents_case_ligatures_and_spaces() -> None:
    assert fold("  Œdème   de l'ÉPAULE ") == "oedeme de l'epaule"
    assert fold("Ça") == fold("ca")


def test_text_key_sorts_french_words_ignoring_accents_and_case() -> None:
    words = ["zèbre", "Été", "ecole", "Élève", "abricot", "œuf", "Oasis"]
    assert sorted(words, key=text_key) == [
        "abricot",
        "ecole",
        "Élève",
        "Été",
        "Oasis",
        "œuf",
        "zèbre",
    ]


def test_text_key_compares_numbers_as_numbers() -> None:
    titles = ["CR 10", "CR 2", "CR 1b", "CR"]
    assert sorted(titles, key=text_key) == ["CR", "CR 1b", "CR 2", "CR 10"]


@given(st.lists(st.text(max_size=12), max_size=20))
def test_text_keys_always_compare(texts: list[str]) -> None:
    sorted(texts, key=text_key)  # mixing text and digits never raises TypeError


# -- rows ---------------------------------------------------------------------------------------


def test_make_row_uses_the_dmp_terminology_labels() -> None:
    row = make_row(doc("a", type_code="18748-4", class_code="31"))
    assert row.type_label == "CR d'imagerie médicale"
    assert row.class_label == "Imagerie médicale"


def test_make_row_falls_back_to_codes_for_an_unknown_type() -> None:
    row = make_row(doc("a", type_code="XX-UNKNOWN", class_code="77"))
    assert (row.type_label, row.class_label) == ("XX-UNKNOWN", "77")


# -- sorting ------------------------------------------------------------------------------------


@pytest.fixture
def rows() -> list[DocumentRow]:
    return make_rows(
        [
            doc(
                "old",
                title="Échographie",
                type_code="18748-4",
                class_code="31",
                created=datetime(2023, 12, 10, tzinfo=UTC),
                author="Dr Émile BERNARD",
                structure="Hôpital Nord",
                visibility=frozenset({Visibility.MASQUE_PS}),
            ),
            doc(
                "new",
                title="consultation 10",
                type_code="11488-4",
                class_code="10",
                created=datetime(2024, 1, 2, tzinfo=UTC),
                author="Dr Anne ZOLA",
                structure="cabinet du Parc",
                archived=True,
            ),
            doc(
                "mid",
                title="Consultation 9",
                type_code="57833-6",
                class_code="42",
                created=datetime(2023, 12, 31, tzinfo=UTC),
                author="dr bruno adam",
                structure="Centre Est",
                visibility=frozenset({Visibility.INVISIBLE_PATIENT}),
            ),
        ]
    )


@pytest.mark.parametrize(
    ("column", "ascending", "descending"),
    [
        # Dates as dates: "02/01/2024" sorts after "31/12/2023" although "0" < "3".
        (Column.ACT_DATE, ["old", "mid", "new"], None),
        (Column.TYPE, ["old", "new", "mid"], None),  # CR d'imagerie, CR ou fiche..., Prescription
        (Column.CLASS, ["new", "old", "mid"], None),  # Compte rendu, Imagerie, Prescription
        (Column.TITLE, ["mid", "new", "old"], None),  # numbers as numbers, accents ignored
        (Column.AUTHOR, ["new", "mid", "old"], None),  # "Dr Anne" < "dr bruno" < "Dr Émile"
        (Column.STRUCTURE, ["new", "mid", "old"], None),
        (Column.VISIBILITY, ["new", "mid", "old"], None),  # normal < invisible patient < masked
        # Current before archived; "old" and "mid" tie and keep their order both ways.
        (Column.STATUS, ["old", "mid", "new"], ["new", "old", "mid"]),
    ],
)
def test_sort_each_column_both_ways(
    rows: list[DocumentRow], column: Column, ascending: list[str], descending: list[str] | None
) -> None:
    assert ids(sort_rows(rows, SortSpec(column, descending=False))) == ascending
    expected = ascending[::-1] if descending is None else descending
    assert ids(sort_rows(rows, SortSpec(column, descending=True))) == expected


def test_new_documents_come_first_in_status_order() -> None:
    seen, fresh = make_row(doc("seen")), make_row(doc("fresh"), is_new=True)
    assert ids(sort_rows([seen, fresh], SortSpec(Column.STATUS, descending=False))) == [
        "fresh",
        "seen",
    ]


def test_sort_is_stable_in_both_directions() -> None:
    same = make_rows([doc(f"d{i}") for i in range(5)])  # every key equal
    for descending in (False, True):
        assert ids(sort_rows(same, SortSpec(Column.TITLE, descending))) == [
            f"d{i}" for i in range(5)
        ]


def test_naive_and_aware_dates_sort_together() -> None:
    naive = make_row(doc("naive", created=datetime(2024, 5, 1)))
    aware = make_row(doc("aware", created=datetime(2024, 4, 1, tzinfo=UTC)))
    assert ids(sort_rows([naive, aware], SortSpec(Column.ACT_DATE, False))) == ["aware", "naive"]


# -- filtering ----------------------------------------------------------------------------------


def test_filter_text_is_accent_and_case_insensitive_over_title_type_and_author(
    rows: list[DocumentRow],
) -> None:
    assert ids(filter_rows(rows, DocumentFilter("ECHOGRAPHIE"))) == ["old"]
    assert ids(filter_rows(rows, DocumentFilter("imagerie"))) == ["old"]  # the type label
    assert ids(filter_rows(rows, DocumentFilter("zola"))) == ["new"]  # the author
    assert ids(filter_rows(rows, DocumentFilter("consultation 9"))) == ["mid"]  # every word
    assert ids(filter_rows(rows, DocumentFilter("  "))) == ["old", "new", "mid"]
    assert filter_rows(rows, DocumentFilter("absent")) == []


def test_view_rows_filters_then_sorts(rows: list[DocumentRow]) -> None:
    shown = view_rows(rows, DocumentFilter("consultation"), SortSpec(Column.ACT_DATE, True))
    assert ids(shown) == ["new", "mid"]


# -- pages arriving -----------------------------------------------------------------------------


def apply_plan(
    shown: list[DocumentRow], plan: list[tuple[int, list[DocumentRow]]]
) -> list[DocumentRow]:
    result = list(shown)
    for position, block in reversed(plan):
        result[position:position] = block
    return result


titles = st.sampled_from(["Bilan", "bilan", "Écho", "echo 2", "Echo 10", "Zona", ""])
days = st.integers(min_value=0, max_value=6)
flags = st.sampled_from(
    [frozenset(), frozenset({Visibility.MASQUE_PS}), frozenset({Visibility.INVISIBLE_PATIENT})]
)
doc_specs = st.lists(st.tuples(titles, days, flags, st.booleans()), max_size=25)


@settings(max_examples=150, deadline=None)
@given(
    doc_specs,
    doc_specs,
    st.sampled_from(list(Column)),
    st.booleans(),
)
def test_insertion_plan_keeps_the_table_sorted_and_stable(
    first: list[tuple[str, int, frozenset[Visibility], bool]],
    second: list[tuple[str, int, frozenset[Visibility], bool]],
    column: Column,
    descending: bool,
) -> None:
    def build(
        specs: list[tuple[str, int, frozenset[Visibility], bool]], prefix: str
    ) -> list[DocumentRow]:
        return make_rows(
            doc(
                f"{prefix}{i}",
                title=title,
                author=title,
                structure=title,
                created=T0 + timedelta(days=day),
                visibility=visibility,
                archived=archived,
            )
            for i, (title, day, visibility, archived) in enumerate(specs)
        )

    spec = SortSpec(column, descending)
    page1, page2 = build(first, "a"), build(second, "b")
    shown = sort_rows(page1, spec)
    plan = insertion_plan(shown, page2, spec)
    assert ids(apply_plan(shown, plan)) == ids(sort_rows([*page1, *page2], spec))
    positions = [position for position, _ in plan]
    assert positions == sorted(set(positions))  # increasing, one block per position
