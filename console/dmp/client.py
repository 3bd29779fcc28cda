"""The async httpx client of the DMP API (the sandbox, or any PDSm / IHE MHD server).

One :class:`HttpDmpGateway` per server, over one ``httpx.AsyncClient`` (given, or created and
then owned: closed by :meth:`HttpDmpGateway.aclose`). Tests inject an
``httpx.MockTransport``.

Errors, all from :mod:`console.domain.errors` (see :mod:`console.dmp.errors` for the status
mapping): :class:`~console.domain.errors.NetworkError` when the server cannot be reached or
times out, :class:`~console.domain.errors.ProtocolError` for an answer the console cannot
understand, :class:`~console.domain.errors.ServerError` and its subclasses for error answers.

Safety:

* The bearer tokens go only to the origin of ``base_url``: requests are built from it, paging
  links on another origin (or outside the base path) are refused, redirects are never followed.
* The log says method, path (never the query string: it holds the INS), status and duration;
  never a token, a certificate, a signature or a body.
* Idempotent GETs answered 429 or 503 are retried at most ``max_retries`` times, after the
  ``Retry-After`` delay when it is at most ``max_retry_wait`` seconds; POSTs never are.

Bounds (a slow or hostile server cannot hang the console nor fill its memory):

* ``deadline``: every request, from the first byte sent to the last byte of its answer, ends
  within this many seconds (``timeout`` is only between two reads: a server trickling one
  byte every few seconds would pass it forever); a cancelled task aborts its request at once.
* ``max_json_bytes`` / ``max_document_bytes``: an answer's body is read as a stream, after
  decompression, and dropped at the limit (a ``Content-Length`` over it is refused before
  reading): a gzip bomb stops at the limit, not at the size it inflates to.
* ``max_bundle_entries`` per Bundle and ``max_pages`` followed per search: paging links that
  are always new end in a clear error, not an endless loop.
* An answer that is not JSON, nested too deep, or the wrong shape is a
  :class:`~console.domain.errors.ProtocolError` with a French message, never a traceback.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import hashlib
import json
import logging
import time
import zlib
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Final, TypeVar
from urllib.parse import quote

import httpx

from console.dmp.bundle import JSON_PATCH, receipt_from_response
from console.dmp.errors import error_from_response
from console.dmp.mapping import (
    advance_directives_page_from_bundle,
    audit_page_from_bundle,
    document_from_fhir,
    documents_page_from_bundle,
    immunization_from_fhir,
    immunization_to_fhir,
    immunizations_page_from_bundle,
    json_object,
    parse_fhir_datetime,
    patient_summary_from_bundle,
    patients_from_bundle,
    professional_from_whoami,
    related_persons_page_from_bundle,
)
from console.domain.deposit import DepositReceipt
from console.domain.dossier import (
    AccessGrant,
    DocumentPage,
    DocumentQuery,
    PatientRecord,
    ProfessionalLogin,
)
from console.domain.emergency import AuditRecord, ProfessionalIdentity
from console.domain.errors import NetworkError, ProtocolError, RetryableServerError, ServerError
from console.domain.ins import INS
from console.domain.models import AccessMode, Actor, DocumentMeta
from console.domain.profile import (
    ADVANCE_DIRECTIVE_CATEGORY,
    CONSENT_CATEGORY_SYSTEM,
    AdvanceDirectives,
    PatientSummary,
    RelatedContact,
)
from console.domain.rules import AccessRequest
from console.domain.session import (
    EcpsExpiredError,
    EcpsPhoneRequest,
    EcpsPollStatus,
    EcpsRefreshRefusedError,
    EcpsRefusedError,
    EcpsRequest,
    EcpsUnknownIdentifierError,
)
from console.domain.vaccination import Immunization, NewImmunization

__all__ = ["DocumentPage", "HttpDmpGateway", "SandboxEcpsPhone"]

log = logging.getLogger(__name__)

FHIR_JSON: Final = "application/fhir+json"
USER_AGENT: Final = "staff-console/0.1"
RETRY_STATUSES: Final = frozenset({429, 503})
DEFAULT_BACKOFF_S: Final = 1.0
"""Wait before a retry when a 429/503 answer has no usable Retry-After."""
CIBA_GRANT_TYPE: Final = "urn:openid:params:grant-type:ciba"
REFRESH_GRANT_TYPE: Final = "refresh_token"
NEW_APPROVAL_MESSAGE: Final = (
    "La session e-CPS ne peut plus être prolongée : une nouvelle validation sur le téléphone "
    "est nécessaire."
)
DEFAULT_DEADLINE_S: Final = 60.0
"""Longest time one request may take, whatever the server sends meanwhile."""
MAX_JSON_BYTES: Final = 16 * 1024 * 1024
"""Largest FHIR JSON answer read (decompressed): 10,000 DocumentReferences weigh ~15 MB."""
MAX_DOCUMENT_BYTES: Final = 40 * 1024 * 1024
"""Largest document body read (a deposit is at most 20 MiB; its base64 Binary 27 MiB)."""
MAX_BUNDLE_ENTRIES: Final = 10_000
MAX_PAGES: Final = 1_000
"""Paging links followed in one search (the chronic patient's 5,000 documents: 25 pages)."""
CIBA_DEFAULT_INTERVAL_S: Final = 5.0
"""CIBA core 1.0, section 7.3: the poll interval when the server gives none."""

Sleep = Callable[[float], Awaitable[None]]
_T = TypeVar("_T")


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    default = {"http": 80, "https": 443}.get(url.scheme)
    return url.scheme, url.host, url.port or default


def _retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _network_error(exc: httpx.TransportError, label: str) -> NetworkError:
    if isinstance(exc, httpx.TimeoutException):
        why = "le délai d'attente est dépassé"
    elif isinstance(exc, httpx.ConnectError):
        why = "connexion refusée ou impossible"
    else:
        why = "la connexion a été interrompue"
    return NetworkError(
        f"Serveur DMP injoignable ({label}) : {why}. Vérifiez le réseau ou réessayez."
    )


def _route(path: str, base_path: str = "") -> str:
    """``path`` for the log and the messages: ids replaced by ``{id}`` (a document's or a
    request's id says nothing useful and belongs to a patient's record)."""
    if base_path and path.startswith(base_path):
        path = path[len(base_path) :]
    parts = path.split("/")
    return "/".join(p if i < 2 or p in _ROUTE_WORDS else "{id}" for i, p in enumerate(parts)) or "/"


_ROUTE_WORDS: Final = frozenset(
    {"challenge", "card", "ciba", "token", "access", "end", "whoami", "ecps", "approve", "deny",
     "pending", "patients", "notifications", "_history"}
)  # fmt: skip
"""Path segments beyond the first that are words of the API, not ids."""


def _too_large(method: str, url: httpx.URL, base_path: str, limit: int) -> ProtocolError:
    return ProtocolError(
        f"Réponse du serveur DMP refusée pour {method} {_route(url.path, base_path)} : plus de "
        f"{limit // (1024 * 1024) or 1} Mo (lecture arrêtée à la limite)."
    )


class HttpDmpGateway:
    """:class:`console.services.ports.DmpGateway` over HTTP (FHIR R4 JSON, PDSm / IHE MHD).

    Args:
        base_url: the server's base (``http://127.0.0.1:8470``; a path prefix is allowed).
        client: an ``httpx.AsyncClient`` to use (not closed by :meth:`aclose`).
        transport: the transport of the client created when ``client`` is None.
        timeout: seconds, for the created client.
        max_retries: retries of a GET answered 429 or 503.
        max_retry_wait: longest ``Retry-After`` honoured (seconds); beyond it, no retry.
        sleep: awaited between retries (tests replace it).
        deadline: seconds one request may take in all (see the module doc: Bounds).
        max_json_bytes, max_document_bytes: largest answer read (decompressed).
        max_bundle_entries: largest Bundle taken in.
        max_pages: paging links followed in one search.
    """

    def __init__(
        self,
        base_url: str,
        *,
        client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
        max_retries: int = 2,
        max_retry_wait: float = 10.0,
        sleep: Sleep = asyncio.sleep,
        deadline: float = DEFAULT_DEADLINE_S,
        max_json_bytes: int = MAX_JSON_BYTES,
        max_document_bytes: int = MAX_DOCUMENT_BYTES,
        max_bundle_entries: int = MAX_BUNDLE_ENTRIES,
        max_pages: int = MAX_PAGES,
    ) -> None:
        if client is not None and transport is not None:
            raise ValueError("give either client or transport, not both")
        base = httpx.URL(base_url.rstrip("/"))
        if base.scheme not in ("http", "https") or not base.host:
            raise ValueError("base_url must be an absolute http(s) URL")
        if base.query or base.fragment:
            raise ValueError("base_url must not have a query string or a fragment")
        self._base = base
        self._base_path = base.path.rstrip("/")
        _, host, port = _origin(base)
        self.server_label = f"{host}:{port}"
        self._owns_client = client is None
        self._client = client or httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT},
        )
        self._max_retries = max(0, max_retries)
        self._max_retry_wait = max_retry_wait
        self._sleep = sleep
        self.deadline = deadline
        self.max_json_bytes = max_json_bytes
        self.max_document_bytes = max_document_bytes
        self.max_bundle_entries = max_bundle_entries
        self.max_pages = max_pages

    # -- plumbing ----------------------------------------------------------------------------
    def _url(self, path: str) -> httpx.URL:
        return self._base.copy_with(path=self._base_path + path)

    def _checked_link(self, link: str) -> httpx.URL:
        """A paging link the server gave, if it stays on our origin and under our base path."""
        try:
            url = self._base.join(link)
        except (httpx.InvalidURL, ValueError):
            raise ProtocolError("Lien de page suivante invalide dans la réponse du DMP.") from None
        path_ok = url.path == self._base_path or url.path.startswith(self._base_path + "/")
        if _origin(url) != _origin(self._base) or not path_ok:
            raise ProtocolError(
                "Le serveur DMP renvoie vers une autre adresse pour la page suivante : "
                "lien refusé (le jeton d'accès n'est envoyé qu'au serveur configuré)."
            )
        return url

    def _next_page(self, link: str, seen: set[str]) -> httpx.URL:
        """The ``next`` link of a page, checked: our origin, never twice, at most
        ``max_pages`` pages in one search (``seen`` holds the pages already followed)."""
        url = self._checked_link(link)
        if str(url) in seen:
            raise ProtocolError(
                "Réponse du serveur DMP invalide : la pagination revient sur une page déjà lue."
            )
        if len(seen) + 1 >= self.max_pages:
            raise ProtocolError(
                f"Réponse du serveur DMP invalide : plus de {self.max_pages} pages pour une "
                "seule recherche ; la recherche est arrêtée (précisez-la avec les filtres)."
            )
        seen.add(str(url))
        return url

    async def _exchange(
        self, method: str, url: httpx.URL, *, limit: int | None = None, **request: Any
    ) -> httpx.Response:
        """One request and its answer, whatever its status (redirects not followed), logged
        with its time (no query string, no id, no body: no patient data).

        The answer is read as a stream (decompressed) and dropped beyond ``limit`` bytes
        (``max_json_bytes`` by default); the whole exchange ends within ``deadline``.

        Raises:
            NetworkError: no answer, or not within the deadline.
            ProtocolError: an answer that cannot be decoded, or too large.
        """
        limit = self.max_json_bytes if limit is None else limit
        route = _route(url.path, self._base_path)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.deadline):
                response = await self._read(method, url, limit, request)
        except TimeoutError:
            log.info("%s %s: no whole answer within %.0f s", method, route, self.deadline)
            raise NetworkError(
                f"Le serveur DMP ({self.server_label}) n'a pas répondu entièrement en "
                f"{self.deadline:.0f} s : opération abandonnée. Réessayez plus tard."
            ) from None
        except httpx.TransportError as exc:
            log.info(
                "%s %s failed: %s after %.0f ms",
                method,
                route,
                type(exc).__name__,
                (time.perf_counter() - started) * 1000,
            )
            raise _network_error(exc, self.server_label) from None
        except (httpx.DecodingError, zlib.error, EOFError):
            raise ProtocolError(
                f"Réponse du serveur DMP illisible pour {method} {route} (encodage invalide)."
            ) from None
        elapsed = (time.perf_counter() - started) * 1000
        log.info("%s %s -> %d (%.0f ms)", method, route, response.status_code, elapsed)
        return response

    async def _read(
        self, method: str, url: httpx.URL, limit: int, request: Mapping[str, Any]
    ) -> httpx.Response:
        built = self._client.build_request(method, url, **request)
        response = await self._client.send(built, stream=True, follow_redirects=False)
        try:
            declared = response.headers.get("content-length", "")
            encoded = response.headers.get("content-encoding", "identity").lower()
            if declared.isdigit() and int(declared) > limit and encoded in ("", "identity"):
                raise _too_large(method, url, self._base_path, limit)
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():  # decompressed, chunk by chunk
                size += len(chunk)
                if size > limit:
                    raise _too_large(method, url, self._base_path, limit)
                chunks.append(chunk)
        finally:
            await response.aclose()
        headers = [
            (k, v)
            for k, v in response.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        return httpx.Response(
            response.status_code, headers=headers, content=b"".join(chunks), request=built
        )

    async def _send(
        self,
        method: str,
        url: httpx.URL,
        *,
        token: str | None = None,
        params: Sequence[tuple[str, str]] | None = None,
        json_body: Mapping[str, Any] | None = None,
        form_body: Mapping[str, str] | None = None,
        accept: str = FHIR_JSON,
        limit: int | None = None,
    ) -> httpx.Response:
        """Send one request (retrying an idempotent GET on 429/503); the 2xx answer or raise.

        ``form_body`` is sent ``application/x-www-form-urlencoded`` (the OAuth endpoints).
        """
        headers = {"Accept": accept}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        attempt = 0
        while True:
            response = await self._exchange(
                method,
                url,
                params=list(params) if params is not None else None,
                json=json_body,
                data=dict(form_body) if form_body is not None else None,
                headers=headers,
                limit=limit,
            )
            if response.is_success:
                return response
            if method == "GET" and response.status_code in RETRY_STATUSES:
                if attempt < self._max_retries:
                    delay = _retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
                    if delay is None:
                        delay = DEFAULT_BACKOFF_S * (2**attempt)
                    if delay <= self._max_retry_wait:
                        attempt += 1
                        route = _route(url.path, self._base_path)
                        log.info("%s %s: retry %d in %.1f s", method, route, attempt, delay)
                        await self._sleep(delay)
                        continue
            raise error_from_response(
                response.status_code, response.content, method, _route(url.path, self._base_path)
            )

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        where = f"{response.request.method} {_route(response.request.url.path, self._base_path)}"
        try:
            data = response.json()
        except (ValueError, UnicodeDecodeError):
            raise ProtocolError(
                f"Réponse du serveur DMP illisible pour {where} : JSON attendu."
            ) from None
        except RecursionError:
            raise ProtocolError(
                f"Réponse du serveur DMP refusée pour {where} : JSON imbriqué trop profondément."
            ) from None
        if not isinstance(data, dict):
            raise ProtocolError(
                f"Réponse du serveur DMP inattendue pour {where} : objet JSON attendu."
            )
        entries = data.get("entry")
        if isinstance(entries, list) and len(entries) > self.max_bundle_entries:
            raise ProtocolError(
                f"Réponse du serveur DMP refusée pour {where} : {len(entries)} entrées dans "
                f"une seule page (au plus {self.max_bundle_entries})."
            )
        return data

    @staticmethod
    def _token_answer(body: dict[str, Any], where: str) -> tuple[str, datetime]:
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise ProtocolError(f"Réponse du serveur DMP incomplète : {where}.access_token.")
        expires_in = body.get("expires_in")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            raise ProtocolError(f"Réponse du serveur DMP incomplète : {where}.expires_in.")
        return token, datetime.now(UTC) + timedelta(seconds=float(expires_in))

    @staticmethod
    def _refresh_token(body: dict[str, Any], where: str) -> str | None:
        """The token answer's ``refresh_token``, None when it has none."""
        refresh = body.get("refresh_token")
        if refresh is None:
            return None
        if not isinstance(refresh, str) or not refresh:
            raise ProtocolError(f"Réponse du serveur DMP invalide : {where}.refresh_token.")
        return refresh

    # -- authentication ----------------------------------------------------------------------
    async def challenge(self) -> str:
        """A fresh single-use nonce for the card to sign (``POST /auth/challenge``)."""
        response = await self._send("POST", self._url("/auth/challenge"), accept="application/json")
        nonce = self._json(response).get("nonce")
        if not isinstance(nonce, str) or not nonce:
            raise ProtocolError("Réponse du serveur DMP incomplète : /auth/challenge sans nonce.")
        return nonce

    async def login_with_card(
        self, certificate_der: bytes, nonce: str, signature: bytes, algorithm: str
    ) -> ProfessionalLogin:
        """Answer the challenge with the card (``POST /auth/card``), then ask who we are."""
        body = {
            "certificate": base64.b64encode(certificate_der).decode("ascii"),
            "nonce": nonce,
            "signature": base64.b64encode(signature).decode("ascii"),
            "algorithm": algorithm,
        }
        response = await self._send(
            "POST", self._url("/auth/card"), json_body=body, accept="application/json"
        )
        token, expires_at = self._token_answer(self._json(response), "/auth/card")
        return await self._login_from_token(token, expires_at)

    # -- e-CPS (CIBA, poll mode) -----------------------------------------------------------------
    async def start_ecps(self, id_nat: str, binding_message: str) -> EcpsRequest:
        """Push a login request to ``id_nat``'s phone (``POST /auth/ciba``).

        Raises:
            EcpsUnknownIdentifierError: the directory does not know ``id_nat``.
        """
        form = {"login_hint": id_nat, "binding_message": binding_message, "scope": "openid"}
        try:
            response = await self._send(
                "POST", self._url("/auth/ciba"), form_body=form, accept="application/json"
            )
        except ServerError as exc:
            if exc.reason == "unknown_user_id":
                raise EcpsUnknownIdentifierError(
                    f"Identifiant national {id_nat} inconnu de l'annuaire du serveur DMP.",
                    exc.reason,
                ) from None
            raise
        body = self._json(response)
        auth_req_id = body.get("auth_req_id")
        if not isinstance(auth_req_id, str) or not auth_req_id:
            raise ProtocolError("Réponse du serveur DMP incomplète : /auth/ciba.auth_req_id.")
        expires_in = body.get("expires_in")
        if isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            raise ProtocolError("Réponse du serveur DMP incomplète : /auth/ciba.expires_in.")
        interval = body.get("interval", CIBA_DEFAULT_INTERVAL_S)
        if isinstance(interval, bool) or not isinstance(interval, int | float) or interval < 0:
            raise ProtocolError("Réponse du serveur DMP invalide : /auth/ciba.interval.")
        return EcpsRequest(
            auth_req_id=auth_req_id,
            id_nat=id_nat,
            binding_message=binding_message,
            expires_at=datetime.now(UTC) + timedelta(seconds=float(expires_in)),
            interval_s=float(interval),
        )

    async def poll_ecps(self, request: EcpsRequest) -> ProfessionalLogin | EcpsPollStatus:
        """One poll of the token endpoint (``POST /auth/token``).

        Returns:
            The professional's login once approved (the token is handed out once, with the
            refresh token that renews it when the server gives one), else ``PENDING`` or
            ``SLOW_DOWN`` (poll less often).

        Raises:
            EcpsRefusedError: refused on the phone.
            EcpsExpiredError: not answered in time (or no longer valid).
        """
        form = {"grant_type": CIBA_GRANT_TYPE, "auth_req_id": request.auth_req_id}
        try:
            response = await self._send(
                "POST", self._url("/auth/token"), form_body=form, accept="application/json"
            )
        except ServerError as exc:
            if exc.status != 400:
                raise
            match exc.reason:
                case EcpsPollStatus.PENDING.value:
                    return EcpsPollStatus.PENDING
                case EcpsPollStatus.SLOW_DOWN.value:
                    return EcpsPollStatus.SLOW_DOWN
                case "access_denied":
                    raise EcpsRefusedError(
                        "La connexion a été refusée sur le téléphone.", exc.reason
                    ) from None
                case "expired_token" | "invalid_grant":
                    raise EcpsExpiredError(
                        "La demande de connexion e-CPS a expiré.", exc.reason
                    ) from None
            raise
        body = self._json(response)
        token, expires_at = self._token_answer(body, "/auth/token")
        refresh = self._refresh_token(body, "/auth/token")
        login = await self._login_from_token(token, expires_at, refresh)
        if login.id_nat != request.id_nat:
            raise ProtocolError(
                "Réponse du serveur DMP incohérente : le jeton e-CPS n'est pas celui du "
                "professionnel qui l'a demandé."
            )
        return login

    async def refresh_ecps(self, login: ProfessionalLogin) -> ProfessionalLogin:
        """Renew an e-CPS session without the phone (``POST /auth/token``,
        ``grant_type=refresh_token``).

        Returns:
            The same professional's login with a new token and the next refresh token (the
            server rotates them; one that gives none keeps the current one valid).

        Raises:
            EcpsRefreshRefusedError: the server refused the refresh token (``invalid_grant``:
                expired, revoked, already used), or `login` has none: a new approval on the
                phone is needed.
            NetworkError, ServerError: as any call (worth trying again).
        """
        if login.refresh_token is None:
            raise EcpsRefreshRefusedError(NEW_APPROVAL_MESSAGE)
        form = {"grant_type": REFRESH_GRANT_TYPE, "refresh_token": login.refresh_token}
        try:
            response = await self._send(
                "POST", self._url("/auth/token"), form_body=form, accept="application/json"
            )
        except ServerError as exc:
            if exc.reason == "invalid_grant":
                raise EcpsRefreshRefusedError(NEW_APPROVAL_MESSAGE, exc.reason) from None
            raise
        body = self._json(response)
        token, expires_at = self._token_answer(body, "/auth/token")
        refresh = self._refresh_token(body, "/auth/token") or login.refresh_token
        renewed = await self._login_from_token(token, expires_at, refresh)
        if renewed.id_nat != login.id_nat:
            raise ProtocolError(
                "Réponse du serveur DMP incohérente : le jeton renouvelé n'est pas celui du "
                "même professionnel."
            )
        return renewed

    async def _login_from_token(
        self, token: str, expires_at: datetime, refresh_token: str | None = None
    ) -> ProfessionalLogin:
        response = await self._send(
            "GET", self._url("/auth/whoami"), token=token, accept="application/json"
        )
        who = self._json(response)
        id_nat = who.get("id_nat")
        if not isinstance(id_nat, str) or not id_nat:
            raise ProtocolError("Réponse du serveur DMP incomplète : /auth/whoami sans id_nat.")
        profession = who.get("profession")
        if not isinstance(profession, str) or not profession:
            raise ProtocolError("Réponse du serveur DMP incomplète : /auth/whoami sans profession.")
        name = who.get("name")
        display = name.strip() if isinstance(name, str) and name.strip() else id_nat
        if isinstance(who.get("expires_at"), str):
            expires_at = parse_fhir_datetime(who["expires_at"], "/auth/whoami.expires_at")
        return ProfessionalLogin(
            id_nat=id_nat,
            display_name=display,
            profession=profession,
            token=token,
            expires_at=expires_at,
            refresh_token=refresh_token,
        )

    # -- patient and access mode -------------------------------------------------------------
    async def find_patient(self, login: ProfessionalLogin, ins: INS) -> PatientRecord | None:
        """The patient of ``ins`` (``GET /Patient?identifier=``), None when the DMP has none."""
        response = await self._send(
            "GET",
            self._url("/Patient"),
            token=login.token,
            params=[("identifier", ins.token())],
        )
        matches = patients_from_bundle(self._json(response))
        for record in matches:
            if record.ins.value == ins.value:
                return record
        if matches:
            raise ProtocolError(
                "Réponse du serveur DMP inattendue : le patient renvoyé n'a pas l'INS demandé."
            )
        return None

    async def open_access(
        self, login: ProfessionalLogin, patient: PatientRecord, request: AccessRequest
    ) -> AccessGrant:
        """Open ``patient``'s record in ``request.mode`` (``POST /auth/access``).

        Raises ForbiddenError (reason: a ``rules.Refusal`` code) when the rules refuse.
        """
        body: dict[str, Any] = {"patient": patient.ins.token(), "mode": request.mode.value}
        if request.reason_code is not None:
            body["reason_code"] = request.reason_code
        if request.justification is not None:
            body["justification"] = request.justification
        if request.consent_method is not None:
            body["consent"] = {"method": request.consent_method}
        response = await self._send(
            "POST",
            self._url("/auth/access"),
            token=login.token,
            json_body=body,
            accept="application/json",
        )
        answer = self._json(response)
        token, expires_at = self._token_answer(answer, "/auth/access")
        if isinstance(answer.get("ends_at"), str):
            expires_at = parse_fhir_datetime(answer["ends_at"], "/auth/access.ends_at")
        mode = request.mode
        if answer.get("mode") is not None:
            try:
                mode = AccessMode(answer["mode"])
            except ValueError:
                raise ProtocolError(
                    "Réponse du serveur DMP invalide : /auth/access.mode inconnu."
                ) from None
            if mode is not request.mode:
                raise ProtocolError(
                    "Réponse du serveur DMP incohérente : le mode d'accès ouvert n'est pas "
                    "celui demandé."
                )
        episode = answer.get("episode_id")
        return AccessGrant(
            patient=patient,
            mode=mode,
            token=token,
            expires_at=expires_at,
            episode_id=episode if isinstance(episode, str) else "",
        )

    async def end_access(self, grant: AccessGrant, reason: str) -> None:
        """End the access episode (``POST /auth/access/end``); ``reason`` is a short code
        (``user``, ``expired``, ``card_removed``, ``patient_closed``, ``quit``...)."""
        await self._send(
            "POST",
            self._url("/auth/access/end"),
            token=grant.token,
            json_body={"reason": reason},
            accept="application/json",
        )

    # -- documents -----------------------------------------------------------------------------
    @staticmethod
    def _search_params(grant: AccessGrant, query: DocumentQuery) -> list[tuple[str, str]]:
        params = [
            ("patient.identifier", grant.patient.ins.token()),
            ("status", "current"),
        ]
        if query.type_codes:
            params.append(("type", ",".join(query.type_codes)))
        if query.class_codes:
            params.append(("category", ",".join(query.class_codes)))
        if query.act_from is not None:
            params.append(("period-start", query.act_from.isoformat()))
        if query.act_to is not None:
            params.append(("period-end", query.act_to.isoformat()))
        if query.deposited_since is not None:
            since = query.deposited_since
            if since.tzinfo is None:
                since = since.replace(tzinfo=UTC)
            params.append(("date", f"ge{since.isoformat()}"))
        params.append(("_count", str(max(1, query.page_size))))
        return params

    async def _page(
        self, grant: AccessGrant, url: httpx.URL, params: Sequence[tuple[str, str]] | None
    ) -> tuple[list[DocumentMeta], int | None, str | None]:
        response = await self._send("GET", url, token=grant.token, params=params)
        docs, total, next_link = documents_page_from_bundle(self._json(response))
        for doc in docs:
            if doc.patient_ins != grant.patient.ins.value:
                raise ProtocolError(
                    f"Réponse du serveur DMP incohérente : le document {doc.id} concerne un "
                    "autre patient."
                )
        return docs, total, next_link

    async def search_documents(
        self, grant: AccessGrant, query: DocumentQuery
    ) -> AsyncGenerator[DocumentPage, None]:
        """Pages of the documents matching ``query`` (ITI-67), each as soon as it arrives.

        Follows the ``next`` links (on our origin only). With ``query.include_archived``, the
        archived documents follow the others (a second search, ``isArchived=true``); the
        ``total`` of every page then counts both.
        """
        base_params = self._search_params(grant, query)
        searches = [base_params]
        if query.include_archived:
            searches.append([*base_params, ("isArchived", "true")])
        url = self._url("/DocumentReference")
        firsts = [await self._page(grant, url, params) for params in searches]
        totals = [total for _, total, _ in firsts]
        total = None if any(t is None for t in totals) else sum(t or 0 for t in totals)
        for docs, _, next_link in firsts:
            seen: set[str] = set()
            while True:
                yield DocumentPage(tuple(docs), total)
                if next_link is None:
                    break
                next_url = self._next_page(next_link, seen)
                docs, _, next_link = await self._page(grant, next_url, None)

    async def retrieve(self, grant: AccessGrant, document: DocumentMeta) -> bytes:
        """The body of ``document`` (ITI-68 ``GET /Binary/{id}``), checked against its SHA-1
        and size when the metadata give them."""
        if not document.id:
            raise ValueError("document without id")
        path = f"/Binary/{quote(document.id, safe='')}"
        limit = self.max_document_bytes
        if document.size:  # the size announced, in base64 inside a JSON Binary at most
            limit = min(limit, document.size * 4 // 3 + 64 * 1024)
        response = await self._send(
            "GET",
            self._url(path),
            token=grant.token,
            accept=f"{document.content_type}, */*;q=0.1",
            limit=limit,
        )
        media = response.headers.get("content-type", "").split(";")[0].strip().lower()
        data = response.content
        if media in (FHIR_JSON, "application/json") and document.content_type not in (
            FHIR_JSON,
            "application/json",
        ):
            data = self._binary_data(self._json(response))
        if document.sha1 and hashlib.sha1(data).hexdigest() != document.sha1.lower():
            raise ProtocolError(
                f"Le contenu reçu du document {document.id} ne correspond pas à son empreinte "
                "SHA-1 : document altéré ou incomplet."
            )
        if document.size and len(data) != document.size:
            raise ProtocolError(
                f"Le contenu reçu du document {document.id} n'a pas la taille annoncée."
            )
        return data

    @staticmethod
    def _binary_data(body: dict[str, Any]) -> bytes:
        if body.get("resourceType") != "Binary":
            raise ProtocolError("Réponse du serveur DMP inattendue : Binary attendu.")
        raw = json_object(body, "Binary").get("data")
        if not isinstance(raw, str):
            raise ProtocolError("Réponse du serveur DMP incomplète : Binary.data manquant.")
        try:
            return base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise ProtocolError(
                "Réponse du serveur DMP invalide : Binary.data n'est pas du base64."
            ) from None

    # -- deposits and document updates (ITI-65, PATCH) -------------------------------------------
    async def _write(
        self, method: str, url: httpx.URL, token: str, content: bytes, content_type: str
    ) -> httpx.Response:
        """Send one write, never retried here (the deposit pipeline decides); the 2xx answer.

        Raises:
            RetryableServerError: 429 or 5xx (``retry_after`` from the Retry-After header).
            NetworkError, ProtocolError, ServerError: as every call.
        """
        headers = {
            "Accept": FHIR_JSON,
            "Content-Type": content_type,
            "Authorization": f"Bearer {token}",
        }
        response = await self._exchange(method, url, content=content, headers=headers)
        if response.is_success:
            return response
        route = _route(url.path, self._base_path)
        error = error_from_response(response.status_code, response.content, method, route)
        if isinstance(error, ServerError) and (error.status == 429 or error.status >= 500):
            delay = _retry_after(response.headers.get("Retry-After"), datetime.now(UTC))
            raise RetryableServerError(str(error), error.status, error.reason, delay)
        raise error

    async def deposit(self, auth: ProfessionalLogin | AccessGrant, bundle: bytes) -> DepositReceipt:
        """Deposit an ITI-65 transaction Bundle (``POST /``), sent as given, once.

        ``bundle`` is the exact bytes kept in the outbox: sending them again (same
        masterIdentifier) is answered idempotently by the DMP (``replayed``). A professional
        token serves (no access mode needed); a patient-scoped token of the same patient too.

        Raises:
            RetryableServerError: 429 / 5xx: send again later (same bytes).
            NetworkError: no answer (the server may or may not have stored it: send again).
            ForbiddenError: the rules refuse (``reason``: ``not_same_structure``, ``blocked``,
                ``deposit_for_another``, ``not_author``...).
            ServerError: 400 / 409 / 413 / 422 (``reason`` says what).
            ProtocolError: an answer the console cannot read.
        """
        response = await self._write("POST", self._url("/"), auth.token, bundle, FHIR_JSON)
        replayed = response.headers.get("X-Sandbox-Replay", "").lower() == "true"
        return receipt_from_response(self._json(response), replayed=replayed)

    async def patch_document(
        self,
        auth: ProfessionalLogin | AccessGrant,
        doc_id: str,
        ops: Sequence[Mapping[str, Any]],
    ) -> DocumentMeta:
        """Apply a JSON Patch to a DocumentReference (``PATCH /DocumentReference/{id}``):
        visibility labels or deletion (``console.dmp.bundle.update_patch``). Sent once.

        Returns:
            The document as the server now has it.

        Raises:
            ForbiddenError: ``not_author`` (or ``blocked``); NotFoundError: unknown (or masked
            for the caller); ServerError: 409 ``not_current``, 422 ``invalid_patch``...
        """
        if not doc_id:
            raise ValueError("document without id")
        body = json.dumps(list(ops), separators=(",", ":")).encode("utf-8")
        path = f"/DocumentReference/{quote(doc_id, safe='')}"
        response = await self._write("PATCH", self._url(path), auth.token, body, JSON_PATCH)
        return document_from_fhir(self._json(response))

    async def whoami_actor(self, login: ProfessionalLogin) -> Actor:
        """Who the login is in the server's directory (``GET /auth/whoami``): names,
        profession, specialty and structure. A secretary's structure is the one she
        deposits for."""
        response = await self._send(
            "GET", self._url("/auth/whoami"), token=login.token, accept="application/json"
        )
        who = self._json(response)

        def text(key: str, source: Mapping[str, Any] = who) -> str:
            value = source.get(key)
            return value.strip() if isinstance(value, str) else ""

        id_nat, profession = text("id_nat"), text("profession")
        if not id_nat or not profession:
            raise ProtocolError("Réponse du serveur DMP incomplète : /auth/whoami.")
        if id_nat != login.id_nat:
            raise ProtocolError(
                "Réponse du serveur DMP incohérente : /auth/whoami ne désigne pas la personne "
                "connectée."
            )
        structure = who.get("structure")
        structure = structure if isinstance(structure, dict) else {}
        return Actor(
            id_nat=id_nat,
            profession=profession,
            family_name=text("family_name"),
            given_name=text("given_name"),
            specialty=text("specialty") or None,
            structure_id=text("id", structure) or None,
            structure_name=text("name", structure) or None,
            regulator=who.get("role") == "regulator",
        )

    # -- access history and attestation -------------------------------------------------------
    async def professional_identity(self, grant: AccessGrant) -> ProfessionalIdentity:
        """Who holds ``grant`` (``GET /auth/whoami`` with the patient token): name, profession
        and structure, as the bris de glace attestation names her."""
        response = await self._send(
            "GET", self._url("/auth/whoami"), token=grant.token, accept="application/json"
        )
        return professional_from_whoami(self._json(response))

    async def audit_events(
        self, grant: AccessGrant, *, limit: int = 1000, page_size: int = 200
    ) -> list[AuditRecord]:
        """The caller's own traces on the patient of ``grant`` (``GET /AuditEvent``), newest
        first, at most ``limit`` (the ``next`` links are followed on our origin only)."""
        url = self._url("/AuditEvent")
        params: list[tuple[str, str]] | None = [
            ("patient.identifier", grant.patient.ins.token()),
            ("_count", str(max(1, min(page_size, limit)))),
        ]
        records: list[AuditRecord] = []
        seen: set[str] = set()
        while True:
            response = await self._send("GET", url, token=grant.token, params=params)
            page, _, next_link = audit_page_from_bundle(self._json(response))
            records.extend(page)
            if next_link is None or len(records) >= limit:
                return records[:limit]
            url = self._next_page(next_link, seen)
            params = None

    # -- patient profile: header, vaccinations, "Entourage et volontés" (issue 9) -------------
    async def _all_pages(
        self,
        grant: AccessGrant,
        path: str,
        params: Sequence[tuple[str, str]],
        parse: Callable[[Any], tuple[list[_T], int | None, str | None]],
    ) -> list[_T]:
        """Every match of a search about ``grant``'s patient, following ``next`` links (on
        our origin only, never twice the same page)."""
        url: httpx.URL = self._url(path)
        page_params: Sequence[tuple[str, str]] | None = [
            ("patient.identifier", grant.patient.ins.token()),
            *params,
        ]
        found: list[_T] = []
        seen: set[str] = set()
        while True:
            response = await self._send("GET", url, token=grant.token, params=page_params)
            items, _, next_link = parse(self._json(response))
            found.extend(items)
            if next_link is None:
                return found
            url = self._next_page(next_link, seen)
            page_params = None

    @staticmethod
    def _same_patient(grant: AccessGrant, ins_value: str, what: str) -> None:
        if ins_value != grant.patient.ins.value:
            raise ProtocolError(
                f"Réponse du serveur DMP incohérente : {what} concerne un autre patient."
            )

    async def patient_summary(self, grant: AccessGrant) -> PatientSummary:
        """The open record's patient with her médecin traitant (``GET /Patient`` with the
        patient token: the server tells ``generalPractitioner`` only to an open access)."""
        response = await self._send(
            "GET",
            self._url("/Patient"),
            token=grant.token,
            params=[("identifier", grant.patient.ins.token())],
        )
        summary = patient_summary_from_bundle(self._json(response), grant.patient.ins)
        if summary is None:
            raise ProtocolError(
                "Réponse du serveur DMP inattendue : le patient du dossier ouvert est absent."
            )
        return summary

    async def immunizations(self, grant: AccessGrant) -> list[Immunization]:
        """The patient's vaccinations (``GET /Immunization``), every page.

        Raises ForbiddenError (reason ``matrix``) when the profession may not read the
        vaccination history."""
        found = await self._all_pages(
            grant, "/Immunization", [("_count", "200")], immunizations_page_from_bundle
        )
        for item in found:
            self._same_patient(grant, item.patient_ins, "une vaccination")
        return found

    async def add_immunization(self, grant: AccessGrant, new: NewImmunization) -> Immunization:
        """Record a checked vaccination (``POST /Immunization``; never retried). The server
        answers the stored Immunization, whose performer is the caller.

        Raises ServerError 422 (reason ``unknown_vaccine``, ``future_date``, ``before_birth``,
        ``missing_lot``, ``performer_mismatch``...) when it refuses: nothing was written."""
        response = await self._send(
            "POST",
            self._url("/Immunization"),
            token=grant.token,
            json_body=immunization_to_fhir(new, grant.patient.ins),
        )
        stored = immunization_from_fhir(self._json(response))
        self._same_patient(grant, stored.patient_ins, "la vaccination enregistrée")
        return stored

    async def related_persons(self, grant: AccessGrant) -> list[RelatedContact]:
        """The person of trust and the relatives to contact (``GET /RelatedPerson``).

        Raises ForbiddenError (reason ``entourage_profession``) when the rules do not open
        them to the profession."""
        return await self._all_pages(
            grant, "/RelatedPerson", [("_count", "100")], related_persons_page_from_bundle
        )

    async def advance_directives(self, grant: AccessGrant) -> AdvanceDirectives | None:
        """What the patient recorded about her advance directives (``GET /Consent``,
        category ``acd``), the latest; None when nothing.

        Raises ForbiddenError (reason ``entourage_profession``) when the rules do not open
        them to the profession."""
        found = await self._all_pages(
            grant,
            "/Consent",
            [("category", f"{CONSENT_CATEGORY_SYSTEM}|{ADVANCE_DIRECTIVE_CATEGORY}")],
            advance_directives_page_from_bundle,
        )
        found.sort(key=lambda d: d.recorded or datetime.min.replace(tzinfo=UTC), reverse=True)
        return found[0] if found else None

    # -- life cycle -----------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Close the HTTP client if this gateway created it."""
        if self._owns_client:
            await self._client.aclose()

    async def __aenter__(self) -> HttpDmpGateway:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class SandboxEcpsPhone:
    """The demo's phone: the sandbox's ``/sandbox/ecps/...`` control endpoints.

    :class:`console.services.ports.EcpsPhone` over the gateway's HTTP client. It talks to those
    endpoints only; the real DMP has none (then :meth:`available` is False).
    """

    def __init__(self, gateway: HttpDmpGateway) -> None:
        self._gateway = gateway

    async def available(self) -> bool:
        """Whether the server answers ``GET /sandbox/ecps/pending`` (it is the sandbox)."""
        try:
            response = await self._gateway._send(
                "GET", self._gateway._url("/sandbox/ecps/pending"), accept="application/json"
            )
            return isinstance(self._gateway._json(response).get("pending"), list)
        except (ServerError, ProtocolError, NetworkError):
            return False

    async def pending(self, id_nat: str) -> list[EcpsPhoneRequest]:
        """The requests waiting on ``id_nat``'s phone, oldest first."""
        response = await self._gateway._send(
            "GET",
            self._gateway._url("/sandbox/ecps/pending"),
            params=[("login_hint", id_nat)],
            accept="application/json",
        )
        rows = self._gateway._json(response).get("pending")
        if not isinstance(rows, list):
            raise ProtocolError("Réponse du bac à sable incomplète : /sandbox/ecps/pending.")
        found = []
        for row in rows:
            if not isinstance(row, dict):
                continue
            auth_req_id, hint = row.get("auth_req_id"), row.get("login_hint")
            binding, expires_in = row.get("binding_message"), row.get("expires_in")
            if (
                isinstance(auth_req_id, str)
                and isinstance(hint, str)
                and isinstance(binding, str)
                and isinstance(expires_in, int)
            ):
                found.append(EcpsPhoneRequest(auth_req_id, hint, binding, expires_in))
        return found

    async def answer(self, request: EcpsPhoneRequest, approve: bool) -> None:
        """Approve or deny ``request`` as the professional would on her phone."""
        verb = "approve" if approve else "deny"
        path = f"/sandbox/ecps/{quote(request.auth_req_id, safe='')}/{verb}"
        await self._gateway._send("POST", self._gateway._url(path), accept="application/json")
