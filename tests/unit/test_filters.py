"""Filters as chips, presets and menu choices (console.domain.filters), and the presets
service (console.services.presets): pure, no Qt."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from console.domain.filters import (
    Chip,
    ChipKind,
    Choice,
    FilterPreset,
    chips,
    filter_choices,
    filter_from_json,
    filter_to_json,
    presets_from_json,
    presets_to_json,
    without,
)
from console.domain.models import DocumentMeta, Visibility
from console.domain.table import ArchivedFilter, DocumentFilter, make_rows
from console.services.presets import (
    MAX_PRESETS,
    MemoryPreferenceStore,
    PresetService,
    professional_key,
)

GP = "810000000001"
NURSE = "810000000002"

filters = st.builds(
    DocumentFilter,
    text=st.text(alphabet="abcé 1", max_size=8).map(lambda t: " ".join(t.split())),
    type_codes=st.frozensets(st.sampled_from(["11488-4", "18748-4", "11369-6"]), max_size=3),
    class_codes=st.frozensets(st.sampled_from(["10", "31"]), max_size=2),
    authors=st.frozensets(st.sampled_from([GP, NURSE]), max_size=2),
    act_from=st.none() | st.dates(date(2000, 1, 1), date(2030, 1, 1)),
    act_to=st.none() | st.dates(date(2000, 1, 1), date(2030, 1, 1)),
    visibility=st.frozensets(
        st.sampled_from(["N", "MASQUE_PS", "INVISIBLE_PATIENT", "INVISIBLE_REPRESENTANTS_LEGAUX"])
    ),
    new_only=st.booleans(),
    archived=st.sampled_from(list(ArchivedFilter)),
)


# -- chips --------------------------------------------------------------------------------------


def test_chips_of_a_filter() -> None:
    flt = DocumentFilter(
        text="  écho   rénale ",
        type_codes=frozenset({"18748-4", "11488-4"}),
        authors=frozenset({GP}),
        act_from=date(2024, 1, 1),
        visibility=frozenset({"MASQUE_PS", "N"}),
        new_only=True,
        archived=ArchivedFilter.ONLY,
    )
    assert chips(flt) == [
        Chip(ChipKind.TEXT, "écho rénale"),
        Chip(ChipKind.ACT_FROM, "2024-01-01"),
        Chip(ChipKind.TYPE, "11488-4"),
        Chip(ChipKind.TYPE, "18748-4"),
        Chip(ChipKind.AUTHOR, GP),
        Chip(ChipKind.VISIBILITY, "N"),
        Chip(ChipKind.VISIBILITY, "MASQUE_PS"),
        Chip(ChipKind.NEW_ONLY),
        Chip(ChipKind.ARCHIVED, "only"),
    ]
    assert chips(DocumentFilter()) == [] and chips(DocumentFilter("   ")) == []


@settings(max_examples=200)
@given(filters)
def test_removing_each_chip_removes_exactly_it(flt: DocumentFilter) -> None:
    current = flt
    while chips(current):
        first, *rest = chips(current)
        current = without(current, first)
        assert chips(current) == rest
    assert current.is_empty
    assert without(DocumentFilter(), Chip(ChipKind.TYPE, "x")) == DocumentFilter()


# -- stored form --------------------------------------------------------------------------------


@settings(max_examples=200)
@given(filters)
def test_filters_survive_their_json_form(flt: DocumentFilter) -> None:
    stored = json.loads(json.dumps(filter_to_json(flt)))
    assert filter_from_json(stored) == flt.replace(text=flt.text.strip())


def test_the_stored_form_keeps_only_what_is_set() -> None:
    assert filter_to_json(DocumentFilter()) == {}
    assert filter_to_json(DocumentFilter(act_to=date(2025, 1, 2), new_only=True)) == {
        "act_to": "2025-01-02",
        "new_only": True,
    }


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_reading_junk_never_raises(raw: Any) -> None:
    assert isinstance(filter_from_json(raw), DocumentFilter)
    assert isinstance(presets_from_json(raw), list)


def test_invalid_values_are_left_out() -> None:
    raw = {
        "text": 3,
        "types": ["11488-4", 5, ""],
        "act_from": "hier",
        "act_to": "2025-02-30",
        "visibility": ["MASQUE_PS", "SECRET"],
        "new_only": "yes",
        "archived": "maybe",
    }
    assert filter_from_json(raw) == DocumentFilter(
        type_codes=frozenset({"11488-4"}), visibility=frozenset({"MASQUE_PS"})
    )


def test_presets_json() -> None:
    presets = [FilterPreset("Imagerie", DocumentFilter(class_codes=frozenset({"31"})))]
    assert presets_from_json(json.loads(json.dumps(presets_to_json(presets)))) == presets
    junk = [{"name": ""}, {"name": " A "}, {"name": "A"}, "x", {"filter": {}}]
    assert presets_from_json(junk) == [FilterPreset("A", DocumentFilter())]


# -- menu choices -------------------------------------------------------------------------------


def doc(number: int, type_code: str, author_id: str, author: str, **extra: Any) -> DocumentMeta:
    moment = datetime(2025, 3, 14, tzinfo=UTC)
    return DocumentMeta(
        id=f"d{number}",
        master_id=f"d{number}",
        patient_ins="255081416802538",
        type_code=type_code,
        class_code="10" if type_code == "11488-4" else "31",
        title=f"Document {number}",
        author_id_nat=author_id,
        created=moment,
        deposited=moment,
        author_name=author,
        **extra,
    )


def test_filter_choices_count_the_values_of_the_record() -> None:
    rows = make_rows(
        [
            doc(1, "11488-4", NURSE, "Émile Zola", archived=True),
            doc(2, "18748-4", GP, "Anne ADAM"),
            doc(3, "11488-4", GP, "Anne ADAM", visibility=frozenset({Visibility.MASQUE_PS})),
        ],
        is_new=lambda d: d.id == "d2",
    )
    got = filter_choices(rows)
    assert got.types == (
        Choice("18748-4", "CR d'imagerie médicale", 1),
        Choice("11488-4", "CR ou fiche de consultation ou de visite", 2),
    )
    assert got.authors == (Choice(GP, "Anne ADAM", 2), Choice(NURSE, "Émile Zola", 1))
    assert [c.value for c in got.classes] == ["10", "31"]
    assert [(c.value, c.count) for c in got.visibility] == [("N", 2), ("MASQUE_PS", 1)]
    assert (got.new, got.archived) == (1, 1)
    assert got.label_of(ChipKind.AUTHOR, NURSE) == "Émile Zola"
    assert got.label_of(ChipKind.AUTHOR, "nobody") is None
    assert got.label_of(ChipKind.NEW_ONLY, "") is None


# -- the presets service ------------------------------------------------------------------------


def test_presets_per_professional() -> None:
    store = MemoryPreferenceStore()
    service = PresetService(store)
    imaging = DocumentFilter(class_codes=frozenset({"31"}))
    assert service.save_preset(GP, "  Imagerie  ", imaging) == [FilterPreset("Imagerie", imaging)]
    service.save_preset(GP, "Nouveaux", DocumentFilter(new_only=True))
    service.save_preset(GP, "Imagerie", DocumentFilter("écho"))  # replaces, goes last
    assert [p.name for p in service.presets(GP)] == ["Nouveaux", "Imagerie"]
    assert service.presets(NURSE) == []
    assert service.save_preset("", "X", imaging) == [] and service.save_preset(GP, " ", imaging)
    assert [p.name for p in service.delete_preset(GP, "Nouveaux")] == ["Imagerie"]
    assert service.delete_preset(GP, "absent") == service.presets(GP)
    # Stored under a hash of the idNat, never the idNat itself.
    assert list(store.values) == [professional_key("table_presets.", GP)]
    assert GP not in json.dumps(store.values)


def test_presets_are_capped() -> None:
    service = PresetService(MemoryPreferenceStore())
    for number in range(MAX_PRESETS + 5):
        service.save_preset(GP, f"P{number}", DocumentFilter(new_only=True))
    names = [p.name for p in service.presets(GP)]
    assert len(names) == MAX_PRESETS and names[-1] == f"P{MAX_PRESETS + 4}"


def test_a_damaged_store_gives_no_presets() -> None:
    store = MemoryPreferenceStore()
    store.set(professional_key("table_presets.", GP), "{not json")
    store.set(professional_key("table_layout.", GP), json.dumps({"columns": ["a"], "state": "%%"}))
    service = PresetService(store)
    assert service.presets(GP) == []
    assert service.table_layout(GP, ["a"]) is None


def test_the_table_layout_is_kept_for_its_columns() -> None:
    service = PresetService(MemoryPreferenceStore())
    columns = ["act_date", "title"]
    assert service.table_layout(GP, columns) is None
    service.save_table_layout(GP, columns, b"\x00\xffstate")
    assert service.table_layout(GP, columns) == b"\x00\xffstate"
    assert service.table_layout(NURSE, columns) is None
    assert service.table_layout(GP, ["act_date", "title", "author"]) is None  # other columns
    service.save_table_layout("", columns, b"x")
    assert service.table_layout("", columns) is None
