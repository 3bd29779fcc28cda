"""The DMP client against a hostile server: a raw TCP server on loopback that answers with
bytes scripted per case (slow, truncated, oversized, compressed, malformed, looping).

Every case must end, within the client's deadline, in a domain error (``ConsoleError``: a
French message the views show), never a hang, a traceback or an unbounded read. The client
runs with small bounds (a 1.5 s deadline, 1 MiB of JSON) so that the suite stays fast; the
same code paths run with the defaults in the console.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
import pytest_asyncio

from console.dmp import HttpDmpGateway
from console.domain.dossier import AccessGrant, DocumentQuery, PatientRecord, ProfessionalLogin
from console.domain.errors import ConsoleError, NetworkError, ProtocolError, ServerError
from console.domain.ins import INS, INS_NIR_SYSTEM, nir_key
from console.domain.models import AccessMode, DocumentMeta

pytestmark = [pytest.mark.integration]

NIR13 = "1840575123456"
NIR = NIR13 + f"{nir_key(NIR13):02d}"
PATIENT = PatientRecord(INS(INS_NIR_SYSTEM, NIR), "HOSTILE", "Cas", date(1984, 5, 1), "male")
DEADLINE = 1.5
JSON_LIMIT = 1024 * 1024

Writer = asyncio.StreamWriter
Script = Callable[[Writer, "Request"], Awaitable[None]]


@dataclass
class Request:
    method: str
    target: str
    count: int


def head(
    status: int = 200, headers: dict[str, str] | None = None, length: int | None = None
) -> bytes:
    lines = [f"HTTP/1.1 {status} X"]
    all_headers = {"Content-Type": "application/fhir+json", **(headers or {})}
    if length is not None:
        all_headers["Content-Length"] = str(length)
    lines += [f"{k}: {v}" for k, v in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def answer(body: bytes, status: int = 200, headers: dict[str, str] | None = None) -> Script:
    async def script(writer: Writer, _request: Request) -> None:
        writer.write(head(status, headers, len(body)) + body)
        await writer.drain()

    return script


def json_answer(value: Any, status: int = 200) -> Script:
    return answer(json.dumps(value).encode(), status)


class HostileServer:
    """Serves ``script`` to every request on 127.0.0.1 (keep-alive, one request at a time)."""

    def __init__(self) -> None:
        self.script: Script = answer(b"{}")
        self.requests: list[Request] = []
        self.server: asyncio.Server | None = None
        self.port = 0

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self.server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: Writer) -> None:
        try:
            while True:
                raw = await reader.readuntil(b"\r\n\r\n")
                lines = raw.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                length = 0
                for line in lines[1:]:
                    if line.lower().startswith("content-length:"):
                        length = int(line.split(":", 1)[1])
                if length:
                    await reader.readexactly(length)
                request = Request(method, target, len(self.requests))
                self.requests.append(request)
                await self.script(writer, request)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            # a connection held open by a "never answers" case: closed with the server
            self.server.close_clients()
            await self.server.wait_closed()


def login() -> ProfessionalLogin:
    return ProfessionalLogin(
        "899700000011", "Claire MARTIN", "10", "tok", datetime.now(UTC) + timedelta(hours=8)
    )


def grant() -> AccessGrant:
    return AccessGrant(PATIENT, AccessMode.NORMAL, "ptok", datetime.now(UTC) + timedelta(hours=1))


def document(**changes: Any) -> DocumentMeta:
    fields: dict[str, Any] = {
        "id": "doc0001",
        "master_id": "urn:oid:1.2.250.1.999.1.1.1",
        "patient_ins": NIR,
        "type_code": "11488-4",
        "class_code": "10",
        "title": "CR",
        "author_id_nat": "899700000011",
        "created": datetime(2024, 1, 1, tzinfo=UTC),
        "deposited": datetime(2024, 1, 2, tzinfo=UTC),
        "content_type": "application/pdf",
    }
    fields.update(changes)
    return DocumentMeta(**fields)


def searchset(entries: list[Any], next_url: str | None = None) -> dict[str, Any]:
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset", "entry": entries}
    if next_url:
        bundle["link"] = [{"relation": "next", "url": next_url}]
    return bundle


# -- the scripts ---------------------------------------------------------------------------------


def trickle(interval: float, total: int = 10_000) -> Script:
    """A head, then one byte of body every ``interval`` s (each read is within any timeout)."""

    async def script(writer: Writer, _request: Request) -> None:
        writer.write(head(length=total))
        for _ in range(total):
            await writer.drain()
            writer.write(b" ")
            await asyncio.sleep(interval)

    return script


def trickle_head(interval: float) -> Script:
    async def script(writer: Writer, _request: Request) -> None:
        for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10_000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(interval)

    return script


async def silent(writer: Writer, _request: Request) -> None:
    await asyncio.sleep(3600)


async def hang_up(writer: Writer, _request: Request) -> None:
    writer.close()


async def truncated(writer: Writer, _request: Request) -> None:
    writer.write(head(length=1000) + b'{"resourceType": "Bundle"')
    await writer.drain()
    writer.close()


async def garbage_status(writer: Writer, _request: Request) -> None:
    writer.write(b"SMTP READY\r\n\r\n")
    await writer.drain()
    writer.close()


def endless_chunks(chunk: bytes = b" " * 65536) -> Script:
    async def script(writer: Writer, _request: Request) -> None:
        writer.write(head(headers={"Transfer-Encoding": "chunked"}))
        while True:
            writer.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            await writer.drain()

    return script


def gzip_bomb(inflated: int) -> bytes:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    block = b"0" * (1024 * 1024)
    parts = [compressor.compress(block) for _ in range(inflated // len(block))]
    return b"".join(parts) + compressor.flush()


def nested(depth: int) -> bytes:
    return b'{"resourceType": "Bundle", "entry": ' + b"[" * depth + b"]" * depth + b"}"


def new_links() -> Script:
    async def script(writer: Writer, request: Request) -> None:
        body = json.dumps(searchset([], next_url=f"/DocumentReference?page={request.count}"))
        writer.write(head(length=len(body)) + body.encode())
        await writer.drain()

    return script


def same_link() -> Script:
    return json_answer(searchset([], next_url="/DocumentReference?page=1"))


# -- the operations ------------------------------------------------------------------------------

Operation = Callable[[HttpDmpGateway], Awaitable[Any]]


async def find_patient(gw: HttpDmpGateway) -> Any:
    return await gw.find_patient(login(), PATIENT.ins)


async def search(gw: HttpDmpGateway) -> Any:
    return [page async for page in gw.search_documents(grant(), DocumentQuery())]


def retrieve(**changes: Any) -> Operation:
    async def run(gw: HttpDmpGateway) -> Any:
        return await gw.retrieve(grant(), document(**changes))

    return run


async def deposit(gw: HttpDmpGateway) -> Any:
    return await gw.deposit(login(), b'{"resourceType": "Bundle"}')


async def challenge(gw: HttpDmpGateway) -> Any:
    return await gw.challenge()


PDF = b"%PDF-1.4 hostile\n%%EOF\n"
HUGE = 512 * 1024 * 1024

CASES: dict[str, tuple[Script, Operation, type[ConsoleError]]] = {
    # slow or silent: the deadline ends them, whatever the per-read timeout says
    "trickled body, search": (trickle(0.2), search, NetworkError),
    "trickled body, deposit": (trickle(0.2), deposit, NetworkError),
    "trickled status line": (trickle_head(0.2), find_patient, NetworkError),
    "never answers": (silent, find_patient, NetworkError),
    "never answers a deposit": (silent, deposit, NetworkError),
    "hangs up": (hang_up, find_patient, NetworkError),
    "body cut short": (truncated, find_patient, NetworkError),
    "not HTTP": (garbage_status, challenge, NetworkError),
    # too big: refused before reading or stopped at the limit
    "Content-Length of 512 MB": (
        answer(b"", 200, {"Content-Length": str(HUGE)}),
        search,
        ProtocolError,
    ),
    "endless chunked JSON": (endless_chunks(), search, ProtocolError),
    "endless chunked document": (endless_chunks(), retrieve(), ProtocolError),
    "document over its announced size": (
        answer(PDF * 100_000, 200, {"Content-Type": "application/pdf"}),
        retrieve(size=len(PDF)),
        ProtocolError,
    ),
    "gzip bomb": (
        answer(gzip_bomb(64 * 1024 * 1024), 200, {"Content-Encoding": "gzip"}),
        search,
        ProtocolError,
    ),
    "invalid gzip": (
        answer(b"not gzip at all", 200, {"Content-Encoding": "gzip"}),
        search,
        ProtocolError,
    ),
    "deflate bomb on a document": (
        answer(
            gzip_bomb(64 * 1024 * 1024),
            200,
            {"Content-Encoding": "gzip", "Content-Type": "application/pdf"},
        ),
        retrieve(),
        ProtocolError,
    ),
    "10^5 entries": (
        answer(json.dumps(searchset([{}] * 100_000)).encode()),
        search,
        ProtocolError,
    ),
    # malformed
    "deeply nested JSON": (answer(nested(100_000)), search, ProtocolError),
    "nested JSON on a patient search": (answer(nested(50_000)), find_patient, ProtocolError),
    "not JSON": (answer(b"<html>hello</html>"), search, ProtocolError),
    "empty 200": (answer(b""), find_patient, ProtocolError),
    "JSON array": (json_answer([1, 2, 3]), search, ProtocolError),
    "invalid UTF-8": (answer(b'{"resourceType": "\xff\xfe"}'), search, ProtocolError),
    "entry not a list": (
        json_answer({"resourceType": "Bundle", "type": "searchset", "entry": "x"}),
        search,
        ProtocolError,
    ),
    "entry of numbers": (json_answer(searchset([1, 2])), search, ProtocolError),
    "resource of the wrong type": (
        json_answer(searchset([{"resource": {"resourceType": "Patient"}}])),
        search,
        ProtocolError,
    ),
    "DocumentReference without fields": (
        json_answer(searchset([{"resource": {"resourceType": "DocumentReference"}}])),
        search,
        ProtocolError,
    ),
    "a Binary not in base64": (
        answer(
            b'{"resourceType": "Binary", "data": "***"}',
            200,
            {"Content-Type": "application/fhir+json"},
        ),
        retrieve(),
        ProtocolError,
    ),
    "a document of another SHA-1": (
        answer(PDF, 200, {"Content-Type": "application/pdf"}),
        retrieve(sha1=hashlib.sha1(b"other").hexdigest()),
        ProtocolError,
    ),
    "no nonce": (json_answer({"nonce": 12}), challenge, ProtocolError),
    "deposit answer not a Bundle": (
        json_answer({"resourceType": "Patient"}),
        deposit,
        ProtocolError,
    ),
    "deposit answer nested": (answer(nested(100_000)), deposit, ProtocolError),
    # paging
    "always new paging links": (new_links(), search, ProtocolError),
    "paging back to the same page": (same_link(), search, ProtocolError),
    "paging to another origin": (
        json_answer(searchset([], next_url="http://evil.example/DocumentReference?p=2")),
        search,
        ProtocolError,
    ),
    # error answers the server dresses up
    "500 in HTML": (
        answer(b"<h1>boom</h1>", 500, {"Content-Type": "text/html"}),
        search,
        ServerError,
    ),
    "403 not an OperationOutcome": (json_answer({"hello": 1}, 403), search, ServerError),
    "400 nested": (answer(nested(100_000), 400), find_patient, ServerError),
    "redirect": (answer(b"", 302, {"Location": "http://evil.example/"}), search, ConsoleError),
    "429 for an hour": (answer(b"", 429, {"Retry-After": "3600"}), search, ServerError),
    "503 on a deposit": (answer(b"", 503), deposit, ServerError),
}


@pytest_asyncio.fixture
async def server() -> AsyncIterator[HostileServer]:
    hostile = HostileServer()
    await hostile.start()
    yield hostile
    await hostile.stop()


@pytest.mark.asyncio
@pytest.mark.parametrize("case", list(CASES))
async def test_a_hostile_answer_ends_in_a_clear_error(server: HostileServer, case: str) -> None:
    script, operation, expected = CASES[case]
    server.script = script
    gw = HttpDmpGateway(
        f"http://127.0.0.1:{server.port}",
        timeout=DEADLINE * 2,  # per read: longer than the deadline, as a trickle defeats it
        deadline=DEADLINE,
        max_json_bytes=JSON_LIMIT,
        max_document_bytes=4 * JSON_LIMIT,
        max_bundle_entries=1000,
        max_pages=20,
        max_retries=0,
    )
    try:
        # the bound only turns a regression (a hang) into a failure: not a timed assertion
        with pytest.raises(expected) as raised:
            await asyncio.wait_for(operation(gw), timeout=30)
    finally:
        await gw.aclose()
    message = str(raised.value)
    assert message and message[0].isupper(), message
    assert "Traceback" not in message and NIR not in message
    if case == "always new paging links":
        assert len(server.requests) <= 20
