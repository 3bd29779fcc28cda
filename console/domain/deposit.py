"""Deposits (ITI-65) before anything is sent: metadata, file checks, manifests, file names.

Pure functions over bytes and values (no I/O, no clock: callers pass ``today`` / ``now``).
Every problem is an :class:`Issue` with a stable :class:`Problem` code, the :class:`Field`
it concerns and a French message meant for the professional (never logged: it may name a
file, and files are named after patients). Nothing here ever echoes an INS in a message.

What is checked before a file may be deposited:

- the file: not empty, not over the size limit (the server's body limit, base64 and the
  bundle included: :func:`max_file_bytes`), its content matching its kind: a ``.pdf`` must be
  a PDF (``%PDF-``), complete (``%%EOF`` and a ``startxref`` pointing at a cross-reference
  section) and not encrypted; a CDA R2 document (``.xml``) must be well-formed XML, without a
  DTD, whose root is ``ClinicalDocument`` in the HL7 v3 namespace; a ``.txt`` must be UTF-8
  text;
- the metadata (:class:`DepositDraft` -> :class:`DepositMetadata`): a valid INS (NIR and its
  key), a DMP document type (one of the 102), a non-empty title, a date of the act that is not
  in the future;
- a batch: the same content twice (same SHA-256) is refused after its first occurrence.

Metadata can be prefilled from a CSV manifest (:func:`parse_manifest`, per-line errors) or
from the file-name rule ``<NIR>_<type code>_<YYYYMMDD>_<title>.<ext>``
(:func:`draft_from_file_name`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from enum import StrEnum
from pathlib import PurePath

from console.domain.errors import ConsoleError, InvalidINSError
from console.domain.ins import INS
from console.domain.models import Actor, Visibility
from console.domain.terminology import terminology

__all__ = [
    "CDA_NAMESPACE",
    "DEFAULT_MAX_BODY_BYTES",
    "FILE_NAME_RULE",
    "STATUS_LABELS",
    "BatchReceipt",
    "CheckedContent",
    "ContentKind",
    "DepositDocument",
    "DepositDraft",
    "DepositMetadata",
    "DepositReceipt",
    "DepositValidationError",
    "Field",
    "InvalidIdentifierError",
    "Issue",
    "ItemStatus",
    "Manifest",
    "ManifestEntry",
    "ManifestError",
    "Prefill",
    "Problem",
    "ReceiptLine",
    "act_start",
    "check_content",
    "check_size",
    "draft_from_file_name",
    "duplicate_issues",
    "fold",
    "max_file_bytes",
    "nir_of",
    "parse_date",
    "parse_manifest",
    "prefill",
    "validate_batch",
    "validate_draft",
    "validate_ps_id_nat",
    "visibility_from_codes",
]

DEFAULT_MAX_BODY_BYTES = 20 * 1024 * 1024
"""The sandbox's (and a typical gateway's) largest request body: 20 MiB."""
BUNDLE_OVERHEAD_BYTES = 64 * 1024
"""Room kept in a request body for the bundle's JSON around the base64 content."""
TITLE_MAX_CHARS = 255
CDA_NAMESPACE = "urn:hl7-org:v3"
_PDF_TAIL = 2048
"""``%%EOF`` and ``startxref`` must be in the last bytes of a complete PDF (1024 in the
specification; some writers append a little padding)."""
_PDF_DICT_WINDOW = 8192


def max_file_bytes(max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> int:
    """The largest file that fits in a request of ``max_body_bytes`` once base64-encoded in
    its bundle (base64 makes 4 bytes of 3)."""
    return max(0, (max_body_bytes - BUNDLE_OVERHEAD_BYTES) * 3 // 4)


class ContentKind(StrEnum):
    """What the console deposits (the MIME type sent)."""

    PDF = "application/pdf"
    CDA = "text/xml"
    TEXT = "text/plain"


_EXTENSIONS: Mapping[str, ContentKind] = {
    ".pdf": ContentKind.PDF,
    ".xml": ContentKind.CDA,
    ".cda": ContentKind.CDA,
    ".txt": ContentKind.TEXT,
}


class Problem(StrEnum):
    """Stable codes of what prevents a deposit (tests and views react to these)."""

    UNREADABLE = "unreadable"
    EMPTY = "empty"
    TOO_LARGE = "too_large"
    UNSUPPORTED = "unsupported_format"
    NOT_PDF = "not_pdf"
    TRUNCATED_PDF = "truncated_pdf"
    ENCRYPTED_PDF = "encrypted_pdf"
    MALFORMED_XML = "malformed_xml"
    NOT_CDA = "not_cda"
    NOT_TEXT = "not_text"
    MISSING_INS = "missing_ins"
    INVALID_INS = "invalid_ins"
    MISSING_TYPE = "missing_type"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_TITLE = "missing_title"
    INVALID_TITLE = "invalid_title"
    MISSING_DATE = "missing_date"
    INVALID_DATE = "invalid_date"
    FUTURE_DATE = "future_date"
    INVALID_FLAG = "invalid_flag"
    DUPLICATE = "duplicate"


class Field(StrEnum):
    """What an issue is about (the view puts the message beside that field / column)."""

    FILE = "file"
    INS = "ins"
    TYPE = "type"
    TITLE = "title"
    DATE = "date"
    VISIBILITY = "visibility"


@dataclass(frozen=True, slots=True)
class Issue:
    problem: Problem
    field: Field
    message: str


class DepositValidationError(ConsoleError):
    """The file or its metadata cannot be deposited; ``issues`` says why (nothing was sent)."""

    def __init__(self, issues: Sequence[Issue]) -> None:
        super().__init__(" ".join(i.message for i in issues) or "Dépôt invalide.")
        self.issues = tuple(issues)


def fold(text: str) -> str:
    """Case- and accent-insensitive key (search over type labels, manifest headers)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold().strip()


# -- file content ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckedContent:
    """A file as checked before its deposit (the bytes themselves are not kept here).

    Attributes:
        name: The file's name (no directory).
        size: Bytes.
        kind: What it will be sent as; None when it cannot be deposited.
        sha1: Hex SHA-1 (the DMP's ``attachment.hash``).
        sha256: Hex SHA-256 (duplicate detection, receipts).
        issues: Why it cannot be deposited (empty when it can).
    """

    name: str
    size: int
    kind: ContentKind | None
    sha1: str
    sha256: str
    issues: tuple[Issue, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.issues and self.kind is not None


def _file_issue(problem: Problem, message: str) -> Issue:
    return Issue(problem, Field.FILE, message)


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f}".replace(".", ",") + " Mo"


def check_size(size: int, max_bytes: int | None = None) -> Issue | None:
    """The size checks alone (before reading a file: an over-large one is never read)."""
    limit = max_file_bytes() if max_bytes is None else max_bytes
    if size <= 0:
        return _file_issue(Problem.EMPTY, "Le fichier est vide.")
    if size > limit:
        return _file_issue(
            Problem.TOO_LARGE,
            f"Le fichier fait {_megabytes(size)} : la limite d'un dépôt est {_megabytes(limit)}.",
        )
    return None


def _pdf_issues(data: bytes) -> list[Issue]:
    if not data.startswith(b"%PDF-"):
        return [
            _file_issue(
                Problem.NOT_PDF,
                "Ce fichier porte l'extension .pdf mais n'est pas un PDF (en-tête %PDF absent).",
            )
        ]
    tail = data[-_PDF_TAIL:]
    truncated = _file_issue(
        Problem.TRUNCATED_PDF,
        "PDF incomplet ou endommagé (fin de fichier ou table des références absente) : "
        "le fichier a sans doute été tronqué.",
    )
    if b"%%EOF" not in tail:
        return [truncated]
    found = list(re.finditer(rb"startxref\s+(\d+)", tail))
    if not found:
        return [truncated]
    offset = int(found[-1].group(1))
    if not 0 < offset < len(data):
        return [truncated]
    section = data[offset : offset + _PDF_DICT_WINDOW]
    stripped = section.lstrip()
    if stripped.startswith(b"xref"):
        trailer_at = section.find(b"trailer")
        if trailer_at < 0:
            trailer_at = data.rfind(b"trailer")
            trailer = data[trailer_at : trailer_at + _PDF_DICT_WINDOW] if trailer_at >= 0 else b""
        else:
            trailer = section[trailer_at:]
        if not trailer:
            return [truncated]
        dictionary = trailer.split(b"startxref", 1)[0]
    elif re.match(rb"\s*\d+\s+\d+\s+obj\b", section):
        dictionary = section.split(b"stream", 1)[0]  # a cross-reference stream's dictionary
    else:
        return [truncated]
    if re.search(rb"/Encrypt\b", dictionary):
        return [
            _file_issue(
                Problem.ENCRYPTED_PDF,
                "PDF chiffré ou protégé par mot de passe : le DMP exige un document lisible. "
                "Enregistrez-le sans protection puis recommencez.",
            )
        ]
    return []


def _cda_issues(data: bytes) -> list[Issue]:
    head = data[:4096]
    if b"<!DOCTYPE" in head or b"<!ENTITY" in data:
        return [
            _file_issue(
                Problem.MALFORMED_XML,
                "Document XML refusé : les déclarations DOCTYPE / ENTITY ne sont pas admises "
                "dans un CDA.",
            )
        ]
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        line, column = exc.position
        return [
            _file_issue(
                Problem.MALFORMED_XML,
                f"XML mal formé (ligne {line}, colonne {column}) : ce n'est pas un CDA valide.",
            )
        ]
    if root.tag != f"{{{CDA_NAMESPACE}}}ClinicalDocument":
        return [
            _file_issue(
                Problem.NOT_CDA,
                "Ce document XML n'est pas un CDA R2 : l'élément racine doit être "
                f"ClinicalDocument dans l'espace de noms {CDA_NAMESPACE}.",
            )
        ]
    return []


def _text_issues(data: bytes) -> list[Issue]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return [
            _file_issue(
                Problem.NOT_TEXT,
                "Ce fichier texte n'est pas encodé en UTF-8 : enregistrez-le en UTF-8.",
            )
        ]
    if "\x00" in text:
        return [_file_issue(Problem.NOT_TEXT, "Ce fichier .txt contient des données binaires.")]
    if not text.strip():
        return [_file_issue(Problem.EMPTY, "Le fichier texte ne contient que des blancs.")]
    return []


def _sniff(data: bytes) -> ContentKind | None:
    if data.startswith(b"%PDF-"):
        return ContentKind.PDF
    if data.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<"):
        return ContentKind.CDA
    return None


def check_content(name: str, data: bytes, *, max_bytes: int | None = None) -> CheckedContent:
    """Check one file's bytes (see the module doc); never raises on bad content."""
    sha1 = hashlib.sha1(data).hexdigest()
    sha256 = hashlib.sha256(data).hexdigest()
    size_issue = check_size(len(data), max_bytes)
    if size_issue is not None:
        return CheckedContent(name, len(data), None, sha1, sha256, (size_issue,))
    kind = _EXTENSIONS.get(PurePath(name).suffix.lower())
    if kind is None:
        kind = _sniff(data)
    if kind is None:
        issue = _file_issue(
            Problem.UNSUPPORTED,
            "Format non accepté : déposez un PDF (.pdf), un CDA R2 (.xml) ou un texte (.txt).",
        )
        return CheckedContent(name, len(data), None, sha1, sha256, (issue,))
    match kind:
        case ContentKind.PDF:
            issues = _pdf_issues(data)
        case ContentKind.CDA:
            issues = _cda_issues(data)
        case ContentKind.TEXT:
            issues = _text_issues(data)
    return CheckedContent(name, len(data), None if issues else kind, sha1, sha256, tuple(issues))


# -- metadata -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepositDraft:
    """Metadata as typed or prefilled: possibly incomplete or wrong (see :func:`validate_draft`).

    ``ins`` is a bare NIR or a ``system|NIR`` token; ``type_code`` a DMP type code.
    """

    ins: str = ""
    type_code: str = ""
    title: str = ""
    act_date: date | None = None
    visibility: frozenset[Visibility] = frozenset()


@dataclass(frozen=True, slots=True)
class DepositMetadata:
    """Valid metadata of one document to deposit."""

    patient: INS
    type_code: str
    title: str
    act_date: date
    visibility: frozenset[Visibility] = frozenset()
    replaces: str | None = None
    """Id of the document this one replaces (``relatesTo`` replaces)."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def validate_draft(
    draft: DepositDraft, *, today: date, replaces: str | None = None
) -> tuple[DepositMetadata | None, tuple[Issue, ...]]:
    """Check ``draft``; the metadata when valid, else None and every issue found."""
    issues: list[Issue] = []
    patient: INS | None = None
    if not draft.ins.strip():
        issues.append(Issue(Problem.MISSING_INS, Field.INS, "L'INS du patient est obligatoire."))
    else:
        try:
            patient = INS.parse(draft.ins.strip())
        except InvalidINSError as exc:
            issues.append(Issue(Problem.INVALID_INS, Field.INS, f"INS invalide : {exc}"))
    code = draft.type_code.strip()
    if not code:
        issues.append(Issue(Problem.MISSING_TYPE, Field.TYPE, "Choisissez le type de document."))
    elif not terminology().is_dmp_type(code):
        issues.append(
            Issue(
                Problem.UNKNOWN_TYPE,
                Field.TYPE,
                f"Type de document « {code[:40]} » inconnu du DMP : choisissez-le dans la "
                "liste officielle.",
            )
        )
    title = " ".join(draft.title.split())
    if not title:
        issues.append(Issue(Problem.MISSING_TITLE, Field.TITLE, "Le titre est obligatoire."))
    elif len(title) > TITLE_MAX_CHARS:
        issues.append(
            Issue(
                Problem.INVALID_TITLE,
                Field.TITLE,
                f"Le titre dépasse {TITLE_MAX_CHARS} caractères.",
            )
        )
    elif _CONTROL.search(draft.title.replace("\n", " ").replace("\t", " ")):
        issues.append(
            Issue(Problem.INVALID_TITLE, Field.TITLE, "Le titre contient des caractères invalides.")
        )
    if draft.act_date is None:
        issues.append(Issue(Problem.MISSING_DATE, Field.DATE, "La date de l'acte est obligatoire."))
    elif draft.act_date > today:
        issues.append(
            Issue(
                Problem.FUTURE_DATE,
                Field.DATE,
                "La date de l'acte est dans le futur.",
            )
        )
    elif draft.act_date.year < 1900:
        issues.append(Issue(Problem.INVALID_DATE, Field.DATE, "La date de l'acte est invalide."))
    if issues or patient is None or draft.act_date is None:
        return None, tuple(issues)
    return (
        DepositMetadata(patient, code, title, draft.act_date, draft.visibility, replaces),
        (),
    )


def act_start(act_date: date, now: datetime) -> date | datetime:
    """What to send as ``context.period.start``: the date, or ``now`` when it is today.

    A bare date means midnight UTC to the server: just after midnight in France, today's
    date would be "in the future" there. ``now`` must be aware (the professional's local time
    zone gives "today").
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if act_date == now.date():
        return now.replace(microsecond=0)
    return act_date


# -- what is sent, what comes back ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DepositDocument:
    """One document, ready for its ITI-65 bundle (``console.dmp.bundle``).

    Attributes:
        master_id: The ``masterIdentifier`` (``urn:uuid:...``), generated once and kept.
        metadata: Valid metadata.
        author: The professional author (idNat; names, profession and structure when known).
        kind: The MIME type of ``data``.
        data: The content.
        entered_by: Who entered it on the author's behalf (a secretary), if not the author.
        act_start: ``context.period.start`` (see :func:`act_start`); the date when None.
        sha1: ``data``'s SHA-1 (hex) if known, else computed by the bundle builder.
    """

    master_id: str
    metadata: DepositMetadata
    author: Actor
    kind: ContentKind
    data: bytes = field(repr=False)
    entered_by: Actor | None = None
    act_start: date | datetime | None = None
    sha1: str | None = None
    """Hex SHA-1 of ``data`` when already computed (the bundle's ``attachment.hash``)."""


@dataclass(frozen=True, slots=True)
class DepositReceipt:
    """The server's answer to a deposit (transaction-response).

    Attributes:
        list_id: The SubmissionSet's id.
        document_ids: The DocumentReference ids, in the bundle's order.
        replayed: The server had it already (same masterIdentifier): nothing new stored.
        deposited_at: When the server stored it (``lastModified``), if said.
    """

    list_id: str
    document_ids: tuple[str, ...]
    replayed: bool = False
    deposited_at: datetime | None = None

    @property
    def document_id(self) -> str:
        return self.document_ids[0] if self.document_ids else ""


class ItemStatus(StrEnum):
    """Where one file of a deposit (single or batch) stands."""

    DRAFT = "draft"
    INVALID = "invalid"
    READY = "ready"
    QUEUED = "queued"
    SENDING = "sending"
    RETRY_WAIT = "retry_wait"
    SENT = "sent"
    FAILED = "failed"
    CANCELLED = "cancelled"
    UNCERTAIN = "uncertain"
    """Sent at least once without an answer, and no longer being sent (cancelled while
    waiting): it stays in the outbox and is sent again (same masterIdentifier) at the next
    resume, so the DMP ends up with exactly one copy."""

    @property
    def final(self) -> bool:
        return self in (ItemStatus.SENT, ItemStatus.FAILED, ItemStatus.CANCELLED)


STATUS_LABELS: Mapping[ItemStatus, str] = {
    ItemStatus.DRAFT: "À vérifier",
    ItemStatus.INVALID: "Refusé (vérification)",
    ItemStatus.READY: "Prêt",
    ItemStatus.QUEUED: "En file d'attente",
    ItemStatus.SENDING: "Envoi en cours",
    ItemStatus.RETRY_WAIT: "Nouvel essai programmé",
    ItemStatus.SENT: "Déposé",
    ItemStatus.FAILED: "Refusé par le DMP",
    ItemStatus.CANCELLED: "Annulé (non envoyé)",
    ItemStatus.UNCERTAIN: "En attente de reprise",
}
"""French labels (the PDF receipt; the views translate their own)."""


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    """One document of a receipt."""

    file_name: str
    patient_ins: str
    title: str
    type_code: str
    act_date: date | None
    status: ItemStatus
    master_id: str = ""
    server_id: str = ""
    message: str = ""

    @property
    def type_label(self) -> str:
        found = terminology().types.get(self.type_code)
        return found.label if found is not None else self.type_code


@dataclass(frozen=True, slots=True)
class BatchReceipt:
    """What a deposit receipt lists (single deposit: one line)."""

    title: str
    depositor: str
    """Who entered the documents: "Given FAMILY (idNat)"."""
    author: str
    """On whose behalf: "Given FAMILY (idNat)" (the depositor herself for a professional)."""
    structure: str
    started: datetime
    finished: datetime | None
    lines: tuple[ReceiptLine, ...]
    batch_id: str = ""

    def count(self, status: ItemStatus) -> int:
        return sum(1 for line in self.lines if line.status is status)


# -- batches --------------------------------------------------------------------------------------


def duplicate_issues(names_and_hashes: Sequence[tuple[str, str | None]]) -> dict[int, Issue]:
    """Issues for the second and later occurrences of the same content (SHA-256) in a batch.

    ``names_and_hashes`` is (file name, SHA-256 or None when unreadable), in batch order.
    """
    first: dict[str, tuple[int, str]] = {}
    found: dict[int, Issue] = {}
    for index, (name, digest) in enumerate(names_and_hashes):
        if not digest:
            continue
        if digest in first:
            line, other = first[digest]
            found[index] = Issue(
                Problem.DUPLICATE,
                Field.FILE,
                f"Même contenu que « {other} » (ligne {line + 1}) : ce fichier figure deux fois "
                "dans le lot ; seul le premier est déposé.",
            )
        else:
            first[digest] = (index, name)
    return found


def validate_batch(
    rows: Sequence[tuple[DepositDraft, CheckedContent | None]], *, today: date
) -> list[tuple[DepositMetadata | None, tuple[Issue, ...]]]:
    """Validate every row of a batch (metadata, content, duplicates) without stopping at the
    first bad one. A row whose content is None has not been read (it is reported)."""
    duplicates = duplicate_issues(
        [
            (content.name if content else "", content.sha256 if content else None)
            for _, content in rows
        ]
    )
    results: list[tuple[DepositMetadata | None, tuple[Issue, ...]]] = []
    for index, (draft, content) in enumerate(rows):
        metadata, issues = validate_draft(draft, today=today)
        all_issues = list(issues)
        if content is None:
            all_issues.insert(0, _file_issue(Problem.UNREADABLE, "Le fichier n'a pas pu être lu."))
        else:
            all_issues[:0] = content.issues
        if index in duplicates:
            all_issues.insert(0, duplicates[index])
        results.append((metadata if not all_issues else None, tuple(all_issues)))
    return results


class InvalidIdentifierError(ConsoleError, ValueError):
    """Not a health professional's national identifier."""


def validate_ps_id_nat(text: str) -> str:
    """The idNat of a health professional (the author a secretary deposits for).

    ``8`` + RPPS (11 digits), or ``0`` + ADELI-based forms of 10 characters. A CPE
    (``structure/employee``) is not a professional and cannot be an author.
    """
    value = text.strip()
    if "/" in value:
        raise InvalidIdentifierError(
            "Un secrétariat (carte CPE) ne peut pas être l'auteur d'un document : indiquez "
            "l'identifiant national du médecin."
        )
    if not re.fullmatch(r"8\d{11}|[0-9]\d{9}", value):
        raise InvalidIdentifierError(
            "Identifiant national invalide : attendu « 8 » suivi des 11 chiffres du RPPS."
        )
    return value


# -- prefilling: manifest and file names ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ManifestError:
    """A manifest line that applies to no file (or the manifest as a whole: line 0)."""

    line: int
    message: str


@dataclass(frozen=True, slots=True)
class ManifestEntry:
    """One file's line in a manifest; ``issues`` are the values that could not be read (the
    others are in ``draft``, possibly invalid: :func:`validate_draft` reports those)."""

    line: int
    file_name: str
    draft: DepositDraft
    issues: tuple[Issue, ...] = ()


@dataclass(frozen=True, slots=True)
class Manifest:
    entries: Mapping[str, ManifestEntry]
    """By file name, case-folded (see :meth:`entry`)."""
    errors: tuple[ManifestError, ...] = ()

    def entry(self, file_name: str) -> ManifestEntry | None:
        return self.entries.get(PurePath(file_name).name.casefold())


_HEADERS: Mapping[str, str] = {
    **dict.fromkeys(("fichier", "file", "filename", "nom_fichier", "nom_du_fichier"), "file"),
    **dict.fromkeys(("ins", "nir", "ins_nir", "patient", "ins_patient"), "ins"),
    **dict.fromkeys(("type", "type_code", "code_type", "typecode", "type_document"), "type"),
    **dict.fromkeys(("titre", "title", "intitule", "libelle"), "title"),
    **dict.fromkeys(("date", "date_acte", "date_de_l_acte", "act_date", "date_acte_"), "date"),
    **dict.fromkeys(("masque_ps", "masque", "masked", "masque_aux_ps"), "masque_ps"),
    **dict.fromkeys(("invisible_patient", "invisible_au_patient"), "invisible_patient"),
    **dict.fromkeys(
        (
            "invisible_representants",
            "invisible_representants_legaux",
            "invisible_rl",
            "invisible_legal_representatives",
        ),
        "invisible_rl",
    ),
}
_FLAG_COLUMNS: Mapping[str, Visibility] = {
    "masque_ps": Visibility.MASQUE_PS,
    "invisible_patient": Visibility.INVISIBLE_PATIENT,
    "invisible_rl": Visibility.INVISIBLE_REPRESENTANTS_LEGAUX,
}
_TRUE = frozenset({"1", "oui", "o", "x", "true", "vrai", "yes", "y"})
_FALSE = frozenset({"", "0", "non", "n", "false", "faux", "no"})
_FLAG_LABELS: Mapping[str, str] = {
    "masque_ps": "masqué aux professionnels",
    "invisible_patient": "invisible pour le patient",
    "invisible_rl": "invisible pour les représentants légaux",
}


def _header_key(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", fold(text)).strip("_")


def parse_date(text: str) -> date | None:
    """``JJ/MM/AAAA``, ``JJ-MM-AAAA``, ``AAAA-MM-JJ`` or ``AAAAMMJJ``; None if unreadable."""
    value = text.strip()
    for pattern, order in (
        (r"(\d{1,2})[/.-](\d{1,2})[/.-](\d{4})", "dmy"),
        (r"(\d{4})-(\d{1,2})-(\d{1,2})", "ymd"),
        (r"(\d{4})(\d{2})(\d{2})", "ymd"),
    ):
        match = re.fullmatch(pattern, value)
        if match is None:
            continue
        a, b, c = (int(g) for g in match.groups())
        day, month, year = (a, b, c) if order == "dmy" else (c, b, a)
        try:
            return date(year, month, day)
        except ValueError:
            return None
    return None


def _cell(row: Sequence[str], columns: Mapping[str, int], key: str) -> str:
    index = columns.get(key)
    return row[index].strip() if index is not None and index < len(row) else ""


def _decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")  # Excel's "CSV (séparateur : ;)"


def parse_manifest(data: bytes | str) -> Manifest:
    """Parse a CSV manifest (``;``, ``,`` or tab separated, UTF-8 or Windows-1252).

    A header line names the columns (French or English, case and accents ignored): file
    (``fichier``) is required; ``ins``, ``type``, ``titre``, ``date`` (``JJ/MM/AAAA`` or
    ``AAAA-MM-JJ``) and the visibility flags ``masque_ps``, ``invisible_patient``,
    ``invisible_representants`` (``oui``/``non``, ``1``/``0``, ``x``) are optional.
    Every line is read: a bad one is reported (per line, or on its file's entry) and the
    others are kept.
    """
    text = _decode(data)
    lines = text.splitlines()
    first = next((line for line in lines if line.strip()), "")
    delimiter = max((";", ",", "\t"), key=first.count) if first else ";"
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    errors: list[ManifestError] = []
    entries: dict[str, ManifestEntry] = {}
    columns: dict[str, int] | None = None
    rows = iter(reader)
    while True:
        try:
            row = next(rows)
        except StopIteration:
            break
        except csv.Error as exc:  # a broken quote, a field too long...: the rest is unreadable
            errors.append(
                ManifestError(
                    reader.line_num,
                    f"Manifeste illisible à partir de la ligne {reader.line_num} ({exc}) : "
                    "les lignes suivantes sont ignorées.",
                )
            )
            break
        line = reader.line_num
        if not any(cell.strip() for cell in row):
            continue
        if columns is None:
            columns = {}
            for index, heading in enumerate(row):
                key = _HEADERS.get(_header_key(heading))
                if key is not None and key not in columns:
                    columns[key] = index
            if "file" not in columns:
                return Manifest(
                    {},
                    (
                        ManifestError(
                            line,
                            "Manifeste illisible : la première ligne doit nommer les colonnes, "
                            "dont « fichier » (puis ins, type, titre, date, masque_ps, "
                            "invisible_patient, invisible_representants).",
                        ),
                    ),
                )
            continue

        def cell(key: str, row: list[str] = row, columns: dict[str, int] = columns) -> str:
            return _cell(row, columns, key)

        name = PurePath(cell("file").replace("\\", "/")).name
        if not name:
            errors.append(ManifestError(line, f"Ligne {line} : nom de fichier manquant."))
            continue
        key = name.casefold()
        if key in entries:
            errors.append(
                ManifestError(
                    line,
                    f"Ligne {line} : le fichier « {name} » figure déjà ligne "
                    f"{entries[key].line} ; cette ligne est ignorée.",
                )
            )
            continue
        issues: list[Issue] = []
        act: date | None = None
        raw_date = cell("date")
        if raw_date:
            act = parse_date(raw_date)
            if act is None:
                issues.append(
                    Issue(
                        Problem.INVALID_DATE,
                        Field.DATE,
                        f"Manifeste ligne {line} : date illisible (attendu JJ/MM/AAAA).",
                    )
                )
        visibility: set[Visibility] = set()
        for column, flag in _FLAG_COLUMNS.items():
            raw = fold(cell(column))
            if raw in _TRUE:
                visibility.add(flag)
            elif raw not in _FALSE:
                issues.append(
                    Issue(
                        Problem.INVALID_FLAG,
                        Field.VISIBILITY,
                        f"Manifeste ligne {line} : valeur « {cell(column)[:20]} » illisible pour "
                        f"« {_FLAG_LABELS[column]} » (attendu oui ou non).",
                    )
                )
        draft = DepositDraft(
            ins=cell("ins"),
            type_code=cell("type"),
            title=cell("title"),
            act_date=act,
            visibility=frozenset(visibility),
        )
        entries[key] = ManifestEntry(line, name, draft, tuple(issues))
    if columns is None:
        errors.append(ManifestError(0, "Le manifeste est vide."))
    return Manifest(entries, tuple(errors))


_FILE_NAME = re.compile(
    r"^(?P<nir>[0-9]{5}(?:[0-9]{2}|2[AB])[0-9]{8})_(?P<type>[A-Za-z0-9.\-_]+?)_"
    r"(?P<date>\d{8})(?:_(?P<title>.*))?$",
    re.IGNORECASE,
)
FILE_NAME_RULE = "<NIR>_<code du type>_<AAAAMMJJ>_<titre>.pdf"
"""The file-name rule, shown to the user (e.g. ``255081416802538_11488-4_20250620_CR.pdf``)."""


def draft_from_file_name(name: str) -> DepositDraft | None:
    """Metadata from a name following :data:`FILE_NAME_RULE`; None if it does not.

    The NIR and type are taken as written (:func:`validate_draft` checks them); the title's
    underscores become spaces.
    """
    stem = PurePath(name).stem
    match = _FILE_NAME.match(stem)
    if match is None:
        return None
    act = parse_date(match.group("date"))
    title = " ".join((match.group("title") or "").replace("_", " ").split())
    code = match.group("type")
    known = {c.casefold(): c for c in terminology().types}
    return DepositDraft(
        ins=match.group("nir").upper(),
        type_code=known.get(code.casefold(), code),
        title=title,
        act_date=act,
    )


class Prefill(StrEnum):
    """Where a batch row's metadata came from."""

    MANIFEST = "manifest"
    FILE_NAME = "file_name"
    NONE = "none"


def prefill(
    file_name: str, manifest: Manifest | None = None
) -> tuple[DepositDraft, tuple[Issue, ...], Prefill]:
    """A batch row's first metadata: its manifest line, else the file-name rule, else the
    file's name as the title. The manifest's unreadable values come back as issues."""
    if manifest is not None:
        entry = manifest.entry(file_name)
        if entry is not None:
            draft = entry.draft
            if not draft.title:
                draft = replace(draft, title=_title_from_name(file_name))
            return draft, entry.issues, Prefill.MANIFEST
    from_name = draft_from_file_name(file_name)
    if from_name is not None:
        if not from_name.title:
            from_name = replace(from_name, title=_title_from_name(file_name))
        return from_name, (), Prefill.FILE_NAME
    return DepositDraft(title=_title_from_name(file_name)), (), Prefill.NONE


def _title_from_name(file_name: str) -> str:
    return " ".join(PurePath(file_name).stem.replace("_", " ").split())


def nir_of(token: str) -> str:
    """The bare NIR of an INS token (for display and the outbox), or "" if invalid."""
    try:
        return INS.parse(token.strip()).value
    except InvalidINSError:
        return ""


def visibility_from_codes(codes: Iterable[str]) -> frozenset[Visibility]:
    return frozenset(Visibility(c) for c in codes if c in Visibility.__members__)
