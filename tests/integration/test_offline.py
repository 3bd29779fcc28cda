"""Offline reading through the wired services: a real SoftHSM2 card, a real sandbox that
stops and restarts on the same port, the real encrypted cache.

The GP opens a patient and one document online; the sandbox stops; the patient is found and
opened again from the cache (read-only) and the document read; a document never opened says
it is not available offline; the sandbox restarts and the next opening uses the server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from console.dmp.client import HttpDmpGateway
from console.domain.card import CardIdentity, PinState, TokenInfo
from console.domain.errors import NetworkError
from console.domain.rules import AccessRequest
from console.services.cache import CacheService
from console.services.dossier import first_opening_query
from console.services.emergency import CacheJournal, EmergencyService, TracedDossierService
from console.services.offline import (
    DocumentUnavailableOfflineError,
    OfflineGateway,
    is_offline_grant,
)
from console.services.ports import CardSession, DmpGateway
from console.services.session import SessionService
from console.smartcard import Pkcs11CardReader, find_softhsm_module
from sandbox.testing import SandboxProcess
from tests.integration.conftest import Sandbox

pytestmark = pytest.mark.asyncio


class Pin:
    def __init__(self, pin: str) -> None:
        self.pin = pin

    async def ask_pin(self, token: TokenInfo, identity: CardIdentity, state: PinState) -> str:
        return self.pin


async def pages(service: TracedDossierService, dossier: Any) -> list[Any]:
    found: list[Any] = []
    async for page in service.documents(dossier, first_opening_query(date.today())):
        found.extend(page.documents)
    return found


@pytest.fixture
def own_sandbox(sandbox: Sandbox) -> Iterator[SandboxProcess]:
    process = SandboxProcess(sandbox.directory)
    process.start()
    try:
        yield process
    finally:
        process.stop()


async def test_reading_goes_on_from_the_cache_while_the_sandbox_is_down(
    sandbox: Sandbox, own_sandbox: SandboxProcess, tmp_path: Path
) -> None:
    module = find_softhsm_module()
    if module is None:
        pytest.skip("SoftHSM2 is not installed")
    gp = sandbox.persona("gp")
    ins_value = sandbox.patients["treated_by_gp"][0]

    reader = Pkcs11CardReader(module)
    gateway = HttpDmpGateway(own_sandbox.url)
    cache = CacheService(tmp_path / "cache")
    offline = OfflineGateway(gateway, cache)
    changes: list[bool] = []
    offline.add_listener(lambda online, _last: changes.append(online))
    served: DmpGateway = offline  # type: ignore[assignment]
    session = SessionService(reader, served)
    dossiers = TracedDossierService(served, session)
    journal = CacheJournal(cache)
    emergency = EmergencyService(dossiers, journal=journal, cache=cache, identity=offline)
    session.add_lock_listener(emergency.session_locked)
    session.add_lock_listener(lambda _reason: cache.lock())
    opened_cards: list[CardSession | None] = []
    session.add_login_listener(lambda card, _login: opened_cards.append(card))
    try:
        token = next(t for t in await reader.tokens() if t.label == gp["token_label"])
        login = await session.login_with_card(token, Pin(gp["pin"]))
        assert login is not None
        card = opened_cards[-1]
        assert card is not None  # the hook gets the card's open PIN session
        await cache.open_with_card(card, login.profession)
        await journal.flush()

        # Online: open, list, read one document.
        patient = await dossiers.find_patient(ins_value)
        dossier = await dossiers.open(patient, AccessRequest())
        assert not is_offline_grant(dossier.grant)
        online_docs = await pages(dossiers, dossier)
        assert online_docs
        read, never_read = online_docs[0], online_docs[-1]
        body = await dossiers.retrieve(dossier, read)
        assert body
        await dossiers.close(dossier)
        assert offline.online

        # The server goes away.
        own_sandbox.stop()
        again = await dossiers.find_patient(ins_value)
        assert again.ins == patient.ins
        assert not offline.online
        assert changes == [False]
        cached = await dossiers.open(again, AccessRequest())
        assert is_offline_grant(cached.grant)
        offline_docs = await pages(dossiers, cached)
        assert {d.id for d in offline_docs} == {d.id for d in online_docs}
        assert await dossiers.retrieve(cached, read) == body
        if never_read.id != read.id:
            with pytest.raises(DocumentUnavailableOfflineError):
                await dossiers.retrieve(cached, never_read)
        other = next((n for n in sandbox.patients["treated_by_gp"] if n != ins_value), None)
        if other is not None:  # never opened here: not in the cache
            with pytest.raises(NetworkError):
                await dossiers.find_patient(other)
        await dossiers.close(cached)

        # Back online on the same port: the next opening uses the server.
        own_sandbox.start()
        assert await offline.probe()
        assert offline.online
        assert changes == [False, True]
        fresh = await dossiers.open(await dossiers.find_patient(ins_value), AccessRequest())
        assert not is_offline_grant(fresh.grant)
        assert {d.id for d in await pages(dossiers, fresh)} == {d.id for d in online_docs}
        await dossiers.close(fresh)
        # The journal chain holds every step, offline ones included.
        assert (await cache.verify_journal()).ok
    finally:
        await emergency.aclose(timeout=3.0)
        await session.aclose()
        await cache.aclose()
        await gateway.aclose()
        await reader.close()
