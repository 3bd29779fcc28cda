"""Fault injection, so clients can be tested against a DMP that misbehaves.

``POST /sandbox/faults`` with ``{"status": 429, "count": 3, "path_prefix": "/", "retry_after":
1, "delay_ms": 0, "method": null}`` makes the next ``count`` requests whose path starts with
``path_prefix`` (and, when given, whose method is ``method``) wait ``delay_ms`` and then fail
with ``status`` (an OperationOutcome, with ``Retry-After`` when ``retry_after`` is set). With
``status`` null (or 0) the requests are only delayed, then served normally. Rules are consumed
in the order they were posted. ``GET /sandbox/faults`` lists the pending rules,
``DELETE /sandbox/faults`` clears them. The ``/sandbox/faults`` paths are never faulted.

A pure ASGI middleware: its state lives in ``app.state.faults`` (a list of :class:`FaultRule`).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import asdict, dataclass
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from sandbox.errors import FHIR_JSON, operation_outcome

CONTROL_PATH = "/sandbox/faults"
FAULT_STATUSES = frozenset({429, 500, 502, 503, 504})
_MAX_CONTROL_BODY = 64 * 1024

_MESSAGES = {
    429: "Trop de requêtes : réessayez plus tard (panne simulée).",
    500: "Erreur interne simulée du DMP.",
    502: "Passerelle défaillante (panne simulée).",
    503: "Service DMP indisponible (panne simulée).",
    504: "Délai dépassé côté passerelle (panne simulée).",
}


@dataclass(slots=True)
class FaultRule:
    status: int | None
    remaining: int
    path_prefix: str = "/"
    retry_after: int | None = None
    delay_ms: int = 0
    method: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (
            self.remaining > 0
            and path.startswith(self.path_prefix)
            and (self.method is None or self.method == method)
        )


class FaultRuleError(ValueError):
    pass


def parse_rule(data: Any) -> FaultRule:
    """A :class:`FaultRule` from the JSON body of ``POST /sandbox/faults``."""
    if not isinstance(data, dict):
        raise FaultRuleError("JSON object expected")
    status = data.get("status")
    if status in (None, 0):
        status = None
    elif not isinstance(status, int) or status not in FAULT_STATUSES:
        raise FaultRuleError(f"status must be one of {sorted(FAULT_STATUSES)} or null")
    count = data.get("count", 1)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise FaultRuleError("count must be an integer >= 1")
    prefix = data.get("path_prefix", "/")
    if not isinstance(prefix, str) or not prefix.startswith("/"):
        raise FaultRuleError("path_prefix must be a path starting with /")
    retry_after = data.get("retry_after")
    if retry_after is not None and (not isinstance(retry_after, int) or retry_after < 0):
        raise FaultRuleError("retry_after must be a number of seconds >= 0")
    delay_ms = data.get("delay_ms", 0)
    if not isinstance(delay_ms, int) or not 0 <= delay_ms <= 60_000:
        raise FaultRuleError("delay_ms must be an integer in [0, 60000]")
    method = data.get("method")
    if method is not None and not isinstance(method, str):
        raise FaultRuleError("method must be an HTTP method or null")
    if status is None and delay_ms == 0:
        raise FaultRuleError("a rule needs a status or a delay")
    return FaultRule(
        status, count, prefix, retry_after, delay_ms, None if method is None else method.upper()
    )


def _rules(scope: Scope) -> list[FaultRule]:
    state = scope["app"].state
    rules: list[FaultRule] | None = getattr(state, "faults", None)
    if rules is None:
        rules = []
        state.faults = rules
    return rules


async def _send_json(
    send: Send,
    status: int,
    body: Any,
    *,
    content_type: str = "application/json",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> None:
    payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", b"%d" % len(payload)),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > _MAX_CONTROL_BODY:
            raise FaultRuleError("body too large")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


class FaultMiddleware:
    """Serve ``/sandbox/faults`` and apply the pending fault rules to other requests."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        method: str = scope["method"]
        if path.rstrip("/") == CONTROL_PATH:
            await self._control(scope, receive, send, method)
            return
        rules = _rules(scope)
        rule = next((r for r in rules if r.matches(method, path)), None)
        if rule is None:
            await self.app(scope, receive, send)
            return
        rule.remaining -= 1
        if rule.remaining <= 0:
            rules.remove(rule)
        if rule.delay_ms:
            await asyncio.sleep(rule.delay_ms / 1000)
        if rule.status is None:
            await self.app(scope, receive, send)
            return
        headers = []
        if rule.retry_after is not None:
            headers.append((b"retry-after", str(rule.retry_after).encode()))
        await _send_json(
            send,
            rule.status,
            operation_outcome(rule.status, _MESSAGES[rule.status], details="injected_fault"),
            content_type=FHIR_JSON,
            headers=headers,
        )

    async def _control(self, scope: Scope, receive: Receive, send: Send, method: str) -> None:
        rules = _rules(scope)
        if method == "DELETE":
            rules.clear()
            await _send_json(send, 200, {"faults": []})
        elif method == "GET":
            await _send_json(send, 200, {"faults": [asdict(r) for r in rules]})
        elif method == "POST":
            try:
                rule = parse_rule(json.loads(await _read_body(receive) or b"null"))
            except (FaultRuleError, ValueError) as exc:
                await _send_json(
                    send,
                    400,
                    operation_outcome(400, f"Règle de panne invalide : {exc}"),
                    content_type=FHIR_JSON,
                )
                return
            rules.append(rule)
            await _send_json(send, 201, {"faults": [asdict(r) for r in rules]})
        else:
            await _send_json(
                send,
                405,
                operation_outcome(405, "Méthodes : GET, POST, DELETE."),
                content_type=FHIR_JSON,
                headers=[(b"allow", b"GET, POST, DELETE")],
            )
