"""The session state machine (pure): examples, then hypothesis stateful tests."""

from __future__ import annotations

import copy
import re

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from console.domain.models import AccessMode
from console.domain.session import (
    BINDING_ALPHABET,
    AuthMethod,
    InvalidTransitionError,
    LockReason,
    SessionEvent,
    SessionMachine,
    SessionState,
    is_valid_id_nat,
    new_binding_message,
)

S = SessionState
E = SessionEvent


def active(method: AuthMethod = AuthMethod.CARD) -> SessionMachine:
    machine = SessionMachine()
    machine.fire(E.LOGIN_STARTED, method=method)
    machine.fire(E.LOGIN_SUCCEEDED)
    return machine


# -- examples -----------------------------------------------------------------------------------


def test_a_login_goes_through_authenticating() -> None:
    machine = SessionMachine()
    assert machine.state is S.LOGGED_OUT
    assert not machine.allowed(E.LOGIN_SUCCEEDED)
    with pytest.raises(InvalidTransitionError):
        machine.fire(E.LOGIN_SUCCEEDED)
    assert machine.fire(E.LOGIN_STARTED, method=AuthMethod.ECPS) is S.AUTHENTICATING
    assert machine.attempt is AuthMethod.ECPS
    assert machine.method is None
    assert machine.fire(E.LOGIN_SUCCEEDED) is S.ACTIVE
    assert machine.method is AuthMethod.ECPS
    assert machine.attempt is None
    assert machine.generation == 1


def test_a_failed_login_goes_back_to_logged_out() -> None:
    machine = SessionMachine()
    machine.fire(E.LOGIN_STARTED, method=AuthMethod.CARD)
    assert machine.fire(E.LOGIN_FAILED) is S.LOGGED_OUT
    machine.fire(E.LOGIN_STARTED, method=AuthMethod.CARD)
    # The card left during the login: the attempt fails, nothing was unlocked.
    assert machine.fire(E.LOCKED, reason=LockReason.CARD_REMOVED) is S.LOGGED_OUT
    assert machine.generation == 0


def test_the_access_mode_of_the_patient_is_part_of_the_active_state() -> None:
    machine = active()
    assert machine.patient_mode is None
    machine.fire(E.PATIENT_OPENED, mode=AccessMode.BRIS_DE_GLACE)
    assert (machine.state, machine.patient_mode) == (S.ACTIVE, AccessMode.BRIS_DE_GLACE)
    machine.fire(E.PATIENT_OPENED, mode=AccessMode.CENTRE_15)  # another patient
    assert machine.patient_mode is AccessMode.CENTRE_15
    machine.fire(E.PATIENT_CLOSED)
    assert machine.patient_mode is None
    machine.fire(E.PATIENT_OPENED, mode=AccessMode.NORMAL)
    machine.fire(E.LOCKED, reason=LockReason.IDLE)
    assert machine.patient_mode is None  # locking closes the patient
    with pytest.raises(InvalidTransitionError):
        machine.fire(E.PATIENT_OPENED, mode=AccessMode.NORMAL)
    with pytest.raises(InvalidTransitionError, match="needs the access mode"):
        active().fire(E.PATIENT_OPENED)


def test_unlock_resumes_the_same_session_and_a_failure_stays_locked() -> None:
    machine = active()
    machine.fire(E.LOCKED, reason=LockReason.CARD_REMOVED)
    assert (machine.state, machine.lock_reason) == (S.LOCKED, LockReason.CARD_REMOVED)
    assert not machine.allowed(E.LOGIN_STARTED, method=AuthMethod.CARD)
    machine.fire(E.UNLOCK_STARTED, method=AuthMethod.CARD)
    assert machine.resuming
    assert machine.lock_reason is LockReason.CARD_REMOVED
    assert machine.fire(E.LOGIN_FAILED) is S.LOCKED  # wrong PIN: still locked
    assert machine.lock_reason is LockReason.CARD_REMOVED
    machine.fire(E.UNLOCK_STARTED, method=AuthMethod.ECPS)
    assert machine.fire(E.LOGIN_SUCCEEDED) is S.ACTIVE
    assert machine.generation == 1  # the same session
    assert machine.method is AuthMethod.ECPS  # resumed with the phone
    assert machine.lock_reason is None


def test_an_ecps_session_cannot_lose_a_card() -> None:
    machine = active(AuthMethod.ECPS)
    assert not machine.allowed(E.LOCKED, reason=LockReason.CARD_REMOVED)
    with pytest.raises(InvalidTransitionError, match="no card"):
        machine.fire(E.LOCKED, reason=LockReason.CARD_REMOVED)
    assert machine.state is S.ACTIVE
    assert machine.fire(E.LOCKED, reason=LockReason.EXPIRED) is S.LOCKED


def test_logout_is_always_possible_and_forgets_everything() -> None:
    machine = active()
    machine.fire(E.PATIENT_OPENED, mode=AccessMode.NORMAL)
    machine.fire(E.LOCKED, reason=LockReason.USER)
    machine.fire(E.UNLOCK_STARTED, method=AuthMethod.CARD)
    assert machine.fire(E.LOGGED_OUT) is S.LOGGED_OUT
    assert (machine.lock_reason, machine.method, machine.attempt, machine.patient_mode) == (
        None,
        None,
        None,
        None,
    )
    assert not machine.resuming
    assert machine.fire(E.LOGGED_OUT) is S.LOGGED_OUT
    machine.fire(E.LOGIN_STARTED, method=AuthMethod.CARD)
    machine.fire(E.LOGIN_SUCCEEDED)
    assert machine.generation == 2  # a new session


@pytest.mark.parametrize(
    ("event", "kwargs", "message"),
    [
        (E.LOGIN_STARTED, {}, "needs the method"),
        (E.LOCKED, {}, "needs a reason"),
    ],
)
def test_events_need_their_argument(
    event: SessionEvent, kwargs: dict[str, object], message: str
) -> None:
    machine = SessionMachine() if event is E.LOGIN_STARTED else active()
    with pytest.raises(InvalidTransitionError, match=message):
        machine.fire(event, **kwargs)  # type: ignore[arg-type]


def test_a_locked_session_does_not_lock_again() -> None:
    machine = active()
    machine.fire(E.LOCKED, reason=LockReason.USER)
    assert not machine.allowed(E.LOCKED, reason=LockReason.IDLE)
    assert not machine.allowed(E.PATIENT_CLOSED)
    assert not machine.patient_data_allowed


def test_binding_messages_are_short_and_unambiguous() -> None:
    codes = {new_binding_message() for _ in range(200)}
    assert len(codes) > 150  # random
    for code in codes:
        assert len(code) == 4
        assert set(code) <= set(BINDING_ALPHABET)
        assert not set(code) & set("0O1IL2Z5S8B")


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("899700000011", True),
        ("1997000456/SEC0042", True),
        ("810001234567", True),
        ("", False),
        ("12", False),
        ("8997 0000", False),
        ("/8997000", False),
        ("89970000é1", False),
        ("8" * 41, False),
    ],
)
def test_national_identifier_shape(text: str, valid: bool) -> None:
    assert is_valid_id_nat(text) is valid
    assert re.fullmatch(r"[0-9A-Za-z/-]*", text) or not valid


# -- stateful: any sequence of events -----------------------------------------------------------

methods = st.sampled_from(AuthMethod)
reasons = st.sampled_from(LockReason)
modes = st.sampled_from(AccessMode)


class SessionMachineModel(RuleBasedStateMachine):
    """Fires every event, allowed or not, and checks the machine against an independent model.

    The model: (state, method, resuming, lock reason, patient mode, generation). Every refused
    event must raise and change nothing; every accepted one must land where the model says.
    """

    def __init__(self) -> None:
        super().__init__()
        self.machine = SessionMachine()
        self.state = S.LOGGED_OUT
        self.method: AuthMethod | None = None
        self.attempt: AuthMethod | None = None
        self.resuming = False
        self.reason: LockReason | None = None
        self.mode: AccessMode | None = None
        self.generation = 0
        self.entered_active_from: list[SessionState] = []

    # -- the model ------------------------------------------------------------------------------
    def _expect(
        self,
        event: SessionEvent,
        reason: LockReason | None = None,
        method: AuthMethod | None = None,
        mode: AccessMode | None = None,
    ) -> bool:
        """Apply `event` to the model; whether it is allowed."""
        state = self.state
        if event is E.LOGGED_OUT:
            self.state, self.method, self.attempt, self.resuming = S.LOGGED_OUT, None, None, False
            self.reason = self.mode = None
            return True
        if event is E.LOGIN_STARTED and state is S.LOGGED_OUT and method is not None:
            self.state, self.attempt, self.resuming = S.AUTHENTICATING, method, False
            return True
        if event is E.UNLOCK_STARTED and state is S.LOCKED and method is not None:
            self.state, self.attempt, self.resuming = S.AUTHENTICATING, method, True
            return True
        if event is E.LOGIN_SUCCEEDED and state is S.AUTHENTICATING:
            self.generation += 0 if self.resuming else 1
            self.state, self.method, self.attempt = S.ACTIVE, self.attempt, None
            self.resuming, self.reason, self.mode = False, None, None
            return True
        failing = event is E.LOGIN_FAILED or (event is E.LOCKED and reason is not None)
        if failing and state is S.AUTHENTICATING:
            self.attempt = None
            if self.resuming:
                self.state, self.resuming = S.LOCKED, False  # locked as before
            else:
                self.state, self.method, self.reason = S.LOGGED_OUT, None, None
            return True
        if event is E.PATIENT_OPENED and state is S.ACTIVE and mode is not None:
            self.mode = mode
            return True
        if event is E.PATIENT_CLOSED and state is S.ACTIVE:
            self.mode = None
            return True
        if event is E.LOCKED and state is S.ACTIVE and reason is not None:
            if reason is LockReason.CARD_REMOVED and self.method is not AuthMethod.CARD:
                return False
            self.state, self.reason, self.mode = S.LOCKED, reason, None
            return True
        return False

    def _fire(
        self,
        event: SessionEvent,
        reason: LockReason | None = None,
        method: AuthMethod | None = None,
        mode: AccessMode | None = None,
    ) -> None:
        before = copy.copy(self.machine)
        allowed = self.machine.allowed(event, reason=reason, method=method, mode=mode)
        expected = self._expect(event, reason, method, mode)
        assert allowed is expected, (event, before)
        if not expected:
            with pytest.raises(InvalidTransitionError):
                self.machine.fire(event, reason=reason, method=method, mode=mode)
            assert self.machine == before  # a refused event changes nothing
            return
        previous = self.machine.state
        self.machine.fire(event, reason=reason, method=method, mode=mode)
        if self.machine.state is S.ACTIVE and previous is not S.ACTIVE:
            self.entered_active_from.append(previous)

    # -- rules: every event, with any argument (None included) ------------------------------
    @rule(method=st.none() | methods)
    def login_started(self, method: AuthMethod | None) -> None:
        self._fire(E.LOGIN_STARTED, method=method)

    @rule(method=st.none() | methods)
    def unlock_started(self, method: AuthMethod | None) -> None:
        self._fire(E.UNLOCK_STARTED, method=method)

    @rule()
    def login_succeeded(self) -> None:
        self._fire(E.LOGIN_SUCCEEDED)

    @rule()
    def login_failed(self) -> None:
        self._fire(E.LOGIN_FAILED)

    @rule(mode=st.none() | modes)
    def patient_opened(self, mode: AccessMode | None) -> None:
        self._fire(E.PATIENT_OPENED, mode=mode)

    @rule()
    def patient_closed(self) -> None:
        self._fire(E.PATIENT_CLOSED)

    @rule(reason=st.none() | reasons)
    def locked(self, reason: LockReason | None) -> None:
        self._fire(E.LOCKED, reason=reason)

    @precondition(lambda self: self.state is not S.LOGGED_OUT)
    @rule()
    def logged_out(self) -> None:
        self._fire(E.LOGGED_OUT)

    # -- invariants ---------------------------------------------------------------------------
    @invariant()
    def matches_the_model(self) -> None:
        m = self.machine
        assert (m.state, m.method, m.attempt, m.resuming) == (
            self.state,
            self.method,
            self.attempt,
            self.resuming,
        )
        assert (m.lock_reason, m.patient_mode, m.generation) == (
            self.reason,
            self.mode,
            self.generation,
        )

    @invariant()
    def patient_data_only_in_active(self) -> None:
        m = self.machine
        assert m.patient_data_allowed is (m.state is S.ACTIVE)
        if m.state is not S.ACTIVE:
            assert m.patient_mode is None

    @invariant()
    def fields_match_the_state(self) -> None:
        m = self.machine
        assert (m.attempt is not None) is (m.state is S.AUTHENTICATING)
        if m.resuming:
            assert m.state is S.AUTHENTICATING
        open_session = m.state in (S.ACTIVE, S.LOCKED) or m.resuming
        assert (m.method is not None) is open_session
        assert (m.lock_reason is not None) is (m.state is S.LOCKED or m.resuming)
        if m.method is AuthMethod.ECPS:  # an e-CPS session has no card to lose
            assert m.lock_reason is not LockReason.CARD_REMOVED

    @invariant()
    def active_only_through_authenticating(self) -> None:
        assert set(self.entered_active_from) <= {S.AUTHENTICATING}

    @invariant()
    def locked_is_reachable_from_active(self) -> None:
        if self.machine.state is not S.ACTIVE:
            return
        reasons_ok = [LockReason.IDLE, LockReason.USER, LockReason.EXPIRED]
        if self.machine.method is AuthMethod.CARD:
            reasons_ok.append(LockReason.CARD_REMOVED)
        for reason in reasons_ok:
            probe = copy.copy(self.machine)
            assert probe.fire(E.LOCKED, reason=reason) is S.LOCKED
            assert probe.patient_mode is None

    @invariant()
    def logout_is_always_possible(self) -> None:
        probe = copy.copy(self.machine)
        assert probe.allowed(E.LOGGED_OUT)
        assert probe.fire(E.LOGGED_OUT) is S.LOGGED_OUT
        assert (probe.method, probe.lock_reason, probe.patient_mode, probe.attempt) == (
            None,
            None,
            None,
            None,
        )

    @invariant()
    def no_shortcut_out_of_logged_out(self) -> None:
        if self.machine.state is S.LOGGED_OUT:
            for event in (E.LOGIN_SUCCEEDED, E.UNLOCK_STARTED, E.PATIENT_OPENED, E.LOCKED):
                assert not self.machine.allowed(
                    event, reason=LockReason.USER, method=AuthMethod.CARD, mode=AccessMode.NORMAL
                )


SessionMachineModel.TestCase.settings = settings(
    max_examples=500,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestSessionMachineModel = SessionMachineModel.TestCase
