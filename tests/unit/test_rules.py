"""The DMP read and write rules (design.md section 3) of console.domain.rules.

Each numbered rule has its allowed and refused cases, in every access mode; refusals are
checked for their stable ``Refusal`` reason and their French message. Two hypothesis
properties compare the functions with an oracle written from the design.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.domain.habilitation import HabilitationMatrix, habilitation_matrix
from console.domain.models import (
    SECRETARY_ROLE,
    AccessMode,
    Actor,
    DocStatus,
    DocumentMeta,
    PatientPolicy,
    Visibility,
)
from console.domain.rules import (
    ALLOW,
    BRIS_DE_GLACE_REASONS,
    CONSENT_METHODS,
    JUSTIFICATION_MIN_CHARS,
    AccessRequest,
    Decision,
    Refusal,
    UpdateAction,
    can_read_document,
    check_deposit,
    check_patient_access,
    check_update,
    in_care_team,
    may_see_masked,
    refusal_message,
    refuse,
    visible_documents,
)
from console.domain.terminology import terminology

MATRIX = habilitation_matrix()
DMP_TYPES = sorted(terminology().types)
ROW_PROFESSIONS = sorted(MATRIX.rows)
MODES = list(AccessMode)

# A type every profession with a row may read, except the secretary.
COMMON_TYPE = "11488-4"  # CR de consultation
NURSE_FORBIDDEN = "51969-4"  # génétique: forbidden to the nurse row
DENTIST_FORBIDDEN = "68599-0"
RESIDENCE = "ATTEST-RESID"  # forbidden to médecins

INS_VALUE = "255081416802538"
STRUCTURE = "STRUCT-CHU-1"
OTHER_STRUCTURE = "STRUCT-CLINIQUE-2"

GP = Actor("899700000001", "10", "Martin", "Claire", specialty="SM26")
"""The médecin traitant of the patient."""
MT_EQUIVALENT = Actor("899700000002", "10", "Bernard", "Luc", specialty="SM26")
CARE_NURSE = Actor("899700000003", "60", "Petit", "Anne")
"""In the care team, not given the médecin traitant's rights."""
AUTHOR = Actor("899700000004", "10", "Durand", "Paul", structure_id=STRUCTURE)
"""A hospital doctor, author of the documents, outside the care team."""
STRANGER = Actor("899700000005", "10", "Roux", "Marc")
"""A doctor outside the care team."""
EMERGENCY = Actor("899700000006", "10", "Faure", "Julie", specialty="SM59")
REGULATOR = Actor("899700000007", "10", "Blanc", "Eric", specialty="SM59", regulator=True)
NURSE = Actor("899700000008", "60", "Morel", "Lea")
DENTIST = Actor("899700000009", "40", "Girard", "Hugo")
BLOCKED_DOC = Actor("899700000010", "10", "Lambert", "Yves")
SECRETARY = Actor(
    "CPE-STRUCT-CHU-1-0042", SECRETARY_ROLE, "Leroy", "Sophie", structure_id=STRUCTURE
)
OTHER_DOCTOR_SAME_STRUCTURE = Actor("899700000011", "10", "Noel", "Ines", structure_id=STRUCTURE)
DOCTOR_OTHER_STRUCTURE = Actor("899700000012", "10", "Simon", "Remi", structure_id=OTHER_STRUCTURE)

PATIENT = PatientPolicy(
    ins=INS_VALUE,
    medecin_traitant=GP.id_nat,
    care_team=frozenset({CARE_NURSE.id_nat}),
    mt_equivalents=frozenset({MT_EQUIVALENT.id_nat}),
    blocked=frozenset({BLOCKED_DOC.id_nat}),
)
OPPOSED_BDG = dataclasses.replace(PATIENT, opposed_bris_de_glace=True)
OPPOSED_C15 = dataclasses.replace(PATIENT, opposed_centre_15=True)

GOOD_JUSTIFICATION = "Patient inconscient aux urgences, polytraumatisé, allergies inconnues"

NORMAL = AccessRequest()
NORMAL_CONSENT = AccessRequest(consent_method="oral")
BDG = AccessRequest(
    AccessMode.BRIS_DE_GLACE, reason_code="URGENCE_VITALE", justification=GOOD_JUSTIFICATION
)
C15 = AccessRequest(AccessMode.CENTRE_15)
# The most complete request of each mode: whatever a mode could need is given.
FULL_REQUESTS = {
    mode: AccessRequest(
        mode,
        reason_code="URGENCE_VITALE",
        justification=GOOD_JUSTIFICATION,
        consent_method="ecrit",
    )
    for mode in MODES
}

WHEN = datetime(2024, 5, 2, 10, 30, tzinfo=UTC)


def doc(
    type_code: str = COMMON_TYPE,
    *,
    author: Actor = AUTHOR,
    status: DocStatus = DocStatus.CURRENT,
    archived: bool = False,
    visibility: Iterable[Visibility] = (),
    doc_id: str = "doc-1",
) -> DocumentMeta:
    return DocumentMeta(
        id=doc_id,
        master_id=f"urn:uuid:{doc_id}",
        patient_ins=INS_VALUE,
        type_code=type_code,
        class_code=terminology().types[type_code].class_code
        if type_code in terminology().types
        else "99",
        title=f"Document {doc_id}",
        author_id_nat=author.id_nat,
        created=WHEN,
        deposited=WHEN,
        author_name=author.display_name,
        author_profession=author.profession,
        status=status,
        archived=archived,
        visibility=frozenset(visibility),
    )


def masked(
    type_code: str = COMMON_TYPE,
    *,
    author: Actor = AUTHOR,
    status: DocStatus = DocStatus.CURRENT,
    archived: bool = False,
    doc_id: str = "doc-1",
) -> DocumentMeta:
    return doc(
        type_code,
        author=author,
        status=status,
        archived=archived,
        visibility={Visibility.MASQUE_PS},
        doc_id=doc_id,
    )


def assert_allowed(decision: Decision) -> None:
    assert decision.allowed, decision.reason
    assert decision
    assert decision.reason is None
    assert decision.message == ""


def assert_refused(decision: Decision, reason: Refusal) -> None:
    assert not decision.allowed
    assert not decision
    assert decision.reason is reason
    assert decision.message == refusal_message(reason)
    assert decision.message.strip()


def as_(actor: Actor, profession: str) -> Actor:
    return dataclasses.replace(actor, profession=profession)


# --- Decision and messages -------------------------------------------------------------------

FRENCH_WORDS = (" le ", " la ", " de ", " du ", " des ", " un ", " une ", " ne ", " ce ", " il ")


@pytest.mark.parametrize("reason", list(Refusal))
def test_every_refusal_has_a_french_message(reason: Refusal) -> None:
    message = refusal_message(reason)
    assert message.strip()
    assert message == refuse(reason).message
    assert message.rstrip().endswith((".", "!"))
    assert message[0].isupper()
    assert reason.value not in message
    if reason is not Refusal.MASKED:  # deliberately terse: "Document inaccessible."
        assert any(w in f" {message.lower()} " for w in FRENCH_WORDS), message


def test_refusal_messages_are_distinct() -> None:
    messages = [refusal_message(r) for r in Refusal]
    assert len(set(messages)) == len(messages)


def test_masked_refusal_gives_no_hint() -> None:
    message = refusal_message(Refusal.MASKED).lower()
    assert "masqu" not in message
    assert "auteur" not in message


def test_allow_decision() -> None:
    assert_allowed(ALLOW)
    assert Decision(True) == ALLOW
    assert_refused(refuse(Refusal.MATRIX), Refusal.MATRIX)


def test_justification_message_states_the_minimum() -> None:
    assert str(JUSTIFICATION_MIN_CHARS) in refusal_message(Refusal.NO_JUSTIFICATION)


def test_access_request_defaults_to_normal_mode() -> None:
    assert AccessRequest().mode is AccessMode.NORMAL


# --- models -----------------------------------------------------------------------------------


def test_actor_properties() -> None:
    assert SECRETARY.is_secretary
    assert not GP.is_secretary
    assert GP.display_name == "Claire Martin"
    assert Actor("899700000099", "10").display_name == "899700000099"


def test_document_visibility_properties() -> None:
    d = doc(visibility={Visibility.MASQUE_PS, Visibility.INVISIBLE_PATIENT})
    assert d.masked and d.invisible_to_patient
    plain = doc()
    assert not plain.masked and not plain.invisible_to_patient
    assert plain.status is DocStatus.CURRENT and not plain.archived


def test_in_care_team() -> None:
    for actor in (GP, MT_EQUIVALENT, CARE_NURSE):
        assert in_care_team(actor, PATIENT)
    for actor in (AUTHOR, STRANGER, EMERGENCY, REGULATOR, NURSE, DENTIST):
        assert not in_care_team(actor, PATIENT)
    assert not in_care_team(GP, PatientPolicy(ins=INS_VALUE))


# === Rule 1: a secretary never reads ==========================================================


@pytest.mark.parametrize("mode", MODES)
def test_rule1_secretary_cannot_open_a_record(mode: AccessMode) -> None:
    assert_refused(
        check_patient_access(SECRETARY, PATIENT, FULL_REQUESTS[mode]), Refusal.SECRETARY_NO_READ
    )


@pytest.mark.parametrize("mode", MODES)
def test_rule1_secretary_refused_even_in_care_team_or_as_regulator(mode: AccessMode) -> None:
    secretary = dataclasses.replace(SECRETARY, regulator=True)
    patient = dataclasses.replace(
        PATIENT,
        medecin_traitant=secretary.id_nat,
        care_team=frozenset({secretary.id_nat}),
        mt_equivalents=frozenset({secretary.id_nat}),
    )
    assert_refused(
        check_patient_access(secretary, patient, FULL_REQUESTS[mode]), Refusal.SECRETARY_NO_READ
    )


@pytest.mark.parametrize("mode", MODES)
def test_rule1_secretary_reads_no_document(mode: AccessMode) -> None:
    docs = [doc(t, doc_id=t) for t in DMP_TYPES]
    docs.append(doc(author=SECRETARY, doc_id="own"))
    for d in docs:
        for archived in (False, True):
            assert_refused(
                can_read_document(SECRETARY, PATIENT, d, mode, include_archived=archived),
                Refusal.SECRETARY_NO_READ,
            )
    assert visible_documents(SECRETARY, PATIENT, docs, mode, include_archived=True) == []


# === Rule 2: a blocked professional has no access, in any mode ================================


@pytest.mark.parametrize("mode", MODES)
def test_rule2_blocked_professional_cannot_open_the_record(mode: AccessMode) -> None:
    assert_refused(check_patient_access(BLOCKED_DOC, PATIENT, FULL_REQUESTS[mode]), Refusal.BLOCKED)


@pytest.mark.parametrize("mode", MODES)
def test_rule2_blocked_even_as_care_team_regulator_or_author(mode: AccessMode) -> None:
    blocked = dataclasses.replace(GP, regulator=True)
    patient = dataclasses.replace(PATIENT, blocked=frozenset({GP.id_nat}))
    assert_refused(check_patient_access(blocked, patient, FULL_REQUESTS[mode]), Refusal.BLOCKED)
    for d in (doc(author=GP), masked(author=GP), doc()):
        assert_refused(can_read_document(blocked, patient, d, mode), Refusal.BLOCKED)
    assert visible_documents(blocked, patient, [doc(author=GP), doc()], mode) == []


def test_rule2_blocking_one_professional_does_not_affect_others() -> None:
    assert_allowed(check_patient_access(GP, PATIENT, NORMAL))
    assert_allowed(can_read_document(GP, PATIENT, doc(), AccessMode.NORMAL))


def test_rule2_blocked_professional_cannot_deposit() -> None:
    assert_refused(check_deposit(BLOCKED_DOC, PATIENT, BLOCKED_DOC, COMMON_TYPE), Refusal.BLOCKED)


def test_rule2_secretary_cannot_deposit_for_a_blocked_professional() -> None:
    author = dataclasses.replace(BLOCKED_DOC, structure_id=STRUCTURE)
    assert_refused(check_deposit(SECRETARY, PATIENT, author, COMMON_TYPE), Refusal.BLOCKED)


def test_rule2_blocked_secretary_cannot_deposit() -> None:
    patient = dataclasses.replace(PATIENT, blocked=frozenset({SECRETARY.id_nat}))
    assert_refused(check_deposit(SECRETARY, patient, AUTHOR, COMMON_TYPE), Refusal.BLOCKED)


@pytest.mark.parametrize("action", list(UpdateAction))
def test_rule2_blocked_author_cannot_update(action: UpdateAction) -> None:
    d = doc(author=BLOCKED_DOC)
    assert_refused(check_update(BLOCKED_DOC, PATIENT, d, action), Refusal.BLOCKED)


# === Rule 3, mode normal: care team or consent ===============================================


@pytest.mark.parametrize("actor", [GP, MT_EQUIVALENT, CARE_NURSE], ids=["mt", "mt_eq", "team"])
def test_rule3_normal_care_team_needs_no_consent(actor: Actor) -> None:
    assert_allowed(check_patient_access(actor, PATIENT, NORMAL))
    assert_allowed(check_patient_access(actor, PATIENT, AccessRequest(consent_method="bogus")))


@pytest.mark.parametrize(
    "actor", [AUTHOR, STRANGER, EMERGENCY, REGULATOR, NURSE, DENTIST], ids=lambda a: a.id_nat
)
def test_rule3_normal_outsider_needs_consent(actor: Actor) -> None:
    assert_refused(check_patient_access(actor, PATIENT, NORMAL), Refusal.NO_CONSENT)


@pytest.mark.parametrize("method", sorted(CONSENT_METHODS))
def test_rule3_normal_outsider_with_a_known_consent_method(method: str) -> None:
    request = AccessRequest(consent_method=method)
    assert_allowed(check_patient_access(STRANGER, PATIENT, request))
    assert CONSENT_METHODS[method].strip()


@pytest.mark.parametrize("method", ["", "ORAL", "oui", "telephone", " oral"])
def test_rule3_normal_unknown_consent_method(method: str) -> None:
    request = AccessRequest(consent_method=method)
    assert_refused(check_patient_access(STRANGER, PATIENT, request), Refusal.UNKNOWN_CONSENT_METHOD)


def test_rule3_normal_bris_de_glace_fields_are_no_consent() -> None:
    request = AccessRequest(reason_code="URGENCE_VITALE", justification=GOOD_JUSTIFICATION)
    assert_refused(check_patient_access(EMERGENCY, PATIENT, request), Refusal.NO_CONSENT)


def test_rule3_normal_patient_without_care_team() -> None:
    patient = PatientPolicy(ins=INS_VALUE)
    assert_refused(check_patient_access(GP, patient, NORMAL), Refusal.NO_CONSENT)
    assert_allowed(check_patient_access(GP, patient, NORMAL_CONSENT))


def test_rule3_normal_oppositions_do_not_apply() -> None:
    patient = dataclasses.replace(PATIENT, opposed_bris_de_glace=True, opposed_centre_15=True)
    assert_allowed(check_patient_access(GP, patient, NORMAL))
    assert_allowed(check_patient_access(STRANGER, patient, NORMAL_CONSENT))


# === Rule 3, mode bris de glace ===============================================================


@pytest.mark.parametrize("reason", sorted(BRIS_DE_GLACE_REASONS))
def test_rule3_bdg_allowed_with_each_coded_reason(reason: str) -> None:
    request = AccessRequest(
        AccessMode.BRIS_DE_GLACE, reason_code=reason, justification=GOOD_JUSTIFICATION
    )
    for actor in (EMERGENCY, STRANGER, NURSE, GP):
        assert_allowed(check_patient_access(actor, PATIENT, request))
    assert BRIS_DE_GLACE_REASONS[reason].strip()


def test_rule3_bdg_needs_no_consent_and_no_care_team() -> None:
    assert not in_care_team(EMERGENCY, PATIENT)
    assert_allowed(check_patient_access(EMERGENCY, PATIENT, BDG))


@pytest.mark.parametrize("actor", [EMERGENCY, GP, CARE_NURSE, REGULATOR], ids=lambda a: a.id_nat)
def test_rule3_bdg_refused_when_the_patient_opposed_it(actor: Actor) -> None:
    assert_refused(check_patient_access(actor, OPPOSED_BDG, BDG), Refusal.OPPOSED_BRIS_DE_GLACE)
    assert_refused(
        check_patient_access(actor, OPPOSED_BDG, FULL_REQUESTS[AccessMode.BRIS_DE_GLACE]),
        Refusal.OPPOSED_BRIS_DE_GLACE,
    )


def test_rule3_bdg_opposition_is_checked_before_the_reason() -> None:
    request = AccessRequest(AccessMode.BRIS_DE_GLACE)
    assert_refused(
        check_patient_access(EMERGENCY, OPPOSED_BDG, request), Refusal.OPPOSED_BRIS_DE_GLACE
    )


def test_rule3_bdg_opposition_to_centre_15_does_not_apply() -> None:
    assert_allowed(check_patient_access(EMERGENCY, OPPOSED_C15, BDG))


@pytest.mark.parametrize(
    "reason", [None, "", "urgence_vitale", "URGENCE", "Urgence vitale", "URGENCE_VITALE "]
)
def test_rule3_bdg_needs_a_coded_reason(reason: str | None) -> None:
    request = AccessRequest(
        AccessMode.BRIS_DE_GLACE, reason_code=reason, justification=GOOD_JUSTIFICATION
    )
    assert_refused(check_patient_access(EMERGENCY, PATIENT, request), Refusal.NO_REASON)


@pytest.mark.parametrize(
    "justification",
    [
        None,
        "",
        " ",
        "\n\t  \n",
        "x" * (JUSTIFICATION_MIN_CHARS - 1),
        " " * 20 + "x" * (JUSTIFICATION_MIN_CHARS - 1) + " " * 20,
        "\u00a0" * 12,
    ],
)
def test_rule3_bdg_needs_a_justification(justification: str | None) -> None:
    request = AccessRequest(
        AccessMode.BRIS_DE_GLACE, reason_code="PATIENT_INCONSCIENT", justification=justification
    )
    assert_refused(check_patient_access(EMERGENCY, PATIENT, request), Refusal.NO_JUSTIFICATION)


@pytest.mark.parametrize(
    "justification",
    [
        "x" * JUSTIFICATION_MIN_CHARS,
        "  " + "x" * JUSTIFICATION_MIN_CHARS + "\n",
        "Coma, GCS 6/15",
        GOOD_JUSTIFICATION,
    ],
)
def test_rule3_bdg_justification_long_enough(justification: str) -> None:
    request = AccessRequest(
        AccessMode.BRIS_DE_GLACE, reason_code="PATIENT_INCONSCIENT", justification=justification
    )
    assert_allowed(check_patient_access(EMERGENCY, PATIENT, request))


def test_rule3_bdg_justification_counts_non_blank_characters() -> None:
    justification = " ".join("abcdef")  # 11 characters once stripped, 6 of them non-blank
    assert len(justification.strip()) >= JUSTIFICATION_MIN_CHARS
    request = AccessRequest(
        AccessMode.BRIS_DE_GLACE, reason_code="AUTRE_URGENCE", justification=justification
    )
    assert_refused(check_patient_access(EMERGENCY, PATIENT, request), Refusal.NO_JUSTIFICATION)


def test_rule3_bdg_reason_is_checked_before_the_justification() -> None:
    request = AccessRequest(AccessMode.BRIS_DE_GLACE)
    assert_refused(check_patient_access(EMERGENCY, PATIENT, request), Refusal.NO_REASON)


# === Rule 3, mode centre 15 ===================================================================


def test_rule3_c15_regulator_allowed_without_consent_or_reason() -> None:
    assert_allowed(check_patient_access(REGULATOR, PATIENT, C15))


def test_rule3_c15_opposition_to_bris_de_glace_does_not_apply() -> None:
    assert_allowed(check_patient_access(REGULATOR, OPPOSED_BDG, C15))


@pytest.mark.parametrize(
    "actor",
    [GP, MT_EQUIVALENT, CARE_NURSE, EMERGENCY, STRANGER, NURSE, DENTIST],
    ids=lambda a: a.id_nat,
)
def test_rule3_c15_only_regulators(actor: Actor) -> None:
    assert_refused(
        check_patient_access(actor, PATIENT, FULL_REQUESTS[AccessMode.CENTRE_15]),
        Refusal.NOT_REGULATOR,
    )


def test_rule3_c15_refused_when_the_patient_opposed_it() -> None:
    assert_refused(check_patient_access(REGULATOR, OPPOSED_C15, C15), Refusal.OPPOSED_CENTRE_15)
    assert_refused(
        check_patient_access(REGULATOR, OPPOSED_C15, FULL_REQUESTS[AccessMode.CENTRE_15]),
        Refusal.OPPOSED_CENTRE_15,
    )


def test_rule3_regulator_outside_centre_15_is_an_ordinary_professional() -> None:
    assert_refused(check_patient_access(REGULATOR, PATIENT, NORMAL), Refusal.NO_CONSENT)
    assert_allowed(check_patient_access(REGULATOR, PATIENT, NORMAL_CONSENT))
    assert_allowed(check_patient_access(REGULATOR, PATIENT, BDG))


# === Rule 4: the matrix, in every mode ========================================================


def _reader_for(mode: AccessMode, profession: str) -> Actor:
    """An actor of ``profession`` who passes rules 1 to 3 in ``mode``."""
    base = REGULATOR if mode is AccessMode.CENTRE_15 else CARE_NURSE
    return as_(base, profession)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("profession", ROW_PROFESSIONS)
def test_rule4_every_profession_row_every_type(profession: str, mode: AccessMode) -> None:
    actor = _reader_for(mode, profession)
    docs = [doc(t, doc_id=t) for t in DMP_TYPES]
    for d in docs:
        decision = can_read_document(actor, PATIENT, d, mode)
        if actor.is_secretary:
            assert_refused(decision, Refusal.SECRETARY_NO_READ)
        elif MATRIX.allows(profession, d.type_code):
            assert_allowed(decision)
        else:
            assert_refused(decision, Refusal.MATRIX)
    listed = {d.type_code for d in visible_documents(actor, PATIENT, docs, mode)}
    assert listed == MATRIX.readable_types(profession)


@pytest.mark.parametrize("mode", MODES)
def test_rule4_profession_without_a_row_reads_nothing(mode: AccessMode) -> None:
    actor = _reader_for(mode, "99")
    docs = [doc(t, doc_id=t) for t in DMP_TYPES]
    for d in docs:
        assert_refused(can_read_document(actor, PATIENT, d, mode), Refusal.MATRIX)
    assert visible_documents(actor, PATIENT, docs, mode) == []


@pytest.mark.parametrize("mode", MODES)
def test_rule4_unknown_type_never_readable(mode: AccessMode) -> None:
    d = doc("00000-0")
    assert_refused(can_read_document(_reader_for(mode, "10"), PATIENT, d, mode), Refusal.MATRIX)


def test_rule4_nurse_in_bris_de_glace_still_cannot_read_a_forbidden_type() -> None:
    nurse = NURSE
    assert_allowed(check_patient_access(nurse, PATIENT, BDG))
    mode = AccessMode.BRIS_DE_GLACE
    assert_refused(can_read_document(nurse, PATIENT, doc(NURSE_FORBIDDEN), mode), Refusal.MATRIX)
    assert_allowed(can_read_document(nurse, PATIENT, doc(COMMON_TYPE), mode))
    # even masked documents, which bris de glace shows, stay behind the matrix
    assert_refused(can_read_document(nurse, PATIENT, masked(NURSE_FORBIDDEN), mode), Refusal.MATRIX)


def test_rule4_dentist_never_reads_68599_0_in_any_mode() -> None:
    dentist_mt = as_(GP, "40")
    for mode, actor in (
        (AccessMode.NORMAL, dentist_mt),
        (AccessMode.BRIS_DE_GLACE, DENTIST),
        (AccessMode.CENTRE_15, as_(REGULATOR, "40")),
    ):
        for d in (doc(DENTIST_FORBIDDEN), doc(DENTIST_FORBIDDEN, author=actor)):
            assert_refused(can_read_document(actor, PATIENT, d, mode), Refusal.MATRIX)


def test_rule4_medecin_author_cannot_read_the_residence_attestation() -> None:
    d = doc(RESIDENCE, author=GP)
    for mode in MODES:
        actor = dataclasses.replace(GP, regulator=True)
        assert_refused(can_read_document(actor, PATIENT, d, mode), Refusal.MATRIX)


def test_rule4_explicit_matrix_is_used() -> None:
    custom = HabilitationMatrix.from_data(
        {
            "rows": [
                {
                    "profession": "60",
                    "label": "Infirmier",
                    "rule": "only",
                    "types": [NURSE_FORBIDDEN],
                    "provisional": True,
                    "source": "test",
                }
            ]
        },
        DMP_TYPES,
    )
    mode = AccessMode.NORMAL
    assert_allowed(
        can_read_document(CARE_NURSE, PATIENT, doc(NURSE_FORBIDDEN), mode, matrix=custom)
    )
    assert_refused(
        can_read_document(CARE_NURSE, PATIENT, doc(COMMON_TYPE), mode, matrix=custom),
        Refusal.MATRIX,
    )
    assert_refused(
        can_read_document(GP, PATIENT, doc(COMMON_TYPE), mode, matrix=custom), Refusal.MATRIX
    )


# === Rule 5: MASQUE_PS documents ==============================================================


@pytest.mark.parametrize("mode", MODES)
def test_rule5_author_sees_her_masked_document(mode: AccessMode) -> None:
    actor = dataclasses.replace(AUTHOR, regulator=True)
    assert_allowed(can_read_document(actor, PATIENT, masked(author=actor), mode))


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("actor", [GP, MT_EQUIVALENT], ids=["mt", "mt_eq"])
def test_rule5_medecin_traitant_and_equivalents_see_masked(actor: Actor, mode: AccessMode) -> None:
    actor = dataclasses.replace(actor, regulator=True)
    assert may_see_masked(actor, PATIENT, masked(), mode)
    assert_allowed(can_read_document(actor, PATIENT, masked(), mode))


@pytest.mark.parametrize(
    "actor", [EMERGENCY, STRANGER, NURSE, DENTIST, CARE_NURSE], ids=lambda a: a.id_nat
)
def test_rule5_bris_de_glace_shows_masked(actor: Actor) -> None:
    assert_allowed(can_read_document(actor, PATIENT, masked(), AccessMode.BRIS_DE_GLACE))


@pytest.mark.parametrize("mode", [AccessMode.NORMAL, AccessMode.CENTRE_15])
@pytest.mark.parametrize(
    "actor",
    [CARE_NURSE, STRANGER, EMERGENCY, REGULATOR, NURSE, DENTIST, OTHER_DOCTOR_SAME_STRUCTURE],
    ids=lambda a: a.id_nat,
)
def test_rule5_masked_document_invisible_to_anyone_else(actor: Actor, mode: AccessMode) -> None:
    d = masked()
    assert not may_see_masked(actor, PATIENT, d, mode)
    assert_refused(can_read_document(actor, PATIENT, d, mode), Refusal.MASKED)
    assert visible_documents(actor, PATIENT, [d], mode, include_archived=True) == []


def test_rule5_secretary_who_entered_a_masked_document_cannot_see_it() -> None:
    d = dataclasses.replace(masked(), entered_by=SECRETARY.id_nat)
    assert_refused(
        can_read_document(SECRETARY, PATIENT, d, AccessMode.NORMAL), Refusal.SECRETARY_NO_READ
    )


@pytest.mark.parametrize("mode", [AccessMode.NORMAL, AccessMode.CENTRE_15])
def test_rule5_visible_documents_neither_returns_nor_counts_masked(mode: AccessMode) -> None:
    actor = REGULATOR if mode is AccessMode.CENTRE_15 else CARE_NURSE
    docs = [
        doc(doc_id="a"),
        masked(doc_id="b"),
        doc(doc_id="c", visibility={Visibility.INVISIBLE_PATIENT}),
        masked(doc_id="d", author=GP),
        doc(doc_id="e"),
    ]
    listed = visible_documents(actor, PATIENT, docs, mode)
    assert [d.id for d in listed] == ["a", "c", "e"]
    assert len(listed) == 3
    assert not any(d.masked for d in listed)
    # the médecin traitant sees all five, in input order
    assert [d.id for d in visible_documents(GP, PATIENT, docs, mode)] == ["a", "b", "c", "d", "e"]
    # the author of "b" sees it, not "d"
    author = dataclasses.replace(AUTHOR, regulator=True)
    patient = dataclasses.replace(PATIENT, care_team=frozenset({AUTHOR.id_nat}))
    seen = visible_documents(author, patient, docs, mode)
    assert [d.id for d in seen] == ["a", "b", "c", "e"]


def test_rule5_bris_de_glace_lists_masked_documents() -> None:
    docs = [doc(doc_id="a"), masked(doc_id="b"), masked(doc_id="c", author=GP)]
    listed = visible_documents(EMERGENCY, PATIENT, docs, AccessMode.BRIS_DE_GLACE)
    assert [d.id for d in listed] == ["a", "b", "c"]


@pytest.mark.parametrize(
    "hidden",
    [
        masked(NURSE_FORBIDDEN),
        masked(status=DocStatus.SUPERSEDED),
        masked(archived=True),
    ],
    ids=["forbidden-type", "superseded", "archived"],
)
def test_rule5_hidden_masked_document_gives_no_other_reason(hidden: DocumentMeta) -> None:
    assert_refused(can_read_document(NURSE, PATIENT, hidden, AccessMode.NORMAL), Refusal.MASKED)


# === Rule 6: deleted, superseded, archived ====================================================


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("status", [DocStatus.SUPERSEDED, DocStatus.ENTERED_IN_ERROR])
def test_rule6_not_current_never_listed(status: DocStatus, mode: AccessMode) -> None:
    actor = dataclasses.replace(GP, regulator=True)
    for d in (
        doc(status=status),
        doc(status=status, author=actor),
        doc(status=status, archived=True),
        masked(status=status, author=actor),
    ):
        for include_archived in (False, True):
            assert_refused(
                can_read_document(actor, PATIENT, d, mode, include_archived=include_archived),
                Refusal.NOT_CURRENT,
            )
            assert (
                visible_documents(actor, PATIENT, [d], mode, include_archived=include_archived)
                == []
            )


@pytest.mark.parametrize("mode", MODES)
def test_rule6_archived_only_on_request(mode: AccessMode) -> None:
    actor = dataclasses.replace(GP, regulator=True)
    d = doc(archived=True)
    assert_refused(can_read_document(actor, PATIENT, d, mode), Refusal.ARCHIVED)
    assert_allowed(can_read_document(actor, PATIENT, d, mode, include_archived=True))
    docs = [doc(doc_id="live"), doc(doc_id="old", archived=True)]
    assert [x.id for x in visible_documents(actor, PATIENT, docs, mode)] == ["live"]
    with_archived = visible_documents(actor, PATIENT, docs, mode, include_archived=True)
    assert [x.id for x in with_archived] == ["live", "old"]


def test_rule6_archived_still_obeys_the_matrix_and_masking() -> None:
    mode = AccessMode.NORMAL
    assert_refused(
        can_read_document(
            CARE_NURSE, PATIENT, doc(NURSE_FORBIDDEN, archived=True), mode, include_archived=True
        ),
        Refusal.MATRIX,
    )
    assert_refused(
        can_read_document(CARE_NURSE, PATIENT, masked(archived=True), mode, include_archived=True),
        Refusal.MASKED,
    )


# === INVISIBLE_PATIENT has no effect on professionals =========================================


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "flags",
    [
        {Visibility.INVISIBLE_PATIENT},
        {Visibility.INVISIBLE_REPRESENTANTS_LEGAUX},
        {Visibility.INVISIBLE_PATIENT, Visibility.INVISIBLE_REPRESENTANTS_LEGAUX},
    ],
    ids=["patient", "representants", "both"],
)
def test_invisible_patient_has_no_effect_on_professionals(
    flags: set[Visibility], mode: AccessMode
) -> None:
    actor = _reader_for(mode, "10")
    hidden = doc(visibility=flags)
    plain = doc()
    assert can_read_document(actor, PATIENT, hidden, mode) == can_read_document(
        actor, PATIENT, plain, mode
    )
    assert_allowed(can_read_document(actor, PATIENT, hidden, mode))
    assert visible_documents(actor, PATIENT, [hidden], mode) == [hidden]
    # combined with MASQUE_PS, masking alone decides
    both = doc(visibility=flags | {Visibility.MASQUE_PS})
    assert can_read_document(actor, PATIENT, both, mode) == can_read_document(
        actor, PATIENT, masked(), mode
    )


# === Deposit ==================================================================================


@pytest.mark.parametrize(
    "actor", [GP, STRANGER, NURSE, DENTIST, EMERGENCY, REGULATOR], ids=lambda a: a.id_nat
)
def test_deposit_ps_as_herself(actor: Actor) -> None:
    assert_allowed(check_deposit(actor, PATIENT, actor, COMMON_TYPE))


def test_deposit_every_dmp_type() -> None:
    for type_code in DMP_TYPES:
        assert_allowed(check_deposit(GP, PATIENT, GP, type_code))
        assert_allowed(check_deposit(SECRETARY, PATIENT, AUTHOR, type_code))


@pytest.mark.parametrize("type_code", ["", "00000-0", "attest-resid", "11488-4 ", "PDF"])
def test_deposit_unknown_type_refused(type_code: str) -> None:
    assert_refused(check_deposit(GP, PATIENT, GP, type_code), Refusal.UNKNOWN_TYPE)
    assert_refused(check_deposit(SECRETARY, PATIENT, AUTHOR, type_code), Refusal.UNKNOWN_TYPE)


def test_deposit_ps_cannot_deposit_for_another_ps() -> None:
    assert_refused(check_deposit(GP, PATIENT, STRANGER, COMMON_TYPE), Refusal.DEPOSIT_FOR_ANOTHER)
    assert_refused(
        check_deposit(OTHER_DOCTOR_SAME_STRUCTURE, PATIENT, AUTHOR, COMMON_TYPE),
        Refusal.DEPOSIT_FOR_ANOTHER,
    )


@pytest.mark.parametrize("author", [AUTHOR, OTHER_DOCTOR_SAME_STRUCTURE], ids=lambda a: a.id_nat)
def test_deposit_secretary_for_a_ps_of_her_structure(author: Actor) -> None:
    assert author.structure_id == SECRETARY.structure_id
    assert_allowed(check_deposit(SECRETARY, PATIENT, author, COMMON_TYPE))


@pytest.mark.parametrize(
    "author",
    [
        DOCTOR_OTHER_STRUCTURE,
        GP,  # no structure
        dataclasses.replace(AUTHOR, structure_id=STRUCTURE.lower()),
    ],
    ids=["other", "none", "case"],
)
def test_deposit_secretary_outside_her_structure(author: Actor) -> None:
    assert_refused(
        check_deposit(SECRETARY, PATIENT, author, COMMON_TYPE), Refusal.NOT_SAME_STRUCTURE
    )


def test_deposit_secretary_without_structure() -> None:
    secretary = dataclasses.replace(SECRETARY, structure_id=None)
    assert_refused(check_deposit(secretary, PATIENT, GP, COMMON_TYPE), Refusal.NOT_SAME_STRUCTURE)
    assert_refused(
        check_deposit(secretary, PATIENT, AUTHOR, COMMON_TYPE), Refusal.NOT_SAME_STRUCTURE
    )


def test_deposit_author_must_not_be_a_secretary() -> None:
    assert_refused(check_deposit(SECRETARY, PATIENT, SECRETARY, COMMON_TYPE), Refusal.AUTHOR_NOT_PS)
    assert_refused(check_deposit(AUTHOR, PATIENT, SECRETARY, COMMON_TYPE), Refusal.AUTHOR_NOT_PS)
    other_secretary = dataclasses.replace(SECRETARY, id_nat="CPE-STRUCT-CHU-1-0043")
    assert_refused(
        check_deposit(SECRETARY, PATIENT, other_secretary, COMMON_TYPE), Refusal.AUTHOR_NOT_PS
    )


def test_deposit_is_not_a_read() -> None:
    # rule 1 forbids the secretary to read, not to deposit; oppositions concern access modes
    assert_refused(
        check_patient_access(SECRETARY, OPPOSED_BDG, NORMAL_CONSENT), Refusal.SECRETARY_NO_READ
    )
    assert_allowed(check_deposit(SECRETARY, OPPOSED_BDG, AUTHOR, COMMON_TYPE))


# === Update: author only, current documents only ==============================================


@pytest.mark.parametrize("action", list(UpdateAction))
def test_update_by_the_author(action: UpdateAction) -> None:
    assert_allowed(check_update(AUTHOR, PATIENT, doc(), action))
    assert_allowed(check_update(AUTHOR, PATIENT, masked(), action))
    assert_allowed(check_update(AUTHOR, PATIENT, doc(archived=True), action))


@pytest.mark.parametrize("action", list(UpdateAction))
@pytest.mark.parametrize(
    "actor",
    [GP, MT_EQUIVALENT, CARE_NURSE, STRANGER, REGULATOR, SECRETARY],
    ids=lambda a: a.id_nat,
)
def test_update_by_anyone_else_refused(actor: Actor, action: UpdateAction) -> None:
    d = dataclasses.replace(doc(), entered_by=SECRETARY.id_nat)
    assert_refused(check_update(actor, PATIENT, d, action), Refusal.NOT_AUTHOR)


@pytest.mark.parametrize("action", list(UpdateAction))
@pytest.mark.parametrize("status", [DocStatus.SUPERSEDED, DocStatus.ENTERED_IN_ERROR])
def test_update_of_a_document_no_longer_current(status: DocStatus, action: UpdateAction) -> None:
    assert_refused(check_update(AUTHOR, PATIENT, doc(status=status), action), Refusal.NOT_CURRENT)


# === Properties ===============================================================================

ID_POOL = [f"8997000001{i:02d}" for i in range(6)]
ids = st.sampled_from(ID_POOL)
id_sets = st.frozensets(ids, max_size=3)
professions = st.one_of(
    st.sampled_from(ROW_PROFESSIONS),
    st.sampled_from(["99", "GENR01", "", "SM26"]),
    st.text(max_size=6),
)
actors = st.builds(
    Actor,
    id_nat=ids,
    profession=professions,
    structure_id=st.sampled_from([None, STRUCTURE, OTHER_STRUCTURE]),
    regulator=st.booleans(),
)
patients = st.builds(
    PatientPolicy,
    ins=st.just(INS_VALUE),
    medecin_traitant=st.none() | ids,
    care_team=id_sets,
    mt_equivalents=id_sets,
    blocked=st.frozensets(ids, max_size=2),
    opposed_bris_de_glace=st.booleans(),
    opposed_centre_15=st.booleans(),
)
documents = st.builds(
    DocumentMeta,
    id=st.uuids().map(str),
    master_id=st.uuids().map(str),
    patient_ins=st.just(INS_VALUE),
    type_code=st.one_of(st.sampled_from(DMP_TYPES), st.sampled_from(["00000-0", "", "X"])),
    class_code=st.just("10"),
    title=st.just("t"),
    author_id_nat=ids,
    created=st.just(WHEN),
    deposited=st.just(WHEN),
    status=st.sampled_from(list(DocStatus)),
    archived=st.booleans(),
    visibility=st.frozensets(st.sampled_from(list(Visibility))),
)
modes = st.sampled_from(MODES)


def oracle_readable(
    actor: Actor, patient: PatientPolicy, d: DocumentMeta, mode: AccessMode, include_archived: bool
) -> bool:
    """design.md rules 1, 2, 4, 5 and 6, written independently of rules.py."""
    if actor.profession == SECRETARY_ROLE or actor.id_nat in patient.blocked:
        return False
    if d.status != DocStatus.CURRENT or (d.archived and not include_archived):
        return False
    if d.type_code not in terminology().types:
        return False
    row = MATRIX.rows.get(actor.profession)
    if row is None:
        return False
    listed = d.type_code in row.types
    if listed != (row.rule == "only"):
        return False
    if Visibility.MASQUE_PS in d.visibility and mode != AccessMode.BRIS_DE_GLACE:
        privileged = {d.author_id_nat, patient.medecin_traitant, *patient.mt_equivalents}
        return actor.id_nat in privileged
    return True


@settings(max_examples=300, deadline=None)
@given(
    actor=actors,
    patient=patients,
    docs=st.lists(documents, max_size=25),
    mode=modes,
    include_archived=st.booleans(),
)
def test_property_visible_documents(
    actor: Actor,
    patient: PatientPolicy,
    docs: list[DocumentMeta],
    mode: AccessMode,
    include_archived: bool,
) -> None:
    listed = visible_documents(actor, patient, docs, mode, include_archived=include_archived)
    assert listed == [
        d
        for d in docs
        if can_read_document(actor, patient, d, mode, include_archived=include_archived)
    ]
    assert listed == [d for d in docs if oracle_readable(actor, patient, d, mode, include_archived)]
    for d in listed:
        assert MATRIX.allows(actor.profession, d.type_code)
        assert d.status is DocStatus.CURRENT
        assert include_archived or not d.archived
        assert not actor.is_secretary
        assert actor.id_nat not in patient.blocked
        if d.masked and mode is not AccessMode.BRIS_DE_GLACE:
            assert actor.id_nat in (
                {d.author_id_nat, patient.medecin_traitant} | patient.mt_equivalents
            )


requests = st.builds(
    AccessRequest,
    mode=modes,
    reason_code=st.none() | st.sampled_from([*BRIS_DE_GLACE_REASONS, "", "X"]),
    justification=st.none() | st.sampled_from(["", "   ", "court", GOOD_JUSTIFICATION]),
    consent_method=st.none() | st.sampled_from([*CONSENT_METHODS, "", "X"]),
)


def oracle_access(actor: Actor, patient: PatientPolicy, request: AccessRequest) -> bool:
    """design.md rules 1 to 3, written independently of rules.py."""
    if actor.profession == SECRETARY_ROLE or actor.id_nat in patient.blocked:
        return False
    if request.mode == AccessMode.NORMAL:
        team = {patient.medecin_traitant, *patient.care_team, *patient.mt_equivalents}
        return actor.id_nat in team or request.consent_method in CONSENT_METHODS
    if request.mode == AccessMode.BRIS_DE_GLACE:
        return (
            not patient.opposed_bris_de_glace
            and request.reason_code in BRIS_DE_GLACE_REASONS
            and len((request.justification or "").strip()) >= JUSTIFICATION_MIN_CHARS
        )
    return actor.regulator and not patient.opposed_centre_15


@settings(max_examples=300, deadline=None)
@given(actor=actors, patient=patients, request=requests)
def test_property_patient_access(
    actor: Actor, patient: PatientPolicy, request: AccessRequest
) -> None:
    decision = check_patient_access(actor, patient, request)
    assert isinstance(decision, Decision)
    assert decision.allowed is oracle_access(actor, patient, request)
    assert (decision.reason is None) is decision.allowed
    if not decision.allowed:
        assert decision.message.strip()
