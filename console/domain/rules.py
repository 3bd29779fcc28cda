"""The DMP's read and write rules (design.md section 3), as pure functions.

The sandbox enforces them server-side; the console evaluates them again for everything it
shows or caches. Every function returns a :class:`Decision`; a refusal carries a stable
``reason`` code (used by the sandbox's OperationOutcome and by tests) and a French message
meant for the professional.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from console.domain.habilitation import HabilitationMatrix, habilitation_matrix
from console.domain.models import (
    SECRETARY_ROLE,
    AccessMode,
    Actor,
    DocStatus,
    DocumentMeta,
    PatientPolicy,
)
from console.domain.terminology import terminology

BRIS_DE_GLACE_DEFAULT_DURATION = timedelta(minutes=60)
JUSTIFICATION_MIN_CHARS = 10

BRIS_DE_GLACE_REASONS: dict[str, str] = {
    "URGENCE_VITALE": "Urgence vitale : patient hors d'état d'exprimer sa volonté, risque immédiat",
    "PATIENT_INCONSCIENT": "Patient inconscient ou confus, pronostic engagé",
    "DETRESSE_VITALE_MINEUR": "Mineur en détresse vitale, représentants légaux injoignables",
    "AUTRE_URGENCE": "Autre situation d'urgence justifiée par écrit",
}
"""Coded reasons of a bris de glace (the justification text is always required too)."""

CONSENT_METHODS: dict[str, str] = {
    "oral": "Consentement oral du patient",
    "ecrit": "Consentement écrit du patient",
    "representant_legal": "Consentement du représentant légal",
}


class Refusal(StrEnum):
    SECRETARY_NO_READ = "secretary_no_read"
    BLOCKED = "blocked"
    NO_CONSENT = "no_consent"
    UNKNOWN_CONSENT_METHOD = "unknown_consent_method"
    OPPOSED_BRIS_DE_GLACE = "opposed_bris_de_glace"
    NO_REASON = "no_reason"
    NO_JUSTIFICATION = "no_justification"
    NOT_REGULATOR = "not_regulator"
    OPPOSED_CENTRE_15 = "opposed_centre_15"
    MATRIX = "matrix"
    MASKED = "masked"
    NOT_CURRENT = "not_current"
    ARCHIVED = "archived"
    UNKNOWN_TYPE = "unknown_type"
    NOT_AUTHOR = "not_author"
    NOT_SAME_STRUCTURE = "not_same_structure"
    AUTHOR_NOT_PS = "author_not_ps"
    DEPOSIT_FOR_ANOTHER = "deposit_for_another"
    ENTOURAGE_PROFESSION = "entourage_profession"


_MESSAGES: dict[Refusal, str] = {
    Refusal.SECRETARY_NO_READ: "Un secrétariat médical ne peut pas consulter le contenu du DMP.",
    Refusal.BLOCKED: "Le patient a bloqué l'accès de ce professionnel à son DMP.",
    Refusal.NO_CONSENT: (
        "Le professionnel n'est pas autorisé par le patient : recueillez son consentement."
    ),
    Refusal.UNKNOWN_CONSENT_METHOD: "Mode de recueil du consentement inconnu.",
    Refusal.OPPOSED_BRIS_DE_GLACE: "Le patient s'est opposé à l'accès en bris de glace.",
    Refusal.NO_REASON: "Le bris de glace exige un motif codé valide.",
    Refusal.NO_JUSTIFICATION: (
        f"Le bris de glace exige une justification écrite "
        f"(au moins {JUSTIFICATION_MIN_CHARS} caractères hors espaces)."
    ),
    Refusal.NOT_REGULATOR: "Le mode centre 15 est réservé aux médecins régulateurs.",
    Refusal.OPPOSED_CENTRE_15: "Le patient s'est opposé à l'accès par le centre de régulation.",
    Refusal.MATRIX: "La matrice d'habilitation n'autorise pas cette profession pour ce type.",
    Refusal.MASKED: "Document inaccessible.",
    Refusal.NOT_CURRENT: "Ce document n'est plus en vigueur (remplacé ou supprimé).",
    Refusal.ARCHIVED: "Document archivé : il n'est listé que sur demande.",
    Refusal.UNKNOWN_TYPE: "Type de document inconnu du DMP.",
    Refusal.NOT_AUTHOR: "Seul l'auteur du document peut effectuer cette action.",
    Refusal.NOT_SAME_STRUCTURE: (
        "Le secrétariat ne peut déposer que pour un professionnel de sa structure."
    ),
    Refusal.AUTHOR_NOT_PS: "L'auteur d'un document doit être un professionnel de santé.",
    Refusal.DEPOSIT_FOR_ANOTHER: (
        "Un dépôt par un professionnel est fait en son nom propre : il en est l'auteur."
    ),
    Refusal.ENTOURAGE_PROFESSION: (
        "Cette rubrique du profil du patient n'est pas ouverte à votre profession."
    ),
}


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    reason: Refusal | None = None

    @property
    def message(self) -> str:
        return "" if self.reason is None else _MESSAGES[self.reason]

    def __bool__(self) -> bool:
        return self.allowed


ALLOW = Decision(True)


def refuse(reason: Refusal) -> Decision:
    return Decision(False, reason)


def refusal_message(reason: Refusal) -> str:
    return _MESSAGES[reason]


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """What a professional asks when opening a patient's record."""

    mode: AccessMode = AccessMode.NORMAL
    reason_code: str | None = None
    justification: str | None = None
    consent_method: str | None = None
    """How the consent was obtained, for a professional outside the care team (normal mode)."""


class UpdateAction(StrEnum):
    MASK = "mask"
    UNMASK = "unmask"
    HIDE_FROM_PATIENT = "hide_from_patient"
    SHOW_TO_PATIENT = "show_to_patient"
    DELETE = "delete"
    REPLACE = "replace"
    ARCHIVE = "archive"
    UNARCHIVE = "unarchive"


def check_patient_access(actor: Actor, patient: PatientPolicy, request: AccessRequest) -> Decision:
    """Rules 1 to 3: may ``actor`` open ``patient``'s record in ``request.mode``?"""
    if actor.is_secretary:
        return refuse(Refusal.SECRETARY_NO_READ)
    if actor.id_nat in patient.blocked:
        return refuse(Refusal.BLOCKED)
    match request.mode:
        case AccessMode.NORMAL:
            if in_care_team(actor, patient):
                return ALLOW
            if request.consent_method is None:
                return refuse(Refusal.NO_CONSENT)
            if request.consent_method not in CONSENT_METHODS:
                return refuse(Refusal.UNKNOWN_CONSENT_METHOD)
            return ALLOW
        case AccessMode.BRIS_DE_GLACE:
            if patient.opposed_bris_de_glace:
                return refuse(Refusal.OPPOSED_BRIS_DE_GLACE)
            if request.reason_code not in BRIS_DE_GLACE_REASONS:
                return refuse(Refusal.NO_REASON)
            if _non_blank(request.justification) < JUSTIFICATION_MIN_CHARS:
                return refuse(Refusal.NO_JUSTIFICATION)
            return ALLOW
        case AccessMode.CENTRE_15:
            if not actor.regulator:
                return refuse(Refusal.NOT_REGULATOR)
            if patient.opposed_centre_15:
                return refuse(Refusal.OPPOSED_CENTRE_15)
            return ALLOW


def _non_blank(text: str | None) -> int:
    return sum(not c.isspace() for c in text or "")


def in_care_team(actor: Actor, patient: PatientPolicy) -> bool:
    return (
        actor.id_nat == patient.medecin_traitant
        or actor.id_nat in patient.care_team
        or actor.id_nat in patient.mt_equivalents
    )


def may_see_masked(
    actor: Actor, patient: PatientPolicy, doc: DocumentMeta, mode: AccessMode
) -> bool:
    """Rule 5: a MASQUE_PS document is seen by its author, the médecin traitant (and those
    given the same rights), and in bris de glace; for anyone else it does not exist."""
    return (
        mode == AccessMode.BRIS_DE_GLACE
        or actor.id_nat == doc.author_id_nat
        or actor.id_nat == patient.medecin_traitant
        or actor.id_nat in patient.mt_equivalents
    )


def can_read_document(
    actor: Actor,
    patient: PatientPolicy,
    doc: DocumentMeta,
    mode: AccessMode,
    *,
    include_archived: bool = False,
    matrix: HabilitationMatrix | None = None,
) -> Decision:
    """Rules 1, 2, 4, 5 and 6 for one document, access to the record being granted."""
    if actor.is_secretary:
        return refuse(Refusal.SECRETARY_NO_READ)
    if actor.id_nat in patient.blocked:
        return refuse(Refusal.BLOCKED)
    # Rule 5 first: a masked document the actor may not see does not exist for her, so no
    # other refusal (matrix, status...) may hint at it.
    if doc.masked and not may_see_masked(actor, patient, doc, mode):
        return refuse(Refusal.MASKED)
    if doc.status != DocStatus.CURRENT:
        return refuse(Refusal.NOT_CURRENT)
    if doc.archived and not include_archived:
        return refuse(Refusal.ARCHIVED)
    if not (matrix or habilitation_matrix()).allows(actor.profession, doc.type_code):
        return refuse(Refusal.MATRIX)
    return ALLOW


def visible_documents(
    actor: Actor,
    patient: PatientPolicy,
    docs: Iterable[DocumentMeta],
    mode: AccessMode,
    *,
    include_archived: bool = False,
) -> list[DocumentMeta]:
    """The documents ``actor`` may see, in input order: what a search may list and count."""
    matrix = habilitation_matrix()
    return [
        d
        for d in docs
        if can_read_document(
            actor, patient, d, mode, include_archived=include_archived, matrix=matrix
        )
    ]


def check_deposit(actor: Actor, patient: PatientPolicy, author: Actor, type_code: str) -> Decision:
    """May ``actor`` deposit a document of ``type_code`` authored by ``author``?

    A professional deposits in her own name; a secretary deposits on behalf of a professional
    of her own structure (the professional is the author, the secretary who entered it).
    """
    if not terminology().is_dmp_type(type_code):
        return refuse(Refusal.UNKNOWN_TYPE)
    if author.is_secretary:
        return refuse(Refusal.AUTHOR_NOT_PS)
    if actor.is_secretary:
        if actor.structure_id is None or actor.structure_id != author.structure_id:
            return refuse(Refusal.NOT_SAME_STRUCTURE)
    elif actor.id_nat != author.id_nat:
        return refuse(Refusal.DEPOSIT_FOR_ANOTHER)
    if author.id_nat in patient.blocked or actor.id_nat in patient.blocked:
        return refuse(Refusal.BLOCKED)
    return ALLOW


def check_update(
    actor: Actor, patient: PatientPolicy, doc: DocumentMeta, action: UpdateAction
) -> Decision:
    """Mask/unmask, visibility to the patient, archive, replace and delete: author only,
    on a current document."""
    if actor.id_nat in patient.blocked:
        return refuse(Refusal.BLOCKED)
    if actor.id_nat != doc.author_id_nat:
        return refuse(Refusal.NOT_AUTHOR)
    if doc.status != DocStatus.CURRENT:
        return refuse(Refusal.NOT_CURRENT)
    return ALLOW


def console_may_show(profession: str, doc: DocumentMeta, *, include_archived: bool = False) -> bool:
    """The console's own check of what the server sent (defence in depth).

    The console does not know the patient's choices (médecin traitant, blocks), so it
    re-checks what it can: the secretary never reads, the matrix, rule 6 and archives.
    Masking was decided by the server, which knows who may see a masked document.
    """
    if profession == SECRETARY_ROLE:
        return False
    if doc.status != DocStatus.CURRENT or (doc.archived and not include_archived):
        return False
    return habilitation_matrix().allows(profession, doc.type_code)


# -- "Entourage et volontés" ------------------------------------------------------------------


class EntourageSection(StrEnum):
    """The parts of the patient's "Entourage et volontés" profile section."""

    RELATIVES = "relatives"
    """The person of trust (personne de confiance) and the relatives to contact (FHIR
    RelatedPerson)."""
    ADVANCE_DIRECTIVES = "advance_directives"
    """Whether the patient wrote advance directives, when, and where they are kept (FHIR
    Consent, scope ``adr``)."""


@dataclass(frozen=True, slots=True)
class EntourageRule:
    """Which professions (matrix keys) may read one section, and why."""

    section: EntourageSection
    professions: frozenset[str]
    provisional: bool
    source: str


_HEALTH_PROFESSIONS = frozenset({"10", "21", "40", "50", "60", "70"})
"""Médecin, pharmacien, chirurgien-dentiste, sage-femme, infirmier, masseur-kinésithérapeute:
the health professions (Code de la santé publique, 4th part) the habilitation matrix gives a
row to."""

ENTOURAGE_RULES: dict[EntourageSection, EntourageRule] = {
    EntourageSection.RELATIVES: EntourageRule(
        EntourageSection.RELATIVES,
        _HEALTH_PROFESSIONS,
        provisional=True,
        source=(
            "PROVISIONAL, the project's working rule (no published matrix row found for the "
            "profile section 'Entourage et volontés' of Mon espace santé): the person of "
            "trust (CSP art. L1111-6) and the relatives to contact concern every health "
            "professional caring for the patient, so every health profession with a "
            "habilitation matrix row reads them; roles without a health profession "
            "(coordination, social work, secretaries) do not."
        ),
    ),
    EntourageSection.ADVANCE_DIRECTIVES: EntourageRule(
        EntourageSection.ADVANCE_DIRECTIVES,
        frozenset({"10", "50", "60"}),
        provisional=True,
        source=(
            "PROVISIONAL, the project's working rule: advance directives (CSP art. L1111-11) "
            "bind the physician deciding on the limitation or stopping of treatment, a "
            "decision taken after a collegial procedure with the care team; so médecins, "
            "sages-femmes (physicians of their field) and infirmiers read whether directives "
            "exist and where they are kept; pharmaciens, chirurgiens-dentistes and "
            "masseurs-kinésithérapeutes do not. To replace by the DMP's official rule."
        ),
    ),
}
"""Who reads each part of "Entourage et volontés". Both rows are PROVISIONAL (see their
source): they apply in every access mode, like the habilitation matrix."""


def may_see_entourage(profession: str, section: EntourageSection) -> bool:
    """Whether ``profession`` may read ``section`` (the console's own check, which knows
    no patient choice: the server also applies blocks and the access mode)."""
    return profession in ENTOURAGE_RULES[section].professions


def check_entourage_access(
    actor: Actor, patient: PatientPolicy, section: EntourageSection
) -> Decision:
    """May ``actor`` read ``section`` of ``patient``'s "Entourage et volontés", access to the
    record being granted (rules 1 and 2, then :data:`ENTOURAGE_RULES`)?"""
    if actor.is_secretary:
        return refuse(Refusal.SECRETARY_NO_READ)
    if actor.id_nat in patient.blocked:
        return refuse(Refusal.BLOCKED)
    if not may_see_entourage(actor.profession, section):
        return refuse(Refusal.ENTOURAGE_PROFESSION)
    return ALLOW
