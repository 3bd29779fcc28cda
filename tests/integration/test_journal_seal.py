"""The journal's sealed head, kept beside a real SQLCipher cache: a cache file put back from
an older copy is detected (at open and by ``verify_file``), even when the older copy went on
being written; a seal edited, moved or removed is named; a damaged file is its own error."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from console.cache.keys import (
    BINDING_KEYRING,
    CacheKeys,
    CachePaths,
    cache_paths,
    new_header,
    read_header,
    write_header,
)
from console.cache.store import CIPHER_SETTINGS, CacheStore
from console.domain.journal import JournalProblem
from console.journal_cli import JournalDamagedError, verify_file

pytestmark = pytest.mark.integration

GP = "899700000011"
OTHER = "899700000029"
T0 = datetime(2025, 3, 14, 22, 0, tzinfo=UTC)
IKM = b"k" * 32


def keys_for(id_nat: str = GP) -> CacheKeys:
    return CacheKeys.derive(IKM, binding=BINDING_KEYRING, fingerprint="", id_nat=id_nat)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


def open_store(directory: Path, id_nat: str = GP) -> CacheStore:
    paths = cache_paths(directory, id_nat)
    keys = keys_for(id_nat)
    if read_header(paths.header) is None:
        write_header(paths.header, new_header(id_nat, keys, T0))
    try:
        return CacheStore.open(paths, keys, clock=Clock())
    finally:
        keys.wipe()


def append(store: CacheStore, n: int, start: int = 0) -> None:
    for i in range(start, start + n):
        store.journal.append(GP, "document_opened", document_ids=(f"doc-{i}",), mode="normal")


def verified(paths: CachePaths) -> tuple[bool, JournalProblem | None, int | None, str]:
    keys = keys_for()
    try:
        result = verify_file(paths, keys)
    finally:
        keys.wipe()
    return result.ok, result.problem, result.seq, result.message


def snapshot(paths: CachePaths, to: Path) -> None:
    """What a copy of the cache file taken by someone looks like (checkpointed: no WAL)."""
    to.mkdir()
    shutil.copy2(paths.db, to / paths.db.name)


def put_back(paths: CachePaths, copy: Path) -> None:
    for extra in (paths.wal, paths.shm):
        extra.unlink(missing_ok=True)
    shutil.copy2(copy / paths.db.name, paths.db)


def test_a_whole_journal_with_its_seal_verifies(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    append(store, 4)
    store.close()
    paths = cache_paths(tmp_path, GP)
    seal = json.loads(paths.seal.read_text(encoding="utf-8"))
    assert seal["seq"] == 4 and set(seal) == {"format", "seq", "hash", "mac"}
    assert verified(paths)[:2] == (True, None)


def test_a_cache_put_back_from_an_older_copy_is_detected(tmp_path: Path) -> None:
    paths = cache_paths(tmp_path, GP)
    store = open_store(tmp_path)
    append(store, 3)
    store.close()
    snapshot(paths, tmp_path / "copy")
    store = open_store(tmp_path)
    append(store, 2, start=3)  # a bris de glace's traces, say
    store.close()
    put_back(paths, tmp_path / "copy")

    ok, problem, seq, message = verified(paths)
    assert (ok, problem, seq) == (False, JournalProblem.ROLLED_BACK, 4)
    assert "copie plus ancienne" in message and "n° 4" in message

    # the console opens it: it sees the rollback and never rewrites the seal, even when the
    # older copy goes on being written past the sealed length
    store = open_store(tmp_path)
    assert store.seal_problem is not None
    assert store.seal_problem.problem is JournalProblem.ROLLED_BACK
    before = paths.seal.read_bytes()
    append(store, 4, start=100)
    store.close()
    assert paths.seal.read_bytes() == before
    ok, problem, seq, _ = verified(paths)
    assert (ok, problem, seq) == (False, JournalProblem.ROLLED_BACK, 5)


@pytest.mark.parametrize(
    ("damage", "problem"),
    [
        (lambda seal: {**seal, "seq": seal["seq"] - 1}, JournalProblem.SEAL_INVALID),
        (lambda seal: {**seal, "mac": "0" * 64}, JournalProblem.SEAL_INVALID),
        (lambda seal: "not json", JournalProblem.SEAL_INVALID),
        (lambda seal: None, JournalProblem.UNSEALED),
    ],
    ids=["seq-edited", "mac-edited", "garbage", "removed"],
)
def test_a_tampered_seal_is_named(
    tmp_path: Path, damage: Callable[[dict[str, object]], object], problem: JournalProblem
) -> None:
    paths = cache_paths(tmp_path, GP)
    store = open_store(tmp_path)
    append(store, 3)
    store.close()
    changed = damage(json.loads(paths.seal.read_text(encoding="utf-8")))
    if changed is None:
        paths.seal.unlink()
    else:
        text = changed if isinstance(changed, str) else json.dumps(changed)
        paths.seal.write_text(text, encoding="utf-8")
    ok, found, _, message = verified(paths)
    assert not ok and found is problem, message
    assert "sceau du journal" in message
    reopened = open_store(tmp_path)
    assert reopened.seal_problem is not None and reopened.seal_problem.problem is problem
    reopened.close()


def test_a_seal_moved_from_another_cache_is_refused(tmp_path: Path) -> None:
    mine, other = cache_paths(tmp_path, GP), cache_paths(tmp_path / "o", OTHER)
    store = open_store(tmp_path)
    append(store, 2)
    store.close()
    (tmp_path / "o").mkdir()
    store = open_store(tmp_path / "o", OTHER)
    append(store, 2)
    store.close()
    shutil.copy2(other.seal, mine.seal)
    assert verified(mine)[1] is JournalProblem.SEAL_INVALID


def test_a_cache_sealed_for_the_first_time_keeps_its_journal(tmp_path: Path) -> None:
    """A cache of before the seal (no seal file, never sealed) is sealed at its next open."""
    paths = cache_paths(tmp_path, GP)
    store = open_store(tmp_path)
    append(store, 2)
    store.close()
    paths.seal.unlink()
    _forget_sealed(paths)
    store = open_store(tmp_path)
    assert store.seal_problem is None
    store.close()
    assert json.loads(paths.seal.read_text(encoding="utf-8"))["seq"] == 2
    assert verified(paths)[:2] == (True, None)


def _forget_sealed(paths: CachePaths) -> None:
    import sqlcipher3

    keys = keys_for()
    conn = sqlcipher3.connect(str(paths.db), isolation_level=None)
    try:
        conn.execute(keys.pragma_key())
        for statement in CIPHER_SETTINGS:
            conn.execute(statement)
        conn.execute("DELETE FROM meta WHERE key = 'journal_sealed'")
    finally:
        conn.close()
        keys.wipe()


def test_a_damaged_journal_page_is_its_own_error(tmp_path: Path) -> None:
    import sqlcipher3

    paths = cache_paths(tmp_path, GP)
    store = open_store(tmp_path)
    append(store, 200)
    store.close()
    keys = keys_for()
    conn = sqlcipher3.connect(str(paths.db), isolation_level=None)
    try:
        conn.execute(keys.pragma_key())
        for statement in CIPHER_SETTINGS:
            conn.execute(statement)
        page_size = int(conn.execute("PRAGMA page_size").fetchone()[0])
        pages = (
            [
                int(row[0])
                for row in conn.execute("SELECT pageno FROM dbstat WHERE name = 'journal'")
            ]
            if _has_dbstat(conn)
            else []
        )
    finally:
        conn.close()
        keys.wipe()
    data = bytearray(paths.db.read_bytes())
    total = len(data) // page_size
    targets = pages[-3:] or list(range(max(2, total - 3), total + 1))
    for page in targets:
        start = (page - 1) * page_size + 100
        data[start : start + 64] = bytes(64)
    paths.db.write_bytes(bytes(data))
    with pytest.raises(JournalDamagedError) as raised:
        verified(paths)
    assert "endommagé" in str(raised.value)


def _has_dbstat(conn: object) -> bool:
    try:
        conn.execute("SELECT 1 FROM dbstat LIMIT 1").fetchall()  # type: ignore[attr-defined]
    except Exception:
        return False
    return True
