"""The sandbox's FastAPI application: composition of the FHIR and auth routers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sandbox.config import Settings
from sandbox.errors import FHIR_JSON, install_error_handlers, operation_outcome
from sandbox.store import DB_NAME, Store

EPISODE_SWEEP_S = 15.0
"""How often the end of timed-out access episodes (bris de glace) is traced."""


class BodyLimitMiddleware:
    """Answer 413 (OperationOutcome) to a body over ``limit`` bytes, declared or streamed."""

    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        for name, value in scope.get("headers", []):
            if name == b"content-length" and value.isdigit() and int(value) > limit:
                await _send_too_large(send, limit)
                return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _BodyTooLargeError
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLargeError:
            await _send_too_large(send, limit)


class _BodyTooLargeError(Exception):
    pass


async def _send_too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        operation_outcome(
            413, f"Corps de requête trop volumineux (limite {limit} octets).", details="too_large"
        )
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", FHIR_JSON.encode()),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


_NIR_IN_PATH = re.compile(r"[0-9][0-9AB]{12}[0-9]{2}")
access_log = logging.getLogger("sandbox.access")


class AccessLogMiddleware:
    """One line per request: method, path without query string and with any NIR masked,
    status, duration. Never the body, the query, the token or a patient identifier."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = _NIR_IN_PATH.sub("<INS>", str(scope.get("path", "")))
            access_log.info(
                "%s %s %d %.1f ms",
                scope.get("method", "?"),
                path,
                status,
                (time.perf_counter() - start) * 1000,
            )


def create_app(
    directory: Path,
    settings: Settings | None = None,
    *,
    clock: Callable[[], float] = time.time,
) -> FastAPI:
    """The sandbox app over ``directory`` (made by ``dmp-sandbox init``)."""
    from sandbox import api, auth, faults  # routers import the app's dependencies

    db = Path(directory) / DB_NAME
    if not db.exists():
        raise FileNotFoundError(f"{db} not found: run `dmp-sandbox init {directory}` first")
    store = Store(db)

    async def sweep_expired_episodes() -> None:
        while True:
            await asyncio.sleep(EPISODE_SWEEP_S)
            auth.close_expired_episodes(store, app.state.clock())

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        sweeper = asyncio.create_task(sweep_expired_episodes())
        yield
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        store.close()

    app = FastAPI(
        lifespan=lifespan,
        title="DMP sandbox",
        description="A local double of the French DMP (FHIR R4, PDSm / IHE MHD). Test data only.",
        version="1",
    )
    app.state.directory = Path(directory)
    app.state.store = store
    app.state.settings = settings or Settings()
    app.state.clock = clock
    install_error_handlers(app)
    app.include_router(auth.router)
    app.include_router(api.router)
    app.add_middleware(BodyLimitMiddleware, limit=lambda: app.state.settings.max_body_bytes)
    app.add_middleware(faults.FaultMiddleware)  # faults before anything else
    app.add_middleware(AccessLogMiddleware)  # outermost: sees every answer
    return app
