"""Authentication and access modes of the sandbox (design.md section 4, "Auth").

* CPS/CPE card: ``POST /auth/challenge`` gives a single-use nonce; ``POST /auth/card``
  answers it with the card's certificate and its signature over the nonce (RS256 or PS256).
  The certificate must chain to the sandbox test CA, the signature must verify with its key,
  and its holder must be in the professional directory with the same names and card kind.
* e-CPS push login, CIBA poll mode as Pro Santé Connect plays it: ``POST /auth/ciba``
  (form: ``login_hint`` = idNat, ``binding_message``, ``scope``) then ``POST /auth/token``
  (form: ``grant_type=urn:openid:params:grant-type:ciba``, ``auth_req_id``). The phone is
  played by ``POST /sandbox/ecps/{auth_req_id}/approve`` (or ``/deny``) and
  ``GET /sandbox/ecps/pending``. These two OAuth endpoints answer errors as OAuth JSON
  (``{"error", "error_description"}``), everything else as OperationOutcome.
* e-CPS refresh: the CIBA token answer also carries a ``refresh_token`` (cards renew by
  signing a new challenge and get none). ``POST /auth/token`` (form:
  ``grant_type=refresh_token``, ``refresh_token``) exchanges it for a new access token and a
  new refresh token, without the phone; the one presented is used up (rotation). Presenting
  a used one again revokes its whole family (every refresh token of that login and the
  access tokens they gave). No token of a login outlives ``ecps_session_max_s`` after its
  approval on the phone.
* ``POST /auth/access`` opens a patient's record in an access mode (normal, bris de glace,
  centre 15) after :func:`console.domain.rules.check_patient_access`, and issues a token
  scoped to that patient and to that *access episode*; ``POST /auth/access/end`` ends it.
  A professional holds at most one open episode per patient: opening another one ends the
  previous one (end reason ``superseded``).
* ``GET /auth/whoami`` describes the caller's token.

Every login attempt, every refresh attempt and every access mode change is an AuditEvent.
Nothing here ever logs or audits a certificate, a signature, a token or a PIN.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import sqlite3
import unicodedata
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, cast
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography import x509
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from console.domain.errors import InvalidINSError
from console.domain.ins import INS
from console.domain.models import AccessMode, Actor
from console.domain.rules import (
    BRIS_DE_GLACE_REASONS,
    CONSENT_METHODS,
    AccessRequest,
    check_patient_access,
    in_care_team,
)
from sandbox import pki
from sandbox.config import Settings
from sandbox.deps import (
    Principal,
    get_clock,
    get_principal,
    get_settings,
    get_store,
    hash_token,
    issue_token,
)
from sandbox.errors import FhirError
from sandbox.store import Store

__all__ = ["CIBA_GRANT_TYPE", "REFRESH_GRANT_TYPE", "router"]

log = logging.getLogger(__name__)

router = APIRouter()

CIBA_GRANT_TYPE: Final = "urn:openid:params:grant-type:ciba"
REFRESH_GRANT_TYPE: Final = "refresh_token"
SIGNATURE_ALGORITHMS: Final = ("RS256", "PS256")

AUTH_TYPE: Final = "110114"
"""DICOM audit event type "User Authentication" (logins)."""
SECURITY_ALERT_TYPE: Final = "110113"
"""DICOM audit event type "Security Alert" (bris de glace started / stopped)."""

BINDING_MESSAGE_MAX: Final = 64
"""Longest binding message shown on the phone (CIBA: "relatively short")."""
POLL_TOLERANCE_S: Final = 0.25
"""A poll this much early is still on time (client timers and the server clock differ)."""
_END_REASON = re.compile(r"^[a-z][a-z0-9_]{0,31}$")
_CHALLENGE_GRACE_S: Final = 3600.0
"""Expired challenges are kept this long (to say "expired" rather than "unknown")."""

_NO_STORE: Final = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_JSON_TYPES: Final = ("application/json", "application/fhir+json")
_FORM_TYPE: Final = "application/x-www-form-urlencoded"


# -- small helpers ---------------------------------------------------------------------------
def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _french_time(epoch: float) -> str:
    """``le 03/02/2025 à 14:05`` in French local time (UTC when no time zone data)."""
    try:
        zone: ZoneInfo | None = ZoneInfo("Europe/Paris")
    except ZoneInfoNotFoundError:
        zone = None
    moment = datetime.fromtimestamp(epoch, zone or UTC)
    suffix = "" if zone is not None else " (UTC)"
    return moment.strftime("le %d/%m/%Y à %H:%M") + suffix


def _duration(seconds: float) -> str:
    total = max(0, round(seconds))
    minutes, secs = divmod(total, 60)
    return f"{minutes} min {secs:02d} s"


def _same_name(a: str, b: str) -> bool:
    def norm(text: str) -> str:
        return " ".join(unicodedata.normalize("NFC", text).casefold().split())

    return norm(a) == norm(b)


def _media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def _json_object(request: Request) -> dict[str, Any]:
    """The JSON object body of ``request`` (an empty body is an empty object)."""
    media = _media_type(request)
    if media and media not in _JSON_TYPES:
        raise FhirError(
            415,
            f"Type de contenu {media!r} non pris en charge : envoyez un objet JSON "
            "(application/json).",
            reason="unsupported_media_type",
        )
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise FhirError(400, "Corps de requête JSON mal formé.", reason="malformed_json") from None
    if not isinstance(data, dict):
        raise FhirError(400, "Le corps de la requête doit être un objet JSON.", reason="not_object")
    return cast(dict[str, Any], data)


def _text(body: dict[str, Any], key: str, *, required: bool) -> str | None:
    """``body[key]`` as a string; None when absent or blank and not ``required`` (else 400)."""
    value = body.get(key)
    if value is not None and not isinstance(value, str):
        raise FhirError(
            400, f"Le champ {key} doit être une chaîne de caractères.", reason="invalid_field"
        )
    if value is None or not value.strip():
        if required:
            raise FhirError(400, f"Champ obligatoire absent : {key}.", reason="missing_field")
        return None
    return value


def _b64(value: str, what: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise FhirError(
            400, f"{what} : encodage base64 invalide.", reason="malformed_base64"
        ) from None


def _professional_row(store: Store, id_nat: str) -> sqlite3.Row | None:
    return store.query_one(
        "SELECT p.*, s.name AS structure_name FROM professionals p "
        "JOIN structures s ON s.id = p.structure_id WHERE p.id_nat = ?",
        (id_nat,),
    )


def _token_answer(store: Store, settings: Settings, id_nat: str, now: float) -> JSONResponse:
    ttl = settings.professional_token_ttl_s
    token = issue_token(store, id_nat=id_nat, kind="professional", expires=now + ttl)
    return JSONResponse(
        {"access_token": token, "token_type": "Bearer", "expires_in": ttl}, headers=_NO_STORE
    )


def _ca_certificate(request: Request) -> x509.Certificate:
    """The sandbox test CA certificate, read once per app."""
    cached = getattr(request.app.state, "ca_certificate", None)
    if isinstance(cached, x509.Certificate):
        return cached
    try:
        ca = pki.load_ca_certificate(request.app.state.directory)
    except (OSError, ValueError):
        log.exception("sandbox test CA unreadable")
        raise FhirError(
            503,
            "L'autorité de certification de test du bac à sable est introuvable : "
            "lancez `dmp-sandbox init` sur ce répertoire.",
            reason="no_test_ca",
        ) from None
    request.app.state.ca_certificate = ca
    return ca


# -- CPS / CPE card ----------------------------------------------------------------------------
@router.post("/auth/challenge", tags=["auth"])
async def challenge(request: Request) -> JSONResponse:
    """A fresh single-use nonce for the card to sign."""
    store, settings, now = get_store(request), get_settings(request), get_clock(request)()
    nonce = secrets.token_urlsafe(32)
    with store.transaction() as conn:
        conn.execute("DELETE FROM challenges WHERE expires < ?", (now - _CHALLENGE_GRACE_S,))
        conn.execute(
            "INSERT INTO challenges(nonce, expires, used) VALUES (?, ?, 0)",
            (nonce, now + settings.challenge_ttl_s),
        )
    return JSONResponse({"nonce": nonce, "expires_in": settings.challenge_ttl_s}, headers=_NO_STORE)


def _consume_nonce(store: Store, nonce: str, now: float) -> None:
    """Mark ``nonce`` used (whatever happens next); 401 if unknown, used or expired."""
    with store.transaction() as conn:
        row = conn.execute("SELECT expires, used FROM challenges WHERE nonce = ?", (nonce,))
        found = row.fetchone()
        if found is not None:
            conn.execute("UPDATE challenges SET used = 1 WHERE nonce = ?", (nonce,))
    if found is None:
        raise FhirError(
            401,
            "Défi inconnu : demandez-en un par POST /auth/challenge.",
            reason="unknown_nonce",
        )
    if found["used"]:
        raise FhirError(
            401, "Ce défi a déjà été utilisé : il est à usage unique.", reason="nonce_reused"
        )
    if found["expires"] <= now:
        raise FhirError(401, "Ce défi a expiré : demandez-en un nouveau.", reason="nonce_expired")


def _check_chain(cert: x509.Certificate, ca: x509.Certificate, now: float) -> None:
    moment = datetime.fromtimestamp(now, UTC)
    try:
        pki.verify_card_certificate(cert, ca, now=moment)
    except pki.CertificateError as exc:
        # Tell an out-of-validity certificate of our CA from a foreign or forged one.
        try:
            pki.verify_card_certificate(cert, ca, now=cert.not_valid_before_utc)
        except pki.CertificateError:
            raise FhirError(
                401,
                "Certificat non reconnu : il n'est pas émis par l'autorité de test du bac à "
                f"sable ({exc}).",
                reason="untrusted_certificate",
            ) from None
        if moment > cert.not_valid_after_utc:
            raise FhirError(
                401,
                "Certificat de carte expiré (valide jusqu'au "
                f"{cert.not_valid_after_utc.date().isoformat()}).",
                reason="expired_certificate",
            ) from None
        raise FhirError(
            401,
            "Certificat de carte pas encore valide (valide à partir du "
            f"{cert.not_valid_before_utc.date().isoformat()}).",
            reason="certificate_not_yet_valid",
        ) from None


def _check_directory(store: Store, identity: pki.CardIdentity) -> Actor:
    """The directory's actor for the certificate's holder; 401 if unknown or different."""
    row = _professional_row(store, identity.id_nat)
    actor = store.actor(identity.id_nat)
    if row is None or actor is None:
        raise FhirError(
            401,
            f"Identifiant national {identity.id_nat} inconnu de l'annuaire du bac à sable.",
            reason="unknown_professional",
        )
    mismatches = []
    if not _same_name(identity.family_name, row["family_name"]):
        mismatches.append("nom")
    if not _same_name(identity.given_name, row["given_name"]):
        mismatches.append("prénom")
    if not _same_name(identity.profession_label, row["profession_label"]):
        mismatches.append("profession")
    if identity.card_kind != row["card_kind"]:
        mismatches.append("type de carte")
    if identity.card_kind == "CPE" and identity.structure_id != row["structure_id"]:
        mismatches.append("structure")
    if mismatches:
        raise FhirError(
            401,
            "Le certificat ne correspond pas à l'annuaire pour "
            f"{identity.id_nat} ({', '.join(mismatches)}).",
            reason="identity_mismatch",
        )
    return actor


@router.post("/auth/card", tags=["auth"])
async def card_login(request: Request) -> JSONResponse:
    """Challenge-response login with a CPS (or CPE) card."""
    store, settings, now = get_store(request), get_settings(request), get_clock(request)()
    claimed: str | None = None
    actor: Actor | None = None
    kind = "carte"
    try:
        body = await _json_object(request)
        nonce = cast(str, _text(body, "nonce", required=True))
        _consume_nonce(store, nonce, now)
        cert_b64 = cast(str, _text(body, "certificate", required=True))
        sig_b64 = cast(str, _text(body, "signature", required=True))
        algorithm = cast(str, _text(body, "algorithm", required=True))
        if algorithm not in SIGNATURE_ALGORITHMS:
            raise FhirError(
                400,
                f"Algorithme de signature {algorithm!r} non pris en charge "
                f"(attendu : {' ou '.join(SIGNATURE_ALGORITHMS)}).",
                reason="unsupported_algorithm",
            )
        der = _b64(cert_b64, "Certificat")
        signature = _b64(sig_b64, "Signature")
        try:
            cert = x509.load_der_x509_certificate(der)
        except ValueError:
            raise FhirError(
                400, "Certificat illisible : DER X.509 attendu.", reason="malformed_certificate"
            ) from None
        try:
            identity = pki.parse_card_certificate(cert)
        except ValueError as exc:
            raise FhirError(
                401,
                f"Ce certificat n'est pas un certificat de carte CPS/CPE ({exc}).",
                reason="not_a_card_certificate",
            ) from None
        claimed, kind = identity.id_nat, f"carte {identity.card_kind}"
        _check_chain(cert, _ca_certificate(request), now)
        actor = store.actor(identity.id_nat)
        try:
            pki.verify_signature(cert, nonce.encode("utf-8"), signature, algorithm)
        except pki.SignatureError:
            raise FhirError(
                401,
                "La signature du défi ne correspond pas au certificat présenté.",
                reason="bad_signature",
            ) from None
        actor = _check_directory(store, identity)
    except FhirError as exc:
        who = f" (idNat annoncé : {claimed})" if claimed else ""
        store.audit(
            subtype="login",
            action="E",
            agent=actor,
            patient_ins=None,
            outcome="4",
            type_code=AUTH_TYPE,
            description=f"Connexion par {kind} refusée{who} : {exc.reason} : {exc.diagnostics}",
        )
        log.info("card login refused: %s", exc.reason)
        raise
    store.audit(
        subtype="login",
        action="E",
        agent=actor,
        patient_ins=None,
        type_code=AUTH_TYPE,
        description=f"Connexion par {kind} ({algorithm}).",
    )
    return _token_answer(store, settings, actor.id_nat, now)


# -- e-CPS (CIBA) ------------------------------------------------------------------------------
class _OAuthError(Exception):
    """An OAuth 2.0 / CIBA error answer: ``{"error", "error_description"}``, status 400."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> JSONResponse:
        return JSONResponse(
            {"error": self.error, "error_description": self.description},
            status_code=self.status,
            headers=_NO_STORE,
        )


async def _form(request: Request) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (each parameter at most once)."""
    if _media_type(request) != _FORM_TYPE:
        raise _OAuthError("invalid_request", f"Le corps doit être de type {_FORM_TYPE}.")
    try:
        text = (await request.body()).decode("utf-8")
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=False, errors="strict")
    except (UnicodeDecodeError, ValueError):
        raise _OAuthError("invalid_request", "Corps de formulaire mal encodé.") from None
    repeated = sorted(k for k, v in parsed.items() if len(v) > 1)
    if repeated:
        raise _OAuthError("invalid_request", f"Paramètre répété : {', '.join(repeated)}.")
    return {k: v[0] for k, v in parsed.items()}


def _poll_times(request: Request) -> dict[str, float]:
    """Last poll time of each CIBA request (memory only: a restart forgets it, harmlessly)."""
    times = getattr(request.app.state, "ciba_last_poll", None)
    if not isinstance(times, dict):
        times = {}
        request.app.state.ciba_last_poll = times
    return cast(dict[str, float], times)


@router.post("/auth/ciba", tags=["auth"])
async def ciba_start(request: Request) -> JSONResponse:
    """Backchannel authentication request: push a login request to the professional's phone."""
    store, settings, now = get_store(request), get_settings(request), get_clock(request)()
    try:
        form = await _form(request)
        login_hint = form.get("login_hint", "").strip()
        if not login_hint:
            raise _OAuthError("invalid_request", "Paramètre login_hint (idNat) absent.")
        binding = form.get("binding_message", "").strip()
        if not binding:
            raise _OAuthError("invalid_request", "Paramètre binding_message absent.")
        if len(binding) > BINDING_MESSAGE_MAX:
            raise _OAuthError(
                "invalid_binding_message",
                f"binding_message trop long (au plus {BINDING_MESSAGE_MAX} caractères).",
            )
        scope = form.get("scope", "").strip() or "openid"
        if store.actor(login_hint) is None:
            store.audit(
                subtype="login",
                action="E",
                agent=None,
                patient_ins=None,
                outcome="4",
                type_code=AUTH_TYPE,
                description=f"Connexion e-CPS refusée : identifiant {login_hint} inconnu.",
            )
            raise _OAuthError(
                "unknown_user_id",
                "Identifiant national inconnu de l'annuaire du bac à sable.",
            )
    except _OAuthError as exc:
        return exc.response()
    auth_req_id = secrets.token_urlsafe(24)
    store.execute(
        "INSERT INTO ciba_requests(auth_req_id, id_nat, binding_message, scope, created,"
        " expires, interval, status) VALUES (?,?,?,?,?,?,?, 'pending')",
        (
            auth_req_id,
            login_hint,
            binding,
            scope,
            now,
            now + settings.ciba_expires_s,
            settings.ciba_interval_s,
        ),
    )
    return JSONResponse(
        {
            "auth_req_id": auth_req_id,
            "expires_in": settings.ciba_expires_s,
            "interval": settings.ciba_interval_s,
        },
        headers=_NO_STORE,
    )


@router.post("/auth/token", tags=["auth"])
async def token(request: Request) -> JSONResponse:
    """The token endpoint: the CIBA grant (poll mode) and the e-CPS sessions' refresh grant."""
    store, settings, now = get_store(request), get_settings(request), get_clock(request)()
    try:
        form = await _form(request)
        grant_type = form.get("grant_type", "")
        if grant_type == REFRESH_GRANT_TYPE:
            return _refresh(store, settings, form.get("refresh_token", ""), now)
        if grant_type != CIBA_GRANT_TYPE:
            raise _OAuthError(
                "unsupported_grant_type",
                f"Seuls les grant_type {CIBA_GRANT_TYPE} et {REFRESH_GRANT_TYPE} sont pris en "
                "charge.",
            )
        auth_req_id = form.get("auth_req_id", "")
        if not auth_req_id:
            raise _OAuthError("invalid_request", "Paramètre auth_req_id absent.")
        id_nat = _poll(request, store, auth_req_id, now)
    except _OAuthError as exc:
        return exc.response()
    with store.transaction():
        tokens = _ecps_tokens(
            store,
            settings,
            id_nat,
            now,
            family_id=uuid.uuid4().hex,
            session_ends=now + settings.ecps_session_max_s,
        )
    return tokens.response()


@dataclass(frozen=True, slots=True)
class _EcpsTokens:
    """An e-CPS token answer: the access token and the refresh token that renews it."""

    access_token: str = field(repr=False)
    refresh_token: str = field(repr=False)
    expires_in: int

    def response(self) -> JSONResponse:
        return JSONResponse(
            {
                "access_token": self.access_token,
                "token_type": "Bearer",
                "expires_in": self.expires_in,
                "refresh_token": self.refresh_token,
            },
            headers=_NO_STORE,
        )


def _ecps_tokens(
    store: Store,
    settings: Settings,
    id_nat: str,
    now: float,
    *,
    family_id: str,
    session_ends: float,
) -> _EcpsTokens:
    """Issue (inside a transaction) an access token and the next refresh token of a family;
    neither outlives ``session_ends``."""
    access_expires = min(now + settings.professional_token_ttl_s, session_ends)
    access = issue_token(store, id_nat=id_nat, kind="professional", expires=access_expires)
    refresh = secrets.token_urlsafe(32)
    store.execute(
        "INSERT INTO refresh_tokens(token_hash, family_id, id_nat, access_hash, created,"
        " expires, session_ends) VALUES (?,?,?,?,?,?,?)",
        (
            hash_token(refresh),
            family_id,
            id_nat,
            hash_token(access),
            now,
            min(now + settings.refresh_token_ttl_s, session_ends),
            session_ends,
        ),
    )
    return _EcpsTokens(access, refresh, max(0, int(access_expires - now)))


def _refresh(store: Store, settings: Settings, refresh_token: str, now: float) -> JSONResponse:
    """The refresh grant: a new access token and the next refresh token, or raise _OAuthError."""
    if not refresh_token:
        raise _OAuthError("invalid_request", "Paramètre refresh_token absent.")
    with store.transaction() as conn:  # a refusal's revocation and trace are committed too
        answer = _refresh_in(store, settings, conn, refresh_token, now)
    if isinstance(answer, _OAuthError):
        raise answer
    return answer.response()


def _refresh_in(
    store: Store, settings: Settings, conn: sqlite3.Connection, refresh_token: str, now: float
) -> _EcpsTokens | _OAuthError:
    token_hash = hash_token(refresh_token)
    row = conn.execute(
        "SELECT * FROM refresh_tokens WHERE token_hash = ?", (token_hash,)
    ).fetchone()
    again = "une nouvelle validation e-CPS sur le téléphone est nécessaire."
    if row is None:
        _audit_refresh(store, None, "4", "Renouvellement e-CPS refusé : jeton inconnu.")
        return _OAuthError("invalid_grant", f"Jeton de rafraîchissement inconnu : {again}")
    actor = store.actor(row["id_nat"])
    if row["revoked"]:
        _audit_refresh(store, actor, "4", "Renouvellement e-CPS refusé : session révoquée.")
        return _OAuthError(
            "invalid_grant", f"Jeton de rafraîchissement révoqué (session e-CPS fermée) : {again}"
        )
    if row["used"] is not None:
        # A used token comes back: it leaked, or a client kept an old copy. Nobody can tell
        # the thief from the professional, so the whole family stops (RFC 9700, the OAuth
        # security BCP: refresh token rotation).
        _revoke_family(conn, row["family_id"])
        _audit_refresh(
            store,
            actor,
            "8",
            "Renouvellement e-CPS refusé : jeton de rafraîchissement déjà utilisé (rejeu). "
            "La session e-CPS est révoquée.",
        )
        return _OAuthError(
            "invalid_grant",
            "Ce jeton de rafraîchissement a déjà été utilisé : par sécurité, la session e-CPS "
            f"est révoquée ; {again}",
        )
    if now >= row["expires"]:
        capped = row["expires"] >= row["session_ends"]
        what = "la durée maximale de la session e-CPS est atteinte" if capped else "il a expiré"
        _audit_refresh(store, actor, "4", f"Renouvellement e-CPS refusé : {what}.")
        return _OAuthError("invalid_grant", f"Jeton de rafraîchissement refusé, {what} : {again}")
    if actor is None:  # left the directory since the login
        gone = f"Renouvellement e-CPS refusé : {row['id_nat']} absent de l'annuaire."
        _audit_refresh(store, None, "4", gone)
        return _OAuthError("invalid_grant", "Professionnel absent de l'annuaire.")
    conn.execute("UPDATE refresh_tokens SET used = ? WHERE token_hash = ?", (now, token_hash))
    tokens = _ecps_tokens(
        store,
        settings,
        actor.id_nat,
        now,
        family_id=row["family_id"],
        session_ends=float(row["session_ends"]),
    )
    _audit_refresh(store, actor, "0", "Session e-CPS renouvelée (jeton de rafraîchissement).")
    return tokens


def _revoke_family(conn: sqlite3.Connection, family_id: str) -> None:
    """Revoke every refresh token of a family and the access tokens they were issued with."""
    conn.execute("UPDATE refresh_tokens SET revoked = 1 WHERE family_id = ?", (family_id,))
    conn.execute(
        "UPDATE tokens SET revoked = 1 WHERE token_hash IN "
        "(SELECT access_hash FROM refresh_tokens WHERE family_id = ?)",
        (family_id,),
    )


def _audit_refresh(store: Store, actor: Actor | None, outcome: str, description: str) -> None:
    store.audit(
        subtype="refresh",
        action="E",
        agent=actor,
        patient_ins=None,
        outcome=outcome,
        type_code=AUTH_TYPE,
        description=description,
    )


def _poll(request: Request, store: Store, auth_req_id: str, now: float) -> str:
    """One poll of ``auth_req_id``: the idNat to issue a token for, or raise _OAuthError."""
    with store.transaction() as conn:  # what changed is committed even when the poll fails
        answer = _poll_in(request, store, conn, auth_req_id, now)
    if isinstance(answer, _OAuthError):
        raise answer
    return answer


def _poll_in(
    request: Request, store: Store, conn: sqlite3.Connection, auth_req_id: str, now: float
) -> str | _OAuthError:
    polls = _poll_times(request)
    row = conn.execute("SELECT * FROM ciba_requests WHERE auth_req_id = ?", (auth_req_id,))
    found = row.fetchone()
    if found is None or found["status"] == "consumed":
        polls.pop(auth_req_id, None)
        return _OAuthError(
            "invalid_grant", "auth_req_id inconnu ou déjà utilisé pour obtenir un jeton."
        )
    actor = store.actor(found["id_nat"])
    if found["status"] == "denied":
        return _OAuthError("access_denied", "Le professionnel a refusé la connexion.")
    if found["status"] == "expired" or now >= found["expires"]:
        polls.pop(auth_req_id, None)
        if found["status"] != "expired":
            conn.execute(
                "UPDATE ciba_requests SET status = 'expired' WHERE auth_req_id = ?",
                (auth_req_id,),
            )
            store.audit(
                subtype="login",
                action="E",
                agent=actor,
                patient_ins=None,
                outcome="4",
                type_code=AUTH_TYPE,
                description="Connexion e-CPS expirée sans validation sur le téléphone.",
            )
        return _OAuthError("expired_token", "La demande d'authentification a expiré.")
    if found["status"] == "pending":
        last = polls.get(auth_req_id)
        polls[auth_req_id] = now
        if last is not None and now - last < found["interval"] - POLL_TOLERANCE_S:
            return _OAuthError(
                "slow_down",
                f"Interrogations trop rapprochées : attendez au moins {found['interval']} s "
                "entre deux appels (et allongez l'intervalle de 5 s).",
            )
        return _OAuthError("authorization_pending", "En attente de la validation sur le téléphone.")
    # approved: the token is handed out once
    conn.execute(
        "UPDATE ciba_requests SET status = 'consumed' WHERE auth_req_id = ?", (auth_req_id,)
    )
    polls.pop(auth_req_id, None)
    if actor is None:  # left the directory since the request
        return _OAuthError("access_denied", "Professionnel absent de l'annuaire.")
    store.audit(
        subtype="login",
        action="E",
        agent=actor,
        patient_ins=None,
        type_code=AUTH_TYPE,
        description="Connexion par e-CPS (CIBA).",
    )
    return actor.id_nat


def _phone_answer(request: Request, auth_req_id: str, approve: bool) -> JSONResponse:
    store, now = get_store(request), get_clock(request)()
    status = "approved" if approve else "denied"
    with store.transaction() as conn:
        row = conn.execute(
            "SELECT * FROM ciba_requests WHERE auth_req_id = ?", (auth_req_id,)
        ).fetchone()
        if row is None:
            raise FhirError(404, "Demande e-CPS inconnue.", reason="unknown_auth_req_id")
        if row["status"] != "pending" or now >= row["expires"]:
            state = "expired" if row["status"] == "pending" else row["status"]
            raise FhirError(
                409, f"Cette demande e-CPS n'est plus en attente ({state}).", reason="not_pending"
            )
        conn.execute(
            "UPDATE ciba_requests SET status = ? WHERE auth_req_id = ?", (status, auth_req_id)
        )
        if not approve:
            store.audit(
                subtype="login",
                action="E",
                agent=store.actor(row["id_nat"]),
                patient_ins=None,
                outcome="4",
                type_code=AUTH_TYPE,
                description="Connexion e-CPS refusée sur le téléphone.",
            )
    return JSONResponse({"auth_req_id": auth_req_id, "status": status})


@router.post("/sandbox/ecps/{auth_req_id}/approve", tags=["sandbox"])
async def ecps_approve(request: Request, auth_req_id: str) -> JSONResponse:
    """Play the phone: the professional accepts the login request."""
    return _phone_answer(request, auth_req_id, approve=True)


@router.post("/sandbox/ecps/{auth_req_id}/deny", tags=["sandbox"])
async def ecps_deny(request: Request, auth_req_id: str) -> JSONResponse:
    """Play the phone: the professional refuses the login request."""
    return _phone_answer(request, auth_req_id, approve=False)


@router.get("/sandbox/ecps/pending", tags=["sandbox"])
async def ecps_pending(request: Request, login_hint: str | None = None) -> JSONResponse:
    """The login requests waiting on a phone (all of them, or those of ``login_hint``)."""
    store, now = get_store(request), get_clock(request)()
    sql = "SELECT * FROM ciba_requests WHERE status = 'pending' AND expires > ?"
    params: list[Any] = [now]
    if login_hint:
        sql += " AND id_nat = ?"
        params.append(login_hint)
    rows = store.query(sql + " ORDER BY created", params)
    return JSONResponse(
        {
            "pending": [
                {
                    "auth_req_id": r["auth_req_id"],
                    "login_hint": r["id_nat"],
                    "binding_message": r["binding_message"],
                    "scope": r["scope"],
                    "expires_in": max(0, int(r["expires"] - now)),
                }
                for r in rows
            ]
        }
    )


# -- access modes --------------------------------------------------------------------------------
def _access_request(body: dict[str, Any]) -> AccessRequest:
    mode_text = cast(str, _text(body, "mode", required=True))
    try:
        mode = AccessMode(mode_text)
    except ValueError:
        raise FhirError(
            400,
            f"Mode d'accès inconnu : {mode_text!r} "
            f"(attendu : {', '.join(m.value for m in AccessMode)}).",
            reason="unknown_mode",
        ) from None
    consent = body.get("consent")
    method: str | None = None
    if consent is not None:
        if not isinstance(consent, dict):
            raise FhirError(
                400, 'Le champ consent doit être un objet {"method": ...}.', reason="invalid_field"
            )
        method = _text(cast(dict[str, Any], consent), "method", required=True)
    return AccessRequest(
        mode=mode,
        reason_code=_text(body, "reason_code", required=False),
        justification=_text(body, "justification", required=False),
        consent_method=method,
    )


def _require_professional(principal: Principal) -> None:
    if principal.kind != "professional":
        raise FhirError(
            403,
            "Cette opération exige le jeton du professionnel (connexion carte ou e-CPS), "
            "pas un jeton de patient.",
            reason="not_professional_token",
        )


def _audit_access(
    store: Store,
    actor: Actor,
    ins: str,
    request: AccessRequest,
    *,
    outcome: str,
    text: str,
    entity_ids: tuple[str, ...] = (),
) -> None:
    bris = request.mode is AccessMode.BRIS_DE_GLACE
    store.audit(
        subtype="emergency-override-started" if bris else "access",
        action="E",
        agent=actor,
        patient_ins=ins,
        purpose=request.mode.value,
        outcome=outcome,
        entity_ids=entity_ids,
        description=text,
        type_code=SECURITY_ALERT_TYPE if bris else "rest",
    )


def _end_episode(
    store: Store, episode: sqlite3.Row, actor: Actor | None, *, now: float, reason: str
) -> float:
    """End an open episode (inside a transaction): revoke its tokens, trace it."""
    ended = min(now, float(episode["ends"]))
    store.execute(
        "UPDATE access_episodes SET ended = ?, end_reason = ? WHERE id = ?",
        (ended, reason, episode["id"]),
    )
    store.execute("UPDATE tokens SET revoked = 1 WHERE episode_id = ?", (episode["id"],))
    mode = AccessMode(episode["mode"])
    duration = _duration(ended - float(episode["started"]))
    bris = mode is AccessMode.BRIS_DE_GLACE
    store.audit(
        subtype="emergency-override-stopped" if bris else "access-end",
        action="E",
        agent=actor,
        patient_ins=episode["patient_ins"],
        purpose=mode.value,
        entity_ids=(episode["id"],),
        description=(
            f"Fin {'du bris de glace' if bris else f'du mode {mode.value}'} "
            f"(motif de fin : {reason}), durée {duration}."
        ),
        type_code=SECURITY_ALERT_TYPE if bris else "rest",
    )
    return ended


def _notify_access(
    store: Store, actor: Actor, ins: str, req: AccessRequest, *, first: bool, now: float
) -> None:
    row = _professional_row(store, actor.id_nat)
    label = row["profession_label"] if row is not None else actor.profession
    who = f"{actor.display_name} ({label})"
    when = _french_time(now)
    if first:
        store.notify(
            patient_ins=ins,
            kind="first_access",
            actor=actor,
            message=f"{who} a accédé pour la première fois à votre dossier médical partagé {when}.",
        )
    if req.mode is AccessMode.BRIS_DE_GLACE:
        reason = BRIS_DE_GLACE_REASONS.get(req.reason_code or "", req.reason_code or "")
        store.notify(
            patient_ins=ins,
            kind="bris_de_glace",
            actor=actor,
            message=(
                f"{who} a accédé à votre dossier médical partagé en mode bris de glace (urgence) "
                f"{when}. Motif : {reason}."
            ),
        )
    elif req.mode is AccessMode.CENTRE_15:
        store.notify(
            patient_ins=ins,
            kind="centre_15",
            actor=actor,
            message=(
                f"{who}, médecin régulateur du centre 15, a accédé à votre dossier médical "
                f"partagé {when}."
            ),
        )


@router.post("/auth/access", tags=["auth"])
async def open_access(request: Request) -> JSONResponse:
    """Open a patient's record in an access mode; answer a token scoped to that patient."""
    principal = get_principal(request)
    _require_professional(principal)
    store, settings, now = get_store(request), get_settings(request), get_clock(request)()
    actor = principal.actor
    body = await _json_object(request)
    patient_text = cast(str, _text(body, "patient", required=True))
    try:
        ins = INS.parse(patient_text.strip())
    except InvalidINSError as exc:
        raise FhirError(422, f"INS du patient invalide : {exc}", reason="invalid_ins") from None
    req = _access_request(body)
    policy = store.policy(ins.value)
    if policy is None:
        raise FhirError(
            404, "Patient inconnu du DMP (aucun dossier pour cet INS).", reason="unknown_patient"
        )
    decision = check_patient_access(actor, policy, req)
    if not decision.allowed:
        assert decision.reason is not None
        _audit_access(
            store,
            actor,
            ins.value,
            req,
            outcome="4",
            text=f"Accès refusé (mode {req.mode.value}) : {decision.reason.value}.",
        )
        raise FhirError(403, decision.message, reason=decision.reason.value)

    ttl = float(settings.patient_token_ttl_s)
    if req.mode is AccessMode.BRIS_DE_GLACE:
        ttl = min(ttl, settings.bris_de_glace_s)
    ends = now + ttl
    episode_id = uuid.uuid4().hex
    if req.mode is AccessMode.BRIS_DE_GLACE:
        label = BRIS_DE_GLACE_REASONS[cast(str, req.reason_code)]
        text = f"{req.reason_code} ({label}) : {(req.justification or '').strip()}"
    elif req.mode is AccessMode.CENTRE_15:
        text = "Accès en mode centre 15 (régulation)."
    elif in_care_team(actor, policy):
        text = "Accès en mode normal (équipe de soins)."
    else:
        method = req.consent_method or ""
        text = f"Accès en mode normal ({CONSENT_METHODS.get(method, method).lower()})."
    with store.transaction():
        if (
            req.mode is AccessMode.NORMAL
            and not in_care_team(actor, policy)
            and req.consent_method is not None
        ):
            store.execute(
                "INSERT OR REPLACE INTO authorisations(patient_ins, id_nat, kind, method,"
                " created_at) VALUES (?, ?, 'care_team', ?, ?)",
                (ins.value, actor.id_nat, req.consent_method, _iso(now)),
            )
        first = (
            store.query_one(
                "SELECT 1 FROM access_episodes WHERE id_nat = ? AND patient_ins = ? LIMIT 1",
                (actor.id_nat, ins.value),
            )
            is None
        )
        for open_episode in store.query(
            "SELECT * FROM access_episodes WHERE id_nat = ? AND patient_ins = ? AND ended IS NULL",
            (actor.id_nat, ins.value),
        ):
            _end_episode(store, open_episode, actor, now=now, reason="superseded")
        store.execute(
            "INSERT INTO access_episodes(id, id_nat, patient_ins, mode, reason_code,"
            " justification, started, ends) VALUES (?,?,?,?,?,?,?,?)",
            (
                episode_id,
                actor.id_nat,
                ins.value,
                req.mode.value,
                req.reason_code if req.mode is AccessMode.BRIS_DE_GLACE else None,
                req.justification if req.mode is AccessMode.BRIS_DE_GLACE else None,
                now,
                ends,
            ),
        )
        access_token = issue_token(
            store,
            id_nat=actor.id_nat,
            kind="patient",
            expires=ends,
            patient_ins=ins.value,
            episode_id=episode_id,
        )
        _audit_access(
            store, actor, ins.value, req, outcome="0", text=text, entity_ids=(episode_id,)
        )
        _notify_access(store, actor, ins.value, req, first=first, now=now)
    return JSONResponse(
        {
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": int(ttl),
            "mode": req.mode.value,
            "episode_id": episode_id,
            "ends_at": _iso(ends),
            "patient": ins.token(),
        },
        headers=_NO_STORE,
    )


@router.post("/auth/access/end", tags=["auth"])
async def end_access(request: Request) -> JSONResponse:
    """End the access episode of the (patient) token: it and the episode stop at once.

    Accepts a token whose episode already ended or expired (idempotent), which is why it does
    not go through :func:`sandbox.deps.get_principal`.
    """
    store, now = get_store(request), get_clock(request)()
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise FhirError(401, "Authentification requise : jeton Bearer absent.", reason="no_token")
    row = store.query_one("SELECT * FROM tokens WHERE token_hash = ?", (hash_token(value.strip()),))
    if row is None:
        raise FhirError(401, "Jeton inconnu ou falsifié.", reason="invalid_token")
    if row["kind"] != "patient" or row["episode_id"] is None:
        raise FhirError(
            403,
            "Cette opération exige le jeton d'accès au patient (POST /auth/access).",
            reason="not_patient_token",
        )
    body = await _json_object(request)
    reason = (_text(body, "reason", required=False) or "user").strip()
    if not _END_REASON.match(reason):
        raise FhirError(
            400,
            "Motif de fin invalide (un code court : user, expired, card_removed, "
            "patient_closed, quit...).",
            reason="invalid_field",
        )
    actor = store.actor(row["id_nat"])
    with store.transaction():
        episode = store.query_one(
            "SELECT * FROM access_episodes WHERE id = ?", (row["episode_id"],)
        )
        if episode is None:
            raise FhirError(404, "Épisode d'accès inconnu.", reason="unknown_episode")
        already = episode["ended"] is not None
        if already:
            ended, end_reason = float(episode["ended"]), str(episode["end_reason"])
        else:
            ended, end_reason = _end_episode(store, episode, actor, now=now, reason=reason), reason
    return JSONResponse(
        {
            "episode_id": episode["id"],
            "mode": episode["mode"],
            "ended_at": _iso(ended),
            "end_reason": end_reason,
            "duration_s": int(ended - float(episode["started"])),
            "already_ended": already,
        }
    )


@router.get("/auth/whoami", tags=["auth"])
async def whoami(request: Request) -> JSONResponse:
    """Who the token belongs to, what it is for, and until when."""
    principal = get_principal(request)
    store = get_store(request)
    actor = principal.actor
    pro = _professional_row(store, actor.id_nat)
    token_row = store.query_one(
        "SELECT expires FROM tokens WHERE token_hash = ?", (principal.token_hash,)
    )
    expires = float(token_row["expires"]) if token_row is not None else 0.0
    patient: str | None = None
    if principal.patient_ins is not None:
        patient_row = store.patient_row(principal.patient_ins)
        system = patient_row["ins_system"] if patient_row is not None else ""
        patient = f"{system}|{principal.patient_ins}"
    return JSONResponse(
        {
            "id_nat": actor.id_nat,
            "name": actor.display_name,
            "family_name": actor.family_name,
            "given_name": actor.given_name,
            "profession": actor.profession,
            "profession_label": None if pro is None else pro["profession_label"],
            "specialty": actor.specialty,
            "structure": {"id": actor.structure_id, "name": actor.structure_name},
            "role": None if pro is None else pro["role"],
            "card_kind": None if pro is None else pro["card_kind"],
            "token_kind": principal.kind,
            "patient": patient,
            "mode": None if principal.mode is None else principal.mode.value,
            "episode_id": principal.episode_id,
            "expires_at": _iso(expires),
        },
        headers=_NO_STORE,
    )


def close_expired_episodes(store: Store, now: float) -> None:
    """Trace the end of every episode whose time box ran out (reason "expired", at its end
    time), even when nobody called /auth/access/end: a bris de glace always gets its stop."""
    with store.transaction():
        for episode in store.query(
            "SELECT * FROM access_episodes WHERE ended IS NULL AND ends <= ?", (now,)
        ):
            actor = store.actor(episode["id_nat"])
            _end_episode(store, episode, actor, now=float(episode["ends"]), reason="expired")
