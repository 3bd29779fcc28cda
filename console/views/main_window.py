"""The main window: login, patient search and dossier pages; lock; status bar; shortcuts.

The window follows the session service (a listener): when the session locks, every view
drops its patient data at once (``clear()`` on the search and dossier widgets, the open
dossier forgotten and its access mode ended on the server, every dialog of the application
closed) and the unlock page asks for the card and the PIN, or for a new e-CPS approval; the
same professional resumes on the patient search page (see :meth:`MainWindow.
_on_session_changed`), anybody else starts a fresh session; when the session ends, the login
page comes back.

:class:`UserActivityFilter`, installed on the application by ``console.app``, reports every
key and mouse event (of any window, modal dialogs included) to the idle lock.

The patient search and dossier widgets are made by factories given to the window (see
:class:`PatientSearchPage` and :class:`DossierPage`), so that ``console.app`` wires the real
ones and tests can use small stand-ins; they are built when first needed (or by
:meth:`MainWindow.prepare_patient_pages`), which keeps their imports (QtPdf...) off the
path to the login window's first paint.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence, QScreen
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QLabel,
    QMainWindow,
    QMessageBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)
from shiboken6 import isValid

from console.domain.card import TokenInfo
from console.domain.errors import ConsoleError
from console.domain.localtime import to_local
from console.domain.session import AuthMethod, LockReason, SessionState
from console.services.dossier import DossierService, OpenDossier
from console.services.notice import NoticeService
from console.services.session import SessionService
from console.views.login import LoginPage
from console.views.notice import NoticeDialog
from console.views.tasks import spawn

if TYPE_CHECKING:  # loaded after the first paint (startup speed)
    from console.domain.emergency import EmergencyEpisode
    from console.services.attestations import AttestationArchive
    from console.services.deposit import BatchDepositService, DepositService
    from console.services.emergency import EmergencyEvent, EmergencyService
    from console.services.history import HistoryService
    from console.views.batch_deposit import BatchDepositView
    from console.views.emergency_banner import EmergencyBanner

__all__ = ["DossierPage", "MainWindow", "PatientSearchPage", "UserActivityFilter"]

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

SECRETARY_PROFESSION = "SECRETARIAT_MEDICAL"
"""The medical secretary's role (CPE card): deposits only, no patient search, no record."""


class PatientSearchPage(Protocol):
    """What the window needs of the patient search widget (a ``QWidget``).

    Attributes:
        dossierOpened: Signal emitting the :class:`OpenDossier` the user opened.
    """

    dossierOpened: SignalInstance

    def clear(self) -> None:
        """Drop every patient datum shown (and cancel the running searches)."""
        ...

    def focus_search(self) -> None:
        """Put the keyboard focus in the INS field."""
        ...


class DossierPage(Protocol):
    """What the window needs of the dossier widget (a ``QWidget``).

    Attributes:
        closeRequested: Signal emitted when the user closes the patient.
    """

    closeRequested: SignalInstance

    def show_dossier(self, open_dossier: OpenDossier, /) -> None:
        """Show a patient's record."""
        ...

    def clear(self) -> None:
        """Drop every patient datum shown (and cancel the running loads)."""
        ...


def _as_widget(page: object, role: str) -> QWidget:
    if not isinstance(page, QWidget):
        raise TypeError(f"the {role} page must be a QWidget, not {type(page).__name__}")
    return page


def _cancel_all(tasks: set[asyncio.Task[None]], *_destroyed: object) -> None:
    for task in list(tasks):
        task.cancel()
    tasks.clear()


def _utc_now() -> datetime:
    return datetime.now(UTC)


def comfortable_size(
    fraction: float = 0.8, minimum: tuple[int, int] = (1280, 800)
) -> tuple[int, int]:
    """The window's first size: `fraction` of the available screen, at least `minimum` when
    the screen allows it (Qt's default is too small for a document table and a preview)."""
    screen: QScreen | None = QGuiApplication.primaryScreen()
    if screen is None:  # no screen yet (some offscreen setups)
        return minimum
    available = screen.availableGeometry()
    width = min(available.width(), max(round(available.width() * fraction), minimum[0]))
    height = min(available.height(), max(round(available.height() * fraction), minimum[1]))
    return width, height


_INPUT_EVENTS: frozenset[QEvent.Type] = frozenset(
    {
        QEvent.Type.KeyPress,
        QEvent.Type.KeyRelease,
        QEvent.Type.MouseButtonPress,
        QEvent.Type.MouseButtonRelease,
        QEvent.Type.MouseButtonDblClick,
        QEvent.Type.MouseMove,
        QEvent.Type.Wheel,
        QEvent.Type.TouchBegin,
        QEvent.Type.TouchUpdate,
        QEvent.Type.TabletPress,
        QEvent.Type.Shortcut,
    }
)
"""What counts as the professional being there (a repaint or a timer does not)."""


class UserActivityFilter(QObject):
    """An application-wide event filter: every key and mouse event calls ``on_input``.

    It never consumes an event. Install it with ``QApplication.installEventFilter``.

    Args:
        on_input: Called for each input event (keep it cheap: ``IdleLock.touch``).
        parent: The owner.
    """

    def __init__(self, on_input: Callable[[], object], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._on_input = on_input

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() in _INPUT_EVENTS:
            self._on_input()
        return False


class MainWindow(QMainWindow):
    """The console's window.

    Args:
        session: The session service (the window registers as its listener).
        notice: The traceability notice service.
        dossier_service: The dossier service (ends a patient's access mode on close).
        search_factory: Makes the patient search widget (called once, when first needed).
        dossier_factory: Makes the dossier widget (idem).
        server_label: Which DMP server (shown in the status bar).
        clock: Current time (the notice's 180 days); UTC now by default.
        emergency: The exceptional accesses (the banner follows it; its end closes the
            patient).
        history: Builds the access history (the "Historique des accès" action).
        purge_cache: Purges the offline cache now (the "Purger le cache maintenant"
            action); None: no cache.
        deposits: A professional's deposits (the "Déposer un document…" action).
        batches: The secretary's batch deposits (her page instead of the patient search).
        parent: The parent widget.

    Signals:
        closed(): the window was closed (the application then quits).
        firstPainted(): the window was painted for the first time (emitted once, just after
            that paint): the moment to load what the login page does not need.
        ecpsPending(str): an e-CPS request waits on the phone of this national identifier.
    """

    closed = Signal()
    firstPainted = Signal()
    ecpsPending = Signal(str)

    def __init__(
        self,
        session: SessionService,
        notice: NoticeService,
        dossier_service: DossierService | None,
        *,
        search_factory: Callable[[], PatientSearchPage],
        dossier_factory: Callable[[], DossierPage],
        server_label: str,
        clock: Clock | None = None,
        emergency: EmergencyService | None = None,
        history: HistoryService | None = None,
        purge_cache: Callable[[], Awaitable[int]] | None = None,
        deposits: DepositService | None = None,
        batches: BatchDepositService | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self._emergency: EmergencyService | None = None
        self._deposits: DepositService | None = None
        self._batches: BatchDepositService | None = None
        self._batch_view: BatchDepositView | None = None
        self._retiring: set[asyncio.Task[None]] = set()
        self.deposit_dialog: QDialog | None = None
        self._history: HistoryService | None = None
        self._purge_cache: Callable[[], Awaitable[int]] | None = None
        self._episode_dossier: OpenDossier | None = None
        self.history_dialog: QDialog | None = None
        self._attestations: AttestationArchive | None = None
        self.attestations_dialog: QDialog | None = None
        self._session = session
        self._notice = notice
        self._dossier_service = dossier_service
        self._search_factory = search_factory
        self._dossier_factory = dossier_factory
        self._search: PatientSearchPage | None = None
        self._dossier: DossierPage | None = None
        self._search_page: QWidget | None = None
        self._dossier_page: QWidget | None = None
        self._painted = False
        self._clock: Clock = clock or _utc_now
        self._open_dossier: OpenDossier | None = None
        self._present: dict[tuple[int, str], TokenInfo] = {}
        self._reader_failing = False
        self._last_state = session.state
        self._shown_generation: int | None = None
        """The session whose patient pages were reached (a resume goes back to them)."""
        self._notice_pending = False
        self._notice_dialog: NoticeDialog | None = None
        self._welcome_task: asyncio.Task[None] | None = None
        self._welcome_tasks: set[asyncio.Task[None]] = set()
        self._access_ends: set[asyncio.Task[None]] = set()
        # Deleted with the notice pending: the welcome must not touch the window afterwards.
        self.destroyed.connect(functools.partial(_cancel_all, self._welcome_tasks))

        self.setWindowTitle(self.tr("Console DMP"))
        self.setObjectName("mainWindow")
        self.resize(*comfortable_size())

        self.login_page = LoginPage(session)
        self.lock_page = LoginPage(session, unlock=True)
        self.login_page.ecpsPending.connect(self.ecpsPending)
        self.lock_page.ecpsPending.connect(self.ecpsPending)
        self.stack = QStackedWidget()
        self.stack.setObjectName("pages")
        self.stack.addWidget(self.login_page)
        self.stack.addWidget(self.lock_page)
        # One banner above every page (built with the patient pages, after the first paint):
        # a bris de glace stays on screen whatever is shown.
        self._banner: EmergencyBanner | None = None
        central = QWidget()
        central.setObjectName("central")
        self._column = QVBoxLayout(central)
        self._column.setContentsMargins(0, 0, 0, 0)
        self._column.setSpacing(0)
        self._column.addWidget(self.stack, 1)
        self.setCentralWidget(central)

        self.user_label = QLabel()
        self.user_label.setObjectName("statusUser")
        self.user_label.setTextFormat(Qt.TextFormat.PlainText)
        self.server_label = QLabel(self.tr("Serveur : %1").replace("%1", server_label))
        self.server_label.setObjectName("statusServer")
        self.server_label.setTextFormat(Qt.TextFormat.PlainText)
        self.card_label = QLabel()
        self.card_label.setObjectName("statusCard")
        self.card_label.setTextFormat(Qt.TextFormat.PlainText)
        self.offline_label = QLabel()
        self.offline_label.setObjectName("statusOffline")
        self.offline_label.setTextFormat(Qt.TextFormat.PlainText)
        self.offline_label.setStyleSheet("color: #b3141a; font-weight: bold;")
        self.offline_label.hide()
        status = self.statusBar()
        status.addWidget(self.user_label, 1)
        status.addPermanentWidget(self.offline_label)
        status.addPermanentWidget(self.server_label)
        status.addPermanentWidget(self.card_label)

        self._build_actions()
        self.attach_services(
            dossier_service,
            emergency=emergency,
            history=history,
            purge_cache=purge_cache,
            deposits=deposits,
            batches=batches,
        )
        session.add_listener(self._on_session_changed)
        self.stack.setCurrentWidget(self.login_page)  # its cards are read once shown
        self._update_state()

    # -- patient pages --------------------------------------------------------------------------

    def attach_services(
        self,
        dossier_service: DossierService | None,
        *,
        emergency: EmergencyService | None = None,
        history: HistoryService | None = None,
        purge_cache: Callable[[], Awaitable[int]] | None = None,
        deposits: DepositService | None = None,
        batches: BatchDepositService | None = None,
        attestations: AttestationArchive | None = None,
    ) -> None:
        """Give the window the services built after its first paint (``console.app``)."""
        self._dossier_service = dossier_service
        if emergency is not None and emergency is not self._emergency:
            self._emergency = emergency
            emergency.add_listener(self._on_emergency)
            if self._banner is not None:
                self._banner.attach(emergency)
        self._history = history or self._history
        self._purge_cache = purge_cache or self._purge_cache
        self._deposits = deposits or self._deposits
        self._batches = batches or self._batches
        self._attestations = attestations or self._attestations
        self._update_state()

    @property
    def banner(self) -> EmergencyBanner:
        """The bris de glace banner above the pages (built if needed)."""
        if self._banner is None:
            from console.views.emergency_banner import EmergencyBanner

            banner = EmergencyBanner()
            if self._emergency is not None:
                banner.attach(self._emergency)
            self._column.insertWidget(0, banner)
            self._banner = banner
        return self._banner

    def prepare_patient_pages(self) -> None:
        """Build the banner, the patient search and dossier widgets now (built lazily)."""
        _ = self.banner
        if self._search is None:
            search = self._search_factory()
            self._search_page = _as_widget(search, "search")
            self.stack.addWidget(self._search_page)
            search.dossierOpened.connect(self._dossier_opened)
            self._search = search
        if self._dossier is None:
            dossier = self._dossier_factory()
            self._dossier_page = _as_widget(dossier, "dossier")
            self.stack.addWidget(self._dossier_page)
            dossier.closeRequested.connect(self.close_patient)
            self._dossier = dossier

    @property
    def search_page(self) -> QWidget:
        """The patient search page (built if needed)."""
        self.prepare_patient_pages()
        assert self._search_page is not None
        return self._search_page

    @property
    def dossier_page(self) -> QWidget:
        """The dossier page (built if needed)."""
        self.prepare_patient_pages()
        assert self._dossier_page is not None
        return self._dossier_page

    @property
    def batch_page(self) -> BatchDepositView | None:
        """The secretary's batch deposit page, while she is logged in (None otherwise)."""
        return self._batch_view

    def is_secretary(self) -> bool:
        """Whether the logged person is a medical secretary (deposits only)."""
        login = self._session.login
        return login is not None and login.profession == SECRETARY_PROFESSION

    def _home_page(self) -> QWidget:
        """Where a session starts and resumes: the batch page for a secretary, else the
        patient search."""
        if self.is_secretary():
            page = self._ensure_batch_page()
            if page is not None:
                return page
        return self.search_page

    def _ensure_batch_page(self) -> BatchDepositView | None:
        login = self._session.login
        if self._batch_view is not None and self._batch_view.login is login:
            return self._batch_view
        self._drop_batch_page()
        if self._batches is None or login is None:
            return None
        if self._batches.owner not in (None, login.id_nat):
            self._batches.forget()  # another person's batch: nothing of it shows
        from console.views.batch_deposit import BatchDepositView

        view = BatchDepositView(self._batches, login)
        view.setObjectName("batchDepositPage")
        self.stack.addWidget(view)
        self._batch_view = view
        view.initialize()
        return view

    def _drop_batch_page(self) -> None:
        """The batch page leaves (lock, logout): its table holds patients' INS."""
        view, self._batch_view = self._batch_view, None
        if view is None:
            return
        if self._batches is not None and self._batches.running:
            self._batches.pause()  # a request in flight finishes; the rest stays queued
        self.stack.removeWidget(view)
        view.hide()
        if not view.busy:
            self._batches_unfollowed()
            view.deleteLater()
            return
        task = spawn(self._retire(view))
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _retire(self, view: BatchDepositView) -> None:
        """Delete a dropped batch page once its work (a request in flight) has ended."""
        while isValid(view) and view.busy:
            await asyncio.sleep(0.05)
        self._batches_unfollowed()
        if isValid(view):
            view.deleteLater()

    def _batches_unfollowed(self) -> None:
        if self._batches is not None and self._batch_view is None:
            self._batches.set_listeners()  # no page left to follow the batch

    def event(self, event: QEvent) -> bool:
        if not self._painted and event.type() == QEvent.Type.Paint:
            self._painted = True
            QTimer.singleShot(0, self.firstPainted.emit)
        return super().event(event)

    # -- actions --------------------------------------------------------------------------------

    def _action(
        self, text: str, shortcuts: list[QKeySequence], slot: Callable[[], object]
    ) -> QAction:
        action = QAction(text, self)
        action.setShortcuts(shortcuts)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        action.triggered.connect(lambda _checked=False: slot())
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        self.lock_action = self._action(
            self.tr("&Verrouiller la session"), [QKeySequence("Ctrl+L")], self.lock
        )
        self.logout_action = self._action(
            self.tr("Se &déconnecter"), [QKeySequence("Ctrl+Shift+L")], self.logout
        )
        self.quit_action = self._action(self.tr("&Quitter"), [QKeySequence("Ctrl+Q")], self.close)
        # Ctrl+O only: Ctrl+F belongs to the dossier view (its table filter).
        self.search_action = self._action(
            self.tr("&Rechercher un patient"), [QKeySequence("Ctrl+O")], self.search_patient
        )
        self.close_patient_action = self._action(
            self.tr("&Fermer le patient"), [QKeySequence("Ctrl+W")], self.close_patient
        )
        self.refresh_cards_action = self._action(
            self.tr("&Actualiser les cartes"), [QKeySequence("F5")], self.refresh_cards
        )
        self.history_action = self._action(
            self.tr("&Historique des accès"), [QKeySequence("Ctrl+H")], self.show_history
        )
        self.purge_cache_action = self._action(
            self.tr("&Purger le cache maintenant"), [], self.purge_cache
        )
        self.attestations_action = self._action(
            self.tr("&Attestations de bris de glace…"),
            [QKeySequence("Ctrl+Shift+A")],
            self.show_attestations,
        )
        self.deposit_action = self._action(
            self.tr("&Déposer un document…"), [QKeySequence("Ctrl+D")], self.deposit_document
        )

        menus = self.menuBar()
        session_menu = menus.addMenu(self.tr("&Session"))
        session_menu.addAction(self.lock_action)
        session_menu.addAction(self.logout_action)
        session_menu.addAction(self.purge_cache_action)
        session_menu.addAction(self.attestations_action)
        session_menu.addSeparator()
        session_menu.addAction(self.quit_action)
        patient_menu = menus.addMenu(self.tr("&Patient"))
        patient_menu.addAction(self.search_action)
        patient_menu.addAction(self.close_patient_action)
        patient_menu.addAction(self.history_action)
        patient_menu.addSeparator()
        patient_menu.addAction(self.deposit_action)
        cards_menu = menus.addMenu(self.tr("&Cartes"))
        cards_menu.addAction(self.refresh_cards_action)

    @property
    def open_dossier(self) -> OpenDossier | None:
        """The patient open in the dossier page, if any."""
        return self._open_dossier

    def current_page(self) -> QWidget | None:
        """The page shown."""
        return self.stack.currentWidget()

    def lock(self) -> None:
        """Lock the session now (Ctrl+L)."""
        if self._session.state is SessionState.ACTIVE:
            self._session.lock(LockReason.USER)

    def logout(self) -> None:
        """End the session."""
        if self._session.state is not SessionState.LOGGED_OUT:
            spawn(self._session.logout())

    def search_patient(self) -> None:
        """Go to the patient search (Ctrl+O), closing the patient open."""
        if not self._usable() or self.is_secretary():
            return
        if self._open_dossier is not None:
            self.close_patient()
        self._show_page(self.search_page)

    def close_patient(self) -> None:
        """Close the open patient (Ctrl+W): views emptied, access ended on the server."""
        if self._dossier is not None:
            self._dossier.clear()
        self._close_history()
        self._forget_dossier("patient_closed")
        if self._usable():
            self._show_page(self._home_page())
        self._update_state()

    def _can_deposit(self) -> bool:
        return (
            self._usable()
            and self._deposits is not None
            and self._open_dossier is not None
            and not self.is_secretary()
        )

    def deposit_document(self) -> None:
        """Deposit a document in the open patient's record (Ctrl+D)."""
        dossier, login, deposits = self._open_dossier, self._session.login, self._deposits
        if not self._can_deposit() or dossier is None or login is None or deposits is None:
            return
        from console.views.deposit_dialog import DepositDialog

        previous = self.deposit_dialog
        if previous is not None and isValid(previous) and previous.isVisible():
            previous.raise_()
            previous.activateWindow()
            return
        dialog = DepositDialog(deposits, login, patient=dossier.patient, parent=self)
        dialog.setObjectName("depositDialog")
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.deposited.connect(lambda _outcome: self._deposited(dossier))
        dialog.destroyed.connect(lambda *_: self._deposit_dialog_gone(dialog))
        self.deposit_dialog = dialog
        dialog.open()

    def _deposit_dialog_gone(self, dialog: QDialog) -> None:
        if self.deposit_dialog is dialog:
            self.deposit_dialog = None

    def _deposited(self, dossier: OpenDossier) -> None:
        """A document was deposited (or queued): refresh the record it went to, if open."""
        if not isValid(self):
            return
        if dossier is self._open_dossier and self._dossier is not None:
            refresh = getattr(self._dossier, "refresh", None)
            if callable(refresh):
                try:
                    refresh()
                except Exception:  # the deposit is done; a failed refresh must not hide it
                    log.exception("the dossier view failed to refresh")
        self.statusBar().showMessage(self.tr("Document déposé"), 10_000)

    def refresh_cards(self) -> None:
        """Read the cards again (F5) on the login or unlock page."""
        page = self.current_page()
        if isinstance(page, LoginPage):
            page.refresh()

    def show_history(self) -> None:
        """Show the access history of the open patient (Ctrl+H)."""
        dossier = self._open_dossier
        if self._history is None or dossier is None or not self._usable():
            return
        from console.views.access_history import AccessHistoryView

        self._close_history()
        session = self._session
        view = AccessHistoryView(
            self._history, lambda: session.login.id_nat if session.login is not None else ""
        )
        dialog = QDialog(self)
        dialog.setObjectName("accessHistoryDialog")
        dialog.setWindowTitle(self.tr("Historique des accès"))
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        layout = QVBoxLayout(dialog)
        layout.addWidget(view)
        dialog.resize(900, 560)
        dialog.finished.connect(lambda _result: view.clear())
        self.history_dialog = dialog
        dialog.destroyed.connect(lambda *_: self._history_gone(dialog))
        view.show_dossier(dossier)
        dialog.show()

    def _history_gone(self, dialog: QDialog) -> None:
        if self.history_dialog is dialog:
            self.history_dialog = None

    def _close_history(self) -> None:
        dialog, self.history_dialog = self.history_dialog, None
        if dialog is not None and isValid(dialog):
            dialog.reject()

    def show_attestations(self) -> None:
        """The bris de glace attestations kept in the cache (Ctrl+Shift+A)."""
        archive = self._attestations
        if archive is None or self._session.state is not SessionState.ACTIVE:
            return
        previous = self.attestations_dialog
        if previous is not None and isValid(previous) and previous.isVisible():
            previous.raise_()
            previous.activateWindow()
            return
        from console.views.attestations import AttestationsDialog

        dialog = AttestationsDialog(archive, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda *_: self._attestations_gone(dialog))
        self.attestations_dialog = dialog
        dialog.show()

    def _attestations_gone(self, dialog: QDialog) -> None:
        if self.attestations_dialog is dialog:
            self.attestations_dialog = None

    def show_pending_attestations(self, count: int) -> None:
        """After login: say that attestations wait to be saved (a bris de glace ended while
        the session was locked, ended or quitting)."""
        if count <= 0 or not isValid(self):
            return
        self.statusBar().showMessage(
            self.tr(
                "%1 attestation(s) de bris de glace à enregistrer : menu Session, "
                "« Attestations de bris de glace… » (Ctrl+Maj+A)."
            ).replace("%1", str(count)),
            120_000,
        )

    def purge_cache(self) -> None:
        """Purge what the offline cache's retention let expire, now (menu Session)."""
        if self._purge_cache is None or self._session.state is not SessionState.ACTIVE:
            return
        spawn(self._purge_now(self._purge_cache))

    async def _purge_now(self, purge: Callable[[], Awaitable[int]]) -> None:
        self.purge_cache_action.setEnabled(False)
        try:
            removed = await purge()
        except ConsoleError as exc:
            self.report_error(exc)
            return
        finally:
            if isValid(self):
                self._update_state()
        self.statusBar().showMessage(
            self.tr("Cache purgé : %1 élément(s) supprimé(s).").replace("%1", str(removed)),
            10_000,
        )

    def show_connectivity(self, online: bool, last_sync: datetime | None) -> None:
        """Say in the status bar whether the DMP server can be reached."""
        if online:
            self.offline_label.hide()
            self.offline_label.clear()
            return
        when = (
            to_local(last_sync).strftime("%d/%m/%Y %H:%M")
            if last_sync is not None
            else self.tr("inconnue")
        )
        self.offline_label.setText(
            self.tr("Hors ligne — dernière synchronisation : %1").replace("%1", when)
        )
        self.offline_label.show()

    def show_cache_unavailable(self, message: str) -> None:
        """The offline cache could not be opened: say it plainly (the console works online)."""
        text = self.tr("Pas de cache hors ligne pour cette session.")
        if message:
            text = f"{text} {message}"
        self.statusBar().showMessage(text, 30_000)

    def _on_emergency(self, event: EmergencyEvent, episode: EmergencyEpisode) -> None:
        """An exceptional access ended by its button or its time box closes the patient."""
        from console.domain.emergency import EndReason
        from console.services.emergency import EmergencyEvent

        if self._emergency is None or not isValid(self):
            return
        if event is EmergencyEvent.STARTED:
            self._episode_dossier = self._emergency.active_dossier
        elif event is EmergencyEvent.ENDING:
            dossier, self._episode_dossier = self._episode_dossier, None
            if episode.end_reason not in (EndReason.USER, EndReason.EXPIRED):
                return
            if dossier is None or dossier is not self._open_dossier:
                return
            self.close_patient()
            self.statusBar().showMessage(
                self.tr(
                    "L'accès exceptionnel a pris fin : le dossier est fermé. "
                    "La prochaine ouverture demandera un nouveau motif."
                ),
                60_000,
            )

    def _usable(self) -> bool:
        return self._session.state is SessionState.ACTIVE and not self._notice_pending

    # -- pages ----------------------------------------------------------------------------------

    def _show_page(self, page: QWidget) -> None:
        self.stack.setCurrentWidget(page)
        if isinstance(page, LoginPage):
            page.refresh()
            page.table.setFocus()
        elif self._search is not None and page is self._search_page:
            self._search.focus_search()
        else:
            page.setFocus()
        self._update_state()

    def _dossier_opened(self, open_dossier: object) -> None:
        if not isinstance(open_dossier, OpenDossier):
            raise TypeError(f"dossierOpened sent {type(open_dossier).__name__}")
        if not self._usable():
            # Opened as the session locked: the widget's result must not show.
            self._end_access(open_dossier, "session_locked")
            if self._search is not None:
                self._search.clear()
            return
        previous = self._open_dossier
        if previous is not None and previous is not open_dossier:
            self._end_access(previous, "patient_closed")
        self._open_dossier = open_dossier
        self._session.patient_opened(open_dossier.grant.mode)
        self.prepare_patient_pages()
        assert self._dossier is not None
        self._dossier.show_dossier(open_dossier)
        self._show_page(self.dossier_page)

    def _forget_dossier(self, reason: str) -> None:
        open_dossier, self._open_dossier = self._open_dossier, None
        if open_dossier is not None:
            self._session.patient_closed()
            self._end_access(open_dossier, reason)

    def _end_access(self, open_dossier: OpenDossier, reason: str) -> None:
        open_dossier.documents.clear()
        if self._dossier_service is None:
            return
        task = spawn(self._dossier_service.close(open_dossier, reason))
        self._access_ends.add(task)
        task.add_done_callback(self._access_ends.discard)

    async def wait_access_ended(self, timeout: float) -> None:
        """Wait (at most `timeout` s) for the access modes being ended on the server."""
        if self._access_ends:
            await asyncio.wait(set(self._access_ends), timeout=timeout)

    def _drop_patient_data(self, reason: str) -> None:
        """Every patient datum leaves the views, now (lock, logout)."""
        for page in (self._search, self._dossier):
            if page is None:
                continue
            try:
                page.clear()
            except Exception:  # one broken view must not keep the others showing data
                log.exception("a view failed to clear its patient data")
        self._drop_batch_page()
        self._close_history()
        self._forget_dossier(reason)
        self.close_dialogs()

    def close_dialogs(self) -> None:
        """Reject every dialog open in the application (the window's and any other)."""
        dialogs = set(self.findChildren(QDialog))
        app = QApplication.instance()
        if isinstance(app, QApplication):
            dialogs.update(w for w in app.topLevelWidgets() if isinstance(w, QDialog))
        for dialog in dialogs:
            if dialog.isVisible():
                try:
                    dialog.reject()
                except Exception:  # the others must close all the same
                    log.exception("a dialog failed to close")

    # -- session --------------------------------------------------------------------------------

    def _on_session_changed(self, state: SessionState, reason: LockReason | None) -> None:
        """Follow the session.

        Resume point: after an unlock by the same professional, the patient search page (not
        the patient that was open). The lock ended that patient's access mode on the server
        (a bris de glace needs a new justification anyway) and the console keeps nothing of
        the patient while locked, so there is nothing to re-open without asking again.
        """
        if not isValid(self):
            return  # the window was deleted (at exit) before the session ended
        previous, self._last_state = self._last_state, state
        # From AUTHENTICATING (a login or an unlock that failed, or another professional
        # replacing a locked session), nothing is shown yet: the login's dialogs stay.
        settled = previous is not SessionState.AUTHENTICATING
        if state in (SessionState.LOCKED, SessionState.LOGGED_OUT) and self._banner is not None:
            self._banner.clear()
        if state is SessionState.LOCKED:
            if settled:
                self._cancel_welcome()
                self._drop_patient_data("session_locked")
                self.lock_page.set_locked_holder(self._session.holder, reason)
                self._show_page(self.lock_page)
        elif state is SessionState.LOGGED_OUT:
            self._cancel_welcome()
            self._notice_pending = False
            self._shown_generation = None
            if settled:
                self._drop_patient_data("logout")
                self._show_page(self.login_page)
        elif state is SessionState.ACTIVE:
            generation = self._session.machine.generation
            if generation == self._shown_generation and not self._notice_pending:
                self._show_page(self._home_page())  # resumed
            else:
                self._shown_generation = generation
                self._notice_pending = True
                task = spawn(self._welcome())
                self._welcome_task = task
                self._welcome_tasks.add(task)
                task.add_done_callback(self._welcome_tasks.discard)
        self._update_state()

    def _cancel_welcome(self) -> None:
        task, self._welcome_task = self._welcome_task, None
        if task is not None and not task.done():
            task.cancel()

    async def _welcome(self) -> None:
        """After a login: the traceability notice when due, then the patient search."""
        login = self._session.login
        if login is None:
            return
        if self._notice.needs_notice(login.id_nat, self._clock()):
            dialog = NoticeDialog(self)
            self._notice_dialog = dialog
            try:
                understood = await dialog.ask()
            finally:
                self._notice_dialog = None
                if dialog.isVisible():
                    dialog.reject()
                dialog.deleteLater()
            if self._session.state is not SessionState.ACTIVE:
                return  # locked or ended meanwhile: asked again after the unlock
            if not understood:
                await self._session.logout()
                self.login_page.show_message(
                    self.tr(
                        "Vous devez prendre connaissance de l'information sur la traçabilité "
                        "pour accéder au DMP."
                    )
                )
                return
            self._notice.acknowledge(login.id_nat, self._clock())
        self._notice_pending = False
        self._show_page(self._home_page())

    @property
    def notice_dialog(self) -> NoticeDialog | None:
        """The traceability notice while it is open."""
        return self._notice_dialog

    # -- cards ----------------------------------------------------------------------------------

    def card_inserted(self, token: TokenInfo) -> None:
        """The card monitor saw a card come in."""
        self._present[token.key] = token
        self._reader_failing = False
        self.refresh_cards()
        self._update_state()

    def card_changed(self, token: TokenInfo) -> None:
        """The card monitor saw a card's listing change (its PIN state)."""
        self._present[token.key] = token
        self.refresh_cards()

    def card_removed(self, token: TokenInfo) -> None:
        """The card monitor saw a card leave: the session locks if it was its card."""
        self._session.card_removed(token)  # first: the lock must not wait for the views
        self._present.pop(token.key, None)
        self.login_page.token_removed(token)
        self.lock_page.token_removed(token)
        self.refresh_cards()
        self._update_state()

    def card_reader_recovered(self, failures: int) -> None:
        """The card monitor reads the readers again after `failures` failed polls."""
        self._reader_failing = False
        self.card_label.setToolTip("")
        self._update_state()

    def card_reader_failed(self, error: Exception) -> None:
        """The card monitor cannot read the readers any more."""
        self._reader_failing = True
        self.card_label.setToolTip(str(error))
        self._update_state()

    # -- status ---------------------------------------------------------------------------------

    def _update_state(self) -> None:
        state = self._session.state
        holder = self._session.holder
        ecps = holder is not None and holder.method is AuthMethod.ECPS
        if holder is not None and state in (SessionState.ACTIVE, SessionState.LOCKED):
            detail = self.tr("e-CPS") if ecps else holder.profession_label
            self.user_label.setText(f"{holder.display_name} — {detail}")
        else:
            self.user_label.setText(self.tr("Non connecté"))
        if state is SessionState.LOCKED:
            card = self.tr("Verrouillé")
        elif state is SessionState.ACTIVE and ecps:
            card = self.tr("Connexion e-CPS (sans carte)")
        elif self._reader_failing:
            card = self.tr("Lecteur de cartes indisponible")
        elif state is SessionState.ACTIVE or self._present:
            card = self.tr("Carte présente")
        else:
            card = self.tr("Carte retirée")
        self.card_label.setText(card)
        usable = self._usable()
        self.lock_action.setEnabled(state is SessionState.ACTIVE)
        self.logout_action.setEnabled(state in (SessionState.ACTIVE, SessionState.LOCKED))
        professional = usable and not self.is_secretary()
        self.search_action.setEnabled(professional)
        self.close_patient_action.setEnabled(professional and self._open_dossier is not None)
        self.deposit_action.setEnabled(self._can_deposit())
        self.refresh_cards_action.setEnabled(state is not SessionState.ACTIVE)
        self.history_action.setEnabled(
            professional and self._history is not None and self._open_dossier is not None
        )
        self.purge_cache_action.setEnabled(
            state is SessionState.ACTIVE and self._purge_cache is not None
        )
        self.attestations_action.setEnabled(
            state is SessionState.ACTIVE and self._attestations is not None
        )

    # -- errors and closing ---------------------------------------------------------------------

    def report_error(self, error: BaseException) -> None:
        """Show an error in a non-modal message box (the caller logs it)."""
        if isinstance(error, ConsoleError):
            text = str(error) or type(error).__name__
        else:
            text = self.tr("Erreur inattendue (%1). Le détail est dans le journal.").replace(
                "%1", type(error).__name__
            )
        box = QMessageBox(
            QMessageBox.Icon.Warning,
            self.tr("Console DMP"),
            text,
            QMessageBox.StandardButton.Ok,
            self,
        )
        box.setObjectName("errorBox")
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.setWindowModality(Qt.WindowModality.NonModal)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.show()

    def closeEvent(self, event: QCloseEvent) -> None:
        self._drop_patient_data("application_closed")
        self.closed.emit()
        event.accept()
