"""HTTP error answers of the DMP (OperationOutcome, OAuth JSON) -> the domain's error tree.

=========================  ==========================================================
HTTP answer                Raised (all :class:`~console.domain.errors.DmpError`)
=========================  ==========================================================
401                        :class:`~console.domain.errors.AuthenticationError`
403                        :class:`~console.domain.errors.ForbiddenError`
404                        :class:`~console.domain.errors.NotFoundError`
other 4xx, 5xx             :class:`~console.domain.errors.ServerError`
3xx (never followed)       :class:`~console.domain.errors.ProtocolError`
=========================  ==========================================================

Every :class:`~console.domain.errors.ServerError` carries the HTTP ``status`` and the server's
stable ``reason`` code (``OperationOutcome.issue[0].details.coding[0].code``, or the OAuth
``error``); its message is the server's diagnostics (French, meant for the professional), or a
French message of our own when the server gave none.
"""

from __future__ import annotations

import json
from typing import Any, Final

from console.domain.errors import (
    AuthenticationError,
    DmpError,
    ForbiddenError,
    NotFoundError,
    ProtocolError,
    ServerError,
)

__all__ = ["error_from_response", "outcome_reason"]

_MAX_MESSAGE: Final = 500
"""Longest server message kept (a message is shown to the user, not a document)."""

_DEFAULT_MESSAGES: Final = {
    400: "Requête refusée par le serveur DMP (requête invalide).",
    401: "Authentification refusée ou expirée : reconnectez-vous avec votre carte.",
    403: "Accès refusé par le DMP.",
    404: "Ressource introuvable sur le serveur DMP.",
    409: "Conflit signalé par le serveur DMP.",
    410: "Ce document n'est plus disponible sur le DMP.",
    413: "Envoi trop volumineux pour le serveur DMP.",
    415: "Type de contenu refusé par le serveur DMP.",
    422: "Données refusées par le serveur DMP.",
    429: "Le serveur DMP reçoit trop de requêtes : réessayez dans un instant.",
    500: "Erreur interne du serveur DMP.",
    502: "Passerelle du DMP défaillante.",
    503: "Service DMP momentanément indisponible.",
    504: "Le serveur DMP n'a pas répondu à temps (passerelle).",
}


def _clean(text: Any) -> str | None:
    if not isinstance(text, str):
        return None
    flat = " ".join(text.split())
    if not flat:
        return None
    return flat if len(flat) <= _MAX_MESSAGE else flat[: _MAX_MESSAGE - 1] + "…"


def _first_issue(body: dict[str, Any]) -> dict[str, Any] | None:
    issues = body.get("issue")
    if isinstance(issues, list) and issues and isinstance(issues[0], dict):
        first: dict[str, Any] = issues[0]
        return first
    return None


def outcome_reason(body: Any) -> tuple[str | None, str | None]:
    """(message, reason code) of an OperationOutcome or OAuth error JSON object."""
    if not isinstance(body, dict):
        return None, None
    if body.get("resourceType") == "OperationOutcome":
        issue = _first_issue(body)
        if issue is None:
            return None, None
        details = issue.get("details")
        reason: str | None = None
        text: Any = None
        if isinstance(details, dict):
            text = details.get("text")
            codings = details.get("coding")
            if isinstance(codings, list) and codings and isinstance(codings[0], dict):
                code = codings[0].get("code")
                reason = code if isinstance(code, str) and code else None
        return _clean(issue.get("diagnostics")) or _clean(text), reason
    error = body.get("error")
    if isinstance(error, str) and error:  # OAuth 2.0 error answer
        return _clean(body.get("error_description")), error
    return None, None


def error_from_response(status: int, content: bytes, method: str, path: str) -> DmpError:
    """The domain error for an HTTP answer ``status`` (not 2xx) to ``method path``.

    ``path`` must not carry the query string (it may hold an INS).
    """
    if 300 <= status < 400:
        return ProtocolError(
            f"Le serveur DMP a répondu par une redirection ({status}) à {method} {path} : "
            "elle n'est pas suivie (vérifiez l'adresse du serveur)."
        )
    message: str | None = None
    reason: str | None = None
    if content:
        try:
            body = json.loads(content)
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: too deep
            body = None
        message, reason = outcome_reason(body)
    if message is None:
        message = _DEFAULT_MESSAGES.get(
            status, f"Le serveur DMP a répondu une erreur {status} à {method} {path}."
        )
    match status:
        case 401:
            return AuthenticationError(message, status, reason)
        case 403:
            return ForbiddenError(message, status, reason)
        case 404:
            return NotFoundError(message, status, reason)
        case _:
            return ServerError(message, status, reason)
