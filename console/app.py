"""Composition root of the console: ``staff-console`` (``python -m console``).

::

    staff-console [--server URL] [--pkcs11-module PATH] [--lang fr|en] [--sandbox-dir DIR]
                  [--demo-phone]

One QApplication and one qasync event loop; one DMP gateway (closed on quit); one card reader
on the PKCS#11 module (the Cryptolib CPS by default; SoftHSM2 when ``SOFTHSM2_CONF`` is set
and the Cryptolib is absent, or with ``--sandbox-dir``); the card monitor feeding the session
service and the window; the services; the idle lock fed by an application-wide event
filter; in the demo, the window playing the e-CPS phone; one error path that logs (type and
stack, never a message that could hold patient data) and shows the error.

Startup speed (``python -m bench startup``): this module imports only the standard library
and ``console.config``; Qt and the views load inside :func:`main`, after the arguments are
parsed (so ``--help`` answers at once). What the login window does not need waits for its
first paint: the card reader (cryptography) and the DMP gateway (httpx) are
:class:`LazyAdapter` objects built then, the patient search and dossier pages (QtPdf) are
built then, then the card monitor starts; python-pkcs11 itself loads on the reader's worker
thread at its first call. reportlab is never imported here. The record's services (dossier
through the emergency tracker, emergency mode, access history, vaccinations, entourage,
dossier header) and the offline cache (cryptography, SQLCipher) are built after the paint
too (:meth:`ConsoleApp._build_services`).

Wiring of the offline cache: every service reads the DMP through
:class:`~console.services.offline.OfflineGateway` (caches what is read; serves the cache
read-only when the server cannot be reached); the cache opens after each login while the
card's PIN session is open (``SessionService.add_login_listener``; e-CPS: the keychain, or
no cache and a plain message), closes on lock and logout (a lock listener registered after
the emergency mode's), purges hourly and on demand.

``staff-console journal ...`` runs the journal tool (:mod:`console.journal_cli`).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import os
import sys
import time
import traceback
from collections.abc import Callable, Coroutine, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from console import __version__
from console.config import DEFAULT_SERVER, Settings, default_pkcs11_module
from console.domain.localtime import (
    DEFAULT_ZONE,
    UnknownTimeZoneError,
    set_display_zone,
    zone_named,
)
from console.logs import configure_logging

if TYPE_CHECKING:
    from PySide6.QtCore import QObject
    from PySide6.QtWidgets import QApplication, QWidget

    from console.domain.dossier import ProfessionalLogin
    from console.services.cache import CacheService
    from console.services.deposit import BatchDepositService, DepositGateway, DepositService
    from console.services.dossier import DossierService
    from console.services.dossier_header import DossierHeaderService
    from console.services.emergency import EmergencyService, Journal, TracedDossierService
    from console.services.entourage import EntourageService
    from console.services.history import HistoryService
    from console.services.idle import IdleLock
    from console.services.notice import PreferenceStore
    from console.services.ports import CardReader, CardSession, DmpGateway, EcpsPhone
    from console.services.vaccination import VaccinationService
    from console.smartcard.monitor import CardMonitor
    from console.views.ecps import PhoneWindow
    from console.views.main_window import DossierPage, MainWindow, PatientSearchPage

__all__ = ["ConsoleApp", "build_parser", "choose_pkcs11_module", "main", "settings_from_args"]

log = logging.getLogger("console")

STARTUP_PROBE_ENV = "STAFF_CONSOLE_STARTUP_PROBE"
"""When set, the process prints ``time.time()`` at the window's first paint and exits
(``python -m bench startup``)."""

SOFTHSM_CONF_ENV = "SOFTHSM2_CONF"

SearchFactory = Callable[["DossierService"], "PatientSearchPage"]
DossierFactory = Callable[["DossierService"], "DossierPage"]

OFFLINE_PROBE_MS = 30_000
"""Offline, the server is asked this often whether it answers again."""


# -- arguments --------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The command line of ``staff-console``."""
    parser = argparse.ArgumentParser(
        prog="staff-console",
        description=(
            "Console DMP : accès des professionnels de santé au DMP (Mon espace santé) "
            "avec leur carte CPS."
        ),
    )
    parser.add_argument(
        "--server",
        default=DEFAULT_SERVER,
        metavar="URL",
        help=f"URL of the DMP server (default: the local sandbox, {DEFAULT_SERVER})",
    )
    parser.add_argument(
        "--pkcs11-module",
        type=Path,
        metavar="PATH",
        help=(
            "PKCS#11 module of the card middleware (default: the Cryptolib CPS of the OS, "
            f"{default_pkcs11_module()}; SoftHSM2 when {SOFTHSM_CONF_ENV} is set and the "
            "Cryptolib is absent)"
        ),
    )
    parser.add_argument(
        "--lang",
        choices=("fr", "en"),
        default="fr",
        help="interface language (default: fr)",
    )
    parser.add_argument(
        "--time-zone",
        default=DEFAULT_ZONE,
        metavar="ZONE",
        help=(
            f"time zone of the times shown (default: {DEFAULT_ZONE}; overseas: "
            "America/Martinique, Indian/Reunion...); stored and sent times stay UTC"
        ),
    )
    parser.add_argument(
        "--sandbox-dir",
        type=Path,
        metavar="DIR",
        help=(
            "a sandbox made by `dmp-sandbox init DIR`: read its SoftHSM2 test cards "
            f"({SOFTHSM_CONF_ENV}=DIR/softhsm2.conf, SoftHSM2 module)"
        ),
    )
    parser.add_argument(
        "--demo-phone",
        action="store_true",
        help=(
            "show the window that plays the e-CPS phone (approve/deny the push login); "
            "shown anyway when the server is the sandbox"
        ),
    )
    parser.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="log more, -vv for the console's debug lines (never patient data)",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def choose_pkcs11_module(
    configured: Path | None,
    *,
    sandbox: bool = False,
    environ: Mapping[str, str] = os.environ,
    platform: str = sys.platform,
) -> Path:
    """The PKCS#11 module to load.

    Args:
        configured: ``--pkcs11-module``, used as given.
        sandbox: ``--sandbox-dir`` was given (its cards are SoftHSM2 tokens).
        environ: The environment (``SOFTHSM2_CONF`` says SoftHSM2 tokens are configured).
        platform: A ``sys.platform`` value.

    Returns:
        `configured`; else SoftHSM2 when the sandbox or ``SOFTHSM2_CONF`` asks for it and the
        Cryptolib CPS is not installed; else the Cryptolib CPS of `platform` (which may be
        missing: the login page then says so).
    """
    if configured is not None:
        return configured
    cryptolib = default_pkcs11_module(platform)
    if (sandbox or environ.get(SOFTHSM_CONF_ENV)) and not cryptolib.exists():
        from console.smartcard.modules import find_softhsm_module

        softhsm = find_softhsm_module()
        if softhsm is not None:
            return softhsm
    return cryptolib


def settings_from_args(
    args: argparse.Namespace, environ: dict[str, str] | os._Environ[str] = os.environ
) -> Settings:
    """Settings from the command line; ``--sandbox-dir`` sets ``SOFTHSM2_CONF`` in `environ`.

    Raises:
        ValueError: an unusable argument (the message says which).
    """
    server: str = args.server.strip().rstrip("/")
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"--server must be an absolute http(s) URL, not {args.server!r}")
    sandbox_dir: Path | None = args.sandbox_dir
    if sandbox_dir is not None:
        conf = sandbox_dir / "softhsm2.conf"
        if not conf.is_file():
            raise ValueError(
                f"{sandbox_dir} has no softhsm2.conf: create the sandbox with "
                f"`dmp-sandbox init {sandbox_dir}` (without --no-cards)"
            )
        environ[SOFTHSM_CONF_ENV] = str(conf.resolve())
    module = choose_pkcs11_module(
        args.pkcs11_module, sandbox=sandbox_dir is not None, environ=environ
    )
    try:
        zone_named(args.time_zone)
    except UnknownTimeZoneError:
        raise ValueError(
            f"--time-zone: unknown time zone {args.time_zone!r} (an IANA name, e.g. Europe/Paris)"
        ) from None
    return Settings(
        server_url=server, pkcs11_module=module, language=args.lang, time_zone=args.time_zone
    )


# -- the wired application ------------------------------------------------------------------


class LazyAdapter[T]:
    """An adapter built at its first use (or by :meth:`load`), to keep its imports off the
    path to the first paint: the card reader (cryptography) and the DMP gateway (httpx).

    Attribute access is forwarded to the built object; ``console.app`` gives it to the
    services cast to their Protocol.

    Args:
        build: Makes the adapter (imports inside).
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._target: T | None = None

    @property
    def loaded(self) -> bool:
        """Whether the adapter was built."""
        return self._target is not None

    def load(self) -> T:
        """The adapter (built now if needed)."""
        if self._target is None:
            self._target = self._build()
        return self._target

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self.load(), name)


def _default_search(
    dossier_service: DossierService, *, bris_de_glace_minutes: int = 60
) -> PatientSearchPage:
    from console.views.patient_search import PatientSearchWidget

    return PatientSearchWidget(dossier_service, bris_de_glace_minutes=bris_de_glace_minutes)


def _default_dossier(
    dossier_service: DossierService,
    *,
    vaccinations: VaccinationService | None = None,
    entourage: EntourageService | None = None,
    header: DossierHeaderService | None = None,
    deposits: DepositService | None = None,
    login_provider: Callable[[], ProfessionalLogin | None] | None = None,
    preferences: PreferenceStore | None = None,
    cache: CacheService | None = None,
) -> DossierPage:
    from console.services.cache import CacheVisitStore
    from console.services.presets import PresetService
    from console.services.visits import InMemoryVisitStore, VisitService, VisitStore
    from console.views.dossier_view import DossierView

    # Last visits are patient data: in the professional's encrypted cache (they survive a
    # restart); in memory for the session when there is no cache (e-CPS without a keychain).
    store: VisitStore = InMemoryVisitStore()
    if cache is not None:
        store = CacheVisitStore(cache, fallback=store)
    return DossierView(
        dossier_service,
        presets=None if preferences is None else PresetService(preferences),
        visits=VisitService(store),
        header=header,
        vaccinations=vaccinations,
        entourage=entourage,
        deposits=deposits,
        login_provider=login_provider,
    )


def _cache_service(settings: Settings) -> CacheService:
    from console.domain.retention import RetentionPolicy
    from console.services.cache import CacheService

    policy = RetentionPolicy(
        max_idle=timedelta(hours=settings.cache_retention_hours),
        purge_interval=timedelta(minutes=settings.cache_purge_interval_minutes),
        purge_all_at_logout=settings.purge_cache_at_logout,
    )
    return CacheService(settings.data_dir / "cache", policy=policy)


def server_label_of(url: str) -> str:
    """``host:port`` of `url`, as the DMP gateway labels its server."""
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return f"{parts.hostname}:{port}"


class _Default:
    """The default of an argument whose None means "none"."""


DEFAULT = _Default()


class ConsoleApp:
    """Services, window and card monitor wired together (needs a QApplication and a loop).

    :meth:`start` shows the window; once it is painted, the rest loads (the adapters, the
    patient pages) and the card monitor starts.

    Args:
        settings: The settings.
        reader: The card reader (closed by :meth:`aclose`), or a :class:`LazyAdapter` of one.
        gateway: The DMP gateway (closed by :meth:`aclose`), or a :class:`LazyAdapter` of one.
        search_factory: Makes the patient search widget (tests give a stand-in).
        dossier_factory: Makes the dossier widget.
        notice_store_path: Where the notice's acknowledgements are kept (default:
            ``settings.config_dir / "preferences.json"``).
        clock: Current time for the notice's period (tests move it); UTC now by default.
        server_label: The server as shown in the status bar (default: from the settings).
        phone: The sandbox's e-CPS phone endpoints (None: no phone window), or a
            :class:`LazyAdapter` of them.
        demo_phone: Show the phone window when an e-CPS request waits: True always, None
            when ``phone`` says the server is the sandbox, False never.
        idle_clock: Monotonic seconds for the idle lock (tests move it).
        idle_tick_s: Longest pause between two idle checks.
        cache: The offline cache, or a :class:`LazyAdapter` of one (default: the cache of
            ``settings.data_dir``, built after the first paint); None: no offline cache.
    """

    dossier_service: TracedDossierService
    """The record's services below exist once the window was painted (``wait_started``)."""
    journal: Journal
    emergency: EmergencyService
    history: HistoryService
    vaccinations: VaccinationService
    entourage: EntourageService
    header: DossierHeaderService
    deposits: DepositService
    batches: BatchDepositService

    def __init__(
        self,
        settings: Settings,
        *,
        reader: CardReader | LazyAdapter[CardReader],
        gateway: DmpGateway | LazyAdapter[DmpGateway],
        search_factory: SearchFactory = _default_search,
        dossier_factory: DossierFactory = _default_dossier,
        notice_store_path: Path | None = None,
        clock: Callable[[], datetime] | None = None,
        server_label: str | None = None,
        phone: EcpsPhone | LazyAdapter[EcpsPhone] | None = None,
        demo_phone: bool | None = None,
        idle_clock: Callable[[], float] | None = None,
        idle_tick_s: float = 1.0,
        cache: CacheService | LazyAdapter[CacheService] | _Default | None = DEFAULT,
    ) -> None:
        from PySide6.QtCore import QTimer

        from console.cache.preferences import JsonPreferenceStore
        from console.domain.session import LockReason
        from console.services.idle import IdleLock
        from console.services.notice import NoticeService
        from console.services.offline import OfflineGateway
        from console.services.session import SessionService
        from console.views.main_window import MainWindow, UserActivityFilter

        self.settings = settings
        self._reader = reader
        self._gateway = gateway
        self._cache: CacheService | LazyAdapter[CacheService] | None = (
            LazyAdapter(lambda: _cache_service(settings)) if isinstance(cache, _Default) else cache
        )
        self.reader = cast("CardReader", reader)
        self.gateway = cast("DmpGateway", gateway)
        self.cache: CacheService | None = cast("CacheService | None", self._cache)
        # Every service reads the DMP through the offline wrapper: what is read is cached,
        # and read again from the cache when the server cannot be reached.
        self.offline = OfflineGateway(self.gateway, self.cache)
        self.served = cast("DmpGateway", self.offline)
        self.server_label = server_label or server_label_of(settings.server_url)
        store = JsonPreferenceStore(notice_store_path or settings.config_dir / "preferences.json")
        self._preferences = store
        self.session = SessionService(self.reader, self.served, preferences=store)
        self._cache_tasks: set[asyncio.Task[Any]] = set()
        self._cache_opening: asyncio.Task[Any] | None = None
        self._deposit_tasks: set[asyncio.Task[None]] = set()
        self.notice = NoticeService(store, timedelta(days=settings.notice_period_days))
        self._search_factory = search_factory
        self._dossier_factory = dossier_factory
        # The record's services (dossier, emergency, history, vaccinations...) are built
        # after the first paint (:meth:`_build_services`): their modules are not needed by
        # the login window.
        self.window: MainWindow = MainWindow(
            self.session,
            self.notice,
            None,
            search_factory=self._make_search,
            dossier_factory=self._make_dossier,
            server_label=self.server_label,
            clock=clock,
        )
        self.offline.add_listener(self._connectivity_changed)
        self._purge_timer = QTimer(self.window)
        self._purge_timer.setInterval(max(1, settings.cache_purge_interval_minutes) * 60_000)
        self._purge_timer.timeout.connect(self._purge_if_due)
        self._probe_timer = QTimer(self.window)
        self._probe_timer.setInterval(OFFLINE_PROBE_MS)
        self._probe_timer.timeout.connect(self._probe)
        self.monitor: CardMonitor | None = None
        self._painted = asyncio.Event()
        self.window.firstPainted.connect(self._painted.set)
        self._startup: asyncio.Task[None] | None = None
        self._closed = False

        session = self.session
        self.idle: IdleLock = IdleLock(
            settings.idle_lock_minutes * 60.0,
            lambda: session.lock(LockReason.IDLE),
            clock=idle_clock or time.monotonic,
            tick_s=idle_tick_s,
        )
        self.session.add_listener(self._arm_idle_lock)
        self._activity = UserActivityFilter(self.idle.touch)
        self._activity_installed = False
        # Checked from Qt's timer (not an asyncio task): nothing can stop the checks but quit.
        self._idle_timer = QTimer(self.window)
        self._idle_timer.setInterval(max(1, round(idle_tick_s * 1000)))
        self._idle_timer.timeout.connect(self.idle.check)

        self._phone = phone
        self._demo_phone = demo_phone
        self.phone_window: PhoneWindow | None = None
        self._phone_tasks: set[asyncio.Task[None]] = set()
        self._learning: asyncio.Task[None] | None = None
        self.window.ecpsPending.connect(self._ecps_pending)

    @property
    def started(self) -> bool:
        """Whether everything is loaded and the card monitor runs."""
        return self.monitor is not None

    def start(self) -> None:
        """Show the window; load the rest and watch the cards once it is painted.

        Call it from a coroutine (the card monitor needs the running loop).
        """
        from PySide6.QtWidgets import QApplication

        from console.views.tasks import spawn

        app = QApplication.instance()
        if app is not None and not self._activity_installed:
            app.installEventFilter(self._activity)
            self._activity_installed = True
        self._idle_timer.start()
        if self._cache is not None:
            self._purge_timer.start()
        self.window.show()
        self._startup = spawn(self._finish_startup())

    def _arm_idle_lock(self, state: object, _reason: object) -> None:
        from console.domain.session import SessionState

        if state is SessionState.ACTIVE:
            self.idle.arm()
        else:
            self.idle.disarm()

    # -- the record's services ----------------------------------------------------------------

    def _build_services(self) -> None:
        """Build the record's services and give them to the window (once, after the paint).

        The lock listeners are registered in this order: the emergency mode ends every
        access first, then the cache closes.
        """
        if getattr(self, "dossier_service", None) is not None:
            return
        from console.services.attestations import AttestationArchive
        from console.services.deposit import BatchDepositService, DepositService
        from console.services.dossier_header import DossierHeaderService
        from console.services.emergency import (
            CacheJournal,
            EmergencyService,
            MemoryJournal,
            TracedDossierService,
        )
        from console.services.entourage import EntourageService
        from console.services.history import HistoryService
        from console.services.vaccination import VaccinationService

        served = self.served
        self.dossier_service = TracedDossierService(served, self.session)
        self.journal = CacheJournal(self.cache) if self.cache is not None else MemoryJournal()
        self.emergency = EmergencyService(
            self.dossier_service,
            journal=self.journal,
            cache=self.cache,
            identity=served,
            time_box=timedelta(minutes=self.settings.bris_de_glace_minutes),
            server_label=self.server_label,
        )
        self.history = HistoryService(served, self.journal)
        self.vaccinations = VaccinationService(served, self.dossier_service)
        self.entourage = EntourageService(served, self.dossier_service)
        self.header = DossierHeaderService(served, self.dossier_service)
        # Deposits go to the DMP itself (not the offline wrapper): what cannot be sent waits
        # in the outbox of the encrypted cache (or in memory without one).
        depositing = cast("DepositGateway", self.gateway)
        self.deposits = DepositService(depositing, cache=self.cache)
        self.batches = BatchDepositService(
            depositing, cache=self.cache, preferences=self._preferences
        )
        self.attestations = AttestationArchive(self.cache) if self.cache is not None else None
        self.session.add_lock_listener(self.emergency.session_locked)
        self.session.add_lock_listener(self._close_cache)
        self.session.add_login_listener(self._open_cache)
        self.session.add_login_listener(self._flush_deposits_after_login)
        self.session.add_login_listener(self._learn_depositor)
        self.window.attach_services(
            self.dossier_service,
            emergency=self.emergency,
            history=self.history,
            purge_cache=self.purge_cache if self._cache is not None else None,
            deposits=self.deposits,
            batches=self.batches,
            attestations=self.attestations,
        )

    def _make_search(self) -> PatientSearchPage:
        self._build_services()
        if self._search_factory is _default_search:
            return _default_search(
                self.dossier_service, bris_de_glace_minutes=self.settings.bris_de_glace_minutes
            )
        return self._search_factory(self.dossier_service)

    def _make_dossier(self) -> DossierPage:
        self._build_services()
        if self._dossier_factory is _default_dossier:
            return _default_dossier(
                self.dossier_service,
                vaccinations=self.vaccinations,
                entourage=self.entourage,
                header=self.header,
                deposits=self.deposits,
                login_provider=lambda: self.session.login,
                preferences=self._preferences,
                cache=self.cache,
            )
        return self._dossier_factory(self.dossier_service)

    # -- the offline cache ---------------------------------------------------------------------

    def _spawn_cache(self, coro: Coroutine[Any, Any, Any]) -> asyncio.Task[Any] | None:
        from console.views.tasks import spawn

        if self._closed:
            coro.close()
            return None
        task = spawn(coro)
        self._cache_tasks.add(task)
        task.add_done_callback(self._cache_tasks.discard)
        return task

    def _open_cache(self, card: CardSession | None, login: ProfessionalLogin) -> None:
        """Login listener: open the professional's cache while the card's PIN session is."""
        if self._cache is None:
            return
        self._cache_opening = self._spawn_cache(self._open_cache_now(card, login))

    async def _open_cache_now(self, card: CardSession | None, login: ProfessionalLogin) -> None:
        from console.domain.errors import ConsoleError
        from console.services.emergency import CacheJournal

        cache = cast("CacheService", self._cache)
        try:
            if card is None:  # e-CPS: the key in the OS keychain, or no cache
                await cache.open_with_keyring(login.id_nat, login.profession)
            else:
                await cache.open_with_card(card, login.profession)
        except ConsoleError as exc:
            log.warning("offline cache not opened: %s", type(exc).__name__)
            self.window.show_cache_unavailable(str(exc))
            return
        except Exception as exc:  # a broken cache must not break the session
            log_error(exc, "offline cache not opened")
            self.window.show_cache_unavailable("")
            return
        if self.session.login is not login:  # locked or ended meanwhile
            cache.lock()
            return
        if isinstance(self.journal, CacheJournal):
            await self.journal.flush()
        archive = getattr(self, "attestations", None)
        if archive is not None:  # a bris de glace ended while locked, logged out or quitting
            self.window.show_pending_attestations(await archive.unsaved_count())

    # -- deposits waiting in the outbox ----------------------------------------------------------

    def _flush_deposits_after_login(
        self, _card: CardSession | None, login: ProfessionalLogin
    ) -> None:
        """Login listener: send the deposits an earlier session left queued (once the cache,
        which holds the outbox, is open). A secretary's queue is her batch screen's: it offers
        to resume it."""
        self._spawn_flush(login, self._cache_opening)

    def _learn_depositor(self, _card: CardSession | None, login: ProfessionalLogin) -> None:
        """Login listener: ask the directory who she is now, while the server answers (a
        login always needs it), so that a deposit made later offline is queued."""
        from console.views.tasks import spawn

        if self._closed or getattr(self, "deposits", None) is None:
            return
        self._learning = spawn(self._ask_depositor(login))  # kept: not collected mid-way

    async def _ask_depositor(self, login: ProfessionalLogin) -> None:
        from console.domain.errors import ConsoleError

        try:
            await self.deposits.actor(login)
        except ConsoleError as exc:  # the deposit dialog asks again and says what fails
            log.warning("directory entry not read at login: %s", type(exc).__name__)

    def _spawn_flush(
        self, login: ProfessionalLogin, opening: asyncio.Task[Any] | None = None
    ) -> None:
        """Flush the outbox in a task (two pumps may run: each claims its own items)."""
        from console.views.main_window import SECRETARY_PROFESSION
        from console.views.tasks import spawn

        if self._closed or getattr(self, "deposits", None) is None:
            return
        if login.profession == SECRETARY_PROFESSION:
            return  # a secretary resumes her queue from her batch screen
        task = spawn(self._flush_deposits(login, opening))
        self._deposit_tasks.add(task)
        task.add_done_callback(self._deposit_tasks.discard)

    async def _flush_deposits(
        self, login: ProfessionalLogin, opening: asyncio.Task[Any] | None
    ) -> None:
        """Send what waits; an error is logged, never fatal (offline, it stays queued)."""
        from console.domain.errors import ConsoleError

        if opening is not None:
            await asyncio.wait({opening})
        if self._closed or self.session.login is not login:
            return  # locked or ended meanwhile: the next login sends it
        try:
            result = await self.deposits.flush_outbox(login)
        except ConsoleError as exc:
            log.warning("deposits left queued: %s", type(exc).__name__)
        except Exception as exc:  # the session goes on; the outbox keeps the deposits
            log_error(exc, "deposits left queued")
        else:
            log.info("outbox flushed: %s, %d sent", result.stop.value, result.sent)

    async def _stop_flushing(self, timeout: float) -> None:
        """On quit: let the outbox's requests in flight answer (at most `timeout` s); what is
        left stays queued for the next run."""
        tasks = set(self._deposit_tasks)
        if not tasks:
            return
        _done, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    def _close_cache(self, reason: object) -> None:
        """Lock listener: close the cache at once (lock), or log out of it (logout)."""
        if self._cache is None or not _built(self._cache):
            return
        cache = cast("CacheService", self._cache)
        if reason is None:
            self._spawn_cache(self._logout_cache(cache))
        else:
            cache.lock()

    async def _logout_cache(self, cache: CacheService) -> None:
        from console.domain.errors import ConsoleError

        try:
            await cache.logout()
        except ConsoleError as exc:
            log.warning("offline cache logout: %s", type(exc).__name__)
            cache.lock()

    def _purge_if_due(self) -> None:
        if self._cache is not None and _built(self._cache) and self.cache is not None:
            if self.cache.is_open:
                self._spawn_cache(self._purge_quietly())

    async def _purge_quietly(self) -> None:
        from console.domain.errors import ConsoleError

        cache = cast("CacheService", self._cache)
        try:
            await cache.purge_if_due()
        except ConsoleError as exc:
            log.warning("offline cache purge: %s", type(exc).__name__)

    async def purge_cache(self) -> int:
        """ "Purger le cache maintenant": what retention expired; how many rows went."""
        cache = cast("CacheService", self._cache)
        report = await cache.purge_now()
        return int(report.total)

    def _connectivity_changed(self, online: bool, last_sync: datetime | None) -> None:
        self.window.show_connectivity(online, last_sync)
        if online:
            self._probe_timer.stop()
            from console.domain.session import SessionState

            login = self.session.login
            active = self.session.state is SessionState.ACTIVE
            if login is not None and active and not self._deposit_tasks:
                self._spawn_flush(login)  # the network is back: send what waits
        elif not self._closed:
            self._probe_timer.start()

    def _probe(self) -> None:
        if self._closed or self.offline.online:
            self._probe_timer.stop()
            return
        from console.views.tasks import spawn

        spawn(self.offline.probe())

    # -- the demo's phone ---------------------------------------------------------------------

    def _ecps_pending(self, id_nat: str) -> None:
        """An e-CPS request waits: show the phone window (demo, or the sandbox)."""
        if self._phone is None or self._demo_phone is False or self._closed:
            return
        from console.views.tasks import spawn

        task = spawn(self._show_phone(id_nat))
        self._phone_tasks.add(task)
        task.add_done_callback(self._phone_tasks.discard)

    async def _show_phone(self, id_nat: str) -> None:
        phone = cast("EcpsPhone", self._phone)
        if self._demo_phone is None and self.phone_window is None:
            if not await phone.available():
                self._demo_phone = False  # not the sandbox: a real phone answers
                return
            self._demo_phone = True
        if self._closed:
            return
        if self.phone_window is None:
            from console.views.ecps import PhoneWindow

            self.phone_window = PhoneWindow(phone)
        self.phone_window.watch(id_nat)

    async def wait_started(self) -> None:
        """Wait until :meth:`start` has loaded everything and started the card monitor."""
        if self._startup is not None:
            await asyncio.shield(self._startup)

    async def _finish_startup(self) -> None:
        try:
            async with asyncio.timeout(1.0):  # no paint (hidden window): go on anyway
                await self._painted.wait()
        except TimeoutError:
            pass
        await asyncio.sleep(0)  # let the paint reach the screen
        from console.smartcard.monitor import CardMonitor

        for adapter in (self._reader, self._gateway, self._cache):
            if isinstance(adapter, LazyAdapter):
                adapter.load()
        self._build_services()
        self.window.prepare_patient_pages()
        monitor = CardMonitor(
            self.reader,
            self.settings.card_poll_interval_s,
            on_inserted=self.window.card_inserted,
            on_removed=self.window.card_removed,
            on_changed=self.window.card_changed,
            on_error=self.window.card_reader_failed,
            on_recovered=self.window.card_reader_recovered,
        )
        self.monitor = monitor
        monitor.start()
        self.window.refresh_cards()

    async def run(self) -> None:
        """Start, wait until the window is closed, then close everything.

        (When Qt's loop is ended from elsewhere, ``app.quit()``, :func:`run_gui` cancels this
        coroutine, which closes everything too.)
        """
        closed = asyncio.Event()
        self.window.closed.connect(closed.set)
        self.start()
        try:
            await closed.wait()
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Stop the monitor, end the session, close the gateway and the reader (idempotent)."""
        if self._closed:
            return
        self._closed = True
        from console.domain.errors import ConsoleError
        from console.domain.session import SessionState

        startup, self._startup = self._startup, None
        if startup is not None and not startup.done():
            startup.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await startup
        with contextlib.suppress(RuntimeError):  # the window (its parent) may be gone already
            self._idle_timer.stop()
        if self._activity_installed:
            from PySide6.QtWidgets import QApplication

            app = QApplication.instance()
            if app is not None:
                app.removeEventFilter(self._activity)
            self._activity_installed = False
        for task in list(self._phone_tasks):
            task.cancel()
        await self._stop_flushing(timeout=3.0)
        if self.phone_window is not None:
            self.phone_window.stop()
            self.phone_window.hide()
            self.phone_window.deleteLater()
            self.phone_window = None
        with contextlib.suppress(RuntimeError):  # idem
            self._purge_timer.stop()
            self._probe_timer.stop()
        if self.monitor is not None:
            await self.monitor.stop()
        try:
            # Quitting ends the exceptional mode (and every access) on the server first.
            emergency = getattr(self, "emergency", None)
            if emergency is not None:
                await emergency.aclose(timeout=3.0)
            if self.session.state is not SessionState.LOGGED_OUT:
                await self.session.logout()
            await self.session.aclose()
            # The patient closed with the window: its access mode ends before the gateway.
            await self.window.wait_access_ended(timeout=3.0)
        except ConsoleError as exc:
            log.warning("logout on quit failed: %s", type(exc).__name__)
        finally:
            try:
                if _built(self._gateway):
                    await self.gateway.aclose()
            finally:
                try:
                    if _built(self._reader):
                        await self.reader.close()
                finally:
                    await self._close_cache_on_quit()

    async def _close_cache_on_quit(self) -> None:
        if self._cache_tasks:
            await asyncio.gather(*list(self._cache_tasks), return_exceptions=True)
        if self._cache is not None and _built(self._cache):
            await cast("CacheService", self._cache).aclose()


def _built(adapter: object) -> bool:
    return not isinstance(adapter, LazyAdapter) or adapter.loaded


# -- errors ---------------------------------------------------------------------------------


def log_error(error: BaseException, what: str = "unhandled error") -> None:
    """Log an error's type and stack, never its message (it may name a patient)."""
    stack = "".join(traceback.format_tb(error.__traceback__))
    log.error("%s: %s\n%s", what, type(error).__name__, stack.rstrip())


def install_error_handlers(window: MainWindow) -> None:
    """Uncaught errors (background tasks, Qt slots) are logged and shown in the window."""
    from console.views.tasks import set_error_handler

    def handle(error: BaseException) -> None:
        log_error(error)
        try:
            window.report_error(error)
        except Exception:  # the window may be gone at exit
            log.warning("could not show an error", exc_info=False)

    def excepthook(
        kind: type[BaseException], error: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        if error.__traceback__ is None and tb is not None:
            error = error.with_traceback(tb)
        handle(error)

    set_error_handler(handle)
    sys.excepthook = excepthook


# -- main -----------------------------------------------------------------------------------


def _install_startup_probe(window: QWidget) -> None:
    """``python -m bench startup``: print the time of the window's first paint, then exit."""
    from PySide6.QtCore import QEvent, QObject

    class _FirstPaint(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Paint:
                print(f"{time.time():.6f}", flush=True)
                os._exit(0)
            return False

    probe = _FirstPaint(window)
    window.installEventFilter(probe)


def _close_on_signals(window: QWidget) -> None:
    """SIGINT (Ctrl+C in a terminal) and SIGTERM close the window: a normal quit."""
    import signal

    from PySide6.QtCore import QTimer

    def close(_signum: int, _frame: object) -> None:
        QTimer.singleShot(0, window.close)  # out of the signal handler, on Qt's loop

    signal.signal(signal.SIGINT, close)
    signal.signal(signal.SIGTERM, close)
    # Python runs its signal handlers between bytecodes: wake it up now and then.
    wake = QTimer(window)
    wake.timeout.connect(lambda: None)
    wake.start(300)


async def _run_then_cancel_the_rest(console: ConsoleApp) -> None:
    """Run the console; then cancel what is left on the loop, while the loop still runs."""
    try:
        await console.run()
    finally:
        current = asyncio.current_task()
        rest = [t for t in asyncio.all_tasks() if t is not current and not t.done()]
        for task in rest:
            task.cancel()
        await asyncio.gather(*rest, return_exceptions=True)


def _quit_closes_window(window: QWidget) -> QObject:
    """An application event filter: ``app.quit()`` closes the window instead of ending Qt's
    loop under the running coroutines; the window's close ends them in order."""
    from PySide6.QtCore import QEvent, QObject, QTimer

    class QuitFilter(QObject):
        def eventFilter(self, watched: QObject, event: QEvent) -> bool:
            if event.type() == QEvent.Type.Quit:
                QTimer.singleShot(0, window.close)
                return True
            return False

    return QuitFilter(window)


def _card_reader(settings: Settings) -> CardReader:
    from console.smartcard.reader import Pkcs11CardReader

    return Pkcs11CardReader(settings.pkcs11_module)


def _dmp_gateway(settings: Settings) -> DmpGateway:
    from console.dmp.client import HttpDmpGateway

    return HttpDmpGateway(settings.server_url)


def _sandbox_phone(gateway: LazyAdapter[DmpGateway]) -> EcpsPhone:
    from console.dmp.client import HttpDmpGateway, SandboxEcpsPhone

    built = gateway.load()
    if not isinstance(built, HttpDmpGateway):
        raise TypeError("the demo phone needs the HTTP gateway")
    return SandboxEcpsPhone(built)


def run_gui(
    settings: Settings, qt_argv: Sequence[str] | None = None, *, demo_phone: bool = False
) -> int:
    """Create the application and run the console until its window is closed.

    Args:
        settings: The settings.
        qt_argv: Qt's command line.
        demo_phone: Always show the e-CPS phone window (else: only when the server is the
            sandbox).
    """
    import qasync
    from PySide6.QtWidgets import QApplication

    set_display_zone(settings.time_zone)

    from console.views.i18n import install_translations

    existing = QApplication.instance()
    app: QApplication = (
        existing
        if isinstance(existing, QApplication)
        else QApplication(list(qt_argv or [sys.argv[0]]))
    )
    app.setApplicationName("staff-console")
    app.setApplicationVersion(__version__)
    app.setQuitOnLastWindowClosed(False)  # the window's close ends run(), which closes the rest
    translations = install_translations(app, settings.language)

    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    try:
        gateway: LazyAdapter[DmpGateway] = LazyAdapter(lambda: _dmp_gateway(settings))
        console = ConsoleApp(
            settings,
            reader=LazyAdapter(lambda: _card_reader(settings)),
            gateway=gateway,
            phone=LazyAdapter(lambda: _sandbox_phone(gateway)),
            demo_phone=True if demo_phone else None,
        )
        install_error_handlers(console.window)
        if os.environ.get(STARTUP_PROBE_ENV):
            _install_startup_probe(console.window)
        log.info(
            "console started: server %s, PKCS#11 module %s, language %s",
            settings.server_url,
            settings.pkcs11_module,
            settings.language,
        )
        _close_on_signals(console.window)
        collector = _collect_garbage_on_the_gui_thread(app)
        quit_filter = _quit_closes_window(console.window)
        app.installEventFilter(quit_filter)
        with loop:
            loop.run_until_complete(_run_then_cancel_the_rest(console))
    finally:
        asyncio.set_event_loop(None)
        del translations
        gc.enable()
    del collector
    return 0


def _collect_garbage_on_the_gui_thread(app: QObject) -> QObject:
    """Run Python's cyclic collector from a Qt timer on the GUI thread only.

    Left automatic, the collector runs in whichever thread allocates: a worker (PKCS#11,
    cache, reportlab) could then destroy Qt objects caught in reference cycles, which Qt
    forbids and which can crash. (qutebrowser does the same.)
    """
    from PySide6.QtCore import QTimer

    gc.disable()
    timer = QTimer(app)
    ticks = 0

    def collect() -> None:
        nonlocal ticks
        ticks += 1
        gc.collect(2 if ticks % 60 == 0 else 0)

    timer.timeout.connect(collect)
    timer.start(1000)
    return timer


def main(argv: Sequence[str] | None = None) -> int:
    """The ``staff-console`` entry point (``staff-console journal ...``: the journal tool)."""
    raw = list(sys.argv[1:] if argv is None else argv)
    if raw[:1] == ["journal"]:
        from console import journal_cli

        return journal_cli.main(raw[1:])
    parser = build_parser()
    args = parser.parse_args(raw)
    configure_logging(args.verbose)
    try:
        settings = settings_from_args(args)
    except ValueError as exc:
        parser.error(str(exc))
    return run_gui(settings, demo_phone=args.demo_phone)


if __name__ == "__main__":
    sys.exit(main())
