"""The console's log set-up: more or less detail, never patient data.

``-v`` logs the console's own INFO lines, ``-vv`` its DEBUG lines. The console's messages
carry no patient data by construction (counts, paths without ids, exception class names).
Third-party libraries do not know what is patient data: httpx logs every request line with its
query string (``GET /Patient?identifier=...|<NIR>``), qasync's executor logs the arguments of
the functions it runs (identifiers, titles, whole bundles), uvicorn logs request lines. So:

- their loggers (:data:`HELD_LOGGERS`) are held at WARNING whatever the verbosity;
- the handler's :class:`PatientDataFilter` drops their records below WARNING even when
  someone lowered their level afterwards (a debugging session, a plugin), and its
  :class:`RedactingFormatter` masks what looks like a NIR (13 or 15 digits), a
  ``system|value`` identifier or a query string in every line that gets through.

The filter is a second line, not the first: a name or a title cannot be recognised in free
text, which is why the console's own messages never contain one (tested by
``tests/integration/test_no_patient_data.py``).
"""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

__all__ = [
    "HELD_LOGGERS",
    "LOG_FORMAT",
    "PatientDataFilter",
    "RedactingFormatter",
    "configure_logging",
    "redact",
]

HELD_LOGGERS = (
    "httpx",
    "httpcore",
    "hpack",
    "h2",
    "h11",
    "qasync",
    "uvicorn",
    "asyncio",
    "fastapi",
    "starlette",
    "PIL",
    "reportlab",
    "keyring",
    "urllib3",
)
"""Libraries whose INFO/DEBUG lines may carry request lines, arguments or bodies."""

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_NIR = re.compile(r"(?<!\d)\d{13}(?:\d{2})?(?!\d)")
_QUERY = re.compile(r"(\?|%3F)[^\s\"'<>]*=[^\s\"'<>]*", re.IGNORECASE)
_PIPE_VALUE = re.compile(r"(\||%7C)[^\s&\"'<>]+", re.IGNORECASE)


def _held(name: str) -> bool:
    return any(name == held or name.startswith(held + ".") for held in HELD_LOGGERS)


def redact(text: str) -> str:
    """``text`` without query strings, ``system|value`` identifiers and NIR-like numbers."""
    text = _QUERY.sub(r"\1…", text)
    text = _PIPE_VALUE.sub(r"\1…", text)
    return _NIR.sub("[NIR]", text)


class PatientDataFilter(logging.Filter):
    """On the console's handler: third-party records below WARNING are dropped."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not _held(record.name)


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then masks query strings, ``system|value`` identifiers and NIR-like
    numbers in the whole text (message, arguments and traceback)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(verbosity: int = 0, stream: TextIO | None = None) -> logging.Handler:
    """The root handler (stderr by default) at WARNING, INFO (1) or DEBUG (2+) for the
    console's loggers, the third-party ones held at WARNING (see the module doc).

    Returns:
        The handler installed (tests read what it writes).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_console_handler", False)]:
        root.removeHandler(old)
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler._console_handler = True  # type: ignore[attr-defined]
    handler.setFormatter(RedactingFormatter(LOG_FORMAT))
    handler.addFilter(PatientDataFilter())
    root.addHandler(handler)
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root.setLevel(logging.WARNING)
    logging.getLogger("console").setLevel(level)
    for name in HELD_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return handler
