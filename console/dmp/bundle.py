"""Domain deposits -> FHIR R4 JSON: the ITI-65 transaction Bundle and the PATCH operations.

Pure and deterministic: the same :class:`~console.domain.deposit.DepositDocument` (its
``masterIdentifier`` included) and the same ``submitted`` instant give the same bytes. The
bundle's ``fullUrl`` ids are UUIDv5 derived from the ``masterIdentifier``, so a deposit
rebuilt after a crash is the very same request (the server keys idempotency on the
``masterIdentifier`` anyway).

Shape (IHE MHD ITI-65 / ANS PDSm, as the sandbox accepts it; see ``sandbox/README.md``):

- a SubmissionSet ``List`` (code ``submissionset``, subject = the patient's INS, source = the
  author, one entry per document);
- per document a ``DocumentReference`` with a contained author ``Practitioner`` (idNat,
  name, profession), the author's structure (``Organization``), the data enterer when a
  secretary entered it (contained ``Practitioner`` + the ``data-enterer`` extension),
  ``masterIdentifier``, type and class, ``securityLabel`` (TRE_A07, or HL7 ``N``), the
  attachment (size, SHA-1, title, creation), ``context.period.start`` (the date of the act)
  and ``relatesTo`` replaces when it replaces a document;
- per document a ``Binary`` (base64).
"""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Final

from console.dmp.mapping import (
    DATA_ENTERER_URL,
    IDNAT_SYSTEM,
    PROFESSION_SYSTEM,
    parse_fhir_datetime,
)
from console.domain.deposit import DepositDocument, DepositReceipt
from console.domain.errors import ProtocolError
from console.domain.models import Actor, DocStatus, Visibility
from console.domain.rules import UpdateAction
from console.domain.terminology import terminology
from console.resources import load_json

__all__ = [
    "FHIR_JSON",
    "JSON_PATCH",
    "bundle_bytes",
    "bundle_ids",
    "receipt_from_response",
    "security_labels",
    "transaction_bundle",
    "update_patch",
]

FHIR_JSON: Final = "application/fhir+json"
JSON_PATCH: Final = "application/json-patch+json"
URI_SYSTEM: Final = "urn:ietf:rfc:3986"
STRUCTURE_SYSTEM: Final = "urn:oid:1.2.250.1.71.4.2.2"
"""Identifier system of structures (FINESS / SIRET-based idNat_Struct)."""
MHD_LIST_TYPES: Final = "https://profiles.ihe.net/ITI/MHD/CodeSystem/MHDlistTypes"
CONFIDENTIALITY_SYSTEM: Final = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
VISIBILITY_ORDER: Final = (
    Visibility.MASQUE_PS,
    Visibility.INVISIBLE_PATIENT,
    Visibility.INVISIBLE_REPRESENTANTS_LEGAUX,
)
_NAMESPACE: Final = uuid.UUID("6f1d8d2e-5a0b-4c59-9a43-2f8a4e1d0c11")
"""UUIDv5 namespace of the console's bundle ids."""


@cache
def _visibility_vocabulary() -> tuple[str, dict[str, str]]:
    raw = load_json("tre_a07_visibilite.json")
    return str(raw["system"]), {str(k): str(v) for k, v in raw["codes"].items()}


def bundle_ids(master_id: str) -> tuple[str, str, str]:
    """(SubmissionSet, DocumentReference, Binary) ``fullUrl``s derived from ``master_id``."""

    def derived(part: str) -> str:
        return f"urn:uuid:{uuid.uuid5(_NAMESPACE, f'{part}|{master_id}')}"

    return derived("list"), derived("document"), derived("binary")


def _coding(system: str, code: str, display: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _fhir_instant(value: date | datetime) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.isoformat()
    return value.isoformat()


def security_labels(visibility: Iterable[Visibility]) -> list[dict[str, Any]]:
    """TRE_A07 codes in the DMP's order, or the HL7 ``N`` (normal) label alone."""
    present = set(visibility)
    system, labels = _visibility_vocabulary()
    codes = [v for v in VISIBILITY_ORDER if v in present]
    if not codes:
        return [{"coding": [_coding(CONFIDENTIALITY_SYSTEM, "N", "normal")]}]
    return [{"coding": [_coding(system, v.value, labels.get(v.value))]} for v in codes]


def _practitioner(actor: Actor, local_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Practitioner",
        "id": local_id,
        "identifier": [{"system": IDNAT_SYSTEM, "value": actor.id_nat}],
    }
    if actor.family_name or actor.given_name:
        name: dict[str, Any] = {"text": actor.display_name}
        if actor.family_name:
            name["family"] = actor.family_name
        if actor.given_name:
            name["given"] = [actor.given_name]
        resource["name"] = [name]
    if actor.profession and actor.profession.isdigit():  # a TRE_G15 code, not a role
        resource["qualification"] = [
            {"code": {"coding": [_coding(PROFESSION_SYSTEM, actor.profession)]}}
        ]
    return resource


def _document_reference(
    doc: DepositDocument, document_url: str, binary_url: str, subject: dict[str, Any]
) -> dict[str, Any]:
    term = terminology()
    dtype = term.type(doc.metadata.type_code)
    contained: list[dict[str, Any]] = [_practitioner(doc.author, "author")]
    authors: list[dict[str, Any]] = [{"reference": "#author"}]
    if doc.author.structure_id:
        organization: dict[str, Any] = {
            "resourceType": "Organization",
            "id": "structure",
            "identifier": [{"system": STRUCTURE_SYSTEM, "value": doc.author.structure_id}],
        }
        if doc.author.structure_name:
            organization["name"] = doc.author.structure_name
        contained.append(organization)
        authors.append({"reference": "#structure"})
    resource: dict[str, Any] = {"resourceType": "DocumentReference", "contained": contained}
    if doc.entered_by is not None and doc.entered_by.id_nat != doc.author.id_nat:
        contained.append(_practitioner(doc.entered_by, "enterer"))
        resource["extension"] = [
            {"url": DATA_ENTERER_URL, "valueReference": {"reference": "#enterer"}}
        ]
    start = doc.act_start if doc.act_start is not None else doc.metadata.act_date
    digest = bytes.fromhex(doc.sha1) if doc.sha1 else hashlib.sha1(doc.data).digest()
    resource.update(
        {
            "masterIdentifier": {"system": URI_SYSTEM, "value": doc.master_id},
            "status": DocStatus.CURRENT.value,
            "type": {"coding": [_coding(dtype.system, dtype.code, dtype.label)]},
            "category": [
                {"coding": [_coding(term.class_system, dtype.class_code, dtype.class_label)]}
            ],
            "subject": subject,
            "author": authors,
            "description": doc.metadata.title,
            "securityLabel": security_labels(doc.metadata.visibility),
            "content": [
                {
                    "attachment": {
                        "contentType": doc.kind.value,
                        "url": binary_url,
                        "size": len(doc.data),
                        "hash": base64.b64encode(digest).decode("ascii"),
                        "title": doc.metadata.title,
                        "creation": _fhir_instant(start),
                    }
                }
            ],
            "context": {"period": {"start": _fhir_instant(start)}},
        }
    )
    if doc.metadata.replaces:
        resource["relatesTo"] = [
            {
                "code": "replaces",
                "target": {"reference": f"DocumentReference/{doc.metadata.replaces}"},
            }
        ]
    return resource


def transaction_bundle(
    documents: Sequence[DepositDocument], *, submitted: datetime | None = None
) -> dict[str, Any]:
    """The ITI-65 transaction Bundle depositing ``documents`` (one patient, one author).

    Args:
        documents: At least one; all of the same patient (a SubmissionSet has one subject).
        submitted: The SubmissionSet's ``date`` (omitted when None: deterministic output).

    Raises:
        ValueError: no document, documents of several patients, or a masterIdentifier twice.
        UnknownDocumentTypeError: a type that is not a DMP type.
    """
    if not documents:
        raise ValueError("a submission needs at least one document")
    patients = {doc.metadata.patient for doc in documents}
    if len(patients) != 1:
        raise ValueError("a submission concerns one patient")
    masters = [doc.master_id for doc in documents]
    if len(set(masters)) != len(masters):
        raise ValueError("the same masterIdentifier twice in one submission")
    patient = documents[0].metadata.patient
    subject = {"identifier": {"system": patient.system, "value": patient.value}}
    list_url = bundle_ids(documents[0].master_id)[0]
    doc_entries: list[dict[str, Any]] = []
    for doc in documents:
        _, document_url, binary_url = bundle_ids(doc.master_id)
        doc_entries.append(
            {
                "fullUrl": document_url,
                "resource": _document_reference(doc, document_url, binary_url, subject),
                "request": {"method": "POST", "url": "DocumentReference"},
            }
        )
        doc_entries.append(
            {
                "fullUrl": binary_url,
                "resource": {
                    "resourceType": "Binary",
                    "contentType": doc.kind.value,
                    "data": base64.b64encode(doc.data).decode("ascii"),
                },
                "request": {"method": "POST", "url": "Binary"},
            }
        )
    submission: dict[str, Any] = {
        "resourceType": "List",
        "identifier": [{"use": "usual", "system": URI_SYSTEM, "value": list_url}],
        "status": "current",
        "mode": "working",
        "code": {"coding": [_coding(MHD_LIST_TYPES, "submissionset", "SubmissionSet")]},
        "subject": subject,
        "source": {"identifier": {"system": IDNAT_SYSTEM, "value": documents[0].author.id_nat}},
        "entry": [{"item": {"reference": e["fullUrl"]}} for e in doc_entries[::2]],
    }
    if submitted is not None:
        submission["date"] = _fhir_instant(submitted)
    entries = [
        {"fullUrl": list_url, "resource": submission, "request": {"method": "POST", "url": "List"}},
        *doc_entries,
    ]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def bundle_bytes(
    documents: Sequence[DepositDocument], *, submitted: datetime | None = None
) -> bytes:
    """:func:`transaction_bundle` as the compact UTF-8 JSON sent (and kept in the outbox)."""
    return json.dumps(
        transaction_bundle(documents, submitted=submitted),
        ensure_ascii=False,
        separators=(",", ":"),
    ).encode("utf-8")


def update_patch(action: UpdateAction, visibility: frozenset[Visibility]) -> list[dict[str, Any]]:
    """The JSON Patch (RFC 6902) of a document's life action, given its current labels.

    Visibility changes replace the whole ``securityLabel`` list (no index arithmetic over
    the server's order); a deletion sets ``status`` to ``entered-in-error``.

    Raises:
        ValueError: an action that is not a PATCH (replace is a deposit; archive is not
            offered by the DMP API).
    """
    labels = set(visibility)
    match action:
        case UpdateAction.DELETE:
            return [{"op": "replace", "path": "/status", "value": DocStatus.ENTERED_IN_ERROR.value}]
        case UpdateAction.MASK:
            labels.add(Visibility.MASQUE_PS)
        case UpdateAction.UNMASK:
            labels.discard(Visibility.MASQUE_PS)
        case UpdateAction.HIDE_FROM_PATIENT:
            labels.add(Visibility.INVISIBLE_PATIENT)
        case UpdateAction.SHOW_TO_PATIENT:
            labels.discard(Visibility.INVISIBLE_PATIENT)
        case _:
            raise ValueError(f"{action} is not a document update")
    return [{"op": "replace", "path": "/securityLabel", "value": security_labels(labels)}]


def _location_id(location: Any, kind: str) -> str | None:
    if not isinstance(location, str):
        return None
    path = location.split("?", 1)[0].rstrip("/")
    parts = path.split("/")
    # "DocumentReference/<id>" or "<base>/DocumentReference/<id>[/_history/<v>]"
    if "_history" in parts:
        parts = parts[: parts.index("_history")]
    if len(parts) >= 2 and parts[-2] == kind and parts[-1]:
        return parts[-1]
    return None


def receipt_from_response(body: Any, *, replayed: bool = False) -> DepositReceipt:
    """The transaction-response of a deposit -> :class:`DepositReceipt`.

    Raises:
        ProtocolError: not a transaction-response, or no DocumentReference location.
    """
    if not isinstance(body, dict) or body.get("resourceType") != "Bundle":
        raise ProtocolError("Réponse du serveur DMP invalide au dépôt : Bundle attendu.")
    if body.get("type") != "transaction-response":
        raise ProtocolError(
            "Réponse du serveur DMP invalide au dépôt : Bundle transaction-response attendu."
        )
    entries = body.get("entry")
    if not isinstance(entries, list):
        raise ProtocolError("Réponse du serveur DMP incomplète au dépôt : entry manquant.")
    list_id = ""
    documents: list[str] = []
    deposited: datetime | None = None
    for entry in entries:
        response = entry.get("response") if isinstance(entry, dict) else None
        if not isinstance(response, dict):
            raise ProtocolError("Réponse du serveur DMP incomplète au dépôt : entry.response.")
        status = response.get("status")
        if not isinstance(status, str) or not status.strip()[:1] == "2":
            raise ProtocolError(
                "Réponse du serveur DMP incohérente : un élément du dépôt a échoué."
            )
        location = response.get("location")
        document_id = _location_id(location, "DocumentReference")
        if document_id is not None:
            documents.append(document_id)
            modified = response.get("lastModified")
            if deposited is None and isinstance(modified, str):
                try:
                    deposited = parse_fhir_datetime(modified, "entry.response.lastModified")
                except ProtocolError:
                    deposited = None
        list_id = list_id or (_location_id(location, "List") or "")
    if not documents:
        raise ProtocolError(
            "Réponse du serveur DMP incomplète au dépôt : identifiant du document absent."
        )
    return DepositReceipt(list_id, tuple(documents), replayed, deposited)
