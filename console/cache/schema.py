"""The cache's schema and its migrations, versioned by ``PRAGMA user_version``.

Each migration runs in one ``BEGIN IMMEDIATE`` transaction together with the new
``user_version``: a crash or an error leaves the database at the previous version, whole.
A database newer than this console is refused (no downgrade).

Layout (version 1):

- ``patients``: the patients seen (INS, names, last sync, last access, the
  exceptional-access episode that brought them in, if any).
- ``visits`` and ``visit_documents``: the professional's last complete opening of each
  record per access mode, and the documents it listed ("new since the last visit").
- ``documents``: one row of metadata per document, with the columns list queries filter and
  sort on (dates as integer microseconds UTC, a case-folded title key) and an index per
  patient and date; ``revealed_episode`` tags what an exceptional access fetched.
- ``bodies``: the bodies of the documents opened, in their own table: SQLCipher encrypts
  pages, so list queries over ``documents`` never read (never decrypt) a body page.
- ``episodes``: exceptional-access episodes in progress (purged at their end).
- ``outbox``: the deposit queue (``masterIdentifier`` generated once, state, attempts).
- ``journal`` (append-only: triggers refuse UPDATE and DELETE) and ``journal_head``, the
  anchor (last seq and hash) written in the same transaction as each append.
- ``meta``: small key/values (last purge...).

Version 2:

- ``attestations``: the bris de glace attestations (PDF) until the professional saves them,
  whatever ended the bris de glace (a card pulled, a logout, quitting included);
- ``spool_key``: the X25519 key pair of the sealed spool (``console/cache/spool.py``): what
  reaches this cache while it is closed is sealed to its public half.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any, Protocol

from console.domain.retention import CacheCorruptError

__all__ = [
    "CURRENT_VERSION",
    "MIGRATIONS",
    "Migration",
    "Transactional",
    "migrate",
    "user_version",
]


class Transactional(Protocol):
    """What the outbox and the journal need of the store (one connection, one thread)."""

    @property
    def conn(self) -> Any: ...

    def transaction(self) -> AbstractContextManager[Any]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (re-entrant: nested blocks join the outer one)."""
        ...

    def now_us(self) -> int:
        """The store clock's now, in integer microseconds since the epoch (UTC)."""
        ...


@dataclass(frozen=True, slots=True)
class Migration:
    """The statements that take the schema from ``version - 1`` to ``version``."""

    version: int
    statements: tuple[str, ...]


_V1 = Migration(
    1,
    (
        """
        CREATE TABLE patients (
            ins          TEXT PRIMARY KEY,
            ins_system   TEXT NOT NULL,
            family_name  TEXT NOT NULL,
            given_names  TEXT NOT NULL,
            birth_date   TEXT,
            gender       TEXT NOT NULL DEFAULT '',
            last_access  INTEGER NOT NULL,
            last_sync    INTEGER,
            episode_id   TEXT
        )
        """,
        "CREATE INDEX patients_last_access ON patients (last_access)",
        "CREATE INDEX patients_episode ON patients (episode_id) WHERE episode_id IS NOT NULL",
        """
        CREATE TABLE documents (
            id                TEXT PRIMARY KEY,
            patient_ins       TEXT NOT NULL REFERENCES patients (ins) ON DELETE CASCADE,
            master_id         TEXT NOT NULL,
            type_code         TEXT NOT NULL,
            class_code        TEXT NOT NULL,
            title             TEXT NOT NULL,
            title_key         TEXT NOT NULL,
            author_id_nat     TEXT NOT NULL,
            author_name       TEXT NOT NULL,
            author_profession TEXT NOT NULL,
            structure_name    TEXT NOT NULL,
            entered_by        TEXT,
            created           INTEGER NOT NULL,
            deposited         INTEGER NOT NULL,
            status            TEXT NOT NULL,
            archived          INTEGER NOT NULL,
            visibility        TEXT NOT NULL,
            content_type      TEXT NOT NULL,
            size              INTEGER NOT NULL,
            sha1              TEXT NOT NULL,
            replaces          TEXT,
            fetched           INTEGER NOT NULL,
            revealed_episode  TEXT
        )
        """,
        "CREATE INDEX documents_patient_created ON documents (patient_ins, created DESC, id)",
        """CREATE INDEX documents_episode ON documents (revealed_episode)
           WHERE revealed_episode IS NOT NULL""",
        """
        CREATE TABLE bodies (
            document_id  TEXT PRIMARY KEY REFERENCES documents (id) ON DELETE CASCADE,
            content      BLOB NOT NULL,
            stored       INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE visits (
            patient_ins      TEXT NOT NULL REFERENCES patients (ins) ON DELETE CASCADE,
            mode             TEXT NOT NULL,
            at               INTEGER NOT NULL,
            complete_history INTEGER NOT NULL,
            episode_id       TEXT,
            PRIMARY KEY (patient_ins, mode)
        )
        """,
        """
        CREATE TABLE visit_documents (
            patient_ins  TEXT NOT NULL,
            mode         TEXT NOT NULL,
            document_id  TEXT NOT NULL REFERENCES documents (id) ON DELETE CASCADE,
            PRIMARY KEY (patient_ins, mode, document_id),
            FOREIGN KEY (patient_ins, mode) REFERENCES visits (patient_ins, mode)
                ON DELETE CASCADE
        )
        """,
        "CREATE INDEX visit_documents_document ON visit_documents (document_id)",
        """
        CREATE TABLE episodes (
            id       TEXT PRIMARY KEY,
            started  INTEGER NOT NULL,
            expires  INTEGER NOT NULL
        )
        """,
        """
        CREATE TABLE outbox (
            id           INTEGER PRIMARY KEY,
            master_id    TEXT NOT NULL UNIQUE,
            kind         TEXT NOT NULL,
            patient_ins  TEXT,
            batch_id     TEXT,
            payload      BLOB,
            info         TEXT NOT NULL DEFAULT '{}',
            state        TEXT NOT NULL
                         CHECK (state IN ('pending', 'sending', 'sent', 'failed')),
            attempts     INTEGER NOT NULL DEFAULT 0,
            last_error   TEXT,
            server_id    TEXT,
            created      INTEGER NOT NULL,
            updated      INTEGER NOT NULL,
            next_attempt INTEGER NOT NULL
        )
        """,
        "CREATE INDEX outbox_ready ON outbox (state, next_attempt, id)",
        "CREATE INDEX outbox_batch ON outbox (batch_id) WHERE batch_id IS NOT NULL",
        """
        CREATE TABLE journal (
            pos          INTEGER PRIMARY KEY,
            seq          INTEGER NOT NULL,
            ts           TEXT NOT NULL,
            actor        TEXT NOT NULL,
            action       TEXT NOT NULL,
            patient_ins  TEXT,
            document_ids TEXT NOT NULL,
            mode         TEXT NOT NULL,
            detail       TEXT NOT NULL,
            prev_hash    TEXT NOT NULL,
            hash         TEXT NOT NULL
        )
        """,
        "CREATE INDEX journal_patient ON journal (patient_ins) WHERE patient_ins IS NOT NULL",
        """
        CREATE TRIGGER journal_no_update BEFORE UPDATE ON journal
        BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END
        """,
        """
        CREATE TRIGGER journal_no_delete BEFORE DELETE ON journal
        BEGIN SELECT RAISE(ABORT, 'the journal is append-only'); END
        """,
        """
        CREATE TABLE journal_head (
            id    INTEGER PRIMARY KEY CHECK (id = 1),
            seq   INTEGER NOT NULL,
            hash  TEXT NOT NULL
        )
        """,
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    ),
)

_V2 = Migration(
    2,
    (
        """
        CREATE TABLE attestations (
            episode_id   TEXT PRIMARY KEY,
            patient_ins  TEXT NOT NULL,
            patient_name TEXT NOT NULL,
            started      INTEGER NOT NULL,
            ended        INTEGER NOT NULL,
            end_reason   TEXT NOT NULL,
            created      INTEGER NOT NULL,
            saved        INTEGER,
            pdf          BLOB NOT NULL
        )
        """,
        """
        CREATE TABLE spool_key (
            id       INTEGER PRIMARY KEY CHECK (id = 1),
            private  BLOB NOT NULL
        )
        """,
    ),
)

MIGRATIONS: tuple[Migration, ...] = (_V1, _V2)
CURRENT_VERSION = MIGRATIONS[-1].version


def user_version(conn: Any) -> int:
    """The schema version of the open database (0: empty)."""
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: Any, migrations: Sequence[Migration] = MIGRATIONS) -> int:
    """Bring the database on `conn` (autocommit mode) to the last of `migrations`.

    Args:
        conn: A ``sqlcipher3`` (or ``sqlite3``) connection with ``isolation_level=None``.
        migrations: Consecutive versions from 1 (tests pass their own).

    Returns:
        The version reached.

    Raises:
        CacheCorruptError: the database is newer than the migrations known here.
    """
    target = migrations[-1].version if migrations else 0
    for index, migration in enumerate(migrations, start=1):
        if migration.version != index:
            raise ValueError("migrations must be numbered 1, 2, 3... in order")
    version = user_version(conn)
    if version > target:
        raise CacheCorruptError(
            f"Ce cache a été écrit par une version plus récente de la console "
            f"(schéma {version}, connu : {target}) : mettez la console à jour."
        )
    for migration in migrations[version:]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            # Re-read inside the write lock: another connection may have migrated meanwhile.
            if user_version(conn) >= migration.version:
                conn.execute("COMMIT")
                continue
            for statement in migration.statements:
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {int(migration.version)}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    return user_version(conn)
