"""A pytest plugin for ``tests/integration/test_no_patient_data.py``: the console's log set-up
at its most verbose, then every logger lowered to DEBUG (what a debugging session or a
careless plugin does), everything the handler lets through written to ``$LOGSCAN_FILE``.

Loaded with ``-p tests.logscan_plugin`` in a child pytest run; never in the normal suite.
"""

from __future__ import annotations

import logging
import os

import pytest

from console.logs import HELD_LOGGERS, configure_logging


class _HeldCounter(logging.Handler):
    """Counts the third-party records below WARNING that reached the root (and that the
    console's handler must have withheld): proof that the attack produced some."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING and record.name.split(".")[0] in HELD_LOGGERS:
            self.count += 1


_COUNTER = _HeldCounter()


def _everything_at_debug() -> None:
    logging.getLogger().setLevel(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):
        logging.getLogger(name).setLevel(logging.DEBUG)


@pytest.hookimpl(trylast=True)
def pytest_configure(config: pytest.Config) -> None:
    stream = open(os.environ["LOGSCAN_FILE"], "a", encoding="utf-8")
    config.stash[_STREAM] = stream
    configure_logging(2, stream=stream)
    logging.getLogger().addHandler(_COUNTER)
    _everything_at_debug()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    _everything_at_debug()  # loggers created since (httpx, qasync...) too


def pytest_unconfigure(config: pytest.Config) -> None:
    stream = config.stash.get(_STREAM, None)
    if stream is not None:
        stream.write(f"LOGSCAN withheld {_COUNTER.count} third-party record(s)\n")  # type: ignore[attr-defined]
        stream.flush()
        stream.close()


_STREAM = pytest.StashKey[object]()
