"""The one documented error tree of the console's domain.

Services raise these; views catch :class:`ConsoleError` and show ``str(error)``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from console.domain.card import PinState


class ConsoleError(Exception):
    """Base of every error the console reports to its user."""


class InvalidINSError(ConsoleError, ValueError):
    """An INS (NIR) that is malformed or whose control key is wrong."""


class UnknownDocumentTypeError(ConsoleError, ValueError):
    """A document type code that is not one of the DMP's accepted types."""


class AccessRefusedError(ConsoleError):
    """The DMP rules refuse the requested access; ``reason`` is a stable code."""

    def __init__(self, message: str, reason: str = "refused") -> None:
        super().__init__(message)
        self.reason = reason


class ResourceDataError(ConsoleError):
    """A bundled resource file (matrix, terminology) is missing or malformed."""


class CardError(ConsoleError):
    """Base of the smart card errors."""


class NoCardError(CardError):
    """No card in any reader (or no reader)."""


class CardRemovedError(CardError):
    """The card was removed during an operation."""


class PinIncorrectError(CardError):
    """Wrong PIN; ``pin_state``, read after the attempt, tells how many tries are left."""

    def __init__(self, message: str, pin_state: PinState | None = None) -> None:
        super().__init__(message)
        self.pin_state = pin_state


class PinLockedError(CardError):
    """The PIN is locked: no login may be attempted."""

    def __init__(self, message: str, pin_state: PinState | None = None) -> None:
        super().__init__(message)
        self.pin_state = pin_state


class CardMiddlewareError(CardError):
    """The PKCS#11 module failed (not installed, not loadable, or an unexpected error)."""


class DmpError(ConsoleError):
    """Base of the errors talking to the DMP (or the sandbox)."""


class NetworkError(DmpError):
    """The server cannot be reached (connection refused, timeout, DNS...)."""


class ProtocolError(DmpError):
    """The server answered something the console cannot understand (malformed answer)."""


class ServerError(DmpError):
    """The server refused or failed, with its OperationOutcome message and reason code."""

    def __init__(self, message: str, status: int, reason: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason


class AuthenticationError(ServerError):
    """401: not logged in, expired or revoked token."""


class ForbiddenError(ServerError):
    """403: the DMP's rules refuse the request (reason carries the Refusal code)."""


class NotFoundError(ServerError):
    """404."""


class CacheError(ConsoleError):
    """Base of the offline cache's errors."""


class CacheOwnershipError(CacheError):
    """The cache on disk belongs to another card (or another key): nothing was touched."""


class CacheUnavailableError(CacheError):
    """No cache can be used (e-CPS without a usable OS keychain, ...): work goes on online."""


class CacheCorruptError(CacheError):
    """The cache files are inconsistent or unreadable; they are kept for inspection."""


class CacheClosedError(CacheError):
    """The cache is closed (session locked or ended)."""


class RetryableServerError(ServerError):
    """429 (throttled) or 5xx from a write that is safe to send again (an idempotent deposit):
    the server may accept it later. ``retry_after`` is the delay it asked for, in seconds."""

    def __init__(
        self, message: str, status: int, reason: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status, reason)
        self.retry_after = retry_after
