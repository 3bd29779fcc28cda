"""Location of the bundled ``resources/`` folder (matrix, terminologies, translations)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

RESOURCES_DIR = Path(__file__).resolve().parent.parent / "resources"


@cache
def load_json(name: str) -> Any:
    """Return the parsed JSON resource ``name`` (cached: resources never change at run time)."""
    path = RESOURCES_DIR / name
    with path.open(encoding="utf-8") as fh:
        return json.load(fh)
