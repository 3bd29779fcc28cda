"""The encrypted offline cache on real SQLCipher files (console.cache, console.services.cache).

The card-bound key is exercised with the sandbox's real SoftHSM2 tokens (through
``Pkcs11CardReader``) and with ``FakeToken`` (software key) where a scripted card is handier.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from console.cache.keys import (
    BINDING_KEYRING,
    KEYRING_SERVICE,
    CacheKeys,
    CachePaths,
    cache_paths,
    cache_stem,
    new_header,
    read_header,
    spki_fingerprint,
    system_keyring,
    write_header,
)
from console.cache.outbox import OutboxState, OutboxStateError
from console.cache.schema import CURRENT_VERSION, MIGRATIONS, Migration, migrate
from console.cache.store import CIPHER_SETTINGS, LIST_DOCUMENTS_SQL, PAGE_SIZE, CacheStore
from console.domain.dossier import PatientRecord, Visit
from console.domain.ins import INS, INS_NIR_SYSTEM, nir_key
from console.domain.journal import JournalProblem
from console.domain.models import AccessMode, DocStatus, DocumentMeta, Visibility
from console.domain.retention import (
    CacheClosedError,
    CacheContext,
    CacheCorruptError,
    CacheOwnershipError,
    CacheRefusal,
    CacheUnavailableError,
    PurgeReport,
    RetentionPolicy,
)
from console.services.cache import WORKER_THREAD_PREFIX, CacheService, CacheVisitStore
from console.services.visits import InMemoryVisitStore, VisitKey
from console.smartcard import Pkcs11CardReader, find_softhsm_module
from console.smartcard.fake import DEFAULT_IDENTITY, FakeCardReader, FakeCardSession, FakeToken

pytestmark = pytest.mark.integration

T0 = datetime(2025, 3, 14, 22, 0, tzinfo=UTC)
GP = DEFAULT_IDENTITY.id_nat


def nir(body13: str) -> str:
    return f"{body13}{nir_key(body13):02d}"


INS_A = nir("2550814168025")
INS_B = nir("1840375123456")
PATIENT_A = PatientRecord(
    INS(INS_NIR_SYSTEM, INS_A), "ZYGOMATIQUE", "Bérénice", date(1955, 8, 14), "female"
)
PATIENT_B = PatientRecord(INS(INS_NIR_SYSTEM, INS_B), "QUIXOTERIE", "Aurèle", None, "male")
TITLE_MARKER = "Compte rendu XYLOPHONIQUE"
BODY_MARKER = b"%PDF-1.7 confidential body PLATYPUSCONTENT"
PAYLOAD_MARKER = b"deposit payload OCELOTPAYLOAD"


class Clock:
    """An injected clock that tests move."""

    def __init__(self, now: datetime = T0) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def doc(
    n: int,
    ins: str = INS_A,
    *,
    author: str = "899700000094",
    visibility: frozenset[Visibility] = frozenset(),
    status: DocStatus = DocStatus.CURRENT,
) -> DocumentMeta:
    return DocumentMeta(
        id=f"doc-{ins[:4]}-{n}",
        master_id=f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        patient_ins=ins,
        type_code="11488-4",
        class_code="11488-4",
        title=f"{TITLE_MARKER} {n}",
        author_id_nat=author,
        created=T0 - timedelta(days=n),
        deposited=T0 - timedelta(days=n, hours=-1),
        author_name="LEFEBVRE Anne",
        author_profession="10",
        structure_name="CHU",
        visibility=visibility,
        status=status,
        size=1000 + n,
        sha1=f"{n:040x}",
    )


NORMAL = CacheContext(GP, "10")


def keyring_keys_for(id_nat: str = GP, ikm: bytes = b"k" * 32) -> CacheKeys:
    return CacheKeys.derive(ikm, binding=BINDING_KEYRING, fingerprint="", id_nat=id_nat)


def open_store(directory: Path, clock: Clock, ikm: bytes = b"k" * 32) -> CacheStore:
    """A store opened directly (thread-confined to the test's thread)."""
    paths = cache_paths(directory, GP)
    keys = keyring_keys_for(ikm=ikm)
    if read_header(paths.header) is None:
        write_header(paths.header, new_header(GP, keys, clock()))
    try:
        return CacheStore.open(paths, keys, clock=clock)
    finally:
        keys.wipe()


def file_digests(paths: CachePaths) -> dict[str, str | None]:
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else None
        for p in paths.all()
    }


class MemoryKeyring:
    """An in-memory ``keyring`` backend."""

    priority = 1

    def __init__(self) -> None:
        self.secrets: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.secrets.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.secrets[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        del self.secrets[(service, username)]


def no_keyring() -> tuple[None, str]:
    return None, "no backend (test)"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def cache_dir(tmp_path: Path) -> Path:
    return tmp_path / "cache"


@pytest_asyncio.fixture
async def service(cache_dir: Path, clock: Clock) -> AsyncIterator[CacheService]:
    cache = CacheService(cache_dir, clock=clock, keyring=no_keyring)
    try:
        yield cache
    finally:
        await cache.aclose()


@pytest.fixture(scope="module")
def gp_card() -> FakeToken:
    return FakeToken(pin="1234")


async def fake_login(token: FakeToken) -> tuple[FakeCardReader, FakeCardSession]:
    reader = FakeCardReader([token])
    return reader, await reader.login(token.info, "1234")


@pytest.fixture
def store(cache_dir: Path, clock: Clock) -> Iterator[CacheStore]:
    opened = open_store(cache_dir, clock)
    try:
        yield opened
    finally:
        opened.close()


# --- the key bound to the card ---------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_card_opens_its_cache_again_after_a_restart(
    cache_dir: Path, clock: Clock, gp_card: FakeToken
) -> None:
    _, card = await fake_login(gp_card)
    first = CacheService(cache_dir, clock=clock)
    opened = await first.open_with_card(card, "10")
    assert opened.created and opened.schema_version == CURRENT_VERSION
    assert await first.remember_patient(PATIENT_A, first.context())
    await first.put_documents(INS_A, [doc(1), doc(2)], first.context())
    await first.aclose()

    _, card = await fake_login(gp_card)  # a new PIN session: the same signature, the same key
    second = CacheService(cache_dir, clock=clock)
    reopened = await second.open_with_card(card, "10")
    assert not reopened.created
    assert [d.id for d in await second.documents(INS_A)] == [doc(1).id, doc(2).id]
    assert (await second.patients())[0].record == PATIENT_A
    await second.aclose()


@pytest.mark.asyncio
async def test_the_raw_files_contain_no_plaintext(
    service: CacheService, cache_dir: Path, gp_card: FakeToken
) -> None:
    _, card = await fake_login(gp_card)
    await service.open_with_card(card, "10")
    ctx = service.context()
    await service.remember_patient(PATIENT_A, ctx)
    await service.put_documents(INS_A, [doc(n) for n in range(1, 40)], ctx)
    assert await service.put_body(doc(1).id, BODY_MARKER * 50)
    await service.enqueue(PAYLOAD_MARKER * 20, patient_ins=INS_A, journal_action="deposit_queued")
    await service.journal("document_opened", patient_ins=INS_A, document_ids=[doc(1).id])

    paths = cache_paths(cache_dir, GP)
    markers = [
        b"ZYGOMATIQUE",
        "Bérénice".encode(),
        TITLE_MARKER.encode(),
        INS_A.encode(),
        BODY_MARKER,
        PAYLOAD_MARKER,
        GP.encode(),
        b"document_opened",
        b"SQLite format 3",
    ]

    def check(files: list[Path]) -> None:
        for path in files:
            data = path.read_bytes()
            for marker in markers:
                assert marker not in data, f"{marker!r} in clear in {path.name}"

    assert paths.wal.stat().st_size > 0  # the WAL holds the recent pages: check it open
    check([p for p in paths.all() if p.exists()])
    header = json.loads(paths.header.read_text(encoding="utf-8"))
    assert set(header) == {"format", "version", "owner", "binding", "fingerprint", "kcv", "created"}
    assert header["owner"] == cache_stem(GP) and GP not in paths.db.name
    await service.close()
    check([p for p in paths.all() if p.exists()])


@pytest.mark.asyncio
async def test_a_renewed_card_is_refused_before_it_signs_and_nothing_is_touched(
    service: CacheService, cache_dir: Path, gp_card: FakeToken
) -> None:
    _, card = await fake_login(gp_card)
    await service.open_with_card(card, "10")
    await service.remember_patient(PATIENT_A, service.context())
    await service.close()
    paths = cache_paths(cache_dir, GP)
    before = file_digests(paths)

    renewed = FakeToken(DEFAULT_IDENTITY, pin="1234")  # same holder, new key pair
    reader, card = await fake_login(renewed)
    with pytest.raises(CacheOwnershipError, match="appartient à une autre carte"):
        await service.open_with_card(card, "10")
    assert "sign" not in [c.operation for c in reader.calls]
    assert not service.is_open
    assert file_digests(paths) == before


@pytest.mark.asyncio
async def test_the_card_key_is_deterministic_and_needs_the_card(gp_card: FakeToken) -> None:
    from console.cache.keys import card_keys

    _, card = await fake_login(gp_card)
    one, two = await card_keys(card, GP), await card_keys(card, GP)
    assert one.kcv() == two.kcv()
    assert one.pragma_key() == two.pragma_key()
    assert one.fingerprint == spki_fingerprint(gp_card.certificate_der)
    other = await card_keys(card, "899700000029")  # the label binds the idNat
    assert other.kcv() != one.kcv()
    assert "x'" not in repr(one)  # never in a repr
    one.wipe()
    assert one.wiped
    with pytest.raises(CacheCorruptError):
        one.pragma_key()


# --- the real SoftHSM2 tokens ----------------------------------------------------------------


@pytest.fixture(scope="module")
def softhsm(sandbox_dir: Path) -> tuple[Path, dict[str, dict[str, Any]]]:
    module = find_softhsm_module()
    if module is None:
        pytest.skip("SoftHSM2 is not installed")
    personas = json.loads((sandbox_dir / "personas.json").read_text(encoding="utf-8"))
    return module, {p["id"]: p for p in personas}


async def softhsm_login(reader: Pkcs11CardReader, persona: dict[str, Any]) -> Any:
    for token in await reader.tokens():
        if token.label == persona["token_label"]:
            return await reader.login(token, persona["pin"])
    raise AssertionError(f"no token {persona['token_label']!r}")


@pytest.mark.asyncio
async def test_softhsm_card_binds_the_cache_and_another_card_cannot_open_it(
    softhsm: tuple[Path, dict[str, dict[str, Any]]], cache_dir: Path, clock: Clock
) -> None:
    module, personas = softhsm
    gp, emergency = personas["gp"], personas["emergency"]
    reader = Pkcs11CardReader(module)
    cache = CacheService(cache_dir, clock=clock)
    try:
        card = await softhsm_login(reader, gp)
        opened = await cache.open_with_card(card, "10")
        assert opened.created
        assert await cache.remember_patient(PATIENT_A, cache.context())
        await cache.put_documents(INS_A, [doc(1)], cache.context())
        await cache.journal("patient_opened", patient_ins=INS_A, mode=AccessMode.NORMAL)
        await cache.close()
        await card.logout()

        # The same card, a new PIN session: the same key (PKCS#1 v1.5 is deterministic).
        card = await softhsm_login(reader, gp)
        assert not (await cache.open_with_card(card, "10")).created
        assert [d.id for d in await cache.documents(INS_A)] == [doc(1).id]
        assert (await cache.verify_journal()).ok
        await cache.close()
        await card.logout()

        # Another professional's card, given the GP's cache files (copied under her name).
        gp_paths = cache_paths(cache_dir, gp["id_nat"])
        stolen = cache_paths(cache_dir, emergency["id_nat"])
        shutil.copyfile(gp_paths.db, stolen.db)
        shutil.copyfile(gp_paths.header, stolen.header)
        before = file_digests(stolen)
        card = await softhsm_login(reader, emergency)
        with pytest.raises(CacheOwnershipError, match="appartient à une autre carte"):
            await cache.open_with_card(card, "10")
        assert file_digests(stolen) == before

        # Even with the header forged to name her card, her key does not match.
        header = json.loads(stolen.header.read_text(encoding="utf-8"))
        header["owner"] = cache_stem(emergency["id_nat"])
        header["fingerprint"] = spki_fingerprint(card.certificate_der)
        stolen.header.write_text(json.dumps(header), encoding="utf-8")
        before = file_digests(stolen)
        with pytest.raises(CacheOwnershipError):
            await cache.open_with_card(card, "10")
        assert file_digests(stolen) == before
        assert not cache.is_open
        await card.logout()
    finally:
        await cache.aclose()
        await reader.close()


# --- e-CPS: the OS keychain ------------------------------------------------------------------


@pytest.mark.asyncio
async def test_ecps_key_lives_in_the_keychain(cache_dir: Path, clock: Clock) -> None:
    keyring = MemoryKeyring()
    cache = CacheService(cache_dir, clock=clock, keyring=lambda: (keyring, "memory"))
    try:
        assert (await cache.open_with_keyring(GP, "10")).created
        secret = keyring.secrets[(KEYRING_SERVICE, GP)]
        assert len(bytes.fromhex(secret)) == 32
        await cache.remember_patient(PATIENT_A, cache.context())
        await cache.close()
        assert not (await cache.open_with_keyring(GP, "10")).created
        assert len(await cache.patients()) == 1
        await cache.close()
        paths = cache_paths(cache_dir, GP)
        before = file_digests(paths)

        keyring.secrets[(KEYRING_SERVICE, GP)] = "ab" * 32  # another key
        with pytest.raises(CacheOwnershipError, match="trousseau"):
            await cache.open_with_keyring(GP, "10")
        del keyring.secrets[(KEYRING_SERVICE, GP)]  # the key is gone
        with pytest.raises(CacheUnavailableError, match="trousseau"):
            await cache.open_with_keyring(GP, "10")
        assert file_digests(paths) == before
    finally:
        await cache.aclose()


@pytest.mark.asyncio
async def test_ecps_without_a_keychain_has_no_cache(service: CacheService) -> None:
    with pytest.raises(CacheUnavailableError, match="Aucun trousseau"):
        await service.open_with_keyring(GP, "10")
    assert not service.is_open


def test_the_system_keychain_is_detected(monkeypatch: pytest.MonkeyPatch) -> None:
    import keyring
    from keyring.backends import fail

    backend, why = system_keyring()  # this machine: usually none (headless)
    assert why
    if backend is None:
        assert "keyring" in why
    monkeypatch.setattr(keyring, "get_keyring", fail.Keyring)
    assert system_keyring()[0] is None
    memory = MemoryKeyring()
    monkeypatch.setattr(keyring, "get_keyring", lambda: memory)
    assert system_keyring()[0] is memory


# --- opening, migrations, threads ------------------------------------------------------------


def test_sqlcipher_is_really_in_use(store: CacheStore) -> None:
    version = store.conn.execute("PRAGMA cipher_version").fetchone()[0]
    assert version.startswith("4.")
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert store.conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert store.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.conn.execute("PRAGMA cache_size").fetchone()[0] == -65536
    assert store.conn.execute("PRAGMA cipher_page_size").fetchone()[0] == str(PAGE_SIZE)
    assert store.conn.execute("PRAGMA cipher_hmac_algorithm").fetchone()[0] == "HMAC_SHA256"
    assert store.conn.execute("PRAGMA temp_store").fetchone()[0] == 2  # MEMORY
    assert store.conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert store.integrity_check() == "ok"


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_the_files_are_private(store: CacheStore) -> None:
    store.touch_patient(PATIENT_A, NORMAL)
    assert store.paths.db.parent.stat().st_mode & 0o777 == 0o700
    for path in (store.paths.db, store.paths.wal, store.paths.header):
        assert path.stat().st_mode & 0o777 == 0o600, path.name


def test_a_wrong_key_is_refused_cleanly_and_keeps_the_file(cache_dir: Path, clock: Clock) -> None:
    open_store(cache_dir, clock).close()
    paths = cache_paths(cache_dir, GP)
    before = file_digests(paths)
    keys = keyring_keys_for(ikm=b"z" * 32)  # the header is bypassed on purpose
    with pytest.raises(CacheCorruptError, match="déchiffré"):
        CacheStore.open(paths, keys, clock=clock)
    assert file_digests(paths) == before


@pytest.mark.asyncio
async def test_a_missing_header_keeps_the_database(
    service: CacheService, cache_dir: Path, clock: Clock, gp_card: FakeToken
) -> None:
    _, card = await fake_login(gp_card)
    await service.open_with_card(card, "10")
    await service.close()
    paths = cache_paths(cache_dir, GP)
    paths.header.unlink()
    before = file_digests(paths)
    _, card = await fake_login(gp_card)
    with pytest.raises(CacheCorruptError, match="en-tête"):
        await service.open_with_card(card, "10")
    assert file_digests(paths) == before
    assert await service.discard(GP)  # the user's choice: start afresh
    assert not paths.db.exists()


def test_migrations_from_an_empty_database_to_current(cache_dir: Path, clock: Clock) -> None:
    import sqlcipher3

    paths = cache_paths(cache_dir, GP)
    paths.db.parent.mkdir(parents=True)
    keys = keyring_keys_for()
    conn = sqlcipher3.connect(str(paths.db), isolation_level=None)
    conn.execute(keys.pragma_key())
    for statement in CIPHER_SETTINGS:
        conn.execute(statement)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 0
    conn.execute("CREATE TABLE unrelated (x)")  # version 0, but not empty: still migrated
    conn.close()
    write_header(paths.header, new_header(GP, keys, clock()))
    store = CacheStore.open(paths, keys, clock=clock)
    try:
        assert store.schema_version == CURRENT_VERSION == len(MIGRATIONS)
        tables = {
            r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert {"patients", "documents", "bodies", "outbox", "journal", "journal_head"} <= tables
        assert migrate(store.conn) == CURRENT_VERSION  # idempotent
    finally:
        store.close()


def test_a_later_migration_keeps_the_data_and_a_failing_one_rolls_back(store: CacheStore) -> None:
    store.touch_patient(PATIENT_A, NORMAL)
    later = CURRENT_VERSION + 1
    nxt = Migration(later, ("ALTER TABLE patients ADD COLUMN note TEXT",))
    assert migrate(store.conn, (*MIGRATIONS, nxt)) == later
    assert store.patient(INS_A) is not None
    broken = Migration(later + 1, ("ALTER TABLE patients ADD COLUMN other TEXT", "NOT SQL"))
    with pytest.raises(Exception, match="syntax error"):
        migrate(store.conn, (*MIGRATIONS, nxt, broken))
    assert store.schema_version == later
    columns = [r[1] for r in store.conn.execute("PRAGMA table_info(patients)")]
    assert "note" in columns and "other" not in columns
    with pytest.raises(CacheCorruptError, match="plus récente"):
        migrate(store.conn)  # newer than what this console knows
    with pytest.raises(ValueError, match="numbered"):
        migrate(store.conn, (nxt,))


def test_a_version_1_cache_is_migrated_with_its_data(cache_dir: Path, clock: Clock) -> None:
    """A cache made before the attestations and the spool (version 1) opens as the current
    version, its patients and journal kept."""
    paths = cache_paths(cache_dir, GP)
    keys = keyring_keys_for()
    write_header(paths.header, new_header(GP, keys, clock()))
    first = CacheStore.open(paths, keys, clock=clock)
    try:
        first.conn.execute("DROP TABLE attestations")
        first.conn.execute("DROP TABLE spool_key")
        first.conn.execute("PRAGMA user_version = 1")
        first.touch_patient(PATIENT_A, NORMAL)
        first.journal.append(GP, "patient_opened", patient_ins=INS_A)
    finally:
        first.close()
    store = CacheStore.open(paths, keyring_keys_for(), clock=clock)
    try:
        assert store.schema_version == CURRENT_VERSION
        assert store.patient(INS_A) is not None
        assert [r.entry.action for r in store.journal.records()] == ["patient_opened"]
        assert store.attestations() == []
        assert len(store.spool_public_key()) == 32
    finally:
        store.close()


@pytest.mark.asyncio
async def test_the_store_lives_on_its_own_worker_thread(
    service: CacheService, gp_card: FakeToken
) -> None:
    _, card = await fake_login(gp_card)
    await service.open_with_card(card, "10")
    name = await service.call(lambda s: threading.current_thread().name)
    assert name.startswith(WORKER_THREAD_PREFIX)
    assert threading.current_thread().name != name
    store = await service.call(lambda s: s)
    with pytest.raises(Exception, match="thread"):
        store.conn.execute("SELECT 1")  # sqlcipher3 enforces the confinement


@pytest.mark.asyncio
async def test_lock_closes_at_once_and_the_card_is_needed_again(
    service: CacheService, gp_card: FakeToken
) -> None:
    _, card = await fake_login(gp_card)
    await service.open_with_card(card, "10")
    await service.remember_patient(PATIENT_A, service.context())
    service.lock()
    assert not service.is_open
    with pytest.raises(CacheClosedError):
        await service.patients()
    with pytest.raises(CacheClosedError):
        await service.journal("x")
    _, card = await fake_login(gp_card)
    await service.open_with_card(card, "10")
    assert len(await service.patients()) == 1


def test_list_queries_do_not_read_the_bodies(store: CacheStore) -> None:
    plan = " ".join(
        str(r[-1]) for r in store.conn.execute(f"EXPLAIN QUERY PLAN {LIST_DOCUMENTS_SQL}", ("x",))
    )
    assert "documents_patient_created" in plan
    assert "bodies" not in plan and "TEMP B-TREE" not in plan


# --- contents ---------------------------------------------------------------------------------


def test_documents_round_trip_and_update(store: CacheStore) -> None:
    masked_by_me = doc(3, author=GP, visibility=frozenset({Visibility.MASQUE_PS}))
    store.touch_patient(PATIENT_A, NORMAL)
    result = store.put_documents(INS_A, [doc(2), doc(1), masked_by_me], NORMAL)
    assert (result.stored, result.refused) == (3, {})
    assert store.documents(INS_A) == [doc(1), doc(2), masked_by_me]  # newest act first
    assert store.document(doc(1).id) == doc(1)
    store.put_body(doc(1).id, BODY_MARKER)
    assert store.get_body(doc(1).id) == BODY_MARKER and store.has_body(doc(1).id)
    assert store.get_body(doc(2).id) is None
    with pytest.raises(KeyError):
        store.put_body("unknown", b"x")
    with pytest.raises(KeyError):
        store.put_documents(INS_B, [doc(1, INS_B)], NORMAL)  # patient not touched
    with pytest.raises(ValueError, match="another patient"):
        store.put_documents(INS_A, [doc(1, INS_B)], NORMAL)
    renamed = dataclasses.replace(doc(1), title="Nouveau titre")
    store.put_documents(INS_A, [renamed], NORMAL)
    assert store.document(doc(1).id) == renamed
    assert store.get_body(doc(1).id) == BODY_MARKER


def test_admission_refuses_what_normal_mode_would_not_show(store: CacheStore) -> None:
    store.touch_patient(PATIENT_A, NORMAL)
    masked = doc(2, visibility=frozenset({Visibility.MASQUE_PS}))
    result = store.put_documents(INS_A, [doc(1), masked], NORMAL)
    assert result.stored == 1 and result.refused == {CacheRefusal.MASKED: 1}
    assert store.document_ids(INS_A) == {doc(1).id}

    # A cached document that became superseded is deleted at the next put.
    store.put_body(doc(1).id, BODY_MARKER)
    superseded = doc(1, status=DocStatus.SUPERSEDED)
    result = store.put_documents(INS_A, [superseded], NORMAL)
    assert result.removed == 1 and store.document(doc(1).id) is None
    assert store.get_body(doc(1).id) is None

    secretary = CacheContext("1997000456/SEC0042", "SECRETARIAT_MEDICAL")
    assert not store.touch_patient(PATIENT_B, secretary)
    assert store.patient(INS_B) is None
    bdg_without_episode = CacheContext(GP, "10", AccessMode.BRIS_DE_GLACE)
    assert not store.touch_patient(PATIENT_B, bdg_without_episode)


def test_reconcile_drops_what_the_server_no_longer_shows(store: CacheStore) -> None:
    store.touch_patient(PATIENT_A, NORMAL)
    store.put_documents(INS_A, [doc(n) for n in range(1, 6)], NORMAL)
    store.put_body(doc(2).id, BODY_MARKER)
    # doc 2 was masked by its author, doc 4 deleted: the server lists 1, 3, 5.
    assert store.reconcile(INS_A, {doc(1).id, doc(3).id, doc(5).id}) == 2
    assert store.document_ids(INS_A) == {doc(1).id, doc(3).id, doc(5).id}
    assert store.get_body(doc(2).id) is None
    # A partial sync (the server was asked about doc 1 and 3 only) touches only those.
    assert store.reconcile(INS_A, {doc(3).id}, checked_ids={doc(1).id, doc(3).id}) == 1
    assert store.document_ids(INS_A) == {doc(3).id, doc(5).id}


def test_patients_and_sync_times(store: CacheStore, clock: Clock) -> None:
    store.touch_patient(PATIENT_A, NORMAL)
    clock.advance(minutes=5)
    store.touch_patient(PATIENT_B, NORMAL)
    store.mark_synced(INS_B)
    patients = store.patients()
    assert [p.record.ins.value for p in patients] == [INS_B, INS_A]
    assert patients[0].last_sync == clock.now and patients[1].last_sync is None
    assert patients[1].last_access == T0
    assert store.patient(INS_A) is not None
    assert store.patient(INS_A).record == PATIENT_A  # type: ignore[union-attr]


# --- retention --------------------------------------------------------------------------------


def test_retention_purges_patients_idle_for_72_hours(store: CacheStore, clock: Clock) -> None:
    policy = RetentionPolicy()
    store.touch_patient(PATIENT_A, NORMAL)
    store.put_documents(INS_A, [doc(1), doc(2)], NORMAL)
    store.put_body(doc(1).id, BODY_MARKER)
    clock.advance(hours=50)
    store.touch_patient(PATIENT_B, NORMAL)
    store.put_documents(INS_B, [doc(1, INS_B)], NORMAL)

    assert store.purge_if_due(policy) == PurgeReport()  # first run: nothing expired yet
    clock.advance(minutes=30)
    assert store.purge_if_due(policy) is None  # not due: hourly
    clock.advance(hours=22, minutes=1)  # A: 72 h 31 min idle; B: 22 h 31 min
    assert store.purge_if_due(policy) == PurgeReport(patients=1, documents=2, bodies=1)
    assert store.patient(INS_A) is None and store.count_documents(INS_A) == 0
    assert store.patient(INS_B) is not None and store.count_documents(INS_B) == 1
    assert store.last_purge() == clock.now
    # An access resets the clock of a patient.
    clock.advance(hours=48)
    store.touch_patient(PATIENT_B, NORMAL)
    clock.advance(hours=48)
    assert store.purge_expired(policy).patients == 0


@pytest.mark.asyncio
async def test_purge_at_open_and_purge_now(
    cache_dir: Path, clock: Clock, gp_card: FakeToken
) -> None:
    cache = CacheService(
        cache_dir, clock=clock, policy=RetentionPolicy(max_idle=timedelta(hours=1))
    )
    try:
        _, card = await fake_login(gp_card)
        await cache.open_with_card(card, "10")
        await cache.remember_patient(PATIENT_A, cache.context())
        await cache.close()
        clock.advance(hours=2)
        _, card = await fake_login(gp_card)
        opened = await cache.open_with_card(card, "10")
        assert opened.purged.patients == 1
        assert await cache.patients() == []
        await cache.remember_patient(PATIENT_B, cache.context())
        assert (await cache.purge_now()).patients == 0
        assert (await cache.purge_now(everything=True)).patients == 1
    finally:
        await cache.aclose()


@pytest.mark.asyncio
async def test_logout_purge_keeps_unsent_deposits_and_the_journal(
    service: CacheService, gp_card: FakeToken
) -> None:
    _, card = await fake_login(gp_card)
    await service.open_with_card(card, "10")
    ctx = service.context()
    await service.remember_patient(PATIENT_A, ctx)
    await service.put_documents(INS_A, [doc(1)], ctx)
    queued = await service.enqueue(b"pending deposit", patient_ins=INS_A)
    sent = await service.enqueue(b"sent deposit", patient_ins=INS_A)
    [claimed] = await service.claim()
    assert claimed.id == queued.id
    await service.fail(claimed.id, "network", retry_at=T0)
    [claimed] = await service.claim()
    assert claimed.id == queued.id
    await service.fail(claimed.id, "network", retry_at=T0 + timedelta(days=1))
    [claimed] = await service.claim()
    assert claimed.id == sent.id
    await service.ack(sent.id, "DocumentReference/1")
    await service.journal("patient_opened", patient_ins=INS_A)

    report = await service.logout(purge=True)
    assert report == PurgeReport(patients=1, documents=1, bodies=0, outbox_items=1)
    _, card = await fake_login(gp_card)
    await service.open_with_card(card, "10")
    assert await service.patients() == []
    assert [i.id for i in await service.outbox_items()] == [queued.id]
    records = await service.journal_records()
    assert [r.entry.action for r in records] == ["patient_opened"]
    assert (await service.verify_journal()).ok
    assert await service.logout() is None  # not chosen: nothing purged


# --- bris de glace episodes -------------------------------------------------------------------


def test_what_a_bris_de_glace_revealed_goes_with_it(store: CacheStore, clock: Clock) -> None:
    store.touch_patient(PATIENT_B, NORMAL)
    store.put_documents(INS_B, [doc(1, INS_B)], NORMAL)
    store.begin_episode("ep-1", clock.now + timedelta(minutes=60))
    bdg = CacheContext(GP, "10", AccessMode.BRIS_DE_GLACE, "ep-1")
    masked = doc(2, visibility=frozenset({Visibility.MASQUE_PS}))
    assert store.touch_patient(PATIENT_A, bdg)
    assert store.put_documents(INS_A, [doc(1), masked], bdg).stored == 2
    store.put_body(masked.id, BODY_MARKER)
    assert store.revealed_by(masked.id) == "ep-1"
    assert store.patient(INS_A).episode_id == "ep-1"  # type: ignore[union-attr]

    report = store.purge_episode("ep-1")
    assert report == PurgeReport(patients=1, documents=2, bodies=1)
    assert store.patient(INS_A) is None and store.get_body(masked.id) is None
    assert store.count_documents(INS_B) == 1  # the normal-mode patient stays
    assert store.episodes() == {}


def test_an_episode_never_outlives_its_expiry_or_a_crash(cache_dir: Path, clock: Clock) -> None:
    store = open_store(cache_dir, clock)
    bdg = CacheContext(GP, "10", AccessMode.BRIS_DE_GLACE, "ep-expiring")
    store.begin_episode("ep-expiring", clock.now + timedelta(minutes=60))
    store.touch_patient(PATIENT_A, bdg)
    store.put_documents(INS_A, [doc(1)], bdg)
    clock.advance(minutes=61)
    assert store.purge_expired(RetentionPolicy()).documents == 1

    # Data tagged with an episode nobody announced expires at once.
    unannounced = CacheContext(GP, "10", AccessMode.CENTRE_15, "ep-unknown")
    store.touch_patient(PATIENT_A, unannounced)
    assert store.episodes()["ep-unknown"] == clock.now
    store.begin_episode("ep-crash", clock.now + timedelta(minutes=60))
    crash = CacheContext(GP, "10", AccessMode.BRIS_DE_GLACE, "ep-crash")
    store.touch_patient(PATIENT_B, crash)
    store.put_documents(INS_B, [doc(1, INS_B)], crash)
    store.close()  # the console dies during the episode

    store = open_store(cache_dir, clock)
    try:
        report = store.purge_all_episodes()
        assert report.patients == 2 and report.documents == 1
        assert store.patients() == [] and store.episodes() == {}
    finally:
        store.close()


# --- outbox -----------------------------------------------------------------------------------


class IdempotentServer:
    """The DMP's behaviour that exactly-once relies on: a masterIdentifier already deposited
    is answered with the first deposit again."""

    def __init__(self) -> None:
        self.documents: dict[str, bytes] = {}
        self.posts = 0

    def deposit(self, master_id: str, payload: bytes) -> str:
        self.posts += 1
        existing = self.documents.setdefault(master_id, payload)
        assert existing == payload
        return f"DocumentReference/{sorted(self.documents).index(master_id)}"


def test_an_item_sent_but_not_acked_is_resent_with_the_same_master_id(
    cache_dir: Path, clock: Clock
) -> None:
    server = IdempotentServer()
    store = open_store(cache_dir, clock)
    item = store.outbox.enqueue(PAYLOAD_MARKER, patient_ins=INS_A, batch_id="b1", info={"f": 1})
    assert item.master_id.startswith("urn:uuid:") and item.state is OutboxState.PENDING
    [claimed] = store.outbox.claim()
    assert (claimed.state, claimed.attempts) == (OutboxState.SENDING, 1)
    server.deposit(claimed.master_id, claimed.payload or b"")
    store.close()  # killed after the server stored it, before the ack

    store = open_store(cache_dir, clock)
    try:
        recovered = store.outbox.get(item.id)
        assert recovered is not None and recovered.state is OutboxState.PENDING
        [again] = store.outbox.claim()
        assert again.master_id == item.master_id and again.attempts == 2
        server_id = server.deposit(again.master_id, again.payload or b"")
        assert store.outbox.ack(again.id, server_id)
        assert not store.outbox.ack(again.id, server_id)  # idempotent
        done = store.outbox.get(item.id)
        assert done is not None
        assert (done.state, done.payload, done.server_id) == (OutboxState.SENT, None, server_id)
        assert len(server.documents) == 1 and server.posts == 2
        assert store.outbox.claim() == []
    finally:
        store.close()


def test_an_enqueued_item_is_returned_as_stored(store: CacheStore) -> None:
    """enqueue() builds its answer from what it wrote (no second decryption of the
    payload): it must be exactly the row read back."""
    info = {"file": "cr é.pdf", "size": 3, "nested": {"b": [1, 2]}, "a": None}
    item = store.outbox.enqueue(bytearray(b"payload"), patient_ins=INS_A, batch_id="b", info=info)
    stored = store.outbox.get(item.id)
    assert stored is not None and item == stored and item.next_attempt == stored.next_attempt
    assert type(item.payload) is bytes and item.info == info
    bare = store.outbox.enqueue(b"x")
    assert bare == store.outbox.get(bare.id) and (bare.patient_ins, bare.info) == (None, {})


def test_outbox_retries_failures_and_cancels(store: CacheStore, clock: Clock) -> None:
    outbox = store.outbox
    first = outbox.enqueue(b"one", batch_id="b1")
    second = outbox.enqueue(b"two", batch_id="b1", info={"file": "cr.pdf"})
    third = outbox.enqueue(b"three")
    assert [i.id for i in outbox.items(batch_id="b1")] == [first.id, second.id]
    assert second.info == {"file": "cr.pdf"}
    claimed = outbox.claim(2)
    assert [i.id for i in claimed] == [first.id, second.id]
    outbox.fail(first.id, "HTTP 503", retry_at=clock.now + timedelta(seconds=30))
    outbox.fail(second.id, "HTTP 422: type inconnu")
    assert outbox.get(second.id).state is OutboxState.FAILED  # type: ignore[union-attr]
    assert [i.id for i in outbox.claim(5)] == [third.id]  # first not due yet
    outbox.release(third.id)
    assert outbox.get(third.id).attempts == 0  # type: ignore[union-attr]
    clock.advance(seconds=31)
    assert {i.id for i in outbox.claim(5)} == {first.id, third.id}
    assert outbox.get(first.id).last_error == "HTTP 503"  # type: ignore[union-attr]
    with pytest.raises(OutboxStateError):
        outbox.fail(second.id, "not sending")
    with pytest.raises(OutboxStateError):
        outbox.ack(999)
    assert not outbox.cancel(first.id)  # being sent: may have reached the server
    outbox.retry(second.id)
    assert outbox.get(second.id).state is OutboxState.PENDING  # type: ignore[union-attr]
    assert not outbox.cancel(second.id)  # attempted once: may exist on the server
    outbox.release(first.id)
    assert not outbox.cancel(first.id)  # its first attempt may have reached the server
    assert {i.id for i in outbox.claim(5)} == {first.id, second.id}
    outbox.fail(second.id, "HTTP 422: refusé")
    outbox.release(first.id)
    assert outbox.cancel(second.id)  # refused for good by the server: the user drops it
    fresh = outbox.enqueue(b"four")
    assert outbox.cancel(fresh.id)  # never sent
    counts = outbox.counts()
    assert counts == {
        OutboxState.PENDING: 1,
        OutboxState.SENDING: 1,
        OutboxState.SENT: 0,
        OutboxState.FAILED: 0,
    }
    assert outbox.by_master_id(third.master_id) == outbox.get(third.id)
    with pytest.raises(Exception, match="UNIQUE"):
        outbox.enqueue(b"dup", master_id=third.master_id)


# --- journal ---------------------------------------------------------------------------------


def _journal(store: CacheStore, n: int) -> None:
    for i in range(n):
        store.journal.append(
            GP,
            "document_opened",
            patient_ins=INS_A,
            document_ids=[f"doc-{i}"],
            mode="bris_de_glace",
            detail={"episode": "ep-1"},
        )


def test_journal_is_append_only_and_chained(store: CacheStore) -> None:
    _journal(store, 5)
    assert store.journal.head().seq == 5
    result = store.journal.verify()
    assert result.ok and result.checked == 5
    assert [e.seq for e in store.journal.entries(patient_ins=INS_A)] == [1, 2, 3, 4, 5]
    with pytest.raises(Exception, match="append-only"):
        store.conn.execute("UPDATE journal SET action = 'x' WHERE seq = 2")
    with pytest.raises(Exception, match="append-only"):
        store.conn.execute("DELETE FROM journal WHERE seq = 5")


def _untrigger(store: CacheStore) -> None:
    """What a tamperer holding the key does first."""
    store.conn.execute("DROP TRIGGER journal_no_update")
    store.conn.execute("DROP TRIGGER journal_no_delete")


@pytest.mark.parametrize(
    ("tamper", "problem", "seq"),
    [
        ("UPDATE journal SET action = 'nothing' WHERE seq = 3", JournalProblem.ALTERED, 3),
        ("UPDATE journal SET ts = 'garbage' WHERE seq = 4", JournalProblem.ALTERED, 4),
        ("DELETE FROM journal WHERE seq = 2", JournalProblem.REMOVED, 2),
        ("DELETE FROM journal WHERE seq >= 4", JournalProblem.TRUNCATED, 4),
        (
            "UPDATE journal SET pos = CASE pos WHEN 2 THEN 1002 WHEN 3 THEN 2 END"
            " WHERE pos IN (2, 3); UPDATE journal SET pos = 3 WHERE pos = 1002",
            JournalProblem.REORDERED,
            2,
        ),
    ],
)
def test_journal_tampering_is_named(
    store: CacheStore, tamper: str, problem: JournalProblem, seq: int
) -> None:
    _journal(store, 5)
    _untrigger(store)
    for statement in tamper.split("; "):
        store.conn.execute(statement)
    result = store.journal.verify()
    assert (result.problem, result.seq) == (problem, seq)


@pytest.mark.asyncio
async def test_a_queued_deposit_and_its_journal_entry_are_one_transaction(
    service: CacheService, gp_card: FakeToken
) -> None:
    _, card = await fake_login(gp_card)
    await service.open_with_card(card, "10")
    item = await service.enqueue(b"x", patient_ins=INS_A, journal_action="deposit_queued")
    [entry] = await service.journal_records()
    assert entry.entry.detail["master_id"] == item.master_id
    assert entry.entry.actor == GP

    def failing(store: CacheStore) -> None:
        with store.transaction():
            store.outbox.enqueue(b"y")
            store.journal.append(GP, "deposit_queued")
            raise RuntimeError("crash in the middle")

    with pytest.raises(RuntimeError):
        await service.call(failing)
    assert len(await service.outbox_items()) == 1
    assert len(await service.journal_records()) == 1


# --- the VisitStore of issue 4 --------------------------------------------------------------


@pytest.mark.asyncio
async def test_visits_survive_a_restart(cache_dir: Path, clock: Clock, gp_card: FakeToken) -> None:
    key = VisitKey(GP, INS_A, AccessMode.NORMAL)
    fallback = InMemoryVisitStore()
    for round_ in range(2):
        cache = CacheService(cache_dir, clock=clock)
        visits = CacheVisitStore(cache, fallback)
        _, card = await fake_login(gp_card)
        await cache.open_with_card(card, "10")
        try:
            if round_ == 0:
                assert await visits.last_visit(key) is None
                await visits.record_visit(key, Visit(T0, complete_history=True), [doc(1), doc(2)])
            visit = await visits.last_visit(key)
            assert visit == Visit(T0, complete_history=True)
            assert [d.id for d in await visits.known_documents(key)] == [doc(1).id, doc(2).id]
            other = VisitKey("899700000029", INS_A, AccessMode.NORMAL)
            assert await visits.last_visit(other) is None  # not the cache's owner
        finally:
            await cache.aclose()
    assert len(fallback) == 0  # the cache served


@pytest.mark.asyncio
async def test_visits_fall_back_when_no_cache_and_respect_episodes(
    service: CacheService, gp_card: FakeToken
) -> None:
    fallback = InMemoryVisitStore()
    visits = CacheVisitStore(service, fallback)
    key = VisitKey(GP, INS_A, AccessMode.NORMAL)
    await visits.record_visit(key, Visit(T0), [doc(1)])  # no cache open: in memory
    assert await visits.last_visit(key) == Visit(T0)
    await visits.forget()
    assert len(fallback) == 0

    _, card = await fake_login(gp_card)
    await service.open_with_card(card, "10")
    bdg = VisitKey(GP, INS_A, AccessMode.BRIS_DE_GLACE)
    await visits.record_visit(bdg, Visit(T0), [doc(1)])  # no episode running: not kept
    assert await visits.last_visit(bdg) is None
    await service.begin_episode("ep-7", T0 + timedelta(hours=1))
    masked = doc(2, visibility=frozenset({Visibility.MASQUE_PS}))
    await visits.record_visit(bdg, Visit(T0), [doc(1), masked])
    assert await visits.last_visit(bdg) == Visit(T0)
    assert len(await visits.known_documents(bdg)) == 2
    assert await visits.last_visit(key) is None  # never merged into normal mode
    await service.end_episode("ep-7")
    assert await visits.last_visit(bdg) is None
    assert await service.patients() == []

    # A masked document the cache cannot vouch for: the visit is not recorded.
    await visits.record_visit(key, Visit(T0), [doc(1), masked])
    assert await visits.last_visit(key) is None
    assert [d.id for d in await service.documents(INS_A)] == [doc(1).id]
