"""FHIR errors: an exception carrying an HTTP status and an OperationOutcome."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

FHIR_JSON = "application/fhir+json"

# OperationOutcome.issue.code per HTTP status (FHIR R4 issue-type value set).
_ISSUE_CODES = {
    400: "invalid",
    401: "login",
    403: "forbidden",
    404: "not-found",
    405: "not-supported",
    409: "conflict",
    410: "deleted",
    413: "too-long",
    415: "not-supported",
    422: "processing",
    429: "throttled",
    500: "exception",
    503: "transient",
}


def operation_outcome(
    status: int, diagnostics: str, *, code: str | None = None, details: str | None = None
) -> dict[str, Any]:
    issue: dict[str, Any] = {
        "severity": "error" if status < 500 else "fatal",
        "code": code or _ISSUE_CODES.get(status, "processing"),
        "diagnostics": diagnostics,
    }
    if details:
        issue["details"] = {"coding": [{"code": details}], "text": diagnostics}
    return {"resourceType": "OperationOutcome", "issue": [issue]}


class FhirError(Exception):
    """Raised anywhere in a request: answered as an OperationOutcome with ``status``.

    ``reason`` is a stable machine code (e.g. a rules.Refusal value) put in
    ``issue.details.coding.code`` so clients can react without parsing French text.
    """

    def __init__(
        self,
        status: int,
        diagnostics: str,
        *,
        reason: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.diagnostics = diagnostics
        self.reason = reason
        self.headers = headers or {}


def fhir_response(
    body: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves the server as an OperationOutcome, never as FastAPI's own JSON."""

    @app.exception_handler(FhirError)
    async def _fhir_error(_: Request, exc: FhirError) -> JSONResponse:
        return fhir_response(
            operation_outcome(exc.status, exc.diagnostics, details=exc.reason),
            exc.status,
            exc.headers,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        text = str(exc.detail) if exc.detail else "Erreur HTTP"
        reason = "http_error"
        if exc.status_code == 404:
            text, reason = "Ressource ou point d'accès inconnu.", "unknown_route"
        elif exc.status_code == 405:
            text, reason = "Méthode non prise en charge sur ce point d'accès.", "method_not_allowed"
        return fhir_response(
            operation_outcome(exc.status_code, text, details=reason), exc.status_code
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        parts = []
        for err in exc.errors():
            loc = ".".join(str(p) for p in err.get("loc", ()))
            parts.append(f"{loc}: {err.get('msg', 'invalide')}")
        return fhir_response(operation_outcome(400, "Requête invalide : " + "; ".join(parts)), 400)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        return fhir_response(
            operation_outcome(
                500, f"Erreur interne du bac à sable : {type(exc).__name__}", details="internal"
            ),
            500,
        )
