"""The sealed spool (console/cache/spool.py) on real SQLCipher caches and real files.

What reaches a professional's cache while it is closed (the card was just pulled) is sealed
to her cache's spool key, written durably, unreadable on disk, and taken in at the next
opening with her card: journal entries with their own time, bris de glace attestations.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
import pytest_asyncio

from console.cache.spool import MAGIC, Spool, SpoolError, new_key_pair, seal, unseal
from console.domain.emergency import AttestationRecord, EndReason
from console.services.cache import CacheService
from console.services.emergency import CacheJournal
from console.smartcard.fake import DEFAULT_IDENTITY, FakeToken
from tests.integration.test_cache import (
    GP,
    INS_A,
    PATIENT_A,
    T0,
    Clock,
    fake_login,
    no_keyring,
)

pytestmark = pytest.mark.integration

PDF = b"%PDF-1.7 attestation body MARMOTATTESTATION"
JUSTIFICATION = "Patient inconscient OKAPIJUSTIFICATION"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(scope="module")
def gp_card() -> FakeToken:
    return FakeToken(pin="1234")


@pytest_asyncio.fixture
async def cache(tmp_path: Path, clock: Clock) -> AsyncIterator[CacheService]:
    service = CacheService(tmp_path / "cache", clock=clock, keyring=no_keyring)
    try:
        yield service
    finally:
        await service.aclose()


def record(episode: str = "ep-1", reason: EndReason = EndReason.CARD_REMOVED) -> AttestationRecord:
    return AttestationRecord(
        episode_id=episode,
        patient_ins=INS_A,
        patient_name=f"{PATIENT_A.family_name} {PATIENT_A.given_names}",
        started_at=T0,
        ended_at=T0 + timedelta(minutes=12),
        end_reason=reason,
        created_at=T0 + timedelta(minutes=12, seconds=3),
    )


def spool_bytes(cache: CacheService, id_nat: str = GP) -> bytes:
    return b"".join(p.read_bytes() for p in cache.spool(id_nat).pending())


@pytest.mark.asyncio
async def test_what_happens_while_the_cache_is_closed_reaches_it_at_the_next_opening(
    cache: CacheService, clock: Clock, gp_card: FakeToken
) -> None:
    _, card = await fake_login(gp_card)
    await cache.open_with_card(card, "10")
    journal = CacheJournal(cache, clock)
    await journal.append(GP, "bdg_started", patient_ins=INS_A, detail={"why": JUSTIFICATION})
    cache.lock()  # the card leaves the reader

    # The end of the bris de glace, after the lock: sealed, not kept in memory.
    clock.advance(minutes=12)
    ended_at = clock()
    assert await journal.append(GP, "bdg_ended", patient_ins=INS_A, mode="bris_de_glace") is None
    assert journal.pending == []
    assert await cache.keep_attestation(GP, record(), PDF)
    sealed = cache.spool(GP).pending()
    assert len(sealed) == 2
    raw = spool_bytes(cache)
    for marker in (INS_A.encode(), PATIENT_A.family_name.encode(), b"MARMOTATTESTATION", b"bdg"):
        assert marker not in raw
    assert all(p.read_bytes().startswith(MAGIC) for p in sealed)
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in sealed)
    assert cache.spool(GP).directory.stat().st_mode & 0o777 == 0o700

    # The same card again: everything taken in, in order, with its own time; files gone.
    clock.advance(hours=1)
    _, card = await fake_login(gp_card)
    opened = await cache.open_with_card(card, "10")
    assert (opened.spooled.journal_entries, opened.spooled.attestations) == (1, 1)
    assert opened.spooled.unreadable == 0
    assert cache.spool(GP).pending() == []
    records = await cache.journal_records(patient_ins=INS_A)
    assert [(r.entry.action, r.entry.timestamp) for r in records] == [
        ("bdg_started", T0),
        ("bdg_ended", ended_at),
    ]
    assert (await cache.verify_journal()).ok
    kept = await cache.attestations(unsaved_only=True)
    assert kept == [record()]
    assert await cache.attestation_pdf("ep-1") == PDF
    assert await cache.mark_attestation_saved("ep-1")
    assert await cache.attestations(unsaved_only=True) == []
    assert [a.saved_at for a in await cache.attestations()] == [clock()]


@pytest.mark.asyncio
async def test_an_attestation_made_while_the_cache_is_open_goes_straight_in(
    cache: CacheService, gp_card: FakeToken
) -> None:
    _, card = await fake_login(gp_card)
    await cache.open_with_card(card, "10")
    assert await cache.keep_attestation(GP, record("ep-2", EndReason.USER), PDF)
    assert cache.spool(GP).pending() == []
    assert [a.episode_id for a in await cache.attestations()] == ["ep-2"]


@pytest.mark.asyncio
async def test_nothing_is_sealed_for_a_cache_never_opened_in_this_process(
    tmp_path: Path, clock: Clock, gp_card: FakeToken
) -> None:
    first = CacheService(tmp_path / "cache", clock=clock, keyring=no_keyring)
    _, card = await fake_login(gp_card)
    await first.open_with_card(card, "10")
    await first.aclose()
    restarted = CacheService(tmp_path / "cache", clock=clock, keyring=no_keyring)
    try:
        assert not restarted.can_seal(GP)
        assert not await restarted.keep_attestation(GP, record(), PDF)
        journal = CacheJournal(restarted, clock)
        await journal.append(GP, "bdg_ended", patient_ins=INS_A)
        assert len(journal.pending) == 1  # in memory: the public key was never read here
        assert restarted.spool(GP).pending() == []
    finally:
        await restarted.aclose()


@pytest.mark.asyncio
async def test_a_sealed_file_of_another_cache_is_set_aside_not_taken_in(
    cache: CacheService, gp_card: FakeToken
) -> None:
    other_card = FakeToken(
        dataclasses.replace(DEFAULT_IDENTITY, id_nat="899700000037", family_name="AUTRE"),
        pin="1234",
    )
    _, other = await fake_login(other_card)
    await cache.open_with_card(other, "10")
    other_id = other.identity.id_nat
    cache.lock()
    assert await cache.keep_attestation(other_id, record("ep-other"), PDF)
    _, card = await fake_login(gp_card)
    await cache.open_with_card(card, "10")
    cache.lock()
    assert await cache.keep_attestation(GP, record("ep-mine"), PDF)
    # Someone copies the other professional's sealed file into the GP's spool.
    (foreign,) = cache.spool(other_id).pending()
    mine = cache.spool(GP)
    shutil.copy(foreign, mine.directory / ("0" + foreign.name))  # sorts first
    _, card = await fake_login(gp_card)
    opened = await cache.open_with_card(card, "10")
    assert opened.spooled.attestations == 1 and opened.spooled.unreadable == 1
    assert [a.episode_id for a in await cache.attestations()] == ["ep-mine"]
    assert mine.pending() == [] and len(mine.unreadable()) == 1


@pytest.mark.asyncio
async def test_discarding_a_cache_deletes_its_spool(
    cache: CacheService, gp_card: FakeToken
) -> None:
    _, card = await fake_login(gp_card)
    await cache.open_with_card(card, "10")
    cache.lock()
    assert await cache.keep_attestation(GP, record(), PDF)
    assert await cache.discard(GP)
    assert not cache.spool(GP).directory.exists()


def test_seal_round_trip_and_tampering(tmp_path: Path) -> None:
    private, public = new_key_pair()
    blob = seal(public, b"secret", context=b"stem-a")
    assert unseal(private, blob, context=b"stem-a") == b"secret"
    with pytest.raises(SpoolError):
        unseal(private, blob, context=b"stem-b")  # another cache's spool
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    with pytest.raises(SpoolError):
        unseal(private, bytes(flipped), context=b"stem-a")
    with pytest.raises(SpoolError):
        unseal(new_key_pair()[0], blob, context=b"stem-a")
    with pytest.raises(SpoolError):
        unseal(private, b"not sealed", context=b"stem-a")
    spool = Spool(tmp_path / "s", "stem-a")
    names = [spool.next_name() for _ in range(50)]
    assert names == sorted(names) and len(set(names)) == 50
    for n, name in enumerate(names[:3]):
        spool.write(public, {"kind": "journal", "n": n}, name=name)
    assert [r.record["n"] for r in spool.read(private)] == [0, 1, 2]
