"""The offline cache: one SQLCipher database per professional, opened with a raw key.

Opening (:meth:`CacheStore.open`), in this order, so that a wrong card touches nothing:

1. the plaintext header next to the database is read and checked (owner, binding, public
   key, key check value) by the caller (``console.cache.keys.check_header`` before the card
   signs, ``check_key`` after): :class:`CacheOwnershipError`, no file opened;
2. ``PRAGMA key = "x'<64 hex>'"``: a raw 256-bit key, no PBKDF2 at open (the key already
   comes out of HKDF over a card signature), then :data:`CIPHER_SETTINGS` (16 KiB pages,
   HMAC-SHA256);
3. ``PRAGMA cipher_version`` must answer (a plain SQLite library would silently write clear
   text: refused), then ``sqlite_master`` is read (a wrong key fails here);
4. PRAGMAs, migrations (``user_version``), and the outbox's crash recovery.

PRAGMAs and why:

- ``journal_mode=WAL``: readers and the writer do not block each other; commits append.
- ``synchronous=FULL``, globally: the outbox and the journal must survive a power loss once
  a method returned; the other writes (metadata of a sync) are batched in few transactions,
  so one fsync per commit costs little, and one setting is simpler to reason about.
- ``foreign_keys=ON``: documents and bodies go with their patient, bodies with their document.
- ``cache_size=-65536`` (a 64 MiB ceiling, allocated as used): the working set is the metadata
  of the patients in retention (100,000 rows ~ 30 MB with the index); once read, list pages
  stay decrypted in memory. Bodies are read one at a time and do not need to stay.
- ``temp_store=MEMORY``: sorts and temporary indexes never spill to a temporary file.
- ``busy_timeout``: a second console of the same professional waits for the write lock.
- ``secure_delete=ON`` and a ``wal_checkpoint(TRUNCATE)`` after every purge: purged rows are
  overwritten, and no old copy of their pages stays in the WAL.

Thread confinement: a :class:`CacheStore` and its connection belong to the thread that
opened it (sqlcipher3 enforces it). The console runs it on one dedicated worker thread
(``console.services.cache``); tests and the benchmark use it directly on their thread.

What callers must honour (the read rules): store only what was fetched through a grant and
that the console shows; pass the grant's mode and episode in a :class:`CacheContext`. The store
re-checks what it can (:func:`console.domain.retention.cache_admission`): a secretary's cache
never holds documents; a masked document is refused in normal mode unless its author or a
professional with the médecin traitant's rights fetched it; anything fetched in an exceptional
mode must carry its episode and goes with it (:meth:`CacheStore.purge_episode`).
"""

from __future__ import annotations

import base64
import logging
import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from console.cache.journal import (
    META_SEALED,
    SEAL_KEY_LABEL,
    JournalSeal,
    JournalStore,
    SealState,
)
from console.cache.keys import CacheKeys, CachePaths
from console.cache.outbox import Outbox
from console.cache.schema import CURRENT_VERSION, migrate
from console.cache.spool import SealedRecord, Spool, new_key_pair, public_key_of
from console.domain.dossier import PatientRecord
from console.domain.emergency import AttestationRecord, EndReason
from console.domain.ins import INS
from console.domain.journal import (
    DetailValue,
    JournalHead,
    VerifyResult,
    check_seal,
)
from console.domain.models import AccessMode, DocStatus, DocumentMeta, Visibility
from console.domain.retention import (
    CacheClosedError,
    CacheContext,
    CacheCorruptError,
    CacheRefusal,
    CacheUnavailableError,
    PurgeReport,
    RetentionPolicy,
    cache_admission,
    patient_admission,
)

__all__ = [
    "CIPHER_SETTINGS",
    "DEFAULT_CACHE_SIZE_KIB",
    "LIST_DOCUMENTS_SQL",
    "PAGE_SIZE",
    "CacheStore",
    "CachedPatient",
    "Clock",
    "PutResult",
    "SpoolReport",
    "apply_pragmas",
    "attestation_spool_record",
    "journal_spool_record",
    "utc_now",
]

_log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

DEFAULT_CACHE_SIZE_KIB = 65_536
PAGE_SIZE = 16_384
BUSY_TIMEOUT_MS = 5_000
"""A second console of the same professional (two sessions) waits for the write lock."""
CIPHER_SETTINGS = (
    f"PRAGMA cipher_page_size = {PAGE_SIZE}",
    "PRAGMA cipher_hmac_algorithm = HMAC_SHA256",
    "PRAGMA cipher_kdf_algorithm = PBKDF2_HMAC_SHA256",
)
"""SQLCipher 4 with 16 KiB pages and HMAC-SHA256 page authentication, set after the key at
every open (they are not stored in the file: changing them makes old files unreadable, so a
change needs a new header version). Why not the defaults (4 KiB, HMAC-SHA512): a list query
decrypts every page it reads and each page costs a fixed overhead plus its bytes; 16 KiB pages
quarter the fixed part, and SHA-256 has hardware support on current CPUs (SHA-NI, ARMv8)
where SHA-512 has none. Measured by ``python -m bench cache``."""
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_META_LAST_PURGE = "last_purge"
_META_BATCH_PLAN = "batch_plan:"


def utc_now() -> datetime:
    return datetime.now(UTC)


def _to_us(moment: datetime) -> int:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("cache times must be timezone-aware")
    return (moment - _EPOCH) // _US


def _from_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


_DOC_COLUMNS = (
    "id",
    "patient_ins",
    "master_id",
    "type_code",
    "class_code",
    "title",
    "author_id_nat",
    "created",
    "deposited",
    "author_name",
    "author_profession",
    "structure_name",
    "entered_by",
    "status",
    "archived",
    "visibility",
    "content_type",
    "size",
    "sha1",
    "replaces",
)
_DOC_SELECT = ", ".join(_DOC_COLUMNS)
_DOC_SELECT_D = ", ".join(f"d.{c}" for c in _DOC_COLUMNS)

LIST_DOCUMENTS_SQL = (
    f"SELECT {_DOC_SELECT} FROM documents WHERE patient_ins = ? ORDER BY created DESC, id"
)
"""The list query of one patient's documents, newest act first (served by an index)."""


def _doc_row(doc: DocumentMeta) -> tuple[Any, ...]:
    return (
        doc.id,
        doc.patient_ins,
        doc.master_id,
        doc.type_code,
        doc.class_code,
        doc.title,
        doc.author_id_nat,
        _to_us(doc.created),
        _to_us(doc.deposited),
        doc.author_name,
        doc.author_profession,
        doc.structure_name,
        doc.entered_by,
        doc.status.value,
        int(doc.archived),
        ",".join(sorted(v.value for v in doc.visibility)),
        doc.content_type,
        doc.size,
        doc.sha1,
        doc.replaces,
    )


def _doc(row: tuple[Any, ...]) -> DocumentMeta:
    return DocumentMeta(
        id=row[0],
        patient_ins=row[1],
        master_id=row[2],
        type_code=row[3],
        class_code=row[4],
        title=row[5],
        author_id_nat=row[6],
        created=_from_us(row[7]),
        deposited=_from_us(row[8]),
        author_name=row[9],
        author_profession=row[10],
        structure_name=row[11],
        entered_by=row[12],
        status=DocStatus(row[13]),
        archived=bool(row[14]),
        visibility=frozenset(Visibility(v) for v in row[15].split(",") if v),
        content_type=row[16],
        size=row[17],
        sha1=row[18],
        replaces=row[19],
    )


@dataclass(frozen=True, slots=True)
class CachedPatient:
    """A patient seen, as the cache remembers her."""

    record: PatientRecord
    last_access: datetime
    last_sync: datetime | None = None
    last_visit: datetime | None = None
    """Her last complete opening of the record in normal mode."""
    episode_id: str | None = None
    """Set when only an exceptional access brought her in (purged with that episode)."""


@dataclass(frozen=True, slots=True)
class PutResult:
    """What :meth:`CacheStore.put_documents` did (counts only)."""

    stored: int = 0
    removed: int = 0
    """Already cached, refused now (no longer current, masked...): deleted."""
    refused: dict[CacheRefusal, int] = field(default_factory=dict)


def apply_pragmas(conn: Any, cache_size_kib: int = DEFAULT_CACHE_SIZE_KIB) -> None:
    """The cache's PRAGMAs (see the module doc); also used on the benchmark's plain file."""
    mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
    if str(mode).lower() != "wal":
        raise CacheCorruptError(f"Le cache ne peut pas passer en mode WAL ({mode}).")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA cache_size = {-int(cache_size_kib)}")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA secure_delete = ON")


@dataclass(frozen=True, slots=True)
class SpoolReport:
    """What an opening took in from the sealed spool."""

    journal_entries: int = 0
    attestations: int = 0
    unreadable: int = 0

    @property
    def total(self) -> int:
        return self.journal_entries + self.attestations


def journal_spool_record(
    actor: str,
    action: str,
    *,
    patient_ins: str | None,
    document_ids: Iterable[str],
    mode: str,
    detail: Mapping[str, DetailValue],
    at: datetime,
) -> dict[str, Any]:
    """A journal entry as the spool carries it (read back by :meth:`CacheStore.drain_spool`)."""
    return {
        "kind": "journal",
        "actor": actor,
        "action": action,
        "patient_ins": patient_ins,
        "document_ids": list(document_ids),
        "mode": mode,
        "detail": dict(detail),
        "at": at.isoformat(),
    }


def attestation_spool_record(record: AttestationRecord, pdf: bytes) -> dict[str, Any]:
    """An attestation as the spool carries it (read back by :meth:`CacheStore.drain_spool`)."""
    return {
        "kind": "attestation",
        "episode_id": record.episode_id,
        "patient_ins": record.patient_ins,
        "patient_name": record.patient_name,
        "started_at": record.started_at.isoformat(),
        "ended_at": record.ended_at.isoformat(),
        "end_reason": record.end_reason.value,
        "created_at": record.created_at.isoformat(),
        "pdf": base64.b64encode(pdf).decode("ascii"),
    }


class CacheStore:
    """One professional's open cache (see the module doc). Use :meth:`open`.

    Attributes:
        paths: The files.
        outbox: The deposit queue.
        journal: The hash-chained journal.
    """

    def __init__(self, conn: Any, paths: CachePaths, clock: Clock) -> None:
        self._conn = conn
        self._depth = 0
        self._clock = clock
        self.paths = paths
        self.outbox = Outbox(self)
        self.journal = JournalStore(self)
        self._seal: JournalSeal | None = None
        self._sealed: JournalHead | None = None
        self.seal_problem: VerifyResult | None = None
        """Set at open when the journal's seal says the cache was rolled back (or the seal
        was tampered with): the seal is then never rewritten (the evidence stays)."""

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        paths: CachePaths,
        keys: CacheKeys,
        *,
        clock: Clock = utc_now,
        cache_size_kib: int = DEFAULT_CACHE_SIZE_KIB,
    ) -> CacheStore:
        """Open (or create) the database at ``paths.db`` with `keys`.

        The header must already have been checked (or written, for a new cache) by the
        caller: this method only opens the database.

        Raises:
            CacheUnavailableError: the SQLite library has no encryption (SQLCipher missing).
            CacheCorruptError: the file cannot be read with this key, or its schema is newer.
        """
        import sqlcipher3

        _create_private(paths.db)
        try:
            conn = sqlcipher3.connect(str(paths.db), isolation_level=None)
        except sqlcipher3.DatabaseError as exc:
            raise CacheCorruptError(
                f"Le cache ne peut pas être ouvert ({type(exc).__name__})."
            ) from None
        try:
            conn.execute(keys.pragma_key())
            row = conn.execute("PRAGMA cipher_version").fetchone()
            if not row or not row[0]:
                raise CacheUnavailableError(
                    "La bibliothèque SQLite de cette installation ne chiffre pas : "
                    "pas de cache hors ligne."
                )
            for statement in CIPHER_SETTINGS:
                conn.execute(statement)
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlcipher3.DatabaseError:
                raise CacheCorruptError(
                    "Le cache ne peut pas être déchiffré avec cette clé : il est conservé."
                ) from None
            apply_pragmas(conn, cache_size_kib)
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        store = cls(conn, paths, clock)
        store._start_seal(JournalSeal(paths.seal, keys.mac(SEAL_KEY_LABEL), paths.db.stem))
        recovered = store.outbox.recover()
        if recovered:
            _log.info("outbox: %d item(s) sent but not acknowledged will be re-sent", recovered)
        return store

    @property
    def conn(self) -> Any:
        """The connection (this store's thread only)."""
        if self._conn is None:
            raise CacheClosedError("Le cache hors ligne est fermé.")
        return self._conn

    @property
    def closed(self) -> bool:
        return self._conn is None

    def close(self) -> None:
        """Checkpoint the WAL into the database and close (idempotent)."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except Exception as exc:  # closing must not fail: the data is committed anyway
            _log.warning("cache checkpoint at close failed: %s", type(exc).__name__)
        conn.close()

    def now(self) -> datetime:
        return self._clock()

    def now_us(self) -> int:
        return _to_us(self._clock())

    # -- the journal's seal --------------------------------------------------------------------

    def _start_seal(self, seal: JournalSeal) -> None:
        """Check the seal against the database's head (cheap: one row), then keep it up to
        date, unless it shows a rollback (see ``console.cache.journal``)."""
        state = seal.read()
        sealed_before = self._meta(META_SEALED) == "1"
        head = self.journal.head()
        result = VerifyResult(True, 0, head)
        records = []
        if state.head is not None and 0 < state.head.seq <= head.seq:
            records = self.journal.records_at(state.head.seq)
        problem = check_seal(
            result, records, state.head, seal_valid=state.valid, sealed_before=sealed_before
        )
        if not problem.ok:
            self.seal_problem = problem
            kind = problem.problem.value if problem.problem is not None else "?"
            _log.warning("journal seal: %s; the seal is kept as it is", kind)
            return
        self._seal, self._sealed = seal, state.head
        if not sealed_before:
            with self.transaction():
                self._set_meta(META_SEALED, "1")
        self._reseal()

    def seal_state(self) -> SealState | None:
        """What the seal file says now (None when no seal is kept: see ``seal_problem``)."""
        return None if self._seal is None else self._seal.read()

    def _reseal(self) -> None:
        seal = self._seal
        if seal is None or self._conn is None:
            return
        head = self.journal.head()
        if head == self._sealed:
            return
        try:
            seal.write(head)
        except OSError as exc:  # the entries are committed; the seal lags (allowed)
            _log.warning("journal seal not written: %s", type(exc).__name__)
            return
        self._sealed = head

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """One ``BEGIN IMMEDIATE`` ... ``COMMIT``; nested blocks join the outer transaction."""
        conn = self.conn
        if self._depth:
            self._depth += 1
            try:
                yield conn
            finally:
                self._depth -= 1
            return
        conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield conn
            self._depth = 0
            conn.execute("COMMIT")
        except BaseException:
            self._depth = 0
            if conn.in_transaction:  # SQLite may already have rolled back by itself
                conn.execute("ROLLBACK")
            raise
        if self._seal is not None:
            self._reseal()  # after the commit: the seal may lag, never lead

    def integrity_check(self) -> str:
        """``PRAGMA integrity_check`` ("ok" when whole)."""
        rows = self.conn.execute("PRAGMA integrity_check").fetchall()
        return "\n".join(str(r[0]) for r in rows)

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    # -- patients ------------------------------------------------------------------------------

    def touch_patient(self, patient: PatientRecord, ctx: CacheContext) -> bool:
        """Record an access to `patient` now (identity, last access; episode if exceptional).

        Returns False (nothing stored) when admission refuses it (a secretary, an exceptional
        access without its episode).
        """
        if not patient_admission(ctx):
            return False
        now = self.now_us()
        episode = ctx.episode
        with self.transaction() as conn:
            if episode is not None:
                self._ensure_episode(episode, now)
            conn.execute(
                "INSERT INTO patients (ins, ins_system, family_name, given_names, birth_date,"
                " gender, last_access, episode_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (ins) DO UPDATE SET ins_system = excluded.ins_system,"
                " family_name = excluded.family_name, given_names = excluded.given_names,"
                " birth_date = excluded.birth_date, gender = excluded.gender,"
                " last_access = excluded.last_access, episode_id = excluded.episode_id",
                (
                    patient.ins.value,
                    patient.ins.system,
                    patient.family_name,
                    patient.given_names,
                    None if patient.birth_date is None else patient.birth_date.isoformat(),
                    patient.gender,
                    now,
                    episode,
                ),
            )
        return True

    def ensure_patient(self, ins: str, ins_system: str, ctx: CacheContext) -> bool:
        """A row for the patient `ins` if none (identity unknown yet: empty names), so that
        documents can be stored; an existing row is left as it is. False if refused."""
        if not patient_admission(ctx):
            return False
        now = self.now_us()
        episode = ctx.episode
        with self.transaction() as conn:
            if episode is not None:
                self._ensure_episode(episode, now)
            conn.execute(
                "INSERT INTO patients (ins, ins_system, family_name, given_names, gender,"
                " last_access, episode_id) VALUES (?, ?, '', '', '', ?, ?)"
                " ON CONFLICT (ins) DO NOTHING",
                (ins, ins_system, now, episode),
            )
        return True

    def patient(self, ins: str) -> CachedPatient | None:
        row = self.conn.execute(f"{_PATIENT_SELECT} WHERE p.ins = ?", (ins,)).fetchone()
        return None if row is None else _patient(row)

    def patients(self) -> list[CachedPatient]:
        """The cached patients, most recently accessed first."""
        rows = self.conn.execute(f"{_PATIENT_SELECT} ORDER BY p.last_access DESC, p.ins").fetchall()
        return [_patient(r) for r in rows]

    def mark_synced(self, ins: str, when: datetime | None = None) -> None:
        """The patient's documents were synchronised with the server at `when` (now)."""
        moment = self.now_us() if when is None else _to_us(when)
        with self.transaction() as conn:
            conn.execute("UPDATE patients SET last_sync = ? WHERE ins = ?", (moment, ins))

    # -- visits --------------------------------------------------------------------------------

    def record_visit(
        self,
        ins: str,
        mode: AccessMode,
        at: datetime,
        *,
        complete_history: bool,
        document_ids: Iterable[str],
        episode_id: str | None = None,
    ) -> None:
        """The professional's last complete opening of `ins` in `mode`, with the documents it
        listed (those in the cache: the others are not remembered)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO visits (patient_ins, mode, at, complete_history, episode_id)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT (patient_ins, mode) DO UPDATE SET"
                " at = excluded.at, complete_history = excluded.complete_history,"
                " episode_id = excluded.episode_id",
                (ins, mode.value, _to_us(at), int(complete_history), episode_id),
            )
            conn.execute(
                "DELETE FROM visit_documents WHERE patient_ins = ? AND mode = ?",
                (ins, mode.value),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO visit_documents (patient_ins, mode, document_id)"
                " SELECT ?, ?, id FROM documents WHERE id = ? AND patient_ins = ?",
                [(ins, mode.value, doc_id, ins) for doc_id in document_ids],
            )

    def forget_visit(self, ins: str, mode: AccessMode) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM visits WHERE patient_ins = ? AND mode = ?", (ins, mode.value))

    def last_visit(self, ins: str, mode: AccessMode) -> tuple[datetime, bool, str | None] | None:
        """(when, complete history, episode) of the last visit of `ins` in `mode`, if any."""
        row = self.conn.execute(
            "SELECT at, complete_history, episode_id FROM visits"
            " WHERE patient_ins = ? AND mode = ?",
            (ins, mode.value),
        ).fetchone()
        return None if row is None else (_from_us(row[0]), bool(row[1]), row[2])

    def visit_documents(self, ins: str, mode: AccessMode) -> list[DocumentMeta]:
        """The cached documents the last visit of `ins` in `mode` listed, newest act first."""
        rows = self.conn.execute(
            f"SELECT {_DOC_SELECT_D} FROM visit_documents v JOIN documents d"
            " ON d.id = v.document_id WHERE v.patient_ins = ? AND v.mode = ?"
            " ORDER BY d.created DESC, d.id",
            (ins, mode.value),
        ).fetchall()
        return [_doc(r) for r in rows]

    # -- documents -----------------------------------------------------------------------------

    def put_documents(
        self, patient_ins: str, docs: Iterable[DocumentMeta], ctx: CacheContext
    ) -> PutResult:
        """Store (or update) the metadata of `docs` of a patient already touched.

        Each document goes through admission; one refused that was cached before (it is no
        longer current, became masked...) is deleted with its body.

        Raises:
            KeyError: the patient was not touched first (or was purged meanwhile).
            ValueError: a document of another patient.
        """
        now = self.now_us()
        episode = ctx.episode
        stored, removed = 0, 0
        refused: dict[CacheRefusal, int] = {}
        with self.transaction() as conn:
            if (
                conn.execute("SELECT 1 FROM patients WHERE ins = ?", (patient_ins,)).fetchone()
                is None
            ):
                raise KeyError("patient not in the cache: touch_patient first")
            if episode is not None:
                self._ensure_episode(episode, now)
            rows, gone = [], []
            for doc in docs:
                if doc.patient_ins != patient_ins:
                    raise ValueError("a document of another patient")
                admission = cache_admission(doc, ctx)
                if admission.allowed:
                    rows.append((*_doc_row(doc), doc.title.casefold(), now, episode))
                else:
                    assert admission.reason is not None
                    refused[admission.reason] = refused.get(admission.reason, 0) + 1
                    gone.append((doc.id, patient_ins))
            conn.executemany(
                f"INSERT INTO documents ({_DOC_SELECT}, title_key, fetched, revealed_episode)"
                f" VALUES ({', '.join('?' * (len(_DOC_COLUMNS) + 3))})"
                " ON CONFLICT (id) DO UPDATE SET "
                + ", ".join(
                    f"{c} = excluded.{c}"
                    for c in (*_DOC_COLUMNS[1:], "title_key", "fetched", "revealed_episode")
                ),
                rows,
            )
            stored = len(rows)
            if gone:
                cursor = conn.executemany(
                    "DELETE FROM documents WHERE id = ? AND patient_ins = ?", gone
                )
                removed = max(int(cursor.rowcount), 0)
        return PutResult(stored, removed, refused)

    def documents(self, patient_ins: str) -> list[DocumentMeta]:
        """The patient's cached documents, newest act first (:data:`LIST_DOCUMENTS_SQL`)."""
        rows = self.conn.execute(LIST_DOCUMENTS_SQL, (patient_ins,)).fetchall()
        return [_doc(r) for r in rows]

    def document(self, doc_id: str) -> DocumentMeta | None:
        row = self.conn.execute(
            f"SELECT {_DOC_SELECT} FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        return None if row is None else _doc(row)

    def document_ids(self, patient_ins: str) -> set[str]:
        rows = self.conn.execute(
            "SELECT id FROM documents WHERE patient_ins = ?", (patient_ins,)
        ).fetchall()
        return {str(r[0]) for r in rows}

    def revealed_by(self, doc_id: str) -> str | None:
        """The exceptional-access episode that brought `doc_id` in (None: normal mode)."""
        row = self.conn.execute(
            "SELECT revealed_episode FROM documents WHERE id = ?", (doc_id,)
        ).fetchone()
        return None if row is None else row[0]

    def count_documents(self, patient_ins: str | None = None) -> int:
        if patient_ins is None:
            row = self.conn.execute("SELECT COUNT(*) FROM documents").fetchone()
        else:
            row = self.conn.execute(
                "SELECT COUNT(*) FROM documents WHERE patient_ins = ?", (patient_ins,)
            ).fetchone()
        return int(row[0])

    def put_body(self, doc_id: str, content: bytes) -> None:
        """Keep the body of an opened document (its metadata must be cached).

        Raises:
            KeyError: the document is not cached (refused by admission, or purged).
        """
        with self.transaction() as conn:
            if conn.execute("SELECT 1 FROM documents WHERE id = ?", (doc_id,)).fetchone() is None:
                raise KeyError("document not in the cache")
            conn.execute(
                "INSERT INTO bodies (document_id, content, stored) VALUES (?, ?, ?)"
                " ON CONFLICT (document_id) DO UPDATE SET content = excluded.content,"
                " stored = excluded.stored",
                (doc_id, bytes(content), self.now_us()),
            )

    def get_body(self, doc_id: str) -> bytes | None:
        row = self.conn.execute(
            "SELECT content FROM bodies WHERE document_id = ?", (doc_id,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def has_body(self, doc_id: str) -> bool:
        row = self.conn.execute("SELECT 1 FROM bodies WHERE document_id = ?", (doc_id,)).fetchone()
        return row is not None

    def reconcile(
        self,
        patient_ins: str,
        visible_ids: Collection[str],
        *,
        checked_ids: Collection[str] | None = None,
    ) -> int:
        """After a sync: delete the cached documents the server no longer shows.

        Args:
            patient_ins: The patient.
            visible_ids: The ids the server lists to this professional now.
            checked_ids: The ids the server was asked about (a partial sync: "new since the
                last visit" says nothing of older ones); None means every cached document of
                the patient was covered by the server's answer.

        Returns:
            How many documents were deleted (with their bodies).
        """
        visible = set(visible_ids)
        with self.transaction() as conn:
            cached = {
                str(r[0])
                for r in conn.execute(
                    "SELECT id FROM documents WHERE patient_ins = ?", (patient_ins,)
                ).fetchall()
            }
            scope = cached if checked_ids is None else cached & set(checked_ids)
            stale = sorted(scope - visible)
            conn.executemany(
                "DELETE FROM documents WHERE id = ? AND patient_ins = ?",
                [(doc_id, patient_ins) for doc_id in stale],
            )
        if stale:
            self._checkpoint()
        return len(stale)

    # -- episodes and retention ------------------------------------------------------------

    def begin_episode(self, episode_id: str, expires_at: datetime) -> None:
        """An exceptional access started: what it fetches goes when it ends (or expires)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO episodes (id, started, expires) VALUES (?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET expires = excluded.expires",
                (episode_id, self.now_us(), _to_us(expires_at)),
            )

    def _ensure_episode(self, episode_id: str, now: int) -> None:
        # Data of an episode nobody announced expires at once: the next purge removes it.
        self.conn.execute(
            "INSERT INTO episodes (id, started, expires) VALUES (?, ?, ?)"
            " ON CONFLICT (id) DO NOTHING",
            (episode_id, now, now),
        )

    def episodes(self) -> dict[str, datetime]:
        """Episodes in progress and when they expire."""
        rows = self.conn.execute("SELECT id, expires FROM episodes").fetchall()
        return {str(i): _from_us(e) for i, e in rows}

    def purge_episode(self, episode_id: str) -> PurgeReport:
        """The episode ended: delete what it revealed (its documents and patients)."""
        with self.transaction():
            report = self._purge_where(
                "patient_ins IN (SELECT ins FROM patients WHERE episode_id = ?)"
                " OR revealed_episode = ?",
                (episode_id, episode_id),
                "episode_id = ?",
                (episode_id,),
            )
            self.conn.execute("DELETE FROM visits WHERE episode_id = ?", (episode_id,))
            self.conn.execute("DELETE FROM episodes WHERE id = ?", (episode_id,))
        self._checkpoint()
        return report

    def purge_all_episodes(self) -> PurgeReport:
        """At open: no episode outlives the process that ran it (a crash during one)."""
        report = PurgeReport()
        for episode_id in list(self.episodes()):
            report += self.purge_episode(episode_id)
        with self.transaction():  # tags left without an episode row, if any
            report += self._purge_where(
                "revealed_episode IS NOT NULL"
                " OR patient_ins IN (SELECT ins FROM patients WHERE episode_id IS NOT NULL)",
                (),
                "episode_id IS NOT NULL",
                (),
            )
            self.conn.execute("DELETE FROM visits WHERE episode_id IS NOT NULL")
        self._checkpoint()
        return report

    def purge_expired(self, policy: RetentionPolicy) -> PurgeReport:
        """Retention: patients not accessed for ``policy.max_idle``, expired episodes, sent
        outbox items older than that; records the purge time."""
        now = self.now()
        cutoff = _to_us(policy.cutoff(now))
        report = PurgeReport()
        expired = [
            str(r[0])
            for r in self.conn.execute(
                "SELECT id FROM episodes WHERE expires <= ?", (_to_us(now),)
            ).fetchall()
        ]
        for episode_id in expired:
            report += self.purge_episode(episode_id)
        with self.transaction() as conn:
            report += self._purge_where(
                "patient_ins IN (SELECT ins FROM patients WHERE last_access < ?)",
                (cutoff,),
                "last_access < ?",
                (cutoff,),
            )
            sent = conn.execute(
                "DELETE FROM outbox WHERE state = 'sent' AND updated < ?", (cutoff,)
            ).rowcount
            report += PurgeReport(outbox_items=int(sent))
            self._set_meta(_META_LAST_PURGE, str(_to_us(now)))
        self._checkpoint()
        return report

    def purge_if_due(self, policy: RetentionPolicy) -> PurgeReport | None:
        """The hourly purge: runs :meth:`purge_expired` when the interval has passed."""
        if not policy.purge_due(self.last_purge(), self.now()):
            return None
        return self.purge_expired(policy)

    def last_purge(self) -> datetime | None:
        value = self._meta(_META_LAST_PURGE)
        return None if value is None else _from_us(int(value))

    def purge_patient_data(self) -> PurgeReport:
        """Everything about patients (logout purge, "purge now" of all): patients, documents,
        bodies, episodes and sent outbox items. Kept: unsent deposits, the journal and the
        bris de glace attestations not saved yet (the professional's own accountability)."""
        with self.transaction() as conn:
            report = self._purge_where("1", (), "1", ())
            conn.execute("DELETE FROM episodes")
            conn.execute("DELETE FROM visits")
            sent = conn.execute("DELETE FROM outbox WHERE state = 'sent'").rowcount
            report += PurgeReport(outbox_items=int(sent))
        self._checkpoint()
        return report

    def purge_patient(self, ins: str) -> PurgeReport:
        """One patient's identity, documents and bodies."""
        with self.transaction():
            report = self._purge_where("patient_ins = ?", (ins,), "ins = ?", (ins,))
        self._checkpoint()
        return report

    def _purge_where(
        self,
        doc_where: str,
        doc_params: tuple[Any, ...],
        patient_where: str,
        patient_params: tuple[Any, ...],
    ) -> PurgeReport:
        conn = self.conn
        bodies = conn.execute(
            f"SELECT COUNT(*) FROM bodies WHERE document_id IN"
            f" (SELECT id FROM documents WHERE {doc_where})",
            doc_params,
        ).fetchone()[0]
        documents = conn.execute(f"DELETE FROM documents WHERE {doc_where}", doc_params).rowcount
        patients = conn.execute(
            f"DELETE FROM patients WHERE {patient_where}", patient_params
        ).rowcount
        return PurgeReport(int(patients), int(documents), int(bodies))

    # -- the sealed spool -------------------------------------------------------------------

    def spool_public_key(self) -> bytes:
        """The public half of this cache's spool key (the pair is made on first use)."""
        row = self.conn.execute("SELECT private FROM spool_key WHERE id = 1").fetchone()
        if row is not None:
            return public_key_of(bytes(row[0]))
        private, public = new_key_pair()
        with self.transaction() as conn:
            conn.execute("INSERT INTO spool_key (id, private) VALUES (1, ?)", (private,))
        return public

    def drain_spool(self, spool: Spool) -> SpoolReport:
        """Take in what was sealed for this cache while it was closed (oldest first), in one
        transaction; the sealed files are deleted after the commit."""
        if not spool.pending():
            return SpoolReport(unreadable=len(spool.unreadable()))
        row = self.conn.execute("SELECT private FROM spool_key WHERE id = 1").fetchone()
        if row is None:  # nothing can have been sealed to a key this cache never made
            return SpoolReport(unreadable=len(spool.pending()))
        private = bytes(row[0])
        done: list[Path] = []
        entries = attestations = 0
        with self.transaction():
            for sealed in spool.read(private):
                kind = sealed.record.get("kind")
                if kind == "journal":
                    self._spooled_journal_entry(sealed)
                    entries += 1
                elif kind == "attestation":
                    self._spooled_attestation(sealed)
                    attestations += 1
                else:
                    _log.warning("spool record of an unknown kind left in place")
                    continue
                done.append(sealed.path)
        spool.remove(done)
        return SpoolReport(entries, attestations, len(spool.unreadable()))

    def _spooled_journal_entry(self, sealed: SealedRecord) -> None:
        r = sealed.record
        self.journal.append(
            str(r["actor"]),
            str(r["action"]),
            patient_ins=None if r.get("patient_ins") is None else str(r["patient_ins"]),
            document_ids=[str(i) for i in r.get("document_ids", [])],
            mode=str(r.get("mode", "")),
            detail=dict(r.get("detail") or {}),
            timestamp=datetime.fromisoformat(str(r["at"])),
        )

    def _spooled_attestation(self, sealed: SealedRecord) -> None:
        r = sealed.record
        record = AttestationRecord(
            episode_id=str(r["episode_id"]),
            patient_ins=str(r["patient_ins"]),
            patient_name=str(r["patient_name"]),
            started_at=datetime.fromisoformat(str(r["started_at"])),
            ended_at=datetime.fromisoformat(str(r["ended_at"])),
            end_reason=EndReason(str(r["end_reason"])),
            created_at=datetime.fromisoformat(str(r["created_at"])),
        )
        self.put_attestation(record, base64.b64decode(str(r["pdf"])))

    # -- bris de glace attestations ----------------------------------------------------------

    def put_attestation(self, record: AttestationRecord, pdf: bytes) -> None:
        """Keep an attestation (the same episode again replaces it: one per episode)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO attestations (episode_id, patient_ins, patient_name, started,"
                " ended, end_reason, created, saved, pdf) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (episode_id) DO UPDATE SET pdf = excluded.pdf,"
                " created = excluded.created, ended = excluded.ended,"
                " end_reason = excluded.end_reason",
                (
                    record.episode_id,
                    record.patient_ins,
                    record.patient_name,
                    _to_us(record.started_at),
                    _to_us(record.ended_at),
                    record.end_reason.value,
                    _to_us(record.created_at),
                    None if record.saved_at is None else _to_us(record.saved_at),
                    pdf,
                ),
            )

    def attestations(self, *, unsaved_only: bool = False) -> list[AttestationRecord]:
        """The attestations kept (their PDFs not read), most recent first."""
        sql = (
            "SELECT episode_id, patient_ins, patient_name, started, ended, end_reason,"
            " created, saved FROM attestations"
        )
        if unsaved_only:
            sql += " WHERE saved IS NULL"
        rows = self.conn.execute(sql + " ORDER BY ended DESC, episode_id").fetchall()
        return [
            AttestationRecord(
                episode_id=row[0],
                patient_ins=row[1],
                patient_name=row[2],
                started_at=_from_us(row[3]),
                ended_at=_from_us(row[4]),
                end_reason=EndReason(row[5]),
                created_at=_from_us(row[6]),
                saved_at=None if row[7] is None else _from_us(row[7]),
            )
            for row in rows
        ]

    def attestation_pdf(self, episode_id: str) -> bytes | None:
        row = self.conn.execute(
            "SELECT pdf FROM attestations WHERE episode_id = ?", (episode_id,)
        ).fetchone()
        return None if row is None else bytes(row[0])

    def mark_attestation_saved(self, episode_id: str, when: datetime | None = None) -> bool:
        with self.transaction() as conn:
            changed = conn.execute(
                "UPDATE attestations SET saved = ? WHERE episode_id = ?",
                (_to_us(when or self.now()), episode_id),
            ).rowcount
        return bool(changed)

    def delete_attestation(self, episode_id: str) -> bool:
        with self.transaction() as conn:
            gone = conn.execute(
                "DELETE FROM attestations WHERE episode_id = ?", (episode_id,)
            ).rowcount
        self._checkpoint()
        return bool(gone)

    def _checkpoint(self) -> None:
        """After deleting patient data: no old copy of those pages stays in the WAL."""
        if self._depth:
            return
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    # -- batch plans -----------------------------------------------------------------------------

    def set_batch_plan(self, batch_id: str, plan: str) -> None:
        """Keep what a batch is about to queue (JSON), committed before its first group: a
        kill while the batch is queued leaves the plan, and the next start says which files
        were never queued."""
        with self.transaction():
            self._set_meta(_META_BATCH_PLAN + batch_id, plan)

    def drop_batch_plan(self, batch_id: str) -> None:
        with self.transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = ?", (_META_BATCH_PLAN + batch_id,))

    def batch_plans(self) -> dict[str, str]:
        """The plans of the batches whose queuing did not finish: batch id -> JSON."""
        rows = self.conn.execute(
            "SELECT key, value FROM meta WHERE key >= ? AND key < ? ORDER BY key",
            (_META_BATCH_PLAN, _META_BATCH_PLAN[:-1] + chr(ord(_META_BATCH_PLAN[-1]) + 1)),
        ).fetchall()
        return {str(k)[len(_META_BATCH_PLAN) :]: str(v) for k, v in rows}

    def _meta(self, key: str) -> str | None:
        row = self.conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def __repr__(self) -> str:
        state = "closed" if self._conn is None else f"schema {CURRENT_VERSION}"
        return f"CacheStore({Path(self.paths.db).name}, {state})"


_PATIENT_SELECT = (
    "SELECT p.ins, p.ins_system, p.family_name, p.given_names, p.birth_date, p.gender,"
    " p.last_access, p.last_sync, v.at, p.episode_id FROM patients p"
    " LEFT JOIN visits v ON v.patient_ins = p.ins AND v.mode = 'normal'"
)


def _create_private(db: Path) -> None:
    """The cache directory (0700) and an empty database file (0600) if none: SQLite then
    creates the WAL and shared-memory files with the database's permissions."""
    db.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        fd = os.open(db, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(fd)


def _patient(row: tuple[Any, ...]) -> CachedPatient:
    record = PatientRecord(
        ins=INS(row[1], row[0]),
        family_name=row[2],
        given_names=row[3],
        birth_date=None if row[4] is None else date.fromisoformat(row[4]),
        gender=row[5],
    )
    return CachedPatient(
        record=record,
        last_access=_from_us(row[6]),
        last_sync=None if row[7] is None else _from_us(row[7]),
        last_visit=None if row[8] is None else _from_us(row[8]),
        episode_id=row[9],
    )
