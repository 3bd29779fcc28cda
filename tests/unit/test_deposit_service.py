"""``console.services.deposit`` over a scripted fake DMP and the in-memory queue: the pump
(concurrency, retries, refusals, pause), single deposits, a document's life, and batches
(files, manifest, validation, start, cancel, receipt). The encrypted outbox and the real
sandbox are exercised in ``tests/integration/test_deposit.py`` and ``test_batch_crash.py``."""

from __future__ import annotations

import asyncio
import json
import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from console.domain.deposit import (
    DepositDraft,
    DepositValidationError,
    InvalidIdentifierError,
    ItemStatus,
    Problem,
)
from console.domain.errors import (
    ForbiddenError,
    NotFoundError,
    ServerError,
)
from console.domain.models import Actor, DocStatus, DocumentMeta, Visibility
from console.domain.rules import Refusal, UpdateAction, refusal_message
from console.services.deposit import (
    BatchDepositService,
    BatchItem,
    DepositEvent,
    DepositPump,
    DepositRefusedError,
    DepositService,
    Doctor,
    MemoryDepositQueue,
    NewDeposit,
    PumpStop,
    RetryPolicy,
    UpdateRefusedError,
)
from console.services.presets import MemoryPreferenceStore
from tests.deposit_fakes import (
    FAST,
    GP,
    NIR,
    SECRETARY,
    FakeDmp,
    login_of,
    make_pdf,
)


async def queue_with(n: int, *, batch: str | None = None) -> tuple[MemoryDepositQueue, list[str]]:
    queue = MemoryDepositQueue()
    masters = [f"urn:uuid:00000000-0000-4000-8000-{i:012d}" for i in range(n)]
    await queue.enqueue(
        [
            NewDeposit(m, json.dumps(_bundle(m)).encode(), NIR, batch, {"file": f"{i}.pdf"})
            for i, m in enumerate(masters)
        ]
    )
    return queue, masters


def _bundle(master: str) -> dict[str, Any]:
    ref = {"resourceType": "DocumentReference", "masterIdentifier": {"value": master}}
    return {"resourceType": "Bundle", "entry": [{"resource": ref}]}


# -- the pump -------------------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_the_pump_sends_everything_with_bounded_concurrency() -> None:
    dmp = FakeDmp()
    queue, masters = await queue_with(30)
    events: list[DepositEvent] = []
    pump = DepositPump(dmp, queue, concurrency=4, policy=FAST)
    result = await pump.run(login_of(GP), events.append, probe_first=True)
    assert result.stop is PumpStop.DONE and result.sent == 30
    assert sorted(dmp.stored) == sorted(masters)
    assert dmp.max_in_flight == 4
    assert dmp.first_alone  # the probe went alone
    sent = [e for e in events if e.status is ItemStatus.SENT]
    assert sorted(e.master_id for e in sent) == sorted(masters)
    assert all(e.status is not ItemStatus.FAILED for e in events)
    assert all(e.state.value == "sent" for e in await queue.entries())


@pytest.mark.asyncio
async def test_transient_failures_are_retried_and_each_is_stored_once() -> None:
    dmp = FakeDmp()
    queue, masters = await queue_with(8)
    dmp.plan = {
        masters[0]: [("429", 0.05), ("429", 0.05)],
        masters[1]: ["503", "503"],
        masters[2]: ["net", "lost"],  # the second attempt reached the server
        masters[3]: ["lost", "lost"],
    }
    events: list[DepositEvent] = []
    started = asyncio.get_running_loop().time()
    result = await DepositPump(dmp, queue, policy=FAST).run(login_of(GP), events.append)
    elapsed = asyncio.get_running_loop().time() - started
    assert result.stop is PumpStop.DONE and result.sent == 8 and result.retried == 8
    assert result.replayed == 2  # masters 2 and 3: the answers that came were replays
    assert sorted(dmp.stored) == sorted(masters)  # exactly once each
    assert elapsed >= 0.1  # two Retry-After of 50 ms were honoured
    retries = [e for e in events if e.status is ItemStatus.RETRY_WAIT]
    assert {e.master_id for e in retries} == set(masters[:4])
    assert all(e.retry_at is not None and e.message for e in retries)


@pytest.mark.asyncio
async def test_a_refusal_fails_one_document_and_the_rest_goes_on() -> None:
    dmp = FakeDmp()
    queue, masters = await queue_with(6)
    dmp.plan = {masters[2]: ["422"]}
    events: list[DepositEvent] = []
    result = await DepositPump(dmp, queue, policy=FAST).run(login_of(GP), events.append)
    assert result.stop is PumpStop.DONE and (result.sent, result.refused) == (5, 1)
    failed = [e for e in events if e.status is ItemStatus.FAILED]
    assert [e.master_id for e in failed] == [masters[2]] and "futur" in failed[0].message
    assert masters[2] not in dmp.stored


@pytest.mark.asyncio
async def test_a_refusal_about_the_author_stops_the_batch() -> None:
    dmp = FakeDmp()
    queue, _ = await queue_with(10)
    dmp.default = [("403", "not_same_structure")]
    result = await DepositPump(dmp, queue, policy=FAST).run(login_of(GP), probe_first=True)
    assert result.stop is PumpStop.BATCH_REFUSED
    assert result.message == refusal_message(Refusal.NOT_SAME_STRUCTURE)
    assert len(dmp.requests) == 1  # the probe found it; nothing else was sent
    entries = await queue.entries()
    assert sum(e.state.value == "pending" and e.attempts == 0 for e in entries) == 9


@pytest.mark.asyncio
async def test_an_expired_session_stops_and_keeps_the_document_queued() -> None:
    dmp = FakeDmp()
    queue, masters = await queue_with(3)
    dmp.plan = {masters[0]: ["401"]}
    result = await DepositPump(dmp, queue, concurrency=1, policy=FAST).run(login_of(GP))
    assert result.stop is PumpStop.AUTH and "expiré" in result.message
    entries = {e.master_id: e for e in await queue.entries()}
    assert entries[masters[0]].state.value == "pending"
    result = await DepositPump(dmp, queue, policy=FAST).run(login_of(GP))
    assert result.stop is PumpStop.DONE and sorted(dmp.stored) == sorted(masters)


@pytest.mark.asyncio
async def test_pause_lets_requests_in_flight_finish_and_resume_completes() -> None:
    dmp = FakeDmp(latency=0.02)
    queue, masters = await queue_with(20)
    pump = DepositPump(dmp, queue, concurrency=3, policy=FAST)

    def pause_after_five(event: DepositEvent) -> None:
        if event.status is ItemStatus.SENT and len(dmp.stored) >= 5:
            pump.pause()

    result = await pump.run(login_of(GP), pause_after_five)
    assert result.stop is PumpStop.PAUSED
    assert 5 <= len(dmp.stored) < 20
    entries = await queue.entries()
    assert not [e for e in entries if e.state.value == "sending"]  # nothing left in limbo
    claimed_unsent = [e for e in entries if e.state.value == "pending"]
    assert all(e.attempts == 0 for e in claimed_unsent)  # released, not "attempted"
    result = await pump.run(login_of(GP))
    assert result.stop is PumpStop.DONE and sorted(dmp.stored) == sorted(masters)
    assert len(dmp.requests) == 20


def test_backoff_grows_is_jittered_and_honours_retry_after() -> None:
    policy = RetryPolicy(base_s=1.0, cap_s=8.0, jitter=0.5)
    rng = random.Random(1)
    delays = [policy.delay(n, None, rng) for n in range(1, 8)]
    caps = [1, 2, 4, 8, 8, 8, 8]
    assert all(cap / 2 <= d <= cap for d, cap in zip(delays, caps, strict=True))
    assert len({round(d, 6) for d in delays}) == len(delays)
    assert 5.0 <= policy.delay(1, 5.0, rng) <= 5.5
    assert policy.delay(1, 10_000, rng) <= policy.max_retry_after_s * 1.1


# -- single deposits and a document's life --------------------------------------------------------


def service(dmp: FakeDmp) -> DepositService:
    return DepositService(dmp, policy=FAST)


def draft(**changes: Any) -> DepositDraft:
    base = DepositDraft(NIR, "11488-4", "Consultation", date.today() - timedelta(days=1))
    return replace(base, **changes)


@pytest.mark.asyncio
async def test_a_single_deposit_is_validated_then_sent() -> None:
    dmp = FakeDmp()
    svc = service(dmp)
    assert not svc.persistent
    file = await svc.load_bytes("cr.pdf", make_pdf("cr"))
    outcome = await svc.deposit(login_of(GP), file, draft())
    assert outcome.status is ItemStatus.SENT and outcome.receipt is not None
    assert dmp.stored == {outcome.master_id: outcome.receipt.document_id}
    assert outcome.line.server_id == outcome.receipt.document_id
    assert outcome.line.status is ItemStatus.SENT and not outcome.persistent


@pytest.mark.asyncio
async def test_nothing_is_sent_for_an_invalid_deposit() -> None:
    dmp = FakeDmp()
    svc = service(dmp)
    empty = await svc.load_bytes("cr.pdf", b"")
    with pytest.raises(DepositValidationError) as invalid:
        await svc.deposit(login_of(GP), empty, draft(act_date=date.today() + timedelta(days=2)))
    assert {i.problem for i in invalid.value.issues} == {Problem.EMPTY, Problem.FUTURE_DATE}
    secretary = service(FakeDmp(SECRETARY))
    file = await secretary.load_bytes("cr.pdf", make_pdf("x"))
    with pytest.raises(DepositRefusedError) as refused:
        await secretary.deposit(login_of(SECRETARY), file, draft())
    assert refused.value.reason == "author_not_ps"
    assert dmp.requests == [] and secretary.gateway.requests == []  # type: ignore[attr-defined]


@pytest.mark.asyncio
async def test_a_server_refusal_is_said_and_nothing_stays_queued() -> None:
    dmp = FakeDmp()
    dmp.default = [("403", "blocked")]
    svc = service(dmp)
    file = await svc.load_bytes("cr.pdf", make_pdf("x"))
    with pytest.raises(DepositRefusedError) as refused:
        await svc.deposit(login_of(GP), file, draft())
    assert str(refused.value) == refusal_message(Refusal.BLOCKED)
    assert await svc.pending_count() == 0


@pytest.mark.asyncio
async def test_an_unreachable_dmp_leaves_the_deposit_queued_then_flush_sends_it() -> None:
    dmp = FakeDmp()
    dmp.default = ["net"] * 5
    svc = service(dmp)
    file = await svc.load_bytes("cr.pdf", make_pdf("x"))
    outcome = await svc.deposit(login_of(GP), file, draft())
    assert outcome.status is ItemStatus.RETRY_WAIT and outcome.receipt is None
    assert "réseau" in outcome.message and not outcome.persistent
    assert len(dmp.requests) == 3 and await svc.pending_count() == 1
    dmp.plan[outcome.master_id] = []
    result = await svc.flush_outbox(login_of(GP))
    assert result.sent == 1 and list(dmp.stored) == [outcome.master_id]
    assert await svc.pending_count() == 0


def gp_document(**changes: Any) -> DocumentMeta:
    base = DocumentMeta(
        id="doc1", master_id="urn:uuid:x", patient_ins=NIR, type_code="11488-4",
        class_code="10", title="CR", author_id_nat=GP.id_nat,
        created=datetime(2026, 1, 1, tzinfo=UTC), deposited=datetime(2026, 1, 2, tzinfo=UTC),
    )  # fmt: skip
    return replace(base, **changes)


@pytest.mark.asyncio
async def test_updates_check_the_rules_first_and_map_the_server_refusals() -> None:
    dmp = FakeDmp()
    svc = service(dmp)
    nurse = Actor("899700000045", "60")
    with pytest.raises(UpdateRefusedError) as refused:
        await svc.update(login_of(nurse), gp_document(), UpdateAction.MASK)
    assert refused.value.reason == "not_author" and dmp.patches == []
    with pytest.raises(UpdateRefusedError):
        await svc.update(
            login_of(GP), gp_document(status=DocStatus.SUPERSEDED), UpdateAction.DELETE
        )
    assert dmp.patches == []

    dmp.patch_answer = gp_document(visibility=frozenset({Visibility.MASQUE_PS}))
    updated = await svc.update(login_of(GP), gp_document(), UpdateAction.MASK)
    assert updated.masked
    assert dmp.patches[-1][1][0]["path"] == "/securityLabel"

    for error, reason in (
        (ForbiddenError("x", 403, "not_author"), "not_author"),
        (NotFoundError("x", 404, "not_found"), "not_found"),
        (ServerError("x", 409, "not_current"), "not_current"),
    ):
        dmp.patch_answer = error
        with pytest.raises(UpdateRefusedError) as mapped:
            await svc.update(login_of(GP), gp_document(), UpdateAction.UNMASK)
        assert mapped.value.reason == reason and str(mapped.value)
    assert str(mapped.value) == refusal_message(Refusal.NOT_CURRENT)


@pytest.mark.asyncio
async def test_replacing_needs_the_author() -> None:
    dmp = FakeDmp(Actor("899700000045", "60"))
    svc = service(dmp)
    file = await svc.load_bytes("v2.pdf", make_pdf("v2"))
    with pytest.raises(DepositRefusedError) as refused:
        await svc.replace(login_of(dmp.actor), gp_document(), file, draft())
    assert refused.value.reason == "not_author" and dmp.requests == []
    gp = FakeDmp()
    outcome = await service(gp).replace(login_of(GP), gp_document(), file, draft())
    assert outcome.status is ItemStatus.SENT


# -- batches --------------------------------------------------------------------------------------


def write_batch(folder: Path, n: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(n):
        path = folder / f"{NIR}_11488-4_20250110_CR_{i}.pdf"
        path.write_bytes(make_pdf(f"document {i}"))
        paths.append(path)
    return paths


def batch_service(dmp: FakeDmp, **kwargs: Any) -> BatchDepositService:
    return BatchDepositService(dmp, policy=FAST, preferences=MemoryPreferenceStore(), **kwargs)


@pytest.mark.asyncio
async def test_a_batch_goes_on_past_its_bad_files(tmp_path: Path) -> None:
    dmp = FakeDmp(SECRETARY)
    batch = batch_service(dmp)
    paths = write_batch(tmp_path / "lot", 5)
    (tmp_path / "lot" / "copie.pdf").write_bytes(paths[0].read_bytes())
    (tmp_path / "lot" / "vide.pdf").write_bytes(b"")
    (tmp_path / "lot" / "manifeste.csv").write_text(
        f"fichier;ins;type;titre;date\ncopie.pdf;{NIR};11488-4;Copie;01/01/2025\n"
        f"vide.pdf;{NIR};11488-4;Vide;01/01/2025\n",
        encoding="utf-8",
    )
    login = login_of(SECRETARY)
    await batch.depositor(login)
    added = await batch.add_paths([tmp_path / "lot"])
    assert len(added) == 7 and batch.manifest is not None
    with pytest.raises(InvalidIdentifierError):
        batch.set_doctor(Doctor("1997000456/SEC0042"))
    batch.set_doctor(Doctor("899700000094", "Dr LEFEBVRE"))
    assert batch.recent_doctors() == [Doctor("899700000094", "Dr LEFEBVRE")]
    progress = await batch.validate()
    assert progress.invalid == 2
    by_name = {i.file_name: i for i in batch.items}
    assert [i.problem for i in by_name["copie.pdf"].issues] == [Problem.DUPLICATE]
    assert [i.problem for i in by_name["vide.pdf"].issues] == [Problem.EMPTY]
    result = await batch.start(login)
    assert result.stop is PumpStop.DONE
    assert batch.progress().sent == 5 and len(dmp.stored) == 5
    receipt = batch.receipt()
    assert len(receipt.lines) == 7 and receipt.count(ItemStatus.SENT) == 5
    assert receipt.count(ItemStatus.INVALID) == 2
    assert receipt.author == "Dr LEFEBVRE (899700000094)"
    assert all(
        line.master_id and line.server_id
        for line in receipt.lines
        if line.status is ItemStatus.SENT
    )


@pytest.mark.asyncio
async def test_a_file_changed_after_validation_is_not_sent(tmp_path: Path) -> None:
    dmp = FakeDmp(SECRETARY)
    batch = batch_service(dmp)
    paths = write_batch(tmp_path, 3)
    await batch.depositor(login_of(SECRETARY))
    await batch.add_paths(paths)
    batch.set_doctor(Doctor("899700000094"))
    await batch.validate()
    paths[1].write_bytes(make_pdf("changed"))
    await batch.start(login_of(SECRETARY))
    statuses = [i.status for i in batch.items]
    assert statuses == [ItemStatus.SENT, ItemStatus.INVALID, ItemStatus.SENT]
    assert "changé" in batch.items[1].issues[0].message


def status_of(item: BatchItem) -> ItemStatus:
    """Read again (mypy keeps an asserted attribute narrowed across calls that change it)."""
    return item.status


@pytest.mark.asyncio
async def test_edits_need_a_new_validation_and_clear_the_manifest_issue(tmp_path: Path) -> None:
    batch = batch_service(FakeDmp(SECRETARY))
    (path,) = write_batch(tmp_path, 1)
    (tmp_path / "m.csv").write_text(f"fichier;date\n{path.name};31/02/2025\n", encoding="utf-8")
    await batch.add_paths([path, tmp_path / "m.csv"])
    item = batch.items[0]
    assert [i.problem for i in item.prefill_issues] == [Problem.INVALID_DATE]
    await batch.validate()
    assert item.status is ItemStatus.INVALID and batch.validated
    batch.edit(
        item.key, replace(item.draft, ins=NIR, type_code="11488-4", act_date=date(2025, 2, 28))
    )
    assert not getattr(batch, "validated") and item.prefill_issues == ()  # noqa: B009
    await batch.validate()
    assert status_of(item) is ItemStatus.READY


@pytest.mark.asyncio
async def test_cancel_drops_what_was_never_sent_and_keeps_what_may_have_arrived(
    tmp_path: Path,
) -> None:
    dmp = FakeDmp(SECRETARY, latency=0.01)
    batch = batch_service(dmp, concurrency=2)
    paths = write_batch(tmp_path, 12)
    login = login_of(SECRETARY)
    await batch.depositor(login)
    await batch.add_paths(paths)
    batch.set_doctor(Doctor("899700000094"))
    await batch.validate()
    first_master = ""

    def on_item(item: Any) -> None:
        nonlocal first_master
        if item.status is ItemStatus.QUEUED and not first_master:
            first_master = item.master_id
            dmp.plan[first_master] = ["net"] * 50  # never answers: retried, uncertain
        if item.status is ItemStatus.SENT and len(dmp.stored) == 3:
            batch.cancel()

    batch.set_listeners(on_item)
    dmp.default = []
    result = await batch.start(login)
    assert result.stop is PumpStop.CANCELLED
    statuses = {i.master_id: i.status for i in batch.items}
    assert statuses[first_master] is ItemStatus.UNCERTAIN
    assert list(statuses.values()).count(ItemStatus.SENT) == len(dmp.stored)
    cancelled = [m for m, s in statuses.items() if s is ItemStatus.CANCELLED]
    assert cancelled and not set(cancelled) & set(dmp.requests)
    remaining = await batch.queue().entries()
    pending = {e.master_id for e in remaining if e.state.value == "pending"}
    # the cancel aborted the requests in flight: attempted without a certain answer, they
    # stay queued (uncertain) beside the one that never got an answer
    assert first_master in pending
    assert all(statuses[m] is ItemStatus.UNCERTAIN and m in dmp.requests for m in pending)
    assert len(dmp.stored) + len(cancelled) + len(pending) == 12


@pytest.mark.asyncio
async def test_a_file_added_again_after_a_crash_is_a_duplicate_of_its_queued_deposit(
    tmp_path: Path,
) -> None:
    dmp = FakeDmp(SECRETARY)
    dmp.default = ["net"] * 100  # the DMP never answers: everything stays queued
    first = batch_service(dmp)
    paths = write_batch(tmp_path, 3)
    login = login_of(SECRETARY)
    await first.depositor(login)
    await first.add_paths(paths[:2])
    first.set_doctor(Doctor("899700000094"))
    await first.validate()
    started = asyncio.ensure_future(first.start(login))
    while len(dmp.requests) < 2:
        await asyncio.sleep(0.01)
    first.pause()
    assert (await started).stop is PumpStop.PAUSED

    # "after the crash": a new screen over the same queue
    second = batch_service(dmp)
    second._memory = first._memory  # the same outbox
    await second.depositor(login)
    restored = await second.restore()
    assert [i.file_name for i in restored] == [p.name for p in paths[:2]]
    await second.add_paths(paths)  # the whole folder again
    second.set_doctor(Doctor("899700000094"))
    await second.validate()
    by_path = {i.path: i for i in second.items if i.path is not None}
    assert [i.problem for i in by_path[paths[0]].issues] == [Problem.DUPLICATE]
    assert [i.problem for i in by_path[paths[1]].issues] == [Problem.DUPLICATE]
    assert by_path[paths[2]].status is ItemStatus.READY


@pytest.mark.asyncio
async def test_forget_drops_the_rows_and_a_pump_of_before_reports_to_nobody(
    tmp_path: Path,
) -> None:
    """Another person logs in on the workstation: nothing of the batch stays in memory, and
    the requests still in flight do not bring its rows back."""
    dmp = FakeDmp(SECRETARY, latency=0.2)
    batch = batch_service(dmp)
    paths = write_batch(tmp_path, 4)
    login = login_of(SECRETARY)
    await batch.depositor(login)
    assert batch.owner == SECRETARY.id_nat
    await batch.add_paths(paths)
    batch.set_doctor(Doctor("899700000094"))
    await batch.validate()
    seen: list[str] = []
    batch.set_listeners(lambda item: seen.append(item.file_name), lambda _p: None)
    running = asyncio.ensure_future(batch.start(login))
    for _ in range(500):  # until the first request is on the wire
        await asyncio.sleep(0.01)
        if dmp.in_flight:
            break
    assert batch.running and dmp.in_flight
    batch.forget()
    assert batch.items == [] and batch.owner is None and batch.doctor is None
    seen.clear()
    await running
    assert batch.items == [] and seen == []  # in flight: recorded in the queue, not here
    assert not batch.running


@pytest.mark.asyncio
async def test_a_finished_batch_added_again_is_a_duplicate_unless_deposited_anyway(
    tmp_path: Path,
) -> None:
    dmp = FakeDmp(SECRETARY)
    first = batch_service(dmp)
    paths = write_batch(tmp_path, 3)
    login = login_of(SECRETARY)
    await first.depositor(login)
    await first.add_paths(paths)
    first.set_doctor(Doctor("899700000094"))
    await first.validate()
    assert (await first.start(login)).stop is PumpStop.DONE
    assert len(dmp.stored) == 3

    # the next morning, the same folder again: its batch is finished, nothing is restored
    second = batch_service(dmp)
    second._memory = first._memory  # the same outbox
    await second.depositor(login)
    assert await second.restore() == []
    await second.add_paths(paths)
    second.set_doctor(Doctor("899700000094"))
    progress = await second.validate()
    assert progress.invalid == 3
    for item in second.items:
        assert [i.problem for i in item.issues] == [Problem.DUPLICATE]
        assert "Déposer quand même" in item.issues[0].message
    # another type is another document: not a duplicate
    other = second.items[2]
    second.edit(other.key, replace(other.draft, type_code="11490-0"))
    # "déposer quand même" for a real new version
    changed = second.deposit_anyway([second.items[0].key])
    assert [i.key for i in changed] == [second.items[0].key]
    assert not second.validated
    await second.validate()
    assert [i.status for i in second.items] == [
        ItemStatus.READY,
        ItemStatus.INVALID,
        ItemStatus.READY,
    ]
    assert (await second.start(login)).stop is PumpStop.DONE
    assert len(dmp.stored) == 5


class _KilledQueue(MemoryDepositQueue):
    """The outbox of a console killed after ``groups`` queue transactions (the next one
    never happens: what the kill leaves on disk)."""

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    async def enqueue(self, deposits: Any) -> list[Any]:
        if self.groups <= 0:
            raise asyncio.CancelledError("killed")
        self.groups -= 1
        return await super().enqueue(deposits)


@pytest.mark.asyncio
async def test_a_batch_cut_short_while_queued_names_the_files_never_queued(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("console.services.deposit.ENQUEUE_GROUP", 2)
    dmp = FakeDmp(SECRETARY)
    first = batch_service(dmp)
    killed = _KilledQueue(groups=1)
    first._memory = killed
    paths = write_batch(tmp_path, 5)
    (tmp_path / "m.csv").write_text(
        "fichier;ins;type;titre;date\n"
        + "".join(f"{p.name};{NIR};11488-4;Titre {i};02/01/2025\n" for i, p in enumerate(paths)),
        encoding="utf-8",
    )
    login = login_of(SECRETARY)
    await first.depositor(login)
    await first.add_paths([*paths, tmp_path / "m.csv"])
    first.set_doctor(Doctor("899700000094"))
    assert (await first.validate()).invalid == 0
    with pytest.raises(asyncio.CancelledError):
        await first.start(login)
    assert dmp.requests == []

    # the next start: the queued group is restored, the three others are named
    killed.groups = 10**6
    second = batch_service(dmp)
    second._memory = killed
    await second.depositor(login)
    restored = await second.restore()
    assert [i.file_name for i in restored] == [p.name for p in paths[:2]]
    assert [u.file.file_name for u in second.unqueued] == [p.name for p in paths[2:]]
    assert {u.batch_id for u in second.unqueued} == {first.batch_id}
    assert second.doctor == Doctor("899700000094")  # the author of the plan
    paths[4].unlink()  # moved away since: named, not added
    added, gone = await second.add_unqueued()
    assert [i.path for i in added] == paths[2:4]
    assert [u.file.file_name for u in gone] == [paths[4].name]
    assert [i.draft.title for i in added] == ["Titre 2", "Titre 3"]
    assert second.unqueued == [] and await killed.plans() == {}
    await second.validate()
    assert [i.status for i in added] == [ItemStatus.READY, ItemStatus.READY]
    assert (await second.start(login)).stop is PumpStop.DONE
    assert len(dmp.stored) == 4

    # and a third start finds nothing left to name
    third = batch_service(dmp)
    third._memory = killed
    await third.depositor(login)
    await third.restore()
    assert third.unqueued == []


@pytest.mark.asyncio
async def test_a_batch_killed_after_its_last_group_leaves_nothing_to_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("console.services.deposit.ENQUEUE_GROUP", 2)
    dmp = FakeDmp(SECRETARY)
    dmp.default = ["net"] * 100
    first = batch_service(dmp)
    paths = write_batch(tmp_path, 4)
    login = login_of(SECRETARY)
    await first.depositor(login)
    await first.add_paths(paths)
    first.set_doctor(Doctor("899700000094"))
    await first.validate()
    queue = first._memory
    await queue.plan("other", first._plan(first.items, first.author()))  # its rows all queued
    started = asyncio.ensure_future(first.start(login))
    while len(dmp.requests) < 1:
        await asyncio.sleep(0.01)
    first.pause()
    await started
    entries = await queue.entries()
    for entry in entries:  # pretend batch "other" queued these very rows
        queue._items[entry.item_id].entry = replace(entry, batch_id="other")
    second = batch_service(dmp)
    second._memory = queue
    await second.depositor(login)
    await second.restore()
    assert second.unqueued == [] and await queue.plans() == {}


@pytest.mark.asyncio
async def test_cancel_aborts_the_requests_in_flight_and_keeps_them_queued(tmp_path: Path) -> None:
    dmp = FakeDmp(SECRETARY, latency=3600)  # a DMP that never answers
    batch = batch_service(dmp, concurrency=1)
    paths = write_batch(tmp_path, 3)
    login = login_of(SECRETARY)
    await batch.depositor(login)
    await batch.add_paths(paths)
    batch.set_doctor(Doctor("899700000094"))
    await batch.validate()
    running = asyncio.ensure_future(batch.start(login))
    while not dmp.in_flight:
        await asyncio.sleep(0.01)
    batch.cancel()
    # bounded only so that a regression fails instead of hanging the suite
    result = await asyncio.wait_for(running, timeout=30)
    assert result.stop is PumpStop.CANCELLED and dmp.stored == {}
    (attempted,) = [i for i in batch.items if i.status is ItemStatus.UNCERTAIN]
    assert attempted.master_id in dmp.requests
    assert [i.status for i in batch.items].count(ItemStatus.CANCELLED) == 2
    (entry,) = await batch.queue().entries()
    assert entry.master_id == attempted.master_id and entry.state.value == "pending"
    assert "sans réponse certaine" in (entry.last_error or "")
