"""FHIR R4 JSON of the sandbox: builders of what it answers, parsers of what it accepts.

Resources are plain ``dict`` s (the JSON the wire carries), built as the ANS PDSm profile (IHE
MHD) shapes them. The parsers raise :class:`~sandbox.errors.FhirError` with the status the
sandbox promises: 400 for malformed or incomplete input, 422 for input that is well formed but
invalid (INS key, document type, dates, codes...).

Shapes (``{base}`` is ``Settings.base_url``)::

    DocumentReference  id, meta.lastUpdated, contained [Practitioner #author (identifier
                       idNat, name.text, qualification TRE_G15), Organization #structure,
                       Practitioner #enterer (secretary, when any)], extension [data-enterer
                       -> #enterer, archived (valueBoolean, only when true)], masterIdentifier
                       {system urn:ietf:rfc:3986, value}, status, type.coding[0] {system,
                       code, display}, category[0].coding[0] (TRE_A03), subject.identifier
                       (INS), date (deposit instant), author [#author, #structure],
                       description (title), securityLabel (TRE_A07 codes, or HL7 N when
                       none), relatesTo [{code replaces, target DocumentReference/<id>}],
                       content[0].attachment {contentType, url {base}/Binary/<id>, size,
                       hash (base64 SHA-1), title, creation}, context.period.start (act date)
    searchset Bundle   type searchset, total (what the caller may see, never more), link
                       [self, next?, previous?] (absolute, keeping the parameters, _count and
                       _offset explicit), entry [{fullUrl {base}/<Type>/<id>, resource,
                       search.mode match}]
    ITI-65 request     Bundle type transaction; entry [{fullUrl urn:uuid:..., resource,
                       request {method POST, url <Type>}}]: one List (code submissionset,
                       subject.identifier INS, entry[].item.reference = the documents'
                       fullUrls), DocumentReference(s) (see :func:`submission_bundle`: author
                       -> contained Practitioner with its idNat; attachment.url = the
                       Binary's fullUrl; size and base64 SHA-1 hash checked when given), one
                       Binary per document {contentType, data base64}
    ITI-65 response    Bundle type transaction-response, one entry per request entry, same
                       order: response {status "201 Created", location <Type>/<id>,
                       lastModified}; the List id is the submission id, Binary id = document id
    AuditEvent         type (audit-event-type rest, or DICOM 110113 for bris de glace),
                       subtype[0] (restful-interaction code, or sandbox audit-subtype),
                       action, recorded, outcome, outcomeDesc (refusals), agent[0] {who
                       {identifier idNat, display}, requestor, purposeOfUse TRE_R248},
                       source.observer.display "DMP sandbox", entity [{what.identifier INS,
                       description}, {what.reference DocumentReference/<id>}...]
    Immunization       status completed, vaccineCode.coding[0] (resources/vaccines.json),
                       patient.identifier INS, occurrenceDateTime, recorded, primarySource,
                       lotNumber, performer[0].actor {identifier idNat, display}
    Patient            id (NIR), identifier INS, name, gender, birthDate, address[0].city;
                       with a patient token of that patient, generalPractitioner[0] {type
                       Practitioner, identifier idNat, display} (the médecin traitant)
    RelatedPerson      active, patient.identifier INS, relationship [TRE_R260 role (NOK
                       personne de confiance, ECON personne à prévenir)..., TRE_R216 relation
                       (SPS, MTH...)], name, gender, telecom [phone, use, rank], extension
                       contact-rank (valuePositiveInt, relatives to contact only)
    Consent            advance directives: status active, scope consentscope adr, category
                       [LOINC 75320-2 + consentcategorycodes acd], patient.identifier INS,
                       dateTime (when recorded), policyRule.text (CSP art. L1111-11),
                       extension advance-directives-written (valueBoolean),
                       advance-directives-date (valueDate), advance-directives-location
                       (valueString)
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from console.domain.errors import InvalidINSError
from console.domain.ins import INS
from console.domain.models import DocumentMeta, Visibility
from console.domain.profile import (
    ADVANCE_DIRECTIVE_CATEGORY,
    ADVANCE_DIRECTIVE_SCOPE,
    CONSENT_CATEGORY_SYSTEM,
    CONSENT_SCOPE_SYSTEM,
    CONTACT_RANK_URL,
    DIRECTIVES_DATE_URL,
    DIRECTIVES_LOCATION_URL,
    DIRECTIVES_WRITTEN_URL,
    LOINC_ADVANCE_DIRECTIVE,
    RELATIONSHIP_LABELS,
    ROLE_LABELS,
    TRE_R216_SYSTEM,
    TRE_R260_SYSTEM,
)
from console.domain.terminology import terminology
from console.resources import load_json
from sandbox.config import Settings
from sandbox.errors import FHIR_JSON, FhirError

FHIR_VERSION = "4.0.1"
IDNAT_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
"""Identifiers of health professionals (idNat_PS, RPPS/ADELI based)."""
STRUCTURE_SYSTEM = "urn:oid:1.2.250.1.71.4.2.2"
"""Identifiers of health structures (idNat_Struct)."""
URI_SYSTEM = "urn:ietf:rfc:3986"
PROFESSION_SYSTEM = (
    "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
)
CONFIDENTIALITY_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
MHD_LIST_TYPES = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
AUDIT_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/audit-event-type"
DICOM_SYSTEM = "http://dicom.nema.org/resources/ontology/DCM"
RESTFUL_INTERACTION_SYSTEM = "http://hl7.org/fhir/restful-interaction"
SANDBOX_AUDIT_SUBTYPE_SYSTEM = "https://sandbox.dmp.local/fhir/CodeSystem/audit-subtype"
SECURITY_SOURCE_SYSTEM = "http://terminology.hl7.org/CodeSystem/security-source-type"
INS_TYPE_SYSTEM = "http://interopsante.org/fhir/CodeSystem/fr-v2-0203"
SANDBOX_SD = "https://sandbox.dmp.local/fhir/StructureDefinition"
DATA_ENTERER_URL = f"{SANDBOX_SD}/data-enterer"
"""Extension (valueReference to a contained Practitioner): who entered a document on behalf of
its author (a secretary)."""
ARCHIVED_URL = f"{SANDBOX_SD}/archived"
"""Extension (valueBoolean), present and true on archived documents only."""

BINARY_CONTENT_TYPES = frozenset(
    {"application/pdf", "text/plain", "text/xml", "image/jpeg", "image/png"}
)
FHIR_BODY_TYPES = frozenset({FHIR_JSON, "application/json"})
ALLOWED_CLOCK_SKEW = timedelta(minutes=5)
"""How far in the future a date of act may be (client clocks drift)."""

# Display order of the visibility codes in DocumentReference.securityLabel (PATCH indexes
# ``/securityLabel/<n>`` refer to this order).
VISIBILITY_ORDER: tuple[Visibility, ...] = (
    Visibility.MASQUE_PS,
    Visibility.INVISIBLE_PATIENT,
    Visibility.INVISIBLE_REPRESENTANTS_LEGAUX,
)


# -- code systems from resources/ -------------------------------------------------------------
@cache
def visibility_system() -> str:
    return str(load_json("tre_a07_visibilite.json")["system"])


@cache
def visibility_labels() -> dict[str, str]:
    return {str(k): str(v) for k, v in load_json("tre_a07_visibilite.json")["codes"].items()}


@cache
def access_mode_system() -> str:
    return str(load_json("tre_r248_mode_acces.json")["system"])


@cache
def access_mode_labels() -> dict[str, str]:
    return {str(k): str(v) for k, v in load_json("tre_r248_mode_acces.json")["codes"].items()}


@dataclass(frozen=True, slots=True)
class Vaccine:
    system: str
    code: str
    display: str


@cache
def vaccines() -> dict[str, Vaccine]:
    """The vaccines an Immunization may carry (``resources/vaccines.json``), by code."""
    raw = load_json("vaccines.json")
    system = str(raw["system"])
    return {
        str(v["code"]): Vaccine(system, str(v["code"]), str(v["display"])) for v in raw["vaccines"]
    }


# -- time -----------------------------------------------------------------------------------------
def aware(dt: datetime) -> datetime:
    """``dt`` with a timezone (UTC assumed when it has none)."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


def iso(dt: datetime) -> str:
    """A FHIR dateTime / instant (always with a timezone)."""
    return aware(dt).isoformat()


_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?(?:Z|[+-]\d{2}:\d{2})?$"
)
_SPACED_OFFSET = re.compile(r" (\d{2}:\d{2})$")


def datetime_range(text: str) -> tuple[datetime, datetime]:
    """The ``[start, end)`` range a FHIR date or dateTime denotes (UTC when no zone).

    ``2024`` -> the year, ``2024-03`` -> the month, ``2024-03-05`` -> the day,
    ``2024-03-05T10:00`` -> the minute, ``...:30`` -> the second. Raises ValueError.
    """
    # An unencoded "+01:00" in a query string arrives as " 01:00".
    text = _SPACED_OFFSET.sub(r"+\1", text.strip())
    match = _DATE.match(text)
    if match:
        year, month, day = int(match[1]), int(match[2] or 1), int(match[3] or 1)
        start = datetime(year, month, day, tzinfo=UTC)
        if match[3]:
            return start, start + timedelta(days=1)
        if match[2]:
            days = calendar.monthrange(year, month)[1]
            return start, start + timedelta(days=days)
        return start, datetime(year + 1, 1, 1, tzinfo=UTC)
    if not _DATETIME.match(text):
        raise ValueError(f"date FHIR invalide : {text!r}")
    start = aware(datetime.fromisoformat(text))
    time_part = re.split(r"Z|[+-]\d{2}:\d{2}$", text.split("T", 1)[1])[0]
    if "." in time_part:
        step = timedelta(microseconds=1)
    elif time_part.count(":") == 2:
        step = timedelta(seconds=1)
    else:
        step = timedelta(minutes=1)
    return start, start + step


# -- small pieces ---------------------------------------------------------------------------------
def coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def ins_identifier(system: str, value: str) -> dict[str, Any]:
    return {"system": system, "value": value}


def idnat_identifier(id_nat: str) -> dict[str, Any]:
    return {"system": IDNAT_SYSTEM, "value": id_nat}


def sha1_base64(hex_digest: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_digest)).decode("ascii")


def security_labels(visibility: Iterable[Visibility]) -> list[dict[str, Any]]:
    """TRE_A07 codes in :data:`VISIBILITY_ORDER`, or the HL7 ``N`` (normal) label alone."""
    present = set(visibility)
    labels = visibility_labels()
    codes = [v for v in VISIBILITY_ORDER if v in present]
    if not codes:
        return [{"coding": [coding(CONFIDENTIALITY_SYSTEM, "N", "normal")]}]
    return [{"coding": [coding(visibility_system(), v.value, labels.get(v.value))]} for v in codes]


# -- builders --------------------------------------------------------------------------------------
def capability_statement(settings: Settings, *, published: str = "2024-01-01") -> dict[str, Any]:
    base = settings.base_url
    ins_param = {
        "name": "patient.identifier",
        "type": "token",
        "documentation": "INS of the patient: urn:oid:1.2.250.1.213.1.4.8|<NIR> (or test OID "
        "...4.10). Requires a patient-scoped token for that patient.",
    }

    def paging(*extra: dict[str, Any]) -> list[dict[str, Any]]:
        return [
            ins_param,
            *extra,
            {"name": "_count", "type": "number", "documentation": "page size"},
            {"name": "_offset", "type": "number", "documentation": "paging offset"},
        ]

    def param(name: str, kind: str, doc: str) -> dict[str, Any]:
        return {"name": name, "type": kind, "documentation": doc}

    security_doc = (
        "Bearer tokens. CPS card: POST /auth/challenge -> nonce; POST /auth/card "
        "{certificate, nonce, signature, algorithm}. e-CPS (CIBA): POST /auth/ciba, then poll "
        "POST /auth/token (grant_type urn:openid:params:grant-type:ciba). Access mode: POST "
        "/auth/access {patient, mode (normal | bris_de_glace | centre_15), reason_code, "
        "justification, consent} with the professional token -> a patient-scoped token "
        "carrying the purpose of use, required by every patient-data call; POST "
        "/auth/access/end closes it."
    )
    return {
        "resourceType": "CapabilityStatement",
        "id": "dmp-sandbox",
        "url": f"{base}/metadata",
        "name": "DMPSandbox",
        "title": "DMP sandbox (local double of the DMP, PDSm / IHE MHD)",
        "status": "active",
        "experimental": True,
        "date": published,
        "publisher": "staff-console project",
        "description": "Local double of the French DMP for development and tests. Test data "
        "only. Rules of the DMP (habilitation matrix, masking, access modes) are enforced.",
        "kind": "instance",
        "software": {"name": "dmp-sandbox", "version": "1"},
        "implementation": {"description": "DMP sandbox on loopback", "url": base},
        "fhirVersion": FHIR_VERSION,
        "format": [FHIR_JSON, "json"],
        "patchFormat": ["application/json-patch+json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "IHE MHD document responder (ITI-65, ITI-67, ITI-68) and "
                "patient identity lookup by INS.",
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                coding(
                                    "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "OAuth",
                                    "OAuth",
                                )
                            ],
                            "text": "Bearer tokens from CPS card or e-CPS login",
                        }
                    ],
                    "description": security_doc,
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/"
                            "oauth-uris",
                            "extension": [
                                {"url": "token", "valueUri": f"{base}/auth/token"},
                                {"url": "authorize", "valueUri": f"{base}/auth/ciba"},
                            ],
                        }
                    ],
                },
                "resource": [
                    {
                        "type": "Patient",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": [
                            param("identifier", "token", "INS: <system>|<NIR>"),
                        ],
                    },
                    {
                        "type": "DocumentReference",
                        "interaction": [
                            {"code": "read"},
                            {"code": "search-type"},
                            {"code": "patch"},
                        ],
                        "searchParam": paging(
                            param("status", "token", "current (default); others never listed"),
                            param("type", "token", "document type, code or system|code, comma=OR"),
                            param("category", "token", "document class (TRE_A03)"),
                            param("period-start", "date", "date of the act >= value"),
                            param("period-end", "date", "date of the act <= value"),
                            param("date", "date", "deposit date, prefixes eq ge gt le lt"),
                            param("author", "token", "author idNat"),
                            param("author.identifier", "token", "author idNat"),
                            param("security-label", "token", "TRE_A07 code, or N"),
                            param("isArchived", "token", "true: archived documents only"),
                        ),
                    },
                    {"type": "Binary", "interaction": [{"code": "read"}]},
                    {
                        "type": "AuditEvent",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": paging(),
                    },
                    {
                        "type": "Immunization",
                        "interaction": [{"code": "search-type"}, {"code": "create"}],
                        "searchParam": paging(),
                    },
                    {
                        "type": "RelatedPerson",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": paging(
                            param(
                                "relationship",
                                "token",
                                "TRE_R260 role (NOK personne de confiance, ECON personne à "
                                "prévenir) or TRE_R216 relation, comma=OR",
                            ),
                        ),
                    },
                    {
                        "type": "Consent",
                        "interaction": [{"code": "search-type"}],
                        "searchParam": paging(
                            param(
                                "category",
                                "token",
                                "advance directives: acd (consentcategorycodes) or 75320-2 "
                                "(LOINC); other categories match nothing",
                            ),
                        ),
                    },
                    {"type": "List", "interaction": [{"code": "create"}]},
                ],
                "interaction": [{"code": "transaction"}],
            }
        ],
    }


def patient(
    row: Mapping[str, Any], *, general_practitioner: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """Patient from a ``patients`` row: INS, name, gender, birth date, city; and the médecin
    traitant (``general_practitioner``: a ``professionals`` row) when given."""
    test = row["ins_system"].endswith((".10", ".11"))
    given = [g for g in str(row["given_names"]).split() if g]
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": row["ins"],
        "identifier": [
            {
                "use": "official",
                "type": {
                    "coding": [coding(INS_TYPE_SYSTEM, "INS-NIR-TEST" if test else "INS-NIR")]
                },
                "system": row["ins_system"],
                "value": row["ins"],
            }
        ],
        "name": [{"use": "official", "family": row["family_name"], "given": given}],
        "gender": row["gender"],
        "birthDate": row["birth_date"],
    }
    if row["address_city"]:
        resource["address"] = [{"city": row["address_city"]}]
    if general_practitioner is not None:
        gp = general_practitioner
        resource["generalPractitioner"] = [
            {
                "type": "Practitioner",
                "identifier": idnat_identifier(gp["id_nat"]),
                "display": f"{gp['given_name']} {gp['family_name']}".strip(),
            }
        ]
    return resource


def document_reference(
    doc: DocumentMeta,
    *,
    base_url: str,
    patient_system: str,
    type_system: str | None = None,
    structure_id: str | None = None,
    entered_by_name: str | None = None,
) -> dict[str, Any]:
    """DocumentReference of ``doc`` (see the module docstring for the shape)."""
    term = terminology()
    dtype = term.types.get(doc.type_code)
    type_display = dtype.label if dtype else None
    system = type_system or (dtype.system if dtype else "http://loinc.org")
    author: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": "author",
        "identifier": [idnat_identifier(doc.author_id_nat)],
    }
    if doc.author_name:
        author["name"] = [{"text": doc.author_name}]
    if doc.author_profession.isdigit():
        author["qualification"] = [
            {"code": {"coding": [coding(PROFESSION_SYSTEM, doc.author_profession)]}}
        ]
    contained: list[dict[str, Any]] = [author]
    authors = [{"reference": "#author"}]
    if doc.structure_name or structure_id:
        org: dict[str, Any] = {"resourceType": "Organization", "id": "structure"}
        if structure_id:
            org["identifier"] = [{"system": STRUCTURE_SYSTEM, "value": structure_id}]
        if doc.structure_name:
            org["name"] = doc.structure_name
        contained.append(org)
        authors.append({"reference": "#structure"})
    extensions: list[dict[str, Any]] = []
    if doc.entered_by:
        enterer: dict[str, Any] = {
            "resourceType": "Practitioner",
            "id": "enterer",
            "identifier": [idnat_identifier(doc.entered_by)],
        }
        if entered_by_name:
            enterer["name"] = [{"text": entered_by_name}]
        contained.append(enterer)
        extensions.append({"url": DATA_ENTERER_URL, "valueReference": {"reference": "#enterer"}})
    if doc.archived:
        extensions.append({"url": ARCHIVED_URL, "valueBoolean": True})
    attachment: dict[str, Any] = {
        "contentType": doc.content_type,
        "url": f"{base_url}/Binary/{doc.id}",
        "size": doc.size,
        "title": doc.title,
        "creation": iso(doc.created),
    }
    if doc.sha1:
        attachment["hash"] = sha1_base64(doc.sha1)
    resource: dict[str, Any] = {
        "resourceType": "DocumentReference",
        "id": doc.id,
        "meta": {"lastUpdated": iso(doc.deposited)},
        "contained": contained,
    }
    if extensions:
        resource["extension"] = extensions
    resource.update(
        {
            "masterIdentifier": {"system": URI_SYSTEM, "value": doc.master_id},
            "status": doc.status.value,
            "type": {"coding": [coding(system, doc.type_code, type_display)]},
            "category": [
                {
                    "coding": [
                        coding(term.class_system, doc.class_code, term.classes.get(doc.class_code))
                    ]
                }
            ],
            "subject": {"identifier": ins_identifier(patient_system, doc.patient_ins)},
            "date": iso(doc.deposited),
            "author": authors,
            "description": doc.title,
            "securityLabel": security_labels(doc.visibility),
            "content": [{"attachment": attachment}],
            "context": {"period": {"start": iso(doc.created)}},
        }
    )
    if doc.replaces:
        resource["relatesTo"] = [
            {"code": "replaces", "target": {"reference": f"DocumentReference/{doc.replaces}"}}
        ]
    return resource


def binary(doc_id: str, content_type: str, data: bytes) -> dict[str, Any]:
    return {
        "resourceType": "Binary",
        "id": doc_id,
        "contentType": content_type,
        "securityContext": {"reference": f"DocumentReference/{doc_id}"},
        "data": base64.b64encode(data).decode("ascii"),
    }


def audit_event(row: Mapping[str, Any], *, patient_system: str | None = None) -> dict[str, Any]:
    """AuditEvent from an ``audit_events`` row."""
    type_code = str(row["type_code"])
    if type_code.isdigit():
        event_type = coding(DICOM_SYSTEM, type_code, _DICOM_LABELS.get(type_code))
    else:
        event_type = coding(AUDIT_TYPE_SYSTEM, type_code, _AUDIT_TYPE_LABELS.get(type_code))
    subtype = str(row["subtype_code"])
    subtype_system = (
        RESTFUL_INTERACTION_SYSTEM
        if subtype in _RESTFUL_INTERACTIONS
        else SANDBOX_AUDIT_SUBTYPE_SYSTEM
    )
    agent: dict[str, Any] = {"requestor": True}
    if row["agent_id_nat"]:
        who: dict[str, Any] = {"identifier": idnat_identifier(str(row["agent_id_nat"]))}
        if row["agent_name"]:
            who["display"] = row["agent_name"]
        agent["who"] = who
    else:
        agent["who"] = {"display": "DMP sandbox"}
    purpose = row["purpose_of_use"]
    if purpose:
        agent["purposeOfUse"] = [
            {
                "coding": [
                    coding(access_mode_system(), str(purpose), access_mode_labels().get(purpose))
                ]
            }
        ]
    entities: list[dict[str, Any]] = []
    if row["patient_ins"]:
        patient_entity: dict[str, Any] = {
            "what": {
                "identifier": ins_identifier(
                    patient_system or "urn:oid:1.2.250.1.213.1.4.8", str(row["patient_ins"])
                )
            },
            "type": coding(
                "http://terminology.hl7.org/CodeSystem/audit-entity-type", "1", "Person"
            ),
        }
        entities.append(patient_entity)
    for entity_id in _json_list(row["entity_ids"]):
        entities.append({"what": {"reference": _entity_reference(entity_id)}})
    description = row["description"]
    resource: dict[str, Any] = {
        "resourceType": "AuditEvent",
        "id": row["id"],
        "type": event_type,
        "subtype": [coding(subtype_system, subtype)],
        "action": row["action"],
        "recorded": row["recorded"],
        "outcome": row["outcome"],
        "agent": [agent],
        "source": {
            "observer": {"display": "DMP sandbox"},
            "type": [coding(SECURITY_SOURCE_SYSTEM, "4", "Application Server")],
        },
    }
    if description:
        if row["outcome"] != "0":
            resource["outcomeDesc"] = description
        if entities:
            entities[0]["description"] = description
        else:
            entities.append({"what": {"display": "DMP"}, "description": description})
    if entities:
        resource["entity"] = entities
    return resource


def immunization(row: Mapping[str, Any], *, patient_system: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "id": row["id"],
        "status": row["status"],
        "vaccineCode": {
            "coding": [coding(row["vaccine_system"], row["vaccine_code"], row["vaccine_display"])],
            "text": row["vaccine_display"],
        },
        "patient": {"identifier": ins_identifier(patient_system, row["patient_ins"])},
        "occurrenceDateTime": row["occurrence"],
        "recorded": row["recorded_at"],
        "primarySource": True,
    }
    if row["lot_number"]:
        resource["lotNumber"] = row["lot_number"]
    if row["performer_id_nat"]:
        actor: dict[str, Any] = {"identifier": idnat_identifier(row["performer_id_nat"])}
        if row["performer_name"]:
            actor["display"] = row["performer_name"]
        resource["performer"] = [{"actor": actor}]
    return resource


def related_person(row: Mapping[str, Any], *, patient_system: str) -> dict[str, Any]:
    """RelatedPerson from a ``related_persons`` row (person of trust, relative to contact)."""
    roles = [r for r in str(row["roles"]).split() if r]
    relationship = [{"coding": [coding(TRE_R260_SYSTEM, r, ROLE_LABELS.get(r))]} for r in roles]
    if row["relationship"]:
        code = str(row["relationship"])
        relationship.append(
            {"coding": [coding(TRE_R216_SYSTEM, code, RELATIONSHIP_LABELS.get(code))]}
        )
    given = [g for g in str(row["given_names"]).split() if g]
    resource: dict[str, Any] = {
        "resourceType": "RelatedPerson",
        "id": row["id"],
        "meta": {"lastUpdated": row["recorded_at"]},
        "active": True,
        "patient": {"identifier": ins_identifier(patient_system, row["patient_ins"])},
        "relationship": relationship,
        "name": [{"use": "usual", "family": row["family_name"], "given": given}],
    }
    if row["gender"]:
        resource["gender"] = row["gender"]
    try:
        phones = json.loads(row["phones"] or "[]")
    except ValueError:
        phones = []
    telecom = [
        {"system": "phone", "value": str(p["value"]), "use": str(p["use"]), "rank": i}
        for i, p in enumerate(phones, start=1)
        if isinstance(p, dict) and p.get("value")
    ]
    if telecom:
        resource["telecom"] = telecom
    if "ECON" in roles and int(row["rank"] or 0) > 0:
        resource["extension"] = [{"url": CONTACT_RANK_URL, "valuePositiveInt": int(row["rank"])}]
    return resource


def advance_directives_consent(row: Mapping[str, Any], *, patient_system: str) -> dict[str, Any]:
    """Consent (scope ``adr``) from an ``advance_directives`` row: whether the patient wrote
    advance directives, when, and where they are kept."""
    extensions: list[dict[str, Any]] = [
        {"url": DIRECTIVES_WRITTEN_URL, "valueBoolean": bool(row["written"])}
    ]
    if row["written_on"]:
        extensions.append({"url": DIRECTIVES_DATE_URL, "valueDate": row["written_on"]})
    if row["location"]:
        extensions.append({"url": DIRECTIVES_LOCATION_URL, "valueString": row["location"]})
    return {
        "resourceType": "Consent",
        "id": row["id"],
        "meta": {"lastUpdated": row["recorded_at"]},
        "extension": extensions,
        "status": "active",
        "scope": {
            "coding": [
                coding(CONSENT_SCOPE_SYSTEM, ADVANCE_DIRECTIVE_SCOPE, "Advanced Care Directive")
            ],
            "text": "Directives anticipées",
        },
        "category": [
            {
                "coding": [
                    coding("http://loinc.org", LOINC_ADVANCE_DIRECTIVE, "Advance directive"),
                    coding(
                        CONSENT_CATEGORY_SYSTEM, ADVANCE_DIRECTIVE_CATEGORY, "Advance Directive"
                    ),
                ],
                "text": "Directives anticipées",
            }
        ],
        "patient": {"identifier": ins_identifier(patient_system, row["patient_ins"])},
        "dateTime": row["recorded_at"],
        "policyRule": {
            "text": "Code de la santé publique, article L1111-11 (directives anticipées)"
        },
    }


def searchset(
    entries: Sequence[tuple[str, dict[str, Any]]],
    *,
    total: int,
    self_url: str,
    next_url: str | None = None,
    previous_url: str | None = None,
) -> dict[str, Any]:
    """Bundle searchset: ``entries`` are (fullUrl, resource) pairs, all search matches."""
    links = [{"relation": "self", "url": self_url}]
    if next_url:
        links.append({"relation": "next", "url": next_url})
    if previous_url:
        links.append({"relation": "previous", "url": previous_url})
    return {
        "resourceType": "Bundle",
        "id": uuid.uuid4().hex,
        "type": "searchset",
        "timestamp": iso(datetime.now(UTC)),
        "total": total,
        "link": links,
        "entry": [
            {"fullUrl": url, "resource": res, "search": {"mode": "match"}} for url, res in entries
        ],
    }


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, as the responses carry it."""
    return json.dumps(value, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def searchset_json(
    entries: Sequence[tuple[str, bytes]],
    *,
    total: int,
    self_url: str,
    next_url: str | None = None,
    previous_url: str | None = None,
) -> bytes:
    """:func:`searchset` serialized, from resources already serialized (``json_bytes``): big
    pages are then a join of cached fragments rather than a fresh encoding."""
    head = searchset(
        [], total=total, self_url=self_url, next_url=next_url, previous_url=previous_url
    )
    del head["entry"]
    parts = [json_bytes(head)[:-1], b',"entry":[']
    parts.append(
        b",".join(
            b'{"fullUrl":'
            + json_bytes(url)
            + b',"resource":'
            + resource
            + b',"search":{"mode":"match"}}'
            for url, resource in entries
        )
    )
    parts.append(b"]}")
    return b"".join(parts)


@dataclass(frozen=True, slots=True)
class ResponseEntry:
    """One entry of a transaction-response: ``location`` is ``<Type>/<id>``."""

    location: str
    last_modified: str
    status: str = "201 Created"


def transaction_response(entries: Sequence[ResponseEntry]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "id": uuid.uuid4().hex,
        "type": "transaction-response",
        "entry": [
            {
                "response": {
                    "status": e.status,
                    "location": e.location,
                    "lastModified": e.last_modified,
                }
            }
            for e in entries
        ],
    }


_AUDIT_TYPE_LABELS = {"rest": "RESTful Operation"}
_DICOM_LABELS = {
    "110113": "Security Alert",
    "110114": "User Authentication",
    "110110": "Patient Record",
    "110112": "Query",
}
_RESTFUL_INTERACTIONS = frozenset(
    {"read", "vread", "update", "patch", "delete", "history", "create", "search", "search-type"}
)


def _json_list(raw: Any) -> list[str]:
    try:
        value = json.loads(raw or "[]")
    except ValueError:
        return []
    return [str(v) for v in value] if isinstance(value, list) else []


def _entity_reference(entity_id: str) -> str:
    return entity_id if "/" in entity_id else f"DocumentReference/{entity_id}"


# -- parsing of a transaction (ITI-65) ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class SubmittedDocument:
    """One DocumentReference of a submission, checked, with its Binary."""

    index: int
    """Position of the DocumentReference in the request Bundle's entries."""
    full_url: str
    master_id: str
    patient: INS
    type_code: str
    type_system: str
    class_code: str
    title: str
    author_id_nat: str
    created: datetime
    visibility: frozenset[Visibility]
    content_type: str
    data: bytes
    sha1: str
    """Hex SHA-1 of ``data``."""
    binary_full_url: str
    binary_index: int
    replaces: str | None = None


@dataclass(frozen=True, slots=True)
class Submission:
    """A parsed ITI-65 transaction: the SubmissionSet and its documents."""

    list_full_url: str
    list_index: int
    patient: INS
    documents: tuple[SubmittedDocument, ...]
    entry_count: int


def _bad(message: str, reason: str = "invalid") -> FhirError:
    return FhirError(400, message, reason=reason)


def _unprocessable(message: str, reason: str) -> FhirError:
    return FhirError(422, message, reason=reason)


def _obj(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _bad(f"{where} est obligatoire (objet JSON attendu).", "missing_field")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _bad(f"{where} est obligatoire (texte non vide attendu).", "missing_field")
    return value.strip()


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise _bad(f"{where} est obligatoire (liste non vide attendue).", "missing_field")
    return value


def parse_ins_identifier(identifier: Any, where: str) -> INS:
    """An INS from a FHIR Identifier ``{system, value}``: 400 when absent, 422 when invalid."""
    ident = _obj(identifier, where)
    system = _text(ident.get("system"), f"{where}.system")
    value = _text(ident.get("value"), f"{where}.value")
    try:
        return INS.parse(f"{system}|{value}")
    except InvalidINSError as exc:
        raise _unprocessable(f"{where} : INS invalide. {exc}", "invalid_ins") from None


def parse_ins_token(token: str | None, where: str) -> INS:
    """An INS from a search token ``system|value`` (400 when absent, 422 when invalid)."""
    if not token or not token.strip():
        raise _bad(f"Le paramètre {where} est obligatoire (<système>|<NIR>).", "missing_param")
    try:
        return INS.parse(token.strip())
    except InvalidINSError as exc:
        raise _unprocessable(f"{where} : INS invalide. {exc}", "invalid_ins") from None


_VIS_CODES = frozenset(v.value for v in Visibility)


def parse_visibility(labels: Any, where: str) -> frozenset[Visibility]:
    """TRE_A07 codes of a ``securityLabel`` list (HL7 ``N`` means none); 422 on others."""
    if labels is None:
        return frozenset()
    if not isinstance(labels, list):
        raise _bad(f"{where} doit être une liste de CodeableConcept.")
    out: set[Visibility] = set()
    for i, concept in enumerate(labels):
        codings = _obj(concept, f"{where}[{i}]").get("coding")
        if not isinstance(codings, list) or not codings:
            raise _bad(f"{where}[{i}].coding est obligatoire.", "missing_field")
        for c in codings:
            c = _obj(c, f"{where}[{i}].coding")
            system, code = c.get("system"), c.get("code")
            if system == CONFIDENTIALITY_SYSTEM and code == "N":
                continue
            if system == visibility_system() and isinstance(code, str) and code in _VIS_CODES:
                out.add(Visibility(code))
                continue
            raise _unprocessable(
                f"{where}[{i}] : code de visibilité non pris en charge ({system}|{code}) ; "
                f"attendus : {', '.join(v.value for v in VISIBILITY_ORDER)} "
                f"(système {visibility_system()}) ou N ({CONFIDENTIALITY_SYSTEM}).",
                "invalid_security_label",
            )
    return frozenset(out)


def parse_instant(text: Any, where: str) -> datetime:
    """A FHIR date or dateTime (start of its range), 400 when absent, 422 when invalid."""
    value = _text(text, where)
    try:
        return datetime_range(value)[0]
    except ValueError:
        raise _unprocessable(
            f"{where} : date invalide ({value!r}) ; "
            "attendu AAAA-MM-JJ ou AAAA-MM-JJThh:mm:ss+hh:mm.",
            "invalid_date",
        ) from None


def _check_magic(content_type: str, data: bytes, where: str) -> None:
    ok = True
    match content_type:
        case "application/pdf":
            ok = data.startswith(b"%PDF-")
        case "image/jpeg":
            ok = data.startswith(b"\xff\xd8\xff")
        case "image/png":
            ok = data.startswith(b"\x89PNG\r\n\x1a\n")
        case "text/plain":
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                ok = False
        case "text/xml":
            ok = data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")
    if not ok:
        raise _unprocessable(
            f"{where} : le contenu ne correspond pas au type {content_type}.", "invalid_content"
        )


@dataclass(slots=True)
class _RawBinary:
    index: int
    content_type: str
    data: bytes
    used: bool = False


def _parse_binary(index: int, resource: dict[str, Any]) -> _RawBinary:
    where = f"entry[{index}].resource"
    content_type = _text(resource.get("contentType"), f"{where}.contentType").lower()
    content_type = content_type.split(";", 1)[0].strip()
    if content_type not in BINARY_CONTENT_TYPES:
        raise _unprocessable(
            f"{where}.contentType {content_type!r} non accepté ; attendus : "
            f"{', '.join(sorted(BINARY_CONTENT_TYPES))}.",
            "invalid_content_type",
        )
    raw = _text(resource.get("data"), f"{where}.data")
    try:
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise _bad(f"{where}.data n'est pas du base64 valide.", "invalid_base64") from None
    if not data:
        raise _unprocessable(f"{where}.data est vide.", "empty_content")
    _check_magic(content_type, data, f"{where}.data")
    return _RawBinary(index, content_type, data)


def _parse_author(resource: dict[str, Any], where: str) -> str:
    authors = _list(resource.get("author"), f"{where}.author")
    contained = {
        f"#{c.get('id')}": c
        for c in resource.get("contained") or []
        if isinstance(c, dict) and c.get("id")
    }
    for i, ref in enumerate(authors):
        ref = _obj(ref, f"{where}.author[{i}]")
        target: dict[str, Any] | None = None
        ident: Any = ref.get("identifier")
        reference = ref.get("reference")
        if isinstance(reference, str) and reference.startswith("#"):
            target = contained.get(reference)
            if target is None:
                raise _bad(
                    f"{where}.author[{i}] : ressource contenue {reference} introuvable.",
                    "unresolved_reference",
                )
            if target.get("resourceType") != "Practitioner":
                continue  # an Organization author (authorInstitution)
            idents = target.get("identifier") or []
            ident = next(
                (x for x in idents if isinstance(x, dict) and x.get("system") == IDNAT_SYSTEM),
                None,
            )
        if isinstance(ident, dict) and ident.get("system") == IDNAT_SYSTEM:
            return _text(ident.get("value"), f"{where}.author[{i}].identifier.value")
        if target is not None or ident is not None:
            raise _bad(
                f"{where}.author[{i}] : identifiant idNat ({IDNAT_SYSTEM}) attendu.",
                "missing_field",
            )
    raise _bad(
        f"{where}.author : un Practitioner (contenu, identifié par son idNat {IDNAT_SYSTEM}) "
        "est obligatoire.",
        "missing_field",
    )


def _parse_document(
    index: int,
    full_url: str,
    resource: dict[str, Any],
    binaries: dict[str, _RawBinary],
    now: datetime,
) -> SubmittedDocument:
    where = f"entry[{index}].resource"
    master = resource.get("masterIdentifier")
    if not isinstance(master, dict) or not isinstance(master.get("value"), str):
        raise _bad(f"{where}.masterIdentifier.value est obligatoire.", "missing_field")
    master_id = _text(master.get("value"), f"{where}.masterIdentifier.value")
    status = resource.get("status")
    if status != "current":
        raise _unprocessable(
            f"{where}.status doit valoir 'current' (reçu {status!r}).", "invalid_status"
        )
    # type: one coding of the DMP's list, with its system
    codings = _list(_obj(resource.get("type"), f"{where}.type").get("coding"), f"{where}.type")
    type_coding = _obj(codings[0], f"{where}.type.coding[0]")
    type_code = _text(type_coding.get("code"), f"{where}.type.coding[0].code")
    term = terminology()
    dtype = term.types.get(type_code)
    if dtype is None:
        raise _unprocessable(
            f"{where}.type : type de document inconnu du DMP ({type_code!r}).", "unknown_type"
        )
    type_system = type_coding.get("system")
    if type_system != dtype.system:
        raise _unprocessable(
            f"{where}.type.coding[0].system doit valoir {dtype.system} pour le type "
            f"{type_code} (reçu {type_system!r}).",
            "unknown_type",
        )
    # category: optional, but when given it must be the type's class
    for i, concept in enumerate(resource.get("category") or []):
        for c in _obj(concept, f"{where}.category[{i}]").get("coding") or []:
            if isinstance(c, dict) and c.get("system") == term.class_system:
                if c.get("code") != dtype.class_code:
                    raise _unprocessable(
                        f"{where}.category : la classe {c.get('code')!r} ne correspond pas au "
                        f"type {type_code} (classe attendue {dtype.class_code}).",
                        "category_mismatch",
                    )
    subject = _obj(resource.get("subject"), f"{where}.subject")
    patient_ins = parse_ins_identifier(subject.get("identifier"), f"{where}.subject.identifier")
    author_id_nat = _parse_author(resource, where)
    visibility = parse_visibility(resource.get("securityLabel"), f"{where}.securityLabel")
    # date of the act
    context = _obj(resource.get("context"), f"{where}.context")
    period = _obj(context.get("period"), f"{where}.context.period")
    created = parse_instant(period.get("start"), f"{where}.context.period.start")
    if created > now + ALLOWED_CLOCK_SKEW:
        raise _unprocessable(
            f"{where}.context.period.start : la date de l'acte est dans le futur.",
            "future_date",
        )
    # content: one attachment pointing at a Binary of the bundle
    content = _obj(_list(resource.get("content"), f"{where}.content")[0], f"{where}.content[0]")
    attachment = _obj(content.get("attachment"), f"{where}.content[0].attachment")
    att = f"{where}.content[0].attachment"
    content_type = _text(attachment.get("contentType"), f"{att}.contentType").lower()
    content_type = content_type.split(";", 1)[0].strip()
    url = _text(attachment.get("url"), f"{att}.url")
    raw = binaries.get(url)
    if raw is None:
        raise _unprocessable(
            f"{att}.url ({url}) ne désigne aucune ressource Binary de la transaction.",
            "unresolved_reference",
        )
    if raw.used:
        raise _unprocessable(f"{att}.url : ce Binary sert déjà à un autre document.", "duplicate")
    raw.used = True
    if raw.content_type != content_type:
        raise _unprocessable(
            f"{att}.contentType ({content_type}) diffère de celui du Binary ({raw.content_type}).",
            "content_type_mismatch",
        )
    digest = hashlib.sha1(raw.data).digest()
    size = attachment.get("size")
    if size is not None and (not isinstance(size, int) or size != len(raw.data)):
        raise _unprocessable(
            f"{att}.size ({size}) ne correspond pas au contenu ({len(raw.data)} octets).",
            "size_mismatch",
        )
    hash_b64 = attachment.get("hash")
    if hash_b64 is not None:
        try:
            declared = base64.b64decode(str(hash_b64), validate=True)
        except (binascii.Error, ValueError):
            raise _bad(f"{att}.hash n'est pas du base64 valide.", "invalid_base64") from None
        if declared != digest:
            raise _unprocessable(
                f"{att}.hash ne correspond pas au SHA-1 du contenu.", "hash_mismatch"
            )
    title = attachment.get("title") or resource.get("description") or dtype.label
    replaces: str | None = None
    for i, relation in enumerate(resource.get("relatesTo") or []):
        relation = _obj(relation, f"{where}.relatesTo[{i}]")
        if relation.get("code") != "replaces":
            raise _unprocessable(
                f"{where}.relatesTo[{i}].code : seul 'replaces' est pris en charge.",
                "unsupported_relation",
            )
        target = _obj(relation.get("target"), f"{where}.relatesTo[{i}].target")
        reference = _text(target.get("reference"), f"{where}.relatesTo[{i}].target.reference")
        kind, _, target_id = reference.rpartition("/")
        if not target_id or kind.rsplit("/", 1)[-1] != "DocumentReference" or replaces:
            raise _unprocessable(
                f"{where}.relatesTo[{i}].target.reference : DocumentReference/<id> attendu "
                "(un seul document remplacé).",
                "invalid_reference",
            )
        replaces = target_id
    return SubmittedDocument(
        index=index,
        full_url=full_url,
        master_id=master_id,
        patient=patient_ins,
        type_code=type_code,
        type_system=dtype.system,
        class_code=dtype.class_code,
        title=str(title).strip() or dtype.label,
        author_id_nat=author_id_nat,
        created=created,
        visibility=visibility,
        content_type=content_type,
        data=raw.data,
        sha1=digest.hex(),
        binary_full_url=url,
        binary_index=raw.index,
        replaces=replaces,
    )


def parse_transaction(data: Any, *, now: datetime) -> Submission:
    """Check an ITI-65 transaction Bundle: one SubmissionSet List, DocumentReferences, and
    one Binary per document. ``now`` bounds the dates of the acts."""
    if not isinstance(data, dict):
        raise _bad("Le corps doit être un objet JSON : un Bundle de type transaction.")
    rtype = data.get("resourceType")
    if rtype != "Bundle":
        raise _bad(f"resourceType attendu : Bundle (reçu {rtype!r}).", "wrong_resource_type")
    if data.get("type") != "transaction":
        raise _bad(
            f"Bundle.type attendu : transaction (reçu {data.get('type')!r}).", "wrong_bundle_type"
        )
    entries = _list(data.get("entry"), "Bundle.entry")
    lists: list[tuple[int, str, dict[str, Any]]] = []
    docs: list[tuple[int, str, dict[str, Any]]] = []
    binaries: dict[str, _RawBinary] = {}
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        entry = _obj(entry, f"entry[{i}]")
        resource = _obj(entry.get("resource"), f"entry[{i}].resource")
        full_url = _text(entry.get("fullUrl"), f"entry[{i}].fullUrl")
        if full_url in seen:
            raise _bad(f"entry[{i}].fullUrl {full_url} apparaît deux fois.", "duplicate")
        seen.add(full_url)
        request = _obj(entry.get("request"), f"entry[{i}].request")
        if request.get("method") != "POST":
            raise _bad(
                f"entry[{i}].request.method : seul POST est accepté (reçu "
                f"{request.get('method')!r}).",
                "unsupported_method",
            )
        kind = resource.get("resourceType")
        match kind:
            case "List":
                lists.append((i, full_url, resource))
            case "DocumentReference":
                docs.append((i, full_url, resource))
            case "Binary":
                binaries[full_url] = _parse_binary(i, resource)
            case _:
                raise _bad(
                    f"entry[{i}].resource.resourceType {kind!r} non accepté : une transaction "
                    "ITI-65 contient un List (SubmissionSet), des DocumentReference et des Binary.",
                    "wrong_resource_type",
                )
    if len(lists) != 1:
        raise _bad(
            f"La transaction doit contenir exactement un List SubmissionSet ({len(lists)} reçus).",
            "missing_field",
        )
    if not docs:
        raise _bad("La transaction ne contient aucun DocumentReference.", "missing_field")
    list_index, list_url, list_res = lists[0]
    where = f"entry[{list_index}].resource"
    list_codes = _obj(list_res.get("code"), f"{where}.code").get("coding") or []
    if not any(isinstance(c, dict) and c.get("code") == "submissionset" for c in list_codes):
        raise _bad(
            f"{where}.code doit porter le code submissionset ({MHD_LIST_TYPES}).", "missing_field"
        )
    subject = _obj(list_res.get("subject"), f"{where}.subject")
    patient_ins = parse_ins_identifier(subject.get("identifier"), f"{where}.subject.identifier")
    documents = tuple(_parse_document(i, url, res, binaries, now) for i, url, res in docs)
    for doc in documents:
        if doc.patient.value != patient_ins.value:
            raise _unprocessable(
                f"entry[{doc.index}].resource.subject : le patient diffère de celui du "
                "SubmissionSet.",
                "patient_mismatch",
            )
    masters = [d.master_id for d in documents]
    if len(set(masters)) != len(masters):
        raise _unprocessable(
            "Deux documents de la transaction portent le même masterIdentifier.", "duplicate"
        )
    unused = [b.index for b in binaries.values() if not b.used]
    if unused:
        raise _unprocessable(
            f"entry{unused} : Binary référencé par aucun DocumentReference.", "unreferenced"
        )
    listed = list_res.get("entry")
    if listed is not None:
        items = {e.get("item", {}).get("reference") for e in listed if isinstance(e, dict)} - {None}
        if items != {d.full_url for d in documents}:
            raise _unprocessable(
                f"{where}.entry doit référencer exactement les DocumentReference de la "
                "transaction (par leur fullUrl).",
                "submissionset_mismatch",
            )
    return Submission(list_url, list_index, patient_ins, documents, len(entries))


# -- building a submission (clients, tests, bench) ------------------------------------------------
@dataclass(frozen=True, slots=True)
class DocumentToSubmit:
    """What a client deposits: metadata and body of one document."""

    master_id: str
    type_code: str
    title: str
    author_id_nat: str
    created: datetime | date
    data: bytes
    content_type: str = "application/pdf"
    visibility: frozenset[Visibility] = field(default_factory=frozenset)
    replaces: str | None = None
    author_family: str | None = None
    author_given: str | None = None


def submission_bundle(
    patient_ins: INS, documents: Sequence[DocumentToSubmit], *, source_id_nat: str | None = None
) -> dict[str, Any]:
    """An ITI-65 transaction Bundle for ``documents`` of one patient (fresh urn:uuid ids)."""
    term = terminology()
    subject = {"identifier": ins_identifier(patient_ins.system, patient_ins.value)}
    list_url = f"urn:uuid:{uuid.uuid4()}"
    entries: list[dict[str, Any]] = []
    doc_entries: list[dict[str, Any]] = []
    for doc in documents:
        dtype = term.type(doc.type_code)
        doc_url, bin_url = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
        practitioner: dict[str, Any] = {
            "resourceType": "Practitioner",
            "id": "author",
            "identifier": [idnat_identifier(doc.author_id_nat)],
        }
        if doc.author_family or doc.author_given:
            name: dict[str, Any] = {}
            if doc.author_family:
                name["family"] = doc.author_family
            if doc.author_given:
                name["given"] = [doc.author_given]
            practitioner["name"] = [name]
        created = iso(doc.created) if isinstance(doc.created, datetime) else doc.created.isoformat()
        resource: dict[str, Any] = {
            "resourceType": "DocumentReference",
            "contained": [practitioner],
            "masterIdentifier": {"system": URI_SYSTEM, "value": doc.master_id},
            "status": "current",
            "type": {"coding": [coding(dtype.system, dtype.code, dtype.label)]},
            "category": [{"coding": [coding(term.class_system, dtype.class_code)]}],
            "subject": subject,
            "date": iso(datetime.now(UTC)),
            "author": [{"reference": "#author"}],
            "description": doc.title,
            "securityLabel": security_labels(doc.visibility),
            "content": [
                {
                    "attachment": {
                        "contentType": doc.content_type,
                        "url": bin_url,
                        "size": len(doc.data),
                        "hash": base64.b64encode(hashlib.sha1(doc.data).digest()).decode(),
                        "title": doc.title,
                    }
                }
            ],
            "context": {"period": {"start": created}},
        }
        if doc.replaces:
            resource["relatesTo"] = [
                {"code": "replaces", "target": {"reference": f"DocumentReference/{doc.replaces}"}}
            ]
        doc_entries.append(
            {
                "fullUrl": doc_url,
                "resource": resource,
                "request": {"method": "POST", "url": "DocumentReference"},
            }
        )
        doc_entries.append(
            {
                "fullUrl": bin_url,
                "resource": {
                    "resourceType": "Binary",
                    "contentType": doc.content_type,
                    "data": base64.b64encode(doc.data).decode("ascii"),
                },
                "request": {"method": "POST", "url": "Binary"},
            }
        )
    submission: dict[str, Any] = {
        "resourceType": "List",
        "status": "current",
        "mode": "working",
        "code": {"coding": [coding(MHD_LIST_TYPES, "submissionset", "SubmissionSet")]},
        "subject": subject,
        "date": iso(datetime.now(UTC)),
        "entry": [{"item": {"reference": e["fullUrl"]}} for e in doc_entries[::2]],
    }
    if source_id_nat:
        submission["source"] = {"identifier": idnat_identifier(source_id_nat)}
    entries.append(
        {"fullUrl": list_url, "resource": submission, "request": {"method": "POST", "url": "List"}}
    )
    entries.extend(doc_entries)
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}
