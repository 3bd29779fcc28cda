"""FHIR R4 JSON (PDSm / IHE MHD) -> console domain objects: pure functions.

Tolerant of what the console does not use (extra fields, unknown extensions, extra codings),
strict on what it needs: a missing or malformed required element raises
:class:`~console.domain.errors.ProtocolError` naming the element (``DocumentReference[<id>].
subject.identifier.value``...). Error messages never quote the answer's values: they may be
patient data.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import cache
from typing import Any, Final

from console.domain.dossier import PatientRecord
from console.domain.emergency import AuditRecord, ProfessionalIdentity
from console.domain.errors import InvalidINSError, ProtocolError
from console.domain.ins import INS, INS_SYSTEMS
from console.domain.models import DocStatus, DocumentMeta, Visibility
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
    TRE_R216_SYSTEM,
    TRE_R260_SYSTEM,
    AdvanceDirectives,
    GeneralPractitioner,
    PatientSummary,
    Phone,
    RelatedContact,
    roles_of,
)
from console.domain.terminology import LOINC_SYSTEM, terminology
from console.domain.vaccination import (
    Immunization,
    NewImmunization,
    Performer,
    Vaccine,
    vaccine_catalogue,
)
from console.resources import load_json

__all__ = [
    "ARCHIVED_URL",
    "DATA_ENTERER_URL",
    "IDNAT_SYSTEM",
    "advance_directives_from_fhir",
    "advance_directives_page_from_bundle",
    "document_from_fhir",
    "documents_page_from_bundle",
    "general_practitioner_from_patient",
    "immunization_from_fhir",
    "immunization_to_fhir",
    "immunizations_page_from_bundle",
    "json_object",
    "parse_fhir_date",
    "parse_fhir_datetime",
    "patient_from_fhir",
    "patient_summary_from_bundle",
    "patients_from_bundle",
    "related_person_from_fhir",
    "related_persons_page_from_bundle",
]

IDNAT_SYSTEM: Final = "urn:oid:1.2.250.1.71.4.2.1"
"""Identifier system of health professionals (idNat_PS)."""
PROFESSION_SYSTEM: Final = (
    "https://mos.esante.gouv.fr/NOS/TRE_G15-ProfessionSante/FHIR/TRE-G15-ProfessionSante"
)
SANDBOX_SD: Final = "https://sandbox.dmp.local/fhir/StructureDefinition"
DATA_ENTERER_URL: Final = f"{SANDBOX_SD}/data-enterer"
"""Extension (valueReference): who entered the document on behalf of its author."""
ARCHIVED_URL: Final = f"{SANDBOX_SD}/archived"
"""Extension (valueBoolean): the document is archived."""

_VISIBILITY_CODES: Final = frozenset(v.value for v in Visibility)
_DATE = re.compile(r"^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$")
_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})?$"
)
_FRACTION = re.compile(r"(\.\d{6})\d+")
_FHIR_ID = re.compile(r"[A-Za-z0-9\-.]{1,64}")
_MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*$")


@cache
def _visibility_system() -> str:
    return str(load_json("tre_a07_visibilite.json")["system"])


# -- small readers ------------------------------------------------------------------------------
def _missing(where: str) -> ProtocolError:
    return ProtocolError(f"Réponse du serveur DMP incomplète : {where} manquant.")


def _invalid(where: str, expected: str) -> ProtocolError:
    return ProtocolError(f"Réponse du serveur DMP invalide : {where} ({expected} attendu).")


def json_object(value: Any, where: str) -> dict[str, Any]:
    """``value`` as a JSON object, else ProtocolError."""
    if not isinstance(value, dict):
        raise _invalid(where, "objet JSON") if value is not None else _missing(where)
    return value


def _opt_object(value: Any, where: str) -> dict[str, Any] | None:
    if value is None:
        return None
    return json_object(value, where)


def _list(value: Any, where: str) -> list[Any]:
    """An optional JSON array (absent = empty)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise _invalid(where, "liste")
    return value


def _text(value: Any, where: str) -> str:
    """A required non-blank string."""
    if value is None:
        raise _missing(where)
    if not isinstance(value, str):
        raise _invalid(where, "texte")
    if not value.strip():
        raise _missing(where)
    return value.strip()


def _opt_text(value: Any, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise _invalid(where, "texte")
    return value.strip() or None


def _check_type(resource: Any, expected: str, where: str) -> dict[str, Any]:
    obj = json_object(resource, where)
    kind = obj.get("resourceType")
    if kind != expected:
        shown = repr(kind) if isinstance(kind, str) and kind.isalnum() else "autre chose"
        raise ProtocolError(
            f"Réponse du serveur DMP inattendue : {where} est {shown}, {expected} attendu."
        )
    return obj


def parse_fhir_datetime(text: Any, where: str) -> datetime:
    """A FHIR ``date`` / ``dateTime`` / ``instant`` as an aware datetime (start of its range;
    UTC when the value has no zone)."""
    value = _text(text, where)
    match = _DATE.match(value)
    try:
        if match:
            return datetime(int(match[1]), int(match[2] or 1), int(match[3] or 1), tzinfo=UTC)
        if not _DATETIME.match(value):
            raise ValueError(value)
        # Python reads at most 6 fractional digits; FHIR allows more.
        moment = datetime.fromisoformat(_FRACTION.sub(r"\1", value))
    except ValueError:
        raise _invalid(where, "date FHIR (AAAA-MM-JJ ou AAAA-MM-JJThh:mm:ss+hh:mm)") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_fhir_date(text: Any, where: str) -> date:
    """A FHIR ``date`` (a full ``AAAA-MM-JJ``; a partial date gives its first day)."""
    value = _text(text, where)
    match = _DATE.match(value)
    if not match:
        raise _invalid(where, "date AAAA-MM-JJ")
    try:
        return date(int(match[1]), int(match[2] or 1), int(match[3] or 1))
    except ValueError:
        raise _invalid(where, "date AAAA-MM-JJ") from None


def _codings(concept: Any, where: str) -> list[dict[str, Any]]:
    """The codings of a CodeableConcept that are objects (others are ignored)."""
    obj = _opt_object(concept, where)
    if obj is None:
        return []
    return [c for c in _list(obj.get("coding"), f"{where}.coding") if isinstance(c, dict)]


def _identifier_value(identifiers: Any, system: str, where: str) -> str | None:
    """The value of the first identifier of ``system`` in a list of Identifiers."""
    for i, ident in enumerate(_list(identifiers, where)):
        if isinstance(ident, dict) and ident.get("system") == system:
            return _text(ident.get("value"), f"{where}[{i}].value")
    return None


def _human_name(names: Any, where: str) -> str:
    """``name.text``, else given names and family name, of the first usable HumanName."""
    for name in _list(names, where):
        if not isinstance(name, dict):
            continue
        text = name.get("text")
        if isinstance(text, str) and text.strip():
            return text.strip()
        given = [g.strip() for g in name.get("given") or [] if isinstance(g, str) and g.strip()]
        family = name.get("family")
        parts = [*given, family.strip()] if isinstance(family, str) else given
        joined = " ".join(p for p in parts if p)
        if joined:
            return joined
    return ""


# -- Patient ------------------------------------------------------------------------------------
def patient_from_fhir(resource: Any) -> PatientRecord:
    """A Patient resource -> :class:`PatientRecord` (its INS must be a valid INS-NIR)."""
    obj = _check_type(resource, "Patient", "Patient")
    where = "Patient"  # never its id: a server may use the INS as the Patient id
    ins: INS | None = None
    for i, ident in enumerate(_list(obj.get("identifier"), f"{where}.identifier")):
        if isinstance(ident, dict) and ident.get("system") in INS_SYSTEMS:
            value = _text(ident.get("value"), f"{where}.identifier[{i}].value")
            try:
                ins = INS.parse(f"{ident['system']}|{value}")
            except InvalidINSError:
                raise _invalid(f"{where}.identifier[{i}].value", "INS valide") from None
            break
    if ins is None:
        raise _missing(f"{where}.identifier (INS)")
    family, given = "", ""
    names = [n for n in _list(obj.get("name"), f"{where}.name") if isinstance(n, dict)]
    official = next((n for n in names if n.get("use") == "official"), None)
    chosen = official or (names[0] if names else None)
    if chosen is not None:
        raw_family = chosen.get("family")
        family = raw_family.strip() if isinstance(raw_family, str) else ""
        given = " ".join(
            g.strip() for g in _list(chosen.get("given"), f"{where}.name.given")
            if isinstance(g, str) and g.strip()
        )  # fmt: skip
        if not family and not given:
            text = chosen.get("text")
            family = text.strip() if isinstance(text, str) else ""
    birth = obj.get("birthDate")
    birth_date = None if birth is None else parse_fhir_date(birth, f"{where}.birthDate")
    gender = _opt_text(obj.get("gender"), f"{where}.gender") or "unknown"
    return PatientRecord(ins, family, given, birth_date, gender)


def patients_from_bundle(bundle: Any) -> list[PatientRecord]:
    """The matching Patients of a searchset Bundle."""
    return [patient_from_fhir(r) for r in _matches(bundle, "Patient")]


# -- DocumentReference ---------------------------------------------------------------------------
def _contained(obj: dict[str, Any], where: str) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for res in _list(obj.get("contained"), f"{where}.contained"):
        if isinstance(res, dict) and isinstance(res.get("id"), str):
            out[f"#{res['id']}"] = res
    return out


def _resolve(
    reference: Any, contained: Mapping[str, dict[str, Any]], where: str
) -> dict[str, Any] | None:
    """The contained resource a Reference points at (None for a non-local reference)."""
    ref = json_object(reference, where)
    target = ref.get("reference")
    if isinstance(target, str) and target.startswith("#"):
        found = contained.get(target)
        if found is None:
            raise ProtocolError(
                f"Réponse du serveur DMP invalide : {where}.reference désigne une ressource "
                "contenue absente."
            )
        return found
    return None


@dataclass(frozen=True, slots=True)
class _Author:
    id_nat: str
    name: str = ""
    profession: str = ""
    structure: str = ""


def _author(obj: dict[str, Any], contained: Mapping[str, dict[str, Any]], where: str) -> _Author:
    id_nat = name = profession = structure = ""
    for i, ref in enumerate(_list(obj.get("author"), f"{where}.author")):
        here = f"{where}.author[{i}]"
        target = _resolve(ref, contained, here)
        if target is None:
            # A logical reference: {"identifier": {system idNat, value}}.
            ident = json_object(ref, here).get("identifier")
            if not id_nat and isinstance(ident, dict) and ident.get("system") == IDNAT_SYSTEM:
                id_nat = _text(ident.get("value"), f"{here}.identifier.value")
            continue
        kind = target.get("resourceType")
        if kind == "Organization" and not structure:
            structure = _opt_text(target.get("name"), f"{here}(Organization).name") or ""
        elif kind in ("Practitioner", "PractitionerRole") and not id_nat:
            found = _identifier_value(
                target.get("identifier"), IDNAT_SYSTEM, f"{here}(Practitioner).identifier"
            )
            if found is None:
                continue
            id_nat = found
            name = _human_name(target.get("name"), f"{here}(Practitioner).name")
            profession = _profession(target, f"{here}(Practitioner)")
    if not id_nat:
        raise _missing(f"{where}.author (Practitioner identifié par son idNat {IDNAT_SYSTEM})")
    return _Author(id_nat, name, profession, structure)


def _profession(practitioner: dict[str, Any], where: str) -> str:
    first = ""
    for i, qual in enumerate(_list(practitioner.get("qualification"), f"{where}.qualification")):
        if not isinstance(qual, dict):
            continue
        for c in _codings(qual.get("code"), f"{where}.qualification[{i}].code"):
            code = c.get("code")
            if not isinstance(code, str) or not code:
                continue
            if c.get("system") == PROFESSION_SYSTEM:
                return code
            first = first or code
    return first


def _entered_by(
    obj: dict[str, Any], contained: Mapping[str, dict[str, Any]], where: str
) -> str | None:
    for i, ext in enumerate(_list(obj.get("extension"), f"{where}.extension")):
        if not isinstance(ext, dict) or ext.get("url") != DATA_ENTERER_URL:
            continue
        here = f"{where}.extension[{i}].valueReference"
        value = ext.get("valueReference")
        target = _resolve(value, contained, here)
        if target is not None:
            return _identifier_value(target.get("identifier"), IDNAT_SYSTEM, f"{here}.identifier")
        ident = json_object(value, here).get("identifier")
        if isinstance(ident, dict) and ident.get("system") == IDNAT_SYSTEM:
            return _text(ident.get("value"), f"{here}.identifier.value")
    return None


def _archived(obj: dict[str, Any], where: str) -> bool:
    for i, ext in enumerate(_list(obj.get("extension"), f"{where}.extension")):
        if isinstance(ext, dict) and ext.get("url") == ARCHIVED_URL:
            value = ext.get("valueBoolean")
            if not isinstance(value, bool):
                raise _invalid(f"{where}.extension[{i}].valueBoolean", "booléen")
            return value
    return False


def _visibility(obj: dict[str, Any], where: str) -> frozenset[Visibility]:
    """TRE_A07 visibility codes of ``securityLabel`` (HL7 ``N`` and other codes ignored)."""
    system = _visibility_system()
    out: set[Visibility] = set()
    for i, label in enumerate(_list(obj.get("securityLabel"), f"{where}.securityLabel")):
        for c in _codings(label, f"{where}.securityLabel[{i}]"):
            code = c.get("code")
            if code in _VISIBILITY_CODES and c.get("system") in (system, None):
                out.add(Visibility(code))
    return frozenset(out)


def _sha1_hex(value: Any, where: str) -> str:
    if value is None:
        return ""
    text = _text(value, where)
    try:
        digest = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid(where, "SHA-1 en base64") from None
    if len(digest) != 20:
        raise _invalid(where, "SHA-1 (20 octets) en base64")
    return digest.hex()


def _type_code(obj: dict[str, Any], where: str) -> str:
    type_codings = _codings(obj.get("type"), f"{where}.type")
    if not type_codings:
        raise _missing(f"{where}.type.coding")
    known = terminology().types
    codes = [c.get("code") for c in type_codings]
    # Prefer a coding the DMP's list knows (a server may add a local translation).
    for code in codes:
        if isinstance(code, str) and code in known:
            return code
    return _text(codes[0], f"{where}.type.coding[0].code")


def _class_code(obj: dict[str, Any], type_code: str, where: str) -> str:
    term = terminology()
    fallback = ""
    for i, concept in enumerate(_list(obj.get("category"), f"{where}.category")):
        for c in _codings(concept, f"{where}.category[{i}]"):
            code = c.get("code")
            if not isinstance(code, str) or not code:
                continue
            if c.get("system") == term.class_system:
                return code
            fallback = fallback or code
    dtype = term.types.get(type_code)
    if dtype is not None:
        return dtype.class_code
    return fallback


def _replaces(obj: dict[str, Any], where: str) -> str | None:
    for i, rel in enumerate(_list(obj.get("relatesTo"), f"{where}.relatesTo")):
        if not isinstance(rel, dict) or rel.get("code") != "replaces":
            continue
        target = json_object(rel.get("target"), f"{where}.relatesTo[{i}].target")
        reference = _text(target.get("reference"), f"{where}.relatesTo[{i}].target.reference")
        kind, _, doc_id = reference.rpartition("/")
        if doc_id and kind.rsplit("/", 1)[-1] == "DocumentReference":
            return doc_id
    return None


def document_from_fhir(resource: Any) -> DocumentMeta:
    """A DocumentReference (as the ANS PDSm profile shapes it) -> :class:`DocumentMeta`."""
    obj = _check_type(resource, "DocumentReference", "DocumentReference")
    doc_id = _text(obj.get("id"), "DocumentReference.id")
    # Named by its id in messages when it is a FHIR id (never quote arbitrary server text).
    where = f"DocumentReference[{doc_id}]" if _FHIR_ID.fullmatch(doc_id) else "DocumentReference"
    status_text = _text(obj.get("status"), f"{where}.status")
    try:
        status = DocStatus(status_text)
    except ValueError:
        raise _invalid(f"{where}.status", "current, superseded ou entered-in-error") from None
    master = _opt_object(obj.get("masterIdentifier"), f"{where}.masterIdentifier")
    master_id = doc_id
    if master is not None:
        master_id = _opt_text(master.get("value"), f"{where}.masterIdentifier.value") or doc_id
    type_code = _type_code(obj, where)
    class_code = _class_code(obj, type_code, where)
    subject = json_object(obj.get("subject"), f"{where}.subject")
    identifier = json_object(subject.get("identifier"), f"{where}.subject.identifier")
    patient_ins = _text(identifier.get("value"), f"{where}.subject.identifier.value")
    contained = _contained(obj, where)
    author = _author(obj, contained, where)
    deposited = parse_fhir_datetime(obj.get("date"), f"{where}.date")
    contents = _list(obj.get("content"), f"{where}.content")
    if not contents:
        raise _missing(f"{where}.content")
    content = json_object(contents[0], f"{where}.content[0]")
    attachment = json_object(content.get("attachment"), f"{where}.content[0].attachment")
    att = f"{where}.content[0].attachment"
    content_type = _text(attachment.get("contentType"), f"{att}.contentType")
    content_type = content_type.split(";", 1)[0].strip().lower()
    if not _MEDIA_TYPE.fullmatch(content_type):
        raise _invalid(f"{att}.contentType", "type MIME")
    size = attachment.get("size", 0)
    if isinstance(size, bool) or not isinstance(size, int) or size < 0:
        raise _invalid(f"{att}.size", "entier positif")
    sha1 = _sha1_hex(attachment.get("hash"), f"{att}.hash")
    context = _opt_object(obj.get("context"), f"{where}.context") or {}
    period = _opt_object(context.get("period"), f"{where}.context.period") or {}
    if period.get("start") is not None:
        created = parse_fhir_datetime(period["start"], f"{where}.context.period.start")
    elif attachment.get("creation") is not None:
        created = parse_fhir_datetime(attachment["creation"], f"{att}.creation")
    else:
        created = deposited
    dtype = terminology().types.get(type_code)
    title = (
        _opt_text(obj.get("description"), f"{where}.description")
        or _opt_text(attachment.get("title"), f"{att}.title")
        or (dtype.label if dtype is not None else "")
        or type_code
    )
    return DocumentMeta(
        id=doc_id,
        master_id=master_id,
        patient_ins=patient_ins,
        type_code=type_code,
        class_code=class_code,
        title=title,
        author_id_nat=author.id_nat,
        created=created,
        deposited=deposited,
        author_name=author.name,
        author_profession=author.profession,
        structure_name=author.structure,
        entered_by=_entered_by(obj, contained, where),
        status=status,
        archived=_archived(obj, where),
        visibility=_visibility(obj, where),
        content_type=content_type,
        size=size,
        sha1=sha1,
        replaces=_replaces(obj, where),
    )


# -- Bundles -------------------------------------------------------------------------------------
def _searchset(bundle: Any) -> dict[str, Any]:
    obj = _check_type(bundle, "Bundle", "Bundle")
    kind = obj.get("type")
    if kind is not None and kind != "searchset":
        raise _invalid("Bundle.type", "searchset")
    return obj


def _matches(bundle: Any, resource_type: str) -> list[Any]:
    """The resources of the entries of a searchset that are matches (``search.mode`` match or
    absent); ``include`` and ``outcome`` entries are skipped."""
    obj = _searchset(bundle)
    out: list[Any] = []
    for i, entry in enumerate(_list(obj.get("entry"), "Bundle.entry")):
        entry_obj = json_object(entry, f"Bundle.entry[{i}]")
        search = _opt_object(entry_obj.get("search"), f"Bundle.entry[{i}].search") or {}
        if search.get("mode") in ("include", "outcome"):
            continue
        resource = json_object(entry_obj.get("resource"), f"Bundle.entry[{i}].resource")
        if resource.get("resourceType") == "OperationOutcome":
            continue  # a warning riding along with the matches
        _check_type(resource, resource_type, f"Bundle.entry[{i}].resource")
        out.append(resource)
    return out


def _next_link(obj: dict[str, Any]) -> str | None:
    for i, link in enumerate(_list(obj.get("link"), "Bundle.link")):
        if isinstance(link, dict) and link.get("relation") == "next":
            return _text(link.get("url"), f"Bundle.link[{i}].url")
    return None


def _total(obj: dict[str, Any]) -> int | None:
    total = obj.get("total")
    if total is None:
        return None
    if isinstance(total, bool) or not isinstance(total, int) or total < 0:
        raise _invalid("Bundle.total", "entier positif")
    return total


def documents_page_from_bundle(bundle: Any) -> tuple[list[DocumentMeta], int | None, str | None]:
    """A searchset Bundle of DocumentReferences -> (documents, total, next link URL)."""
    obj = _searchset(bundle)
    docs = [document_from_fhir(r) for r in _matches(obj, "DocumentReference")]
    return docs, _total(obj), _next_link(obj)


# -- Immunization -------------------------------------------------------------------------------
def _reference_identifier(reference: Any, system: str, where: str) -> str | None:
    """The value of a logical Reference's identifier of ``system`` (None when absent)."""
    ref = _opt_object(reference, where)
    if ref is None:
        return None
    ident = _opt_object(ref.get("identifier"), f"{where}.identifier")
    if ident is None or ident.get("system") != system:
        return None
    return _text(ident.get("value"), f"{where}.identifier.value")


def _where(kind: str, obj: dict[str, Any]) -> str:
    """``Kind[id]`` when the id is a FHIR id (never quote arbitrary server text)."""
    res_id = obj.get("id")
    return f"{kind}[{res_id}]" if isinstance(res_id, str) and _FHIR_ID.fullmatch(res_id) else kind


def immunization_from_fhir(resource: Any) -> Immunization:
    """An Immunization resource -> :class:`~console.domain.vaccination.Immunization`."""
    obj = _check_type(resource, "Immunization", "Immunization")
    where = _where("Immunization", obj)
    imm_id = _text(obj.get("id"), f"{where}.id")
    status = _text(obj.get("status"), f"{where}.status")
    codings = _codings(obj.get("vaccineCode"), f"{where}.vaccineCode")
    if not codings:
        raise _missing(f"{where}.vaccineCode.coding")
    known = vaccine_catalogue()
    chosen = next((c for c in codings if c.get("system") == known.system), codings[0])
    code = _text(chosen.get("code"), f"{where}.vaccineCode.coding.code")
    system = _opt_text(chosen.get("system"), f"{where}.vaccineCode.coding.system") or ""
    concept = json_object(obj.get("vaccineCode"), f"{where}.vaccineCode")
    listed = known.get(code) if system == known.system else None
    display = (
        _opt_text(chosen.get("display"), f"{where}.vaccineCode.coding.display")
        or _opt_text(concept.get("text"), f"{where}.vaccineCode.text")
        or (listed.display if listed is not None else "")
    )
    vaccine = Vaccine(system, code, display, listed.examples if listed is not None else ())
    patient = json_object(obj.get("patient"), f"{where}.patient")
    patient_ins = _text(
        json_object(patient.get("identifier"), f"{where}.patient.identifier").get("value"),
        f"{where}.patient.identifier.value",
    )
    occurrence = parse_fhir_date(
        _text(obj.get("occurrenceDateTime"), f"{where}.occurrenceDateTime")[:10],
        f"{where}.occurrenceDateTime",
    )
    recorded = None
    if obj.get("recorded") is not None:
        recorded = parse_fhir_datetime(obj["recorded"], f"{where}.recorded")
    performer = None
    for i, entry in enumerate(_list(obj.get("performer"), f"{where}.performer")):
        here = f"{where}.performer[{i}].actor"
        actor = json_object(json_object(entry, f"{where}.performer[{i}]").get("actor"), here)
        id_nat = _reference_identifier(actor, IDNAT_SYSTEM, here)
        if id_nat is not None:
            performer = Performer(id_nat, _opt_text(actor.get("display"), f"{here}.display") or "")
            break
    return Immunization(
        id=imm_id,
        patient_ins=patient_ins,
        vaccine=vaccine,
        occurrence=occurrence,
        lot_number=_opt_text(obj.get("lotNumber"), f"{where}.lotNumber") or "",
        performer=performer,
        recorded=recorded,
        status=status,
    )


def immunizations_page_from_bundle(
    bundle: Any,
) -> tuple[list[Immunization], int | None, str | None]:
    """A searchset Bundle of Immunizations -> (immunizations, total, next link URL)."""
    obj = _searchset(bundle)
    found = [immunization_from_fhir(r) for r in _matches(obj, "Immunization")]
    return found, _total(obj), _next_link(obj)


def immunization_to_fhir(new: NewImmunization, ins: INS) -> dict[str, Any]:
    """The body of ``POST /Immunization`` for a checked vaccination: the performer is the
    professional logged in (the server records the caller and refuses anyone else)."""
    actor: dict[str, Any] = {"identifier": {"system": IDNAT_SYSTEM, "value": new.performer.id_nat}}
    if new.performer.name:
        actor["display"] = new.performer.name
    coding: dict[str, Any] = {"system": new.vaccine.system, "code": new.vaccine.code}
    if new.vaccine.display:
        coding["display"] = new.vaccine.display
    return {
        "resourceType": "Immunization",
        "status": "completed",
        "vaccineCode": {"coding": [coding]},
        "patient": {"identifier": {"system": ins.system, "value": ins.value}},
        "occurrenceDateTime": new.occurrence.isoformat(),
        "primarySource": True,
        "lotNumber": new.lot_number,
        "performer": [{"actor": actor}],
    }


# -- Patient.generalPractitioner -------------------------------------------------------------------
def general_practitioner_from_patient(resource: Any) -> GeneralPractitioner | None:
    """The médecin traitant of a Patient (``generalPractitioner``: the first Practitioner
    carrying an idNat), None when the server tells none."""
    obj = _check_type(resource, "Patient", "Patient")
    contained = _contained(obj, "Patient")
    for i, ref in enumerate(_list(obj.get("generalPractitioner"), "Patient.generalPractitioner")):
        here = f"Patient.generalPractitioner[{i}]"
        ref_obj = json_object(ref, here)
        target = _resolve(ref_obj, contained, here)
        display = _opt_text(ref_obj.get("display"), f"{here}.display") or ""
        if target is not None:
            if target.get("resourceType") not in ("Practitioner", "PractitionerRole"):
                continue
            id_nat = _identifier_value(target.get("identifier"), IDNAT_SYSTEM, f"{here}.identifier")
            display = display or _human_name(target.get("name"), f"{here}.name")
        else:
            kind = ref_obj.get("type")
            if kind not in (None, "Practitioner", "PractitionerRole"):
                continue
            id_nat = _reference_identifier(ref_obj, IDNAT_SYSTEM, here)
        if id_nat:
            return GeneralPractitioner(id_nat, display)
    return None


def patient_summary_from_bundle(bundle: Any, ins: INS) -> PatientSummary | None:
    """The Patient of ``ins`` in a searchset (identity and médecin traitant), None if absent."""
    for resource in _matches(bundle, "Patient"):
        record = patient_from_fhir(resource)
        if record.ins.value == ins.value:
            return PatientSummary(record, general_practitioner_from_patient(resource))
    return None


# -- RelatedPerson ("Entourage et volontés") ------------------------------------------------------
def related_person_from_fhir(resource: Any) -> RelatedContact:
    """A RelatedPerson -> :class:`~console.domain.profile.RelatedContact` (roles from TRE_R260,
    relation from TRE_R216; other codings ignored)."""
    obj = _check_type(resource, "RelatedPerson", "RelatedPerson")
    where = _where("RelatedPerson", obj)
    person_id = _text(obj.get("id"), f"{where}.id")
    role_codes: list[str] = []
    relation, relation_label = "", ""
    for i, concept in enumerate(_list(obj.get("relationship"), f"{where}.relationship")):
        for c in _codings(concept, f"{where}.relationship[{i}]"):
            code = c.get("code")
            if not isinstance(code, str) or not code:
                continue
            if c.get("system") == TRE_R260_SYSTEM:
                role_codes.append(code)
            elif c.get("system") == TRE_R216_SYSTEM and not relation:
                relation = code
                relation_label = _opt_text(c.get("display"), f"{where}.relationship.display") or ""
    family, given = "", ""
    names = [n for n in _list(obj.get("name"), f"{where}.name") if isinstance(n, dict)]
    if names:
        raw_family = names[0].get("family")
        family = raw_family.strip() if isinstance(raw_family, str) else ""
        given = " ".join(
            g.strip()
            for g in _list(names[0].get("given"), f"{where}.name.given")
            if isinstance(g, str) and g.strip()
        )
        if not family and not given:
            text = names[0].get("text")
            family = text.strip() if isinstance(text, str) else ""
    phones: list[tuple[int, int, Phone]] = []
    for i, point in enumerate(_list(obj.get("telecom"), f"{where}.telecom")):
        if not isinstance(point, dict) or point.get("system") not in ("phone", "sms"):
            continue
        value = _opt_text(point.get("value"), f"{where}.telecom[{i}].value")
        if value is None:
            continue
        rank = point.get("rank")
        order = rank if isinstance(rank, int) and not isinstance(rank, bool) else 1_000_000
        use = point.get("use")
        phones.append((order, i, Phone(value, use if isinstance(use, str) else "")))
    contact_rank = 0
    for i, ext in enumerate(_list(obj.get("extension"), f"{where}.extension")):
        if isinstance(ext, dict) and ext.get("url") == CONTACT_RANK_URL:
            value = ext.get("valuePositiveInt")
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _invalid(f"{where}.extension[{i}].valuePositiveInt", "entier positif")
            contact_rank = value
    return RelatedContact(
        id=person_id,
        family_name=family,
        given_names=given,
        roles=roles_of(role_codes),
        relationship_code=relation,
        relationship_label=relation_label,
        phones=tuple(p for _, _, p in sorted(phones, key=lambda t: (t[0], t[1]))),
        rank=contact_rank,
    )


def related_persons_page_from_bundle(
    bundle: Any,
) -> tuple[list[RelatedContact], int | None, str | None]:
    """A searchset Bundle of RelatedPersons -> (contacts, total, next link URL)."""
    obj = _searchset(bundle)
    found = [related_person_from_fhir(r) for r in _matches(obj, "RelatedPerson")]
    return found, _total(obj), _next_link(obj)


# -- Consent (advance directives) ------------------------------------------------------------------
def _is_advance_directive(obj: dict[str, Any], where: str) -> bool:
    for c in _codings(obj.get("scope"), f"{where}.scope"):
        if c.get("system") == CONSENT_SCOPE_SYSTEM and c.get("code") == ADVANCE_DIRECTIVE_SCOPE:
            return True
    for i, concept in enumerate(_list(obj.get("category"), f"{where}.category")):
        for c in _codings(concept, f"{where}.category[{i}]"):
            if (c.get("system"), c.get("code")) in (
                (CONSENT_CATEGORY_SYSTEM, ADVANCE_DIRECTIVE_CATEGORY),
                (LOINC_SYSTEM, LOINC_ADVANCE_DIRECTIVE),
            ):
                return True
    return False


def advance_directives_from_fhir(resource: Any) -> AdvanceDirectives | None:
    """A Consent about advance directives -> :class:`AdvanceDirectives`; None for another
    kind of Consent, or one no longer active."""
    obj = _check_type(resource, "Consent", "Consent")
    where = _where("Consent", obj)
    if not _is_advance_directive(obj, where):
        return None
    if _text(obj.get("status"), f"{where}.status") != "active":
        return None
    written: bool | None = None
    written_on = None
    location = ""
    for i, ext in enumerate(_list(obj.get("extension"), f"{where}.extension")):
        if not isinstance(ext, dict):
            continue
        here = f"{where}.extension[{i}]"
        match ext.get("url"):
            case url if url == DIRECTIVES_WRITTEN_URL:
                value = ext.get("valueBoolean")
                if not isinstance(value, bool):
                    raise _invalid(f"{here}.valueBoolean", "booléen")
                written = value
            case url if url == DIRECTIVES_DATE_URL:
                written_on = parse_fhir_date(ext.get("valueDate"), f"{here}.valueDate")
            case url if url == DIRECTIVES_LOCATION_URL:
                location = _opt_text(ext.get("valueString"), f"{here}.valueString") or ""
    if written is None:
        # Without the sandbox's extension, an active advance-directive Consent says that
        # directives exist.
        written = True
    recorded = None
    if obj.get("dateTime") is not None:
        recorded = parse_fhir_datetime(obj["dateTime"], f"{where}.dateTime")
    return AdvanceDirectives(written, written_on, location, recorded)


def advance_directives_page_from_bundle(
    bundle: Any,
) -> tuple[list[AdvanceDirectives], int | None, str | None]:
    """A searchset Bundle of Consents -> (the advance directives among them, total, next)."""
    obj = _searchset(bundle)
    found = [d for r in _matches(obj, "Consent") if (d := advance_directives_from_fhir(r))]
    return found, _total(obj), _next_link(obj)


# -- AuditEvent and whoami (access history, attestation) ----------------------------------------
def _first_code(concept: Any, where: str) -> str:
    """The code of the first coding of a Coding or CodeableConcept ("" when none)."""
    obj = _opt_object(concept, where)
    if obj is None:
        return ""
    codings = [obj] if "code" in obj else _codings(obj, where)
    for coding in codings:
        code = coding.get("code")
        if isinstance(code, str) and code.strip():
            return code.strip()
    return ""


def audit_record_from_fhir(resource: Any) -> AuditRecord:
    """An AuditEvent resource -> :class:`~console.domain.emergency.AuditRecord`.

    The agent is the first requestor (else the first agent); the patient is the first entity
    identified by an INS; the other entities' references are kept in order.
    """
    obj = _check_type(resource, "AuditEvent", "AuditEvent")
    where = "AuditEvent"
    recorded = parse_fhir_datetime(obj.get("recorded"), f"{where}.recorded")
    subtypes = _list(obj.get("subtype"), f"{where}.subtype")
    subtype = _first_code(subtypes[0], f"{where}.subtype[0]") if subtypes else ""
    agents = [a for a in _list(obj.get("agent"), f"{where}.agent") if isinstance(a, dict)]
    agent = next((a for a in agents if a.get("requestor") is True), agents[0] if agents else {})
    who = _opt_object(agent.get("who"), f"{where}.agent.who") or {}
    ident = _opt_object(who.get("identifier"), f"{where}.agent.who.identifier") or {}
    actor = ""
    if ident.get("system") == IDNAT_SYSTEM:
        actor = _opt_text(ident.get("value"), f"{where}.agent.who.identifier.value") or ""
    purposes = _list(agent.get("purposeOfUse"), f"{where}.agent.purposeOfUse")
    purpose = _first_code(purposes[0], f"{where}.agent.purposeOfUse[0]") if purposes else ""
    patient_ins = ""
    description = ""
    references: list[str] = []
    for i, entity in enumerate(_list(obj.get("entity"), f"{where}.entity")):
        if not isinstance(entity, dict):
            continue
        what = _opt_object(entity.get("what"), f"{where}.entity[{i}].what") or {}
        text = _opt_text(entity.get("description"), f"{where}.entity[{i}].description")
        if text and not description:
            description = text
        identifier = _opt_object(what.get("identifier"), f"{where}.entity[{i}].what.identifier")
        if identifier is not None and identifier.get("system") in INS_SYSTEMS:
            value = _opt_text(identifier.get("value"), f"{where}.entity[{i}].what.identifier")
            patient_ins = patient_ins or (value or "")
            continue
        reference = _opt_text(what.get("reference"), f"{where}.entity[{i}].what.reference")
        if reference:
            references.append(reference)
    outcome = _opt_text(obj.get("outcome"), f"{where}.outcome") or "0"
    outcome_text = _opt_text(obj.get("outcomeDesc"), f"{where}.outcomeDesc") or ""
    raw_id = obj.get("id")
    return AuditRecord(
        id=raw_id if isinstance(raw_id, str) else "",
        recorded=recorded,
        type_code=_first_code(obj.get("type"), f"{where}.type"),
        subtype=subtype,
        action=_opt_text(obj.get("action"), f"{where}.action") or "",
        outcome=outcome,
        outcome_text=outcome_text,
        purpose=purpose,
        actor_id_nat=actor,
        actor_name=_opt_text(who.get("display"), f"{where}.agent.who.display") or "",
        patient_ins=patient_ins,
        references=tuple(references),
        description=description or outcome_text,
    )


def audit_page_from_bundle(bundle: Any) -> tuple[list[AuditRecord], int | None, str | None]:
    """A searchset Bundle of AuditEvents -> (records, total, next link URL)."""
    obj = _searchset(bundle)
    records = [audit_record_from_fhir(r) for r in _matches(obj, "AuditEvent")]
    return records, _total(obj), _next_link(obj)


def professional_from_whoami(body: Any) -> ProfessionalIdentity:
    """The ``/auth/whoami`` answer -> :class:`~console.domain.emergency.ProfessionalIdentity`."""
    obj = json_object(body, "/auth/whoami")
    where = "/auth/whoami"
    id_nat = _text(obj.get("id_nat"), f"{where}.id_nat")
    structure = _opt_object(obj.get("structure"), f"{where}.structure") or {}
    name = _opt_text(obj.get("name"), f"{where}.name")
    if name is None:
        given = _opt_text(obj.get("given_name"), f"{where}.given_name") or ""
        family = _opt_text(obj.get("family_name"), f"{where}.family_name") or ""
        name = f"{given} {family}".strip()
    return ProfessionalIdentity(
        id_nat=id_nat,
        name=name or id_nat,
        profession=_opt_text(obj.get("profession"), f"{where}.profession") or "",
        profession_label=_opt_text(obj.get("profession_label"), f"{where}.profession_label") or "",
        specialty=_opt_text(obj.get("specialty"), f"{where}.specialty"),
        structure_id=_opt_text(structure.get("id"), f"{where}.structure.id") or "",
        structure_name=_opt_text(structure.get("name"), f"{where}.structure.name") or "",
    )
