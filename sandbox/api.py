"""The FHIR endpoints of the sandbox (PDSm / IHE MHD): what a DMP client talks to.

Every patient-data call needs a patient-scoped token (``POST /auth/access``); the rules of
design.md section 3 (``console.domain.rules``) decide what each caller sees, here, on the
server: a search never lists nor counts what the caller may not see. Every search, read,
retrieve, deposit and update leaves an AuditEvent. Logs never carry patient data.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams

from console.domain.errors import InvalidINSError
from console.domain.habilitation import habilitation_matrix
from console.domain.ins import INS, validate_nir
from console.domain.models import (
    AccessMode,
    Actor,
    DocStatus,
    DocumentMeta,
    PatientPolicy,
    Visibility,
)
from console.domain.profile import (
    ADVANCE_DIRECTIVE_CATEGORY,
    CONSENT_CATEGORY_SYSTEM,
    LOINC_ADVANCE_DIRECTIVE,
    TRE_R216_SYSTEM,
    TRE_R260_SYSTEM,
)
from console.domain.rules import (
    EntourageSection,
    Refusal,
    UpdateAction,
    can_read_document,
    check_deposit,
    check_entourage_access,
    check_update,
    may_see_masked,
    refusal_message,
    visible_documents,
)
from console.domain.terminology import VACCINATION_HISTORY, terminology
from sandbox import fhir
from sandbox.config import Settings
from sandbox.deps import (
    Principal,
    get_clock,
    get_principal,
    get_settings,
    get_store,
    require_patient_scope,
)
from sandbox.errors import FHIR_JSON, FhirError, fhir_response
from sandbox.store import Store

router = APIRouter()

StoreDep = Annotated[Store, Depends(get_store)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ClockDep = Annotated[Callable[[], float], Depends(get_clock)]
CallerDep = Annotated[Principal, Depends(get_principal)]

JSON_PATCH = "application/json-patch+json"
LATEST_ZONE_OFFSET = timedelta(hours=14)
"""The most advanced time zone (UTC+14): a date-only occurrence up to the date there is not in
the future."""


# -- helpers ------------------------------------------------------------------------------------
def _require_content_type(request: Request, allowed: Iterable[str]) -> None:
    expected = sorted(allowed)
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media not in expected:
        raise FhirError(
            415,
            f"Content-Type {media or '(absent)'} non pris en charge ; attendu : "
            f"{' ou '.join(expected)}.",
            reason="unsupported_media_type",
        )


async def _json_body(request: Request) -> Any:
    body = await request.body()
    if not body.strip():
        raise FhirError(400, "Corps de requête vide : JSON attendu.", reason="empty_body")
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        raise FhirError(
            400, "Le corps n'est pas du texte UTF-8.", reason="malformed_json"
        ) from None
    except json.JSONDecodeError as exc:
        raise FhirError(
            400,
            f"JSON mal formé (ligne {exc.lineno}, colonne {exc.colno}) : {exc.msg}.",
            reason="malformed_json",
        ) from None


def _path(value: Any, *keys: str) -> Any:
    """``value[k1][k2]...`` through dicts, None when any step is missing."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _clock_now(clock: Callable[[], float]) -> datetime:
    return datetime.fromtimestamp(clock(), UTC)


def _single(params: QueryParams, name: str) -> str | None:
    values = params.getlist(name)
    if len(values) > 1:
        raise FhirError(400, f"Le paramètre {name} ne peut apparaître qu'une fois.", reason="param")
    return values[0] if values else None


def _int_param(params: QueryParams, name: str, default: int) -> int:
    raw = _single(params, name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        raise FhirError(
            400, f"Le paramètre {name} doit être un entier positif (reçu {raw!r}).", reason="param"
        )
    return int(raw)


@dataclass(frozen=True, slots=True)
class _Paging:
    count: int
    offset: int

    @classmethod
    def parse(cls, params: QueryParams, settings: Settings) -> _Paging:
        count = min(_int_param(params, "_count", settings.page_default), settings.page_max)
        return cls(count, _int_param(params, "_offset", 0))

    def links(
        self, settings: Settings, path: str, params: Sequence[tuple[str, str]], total: int
    ) -> tuple[str, str | None, str | None]:
        """(self, next, previous) absolute URLs keeping the search parameters."""
        kept = [(k, v) for k, v in params if k not in ("_count", "_offset")]

        def url(offset: int) -> str:
            query = urlencode([*kept, ("_count", str(self.count)), ("_offset", str(offset))])
            return f"{settings.base_url}/{path}?{query}"

        nxt = self.offset + self.count
        return (
            url(self.offset),
            url(nxt) if self.count > 0 and nxt < total else None,
            url(max(0, self.offset - self.count)) if self.count > 0 and self.offset > 0 else None,
        )


@dataclass(frozen=True, slots=True)
class _Record:
    """A patient's record opened by a caller holding a patient-scoped token."""

    actor: Actor
    policy: PatientPolicy
    mode: AccessMode
    ins: str
    patient_system: str


def _refuse(
    store: Store,
    *,
    actor: Actor,
    ins: str | None,
    mode: AccessMode | None,
    subtype: str,
    action: str,
    reason: Refusal,
    entity_ids: Sequence[str] = (),
    status: int = 403,
) -> FhirError:
    """Trace a refusal (outcome 4, reason code only) and return the error to raise."""
    store.audit(
        subtype=subtype,
        action=action,
        agent=actor,
        patient_ins=ins,
        purpose=None if mode is None else mode.value,
        outcome="4",
        entity_ids=entity_ids,
        description=f"refus : {reason.value}",
    )
    return FhirError(status, refusal_message(reason), reason=reason.value)


def _open_record(
    store: Store, principal: Principal, ins: str, *, subtype: str, action: str
) -> _Record:
    """Rules 1 and 2 for a patient-data call, after the token's scope (403s, traced)."""
    actor = principal.actor
    known = store.patient_row(ins) is not None
    if actor.is_secretary:
        raise _refuse(
            store,
            actor=actor,
            ins=ins if known else None,
            mode=principal.mode,
            subtype=subtype,
            action=action,
            reason=Refusal.SECRETARY_NO_READ,
        )
    mode = require_patient_scope(principal, ins)
    row = store.patient_row(ins)
    policy = store.policy(ins)
    if row is None or policy is None:
        raise FhirError(404, "Patient inconnu du DMP.", reason="unknown_patient")
    if actor.id_nat in policy.blocked:
        raise _refuse(
            store,
            actor=actor,
            ins=ins,
            mode=mode,
            subtype=subtype,
            action=action,
            reason=Refusal.BLOCKED,
        )
    return _Record(actor, policy, mode, ins, str(row["ins_system"]))


def _not_found(what: str = "Document") -> FhirError:
    return FhirError(404, f"{what} introuvable.", reason="not_found")


def _purpose(mode: AccessMode | None) -> str | None:
    return None if mode is None else mode.value


# -- metadata and identity ------------------------------------------------------------------------
@router.get("/metadata")
def metadata(settings: SettingsDep) -> JSONResponse:
    return fhir_response(fhir.capability_statement(settings))


@router.get("/Patient")
def search_patient(
    request: Request, principal: CallerDep, store: StoreDep, settings: SettingsDep
) -> JSONResponse:
    """Identity lookup by INS: any authenticated caller, the secretary included."""
    params = request.query_params
    ins = fhir.parse_ins_token(_single(params, "identifier"), "identifier")
    row = store.patient_row(ins.value)
    entries = []
    if row is not None:
        entries.append(
            (
                f"{settings.base_url}/Patient/{row['ins']}",
                fhir.patient(
                    dict(row), general_practitioner=_medecin_traitant(store, principal, row)
                ),
            )
        )
    store.audit(
        subtype="search",
        action="E",
        agent=principal.actor,
        patient_ins=None if row is None else ins.value,
        purpose=_purpose(principal.mode),
        entity_ids=[f"Patient/{ins.value}"] if row is not None else [],
        description=f"Patient?identifier : {len(entries)} résultat(s)",
    )
    self_url = f"{settings.base_url}/Patient?identifier={ins.system}%7C{ins.value}"
    return fhir_response(fhir.searchset(entries, total=len(entries), self_url=self_url))


def _medecin_traitant(
    store: Store, principal: Principal, row: sqlite3.Row
) -> dict[str, Any] | None:
    """The médecin traitant's directory row, told only to a caller holding an open access
    mode on this patient (the INS lookup alone is an identity check, not a record read)."""
    if principal.kind != "patient" or principal.patient_ins != row["ins"] or not principal.mode:
        return None
    if not row["medecin_traitant"]:
        return None
    gp = store.query_one(
        "SELECT id_nat, family_name, given_name FROM professionals WHERE id_nat = ?",
        (row["medecin_traitant"],),
    )
    return None if gp is None else dict(gp)


# -- DocumentReference search (ITI-67) -------------------------------------------------------------
_DATE_PREFIXES = ("eq", "ge", "gt", "le", "lt")


@dataclass(slots=True)
class _DocCriteria:
    """The checked search parameters of ``GET /DocumentReference``."""

    ins: INS
    paging: _Paging
    used: list[tuple[str, str]] = field(default_factory=list)
    statuses: set[str] = field(default_factory=lambda: {DocStatus.CURRENT.value})
    type_codes: set[str] | None = None
    class_codes: set[str] | None = None
    authors: set[str] | None = None
    labels: list[set[str]] = field(default_factory=list)
    archived: bool = False
    period_start: datetime | None = None
    period_end: datetime | None = None
    """Exclusive upper bound on the date of the act."""
    deposit_tests: list[Callable[[datetime], bool]] = field(default_factory=list)

    @classmethod
    def parse(cls, params: QueryParams, settings: Settings) -> _DocCriteria:
        raw_ins = _single(params, "patient.identifier")
        crit = cls(
            fhir.parse_ins_token(raw_ins, "patient.identifier"), _Paging.parse(params, settings)
        )
        crit.used.append(("patient.identifier", str(raw_ins)))
        term = terminology()
        for key, value in params.multi_items():
            match key:
                case "status":
                    statuses = {s.strip() for s in value.split(",") if s.strip()}
                    unknown = statuses - {s.value for s in DocStatus}
                    if unknown or not statuses:
                        raise _param_error(key, value, "current, superseded, entered-in-error")
                    crit.statuses &= statuses
                case "type":
                    codes = set()
                    for system, code in _tokens(value):
                        dtype = term.types.get(code)
                        if system is None or (dtype is not None and dtype.system == system):
                            codes.add(code)
                    crit.type_codes = codes if crit.type_codes is None else crit.type_codes & codes
                case "category":
                    codes = {
                        code
                        for system, code in _tokens(value)
                        if system in (None, term.class_system)
                    }
                    crit.class_codes = (
                        codes if crit.class_codes is None else crit.class_codes & codes
                    )
                case "author" | "author.identifier":
                    ids = {
                        code
                        for system, code in _tokens(value)
                        if system in (None, fhir.IDNAT_SYSTEM)
                    }
                    crit.authors = ids if crit.authors is None else crit.authors & ids
                case "security-label":
                    labels = set()
                    for system, code in _tokens(value):
                        if system in (None, fhir.visibility_system(), fhir.CONFIDENTIALITY_SYSTEM):
                            labels.add(code)
                    crit.labels.append(labels)
                case "isArchived":
                    if value not in ("true", "false"):
                        raise _param_error(key, value, "true ou false")
                    crit.archived = value == "true"
                case "period-start":
                    start = _date_range(key, value)[0]
                    crit.period_start = max(start, crit.period_start or start)
                case "period-end":
                    end = _date_range(key, value)[1]
                    crit.period_end = min(end, crit.period_end or end)
                case "date":
                    crit.deposit_tests.append(_date_test(value))
                case "_count" | "_offset" | "patient.identifier":
                    continue
                case _:
                    continue  # unknown parameters are ignored (and left out of the self link)
            crit.used.append((key, value))
        return crit

    def where(self) -> tuple[str, list[Any]] | None:
        """The cheap filters as an SQL condition (None when nothing can match)."""
        if DocStatus.CURRENT.value not in self.statuses:
            return None  # rule 6: superseded and deleted documents are never listed
        sql = ["patient_ins = ? AND status = ? AND archived = ?"]
        args: list[Any] = [self.ins.value, DocStatus.CURRENT.value, 1 if self.archived else 0]
        for column, values in (
            ("type_code", self.type_codes),
            ("class_code", self.class_codes),
            ("author_id_nat", self.authors),
        ):
            if values is None:
                continue
            if not values:
                return None
            sql.append(f"AND {column} IN ({','.join('?' * len(values))})")
            args.extend(sorted(values))
        return " ".join(sql), args

    def matches(self, doc: DocumentMeta) -> bool:
        """The filters SQL cannot do reliably (dates with zones, label sets)."""
        if self.labels:
            codes = {v.value for v in doc.visibility} or {"N"}
            if not all(codes & wanted for wanted in self.labels):
                return False
        if self.period_start is not None or self.period_end is not None:
            created = fhir.aware(doc.created)
            if self.period_start is not None and created < self.period_start:
                return False
            if self.period_end is not None and created >= self.period_end:
                return False
        if self.deposit_tests:
            deposited = fhir.aware(doc.deposited)
            return all(test(deposited) for test in self.deposit_tests)
        return True


def _tokens(value: str) -> list[tuple[str | None, str]]:
    out: list[tuple[str | None, str]] = []
    for token in value.split(","):
        token = token.strip()
        if not token:
            continue
        system, sep, code = token.partition("|")
        out.append((system or None, code) if sep else (None, token))
    return out


def _param_error(key: str, value: str, expected: str) -> FhirError:
    return FhirError(
        400, f"Paramètre {key}={value!r} invalide ; attendu : {expected}.", reason="param"
    )


def _date_range(key: str, value: str) -> tuple[datetime, datetime]:
    try:
        return fhir.datetime_range(value)
    except ValueError:
        raise _param_error(key, value, "AAAA-MM-JJ ou AAAA-MM-JJThh:mm:ss+hh:mm") from None


def _date_test(value: str) -> Callable[[datetime], bool]:
    prefix, rest = (value[:2], value[2:]) if value[:2] in _DATE_PREFIXES else ("eq", value)
    lo, hi = _date_range("date", rest)
    match prefix:
        case "ge":
            return lambda d: d >= lo
        case "gt":
            return lambda d: d >= hi
        case "le":
            return lambda d: d < hi
        case "lt":
            return lambda d: d < lo
        case _:
            return lambda d: lo <= d < hi


# What a search costs is mostly turning thousands of rows into DocumentMeta. Once deposited, a
# document's metadata never changes but for its status, visibility and archiving (a new version
# is a replacement, never an edit), so conversions are cached by (id, status, archived,
# visibility): each search reads that state for the matching rows in one SQL row, converts only
# the rows not seen in that state, and then applies the rules to every candidate, as always.
_STATE_COLUMNS = ("id", "status", "archived", "visibility")
_US, _RS = "\x1f", "\x1e"
_STATE_SQL = " || char(31) || ".join(_STATE_COLUMNS)


def _state_key(row: sqlite3.Row) -> str:
    return _US.join(str(row[c]) for c in _STATE_COLUMNS)


@dataclass(slots=True)
class _CachedDoc:
    key: str
    meta: DocumentMeta
    sort_key: tuple[float, str]
    """Deposit date descending, then id."""
    type_system: str
    structure_id: str | None
    resources: dict[tuple[str, str], bytes] = field(default_factory=dict)

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> _CachedDoc:
        meta = Store.document(row)
        return cls(
            _state_key(row),
            meta,
            (-fhir.aware(meta.deposited).timestamp(), meta.id),
            str(row["type_system"]),
            row["structure_id"],
        )

    def resource(self, base_url: str, patient_system: str, names: _Names) -> bytes:
        """The DocumentReference as JSON (built once per base URL and INS system)."""
        key = (base_url, patient_system)
        resource = self.resources.get(key)
        if resource is None:
            resource = fhir.json_bytes(
                fhir.document_reference(
                    self.meta,
                    base_url=base_url,
                    patient_system=patient_system,
                    type_system=self.type_system,
                    structure_id=self.structure_id,
                    entered_by_name=names(self.meta.entered_by),
                )
            )
            self.resources[key] = resource
        return resource


class _DocumentCache:
    """Converted documents of one store, by row state."""

    max_entries = 200_000

    def __init__(self) -> None:
        self._entries: dict[str, _CachedDoc] = {}

    def select(self, store: Store, where: str, args: Sequence[Any]) -> list[_CachedDoc]:
        """The documents matching ``where``, in no particular order."""
        row = store.query_one(
            f"SELECT group_concat({_STATE_SQL}, char(30)) AS k FROM documents WHERE {where}",
            args,
        )
        if row is None or not row["k"]:
            return []
        keys = str(row["k"]).split(_RS)
        entries = self._entries
        missing = [k for k in keys if k not in entries]
        if missing and len(entries) + len(missing) > self.max_entries:
            # start afresh (a new dict, not clear(): a concurrent search keeps the one it holds)
            entries = self._entries = {}
            missing = keys
        fresh: dict[str, _CachedDoc] = {}
        if missing:
            ids = [k.split(_US, 1)[0] for k in missing]
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                for doc_row in store.query(
                    f"SELECT * FROM documents WHERE id IN ({','.join('?' * len(chunk))})", chunk
                ):
                    cached = _CachedDoc.from_row(doc_row)
                    fresh[cached.meta.id] = entries[cached.key] = cached
        out: list[_CachedDoc] = []
        for key in keys:
            found = entries.get(key) or fresh.get(key.split(_US, 1)[0])
            if found is not None:  # None: deleted between the two queries
                out.append(found)
        return out


_CACHES: weakref.WeakKeyDictionary[Store, _DocumentCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _document_cache(store: Store) -> _DocumentCache:
    with _CACHES_LOCK:
        cache = _CACHES.get(store)
        if cache is None:
            cache = _CACHES[store] = _DocumentCache()
        return cache


class _Names:
    """idNat -> display name, looked up once per request (secretaries who entered documents)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._names: dict[str, str | None] = {}

    def __call__(self, id_nat: str | None) -> str | None:
        if id_nat is None:
            return None
        if id_nat not in self._names:
            actor = self._store.actor(id_nat)
            self._names[id_nat] = None if actor is None else actor.display_name
        return self._names[id_nat]


def _doc_resource(
    doc: DocumentMeta, row: sqlite3.Row, settings: Settings, patient_system: str, names: _Names
) -> dict[str, Any]:
    return fhir.document_reference(
        doc,
        base_url=settings.base_url,
        patient_system=patient_system,
        type_system=row["type_system"],
        structure_id=row["structure_id"],
        entered_by_name=names(doc.entered_by),
    )


@router.get("/DocumentReference")
def search_documents(
    request: Request, principal: CallerDep, store: StoreDep, settings: SettingsDep
) -> Response:
    crit = _DocCriteria.parse(request.query_params, settings)
    record = _open_record(store, principal, crit.ins.value, subtype="search", action="E")
    where = crit.where()
    cached = [] if where is None else _document_cache(store).select(store, *where)
    candidates = sorted((c for c in cached if crit.matches(c.meta)), key=attrgetter("sort_key"))
    by_id = {c.meta.id: c for c in candidates}
    # The rules are the authority: what they refuse is neither listed nor counted.
    visible = visible_documents(
        record.actor,
        record.policy,
        [c.meta for c in candidates],
        record.mode,
        include_archived=crit.archived,
    )
    page = visible[crit.paging.offset : crit.paging.offset + crit.paging.count]
    names = _Names(store)
    entries = [
        (
            f"{settings.base_url}/DocumentReference/{d.id}",
            by_id[d.id].resource(settings.base_url, record.patient_system, names),
        )
        for d in page
    ]
    store.audit(
        subtype="search",
        action="E",
        agent=record.actor,
        patient_ins=record.ins,
        purpose=record.mode.value,
        entity_ids=[d.id for d in page],
        description=f"DocumentReference : {len(visible)} visible(s), {len(page)} renvoyé(s)",
    )
    self_url, next_url, prev_url = crit.paging.links(
        settings, "DocumentReference", crit.used, len(visible)
    )
    body = fhir.searchset_json(
        entries, total=len(visible), self_url=self_url, next_url=next_url, previous_url=prev_url
    )
    return Response(content=body, media_type=FHIR_JSON)


# -- read, retrieve --------------------------------------------------------------------------------
def _readable_document(
    store: Store, principal: Principal, doc_id: str, *, subtype: str
) -> tuple[_Record, DocumentMeta, sqlite3.Row]:
    """The document if the caller may read it: 404 when she may not know it exists (other
    patient, masked for her), 410 when no longer current, 403 on other refusals."""
    actor = principal.actor
    if actor.is_secretary:
        raise _refuse(
            store,
            actor=actor,
            ins=principal.patient_ins,
            mode=principal.mode,
            subtype=subtype,
            action="R",
            reason=Refusal.SECRETARY_NO_READ,
        )
    require_patient_scope(principal, principal.patient_ins or "")  # 403 without access mode
    row = store.query_one("SELECT * FROM documents WHERE id = ?", (doc_id,))
    if row is None or row["patient_ins"] != principal.patient_ins:
        raise _not_found()
    doc = Store.document(row)
    record = _open_record(store, principal, doc.patient_ins, subtype=subtype, action="R")
    if doc.masked and not may_see_masked(actor, record.policy, doc, record.mode):
        raise _not_found()  # rule 5: for her, it does not exist
    decision = can_read_document(actor, record.policy, doc, record.mode, include_archived=True)
    if decision.reason is Refusal.NOT_CURRENT:
        raise FhirError(410, refusal_message(Refusal.NOT_CURRENT), reason="not_current")
    if decision.reason is not None:
        raise _refuse(
            store,
            actor=actor,
            ins=record.ins,
            mode=record.mode,
            subtype=subtype,
            action="R",
            reason=decision.reason,
            entity_ids=[doc.id],
        )
    return record, doc, row


@router.get("/DocumentReference/{doc_id}")
def read_document(
    doc_id: str, principal: CallerDep, store: StoreDep, settings: SettingsDep
) -> JSONResponse:
    record, doc, row = _readable_document(store, principal, doc_id, subtype="read")
    store.audit(
        subtype="read",
        action="R",
        agent=record.actor,
        patient_ins=record.ins,
        purpose=record.mode.value,
        entity_ids=[doc.id],
        description="DocumentReference",
    )
    return fhir_response(_doc_resource(doc, row, settings, record.patient_system, _Names(store)))


@router.get("/Binary/{doc_id}")
def read_binary(doc_id: str, request: Request, principal: CallerDep, store: StoreDep) -> Response:
    record, doc, _ = _readable_document(store, principal, doc_id, subtype="retrieve")
    body = store.query_one("SELECT content_type, data FROM binaries WHERE id = ?", (doc.id,))
    if body is None:
        raise _not_found("Contenu du document")
    store.audit(
        subtype="retrieve",
        action="R",
        agent=record.actor,
        patient_ins=record.ins,
        purpose=record.mode.value,
        entity_ids=[doc.id],
        description="Binary",
    )
    data = bytes(body["data"])
    if FHIR_JSON in request.headers.get("accept", ""):
        return fhir_response(fhir.binary(doc.id, str(body["content_type"]), data))
    return Response(
        content=data,
        media_type=str(body["content_type"]),
        headers={"ETag": f'"{doc.sha1}"', "Cache-Control": "no-store"},
    )


# -- deposit (ITI-65) ------------------------------------------------------------------------------
@router.post("/")
async def transaction(
    request: Request, principal: CallerDep, store: StoreDep, clock: ClockDep
) -> JSONResponse:
    _require_content_type(request, fhir.FHIR_BODY_TYPES)
    data = await _json_body(request)
    now = _clock_now(clock)
    submission = fhir.parse_transaction(data, now=now)
    body, replay = await run_in_threadpool(_deposit, store, principal, submission, now)
    return fhir_response(body, 200, {"X-Sandbox-Replay": "true"} if replay else None)


def _fingerprint(ins: str, doc: fhir.SubmittedDocument) -> str:
    text = f"{ins}|{doc.type_code}|{doc.sha1}|{doc.author_id_nat}"
    return hashlib.sha256(text.encode()).hexdigest()


def _deposit(
    store: Store, principal: Principal, submission: fhir.Submission, now: datetime
) -> tuple[dict[str, Any], bool]:
    """Store a checked submission in one transaction; (response, replayed?)."""
    ins = submission.patient.value
    actor = principal.actor
    if principal.kind == "patient" and principal.patient_ins != ins:
        raise FhirError(403, "Ce jeton est limité à un autre patient.", reason="other_patient")
    policy = store.policy(ins)
    if policy is None:
        raise FhirError(
            422, "Aucun DMP n'existe pour cet INS dans le bac à sable.", reason="unknown_patient"
        )
    authors: dict[str, Actor] = {}
    for doc in submission.documents:
        author = authors.get(doc.author_id_nat) or store.actor(doc.author_id_nat)
        if author is None:
            raise FhirError(
                422,
                f"entry[{doc.index}] : auteur {doc.author_id_nat} inconnu de l'annuaire.",
                reason="unknown_author",
            )
        authors[author.id_nat] = author
        decision = check_deposit(actor, policy, author, doc.type_code)
        if decision.reason is not None:
            status = 422 if decision.reason is Refusal.UNKNOWN_TYPE else 403
            raise FhirError(status, decision.message, reason=decision.reason.value)
    masters = [d.master_id for d in submission.documents]
    with store.transaction() as conn:
        existing = conn.execute(
            f"SELECT * FROM documents WHERE master_id IN ({','.join('?' * len(masters))})",
            masters,
        ).fetchall()
        if existing:
            return _replay(submission, existing), True
        deposited = fhir.iso(now)
        submission_id = uuid.uuid4().hex
        ids: dict[int, tuple[str, str]] = {submission.list_index: ("List", submission_id)}
        for doc in submission.documents:
            author = authors[doc.author_id_nat]
            if doc.replaces is not None:
                _supersede(store, conn, actor, author, policy, doc, principal.mode)
            doc_id = uuid.uuid4().hex
            conn.execute(
                "INSERT INTO documents(id, master_id, patient_ins, type_code, type_system,"
                " class_code, title, author_id_nat, author_name, author_profession,"
                " structure_id, structure_name, entered_by, created, deposited, status,"
                " archived, visibility, content_type, size, sha1, replaces, submission_id,"
                " submission_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    doc_id,
                    doc.master_id,
                    ins,
                    doc.type_code,
                    doc.type_system,
                    doc.class_code,
                    doc.title,
                    author.id_nat,
                    author.display_name,
                    author.profession,
                    author.structure_id,
                    author.structure_name,
                    None if actor.id_nat == author.id_nat else actor.id_nat,
                    fhir.iso(doc.created),
                    deposited,
                    DocStatus.CURRENT.value,
                    0,
                    " ".join(v.value for v in fhir.VISIBILITY_ORDER if v in doc.visibility),
                    doc.content_type,
                    len(doc.data),
                    doc.sha1,
                    doc.replaces,
                    submission_id,
                    _fingerprint(ins, doc),
                ),
            )
            conn.execute(
                "INSERT INTO binaries(id, content_type, data) VALUES (?,?,?)",
                (doc_id, doc.content_type, doc.data),
            )
            store.audit(
                subtype="create",
                action="C",
                agent=actor,
                patient_ins=ins,
                purpose=_purpose(principal.mode),
                entity_ids=[doc_id],
                description=f"dépôt ({doc.type_code})"
                + ("" if actor.id_nat == author.id_nat else f" pour {author.id_nat}"),
            )
            ids[doc.index] = ("DocumentReference", doc_id)
            ids[doc.binary_index] = ("Binary", doc_id)
    return _response(ids, {i: deposited for i in ids}), False


def _supersede(
    store: Store,
    conn: sqlite3.Connection,
    actor: Actor,
    author: Actor,
    policy: PatientPolicy,
    doc: fhir.SubmittedDocument,
    mode: AccessMode | None,
) -> None:
    """Replacement: the target (same patient, same author, current) becomes superseded."""
    row = conn.execute("SELECT * FROM documents WHERE id = ?", (doc.replaces,)).fetchone()
    if row is None or row["patient_ins"] != policy.ins:
        raise FhirError(
            422,
            f"entry[{doc.index}].relatesTo : le document remplacé est introuvable pour ce patient.",
            reason="unknown_target",
        )
    target = Store.document(row)
    decision = check_update(author, policy, target, UpdateAction.REPLACE)
    if decision.reason is not None:
        status = 409 if decision.reason is Refusal.NOT_CURRENT else 403
        raise FhirError(status, decision.message, reason=decision.reason.value)
    conn.execute(
        "UPDATE documents SET status = ? WHERE id = ?", (DocStatus.SUPERSEDED.value, target.id)
    )
    store.audit(
        subtype="update",
        action="U",
        agent=actor,
        patient_ins=policy.ins,
        purpose=_purpose(mode),
        entity_ids=[target.id],
        description="remplacé (superseded)",
    )


def _replay(submission: fhir.Submission, existing: Sequence[sqlite3.Row]) -> dict[str, Any]:
    """The same submission again: the first answer, or 409 if the content differs."""
    ins = submission.patient.value
    by_master = {row["master_id"]: row for row in existing}
    for doc in submission.documents:
        row = by_master.get(doc.master_id)
        if row is None:
            continue
        stored = (row["patient_ins"], row["type_code"], row["sha1"], row["author_id_nat"])
        if stored != (ins, doc.type_code, doc.sha1, doc.author_id_nat):
            raise FhirError(
                409,
                f"entry[{doc.index}] : le masterIdentifier est déjà utilisé par un document "
                "différent (patient, type, auteur ou contenu).",
                reason="master_identifier_conflict",
            )
    if len(by_master) != len(submission.documents):
        raise FhirError(
            409,
            "Une partie seulement des documents de cette transaction a déjà été déposée : "
            "renvoyez la soumission d'origine ou de nouveaux masterIdentifier.",
            reason="partial_resubmission",
        )
    first = by_master[submission.documents[0].master_id]
    ids: dict[int, tuple[str, str]] = {
        submission.list_index: ("List", str(first["submission_id"] or first["id"]))
    }
    modified: dict[int, str] = {submission.list_index: str(first["deposited"])}
    for doc in submission.documents:
        row = by_master[doc.master_id]
        ids[doc.index] = ("DocumentReference", str(row["id"]))
        ids[doc.binary_index] = ("Binary", str(row["id"]))
        modified[doc.index] = modified[doc.binary_index] = str(row["deposited"])
    return _response(ids, modified)


def _response(ids: dict[int, tuple[str, str]], modified: dict[int, str]) -> dict[str, Any]:
    return fhir.transaction_response(
        [
            fhir.ResponseEntry(f"{kind}/{rid}", modified[index])
            for index, (kind, rid) in sorted(ids.items())
        ]
    )


# -- update (PATCH) --------------------------------------------------------------------------------
_ADD_ACTION = {
    Visibility.MASQUE_PS: UpdateAction.MASK,
    Visibility.INVISIBLE_PATIENT: UpdateAction.HIDE_FROM_PATIENT,
    Visibility.INVISIBLE_REPRESENTANTS_LEGAUX: UpdateAction.HIDE_FROM_PATIENT,
}
_REMOVE_ACTION = {
    Visibility.MASQUE_PS: UpdateAction.UNMASK,
    Visibility.INVISIBLE_PATIENT: UpdateAction.SHOW_TO_PATIENT,
    Visibility.INVISIBLE_REPRESENTANTS_LEGAUX: UpdateAction.SHOW_TO_PATIENT,
}


def _apply_patch(ops: Any, doc: DocumentMeta) -> tuple[list[Visibility | None], DocStatus]:
    """Apply JSON Patch ``ops`` to the document's labels (``None`` = HL7 N) and status."""
    if not isinstance(ops, list) or not ops:
        raise FhirError(
            422 if isinstance(ops, list) else 400,
            "Le corps doit être un tableau JSON Patch non vide (RFC 6902).",
            reason="invalid_patch",
        )
    labels: list[Visibility | None] = [v for v in fhir.VISIBILITY_ORDER if v in doc.visibility]
    if not labels:
        labels = [None]
    status = doc.status
    for i, op in enumerate(ops):
        if not isinstance(op, dict) or not isinstance(op.get("path"), str):
            raise FhirError(400, f"Opération {i} : objet avec op et path attendu.", reason="param")
        kind, path, value = op.get("op"), op["path"], op.get("value")
        where = f"opération {i} ({kind} {path})"
        if path == "/status":
            if kind != "replace" or value not in (
                DocStatus.ENTERED_IN_ERROR.value,
                DocStatus.CURRENT.value,
            ):
                raise FhirError(
                    422,
                    f"{where} : seul replace vers 'entered-in-error' (suppression) est possible.",
                    reason="invalid_patch",
                )
            status = DocStatus(value)
            continue
        if path == "/securityLabel":
            if kind == "remove":
                labels = []
            elif kind in ("add", "replace"):
                labels = list(fhir.parse_visibility(value, where)) or [None]
            else:
                raise _unsupported_op(where)
            continue
        prefix, _, index = path.rpartition("/")
        if prefix != "/securityLabel" or not (index == "-" or index.isdigit()):
            raise FhirError(
                422,
                f"{where} : seuls /securityLabel et /status peuvent être modifiés.",
                reason="invalid_patch",
            )
        position = len(labels) if index == "-" else int(index)
        if kind == "add" and position <= len(labels):
            labels[position:position] = _one_label(value, where)
        elif kind in ("remove", "replace") and position < len(labels):
            del labels[position]
            if kind == "replace":
                labels[position:position] = _one_label(value, where)
        elif kind in ("add", "remove", "replace"):
            raise FhirError(422, f"{where} : index hors limites.", reason="invalid_patch")
        else:
            raise _unsupported_op(where)
    return labels, status


def _one_label(value: Any, where: str) -> list[Visibility | None]:
    codes = fhir.parse_visibility([value], where)
    return list(codes) or [None]


def _unsupported_op(where: str) -> FhirError:
    return FhirError(
        422,
        f"{where} : opération non prise en charge (add, remove, replace).",
        reason="invalid_patch",
    )


@router.patch("/DocumentReference/{doc_id}")
async def patch_document(
    doc_id: str, request: Request, principal: CallerDep, store: StoreDep, settings: SettingsDep
) -> JSONResponse:
    _require_content_type(request, {JSON_PATCH})
    ops = await _json_body(request)
    return await run_in_threadpool(_patch, store, principal, settings, doc_id, ops)


def _patch(
    store: Store, principal: Principal, settings: Settings, doc_id: str, ops: Any
) -> JSONResponse:
    actor = principal.actor
    row = store.query_one("SELECT * FROM documents WHERE id = ?", (doc_id,))
    if row is None:
        raise _not_found()
    if principal.kind == "patient" and row["patient_ins"] != principal.patient_ins:
        raise _not_found()
    doc = Store.document(row)
    policy = store.policy(doc.patient_ins)
    patient_row = store.patient_row(doc.patient_ins)
    if policy is None or patient_row is None:
        raise _not_found()
    mode = principal.mode or AccessMode.NORMAL
    if doc.masked and not may_see_masked(actor, policy, doc, mode):
        raise _not_found()
    labels, status = _apply_patch(ops, doc)
    new_visibility = frozenset(v for v in labels if v is not None)
    actions: list[UpdateAction] = []
    for v in fhir.VISIBILITY_ORDER:
        if v in new_visibility and v not in doc.visibility:
            actions.append(_ADD_ACTION[v])
        elif v in doc.visibility and v not in new_visibility:
            actions.append(_REMOVE_ACTION[v])
    if status is not doc.status:
        if status is not DocStatus.ENTERED_IN_ERROR:
            raise FhirError(
                422, "Un document supprimé ne peut pas être rétabli.", reason="invalid_patch"
            )
        actions.append(UpdateAction.DELETE)
    # A patch that changes nothing still needs the author's rights (checked as a mask).
    for action in dict.fromkeys(actions or [UpdateAction.MASK]):
        decision = check_update(actor, policy, doc, action)
        if decision.reason is not None:
            raise _refuse(
                store,
                actor=actor,
                ins=doc.patient_ins,
                mode=principal.mode,
                subtype="update",
                action="U",
                reason=decision.reason,
                entity_ids=[doc.id],
                status=409 if decision.reason is Refusal.NOT_CURRENT else 403,
            )
    visibility = " ".join(v.value for v in fhir.VISIBILITY_ORDER if v in new_visibility)
    with store.transaction() as conn:
        conn.execute(
            "UPDATE documents SET visibility = ?, status = ? WHERE id = ?",
            (visibility, status.value, doc.id),
        )
        store.audit(
            subtype="update",
            action="D" if status is DocStatus.ENTERED_IN_ERROR else "U",
            agent=actor,
            patient_ins=doc.patient_ins,
            purpose=_purpose(principal.mode),
            entity_ids=[doc.id],
            description="actions : " + (", ".join(a.value for a in actions) or "aucune"),
        )
    updated = store.query_one("SELECT * FROM documents WHERE id = ?", (doc.id,))
    assert updated is not None
    return fhir_response(
        _doc_resource(
            Store.document(updated),
            updated,
            settings,
            str(patient_row["ins_system"]),
            _Names(store),
        )
    )


# -- AuditEvent ------------------------------------------------------------------------------------
@router.get("/AuditEvent")
def search_audit(
    request: Request, principal: CallerDep, store: StoreDep, settings: SettingsDep
) -> JSONResponse:
    """The caller's own traces on the patient of her token, newest first."""
    params = request.query_params
    raw_ins = _single(params, "patient.identifier")
    ins = fhir.parse_ins_token(raw_ins, "patient.identifier")
    paging = _Paging.parse(params, settings)
    mode = require_patient_scope(principal, ins.value)
    patient_row = store.patient_row(ins.value)
    if patient_row is None:
        raise FhirError(404, "Patient inconnu du DMP.", reason="unknown_patient")
    where = "FROM audit_events WHERE patient_ins = ? AND agent_id_nat = ?"
    args = (ins.value, principal.actor.id_nat)
    count_row = store.query_one(f"SELECT COUNT(*) AS n {where}", args)
    total = 0 if count_row is None else int(count_row["n"])
    rows = store.query(
        f"SELECT * {where} ORDER BY seq DESC LIMIT ? OFFSET ?", (*args, paging.count, paging.offset)
    )
    system = str(patient_row["ins_system"])
    entries = [
        (
            f"{settings.base_url}/AuditEvent/{row['id']}",
            fhir.audit_event(dict(row), patient_system=system),
        )
        for row in rows
    ]
    store.audit(
        subtype="search",
        action="E",
        agent=principal.actor,
        patient_ins=ins.value,
        purpose=mode.value,
        description=f"AuditEvent : {total} trace(s)",
    )
    return _paged_searchset(
        settings, paging, "AuditEvent", [("patient.identifier", str(raw_ins))], entries, total
    )


# -- Immunization ----------------------------------------------------------------------------------
@router.get("/Immunization")
def search_immunizations(
    request: Request, principal: CallerDep, store: StoreDep, settings: SettingsDep
) -> JSONResponse:
    params = request.query_params
    raw_ins = _single(params, "patient.identifier")
    ins = fhir.parse_ins_token(raw_ins, "patient.identifier")
    paging = _Paging.parse(params, settings)
    record = _open_record(store, principal, ins.value, subtype="search", action="E")
    if not habilitation_matrix().allows(record.actor.profession, VACCINATION_HISTORY):
        raise _refuse(
            store,
            actor=record.actor,
            ins=record.ins,
            mode=record.mode,
            subtype="search",
            action="E",
            reason=Refusal.MATRIX,
        )
    where = "FROM immunizations WHERE patient_ins = ?"
    count_row = store.query_one(f"SELECT COUNT(*) AS n {where}", (ins.value,))
    total = 0 if count_row is None else int(count_row["n"])
    rows = store.query(
        f"SELECT * {where} ORDER BY occurrence DESC, id LIMIT ? OFFSET ?",
        (ins.value, paging.count, paging.offset),
    )
    entries = [
        (
            f"{settings.base_url}/Immunization/{row['id']}",
            fhir.immunization(dict(row), patient_system=record.patient_system),
        )
        for row in rows
    ]
    store.audit(
        subtype="search",
        action="E",
        agent=record.actor,
        patient_ins=record.ins,
        purpose=record.mode.value,
        entity_ids=[f"Immunization/{row['id']}" for row in rows],
        description=f"Immunization : {total} vaccination(s)",
    )
    return _paged_searchset(
        settings, paging, "Immunization", [("patient.identifier", str(raw_ins))], entries, total
    )


@router.post("/Immunization")
async def create_immunization(
    request: Request, principal: CallerDep, store: StoreDep, settings: SettingsDep, clock: ClockDep
) -> JSONResponse:
    _require_content_type(request, fhir.FHIR_BODY_TYPES)
    data = await _json_body(request)
    return await run_in_threadpool(
        _create_immunization, store, principal, settings, data, _clock_now(clock)
    )


def _create_immunization(
    store: Store, principal: Principal, settings: Settings, data: Any, now: datetime
) -> JSONResponse:
    if not isinstance(data, dict) or data.get("resourceType") != "Immunization":
        got = data.get("resourceType") if isinstance(data, dict) else type(data).__name__
        raise FhirError(
            400,
            f"resourceType attendu : Immunization (reçu {got!r}).",
            reason="wrong_resource_type",
        )
    patient_ref = data.get("patient")
    if not isinstance(patient_ref, dict):
        raise FhirError(400, "Immunization.patient est obligatoire.", reason="missing_field")
    ins = fhir.parse_ins_identifier(
        patient_ref.get("identifier"), "Immunization.patient.identifier"
    )
    actor = principal.actor
    if actor.is_secretary:
        raise FhirError(
            403,
            "Un secrétariat médical ne peut pas enregistrer une vaccination.",
            reason=Refusal.AUTHOR_NOT_PS.value,
        )
    record = _open_record(store, principal, ins.value, subtype="create", action="C")
    status = data.get("status", "completed")
    if status != "completed":
        raise FhirError(
            422, "Immunization.status : seul 'completed' est accepté.", reason="invalid_status"
        )
    vaccine_code = data.get("vaccineCode")
    codings = vaccine_code.get("coding") if isinstance(vaccine_code, dict) else None
    if not isinstance(codings, list) or not codings:
        raise FhirError(
            400, "Immunization.vaccineCode.coding est obligatoire.", reason="missing_field"
        )
    known = fhir.vaccines()
    vaccine = next(
        (
            known[c["code"]]
            for c in codings
            if isinstance(c, dict)
            and c.get("code") in known
            and c.get("system") == known[c["code"]].system
        ),
        None,
    )
    if vaccine is None:
        system = next(iter(known.values())).system
        raise FhirError(
            422,
            f"Immunization.vaccineCode : vaccin inconnu ; attendu un code de {system} parmi "
            f"{', '.join(sorted(known))}.",
            reason="unknown_vaccine",
        )
    occurrence = fhir.parse_instant(
        data.get("occurrenceDateTime"), "Immunization.occurrenceDateTime"
    )
    raw_occurrence = data.get("occurrenceDateTime")
    if isinstance(raw_occurrence, str) and len(raw_occurrence.strip()) == 10:
        # A date without a time is the client's local date: "today" somewhere on Earth
        # (UTC+14 at most) is not in the future.
        future = occurrence.date() > (now + LATEST_ZONE_OFFSET).date()
    else:
        future = occurrence > now + fhir.ALLOWED_CLOCK_SKEW
    if future:
        raise FhirError(
            422,
            "Immunization.occurrenceDateTime : la date est dans le futur.",
            reason="future_date",
        )
    patient_row = store.patient_row(ins.value)
    if patient_row is not None and occurrence.date() < date.fromisoformat(
        patient_row["birth_date"]
    ):
        raise FhirError(
            422,
            "Immunization.occurrenceDateTime : la date est antérieure à la naissance du patient.",
            reason="before_birth",
        )
    lot = data.get("lotNumber")
    if not isinstance(lot, str) or not lot.strip():
        raise FhirError(
            422, "Immunization.lotNumber : le numéro de lot est obligatoire.", reason="missing_lot"
        )
    for i, performer in enumerate(data.get("performer") or []):
        ident = _path(performer, "actor", "identifier")
        if not isinstance(ident, dict) or ident.get("value") != actor.id_nat:
            raise FhirError(
                422,
                f"Immunization.performer[{i}] : le vaccinateur enregistré est l'appelant "
                f"({fhir.IDNAT_SYSTEM}|{actor.id_nat}).",
                reason="performer_mismatch",
            )
    imm_id = uuid.uuid4().hex
    with store.transaction() as conn:
        conn.execute(
            "INSERT INTO immunizations(id, patient_ins, vaccine_system, vaccine_code,"
            " vaccine_display, occurrence, lot_number, performer_id_nat, performer_name,"
            " recorded_at, status) VALUES (?,?,?,?,?,?,?,?,?,?,?)",
            (
                imm_id,
                ins.value,
                vaccine.system,
                vaccine.code,
                vaccine.display,
                occurrence.date().isoformat(),
                lot.strip(),
                actor.id_nat,
                actor.display_name,
                fhir.iso(now),
                "completed",
            ),
        )
        store.audit(
            subtype="create",
            action="C",
            agent=actor,
            patient_ins=ins.value,
            purpose=record.mode.value,
            entity_ids=[f"Immunization/{imm_id}"],
            description=f"vaccination ({vaccine.code})",
        )
    row = store.query_one("SELECT * FROM immunizations WHERE id = ?", (imm_id,))
    assert row is not None
    return fhir_response(
        fhir.immunization(dict(row), patient_system=record.patient_system),
        201,
        {"Location": f"{settings.base_url}/Immunization/{imm_id}"},
    )


# -- "Entourage et volontés": RelatedPerson and Consent --------------------------------------------
def _check_entourage(store: Store, record: _Record, section: EntourageSection) -> None:
    """403 (traced) unless the rules open ``section`` to the caller."""
    decision = check_entourage_access(record.actor, record.policy, section)
    if not decision:
        assert decision.reason is not None
        raise _refuse(
            store,
            actor=record.actor,
            ins=record.ins,
            mode=record.mode,
            subtype="search",
            action="E",
            reason=decision.reason,
        )


def _codes(params: QueryParams, name: str, systems: Sequence[str]) -> set[str] | None:
    """The codes of the token parameter ``name`` whose system (if any) is one of ``systems``;
    None when the parameter is absent. Repeated parameters AND together."""
    found: set[str] | None = None
    for value in params.getlist(name):
        codes = {code for system, code in _tokens(value) if system is None or system in systems}
        found = codes if found is None else found & codes
    return found


@router.get("/RelatedPerson")
def search_related_persons(
    request: Request, principal: CallerDep, store: StoreDep, settings: SettingsDep
) -> JSONResponse:
    """The patient's person of trust and relatives to contact."""
    params = request.query_params
    raw_ins = _single(params, "patient.identifier")
    ins = fhir.parse_ins_token(raw_ins, "patient.identifier")
    paging = _Paging.parse(params, settings)
    record = _open_record(store, principal, ins.value, subtype="search", action="E")
    _check_entourage(store, record, EntourageSection.RELATIVES)
    wanted = _codes(params, "relationship", (TRE_R260_SYSTEM, TRE_R216_SYSTEM))
    rows = store.query(
        "SELECT * FROM related_persons WHERE patient_ins = ?"
        " ORDER BY instr(roles, 'NOK') = 0, CASE rank WHEN 0 THEN 1000000 ELSE rank END, id",
        (ins.value,),
    )
    if wanted is not None:
        rows = [
            r for r in rows if wanted & {*str(r["roles"]).split(), str(r["relationship"] or "")}
        ]
    used = [("patient.identifier", str(raw_ins))]
    used += [("relationship", v) for v in params.getlist("relationship")]
    return _entourage_searchset(
        "RelatedPerson",
        rows,
        lambda row: fhir.related_person(row, patient_system=record.patient_system),
        record=record,
        store=store,
        settings=settings,
        paging=paging,
        used=used,
        what="personne(s)",
    )


_DIRECTIVE_CATEGORIES = {ADVANCE_DIRECTIVE_CATEGORY, LOINC_ADVANCE_DIRECTIVE}


@router.get("/Consent")
def search_consents(
    request: Request, principal: CallerDep, store: StoreDep, settings: SettingsDep
) -> JSONResponse:
    """The patient's advance directives (the only Consent category the sandbox stores)."""
    params = request.query_params
    raw_ins = _single(params, "patient.identifier")
    ins = fhir.parse_ins_token(raw_ins, "patient.identifier")
    paging = _Paging.parse(params, settings)
    record = _open_record(store, principal, ins.value, subtype="search", action="E")
    wanted = _codes(params, "category", (CONSENT_CATEGORY_SYSTEM, "http://loinc.org"))
    rows: list[sqlite3.Row] = []
    if wanted is None or wanted & _DIRECTIVE_CATEGORIES:
        _check_entourage(store, record, EntourageSection.ADVANCE_DIRECTIVES)
        rows = store.query(
            "SELECT * FROM advance_directives WHERE patient_ins = ? ORDER BY recorded_at DESC, id",
            (ins.value,),
        )
    used = [("patient.identifier", str(raw_ins))]
    used += [("category", v) for v in params.getlist("category")]
    return _entourage_searchset(
        "Consent",
        rows,
        lambda row: fhir.advance_directives_consent(row, patient_system=record.patient_system),
        record=record,
        store=store,
        settings=settings,
        paging=paging,
        used=used,
        what="directive(s) anticipée(s)",
    )


def _paged_searchset(
    settings: Settings,
    paging: _Paging,
    resource_type: str,
    used: list[tuple[str, str]],
    entries: list[tuple[str, dict[str, Any]]],
    total: int,
) -> JSONResponse:
    """A searchset page with its self / next / previous links."""
    self_url, next_url, prev_url = paging.links(settings, resource_type, used, total)
    return fhir_response(
        fhir.searchset(
            entries, total=total, self_url=self_url, next_url=next_url, previous_url=prev_url
        )
    )


def _entourage_searchset(
    resource_type: str,
    rows: list[sqlite3.Row],
    build: Callable[[dict[str, Any]], dict[str, Any]],
    *,
    record: _Record,
    store: Store,
    settings: Settings,
    paging: _Paging,
    used: list[tuple[str, str]],
    what: str,
) -> JSONResponse:
    """One page of ``rows`` as a searchset, traced as one search AuditEvent."""
    total = len(rows)
    page = rows[paging.offset : paging.offset + paging.count]
    entries = [
        (f"{settings.base_url}/{resource_type}/{row['id']}", build(dict(row))) for row in page
    ]
    store.audit(
        subtype="search",
        action="E",
        agent=record.actor,
        patient_ins=record.ins,
        purpose=record.mode.value,
        entity_ids=[f"{resource_type}/{row['id']}" for row in page],
        description=f"{resource_type} : {total} {what}",
    )
    return _paged_searchset(settings, paging, resource_type, used, entries, total)


# -- what the patient's app would show -------------------------------------------------------------
@router.get("/sandbox/patients/{ins}/notifications")
def patient_notifications(ins: str, store: StoreDep) -> JSONResponse:
    try:
        nir = validate_nir(ins)
    except InvalidINSError as exc:
        raise FhirError(422, f"INS invalide. {exc}", reason="invalid_ins") from None
    if store.patient_row(nir) is None:
        raise FhirError(404, "Patient inconnu du bac à sable.", reason="unknown_patient")
    rows = store.query(
        "SELECT created_at, kind, id_nat, professional_name, message FROM notifications"
        " WHERE patient_ins = ? ORDER BY seq",
        (nir,),
    )
    return JSONResponse({"patient": nir, "notifications": [dict(row) for row in rows]})
