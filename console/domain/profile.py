"""The patient's profile as the DMP shows it to a professional: the dossier header (the
médecin traitant, the access mode in force, what the DMP tells her) and the "Entourage et
volontés" section (person of trust, relatives to contact, advance directives). Pure Python.

What the header says about the patient's choices is only what the DMP itself tells this
professional (:func:`header_notices`): who the médecin traitant is, that masked documents are
shown to her when the rules show them (médecin traitant, bris de glace), and that the patient
is notified of a bris de glace or a centre 15 access. It never says anything about the
patient's oppositions (to bris de glace, to centre 15) nor about the professionals she
blocked: the DMP tells a professional of an opposition only by refusing her own request.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Final

from console.domain.dossier import PatientRecord
from console.domain.models import AccessMode

__all__ = [
    "ADVANCE_DIRECTIVE_CATEGORY",
    "ADVANCE_DIRECTIVE_SCOPE",
    "CONSENT_CATEGORY_SYSTEM",
    "CONSENT_SCOPE_SYSTEM",
    "CONTACT_RANK_URL",
    "DIRECTIVES_DATE_URL",
    "DIRECTIVES_LOCATION_URL",
    "DIRECTIVES_WRITTEN_URL",
    "LOINC_ADVANCE_DIRECTIVE",
    "RELATIONSHIP_LABELS",
    "ROLE_LABELS",
    "TRE_R216_SYSTEM",
    "TRE_R260_SYSTEM",
    "AdvanceDirectives",
    "ContactRole",
    "Entourage",
    "GeneralPractitioner",
    "HeaderNotice",
    "PatientSummary",
    "Phone",
    "RelatedContact",
    "SectionState",
    "age_on",
    "header_notices",
    "roles_of",
]

TRE_R260_SYSTEM: Final = (
    "https://mos.esante.gouv.fr/NOS/TRE_R260-HL7RoleClass/FHIR/TRE-R260-HL7RoleClass"
)
"""Role of a contact person (ANS NOS TRE_R260, from HL7 v3 RoleClass): ``NOK`` personne de
confiance (since 2024-03-29; ``QUAL`` before), ``ECON`` personne à prévenir en cas
d'urgence. Used by FR Core's RelatedPerson ``relationship[Role]``."""
TRE_R216_SYSTEM: Final = (
    "https://mos.esante.gouv.fr/NOS/TRE_R216-HL7RoleCode/FHIR/TRE-R216-HL7RoleCode"
)
"""Relation to the patient (ANS NOS TRE_R216, from HL7 v3 RoleCode): SPS, MTH, FTH...;
FR Core's RelatedPerson ``relationship[RelationType]``."""

ROLE_LABELS: Final[dict[str, str]] = {
    "NOK": "personne de confiance",
    "ECON": "personne à prévenir en cas d'urgence",
}
"""TRE_R260 displays of the roles the sandbox writes (as the NOS file gives them)."""

SANDBOX_SD: Final = "https://sandbox.dmp.local/fhir/StructureDefinition"
CONTACT_RANK_URL: Final = f"{SANDBOX_SD}/contact-rank"
"""RelatedPerson extension (valuePositiveInt): order among the relatives to contact."""
DIRECTIVES_WRITTEN_URL: Final = f"{SANDBOX_SD}/advance-directives-written"
"""Consent extension (valueBoolean): the patient wrote advance directives (false: she
declared she has none)."""
DIRECTIVES_DATE_URL: Final = f"{SANDBOX_SD}/advance-directives-date"
"""Consent extension (valueDate): when she wrote them."""
DIRECTIVES_LOCATION_URL: Final = f"{SANDBOX_SD}/advance-directives-location"
"""Consent extension (valueString): where they are kept."""
CONSENT_SCOPE_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/consentscope"
ADVANCE_DIRECTIVE_SCOPE: Final = "adr"
"""Consent.scope of an advance directive (FHIR R4 consentscope ``adr``)."""
CONSENT_CATEGORY_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/consentcategorycodes"
ADVANCE_DIRECTIVE_CATEGORY: Final = "acd"
"""Consent.category of an advance directive (HL7 consentcategorycodes ``acd``)."""
LOINC_ADVANCE_DIRECTIVE: Final = "75320-2"
"""LOINC "Advance directive", the other coding of that category."""

RELATIONSHIP_LABELS: Final[dict[str, str]] = {
    "SPS": "Conjoint(e)",
    "HUSB": "Époux",
    "WIFE": "Épouse",
    "DOMPART": "Partenaire",
    "MTH": "Mère",
    "FTH": "Père",
    "PRN": "Parent",
    "DAUC": "Fille",
    "SONC": "Fils",
    "CHILD": "Enfant",
    "SIS": "Sœur",
    "BRO": "Frère",
    "GRMTH": "Grand-mère",
    "GRFTH": "Grand-père",
    "NIECE": "Nièce",
    "NEPHEW": "Neveu",
    "FRND": "Ami(e)",
    "NBOR": "Voisin(e)",
}
"""French labels of the TRE_R216 relation codes the console shows. PROVISIONAL wording:
written from the HL7 v3 RoleCode meanings, not copied from the NOS file; an unknown code shows
the server's display, else the code."""


class ContactRole(StrEnum):
    """TRE_R260 roles of a related person that the console shows."""

    TRUSTED_PERSON = "NOK"
    """Personne de confiance (Code de la santé publique, art. L1111-6)."""
    EMERGENCY_CONTACT = "ECON"
    """Personne à prévenir en cas d'urgence."""


LEGACY_TRUSTED_PERSON: Final = "QUAL"
"""TRE_R260's code of the person of trust until 2024-03-29 (deprecated, still read)."""


@dataclass(frozen=True, slots=True)
class Phone:
    """A phone number as the patient gave it (shown as it is)."""

    value: str
    use: str = ""
    """FHIR ContactPoint.use: ``mobile``, ``home``, ``work`` or ""."""


@dataclass(frozen=True, slots=True)
class RelatedContact:
    """A person of the patient's circle (FHIR RelatedPerson)."""

    id: str
    family_name: str
    given_names: str
    roles: frozenset[ContactRole]
    relationship_code: str = ""
    relationship_label: str = ""
    """The server's display of the relation, when it gave one."""
    phones: tuple[Phone, ...] = ()
    rank: int = 0
    """Order among the relatives to contact (1 first); 0 when not given."""

    @property
    def display_name(self) -> str:
        return f"{self.family_name.upper()} {self.given_names}".strip()

    @property
    def relationship(self) -> str:
        """The relation in French ("" when unknown)."""
        return (
            RELATIONSHIP_LABELS.get(self.relationship_code)
            or self.relationship_label
            or self.relationship_code
        )


@dataclass(frozen=True, slots=True)
class AdvanceDirectives:
    """What the patient recorded about her advance directives (directives anticipées)."""

    written: bool
    """True: she wrote some; False: she declared she has none."""
    written_on: date | None = None
    location: str = ""
    """Where they are kept (free text, as the patient wrote it)."""
    recorded: datetime | None = None
    """When she recorded this in her profile."""


class SectionState(StrEnum):
    """How a section of "Entourage et volontés" is shown."""

    SHOWN = "shown"
    NOT_RECORDED = "not_recorded"
    """The patient recorded nothing: "Non renseigné"."""
    NOT_ALLOWED = "not_allowed"
    """The rules do not open this section to the professional's profession."""


@dataclass(frozen=True, slots=True)
class Entourage:
    """The "Entourage et volontés" section as fetched for one professional."""

    relatives: tuple[RelatedContact, ...] = ()
    relatives_allowed: bool = True
    directives: AdvanceDirectives | None = None
    directives_allowed: bool = True

    @property
    def trusted_person(self) -> RelatedContact | None:
        """The person of trust (the first one, if the server sent several)."""
        for contact in self.relatives:
            if ContactRole.TRUSTED_PERSON in contact.roles:
                return contact
        return None

    @property
    def contacts(self) -> tuple[RelatedContact, ...]:
        """The relatives to contact, in the patient's order (rank, then name)."""
        found = [c for c in self.relatives if ContactRole.EMERGENCY_CONTACT in c.roles]
        return tuple(
            sorted(found, key=lambda c: (c.rank or 1_000_000, c.display_name.casefold(), c.id))
        )

    def state(self, section: str) -> SectionState:
        """The state of ``section``: ``trusted_person``, ``contacts`` or ``directives``."""
        match section:
            case "trusted_person":
                allowed, present = self.relatives_allowed, self.trusted_person is not None
            case "contacts":
                allowed, present = self.relatives_allowed, bool(self.contacts)
            case "directives":
                allowed, present = self.directives_allowed, self.directives is not None
            case _:
                raise ValueError(f"unknown section {section!r}")
        if not allowed:
            return SectionState.NOT_ALLOWED
        return SectionState.SHOWN if present else SectionState.NOT_RECORDED


# -- the dossier header ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class GeneralPractitioner:
    """The médecin traitant the patient declared (Patient.generalPractitioner)."""

    id_nat: str
    name: str = ""

    @property
    def display_name(self) -> str:
        return self.name or self.id_nat


@dataclass(frozen=True, slots=True)
class PatientSummary:
    """The patient as the open record shows her: identity and médecin traitant."""

    patient: PatientRecord
    general_practitioner: GeneralPractitioner | None = None


class HeaderNotice(StrEnum):
    """What the header tells the professional about the rules in force (never a choice of
    the patient the DMP would not tell her: see the module docstring)."""

    YOU_ARE_MEDECIN_TRAITANT = "you_are_medecin_traitant"
    MASKED_VISIBLE_AS_MEDECIN_TRAITANT = "masked_visible_as_medecin_traitant"
    MASKED_VISIBLE_IN_BRIS_DE_GLACE = "masked_visible_in_bris_de_glace"
    PATIENT_NOTIFIED_BRIS_DE_GLACE = "patient_notified_bris_de_glace"
    PATIENT_NOTIFIED_CENTRE_15 = "patient_notified_centre_15"
    MASKING_KEPT_IN_CENTRE_15 = "masking_kept_in_centre_15"


def header_notices(
    summary: PatientSummary, professional_id: str, mode: AccessMode
) -> tuple[HeaderNotice, ...]:
    """The notices of the header for ``professional_id`` in ``mode``, in display order."""
    notices: list[HeaderNotice] = []
    gp = summary.general_practitioner
    is_gp = gp is not None and bool(professional_id) and gp.id_nat == professional_id
    if is_gp:
        notices.append(HeaderNotice.YOU_ARE_MEDECIN_TRAITANT)
    match mode:
        case AccessMode.BRIS_DE_GLACE:
            notices.append(HeaderNotice.MASKED_VISIBLE_IN_BRIS_DE_GLACE)
            notices.append(HeaderNotice.PATIENT_NOTIFIED_BRIS_DE_GLACE)
        case AccessMode.CENTRE_15:
            notices.append(HeaderNotice.MASKING_KEPT_IN_CENTRE_15)
            notices.append(HeaderNotice.PATIENT_NOTIFIED_CENTRE_15)
        case AccessMode.NORMAL:
            if is_gp:
                notices.append(HeaderNotice.MASKED_VISIBLE_AS_MEDECIN_TRAITANT)
    return tuple(notices)


def age_on(birth_date: date, today: date) -> int:
    """Age in whole years on ``today``."""
    years = today.year - birth_date.year
    if (today.month, today.day) < (birth_date.month, birth_date.day):
        years -= 1
    return max(0, years)


def roles_of(codes: Iterable[str]) -> frozenset[ContactRole]:
    """The roles among TRE_R260 ``codes`` (the former person-of-trust code included)."""
    roles = set()
    for code in codes:
        if code == LEGACY_TRUSTED_PERSON:
            roles.add(ContactRole.TRUSTED_PERSON)
        else:
            try:
                roles.add(ContactRole(code))
            except ValueError:
                continue
    return frozenset(roles)
