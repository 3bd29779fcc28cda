"""Domain models shared by the console and the sandbox: actors, patients, documents."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

SECRETARY_ROLE = "SECRETARIAT_MEDICAL"
"""Non-PS role code (TRE_A00) of a medical secretary: deposit only, never reads."""


class AccessMode(StrEnum):
    """TRE_R248 access modes (purpose of use)."""

    NORMAL = "normal"
    BRIS_DE_GLACE = "bris_de_glace"
    CENTRE_15 = "centre_15"


class DocStatus(StrEnum):
    """FHIR DocumentReference.status values the DMP uses."""

    CURRENT = "current"
    SUPERSEDED = "superseded"
    ENTERED_IN_ERROR = "entered-in-error"


class Visibility(StrEnum):
    """TRE_A07 visibility codes a document may carry (none means normal, HL7 ``N``)."""

    MASQUE_PS = "MASQUE_PS"
    INVISIBLE_PATIENT = "INVISIBLE_PATIENT"
    INVISIBLE_REPRESENTANTS_LEGAUX = "INVISIBLE_REPRESENTANTS_LEGAUX"


@dataclass(frozen=True, slots=True)
class Actor:
    """A logged professional (or secretary) as the DMP knows her.

    ``profession`` is the key of the habilitation matrix: a TRE_G15 profession code
    ("10" médecin, "60" infirmier...), or a non-PS role code such as SECRETARIAT_MEDICAL.
    """

    id_nat: str
    profession: str
    family_name: str = ""
    given_name: str = ""
    specialty: str | None = None
    structure_id: str | None = None
    structure_name: str | None = None
    regulator: bool = False
    """A regulating doctor of a centre 15 (SAMU), the only actor of the centre_15 mode."""

    @property
    def is_secretary(self) -> bool:
        return self.profession == SECRETARY_ROLE

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}".strip() or self.id_nat


@dataclass(frozen=True, slots=True)
class PatientPolicy:
    """What the rules need to know of a patient's choices."""

    ins: str
    medecin_traitant: str | None = None
    care_team: frozenset[str] = frozenset()
    """idNat of professionals the patient authorised (care team or recorded consent)."""
    mt_equivalents: frozenset[str] = frozenset()
    """idNat of professionals given the médecin traitant's rights (they see masked documents)."""
    blocked: frozenset[str] = frozenset()
    opposed_bris_de_glace: bool = False
    opposed_centre_15: bool = False


@dataclass(frozen=True, slots=True)
class DocumentMeta:
    """Metadata of a DMP document (a DocumentReference), without its body."""

    id: str
    master_id: str
    patient_ins: str
    type_code: str
    class_code: str
    title: str
    author_id_nat: str
    created: datetime
    """Date of the act."""
    deposited: datetime
    author_name: str = ""
    author_profession: str = ""
    structure_name: str = ""
    entered_by: str | None = None
    """idNat of the person who entered it when not the author (a secretary)."""
    status: DocStatus = DocStatus.CURRENT
    archived: bool = False
    visibility: frozenset[Visibility] = field(default_factory=frozenset)
    content_type: str = "application/pdf"
    size: int = 0
    sha1: str = ""
    replaces: str | None = None

    @property
    def masked(self) -> bool:
        return Visibility.MASQUE_PS in self.visibility

    @property
    def invisible_to_patient(self) -> bool:
        return Visibility.INVISIBLE_PATIENT in self.visibility
