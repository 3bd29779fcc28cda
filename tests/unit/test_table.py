"""Sort and filter keys of the document table (console.domain.table), and the DMP's
consultation rule (first and later openings, console.services.visits): pure, no Qt."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.domain.dossier import (
    NEW_SINCE_MARGIN,
    DocumentQuery,
    Visit,
    later_opening_query,
    opening_queries,
    vaccination_query,
)
from console.domain.localtime import to_local
from console.domain.models import AccessMode, DocumentMeta, Visibility
from console.domain.table import (
    ArchivedFilter,
    Column,
    DocumentFilter,
    DocumentRow,
    RowSet,
    SortSpec,
    filter_rows,
    fold,
    insertion_plan,
    make_row,
    make_rows,
    narrows,
    sort_rows,
    text_key,
    type_ahead,
    view_rows,
)
from console.domain.terminology import VACCINATION_HISTORY
from console.services.visits import InMemoryVisitStore, VisitKey, VisitService

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


titles = st.sampled_from(["Bilan", "bilan", "Écho", "echo 2", "Echo 10", "Zona", "Œdème-X 1", ""])
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


# -- keys: one string compares as the natural order did ------------------------------------------


def tuple_key(text: str) -> tuple[str | int, ...]:
    """The earlier key (text and int parts alternating), the reference of the natural order."""
    import re

    parts = re.split(r"(\d+)", fold(text))
    return tuple(int(p) if i % 2 else p for i, p in enumerate(parts))


@settings(max_examples=300)
@given(st.text(alphabet="aAéÉbB 0123456789œ-_.\t\x01", max_size=10), st.text(max_size=10))
def test_the_string_key_orders_as_the_natural_key(a: str, b: str) -> None:
    for x, y in ((a, b), (a, a + "1"), (a + "9", a + "10"), (a + " ", a + "1")):
        assert (text_key(x) < text_key(y)) == (tuple_key(x) < tuple_key(y))
        assert (text_key(x) == text_key(y)) == (tuple_key(x) == tuple_key(y))


def test_leading_zeros_and_other_digits_compare_by_value() -> None:
    assert text_key("CR 007") == text_key("CR 7")
    assert text_key("CR ٣") == text_key("CR 3")  # Arabic-Indic three
    assert sorted(["a 100", "a 20", "a 3"], key=text_key) == ["a 3", "a 20", "a 100"]


def test_new_columns_sort_deposit_dates_and_professions() -> None:
    early, late = datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 6, 1, tzinfo=UTC)
    nurse = make_row(replace(doc("nurse"), author_profession="60", deposited=late))
    gp = make_row(replace(doc("gp"), author_profession="10", deposited=early))
    assert (nurse.profession_label, gp.profession_label) == ("Infirmier", "Médecin")
    assert make_row(replace(doc("x"), author_profession="ZZ")).profession_label == "ZZ"
    assert ids(sort_rows([nurse, gp], SortSpec(Column.DEPOSIT_DATE, False))) == ["gp", "nurse"]
    assert ids(sort_rows([nurse, gp], SortSpec(Column.PROFESSION, False))) == ["nurse", "gp"]


# -- every criterion of the filter ---------------------------------------------------------------


def test_each_criterion(rows: list[DocumentRow]) -> None:
    def kept(**criteria: object) -> list[str]:
        return ids(filter_rows(rows, DocumentFilter(**criteria)))  # type: ignore[arg-type]

    assert kept(type_codes=frozenset({"18748-4", "57833-6"})) == ["old", "mid"]
    assert kept(class_codes=frozenset({"10"})) == ["new"]
    assert kept(authors=frozenset({"810000000001"})) == ["old", "new", "mid"]
    assert kept(authors=frozenset({"nobody"})) == []
    assert kept(act_from=date(2023, 12, 31)) == ["new", "mid"]  # inclusive
    assert kept(act_to=date(2023, 12, 31)) == ["old", "mid"]  # inclusive
    assert kept(act_from=date(2024, 1, 1), act_to=date(2023, 1, 1)) == []
    assert kept(visibility=frozenset({"N"})) == ["new"]
    assert kept(visibility=frozenset({"MASQUE_PS", "INVISIBLE_PATIENT"})) == ["old", "mid"]
    assert kept(visibility=frozenset({"INVISIBLE_REPRESENTANTS_LEGAUX"})) == []
    assert kept(archived=ArchivedFilter.HIDE) == ["old", "mid"]
    assert kept(archived=ArchivedFilter.ONLY) == ["new"]
    assert kept(new_only=True) == []
    assert kept(text="consultation", class_codes=frozenset({"42"})) == ["mid"]
    assert DocumentFilter(text="   ").is_empty and not DocumentFilter(new_only=True).is_empty


def test_new_rows_and_the_new_only_filter() -> None:
    fresh = make_rows([doc("a"), doc("b")], is_new=lambda d: d.id == "b")
    assert [r.is_new for r in fresh] == [False, True]
    assert ids(filter_rows(fresh, DocumentFilter(new_only=True))) == ["b"]


# -- the view is exactly the matching rows, in order (any filter, any sort) ----------------------

any_filter = st.builds(
    DocumentFilter,
    text=st.sampled_from(
        ["", "echo", "ÉCHO 1", "bilan", "zona", "oe", "cr", "10 b", "b", "É", "1 z", "-", "x o e"]
    ),
    type_codes=st.frozensets(st.sampled_from(["11488-4", "18748-4", "57833-6"]), max_size=2),
    class_codes=st.frozensets(st.sampled_from(["10", "31", "42"]), max_size=2),
    authors=st.frozensets(st.sampled_from(["810000000001", "810000000009"]), max_size=1),
    act_from=st.none() | st.dates(date(2024, 3, 1), date(2024, 3, 8)),
    act_to=st.none() | st.dates(date(2024, 3, 1), date(2024, 3, 8)),
    visibility=st.frozensets(
        st.sampled_from(["N", "MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"]),
        max_size=2,
    ),
    new_only=st.booleans(),
    archived=st.sampled_from(list(ArchivedFilter)),
)
any_sort = st.builds(SortSpec, st.sampled_from(list(Column)), st.booleans())
row_specs = st.lists(
    st.tuples(
        titles,
        days,
        flags,
        st.booleans(),
        st.sampled_from([("11488-4", "10"), ("18748-4", "31"), ("57833-6", "42")]),
        st.booleans(),
    ),
    max_size=30,
)


def build_rows(specs: list[Any], prefix: str = "d") -> list[DocumentRow]:
    docs = []
    for i, (title, day, visibility, archived, (type_code, class_code), _new) in enumerate(specs):
        docs.append(
            doc(
                f"{prefix}{i}",
                title=title,
                author=title or "Dr X",
                created=T0 + timedelta(days=day),
                visibility=visibility,
                archived=archived,
                type_code=type_code,
                class_code=class_code,
            )
        )
    news = {f"{prefix}{i}" for i, spec in enumerate(specs) if spec[5]}
    return make_rows(docs, is_new=lambda d: d.id in news)


def oracle_keeps(row: DocumentRow, flt: DocumentFilter) -> bool:
    """The filter's meaning, written independently of filter_rows."""
    d = row.doc
    haystacks = [fold(d.title), fold(row.type_label), fold(d.author_name or d.author_id_nat)]
    if not all(any(w in h for h in haystacks) for w in fold(flt.text).split()):
        return False
    codes = {v.value for v in d.visibility} or {"N"}
    day = to_local(d.created).date()
    return (
        (not flt.type_codes or d.type_code in flt.type_codes)
        and (not flt.class_codes or d.class_code in flt.class_codes)
        and (not flt.authors or d.author_id_nat in flt.authors)
        and (flt.act_from is None or day >= flt.act_from)
        and (flt.act_to is None or day <= flt.act_to)
        and (not flt.visibility or bool(codes & flt.visibility))
        and (not flt.new_only or row.is_new)
        and (
            flt.archived is ArchivedFilter.ALL
            or (flt.archived is ArchivedFilter.ONLY) == d.archived
        )
    )


@settings(max_examples=300, deadline=None)
@given(row_specs, any_filter, any_sort)
def test_view_rows_is_exactly_the_matching_rows_in_order(
    specs: list[Any], flt: DocumentFilter, spec: SortSpec
) -> None:
    rows = build_rows(specs)
    shown = view_rows(rows, flt, spec)
    assert sorted(ids(shown)) == sorted(r.id for r in rows if oracle_keeps(r, flt))
    position = {r.id: n for n, r in enumerate(rows)}
    for a, b in itertools.pairwise(shown):
        ka, kb = a.key(spec.column), b.key(spec.column)
        assert (kb <= ka) if spec.descending else (ka <= kb)
        if ka == kb:
            assert position[a.id] < position[b.id]  # stable in both directions


@settings(max_examples=200, deadline=None)
@given(st.lists(row_specs, min_size=1, max_size=4), any_filter, st.lists(any_sort, min_size=1))
def test_a_row_set_fed_by_pages_views_as_the_pure_functions(
    pages: list[list[Any]], flt: DocumentFilter, specs: list[SortSpec]
) -> None:
    rowset = RowSet()
    everything: list[DocumentRow] = []
    for number, page in enumerate(pages):
        rows = build_rows(page, prefix=f"p{number}-")
        spec = specs[number % len(specs)]
        rowset.ordered(spec)  # a cached order, then merged into as pages arrive
        added = rowset.add([*rows, *rows[:1]])  # a duplicate id is dropped
        assert ids(added) == ids(rows)
        everything.extend(rows)
        for spec in specs:
            assert ids(rowset.view(flt, spec)) == ids(view_rows(everything, flt, spec))
    assert len(rowset) == len(everything) and list(rowset.rows) == everything
    rowset.clear()
    assert len(rowset) == 0 and rowset.view(DocumentFilter(), SortSpec()) == []


def test_a_row_set_filters_its_text_at_every_size() -> None:
    """The text filter picks per-row flags into each order: with no row, one row (where an
    ``itemgetter`` of one index would return an item, not a tuple) and after rows arrive."""
    rowset = RowSet()
    by_title = SortSpec(Column.TITLE, descending=False)
    assert rowset.view(DocumentFilter("bilan"), by_title) == []
    rowset.add(make_rows([doc("a", title="Bilan sanguin")]))
    assert ids(rowset.view(DocumentFilter("bilan"), by_title)) == ["a"]
    assert rowset.view(DocumentFilter("scanner"), by_title) == []
    rowset.add(make_rows([doc("b", title="Scanner"), doc("c", title="Bilan lipidique")]))
    assert ids(rowset.view(DocumentFilter("bilan"), by_title)) == ["c", "a"]
    assert ids(rowset.view(DocumentFilter("bilan sang"), by_title)) == ["a"]
    assert ids(rowset.view(DocumentFilter("scanner"), by_title)) == ["b"]
    # One-character words come from the index kept page by page (a character held by the
    # first row of a page only, by one page only, by every row, by no row).
    rowset.add(make_rows([doc("d", title="Scanner 7 W"), doc("e", title="Bilan W")]))
    everything = list(rowset.rows)
    for text in ("7", "w", "W 7", "q", "7 q", "b 7", "- w", "sca 7"):
        assert ids(rowset.view(DocumentFilter(text), by_title)) == ids(
            view_rows(everything, DocumentFilter(text), by_title)
        ), text
    assert ids(rowset.view(DocumentFilter("7"), by_title)) == ["d"]


def test_a_keystroke_at_the_end_narrows_the_filter() -> None:
    bil = DocumentFilter("bil", new_only=True)
    assert narrows(bil, bil.replace(text="bila"))
    assert narrows(bil, bil.replace(text="Bil  A"))  # folded: "bil a"
    assert not narrows(bil, bil.replace(text="bi"))  # widened
    assert not narrows(bil, bil.replace(text="abil"))  # not at the end
    assert not narrows(bil, DocumentFilter("bila"))  # another criterion changed
    assert not narrows(DocumentFilter(), DocumentFilter("b"))  # from everything: a scan


@settings(max_examples=200, deadline=None)
@given(row_specs, st.sampled_from(["e", "ec", "b", "bi"]), st.sampled_from(["", "o", "ho 1", " 2"]))
def test_narrowing_gives_the_same_view(specs: list[Any], before: str, more: str) -> None:
    rows = build_rows(specs)
    spec = SortSpec(Column.TITLE, descending=False)
    old, new = DocumentFilter(before), DocumentFilter(before + more)
    assert narrows(old, new)
    assert filter_rows(view_rows(rows, old, spec), new) == view_rows(rows, new, spec)


# -- type-ahead ----------------------------------------------------------------------------------


def test_type_ahead_ignores_accents_and_wraps() -> None:
    rows = make_rows(
        [
            doc("a", title="Bilan", author="Dr Zoé ADAM"),
            doc("b", title="Échographie", author="Dr Émile BERNARD"),
            doc("c", title="ECG"),
            doc("d", title="Écho-doppler"),
        ]
    )
    assert type_ahead(rows, Column.TITLE, "ech", 0) == 1
    assert type_ahead(rows, Column.TITLE, "ech", 2) == 3
    assert type_ahead(rows, Column.TITLE, "ECHO", 2) == 3
    assert type_ahead(rows, Column.TITLE, "b", 1) == 0  # wraps
    assert type_ahead(rows, Column.AUTHOR, "dr e", 0) == 1
    assert type_ahead(rows, Column.TYPE, "cr ou", 3) == 3
    assert type_ahead(rows, Column.STRUCTURE, "ecg", 0) == 2  # other columns: the title
    assert type_ahead(rows, Column.TITLE, "zzz", 0) is None
    assert type_ahead([], Column.TITLE, "a", 0) is None
    assert type_ahead(rows, Column.TITLE, "   ", 0) is None


# -- the DMP consultation rule: queries and openings ---------------------------------------------

NOW = datetime(2025, 6, 15, 9, 0, tzinfo=UTC)
KEY = VisitKey("810000000001", "255081416802538", AccessMode.NORMAL)


def test_the_vaccination_history_goes_with_every_bounded_query() -> None:
    vaccination = DocumentQuery(type_codes=(VACCINATION_HISTORY,))
    first = DocumentQuery(act_from=date(2023, 6, 15))
    assert opening_queries(first) == (first, vaccination)
    later = later_opening_query(Visit(NOW))
    assert later == DocumentQuery(deposited_since=NOW - NEW_SINCE_MARGIN)
    assert opening_queries(later) == (later, vaccination)
    everything = DocumentQuery()
    assert opening_queries(everything) == (everything,)  # no date bound: already in
    assert vaccination_query(DocumentQuery(act_to=date(2024, 1, 1))) == vaccination
    assert vaccination_query(replace(first, type_codes=("11488-4",))) is None
    assert vaccination_query(replace(first, class_codes=("10",))) is None
    with_class = vaccination_query(replace(first, class_codes=("52", "10")))
    assert with_class == vaccination
    archived = vaccination_query(replace(first, include_archived=True, page_size=50))
    assert archived == DocumentQuery(
        type_codes=(VACCINATION_HISTORY,), include_archived=True, page_size=50
    )


def test_first_then_later_openings() -> None:
    store = InMemoryVisitStore()
    clock = [NOW]
    visits = VisitService(store, lambda: clock[0])
    first = asyncio.run(visits.plan(KEY.professional, KEY.patient, KEY.mode, date(2025, 6, 15)))
    assert first.first_opening and first.date_limited
    assert first.query == DocumentQuery(act_from=date(2023, 6, 15))
    assert len(first.queries) == 2
    known = [doc("a"), doc("b")]
    assert not first.is_new(known[0])  # nothing is new at a first opening
    asyncio.run(visits.record(first, known))

    clock[0] = NOW + timedelta(days=2)
    later = asyncio.run(visits.plan(KEY.professional, KEY.patient, KEY.mode, date(2025, 6, 17)))
    assert not later.first_opening and later.date_limited
    assert later.last_visit == Visit(NOW, complete_history=False)
    assert later.query == DocumentQuery(deposited_since=NOW - NEW_SINCE_MARGIN)
    assert ids(make_rows(later.known)) == ["a", "b"]
    fresh = replace(doc("c"), deposited=NOW + timedelta(days=1))
    old_but_unknown = replace(doc("d"), deposited=NOW - timedelta(days=30))
    naive = replace(doc("e"), deposited=(NOW + timedelta(hours=1)).replace(tzinfo=None))
    assert later.is_new(fresh) and later.is_new(naive)
    assert not later.is_new(known[0])  # known at the last visit
    assert not later.is_new(old_but_unknown)  # deposited before the last visit

    whole = later.whole_history(NOW + timedelta(days=2))
    assert not whole.date_limited and whole.query == DocumentQuery()
    assert whole.queries == (DocumentQuery(),) and whole.is_new(fresh)
    asyncio.run(visits.record(whole, [*known, fresh]))
    third = asyncio.run(visits.plan(KEY.professional, KEY.patient, KEY.mode, date(2025, 6, 17)))
    assert not third.date_limited and len(third.known) == 3

    # Other professionals, patients and modes have their own visits; forget drops them.
    other = asyncio.run(visits.plan("810000000002", KEY.patient, KEY.mode, date(2025, 6, 17)))
    assert other.first_opening
    urgent = asyncio.run(
        visits.plan(KEY.professional, KEY.patient, AccessMode.BRIS_DE_GLACE, date(2025, 6, 17))
    )
    assert urgent.first_opening
    anonymous = asyncio.run(visits.plan("", KEY.patient, KEY.mode, date(2025, 6, 17)))
    assert anonymous.key is None and anonymous.first_opening
    asyncio.run(visits.record(anonymous, known))  # nothing remembered without a professional
    assert len(store) == 1
    asyncio.run(visits.forget("810000000002"))
    assert len(store) == 1
    asyncio.run(visits.forget(KEY.professional))
    assert len(store) == 0
