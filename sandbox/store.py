"""SQLite storage of the sandbox: schema, connection, and the rows <-> domain mapping.

One connection, guarded by a lock (the app is small; SQLite serialises writes anyway).
Routers add their own queries; what several of them need lives here.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from console.domain.models import (
    Actor,
    DocStatus,
    DocumentMeta,
    PatientPolicy,
    Visibility,
)

DB_NAME = "sandbox.sqlite3"
SCHEMA_VERSION = 3


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Store:
    """The sandbox database at ``path``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._conn = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._conn.row_factory = sqlite3.Row
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()

    @classmethod
    def create(cls, path: Path) -> Store:
        store = cls(path)
        schema = resources.files("sandbox").joinpath("schema.sql").read_text(encoding="utf-8")
        store._conn.executescript(schema)
        return store

    def schema_version(self) -> int:
        row = self.query_one("PRAGMA user_version")
        return 0 if row is None else int(row[0])

    def close(self) -> None:
        self._conn.close()

    # -- low level -------------------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._conn.execute(sql, params).fetchone()
            return row

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._lock:
            self._conn.execute(sql, params)

    # -- meta ------------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row["value"])

    def set_meta(self, key: str, value: str) -> None:
        self.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)", (key, value))

    # -- directory and patients -----------------------------------------------------------
    def actor(self, id_nat: str) -> Actor | None:
        row = self.query_one(
            "SELECT p.*, s.name AS structure_name FROM professionals p "
            "JOIN structures s ON s.id = p.structure_id WHERE p.id_nat = ?",
            (id_nat,),
        )
        if row is None:
            return None
        return Actor(
            id_nat=row["id_nat"],
            profession=row["profession"],
            family_name=row["family_name"],
            given_name=row["given_name"],
            specialty=row["specialty"],
            structure_id=row["structure_id"],
            structure_name=row["structure_name"],
            regulator=row["role"] == "regulator",
        )

    def patient_row(self, ins: str) -> sqlite3.Row | None:
        return self.query_one("SELECT * FROM patients WHERE ins = ?", (ins,))

    def policy(self, ins: str) -> PatientPolicy | None:
        row = self.patient_row(ins)
        if row is None:
            return None
        auths = self.query("SELECT id_nat, kind FROM authorisations WHERE patient_ins = ?", (ins,))
        blocked = self.query("SELECT id_nat FROM blocks WHERE patient_ins = ?", (ins,))
        return PatientPolicy(
            ins=ins,
            medecin_traitant=row["medecin_traitant"],
            care_team=frozenset(a["id_nat"] for a in auths if a["kind"] == "care_team"),
            mt_equivalents=frozenset(a["id_nat"] for a in auths if a["kind"] == "mt_equivalent"),
            blocked=frozenset(b["id_nat"] for b in blocked),
            opposed_bris_de_glace=bool(row["opposed_bris_de_glace"]),
            opposed_centre_15=bool(row["opposed_centre_15"]),
        )

    # -- documents ---------------------------------------------------------------------------
    @staticmethod
    def document(row: sqlite3.Row) -> DocumentMeta:
        return DocumentMeta(
            id=row["id"],
            master_id=row["master_id"],
            patient_ins=row["patient_ins"],
            type_code=row["type_code"],
            class_code=row["class_code"],
            title=row["title"],
            author_id_nat=row["author_id_nat"],
            created=datetime.fromisoformat(row["created"]),
            deposited=datetime.fromisoformat(row["deposited"]),
            author_name=row["author_name"],
            author_profession=row["author_profession"],
            structure_name=row["structure_name"] or "",
            entered_by=row["entered_by"],
            status=DocStatus(row["status"]),
            archived=bool(row["archived"]),
            visibility=frozenset(Visibility(v) for v in row["visibility"].split()),
            content_type=row["content_type"],
            size=row["size"],
            sha1=row["sha1"],
            replaces=row["replaces"],
        )

    # -- traces --------------------------------------------------------------------------------
    def audit(
        self,
        *,
        subtype: str,
        action: str,
        agent: Actor | None,
        patient_ins: str | None,
        purpose: str | None = None,
        outcome: str = "0",
        entity_ids: Sequence[str] = (),
        description: str | None = None,
        type_code: str = "rest",
    ) -> str:
        """Record an AuditEvent; return its id. Never pass document bodies or PINs."""
        event_id = uuid.uuid4().hex
        self.execute(
            "INSERT INTO audit_events(id, recorded, type_code, subtype_code, action, outcome,"
            " agent_id_nat, agent_name, purpose_of_use, patient_ins, entity_ids, description)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                event_id,
                now_iso(),
                type_code,
                subtype,
                action,
                outcome,
                None if agent is None else agent.id_nat,
                None if agent is None else agent.display_name,
                purpose,
                patient_ins,
                json.dumps(list(entity_ids)),
                description,
            ),
        )
        return event_id

    def notify(self, *, patient_ins: str, kind: str, actor: Actor, message: str) -> None:
        self.execute(
            "INSERT INTO notifications(patient_ins, created_at, kind, id_nat,"
            " professional_name, message) VALUES (?,?,?,?,?,?)",
            (patient_ins, now_iso(), kind, actor.id_nat, actor.display_name, message),
        )
