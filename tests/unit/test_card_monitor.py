"""The card monitor (console.smartcard.monitor) driven by the fake reader."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.asymmetric import rsa

from console.domain.card import CardIdentity, PinState, TokenInfo
from console.domain.errors import CardMiddlewareError, PinIncorrectError
from console.smartcard import CardMonitor, FakeCardReader, FakeToken

FAST = 0.01
PIN = "4711"


@functools.cache
def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _card(slot_id: int = 1, family: str = "MARTIN") -> FakeToken:
    identity = CardIdentity("899700000011", family, "Claire", "Médecin", "CPS")
    return FakeToken(identity, pin=PIN, slot_id=slot_id, private_key=_key())


@dataclass
class Events:
    log: list[tuple[str, str]] = field(default_factory=list)
    errors: list[Exception] = field(default_factory=list)
    recoveries: list[int] = field(default_factory=list)

    def inserted(self, token: TokenInfo) -> None:
        self.log.append(("inserted", token.label))

    def removed(self, token: TokenInfo) -> None:
        self.log.append(("removed", token.label))

    def changed(self, token: TokenInfo) -> None:
        self.log.append(("changed", f"{token.label}:{token.pin_state}"))

    def error(self, exc: Exception) -> None:
        self.errors.append(exc)

    def recovered(self, failures: int) -> None:
        self.recoveries.append(failures)


async def _until(predicate: Callable[[], bool], timeout: float = 2.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.002)


async def _polls(monitor_reader: FakeCardReader, count: int) -> None:
    """Wait until the monitor polled `count` more times."""
    start = sum(1 for c in monitor_reader.calls if c.operation == "tokens")
    await _until(
        lambda: sum(1 for c in monitor_reader.calls if c.operation == "tokens") >= start + count
    )


def _monitor(
    reader: FakeCardReader,
    events: Events,
    *,
    forget_after_failures: int | None = 3,
    poll_timeout_s: float | None = None,
) -> CardMonitor:
    return CardMonitor(
        reader,
        FAST,
        on_inserted=events.inserted,
        on_removed=events.removed,
        on_changed=events.changed,
        on_error=events.error,
        on_recovered=events.recovered,
        forget_after_failures=forget_after_failures,
        poll_timeout_s=poll_timeout_s,
    )


@pytest_asyncio.fixture
async def stopper() -> AsyncIterator[list[CardMonitor]]:
    monitors: list[CardMonitor] = []
    yield monitors
    for monitor in monitors:
        await monitor.stop()


@pytest.mark.asyncio
async def test_insert_and_remove_reported_once_each(stopper: list[CardMonitor]) -> None:
    gp, nurse = _card(1), _card(2, "PETIT")
    reader = FakeCardReader([gp])
    events = Events()
    monitor = _monitor(reader, events)
    stopper.append(monitor)
    monitor.start()
    await _until(lambda: events.log == [("inserted", gp.label)])
    assert [t.key for t in monitor.tokens] == [gp.key]

    reader.insert(nurse)
    await _until(lambda: len(events.log) == 2)
    reader.remove(gp)
    await _until(lambda: len(events.log) == 3)
    await _polls(reader, 5)
    assert events.log == [
        ("inserted", gp.label),
        ("inserted", nurse.label),
        ("removed", gp.label),
    ]
    assert [t.key for t in monitor.tokens] == [nurse.key]
    assert events.errors == []


@pytest.mark.asyncio
async def test_card_swapped_in_a_slot_is_removed_then_inserted() -> None:
    first, second = _card(1), _card(1, "DURAND")
    reader = FakeCardReader([first])
    events = Events()
    monitor = _monitor(reader, events)
    await monitor.poll_once()
    reader.remove(first)
    reader.insert(second)
    await monitor.poll_once()
    assert events.log == [
        ("inserted", first.label),
        ("removed", first.label),
        ("inserted", second.label),
    ]


@pytest.mark.asyncio
async def test_same_card_back_is_inserted_again() -> None:
    card = _card()
    reader = FakeCardReader([card])
    events = Events()
    monitor = _monitor(reader, events)
    await monitor.poll_once()
    reader.remove(card)
    await monitor.poll_once()
    reader.insert(card)
    await monitor.poll_once()
    await monitor.poll_once()
    assert [kind for kind, _ in events.log] == ["inserted", "removed", "inserted"]


@pytest.mark.asyncio
async def test_pin_state_change_is_reported_as_changed() -> None:
    card = _card()
    reader = FakeCardReader([card])
    events = Events()
    monitor = _monitor(reader, events)
    await monitor.poll_once()
    with pytest.raises(PinIncorrectError):
        await reader.login(card.info, "0000")
    await monitor.poll_once()
    await monitor.poll_once()
    assert events.log == [
        ("inserted", card.label),
        ("changed", f"{card.label}:{PinState.COUNT_LOW}"),
    ]


@pytest.mark.asyncio
async def test_removal_noticed_within_two_seconds_at_one_second_interval(
    stopper: list[CardMonitor],
) -> None:
    """The issue's requirement, at the production interval."""
    card = _card()
    reader = FakeCardReader([card], latency_s=0.05)
    removed = asyncio.Event()
    monitor = CardMonitor(reader, 1.0, on_removed=lambda _token: removed.set())
    stopper.append(monitor)
    monitor.start()
    await _polls(reader, 1)
    reader.remove(card)
    await asyncio.wait_for(removed.wait(), 2.0)


@pytest.mark.asyncio
async def test_errors_are_reported_once_and_polling_goes_on(
    stopper: list[CardMonitor], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="console.smartcard.monitor")
    card = _card()
    reader = FakeCardReader([card])
    events = Events()
    monitor = _monitor(reader, events)
    stopper.append(monitor)
    monitor.start()
    await _until(lambda: len(events.log) == 1)

    reader.fail_next(CardMiddlewareError("module en panne"), operation="tokens", times=2)
    await _until(lambda: monitor.failing)
    await _until(lambda: not monitor.failing)
    assert len(events.errors) == 1
    assert isinstance(events.errors[0], CardMiddlewareError)
    assert events.log == [("inserted", card.label)]  # a short failure is not a removal
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "CardMiddlewareError" in warnings[0].getMessage()

    reader.remove(card)
    await _until(lambda: len(events.log) == 2)
    assert events.log[-1] == ("removed", card.label)
    assert monitor.running

    reader.fail_next(CardMiddlewareError("encore"), operation="tokens")
    await _until(lambda: len(events.errors) == 2)  # a new failure streak is reported again


@pytest.mark.asyncio
async def test_long_failure_forgets_the_cards_then_finds_them_again() -> None:
    card = _card()
    reader = FakeCardReader([card])
    events = Events()
    monitor = _monitor(reader, events, forget_after_failures=3)
    await monitor.poll_once()
    reader.fail_next(CardMiddlewareError("x"), operation="tokens", times=3)
    await monitor.poll_once()
    await monitor.poll_once()
    assert events.log == [("inserted", card.label)]
    await monitor.poll_once()
    assert events.log[-1] == ("removed", card.label)
    assert monitor.tokens == []
    await monitor.poll_once()
    assert events.log[-1] == ("inserted", card.label)
    assert len(events.errors) == 1


@pytest.mark.asyncio
async def test_a_hanging_reader_counts_as_a_failure() -> None:
    reader = FakeCardReader([_card()], latency_s=1.0)
    events = Events()
    monitor = _monitor(reader, events, poll_timeout_s=0.05)
    await monitor.poll_once()
    assert monitor.failing
    assert len(events.errors) == 1
    assert isinstance(events.errors[0], TimeoutError)


@pytest.mark.asyncio
async def test_a_poll_that_works_again_after_a_timeout_is_reported() -> None:
    """One timed-out poll (the GUI thread was busy) reports no removal, so the recovery
    itself must be reported, or 'Lecteur de cartes indisponible' stays on (issue 17)."""
    card = _card()
    reader = FakeCardReader([card])
    events = Events()
    monitor = _monitor(reader, events)
    await monitor.poll_once()
    await monitor.poll_once()
    assert events.recoveries == []  # nothing failed: nothing to recover from
    reader.fail_next(CardMiddlewareError("lent"), operation="tokens", times=2)
    await monitor.poll_once()
    await monitor.poll_once()
    assert events.recoveries == []
    await monitor.poll_once()
    assert events.recoveries == [2]
    assert events.log == [("inserted", card.label)]


@pytest.mark.asyncio
async def test_a_failing_callback_does_not_stop_the_monitor(
    stopper: list[CardMonitor], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="console.smartcard.monitor")
    card = _card()
    reader = FakeCardReader([card])
    seen: list[str] = []

    def explode(token: TokenInfo) -> None:
        seen.append(token.label)
        raise RuntimeError("callback bug")

    monitor = CardMonitor(reader, FAST, on_inserted=explode, on_removed=explode)
    stopper.append(monitor)
    monitor.start()
    await _until(lambda: len(seen) == 1)
    reader.remove(card)
    await _until(lambda: len(seen) == 2)
    assert monitor.running
    assert "on_inserted" in caplog.text


@pytest.mark.asyncio
async def test_start_and_stop() -> None:
    reader = FakeCardReader([_card()])
    monitor = CardMonitor(reader, FAST)
    states = [monitor.running]
    monitor.start()
    monitor.start()  # already running: nothing more
    states.append(monitor.running)
    await _polls(reader, 2)
    await monitor.stop()
    states.append(monitor.running)
    assert states == [False, True, False]
    calls = len(reader.calls)
    await asyncio.sleep(5 * FAST)
    assert len(reader.calls) == calls
    await monitor.stop()  # idempotent
    with pytest.raises(ValueError):
        CardMonitor(reader, 0)


@pytest.mark.asyncio
async def test_stop_from_a_callback() -> None:
    card = _card()
    reader = FakeCardReader([card])
    holder: list[CardMonitor] = []
    tasks: list[asyncio.Task[None]] = []

    def on_removed(_token: TokenInfo) -> None:
        tasks.append(asyncio.get_running_loop().create_task(holder[0].stop()))

    monitor = CardMonitor(reader, FAST, on_removed=on_removed)
    holder.append(monitor)
    monitor.start()
    await _polls(reader, 1)
    reader.remove(card)
    await _until(lambda: bool(tasks))
    await tasks[0]
    assert not monitor.running
