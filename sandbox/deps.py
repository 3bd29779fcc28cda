"""Request-scoped dependencies: the store, the settings, the clock and the caller.

Bearer tokens are random strings stored hashed (sha256) in the ``tokens`` table. A
*professional* token comes from card or e-CPS login; a *patient* token from
``POST /auth/access``, scoped to one patient and one access episode (mode).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from fastapi import Request

from console.domain.models import AccessMode, Actor
from sandbox.config import Settings
from sandbox.errors import FhirError
from sandbox.store import Store

_BEARER = {"WWW-Authenticate": 'Bearer realm="dmp-sandbox"'}


def get_store(request: Request) -> Store:
    return cast(Store, request.app.state.store)


def get_settings(request: Request) -> Settings:
    return cast(Settings, request.app.state.settings)


def get_clock(request: Request) -> Callable[[], float]:
    """Epoch seconds; tests replace ``app.state.clock`` to make time pass."""
    return cast(Callable[[], float], request.app.state.clock)


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling, with which token."""

    actor: Actor
    kind: str
    """"professional" or "patient"."""
    patient_ins: str | None = None
    mode: AccessMode | None = None
    episode_id: str | None = None
    token_hash: str = ""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(
    store: Store,
    *,
    id_nat: str,
    kind: str,
    expires: float,
    patient_ins: str | None = None,
    episode_id: str | None = None,
) -> str:
    """Create a bearer token; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    store.execute(
        "INSERT INTO tokens(token_hash, id_nat, kind, patient_ins, episode_id, expires)"
        " VALUES (?,?,?,?,?,?)",
        (hash_token(token), id_nat, kind, patient_ins, episode_id, expires),
    )
    return token


def _bearer(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise FhirError(
            401,
            "Authentification requise : jeton Bearer absent.",
            reason="no_token",
            headers=_BEARER,
        )
    return value.strip()


def _trace_expired_episode(store: Store, episode_id: str, now: float) -> None:
    """A caller using a timed-out episode's token: its end is traced first (once)."""
    episode = store.query_one("SELECT ended, ends FROM access_episodes WHERE id = ?", (episode_id,))
    if episode is not None and episode["ended"] is None and episode["ends"] <= now:
        from sandbox.auth import close_expired_episodes  # auth imports this module

        close_expired_episodes(store, now)


def get_principal(request: Request) -> Principal:
    """The authenticated caller, or 401 (absent, unknown, expired, revoked token)."""
    store = get_store(request)
    token_hash = hash_token(_bearer(request))
    row = store.query_one("SELECT * FROM tokens WHERE token_hash = ?", (token_hash,))
    if row is None:
        raise FhirError(401, "Jeton inconnu ou falsifié.", reason="invalid_token", headers=_BEARER)
    now = get_clock(request)()
    if row["episode_id"] is not None:
        _trace_expired_episode(store, row["episode_id"], now)
    if row["expires"] <= now:
        raise FhirError(401, "Jeton expiré.", reason="expired_token", headers=_BEARER)
    if row["revoked"]:
        raise FhirError(401, "Jeton révoqué.", reason="revoked_token", headers=_BEARER)
    mode: AccessMode | None = None
    if row["episode_id"] is not None:
        episode = store.query_one(
            "SELECT mode, ended, ends FROM access_episodes WHERE id = ?", (row["episode_id"],)
        )
        if episode is None or episode["ended"] is not None or episode["ends"] <= now:
            raise FhirError(
                401,
                "Le mode d'accès de ce jeton est terminé.",
                reason="episode_ended",
                headers=_BEARER,
            )
        mode = AccessMode(episode["mode"])
    actor = store.actor(row["id_nat"])
    if actor is None:
        raise FhirError(401, "Professionnel inconnu de l'annuaire.", reason="unknown_actor")
    return Principal(
        actor=actor,
        kind=row["kind"],
        patient_ins=row["patient_ins"],
        mode=mode,
        episode_id=row["episode_id"],
        token_hash=token_hash,
    )


def require_patient_scope(principal: Principal, ins: str) -> AccessMode:
    """403 unless ``principal`` holds a patient token for ``ins``; returns its mode."""
    if principal.kind != "patient" or principal.mode is None:
        raise FhirError(
            403,
            "Aucun mode d'accès ouvert pour ce patient : appelez POST /auth/access d'abord.",
            reason="no_access_mode",
        )
    if principal.patient_ins != ins:
        raise FhirError(403, "Ce jeton est limité à un autre patient.", reason="other_patient")
    return principal.mode
