"""The login page (cards found, PIN dialog, e-CPS, progress, errors) and the unlock page.

The page lists the cards the readers hold (holder, profession, card label, PIN state), asks
the PIN in a :class:`PinDialog` and logs in through :class:`~console.services.session.
SessionService`. It implements the service's ``PinPrompt``: the PIN is read from the dialog
once, the field is emptied as the dialog closes, and the page never retries a PIN by itself.

Without a card, the professional types (or picks among the recent ones) her national
identifier and logs in with e-CPS: the request goes to her phone and an
:class:`~console.views.ecps.EcpsWaitDialog` shows the code to compare, until she answers,
cancels, or the request expires.

The same class, built with ``unlock=True``, is the page of a locked session: the card back
and the PIN (or a new e-CPS approval) resume the session; another professional ends it (the
service decides).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Coroutine, Sequence
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QCoreApplication,
    QModelIndex,
    QPersistentModelIndex,
    QRegularExpression,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor, QKeySequence, QRegularExpressionValidator, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from console.domain.card import CardIdentity, PinState, TokenInfo
from console.domain.dossier import ProfessionalLogin
from console.domain.errors import (
    AuthenticationError,
    CardError,
    CardMiddlewareError,
    CardRemovedError,
    ConsoleError,
    DmpError,
    NetworkError,
    NoCardError,
    PinIncorrectError,
    PinLockedError,
    ServerError,
)
from console.domain.session import (
    AuthMethod,
    EcpsExpiredError,
    EcpsPending,
    EcpsRefusedError,
    EcpsUnknownIdentifierError,
    LockReason,
    is_valid_id_nat,
)
from console.services.session import (
    CardChoice,
    InvalidIdentifierError,
    SessionHolder,
    SessionService,
)
from console.views.ecps import EcpsWaitDialog
from console.views.tasks import spawn

__all__ = [
    "CARD_ROLE",
    "CardTableModel",
    "LoginPage",
    "PinDialog",
    "describe_login_error",
    "pin_state_text",
    "pin_warning_text",
]

log = logging.getLogger(__name__)

CARD_ROLE = Qt.ItemDataRole.UserRole + 1
"""Item role of :class:`CardTableModel` giving the row's :class:`CardChoice`."""

PIN_MIN_LENGTH = 4
PIN_MAX_LENGTH = 8
"""A CPS PIN has 4 digits; a few more are accepted for other cards (never fewer)."""

_ERROR_STYLE = "color: #b00020; font-weight: bold;"
_WARNING_STYLE = "color: #8a4b00;"
_INFO_STYLE = ""


def pin_state_text(state: PinState) -> str:
    """The short PIN state shown in the card list."""
    match state:
        case PinState.OK:
            return QCoreApplication.translate("LoginPage", "Normal")
        case PinState.COUNT_LOW:
            return QCoreApplication.translate("LoginPage", "Code erroné déjà saisi")
        case PinState.FINAL_TRY:
            return QCoreApplication.translate("LoginPage", "Dernier essai")
        case PinState.LOCKED:
            return QCoreApplication.translate("LoginPage", "Carte bloquée")


def locked_card_text() -> str:
    """What to do with a locked card (no login is attempted)."""
    return QCoreApplication.translate(
        "LoginPage",
        "Cette carte est bloquée : son code PIN a été saisi trop de fois de façon erronée. "
        "Débloquez-la avec son code de déblocage (PUK) dans l'outil CPS Gestion de l'ANS "
        "(ou l'outil de l'émetteur de la carte), puis réessayez. "
        "Aucune tentative de connexion n'a été faite.",
    )


def pin_warning_text(state: PinState) -> str:
    """The warning shown above the PIN field ("" when there is nothing to say)."""
    match state:
        case PinState.OK:
            return ""
        case PinState.COUNT_LOW:
            return QCoreApplication.translate(
                "PinDialog",
                "Attention : un code erroné a déjà été saisi. "
                "La carte se bloque après trois codes erronés.",
            )
        case PinState.FINAL_TRY:
            return QCoreApplication.translate(
                "PinDialog",
                "DERNIER ESSAI : un nouveau code erroné bloquera la carte. "
                "Vérifiez votre code avant de le saisir.",
            )
        case PinState.LOCKED:
            return locked_card_text()


def _cancel_all(tasks: set[asyncio.Task[None]], *_destroyed: object) -> None:
    for task in list(tasks):
        task.cancel()
    tasks.clear()


def _pin_state_of(error: BaseException) -> PinState | None:
    """The card's PIN state after a failed PIN, as the card adapter attaches it to its errors."""
    state = getattr(error, "pin_state", None)
    return state if isinstance(state, PinState) else None


def _with_detail(headline: str, error: BaseException) -> str:
    detail = str(error).strip()
    return f"{headline}\n{detail}" if detail and detail != headline else headline


def describe_login_error(error: ConsoleError, pin_state: PinState | None = None) -> str:
    """The message shown for a failed login (translated headline, then the error's text).

    Args:
        error: The error raised by the session service.
        pin_state: The card's PIN state after a wrong PIN, when known.
    """
    if isinstance(error, EcpsRefusedError):
        return QCoreApplication.translate(
            "LoginPage",
            "La connexion a été refusée dans l'application e-CPS. Aucune session n'a été ouverte.",
        )
    if isinstance(error, EcpsExpiredError):
        return QCoreApplication.translate(
            "LoginPage",
            "La demande e-CPS a expiré sans avoir été validée sur le téléphone. "
            "Recommencez pour envoyer une nouvelle demande.",
        )
    if isinstance(error, EcpsUnknownIdentifierError):
        return QCoreApplication.translate(
            "LoginPage",
            "Cet identifiant national est inconnu de l'annuaire du DMP. Vérifiez-le.",
        )
    if isinstance(error, InvalidIdentifierError):
        return QCoreApplication.translate(
            "LoginPage",
            "Saisissez votre identifiant national (par exemple 8 suivi de votre numéro RPPS).",
        )
    if isinstance(error, PinIncorrectError):
        if pin_state is PinState.FINAL_TRY:
            return QCoreApplication.translate(
                "LoginPage",
                "Code PIN incorrect. Il ne reste qu'un essai : un nouveau code erroné "
                "bloquera la carte.",
            )
        if pin_state is PinState.COUNT_LOW:
            return QCoreApplication.translate(
                "LoginPage",
                "Code PIN incorrect. Il reste au moins deux essais avant le blocage de la carte.",
            )
        return QCoreApplication.translate("LoginPage", "Code PIN incorrect.")
    if isinstance(error, PinLockedError):
        return locked_card_text()
    if isinstance(error, CardRemovedError):
        return QCoreApplication.translate(
            "LoginPage",
            "La carte a été retirée du lecteur pendant la connexion. Réinsérez-la puis réessayez.",
        )
    if isinstance(error, NoCardError):
        return QCoreApplication.translate(
            "LoginPage", "Aucune carte détectée. Insérez votre carte CPS dans le lecteur."
        )
    if isinstance(error, CardMiddlewareError):
        return _with_detail(
            QCoreApplication.translate(
                "LoginPage",
                "Le logiciel de lecture des cartes (Cryptolib CPS) est introuvable ou en erreur. "
                "Vérifiez son installation et le lecteur de cartes.",
            ),
            error,
        )
    if isinstance(error, CardError):
        return _with_detail(QCoreApplication.translate("LoginPage", "Erreur de la carte."), error)
    if isinstance(error, NetworkError):
        return _with_detail(
            QCoreApplication.translate(
                "LoginPage",
                "Le serveur DMP est injoignable. Vérifiez la connexion au réseau puis réessayez.",
            ),
            error,
        )
    if isinstance(error, AuthenticationError):
        return _with_detail(
            QCoreApplication.translate(
                "LoginPage", "Le serveur DMP a refusé l'authentification par la carte."
            ),
            error,
        )
    if isinstance(error, ServerError | DmpError):
        return _with_detail(
            QCoreApplication.translate("LoginPage", "Le serveur DMP a refusé la connexion."), error
        )
    return str(error)


class CardTableModel(QAbstractTableModel):
    """The cards found in the readers: holder, profession, card label, PIN state.

    Holds :class:`CardChoice` values; display strings are built in :meth:`data`.
    """

    HOLDER, PROFESSION, LABEL, PIN = range(4)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[CardChoice] = []

    def show(self, choices: Sequence[CardChoice]) -> None:
        """Replace the cards listed."""
        self.beginResetModel()
        self._rows = list(choices)
        self.endResetModel()

    def choice(self, row: int) -> CardChoice | None:
        """The card of `row`, or None out of range."""
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, key: tuple[int, str]) -> int:
        """The row of the card whose ``TokenInfo.key`` is `key`, or -1."""
        for row, choice in enumerate(self._rows):
            if choice.token.key == key:
                return row
        return -1

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else 4

    def headerData(
        self,
        section: int,
        orientation: Qt.Orientation,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        headers = (
            self.tr("Titulaire"),
            self.tr("Profession"),
            self.tr("Carte"),
            self.tr("Code PIN"),
        )
        return headers[section] if 0 <= section < len(headers) else None

    def data(
        self,
        index: QModelIndex | QPersistentModelIndex,
        role: int = Qt.ItemDataRole.DisplayRole,
    ) -> Any:
        if not index.isValid():
            return None
        choice = self.choice(index.row())
        if choice is None:
            return None
        column = index.column()
        if role == CARD_ROLE:
            return choice
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(choice, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            if choice.error is not None:
                return choice.error
            if column == self.PIN:
                return pin_warning_text(choice.token.pin_state) or None
            return None
        if role == Qt.ItemDataRole.ForegroundRole and column == self.PIN:
            if choice.token.pin_state in (PinState.FINAL_TRY, PinState.LOCKED):
                return QColor("#b00020")
            return None
        return None

    def _display(self, choice: CardChoice, column: int) -> str:
        identity = choice.identity
        if column == self.HOLDER:
            return identity.display_name if identity else self.tr("Carte illisible")
        if column == self.PROFESSION:
            return identity.profession_label if identity else ""
        if column == self.LABEL:
            return choice.token.label
        if column == self.PIN:
            return pin_state_text(choice.token.pin_state)
        return ""


class PinDialog(QDialog):
    """Asks the PIN of one card, with the warning its PIN state calls for.

    COUNT_LOW shows a warning; FINAL_TRY a red warning and a checkbox that must be ticked
    before the last try; LOCKED the way to unlock the card and no PIN field at all. The field
    is masked and emptied as soon as the dialog closes: the PIN lives only in the value
    :meth:`ask` returns.

    Args:
        token: The card.
        identity: Its holder.
        state: Its PIN state, read before asking.
        parent: The parent widget (the dialog is window-modal over it).
    """

    def __init__(
        self,
        token: TokenInfo,
        identity: CardIdentity,
        state: PinState,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.token = token
        self.pin_state = state
        self._future: asyncio.Future[str | None] | None = None
        self.setWindowTitle(self.tr("Code PIN de la carte"))
        self.setObjectName("pinDialog")

        holder = QLabel(
            self.tr("Carte de %1 (%2)")
            .replace("%1", identity.display_name)
            .replace("%2", identity.profession_label)
        )
        holder.setTextFormat(Qt.TextFormat.PlainText)
        card = QLabel(self.tr("Carte : %1").replace("%1", token.label))
        card.setTextFormat(Qt.TextFormat.PlainText)

        self.warning_label = QLabel(pin_warning_text(state))
        self.warning_label.setObjectName("pinWarning")
        self.warning_label.setTextFormat(Qt.TextFormat.PlainText)
        self.warning_label.setWordWrap(True)
        self.warning_label.setVisible(bool(self.warning_label.text()))
        if state in (PinState.FINAL_TRY, PinState.LOCKED):
            self.warning_label.setStyleSheet(_ERROR_STYLE)
        elif state is PinState.COUNT_LOW:
            self.warning_label.setStyleSheet(_WARNING_STYLE)

        self.pin_edit = QLineEdit()
        self.pin_edit.setObjectName("pinEdit")
        self.pin_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.pin_edit.setMaxLength(PIN_MAX_LENGTH)
        self.pin_edit.setValidator(
            QRegularExpressionValidator(QRegularExpression(rf"\d{{0,{PIN_MAX_LENGTH}}}"), self)
        )
        self.pin_edit.setPlaceholderText(self.tr("Code PIN (4 chiffres)"))
        self.pin_edit.setAttribute(Qt.WidgetAttribute.WA_InputMethodEnabled, False)
        self.pin_edit.setContextMenuPolicy(Qt.ContextMenuPolicy.NoContextMenu)

        self.confirm_check = QCheckBox(
            self.tr("Je confirme vouloir utiliser mon dernier essai avant blocage de la carte")
        )
        self.confirm_check.setObjectName("finalTryConfirm")
        self.confirm_check.setVisible(state is PinState.FINAL_TRY)

        self.ok_button = QPushButton(
            self.tr("Tenter le dernier essai")
            if state is PinState.FINAL_TRY
            else self.tr("Valider")
        )
        self.ok_button.setObjectName("pinOk")
        self.ok_button.setDefault(True)
        self.cancel_button = QPushButton(
            self.tr("Fermer") if state is PinState.LOCKED else self.tr("Annuler")
        )
        self.cancel_button.setObjectName("pinCancel")
        self.ok_button.clicked.connect(self.accept)
        self.cancel_button.clicked.connect(self.reject)

        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.ok_button)

        layout = QVBoxLayout(self)
        layout.addWidget(holder)
        layout.addWidget(card)
        layout.addWidget(self.warning_label)
        layout.addWidget(self.pin_edit)
        layout.addWidget(self.confirm_check)
        layout.addLayout(buttons)

        if state is PinState.LOCKED:
            self.pin_edit.hide()
            self.ok_button.hide()
            self.cancel_button.setDefault(True)
        self.pin_edit.textChanged.connect(self._update_ok)
        self.confirm_check.toggled.connect(self._update_ok)
        self._update_ok()
        self.pin_edit.setFocus()

    def acceptable(self) -> bool:
        """Whether the PIN may be tried now (length, and the final-try confirmation)."""
        if self.pin_state is PinState.LOCKED:
            return False
        if len(self.pin_edit.text()) < PIN_MIN_LENGTH:
            return False
        return self.pin_state is not PinState.FINAL_TRY or self.confirm_check.isChecked()

    def _update_ok(self) -> None:
        self.ok_button.setEnabled(self.acceptable())

    async def ask(self) -> str | None:
        """Open the dialog (window-modal, without a nested event loop) and wait for it.

        Returns:
            The PIN typed, or None when the user cancelled (or the dialog was closed).
        """
        self._future = asyncio.get_running_loop().create_future()
        self.open()
        return await self._future

    def accept(self) -> None:
        if not self.acceptable():
            return
        super().accept()

    def done(self, result: int) -> None:
        accepted = result == QDialog.DialogCode.Accepted.value and self.acceptable()
        pin = self.pin_edit.text() if accepted else None
        # setText, not clear(): clear() keeps the removed digits in the undo history.
        self.pin_edit.setText("")
        self.confirm_check.setChecked(False)
        future, self._future = self._future, None
        if future is not None and not future.done():
            future.set_result(pin)
        del pin
        super().done(result)


class LoginPage(QWidget):
    """Cards found, the login button, progress and messages; also the unlock page.

    Implements ``PinPrompt`` (:meth:`ask_pin`) for the session service.

    Args:
        session: The session service.
        unlock: Build the page of a locked session (resume with the same card).
        parent: The parent widget.

    Signals:
        loggedIn(object): a login succeeded (or a locked session resumed); the argument is the
            :class:`~console.domain.dossier.ProfessionalLogin`.
        ecpsPending(str): an e-CPS request waits on the phone of this national identifier
            (the demo shows its phone window).
    """

    loggedIn = Signal(object)
    ecpsPending = Signal(str)

    def __init__(
        self, session: SessionService, *, unlock: bool = False, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self._session = session
        self.unlock = unlock
        self._refresh_task: asyncio.Task[None] | None = None
        self._refresh_again = False
        self._login_task: asyncio.Task[None] | None = None
        self._pin_dialog: PinDialog | None = None
        self._ecps_dialog: EcpsWaitDialog | None = None
        self._card_left_during_pin = False
        self._tasks: set[asyncio.Task[None]] = set()
        # A page deleted with work in flight: its tasks must not touch it afterwards.
        self.destroyed.connect(functools.partial(_cancel_all, self._tasks))
        self.setObjectName("unlockPage" if unlock else "loginPage")

        self.title_label = QLabel(
            self.tr("Session verrouillée") if unlock else self.tr("Connexion par carte CPS")
        )
        self.title_label.setObjectName("loginTitle")
        font = self.title_label.font()
        font.setPointSizeF(font.pointSizeF() * 1.5)
        font.setBold(True)
        self.title_label.setFont(font)

        self.explanation_label = QLabel(
            self.tr(
                "Insérez votre carte dans le lecteur, choisissez-la puis saisissez son code PIN."
            )
        )
        self.explanation_label.setObjectName("loginExplanation")
        self.explanation_label.setTextFormat(Qt.TextFormat.PlainText)
        self.explanation_label.setWordWrap(True)

        self.model = CardTableModel(self)
        self.table = QTableView()
        self.table.setObjectName("cardTable")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.setAccessibleName(self.tr("Cartes détectées"))
        # The row double-clicked, not the selection of the moment: a PIN must never go to
        # the card that happened to be selected before (a colleague's).
        self.table.doubleClicked.connect(self.login_row)
        self.table.selectionModel().selectionChanged.connect(
            lambda _selected, _deselected: self._update_buttons()
        )
        enter = QShortcut(QKeySequence(Qt.Key.Key_Return), self.table)
        enter.setContext(Qt.ShortcutContext.WidgetShortcut)
        enter.activated.connect(self.login_selected)

        self.cards_status_label = QLabel()
        self.cards_status_label.setObjectName("cardsStatus")
        self.cards_status_label.setTextFormat(Qt.TextFormat.PlainText)
        self.cards_status_label.setWordWrap(True)

        self.refresh_button = QPushButton(self.tr("Actualiser"))
        self.refresh_button.setObjectName("refreshCards")
        self.refresh_button.setToolTip(
            self.tr("Relire les cartes présentes dans les lecteurs (F5)")
        )
        self.refresh_button.clicked.connect(self.refresh)
        self.login_button = QPushButton(
            self.tr("Déverrouiller") if unlock else self.tr("Se connecter")
        )
        self.login_button.setObjectName("loginButton")
        self.login_button.clicked.connect(self.login_selected)
        self.cancel_button = QPushButton(self.tr("Annuler"))
        self.cancel_button.setObjectName("cancelLogin")
        self.cancel_button.clicked.connect(self.cancel)
        self.cancel_button.hide()
        self.ecps_label = QLabel(self.tr("Sans carte, avec l'application e-CPS :"))
        self.ecps_label.setObjectName("ecpsLabel")
        self.ecps_id_edit = QComboBox()
        self.ecps_id_edit.setObjectName("ecpsIdNat")
        self.ecps_id_edit.setEditable(True)
        self.ecps_id_edit.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.ecps_id_edit.setMinimumContentsLength(16)
        self.ecps_id_edit.setAccessibleName(self.tr("Identifiant national"))
        self.ecps_id_edit.setToolTip(
            self.tr("Votre identifiant national (RPPS précédé de 8); les derniers utilisés")
        )
        line_edit = QLineEdit()
        self.ecps_id_edit.setLineEdit(line_edit)
        line_edit.setPlaceholderText(self.tr("Identifiant national"))
        line_edit.setMaxLength(40)
        line_edit.setValidator(
            QRegularExpressionValidator(QRegularExpression(r"[0-9A-Za-z/\-]{0,40}"), self)
        )
        line_edit.returnPressed.connect(self.login_ecps)
        self.ecps_button = QPushButton(self.tr("Se connecter avec e-CPS"))
        self.ecps_button.setObjectName("ecpsButton")
        self.ecps_button.setToolTip(
            self.tr("Envoyer une demande de connexion à l'application e-CPS de votre téléphone")
        )
        self.ecps_button.clicked.connect(self.login_ecps)
        self.logout_button = QPushButton(self.tr("Fermer la session"))
        self.logout_button.setObjectName("logoutButton")
        self.logout_button.setToolTip(
            self.tr("Fermer la session verrouillée pour qu'une autre personne se connecte")
        )
        self.logout_button.clicked.connect(self.logout)
        self.logout_button.setVisible(unlock)
        # Connected once every button exists: filling the list fires editTextChanged, whose
        # slot updates them all.
        self.ecps_id_edit.editTextChanged.connect(lambda _text: self._update_buttons())
        self.ecps_id_edit.addItems(session.recent_id_nats())

        self.progress = QProgressBar()
        self.progress.setObjectName("loginProgress")
        self.progress.setRange(0, 0)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.progress_label = QLabel()
        self.progress_label.setObjectName("loginProgressLabel")
        self.progress_label.setTextFormat(Qt.TextFormat.PlainText)
        self.progress_label.hide()

        self.message_label = QLabel()
        self.message_label.setObjectName("loginMessage")
        self.message_label.setTextFormat(Qt.TextFormat.PlainText)
        self.message_label.setWordWrap(True)
        self.message_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addStretch(1)
        buttons.addWidget(self.logout_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.login_button)
        ecps_row = QHBoxLayout()
        ecps_row.addWidget(self.ecps_label)
        ecps_row.addWidget(self.ecps_id_edit, 1)
        ecps_row.addWidget(self.ecps_button)

        layout = QVBoxLayout(self)
        layout.addWidget(self.title_label)
        layout.addWidget(self.explanation_label)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.cards_status_label)
        layout.addLayout(buttons)
        layout.addLayout(ecps_row)
        layout.addWidget(self.progress_label)
        layout.addWidget(self.progress)
        layout.addWidget(self.message_label)
        self._update_buttons()

    # -- state ----------------------------------------------------------------------------------

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> asyncio.Task[None]:
        task = spawn(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    @property
    def busy(self) -> bool:
        """Whether a login is running."""
        return self._login_task is not None and not self._login_task.done()

    @property
    def refreshing(self) -> bool:
        """Whether the card list is being read."""
        return self._refresh_task is not None and not self._refresh_task.done()

    @property
    def pin_dialog(self) -> PinDialog | None:
        """The PIN dialog while it is open."""
        return self._pin_dialog

    @property
    def ecps_dialog(self) -> EcpsWaitDialog | None:
        """The dialog waiting for the phone while it is open."""
        return self._ecps_dialog

    def ecps_id_nat(self) -> str:
        """The national identifier typed or picked for e-CPS."""
        return self.ecps_id_edit.currentText().strip()

    def set_ecps_id_nat(self, id_nat: str) -> None:
        """Put `id_nat` in the e-CPS field."""
        self.ecps_id_edit.setEditText(id_nat)

    def message(self) -> str:
        """The message shown to the user (last login result)."""
        return self.message_label.text()

    def show_message(self, text: str, *, error: bool = False) -> None:
        """Show `text` (plain text) where login results are shown."""
        self._set_message(text, _ERROR_STYLE if error else _INFO_STYLE)

    def _set_message(self, text: str, style: str = _INFO_STYLE) -> None:
        self.message_label.setText(text)
        self.message_label.setStyleSheet(style)

    def set_locked_holder(self, holder: SessionHolder | None, reason: LockReason | None) -> None:
        """Say whose session is locked, why, and how to resume it (unlock page)."""
        ecps = holder is not None and holder.method is AuthMethod.ECPS
        if reason is LockReason.CARD_REMOVED:
            why = self.tr("La carte a été retirée du lecteur.")
        elif reason is LockReason.IDLE:
            why = self.tr("La session a été verrouillée après une période d'inactivité.")
        elif reason is LockReason.EXPIRED and ecps:
            why = self.tr(
                "La connexion e-CPS a pris fin (durée maximale atteinte ou renouvellement "
                "refusé) : elle ne peut pas être prolongée sans une nouvelle validation sur "
                "le téléphone."
            )
        elif reason is LockReason.EXPIRED:
            why = self.tr(
                "Le jeton de connexion a expiré et n'a pas pu être renouvelé avec la carte."
            )
        else:
            why = self.tr("La session a été verrouillée.")
        if holder is None:
            what = self.tr("Insérez votre carte et saisissez son code PIN.")
        elif ecps:
            what = self.tr(
                "Cette session e-CPS n'utilise pas de carte : pour la reprendre, %1 doit "
                "valider une nouvelle demande e-CPS sur son téléphone (bouton « Se connecter "
                "avec e-CPS »). Toute autre connexion fermera cette session."
            ).replace("%1", holder.display_name)
            self.set_ecps_id_nat(holder.id_nat)
        else:
            what = self.tr(
                "Pour reprendre, insérez la carte de %1 et saisissez son code PIN. "
                "Une autre carte fermera cette session."
            ).replace("%1", holder.display_name)
            self.set_ecps_id_nat("")
        self.explanation_label.setText(f"{why} {what}")
        self._set_message("")

    def _update_buttons(self) -> None:
        busy = self.busy
        has_card = self._selected() is not None
        self.login_button.setEnabled(not busy and has_card)
        self.refresh_button.setEnabled(not busy)
        self.table.setEnabled(not busy)
        self.cancel_button.setVisible(busy)
        self.logout_button.setEnabled(not busy)
        self.ecps_id_edit.setEnabled(not busy)
        self.ecps_button.setEnabled(not busy and is_valid_id_nat(self.ecps_id_nat()))

    def _show_progress(self, text: str | None) -> None:
        self.progress.setVisible(text is not None)
        self.progress_label.setVisible(text is not None)
        self.progress_label.setText(text or "")

    def _selected(self) -> CardChoice | None:
        rows = self.table.selectionModel().selectedRows()
        return self.model.choice(rows[0].row()) if rows else None

    def select_card(self, key: tuple[int, str]) -> bool:
        """Select the card whose ``TokenInfo.key`` is `key`; False if it is not listed."""
        row = self.model.row_of(key)
        if row < 0:
            return False
        self.table.selectRow(row)
        self._update_buttons()
        return True

    # -- cards ----------------------------------------------------------------------------------

    def refresh(self) -> None:
        """Read the cards again (coalesced with a refresh already running)."""
        if self.refreshing:
            self._refresh_again = True
            return
        self._refresh_task = self._spawn(self._refresh())

    async def _refresh(self) -> None:
        while True:
            self._refresh_again = False
            selected = self._selected()
            keep = selected.token.key if selected is not None else None
            self.cards_status_label.setText(self.tr("Recherche des cartes…"))
            self.cards_status_label.setStyleSheet(_INFO_STYLE)
            try:
                choices = await self._session.cards()
            except ConsoleError as exc:
                self.model.show([])
                self.cards_status_label.setText(describe_login_error(exc))
                self.cards_status_label.setStyleSheet(_ERROR_STYLE)
            else:
                self._show_cards(choices, keep)
            self._update_buttons()
            if not self._refresh_again:
                return

    def _show_cards(self, choices: list[CardChoice], keep: tuple[int, str] | None) -> None:
        self.model.show(choices)
        if not choices:
            self.cards_status_label.setText(
                self.tr("Aucune carte détectée. Insérez votre carte CPS dans le lecteur.")
            )
            return
        if keep is None or not self.select_card(keep):
            wanted = self._session.card_token if self.unlock else None
            if wanted is None or not self.select_card(wanted.key):
                self.table.selectRow(0)
        if len(choices) == 1:
            self.cards_status_label.setText(self.tr("1 carte détectée."))
        else:
            self.cards_status_label.setText(
                self.tr("%1 cartes détectées.").replace("%1", str(len(choices)))
            )

    def token_removed(self, token: TokenInfo) -> None:
        """A card left its reader: close its PIN dialog if open (the login is abandoned)."""
        dialog = self._pin_dialog
        if dialog is not None and dialog.token.key == token.key:
            self._card_left_during_pin = True
            dialog.reject()

    # -- login ----------------------------------------------------------------------------------

    def login_row(self, index: QModelIndex) -> None:
        """Log in with the card of `index`'s row (a double-click): that row is selected first,
        so the PIN dialog is the one of the card clicked."""
        if self.busy or not index.isValid():
            return
        choice = self.model.choice(index.row())
        if choice is None:
            return
        self.table.selectRow(index.row())
        self._update_buttons()
        if self._selected() != choice:
            return
        self.login_selected()

    def login_selected(self) -> None:
        """Log in with the selected card (nothing happens while a login runs)."""
        if self.busy:
            return
        choice = self._selected()
        if choice is None:
            self._set_message(self.tr("Choisissez une carte dans la liste."), _WARNING_STYLE)
            return
        self._login_task = self._spawn(self._login(choice))
        self._update_buttons()

    def login_ecps(self) -> None:
        """Log in with e-CPS for the identifier typed (nothing happens while a login runs)."""
        if self.busy:
            return
        id_nat = self.ecps_id_nat()
        if not is_valid_id_nat(id_nat):
            self._set_message(describe_login_error(InvalidIdentifierError()), _WARNING_STYLE)
            return
        self._login_task = self._spawn(self._login_ecps(id_nat))
        self._update_buttons()

    async def _login_ecps(self, id_nat: str) -> None:
        dialog = EcpsWaitDialog(id_nat, self)
        self._ecps_dialog = dialog
        dialog.rejected.connect(self._ecps_rejected)

        def pending(request: EcpsPending) -> None:
            dialog.show_pending(request)
            self.ecpsPending.emit(request.id_nat)

        self._set_message("")
        dialog.open()
        try:
            login = await self._session.login_with_ecps(id_nat, pending)
        except asyncio.CancelledError:
            self._set_message(self.tr("Connexion e-CPS annulée."))
            raise
        except ConsoleError as exc:
            log.info("e-CPS login failed: %s", type(exc).__name__)
            self._set_message(describe_login_error(exc), _ERROR_STYLE)
            return
        finally:
            self._ecps_dialog = None
            with contextlib.suppress(RuntimeError):  # the page (and the dialog) deleted
                dialog.finish()
                dialog.deleteLater()
                self._login_task = None
                self._update_buttons()
        if login is None:
            self._set_message(self.tr("Connexion e-CPS annulée."))
            return
        self._remember_ecps(id_nat)
        self._logged_in(login)

    def _ecps_rejected(self) -> None:
        if self._ecps_dialog is not None:  # "Annuler" (not the dialog closed at the end)
            self.cancel()

    def _remember_ecps(self, id_nat: str) -> None:
        self.ecps_id_edit.blockSignals(True)
        try:
            self.ecps_id_edit.clear()
            self.ecps_id_edit.addItems(self._session.recent_id_nats())
            self.ecps_id_edit.setEditText(id_nat)
        finally:
            self.ecps_id_edit.blockSignals(False)

    def cancel(self) -> None:
        """Abandon the running login (the PIN dialog closes, nothing is retried)."""
        if self._login_task is not None and not self._login_task.done():
            self._login_task.cancel()

    def logout(self) -> None:
        """End the (locked) session: the next card starts afresh."""
        self._spawn(self._session.logout())

    async def _login(self, choice: CardChoice) -> None:
        try:
            await self._login_inner(choice)
        except asyncio.CancelledError:
            self._set_message(self.tr("Connexion annulée."))
            raise
        finally:
            self._show_progress(None)
            self._login_task = None
            self._update_buttons()

    async def _login_inner(self, choice: CardChoice) -> None:
        if choice.identity is None:
            text = self.tr("Cette carte ne peut pas être lue.")
            if choice.error:
                text = f"{text}\n{choice.error}"
            self._set_message(text, _ERROR_STYLE)
            return
        if choice.token.pin_state is PinState.LOCKED:
            # No PIN is asked and nothing is sent to the card.
            self._set_message(locked_card_text(), _ERROR_STYLE)
            return
        self._set_message("")
        self._card_left_during_pin = False
        self._show_progress(self.tr("Lecture de la carte…"))
        try:
            login = await self._session.login_with_card(choice.token, self)
        except ConsoleError as exc:
            self._login_failed(exc)
            return
        if login is None:
            if self._card_left_during_pin:
                self._set_message(describe_login_error(CardRemovedError()), _ERROR_STYLE)
            else:
                self._set_message(self.tr("Connexion annulée."))
            return
        self._logged_in(login)

    def _logged_in(self, login: ProfessionalLogin) -> None:
        self._set_message("")
        self.loggedIn.emit(login)

    def _login_failed(self, exc: ConsoleError) -> None:
        state = _pin_state_of(exc)
        log.info("card login failed: %s", type(exc).__name__)
        self._set_message(describe_login_error(exc, state), _ERROR_STYLE)
        if isinstance(exc, CardError):
            self.refresh()  # the PIN state (or the card's presence) changed

    # -- PinPrompt ------------------------------------------------------------------------------

    async def ask_pin(
        self, token: TokenInfo, identity: CardIdentity, state: PinState
    ) -> str | None:
        """Ask the PIN of `token` in a :class:`PinDialog` (the session service's PinPrompt)."""
        dialog = PinDialog(token, identity, state, self)
        self._pin_dialog = dialog
        self._show_progress(None)
        try:
            pin = await dialog.ask()
        finally:
            self._pin_dialog = None
            if dialog.isVisible():
                dialog.reject()
            dialog.deleteLater()
        if pin is not None:
            self._show_progress(self.tr("Vérification du code PIN et connexion au serveur DMP…"))
        return pin
