"""The one documented error tree of the console's domain.

Services raise these; views catch :class:`ConsoleError` and show ``str(error)``.
"""

from __future__ import annotations


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
