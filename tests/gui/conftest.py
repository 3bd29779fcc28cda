"""GUI tests: the ``aloop`` fixture (see tests/qtloop.py); every test here is marked ``gui``."""

from __future__ import annotations

import pytest

from tests.qtloop import AsyncLoop, aloop

__all__ = ["AsyncLoop", "aloop"]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/gui/" in str(item.fspath).replace("\\", "/"):
            item.add_marker(pytest.mark.gui)
