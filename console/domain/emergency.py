"""Exceptional access (bris de glace, centre 15) and the access history: pure Python.

A bris de glace is an *episode*: it starts when the DMP grants the access (``POST
/auth/access``), lasts at most its time box (``Settings.bris_de_glace_minutes``, and never
beyond the token the server gave), and ends on the first of: the professional's button, the
time box running out, the card leaving the reader, the patient being closed, the session
locking or ending, the application quitting. Each end stops the mode on the server too, with
its :class:`EndReason` (the code sent to ``POST /auth/access/end``). Entering again asks again:
an episode is never resumed.

What the episode records, for its attestation: who (:class:`ProfessionalIdentity`), the
patient, the coded reason and the justification, when it started and ended and why, each
document opened (:class:`OpenedDocument`), and the masked documents the bris de glace revealed
(``MASQUE_PS``: they do not exist for this professional outside of it).

The access history (:func:`build_history`) merges the server's traces of this professional on
the current patient (:class:`AuditRecord`, from ``GET /AuditEvent``) with the console's own
journal entries (:class:`~console.domain.journal.JournalEntry`), and groups the exceptional
episodes.

Nothing here reads a clock: callers pass "now".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from console.domain.dossier import AccessGrant, PatientRecord
from console.domain.journal import DetailValue, JournalEntry, JournalHead
from console.domain.models import AccessMode, DocumentMeta
from console.domain.rules import BRIS_DE_GLACE_REASONS
from console.domain.terminology import terminology

__all__ = [
    "DEFAULT_TIME_BOX",
    "EXCEPTIONAL_MODES",
    "JUSTIFICATION_MAX_CHARS",
    "PROFESSION_LABELS",
    "AccessHistory",
    "Attestation",
    "AttestationRecord",
    "AuditRecord",
    "EmergencyEpisode",
    "EndReason",
    "EpisodeSummary",
    "HistoryEntry",
    "HistorySource",
    "JournalAction",
    "OpenedDocument",
    "ProfessionalIdentity",
    "build_history",
    "end_reason_for_lock",
    "format_duration",
    "format_remaining",
    "reason_label",
]

DEFAULT_TIME_BOX = timedelta(minutes=60)
"""A bris de glace lasts at most this long unless configured otherwise."""

JUSTIFICATION_MAX_CHARS = 2000
"""Longest justification the console accepts (it is printed on the attestation)."""

EXCEPTIONAL_MODES = frozenset({AccessMode.BRIS_DE_GLACE, AccessMode.CENTRE_15})
"""The modes that open an episode with a countdown, a banner and their own journal entries."""

PROFESSION_LABELS: Mapping[str, str] = {
    "10": "Médecin",
    "21": "Pharmacien",
    "40": "Chirurgien-dentiste",
    "50": "Sage-femme",
    "60": "Infirmier",
    "70": "Masseur-kinésithérapeute",
    "SECRETARIAT_MEDICAL": "Secrétariat médical",
}
"""TRE_G15 labels of the professions of design.md, when the server gives none."""


class EndReason(StrEnum):
    """Why an access ended: the code sent to ``POST /auth/access/end``."""

    USER = "user"
    """The professional pressed "Arrêter le bris de glace"."""
    EXPIRED = "expired"
    """The time box ran out."""
    CARD_REMOVED = "card_removed"
    PATIENT_CLOSED = "patient_closed"
    """The patient was closed (or another one opened)."""
    QUIT = "quit"
    SESSION_LOCKED = "session_locked"
    """The session locked for another reason than the card (idle, token expired, user)."""
    LOGOUT = "logout"

    @classmethod
    def parse(cls, text: str) -> EndReason:
        """The reason for a close code the views use (``application_closed`` is quitting);
        unknown codes close the patient."""
        aliases = {"application_closed": cls.QUIT, "superseded": cls.PATIENT_CLOSED}
        try:
            return cls(text)
        except ValueError:
            return aliases.get(text, cls.PATIENT_CLOSED)

    @property
    def label(self) -> str:
        """French wording for the attestation and the history."""
        return _END_LABELS[self]


_END_LABELS: Mapping[EndReason, str] = {
    EndReason.USER: "arrêté par le professionnel",
    EndReason.EXPIRED: "durée maximale écoulée",
    EndReason.CARD_REMOVED: "carte retirée du lecteur",
    EndReason.PATIENT_CLOSED: "dossier du patient fermé",
    EndReason.QUIT: "application quittée",
    EndReason.SESSION_LOCKED: "session verrouillée",
    EndReason.LOGOUT: "déconnexion",
}


def end_reason_for_lock(lock_reason: str | None) -> EndReason:
    """The end reason of a session lock (``LockReason`` value) or end (None)."""
    if lock_reason is None:
        return EndReason.LOGOUT
    if lock_reason == "card_removed":
        return EndReason.CARD_REMOVED
    return EndReason.SESSION_LOCKED


class JournalAction(StrEnum):
    """Action codes of the console's journal (stable: they are hashed into the chain)."""

    PATIENT_OPENED = "patient_opened"
    ACCESS_REFUSED = "access_refused"
    BDG_STARTED = "bdg_started"
    CENTRE15_STARTED = "centre15_started"
    DOCUMENT_OPENED = "document_opened"
    BDG_ENDED = "bdg_ended"
    CENTRE15_ENDED = "centre15_ended"
    PATIENT_CLOSED = "patient_closed"
    ATTESTATION_ISSUED = "bdg_attestation"

    @classmethod
    def started(cls, mode: AccessMode) -> JournalAction:
        return {
            AccessMode.BRIS_DE_GLACE: cls.BDG_STARTED,
            AccessMode.CENTRE_15: cls.CENTRE15_STARTED,
        }.get(mode, cls.PATIENT_OPENED)

    @classmethod
    def ended(cls, mode: AccessMode) -> JournalAction:
        return {
            AccessMode.BRIS_DE_GLACE: cls.BDG_ENDED,
            AccessMode.CENTRE_15: cls.CENTRE15_ENDED,
        }.get(mode, cls.PATIENT_CLOSED)


def reason_label(code: str | None) -> str:
    """The label of a bris de glace reason code (the code itself when unknown)."""
    if not code:
        return ""
    return BRIS_DE_GLACE_REASONS.get(code, code)


def format_remaining(remaining: timedelta) -> str:
    """``mm:ss`` of a countdown, rounded up (``60:00`` at the start, ``00:00`` only at the end).

    Minutes are not wrapped into hours: a 90-minute time box shows ``90:00``.
    """
    seconds = max(0, math.ceil(remaining.total_seconds()))
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes:02d}:{seconds:02d}"


def format_duration(duration: timedelta) -> str:
    """A French duration: ``42 min 17 s``, ``1 h 02 min``, ``8 s``."""
    seconds = max(0, round(duration.total_seconds()))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"


@dataclass(frozen=True, slots=True)
class ProfessionalIdentity:
    """Who opened the record, as the attestation names her (``/auth/whoami``)."""

    id_nat: str
    name: str
    profession: str = ""
    profession_label: str = ""
    specialty: str | None = None
    structure_id: str = ""
    structure_name: str = ""

    @property
    def profession_text(self) -> str:
        return self.profession_label or PROFESSION_LABELS.get(self.profession, self.profession)


@dataclass(frozen=True, slots=True)
class OpenedDocument:
    """A document as the attestation lists it (no body).

    Attributes:
        opened_at: First opening during the episode (None: listed, never opened).
        openings: How many times it was opened during the episode.
        masked: ``MASQUE_PS``: revealed by the bris de glace.
    """

    id: str
    title: str
    type_code: str
    type_label: str
    act_date: datetime
    masked: bool
    opened_at: datetime | None = None
    openings: int = 0

    @classmethod
    def of(cls, doc: DocumentMeta) -> OpenedDocument:
        known = terminology().types.get(doc.type_code)
        return cls(
            id=doc.id,
            title=doc.title,
            type_code=doc.type_code,
            type_label=known.label if known is not None else doc.type_code,
            act_date=doc.created,
            masked=doc.masked,
        )


@dataclass(slots=True)
class EmergencyEpisode:
    """One exceptional access in progress (or just ended). See the module doc.

    Mutable: the service that runs it records what happens. ``deadline`` is the earlier of
    the console's time box and the token's expiry.
    """

    episode_id: str
    mode: AccessMode
    patient: PatientRecord
    professional: ProfessionalIdentity
    reason_code: str | None
    justification: str | None
    started_at: datetime
    deadline: datetime
    opened: dict[str, OpenedDocument] = field(default_factory=dict)
    """Documents opened, by id, in the order of their first opening."""
    revealed: dict[str, OpenedDocument] = field(default_factory=dict)
    """Masked documents listed during the episode (revealed by the bris de glace), by id."""
    ended_at: datetime | None = None
    end_reason: EndReason | None = None
    server_ended: bool | None = None
    """Whether the server confirmed the end (None: not yet asked)."""

    @classmethod
    def start(
        cls,
        grant: AccessGrant,
        professional: ProfessionalIdentity,
        *,
        reason_code: str | None,
        justification: str | None,
        now: datetime,
        time_box: timedelta = DEFAULT_TIME_BOX,
    ) -> EmergencyEpisode:
        """The episode of a grant just obtained in an exceptional mode.

        Raises:
            ValueError: ``grant`` is a normal-mode access.
        """
        if grant.mode not in EXCEPTIONAL_MODES:
            raise ValueError("a normal access is not an episode")
        deadline = grant.expires_at
        if grant.mode is AccessMode.BRIS_DE_GLACE:
            deadline = min(deadline, now + time_box)
        return cls(
            episode_id=grant.episode_id,
            mode=grant.mode,
            patient=grant.patient,
            professional=professional,
            reason_code=reason_code if grant.mode is AccessMode.BRIS_DE_GLACE else None,
            justification=justification if grant.mode is AccessMode.BRIS_DE_GLACE else None,
            started_at=now,
            deadline=max(deadline, now),
        )

    @property
    def active(self) -> bool:
        return self.ended_at is None

    @property
    def reason_label(self) -> str:
        return reason_label(self.reason_code)

    @property
    def time_box(self) -> timedelta:
        return self.deadline - self.started_at

    def remaining(self, now: datetime) -> timedelta:
        """Time left (zero once ended or past the deadline)."""
        if not self.active:
            return timedelta(0)
        return max(timedelta(0), self.deadline - now)

    def expired(self, now: datetime) -> bool:
        return now >= self.deadline

    def duration(self, now: datetime | None = None) -> timedelta:
        """From start to end (or to `now` while it runs)."""
        end = self.ended_at or now or self.started_at
        return max(timedelta(0), end - self.started_at)

    def record_opened(self, doc: DocumentMeta, at: datetime) -> OpenedDocument | None:
        """`doc` was opened at `at` (ignored once ended or for another patient)."""
        if not self.active or doc.patient_ins != self.patient.ins.value:
            return None
        known = self.opened.get(doc.id)
        if known is None:
            known = replace(OpenedDocument.of(doc), opened_at=at, openings=1)
        else:
            known = replace(known, openings=known.openings + 1)
        self.opened[doc.id] = known
        if doc.masked and doc.id in self.revealed:
            self.revealed[doc.id] = known
        return known

    def record_listed(self, docs: Iterable[DocumentMeta]) -> list[OpenedDocument]:
        """Documents listed during a bris de glace: the masked ones it revealed (new ones)."""
        if not self.active or self.mode is not AccessMode.BRIS_DE_GLACE:
            return []
        fresh = []
        for doc in docs:
            if doc.masked and doc.patient_ins == self.patient.ins.value:
                if doc.id not in self.revealed:
                    item = self.opened.get(doc.id) or OpenedDocument.of(doc)
                    self.revealed[doc.id] = item
                    fresh.append(item)
        return fresh

    def end(self, reason: EndReason, at: datetime) -> bool:
        """End the episode now; False if it had already ended (the first reason stays)."""
        if not self.active:
            return False
        self.ended_at = max(at, self.started_at)
        self.end_reason = reason
        return True

    def journal_detail(self) -> dict[str, DetailValue]:
        """What the journal's start entry records (no names)."""
        detail: dict[str, DetailValue] = {
            "episode": self.episode_id,
            "deadline": self.deadline.isoformat(),
        }
        if self.reason_code is not None:
            detail["reason"] = self.reason_code
        if self.justification is not None:
            detail["justification"] = self.justification
        return detail


@dataclass(frozen=True, slots=True)
class Attestation:
    """The content of a bris de glace attestation (rendered by ``console.reports``)."""

    professional: ProfessionalIdentity
    patient: PatientRecord
    episode_id: str
    reason_code: str
    justification: str
    started_at: datetime
    ended_at: datetime
    end_reason: EndReason
    documents: tuple[OpenedDocument, ...]
    revealed: tuple[OpenedDocument, ...]
    """Masked documents revealed (listed) during the episode, opened or not."""
    server_ended: bool
    generated_at: datetime
    journal_head: JournalHead | None = None
    server_label: str = ""
    patient_notified: bool = True
    """The DMP notifies the patient of every bris de glace (design.md section 3)."""

    @property
    def reason_label(self) -> str:
        return reason_label(self.reason_code)

    @property
    def duration(self) -> timedelta:
        return max(timedelta(0), self.ended_at - self.started_at)

    @classmethod
    def of(
        cls,
        episode: EmergencyEpisode,
        *,
        generated_at: datetime,
        journal_head: JournalHead | None = None,
        server_label: str = "",
    ) -> Attestation:
        """The attestation of an ended bris de glace.

        Raises:
            ValueError: the episode is not an ended bris de glace.
        """
        if episode.mode is not AccessMode.BRIS_DE_GLACE:
            raise ValueError("only a bris de glace has an attestation")
        if episode.ended_at is None or episode.end_reason is None:
            raise ValueError("the episode has not ended")
        return cls(
            professional=episode.professional,
            patient=episode.patient,
            episode_id=episode.episode_id,
            reason_code=episode.reason_code or "",
            justification=episode.justification or "",
            started_at=episode.started_at,
            ended_at=episode.ended_at,
            end_reason=episode.end_reason,
            documents=tuple(episode.opened.values()),
            revealed=tuple(episode.revealed.values()),
            server_ended=bool(episode.server_ended),
            generated_at=generated_at,
            journal_head=journal_head,
            server_label=server_label,
        )


@dataclass(frozen=True, slots=True)
class AttestationRecord:
    """A bris de glace attestation kept in the professional's encrypted cache (its PDF
    apart), until she saves it where she wants it.

    Attributes:
        saved_at: When she last saved it to a file (None: never).
    """

    episode_id: str
    patient_ins: str
    patient_name: str
    started_at: datetime
    ended_at: datetime
    end_reason: EndReason
    created_at: datetime
    saved_at: datetime | None = None

    @classmethod
    def of(cls, attestation: Attestation) -> AttestationRecord:
        patient = attestation.patient
        return cls(
            episode_id=attestation.episode_id,
            patient_ins=patient.ins.value,
            patient_name=f"{patient.family_name} {patient.given_names}".strip(),
            started_at=attestation.started_at,
            ended_at=attestation.ended_at,
            end_reason=attestation.end_reason,
            created_at=attestation.generated_at,
        )


# -- access history -----------------------------------------------------------------------------


class HistorySource(StrEnum):
    SERVER = "server"
    """A trace of the DMP (AuditEvent): the authoritative record."""
    LOCAL = "local"
    """An entry of the console's own journal on this computer."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One AuditEvent of the server, as the console reads it.

    Attributes:
        type_code: ``rest`` or a DICOM code (``110113`` Security Alert...).
        subtype: ``search``, ``read``, ``retrieve``, ``access``, ``access-end``,
            ``emergency-override-started``, ``emergency-override-stopped``, ``create``...
        outcome: ``0`` success, ``4`` refused (``outcome_text`` then says why).
        purpose: The access mode (TRE_R248) or "".
        references: The entities referenced (``DocumentReference/<id>``...), in order.
    """

    id: str
    recorded: datetime
    type_code: str
    subtype: str
    action: str = ""
    outcome: str = "0"
    outcome_text: str = ""
    purpose: str = ""
    actor_id_nat: str = ""
    actor_name: str = ""
    patient_ins: str = ""
    references: tuple[str, ...] = ()
    description: str = ""

    @property
    def succeeded(self) -> bool:
        return self.outcome == "0"

    @property
    def referenced_ids(self) -> tuple[str, ...]:
        """The ids of the referenced entities (the part after the last ``/``)."""
        return tuple(ref.rsplit("/", 1)[-1] for ref in self.references if ref)


_START_SUBTYPES = {"emergency-override-started": AccessMode.BRIS_DE_GLACE}
_STOP_SUBTYPES = {"emergency-override-stopped"}
_END_REASON = re.compile(r"motif de fin\s*:\s*([a-z][a-z0-9_]*)")


def _episode_start(record: AuditRecord) -> AccessMode | None:
    if not record.succeeded:
        return None
    mode = _START_SUBTYPES.get(record.subtype)
    if mode is None and record.subtype == "access" and record.purpose == AccessMode.CENTRE_15:
        mode = AccessMode.CENTRE_15
    return mode


def _episode_stop(record: AuditRecord) -> bool:
    return record.subtype in _STOP_SUBTYPES or (
        record.subtype == "access-end" and record.purpose == AccessMode.CENTRE_15
    )


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One line of the access history.

    Attributes:
        action: The server's subtype (``read``...) or the journal's action code.
        detail: The server's description, or what the journal recorded (reason, end...).
        episode_id: The exceptional episode it belongs to, if any.
    """

    at: datetime
    source: HistorySource
    action: str
    mode: str = ""
    document_ids: tuple[str, ...] = ()
    succeeded: bool = True
    detail: str = ""
    episode_id: str | None = None


@dataclass(frozen=True, slots=True)
class EpisodeSummary:
    """An exceptional episode of the history, with what happened during it."""

    episode_id: str
    mode: AccessMode
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    detail: str
    """The server's start description (reason and justification), else the journal's."""
    entries: tuple[HistoryEntry, ...]
    """Its entries, oldest first (start and end included)."""

    @property
    def document_ids(self) -> tuple[str, ...]:
        """The documents read or opened during the episode, each once, in order."""
        seen: dict[str, None] = {}
        for entry in self.entries:
            if entry.action in ("read", "retrieve", JournalAction.DOCUMENT_OPENED):
                for doc_id in entry.document_ids:
                    seen.setdefault(doc_id, None)
        return tuple(seen)

    def duration(self, now: datetime) -> timedelta:
        return max(timedelta(0), (self.ended_at or now) - self.started_at)


@dataclass(frozen=True, slots=True)
class AccessHistory:
    """What this professional did on one patient's record.

    Attributes:
        entries: Every entry, newest first (server and local merged).
        episodes: The exceptional episodes, newest first.
        server_error: Why the server's traces are missing (offline...), or None.
    """

    patient_ins: str
    entries: tuple[HistoryEntry, ...]
    episodes: tuple[EpisodeSummary, ...]
    server_error: str | None = None


def _local_detail(entry: JournalEntry) -> str:
    parts = []
    for key in ("reason", "justification", "end_reason", "refusal", "sha256"):
        value = entry.detail.get(key)
        if value is None or value == "":
            continue
        if key == "reason":
            parts.append(f"{value} ({reason_label(str(value))})")
        elif key == "end_reason":
            try:
                parts.append(f"fin : {EndReason(str(value)).label}")
            except ValueError:
                parts.append(f"fin : {value}")
        elif key == "refusal":
            parts.append(f"refus : {value}")
        elif key == "sha256":
            parts.append(f"empreinte SHA-256 {str(value)[:16]}…")
        else:
            parts.append(str(value))
    if entry.detail.get("masked") is True:
        parts.append("document masqué révélé")
    return " — ".join(parts)


def build_history(
    patient_ins: str,
    audit: Sequence[AuditRecord],
    journal: Sequence[JournalEntry],
    *,
    actor_id_nat: str,
    server_error: str | None = None,
) -> AccessHistory:
    """Merge the server's traces and the local journal of `actor_id_nat` on `patient_ins`.

    Exceptional episodes are found from their start and stop (server: ``emergency-override-
    started`` / ``-stopped``, ``access`` / ``access-end`` in mode centre 15, the episode id
    being the entity they reference; journal: ``bdg_started``... with ``detail["episode"]``).
    An entry belongs to an episode when the journal says so, or when the server recorded it
    in the episode's mode between its start and its stop.
    """
    entries: list[HistoryEntry] = []
    starts: dict[str, tuple[datetime, AccessMode, str]] = {}
    stops: dict[str, tuple[datetime, str | None]] = {}

    for record in audit:
        if record.patient_ins and record.patient_ins != patient_ins:
            continue
        if record.actor_id_nat and record.actor_id_nat != actor_id_nat:
            continue
        ids = record.referenced_ids
        episode: str | None = None
        mode = _episode_start(record)
        if mode is not None and ids:
            episode = ids[0]
            starts.setdefault(episode, (record.recorded, mode, record.description))
            ids = ()
        elif _episode_stop(record) and ids:
            episode = ids[0]
            found = _END_REASON.search(record.description)
            stops.setdefault(episode, (record.recorded, found.group(1) if found else None))
            ids = ()
        elif record.subtype in ("access", "access-end"):
            ids = ()  # the entity of an access is its episode, not a document
        entries.append(
            HistoryEntry(
                at=record.recorded,
                source=HistorySource.SERVER,
                action=record.subtype,
                mode=record.purpose,
                document_ids=ids,
                succeeded=record.succeeded,
                detail=record.description or record.outcome_text,
                episode_id=episode,
            )
        )

    started_actions = {JournalAction.BDG_STARTED, JournalAction.CENTRE15_STARTED}
    ended_actions = {JournalAction.BDG_ENDED, JournalAction.CENTRE15_ENDED}
    for item in journal:
        if item.patient_ins != patient_ins or item.actor != actor_id_nat:
            continue
        raw_episode = item.detail.get("episode")
        episode = str(raw_episode) if raw_episode else None
        if episode is not None and item.action in started_actions:
            try:
                mode = AccessMode(item.mode)
            except ValueError:
                mode = AccessMode.BRIS_DE_GLACE
            text = _local_detail(item)
            starts.setdefault(episode, (item.timestamp, mode, text))
        elif episode is not None and item.action in ended_actions:
            end = item.detail.get("end_reason")
            stops.setdefault(episode, (item.timestamp, str(end) if end else None))
        entries.append(
            HistoryEntry(
                at=item.timestamp,
                source=HistorySource.LOCAL,
                action=item.action,
                mode=item.mode,
                document_ids=item.document_ids,
                succeeded=item.action != JournalAction.ACCESS_REFUSED,
                detail=_local_detail(item),
                episode_id=episode,
            )
        )

    # Server entries made in an episode's mode between its start and its stop belong to it.
    windows = [
        (episode, start, stops.get(episode, (None, None))[0], mode)
        for episode, (start, mode, _) in starts.items()
    ]
    placed: list[HistoryEntry] = []
    for entry in entries:
        episode = entry.episode_id if entry.episode_id in starts else None
        if episode is None and entry.source is HistorySource.SERVER:
            for candidate, start, stop, mode in windows:
                if entry.mode == mode and start <= entry.at and (stop is None or entry.at <= stop):
                    episode = candidate
                    break
        placed.append(_with_episode(entry, episode))

    placed.sort(key=lambda e: (e.at, e.source is HistorySource.LOCAL), reverse=True)
    episodes = []
    for episode, (start, mode, text) in starts.items():
        stop_at, stop_reason = stops.get(episode, (None, None))
        members = tuple(sorted((e for e in placed if e.episode_id == episode), key=_oldest))
        episodes.append(EpisodeSummary(episode, mode, start, stop_at, stop_reason, text, members))
    episodes.sort(key=lambda s: s.started_at, reverse=True)
    return AccessHistory(patient_ins, tuple(placed), tuple(episodes), server_error)


def _with_episode(entry: HistoryEntry, episode: str | None) -> HistoryEntry:
    return entry if entry.episode_id == episode else replace(entry, episode_id=episode)


def _oldest(entry: HistoryEntry) -> tuple[datetime, bool]:
    return (entry.at, entry.source is HistorySource.LOCAL)
