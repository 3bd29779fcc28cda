"""Vaccinations (FHIR ``Immunization``): the coded vaccine list, the model, the validation of
a new vaccination and the table's sort keys. Pure Python.

The vaccine list is ``resources/vaccines.json`` (ATC codes of group J07, provisional for the
DMP: see its ``_source``); the sandbox accepts exactly those codes. A new vaccination is
checked here before anything leaves the console, with the same rules the server applies
(:data:`Problem` values are the server's reason codes where it has one):

- the vaccine is one of the coded list;
- the date is given, not in the future, and not before the patient's birth;
- the lot number is not blank (and not absurdly long);
- the performer is the professional logged in (the DMP records the caller as performer).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from functools import cache
from typing import Any, Final

from console.domain.errors import ConsoleError, ResourceDataError
from console.domain.models import SECRETARY_ROLE
from console.resources import load_json

__all__ = [
    "LOT_MAX_CHARS",
    "VACCINES_FILE",
    "Field",
    "Immunization",
    "ImmunizationColumn",
    "ImmunizationDraft",
    "InvalidImmunizationError",
    "NewImmunization",
    "Performer",
    "Problem",
    "Vaccine",
    "VaccineCatalogue",
    "ValidationIssue",
    "fold_text",
    "immunization_issues",
    "sort_immunizations",
    "sort_key",
    "vaccine_catalogue",
    "validate_immunization",
]

VACCINES_FILE: Final = "vaccines.json"
LOT_MAX_CHARS: Final = 40
"""Longest lot number accepted (lot numbers are short codes, e.g. ``AB1234``)."""
_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold_text(text: str) -> str:
    """``text`` without accents, case or repeated spaces, for comparisons and searches."""
    for _ in range(2):  # twice: case folding may leave marks, decompositions capitals
        decomposed = unicodedata.normalize("NFKD", text.casefold())
        text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(text.split())


def _words(text: str) -> list[str]:
    return [w for w in _NON_WORD.split(fold_text(text)) if w]


# -- the coded list ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Vaccine:
    """A vaccine of the coded list (or as the server coded a recorded one)."""

    system: str
    code: str
    display: str
    examples: tuple[str, ...] = ()
    """Brand names, for the search only."""

    @property
    def label(self) -> str:
        """``display (code)``: what a list shows."""
        return f"{self.display} ({self.code})" if self.display else self.code


@dataclass(frozen=True, slots=True)
class VaccineCatalogue:
    """The vaccines a vaccination may be recorded with (``resources/vaccines.json``)."""

    system: str
    vaccines: tuple[Vaccine, ...]
    provisional: bool = True
    source: str = ""

    def get(self, code: str) -> Vaccine | None:
        """The vaccine of ``code``, None when the list does not know it."""
        for vaccine in self.vaccines:
            if vaccine.code == code:
                return vaccine
        return None

    def search(self, text: str) -> tuple[Vaccine, ...]:
        """The vaccines of which every word of ``text`` begins a word (of the code, the label
        or a brand name; accents and case ignored), in list order. Blank text: the whole
        list."""
        words = _words(text)
        if not words:
            return self.vaccines
        found = []
        for vaccine in self.vaccines:
            tokens = _words(" ".join((vaccine.code, vaccine.display, *vaccine.examples)))
            if all(any(token.startswith(word) for token in tokens) for word in words):
                found.append(vaccine)
        return tuple(found)

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> VaccineCatalogue:
        """Read the JSON of ``resources/vaccines.json``."""
        try:
            system = str(data["system"])
            vaccines = tuple(
                Vaccine(
                    system,
                    str(row["code"]),
                    str(row["display"]),
                    tuple(str(e) for e in row.get("examples", ())),
                )
                for row in data["vaccines"]
            )
            provisional = bool(data.get("provisional", True))
            source = str(data.get("_source", ""))
        except (KeyError, TypeError, ValueError) as exc:
            raise ResourceDataError(f"resources/{VACCINES_FILE} is malformed: {exc}") from exc
        codes = [v.code for v in vaccines]
        if len(set(codes)) != len(codes):
            raise ResourceDataError(f"resources/{VACCINES_FILE} lists a vaccine twice")
        return cls(system, vaccines, provisional, source)


@cache
def vaccine_catalogue() -> VaccineCatalogue:
    """The bundled vaccine list (loaded once)."""
    try:
        data = load_json(VACCINES_FILE)
    except (OSError, ValueError) as exc:
        raise ResourceDataError(f"resources/{VACCINES_FILE} is unreadable: {exc}") from exc
    return VaccineCatalogue.from_data(data)


# -- the model -------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Performer:
    """Who gave the vaccine (a professional of the directory)."""

    id_nat: str
    name: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.id_nat


@dataclass(frozen=True, slots=True)
class Immunization:
    """A vaccination recorded in the DMP."""

    id: str
    patient_ins: str
    vaccine: Vaccine
    occurrence: date
    lot_number: str = ""
    performer: Performer | None = None
    recorded: datetime | None = None
    status: str = "completed"


@dataclass(frozen=True, slots=True)
class ImmunizationDraft:
    """What the professional entered in the form, before any check."""

    vaccine_code: str
    """"" when no vaccine was chosen."""
    occurrence: date | None
    lot_number: str
    performer: Performer
    """Set by the service: the professional logged in."""


@dataclass(frozen=True, slots=True)
class NewImmunization:
    """A checked vaccination, ready to be sent."""

    vaccine: Vaccine
    occurrence: date
    lot_number: str
    performer: Performer


class Field(StrEnum):
    """The form's fields (where a message is shown)."""

    VACCINE = "vaccine"
    DATE = "date"
    LOT = "lot"
    PERFORMER = "performer"


class Problem(StrEnum):
    """Why a vaccination is refused (the server's reason code where it has one)."""

    MISSING_VACCINE = "missing_vaccine"
    UNKNOWN_VACCINE = "unknown_vaccine"
    MISSING_DATE = "invalid_date"
    FUTURE_DATE = "future_date"
    BEFORE_BIRTH = "before_birth"
    MISSING_LOT = "missing_lot"
    LOT_TOO_LONG = "lot_too_long"
    PERFORMER_MISMATCH = "performer_mismatch"
    NOT_A_PROFESSIONAL = "author_not_ps"


PROBLEM_FIELDS: Final[Mapping[Problem, Field]] = {
    Problem.MISSING_VACCINE: Field.VACCINE,
    Problem.UNKNOWN_VACCINE: Field.VACCINE,
    Problem.MISSING_DATE: Field.DATE,
    Problem.FUTURE_DATE: Field.DATE,
    Problem.BEFORE_BIRTH: Field.DATE,
    Problem.MISSING_LOT: Field.LOT,
    Problem.LOT_TOO_LONG: Field.LOT,
    Problem.PERFORMER_MISMATCH: Field.PERFORMER,
    Problem.NOT_A_PROFESSIONAL: Field.PERFORMER,
}
"""The field each problem is shown under (also for the server's 422 reason codes)."""

_MESSAGES: Final[Mapping[Problem, str]] = {
    Problem.MISSING_VACCINE: "Choisissez le vaccin dans la liste.",
    Problem.UNKNOWN_VACCINE: "Ce vaccin n'est pas dans la liste des vaccins codés.",
    Problem.MISSING_DATE: "Indiquez la date de la vaccination.",
    Problem.FUTURE_DATE: "La date de vaccination ne peut pas être dans le futur.",
    Problem.BEFORE_BIRTH: "La date de vaccination est antérieure à la naissance du patient.",
    Problem.MISSING_LOT: "Le numéro de lot est obligatoire.",
    Problem.LOT_TOO_LONG: f"Le numéro de lot dépasse {LOT_MAX_CHARS} caractères.",
    Problem.PERFORMER_MISMATCH: (
        "Le vaccinateur enregistré est le professionnel connecté : reconnectez-vous."
    ),
    Problem.NOT_A_PROFESSIONAL: (
        "Seul un professionnel de santé peut enregistrer une vaccination."
    ),
}


@dataclass(frozen=True, slots=True)
class ValidationIssue:
    """One problem of a vaccination, and the field it concerns."""

    problem: Problem

    @property
    def field(self) -> Field:
        return PROBLEM_FIELDS[self.problem]

    @property
    def message(self) -> str:
        """A French sentence for the professional."""
        return _MESSAGES[self.problem]


class InvalidImmunizationError(ConsoleError, ValueError):
    """The vaccination was refused (by the console's checks or the server's 422): nothing
    was written. ``issues`` says what, field by field."""

    def __init__(self, issues: Sequence[ValidationIssue]) -> None:
        self.issues = tuple(issues)
        super().__init__(" ".join(i.message for i in self.issues) or "Vaccination refusée.")


def immunization_issues(
    draft: ImmunizationDraft,
    *,
    professional: Performer,
    profession: str,
    today: date,
    birth_date: date | None,
    catalogue: VaccineCatalogue | None = None,
) -> tuple[ValidationIssue, ...]:
    """Every problem of ``draft`` (empty when it may be sent), in form order.

    Args:
        draft: What was entered.
        professional: The professional logged in (the only possible performer).
        profession: Her profession (matrix key): a secretary records no vaccination.
        today: The local date (a vaccination today is accepted).
        birth_date: The patient's, when known.
        catalogue: The vaccine list (the bundled one by default).
    """
    catalogue = catalogue or vaccine_catalogue()
    issues: list[ValidationIssue] = []
    if not draft.vaccine_code.strip():
        issues.append(ValidationIssue(Problem.MISSING_VACCINE))
    elif catalogue.get(draft.vaccine_code.strip()) is None:
        issues.append(ValidationIssue(Problem.UNKNOWN_VACCINE))
    if draft.occurrence is None:
        issues.append(ValidationIssue(Problem.MISSING_DATE))
    elif draft.occurrence > today:
        issues.append(ValidationIssue(Problem.FUTURE_DATE))
    elif birth_date is not None and draft.occurrence < birth_date:
        issues.append(ValidationIssue(Problem.BEFORE_BIRTH))
    lot = draft.lot_number.strip()
    if not lot:
        issues.append(ValidationIssue(Problem.MISSING_LOT))
    elif len(lot) > LOT_MAX_CHARS:
        issues.append(ValidationIssue(Problem.LOT_TOO_LONG))
    if profession == SECRETARY_ROLE:
        issues.append(ValidationIssue(Problem.NOT_A_PROFESSIONAL))
    elif draft.performer.id_nat != professional.id_nat:
        issues.append(ValidationIssue(Problem.PERFORMER_MISMATCH))
    return tuple(issues)


def validate_immunization(
    draft: ImmunizationDraft,
    *,
    professional: Performer,
    profession: str,
    today: date,
    birth_date: date | None,
    catalogue: VaccineCatalogue | None = None,
) -> NewImmunization:
    """``draft`` checked (see :func:`immunization_issues`), or InvalidImmunizationError."""
    catalogue = catalogue or vaccine_catalogue()
    issues = immunization_issues(
        draft,
        professional=professional,
        profession=profession,
        today=today,
        birth_date=birth_date,
        catalogue=catalogue,
    )
    if issues:
        raise InvalidImmunizationError(issues)
    vaccine = catalogue.get(draft.vaccine_code.strip())
    assert vaccine is not None and draft.occurrence is not None  # checked above
    return NewImmunization(vaccine, draft.occurrence, draft.lot_number.strip(), draft.performer)


# -- the table's order -----------------------------------------------------------------------------
class ImmunizationColumn(StrEnum):
    """The columns of the vaccination table, in display order."""

    DATE = "date"
    VACCINE = "vaccine"
    CODE = "code"
    LOT = "lot"
    PERFORMER = "performer"


def sort_key(immunization: Immunization, column: ImmunizationColumn) -> tuple[Any, ...]:
    """The raw value ``column`` is ordered by (dates as dates, text folded), never the
    display string."""
    match column:
        case ImmunizationColumn.DATE:
            return (immunization.occurrence,)
        case ImmunizationColumn.VACCINE:
            return (fold_text(immunization.vaccine.display or immunization.vaccine.code),)
        case ImmunizationColumn.CODE:
            return (immunization.vaccine.code,)
        case ImmunizationColumn.LOT:
            return (fold_text(immunization.lot_number),)
        case ImmunizationColumn.PERFORMER:
            performer = immunization.performer
            return (fold_text(performer.display_name) if performer else "",)


def sort_immunizations(
    immunizations: Iterable[Immunization],
    column: ImmunizationColumn = ImmunizationColumn.DATE,
    *,
    descending: bool = True,
) -> list[Immunization]:
    """``immunizations`` ordered by ``column``; ties keep the newest vaccination first, then
    the id, whatever the direction (a stable, total order)."""
    by_recency = sorted(immunizations, key=lambda i: i.id)
    by_recency.sort(key=lambda i: i.occurrence, reverse=True)
    if column is ImmunizationColumn.DATE:
        return by_recency if descending else sorted(by_recency, key=lambda i: i.occurrence)
    return sorted(by_recency, key=lambda i: sort_key(i, column), reverse=descending)
