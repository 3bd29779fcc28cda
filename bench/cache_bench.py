"""``python -m bench cache``: the encrypted cache beside a plain SQLite file, same run.

Two files with the same schema (``console.cache.schema``), page size, PRAGMAs and rows
(100,000 document metadata rows of one patient; 10,000 with ``--quick``), written through
the same ``CacheStore`` code. Ours is SQLCipher opened with the raw key; the baseline is the
same library (sqlcipher3's SQLite, so only encryption differs) without a key. Runs of ours
and of the baseline are interleaved; each timed query runs with the cyclic GC off (as
``timeit`` does); figures are medians, with the minima beside them (this machine is shared:
the minimum is the least disturbed run).

JSON lines (``ratio`` = baseline / ours, as in every bench; ``slowdown`` = ours / baseline):

- ``open``: ``CacheStore.open`` (key, cipher check, schema read, PRAGMAs, migrations check,
  outbox recovery) beside the same steps on the plain file. Goal: <= 50 ms.
- ``list_one_patient_cold``: the list query (``LIST_DOCUMENTS_SQL``: one patient's documents
  ordered by act date, every column the table shows), first query after an open: every page
  is decrypted. Goal: slowdown <= 1.3.
- ``list_ids_cold``: only the ids in that order (the index alone): the query where decryption
  weighs most, since Python builds little.
- ``list_one_patient_warm``: the same query again on the open connection (pages in the
  page cache, as when the professional re-sorts or reopens the patient).
- ``filter_title``: a filter-as-you-type query over the same rows (``title_key LIKE``).
- ``list_documents_objects``: ``CacheStore.documents`` (rows turned into ``DocumentMeta``).
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.common import emit, median_time, note
from console.cache.keys import (
    BINDING_CARD,
    CacheKeys,
    CachePaths,
    cache_paths,
    new_header,
    write_header,
)
from console.cache.schema import migrate
from console.cache.store import LIST_DOCUMENTS_SQL, PAGE_SIZE, CacheStore, apply_pragmas
from console.domain.dossier import PatientRecord
from console.domain.ins import INS, INS_NIR_SYSTEM
from console.domain.models import DocumentMeta
from console.domain.retention import CacheContext

BENCH = "cache"
ID_NAT = "899700000011"
INS_VALUE = "255081416802538"
OPEN_GOAL_S = 0.050
QUERY_GOAL_SLOWDOWN = 1.3
IDS_SQL = "SELECT id FROM documents WHERE patient_ins = ? ORDER BY created DESC, id"
FILTER_SQL = (
    "SELECT id FROM documents WHERE patient_ins = ? AND title_key LIKE ? ORDER BY created DESC"
)
_TYPES = ("11488-4", "34133-9", "18842-5", "11506-3", "60591-5", "11369-6")
_WORDS = ("Compte rendu", "Lettre de liaison", "Synthèse", "Résultats", "Ordonnance", "Bilan")
_AUTHORS = ("MARTIN Claire", "BENALI Karim", "LEFEBVRE Anne", "PETIT Julie", "ROUX Camille")


def _keys(seed: bytes = b"bench-card-signature" * 13) -> CacheKeys:
    # The card's RS256 signature is 256 bytes; any bytes of that size do for a bench.
    return CacheKeys.derive(seed[:256], binding=BINDING_CARD, fingerprint="0" * 64, id_nat=ID_NAT)


def _documents(n: int) -> list[DocumentMeta]:
    start = datetime(2025, 3, 1, tzinfo=UTC)
    docs = []
    for i in range(n):
        created = start - timedelta(hours=7 * i + (i % 5))
        docs.append(
            DocumentMeta(
                id=f"{i:08d}-7b1c-4f0e-9a31-{i * 2654435761 % 10**12:012d}",
                master_id=f"urn:uuid:{i:08d}-0000-4000-8000-000000000000",
                patient_ins=INS_VALUE,
                type_code=_TYPES[i % len(_TYPES)],
                class_code=_TYPES[(i // 3) % len(_TYPES)],
                title=f"{_WORDS[i % len(_WORDS)]} du {created:%d/%m/%Y} n° {i}",
                author_id_nat=f"8997000000{i % 90:02d}",
                created=created,
                deposited=created + timedelta(hours=2),
                author_name=_AUTHORS[i % len(_AUTHORS)],
                author_profession="10",
                structure_name="Centre hospitalier universitaire de Test",
                size=50_000 + i % 200_000,
                sha1=f"{i * 2654435761:040x}"[-40:],
            )
        )
    return docs


class _Clock:
    def __call__(self) -> datetime:
        return datetime(2025, 3, 14, tzinfo=UTC)


def _plain_open(path: Path) -> CacheStore:
    """The baseline: the same steps as ``CacheStore.open`` on an unencrypted file (same
    library, same page size, PRAGMAs and schema)."""
    import sqlcipher3

    conn = sqlcipher3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")  # only takes effect on creation
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    apply_pragmas(conn)
    migrate(conn)
    store = CacheStore(conn, CachePaths(path, path.with_suffix(".json")), _Clock())
    store.outbox.recover()
    return store


def _fill(store: CacheStore, docs: list[DocumentMeta]) -> None:
    patient = PatientRecord(INS(INS_NIR_SYSTEM, INS_VALUE), "BENCH", "Patient", None, "female")
    ctx = CacheContext(ID_NAT, "10")
    store.touch_patient(patient, ctx)
    for start in range(0, len(docs), 5_000):
        store.put_documents(INS_VALUE, docs[start : start + 5_000], ctx)
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _timed(fn: Callable[[], Any]) -> float:
    """One run of `fn`, the cyclic GC off as ``timeit`` does (100,000 tuples would trigger
    it at random moments: noise, the same for both sides)."""
    gc.collect()
    gc.disable()
    try:
        start = time.perf_counter()
        fn()
        return time.perf_counter() - start
    finally:
        gc.enable()


Query = Callable[[CacheStore], object]


def _list(store: CacheStore) -> object:
    return store.conn.execute(LIST_DOCUMENTS_SQL, (INS_VALUE,)).fetchall()


def _ids(store: CacheStore) -> object:
    return store.conn.execute(IDS_SQL, (INS_VALUE,)).fetchall()


def _filter(store: CacheStore) -> object:
    return store.conn.execute(FILTER_SQL, (INS_VALUE, "%synth%")).fetchall()


def _objects(store: CacheStore) -> object:
    return store.documents(INS_VALUE)


def run(quick: bool = False) -> None:
    n = 10_000 if quick else 100_000
    rounds = 5 if quick else 11
    with tempfile.TemporaryDirectory(prefix="cache-bench-") as tmp:
        directory = Path(tmp)
        paths = cache_paths(directory / "cipher", ID_NAT)
        plain_path = directory / "plain" / "cache.db"
        plain_path.parent.mkdir(parents=True)
        keys = _keys()
        write_header(paths.header, new_header(ID_NAT, keys))
        note(f"cache: writing {n} metadata rows into both files")
        docs = _documents(n)
        cipher = CacheStore.open(paths, keys, clock=_Clock())
        _fill(cipher, docs)
        cipher.close()
        plain = _plain_open(plain_path)
        _fill(plain, docs)
        plain.close()
        del docs

        def open_ours() -> CacheStore:
            return CacheStore.open(paths, _keys(), clock=_Clock())

        def open_plain() -> CacheStore:
            return _plain_open(plain_path)

        openers = {"ours": open_ours, "plain": open_plain}
        note(f"cache: {rounds} rounds, ours and the plain file interleaved")
        # -- open ---------------------------------------------------------------------------
        derive_s = median_time(_keys, repeat=rounds)
        opens: dict[str, list[float]] = {"ours": [], "plain": []}
        for _ in range(rounds + 1):
            for side in opens:
                if side == "ours":
                    keys_now = _keys()  # derived before: the card signs before the open
                    start = time.perf_counter()
                    store = CacheStore.open(paths, keys_now, clock=_Clock())
                else:
                    start = time.perf_counter()
                    store = _plain_open(plain_path)
                opens[side].append(time.perf_counter() - start)
                store.close()
        ours_s = statistics.median(opens["ours"][1:])
        base_s = statistics.median(opens["plain"][1:])
        emit(
            BENCH,
            "open",
            rounds,
            ours_s,
            base_s,
            slowdown=round(ours_s / base_s, 2),
            goal_s=OPEN_GOAL_S,
            meets_goal=ours_s <= OPEN_GOAL_S,
            hkdf_derive_s=round(derive_s, 6),
            db_bytes=paths.db.stat().st_size,
            plain_bytes=plain_path.stat().st_size,
        )

        # -- cold: the first query after an open decrypts every page it reads ---------------
        cold_cases: list[tuple[str, Query]] = [
            ("list_one_patient_cold", _list),
            ("list_ids_cold", _ids),
        ]
        for case, query in cold_cases:
            times: dict[str, list[float]] = {"ours": [], "plain": []}
            for round_ in range(rounds + 1):
                for side, opener in openers.items():
                    store = opener()
                    elapsed = _timed(lambda s=store, q=query: q(s))  # type: ignore[misc]
                    store.close()
                    if round_:  # the first round warms the OS page cache
                        times[side].append(elapsed)
            _emit_query(case, n, times["ours"], times["plain"])

        # -- warm: the connection stays open (re-sort, patient opened again) --------------
        stores = {side: opener() for side, opener in openers.items()}
        try:
            cases: list[tuple[str, Query]] = [
                ("list_one_patient_warm", _list),
                ("filter_title", _filter),
                ("list_documents_objects", _objects),
            ]
            for case, warm_query in cases:
                times = {"ours": [], "plain": []}
                for round_ in range(rounds + 1):
                    for side, store in stores.items():
                        elapsed = _timed(lambda s=store, q=warm_query: q(s))  # type: ignore[misc]
                        if round_:
                            times[side].append(elapsed)
                _emit_query(case, n, times["ours"], times["plain"])
        finally:
            for store in stores.values():
                store.close()


def _emit_query(case: str, rows: int, ours: list[float], plain: list[float]) -> None:
    ours_s, base_s = statistics.median(ours), statistics.median(plain)
    slowdown = ours_s / base_s if base_s > 0 else float("inf")
    emit(
        BENCH,
        case,
        rows,
        ours_s,
        base_s,
        runs=len(ours),
        slowdown=round(slowdown, 2),
        ours_min_s=round(min(ours), 6),
        baseline_min_s=round(min(plain), 6),
        slowdown_of_minima=round(min(ours) / min(plain), 2),
        goal_slowdown=QUERY_GOAL_SLOWDOWN,
        meets_goal=slowdown <= QUERY_GOAL_SLOWDOWN,
    )


if __name__ == "__main__":
    run(quick="--quick" in sys.argv)
