"""``python -m bench table``: the document table at 10,000 and 100,000 rows, and the chronic
patient opened over loopback.

Ours is the real :class:`~console.views.dossier_view.DossierView` (offscreen): rows ordered
and filtered by the pure functions of ``console.domain.table`` over precomputed keys, the
model reset with the result, the events processed. The baseline, measured in the same run
over the same rows, is the naive table: the same source model under a
``QSortFilterProxyModel`` whose ``lessThan`` and ``filterAcceptsRow`` are Python overrides
(the proxy calls back into Python for every comparison and every row), shown in a table view.

Cases (JSON lines, ``ours_s`` beside ``baseline_s``):

- ``sort_<column>``: one click on a column header (each timing changes the order, so nothing
  is served from a cache). The naive proxy at 100k takes seconds per sort: measured once.
- ``filter_keystroke``: the first letter typed in the filter (most rows still match, the
  heaviest keystroke); ``filter_keystroke_narrow``: one more letter of a longer word.
  The filter bar's 150 ms pause before applying the text is not counted (it is not work).
- ``filter_clear``: the filter emptied.
- ``chronic_first_rows`` / ``chronic_all_rows``: the sandbox's chronic patient (a fresh
  sandbox, e-CPS login, the real HTTP gateway) opened in the view: time to the first rows
  shown and to the whole list, first opening (two years and the vaccination history) and
  the whole history (the date limit removed). ``http_only_s`` is the same searches read by
  the gateway alone (the floor set by the server).
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import httpx
import qasync
from PySide6.QtCore import (
    QMessageLogContext,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    QtMsgType,
    qInstallMessageHandler,
)

from bench.common import emit, note
from bench.sandbox_bench import _ecps_login
from console.dmp import HttpDmpGateway
from console.domain.dossier import (
    AccessGrant,
    DocumentPage,
    DocumentQuery,
    PatientRecord,
    ProfessionalLogin,
)
from console.domain.ins import INS
from console.domain.models import AccessMode, DocumentMeta, Visibility
from console.domain.rules import AccessRequest
from console.domain.table import Column, DocumentFilter, fold
from console.domain.terminology import terminology
from console.services.dossier import DossierService, OpenDossier
from console.services.ports import DmpGateway
from console.services.session import SessionService
from console.services.visits import InMemoryVisitStore, VisitService
from console.views.document_model import COLUMNS, SORT_ROLE, DocumentTableModel
from console.views.dossier_view import DocumentTableView, DossierView, ensure_application
from sandbox.testing import SandboxProcess

BENCH = "table"
AnyIndex = QModelIndex | QPersistentModelIndex

WORDS = (
    "compte rendu consultation échographie abdominale bilan biologique sanguin ordonnance "
    "radiographie thorax cardiologie synthèse médicale vaccination kinésithérapie scanner "
    "IRM lombaire hospitalisation sortie urgence dermatologie ophtalmologie diabète suivi"
).split()
GIVEN = "Claire Émile Anne Bruno Zoé Paul Hélène Jérôme Léa Noël Chloé Théo".split()
FAMILY = "MARTIN BERNARD DUBOIS THOMAS ROBERT RICHARD PETIT DURAND LEROY MOREAU".split()
STRUCTURES = "Cabinet du Parc|CHU de Nantes|Clinique Saint-Éloi|Laboratoire Bio+|Centre IRM".split(
    "|"
)
PROFESSIONS = ("10", "10", "10", "21", "60", "70", "40")


def synthetic_documents(n: int, seed: int = 4) -> list[DocumentMeta]:
    """``n`` documents of one patient: realistic types, titles, authors, 15 years of dates."""
    rng = random.Random(seed)
    types = list(terminology().types.values())
    authors = [
        (f"8{rng.randrange(10**10, 10**11)}", f"Dr {rng.choice(GIVEN)} {rng.choice(FAMILY)}")
        for _ in range(300)
    ]
    now = datetime(2025, 6, 15, tzinfo=UTC)
    docs = []
    for number in range(n):
        doc_type = rng.choice(types)
        author_id, author = rng.choice(authors)
        created = now - timedelta(minutes=rng.randrange(15 * 365 * 24 * 60))
        flags: set[Visibility] = set()
        if rng.random() < 0.03:
            flags.add(Visibility.MASQUE_PS)
        if rng.random() < 0.02:
            flags.add(Visibility.INVISIBLE_PATIENT)
        title = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 5)))
        docs.append(
            DocumentMeta(
                id=f"doc-{number:07d}",
                master_id=f"doc-{number:07d}",
                patient_ins="255081416802538",
                type_code=doc_type.code,
                class_code=doc_type.class_code,
                title=f"{title.capitalize()} {rng.randint(1, 400)}",
                author_id_nat=author_id,
                created=created,
                deposited=created + timedelta(hours=rng.randrange(24 * 30)),
                author_name=author,
                author_profession=rng.choice(PROFESSIONS),
                structure_name=rng.choice(STRUCTURES),
                archived=rng.random() < 0.02,
                visibility=frozenset(flags),
            )
        )
    return docs


# -- the naive table: a proxy calling back into Python ------------------------------------------


class NaiveProxy(QSortFilterProxyModel):
    """The usual first version: ``lessThan`` and ``filterAcceptsRow`` written in Python."""

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.words: list[str] = []
        self._title = [d.column for d in COLUMNS].index(Column.TITLE)
        self._type = [d.column for d in COLUMNS].index(Column.TYPE)
        self._author = [d.column for d in COLUMNS].index(Column.AUTHOR)

    def set_text(self, text: str) -> None:
        self.words = fold(text).split()
        self.invalidateFilter()

    def lessThan(self, left: AnyIndex, right: AnyIndex) -> bool:
        result: bool = left.data(SORT_ROLE) < right.data(SORT_ROLE)
        return result

    def filterAcceptsRow(self, source_row: int, source_parent: AnyIndex) -> bool:
        if not self.words:
            return True
        model = self.sourceModel()
        text = fold(
            " ".join(
                str(model.index(source_row, column, source_parent).data())
                for column in (self._title, self._type, self._author)
            )
        )
        return all(word in text for word in self.words)


# -- helpers -------------------------------------------------------------------------------------


class MemoryDossierService(DossierService):
    """Documents from memory, in pages (the network is not what is measured here)."""

    def __init__(self, docs: Sequence[DocumentMeta], page: int = 5000) -> None:
        login = ProfessionalLogin("810000000001", "Bench", "10", "x", datetime.now(UTC))
        super().__init__(cast(DmpGateway, None), cast(SessionService, SimpleNamespace(login=login)))
        self.docs = docs
        self.page = page

    async def documents(
        self, dossier: OpenDossier, query: DocumentQuery
    ) -> AsyncIterator[DocumentPage]:
        if query.act_from is not None or query.type_codes:
            return  # the bench opens the whole history only
        for start in range(0, len(self.docs), self.page):
            chunk = tuple(self.docs[start : start + self.page])
            for doc in chunk:
                dossier.documents[doc.id] = doc
            yield DocumentPage(chunk, len(self.docs))
            await asyncio.sleep(0)


PATIENT = PatientRecord(INS.parse("255081416802538"), "Bench", "Patient", date(1950, 1, 1), "")


def an_open_dossier(patient: PatientRecord = PATIENT) -> OpenDossier:
    return OpenDossier(
        AccessGrant(patient, AccessMode.NORMAL, "x", datetime.now(UTC) + timedelta(hours=1))
    )


def whole_history_view(
    loop: qasync.QEventLoop, docs: Sequence[DocumentMeta], page: int = 1000
) -> tuple[DossierView, float, list[float]]:
    """A DossierView holding ``docs`` (opened, date limit removed, every page in), the time
    the pages took, and the gaps between the turns of the event loop meanwhile."""
    view = DossierView(MemoryDossierService(docs, page))
    view.resize(1500, 900)
    view.show()
    view.show_dossier(an_open_dossier())
    wait(loop, lambda: not view.loading)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(2)
    start = time.perf_counter()
    view.remove_date_limit()
    wait(loop, lambda: not view.loading)
    took = time.perf_counter() - start
    timer.stop()
    assert view.model.rowCount() == len(docs), view.model.rowCount()
    gaps = sorted(b - a for a, b in itertools.pairwise(ticks))
    return view, took, gaps


def wait(loop: qasync.QEventLoop, predicate: Callable[[], bool], timeout: float = 600) -> None:
    async def poll() -> None:
        while not predicate():
            await asyncio.sleep(0.001)

    loop.run_until_complete(asyncio.wait_for(poll(), timeout))


def timed(action: Callable[[], object]) -> float:
    """Wall time of ``action`` and of the events it posted (the view's relayout, paint).

    As in the console (``console.app``: the cyclic collector runs from a timer, never in the
    middle of an action), the collector does not run inside a timing: it runs before each.
    The same for ours and for the naive proxy."""
    app = ensure_application()
    gc.collect()
    start = time.perf_counter()
    action()
    app.processEvents()
    return time.perf_counter() - start


# -- cases ---------------------------------------------------------------------------------------


def bench_size(loop: qasync.QEventLoop, n: int, *, naive_repeat: int, repeat: int) -> None:
    note(f"table: {n} synthetic documents...")
    app = ensure_application()
    docs = synthetic_documents(n)
    view, took, gaps = whole_history_view(loop, docs)
    del docs
    emit(
        BENCH,
        "stream_pages_of_1000",
        n,
        took,
        longest_freeze_s=round(gaps[-1], 6),
        p95_freeze_s=round(gaps[int(len(gaps) * 0.95)], 6),
    )

    source = DocumentTableModel()
    source.show(list(view.fetched_rows))
    proxy = NaiveProxy()
    proxy.setSourceModel(source)
    naive_view = DocumentTableView()
    naive_view.setModel(proxy)
    naive_view.resize(1500, 900)
    naive_view.show()
    ensure_application().processEvents()

    # Ours: each pass sorts every column once, so no order is served from the view's cache
    # of recent orders (it keeps 4): every timing is a full sort.
    sorts: dict[Column, list[float]] = {d.column: [] for d in COLUMNS}
    for index in range(repeat):
        for definition in COLUMNS:
            sort = partial(view.sort_by, definition.column, descending=index % 2 == 1)
            sorts[definition.column].append(timed(sort))
    for number, definition in enumerate(COLUMNS):
        naive = []
        for index in range(naive_repeat):
            order = Qt.SortOrder.DescendingOrder if index % 2 else Qt.SortOrder.AscendingOrder
            naive.append(timed(partial(proxy.sort, number, order)))
        emit(
            BENCH,
            f"sort_{definition.column.value}",
            n,
            statistics.median(sorts[definition.column]),
            statistics.median(naive),
            runs=repeat,
            baseline_runs=len(naive),
        )

    # Filtering: both sorted by date, most recent first, as the table opens.
    view.sort_by(Column.ACT_DATE, descending=True)
    proxy.sort([d.column for d in COLUMNS].index(Column.ACT_DATE), Qt.SortOrder.DescendingOrder)
    ensure_application().processEvents()
    for case, before, after in (
        ("filter_keystroke", "", "b"),
        ("filter_keystroke_narrow", "echograph", "echographi"),
    ):
        ours: list[float] = []
        naive = []
        for _ in range(repeat):
            view.set_filter(DocumentFilter(before))
            app.processEvents()  # the set-up's own relayout is not the keystroke's
            ours.append(timed(partial(view.set_filter, DocumentFilter(after))))
        for _ in range(naive_repeat):
            proxy.set_text(before)
            app.processEvents()
            naive.append(timed(partial(proxy.set_text, after)))
        emit(
            BENCH,
            case,
            n,
            statistics.median(ours),
            statistics.median(naive),
            shown=view.model.rowCount(),
            baseline_shown=proxy.rowCount(),
        )
    ours = []
    naive = []
    for _ in range(repeat):
        view.set_filter(DocumentFilter("b"))
        app.processEvents()
        ours.append(timed(lambda: view.set_filter(DocumentFilter())))
    for _ in range(naive_repeat):
        proxy.set_text("b")
        app.processEvents()
        naive.append(timed(lambda: proxy.set_text("")))
    emit(BENCH, "filter_clear", n, statistics.median(ours), statistics.median(naive))

    naive_view.close()
    naive_view.deleteLater()
    view.clear()
    view.close()
    view.deleteLater()
    ensure_application().processEvents()


def _whoami(client: httpx.Client, token: str) -> ProfessionalLogin:
    answer = client.get("/auth/whoami", headers={"Authorization": f"Bearer {token}"})
    answer.raise_for_status()
    who = answer.json()
    return ProfessionalLogin(
        who["id_nat"],
        who.get("name") or who["id_nat"],
        who["profession"],
        token,
        datetime.now(UTC) + timedelta(hours=1),
    )


def bench_chronic(loop: qasync.QEventLoop, *, chronic_docs: int, repeat: int) -> None:
    with tempfile.TemporaryDirectory(prefix="bench-table-") as tmp:
        directory = Path(tmp) / "sandbox"
        note(f"table: sandbox init ({chronic_docs} documents for the chronic patient)...")
        subprocess.run(
            [sys.executable, "-m", "sandbox", "init", str(directory), "--no-cards",
             "--patients", "12", "--chronic-docs", str(chronic_docs)],
            check=True, capture_output=True,
        )  # fmt: skip
        with SandboxProcess(directory) as server:
            personas = {p["id"]: p for p in server.personas()}
            patients = server.patients()
            with httpx.Client(base_url=server.url, timeout=60) as client:
                login = _whoami(client, _ecps_login(client, personas["gp"]["id_nat"]))
            ins = INS(patients["ins_system"], patients["chronic"])
            loop.run_until_complete(_chronic(loop, server.url, login, ins, repeat))


async def _http_only(
    gateway: HttpDmpGateway, grant: AccessGrant, queries: list[DocumentQuery]
) -> int:
    count = 0
    for query in queries:
        async for page in gateway.search_documents(grant, query):
            count += len(page.documents)
    return count


async def _chronic(
    loop: qasync.QEventLoop, url: str, login: ProfessionalLogin, ins: INS, repeat: int
) -> None:
    async with HttpDmpGateway(url, timeout=60) as gateway:
        service = DossierService(gateway, cast(SessionService, SimpleNamespace(login=login)))
        patient = await gateway.find_patient(login, ins)
        assert patient is not None
        results: dict[str, list[tuple[float, float, int, float]]] = {"first": [], "whole": []}
        for _ in range(repeat):
            dossier = await service.open(patient, AccessRequest())
            # A fresh visit store: each run is a first opening.
            view = DossierView(service, visits=VisitService(InMemoryVisitStore()))
            view.resize(1500, 900)
            view.show()
            await asyncio.sleep(0.1)  # the page exists before a patient is opened
            for case in ("first", "whole"):
                first_rows: list[float] = []

                def first_inserted(*_: object, seen: list[float] = first_rows) -> None:
                    if not seen:
                        seen.append(time.perf_counter())

                view.model.rowsInserted.connect(first_inserted)
                start = time.perf_counter()
                if case == "first":
                    view.show_dossier(dossier)
                else:
                    view.remove_date_limit()
                while view.loading or not first_rows:
                    await asyncio.sleep(0.001)
                done = time.perf_counter()
                view.model.rowsInserted.disconnect()
                plan = view.plan
                assert plan is not None
                http_start = time.perf_counter()
                count = await _http_only(gateway, dossier.grant, list(plan.queries))
                http = time.perf_counter() - http_start
                results[case].append((first_rows[0] - start, done - start, count, http))
            view.close_dossier()
            view.close()
            view.deleteLater()
            await asyncio.sleep(0.05)
        for case, runs in results.items():
            rows = runs[0][2]
            name = "chronic" if case == "first" else "chronic_whole_history"
            emit(
                BENCH,
                f"{name}_first_rows",
                rows,
                statistics.median(r[0] for r in runs),
                runs=len(runs),
            )
            emit(
                BENCH,
                f"{name}_all_rows",
                rows,
                statistics.median(r[1] for r in runs),
                http_only_s=round(statistics.median(r[3] for r in runs), 6),
                runs=len(runs),
            )


def _quiet(kind: QtMsgType, context: QMessageLogContext, message: str) -> None:
    # The offscreen platform warns on every window shown; stdout stays pure JSON lines.
    if "propagateSizeHints" not in message:
        print(message, file=sys.stderr)


def run(*, quick: bool = False) -> None:
    qInstallMessageHandler(_quiet)
    app = ensure_application(["bench"])
    # Views are closed between cases: that must not end the event loop.
    app.setQuitOnLastWindowClosed(False)
    loop = qasync.QEventLoop(app, already_running=False)
    asyncio.set_event_loop(loop)
    gc.disable()  # as console.app does: collected between actions (see timed())
    try:
        sizes = (10_000,) if quick else (10_000, 100_000)
        for n in sizes:
            # The naive proxy at 100k takes seconds per operation: measured once.
            bench_size(loop, n, naive_repeat=1 if n >= 100_000 else 3, repeat=5)
        bench_chronic(loop, chronic_docs=500 if quick else 3000, repeat=3 if quick else 5)
    finally:
        gc.enable()
        loop.close()
        asyncio.set_event_loop(None)
