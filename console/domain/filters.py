"""The document table's filter as chips, presets and menu choices (pure, no Qt).

- :func:`chips` lists what a :class:`~console.domain.table.DocumentFilter` keeps out, one
  chip per criterion value; :func:`without` is the filter once a chip is removed.
- :class:`FilterPreset` is a named filter a professional saved; :func:`filter_to_json` and
  :func:`filter_from_json` are its stored form (codes, idNat, dates, flags: no patient data).
  Reading is tolerant: a preset saved by another version never breaks the table.
- :func:`filter_choices` gives the values present in a record (types, classes, authors),
  for the filter menus.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Any

from console.domain.models import Visibility
from console.domain.table import (
    NORMAL_VISIBILITY,
    ArchivedFilter,
    DocumentFilter,
    DocumentRow,
    text_key,
)

__all__ = [
    "VISIBILITY_CODES",
    "Chip",
    "ChipKind",
    "Choice",
    "FilterChoices",
    "FilterPreset",
    "chips",
    "filter_choices",
    "filter_from_json",
    "filter_to_json",
    "presets_from_json",
    "presets_to_json",
    "without",
]

VISIBILITY_CODES: tuple[str, ...] = (
    NORMAL_VISIBILITY,
    Visibility.MASQUE_PS.value,
    Visibility.INVISIBLE_PATIENT.value,
    Visibility.INVISIBLE_REPRESENTANTS_LEGAUX.value,
)
"""The visibility filter's codes, in menu order."""


class ChipKind(StrEnum):
    """Which criterion a chip shows."""

    TEXT = "text"
    TYPE = "type"
    CLASS = "class"
    AUTHOR = "author"
    ACT_FROM = "act_from"
    ACT_TO = "act_to"
    VISIBILITY = "visibility"
    NEW_ONLY = "new_only"
    ARCHIVED = "archived"


@dataclass(frozen=True, slots=True)
class Chip:
    """One active criterion value: its kind and value (a code, an idNat, an ISO date...)."""

    kind: ChipKind
    value: str = ""


def chips(flt: DocumentFilter) -> list[Chip]:
    """The chips of ``flt``, in a stable order (text, dates, sets by value, flags)."""
    out: list[Chip] = []
    if flt.words:
        out.append(Chip(ChipKind.TEXT, " ".join(flt.text.split())))
    if flt.act_from is not None:
        out.append(Chip(ChipKind.ACT_FROM, flt.act_from.isoformat()))
    if flt.act_to is not None:
        out.append(Chip(ChipKind.ACT_TO, flt.act_to.isoformat()))
    out.extend(Chip(ChipKind.TYPE, code) for code in sorted(flt.type_codes))
    out.extend(Chip(ChipKind.CLASS, code) for code in sorted(flt.class_codes))
    out.extend(Chip(ChipKind.AUTHOR, id_nat) for id_nat in sorted(flt.authors))
    out.extend(
        Chip(ChipKind.VISIBILITY, code) for code in VISIBILITY_CODES if code in flt.visibility
    )
    if flt.new_only:
        out.append(Chip(ChipKind.NEW_ONLY))
    if flt.archived is not ArchivedFilter.ALL:
        out.append(Chip(ChipKind.ARCHIVED, flt.archived.value))
    return out


def without(flt: DocumentFilter, chip: Chip) -> DocumentFilter:
    """``flt`` with the criterion value of ``chip`` removed (unchanged if absent)."""
    match chip.kind:
        case ChipKind.TEXT:
            return flt.replace(text="")
        case ChipKind.TYPE:
            return flt.replace(type_codes=flt.type_codes - {chip.value})
        case ChipKind.CLASS:
            return flt.replace(class_codes=flt.class_codes - {chip.value})
        case ChipKind.AUTHOR:
            return flt.replace(authors=flt.authors - {chip.value})
        case ChipKind.ACT_FROM:
            return flt.replace(act_from=None)
        case ChipKind.ACT_TO:
            return flt.replace(act_to=None)
        case ChipKind.VISIBILITY:
            return flt.replace(visibility=flt.visibility - {chip.value})
        case ChipKind.NEW_ONLY:
            return flt.replace(new_only=False)
        case ChipKind.ARCHIVED:
            return flt.replace(archived=ArchivedFilter.ALL)


# -- stored form -------------------------------------------------------------------------------


def filter_to_json(flt: DocumentFilter) -> dict[str, Any]:
    """``flt`` as JSON values (only the criteria set)."""
    out: dict[str, Any] = {}
    if flt.text.strip():
        out["text"] = flt.text.strip()
    for name, values in (
        ("types", flt.type_codes),
        ("classes", flt.class_codes),
        ("authors", flt.authors),
        ("visibility", flt.visibility),
    ):
        if values:
            out[name] = sorted(values)
    if flt.act_from is not None:
        out["act_from"] = flt.act_from.isoformat()
    if flt.act_to is not None:
        out["act_to"] = flt.act_to.isoformat()
    if flt.new_only:
        out["new_only"] = True
    if flt.archived is not ArchivedFilter.ALL:
        out["archived"] = flt.archived.value
    return out


def _strings(value: Any) -> frozenset[str]:
    if not isinstance(value, list):
        return frozenset()
    return frozenset(v for v in value if isinstance(v, str) and v)


def _day(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def filter_from_json(raw: Any) -> DocumentFilter:
    """The filter stored as ``raw``; what is missing or invalid is left out (never raises)."""
    if not isinstance(raw, Mapping):
        return DocumentFilter()
    text = raw.get("text")
    archived = raw.get("archived")
    return DocumentFilter(
        text=text if isinstance(text, str) else "",
        type_codes=_strings(raw.get("types")),
        class_codes=_strings(raw.get("classes")),
        authors=_strings(raw.get("authors")),
        act_from=_day(raw.get("act_from")),
        act_to=_day(raw.get("act_to")),
        visibility=_strings(raw.get("visibility")) & frozenset(VISIBILITY_CODES),
        new_only=raw.get("new_only") is True,
        archived=(
            ArchivedFilter(archived)
            if isinstance(archived, str) and archived in set(ArchivedFilter)
            else ArchivedFilter.ALL
        ),
    )


@dataclass(frozen=True, slots=True)
class FilterPreset:
    """A filter a professional saved under a name."""

    name: str
    filter: DocumentFilter


def presets_to_json(presets: Iterable[FilterPreset]) -> list[dict[str, Any]]:
    return [{"name": p.name, "filter": filter_to_json(p.filter)} for p in presets]


def presets_from_json(raw: Any) -> list[FilterPreset]:
    """The presets stored as ``raw`` (entries without a name are dropped; never raises)."""
    if not isinstance(raw, list):
        return []
    out: list[FilterPreset] = []
    seen: set[str] = set()
    for entry in raw:
        if not isinstance(entry, Mapping):
            continue
        name = entry.get("name")
        if not isinstance(name, str) or not name.strip() or name.strip() in seen:
            continue
        seen.add(name.strip())
        out.append(FilterPreset(name.strip(), filter_from_json(entry.get("filter"))))
    return out


# -- menu choices ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Choice:
    """A value a filter menu offers: its code, its label, how many rows carry it."""

    value: str
    label: str
    count: int


@dataclass(frozen=True, slots=True)
class FilterChoices:
    """The values present in a record, each list ordered by label (French collation)."""

    types: tuple[Choice, ...] = ()
    classes: tuple[Choice, ...] = ()
    authors: tuple[Choice, ...] = ()
    visibility: tuple[Choice, ...] = ()
    """Visibility codes present (labels left empty: the view names them)."""
    new: int = 0
    archived: int = 0

    def label_of(self, kind: ChipKind, value: str) -> str | None:
        """The label of ``value`` for a type, class or author chip, if present."""
        source = {
            ChipKind.TYPE: self.types,
            ChipKind.CLASS: self.classes,
            ChipKind.AUTHOR: self.authors,
        }.get(kind, ())
        for choice in source:
            if choice.value == value:
                return choice.label
        return None


def _choices(counts: Counter[str], labels: Mapping[str, str]) -> tuple[Choice, ...]:
    return tuple(
        sorted(
            (Choice(value, labels[value], count) for value, count in counts.items()),
            key=lambda c: (text_key(c.label), c.value),
        )
    )


def filter_choices(rows: Iterable[DocumentRow]) -> FilterChoices:
    """What the filter menus offer for ``rows``."""
    types: Counter[str] = Counter()
    classes: Counter[str] = Counter()
    authors: Counter[str] = Counter()
    visibility: Counter[str] = Counter()
    type_labels: dict[str, str] = {}
    class_labels: dict[str, str] = {}
    author_labels: dict[str, str] = {}
    new = archived = 0
    for row in rows:
        doc = row.doc
        types[doc.type_code] += 1
        type_labels.setdefault(doc.type_code, row.type_label)
        classes[doc.class_code] += 1
        class_labels.setdefault(doc.class_code, row.class_label)
        authors[doc.author_id_nat] += 1
        author_labels.setdefault(doc.author_id_nat, row.author)
        if doc.visibility:
            for flag in doc.visibility:
                visibility[flag.value] += 1
        else:
            visibility[NORMAL_VISIBILITY] += 1
        new += row.is_new
        archived += doc.archived
    return FilterChoices(
        types=_choices(types, type_labels),
        classes=_choices(classes, class_labels),
        authors=_choices(authors, author_labels),
        visibility=tuple(
            Choice(code, "", visibility[code]) for code in VISIBILITY_CODES if visibility[code]
        ),
        new=new,
        archived=archived,
    )
