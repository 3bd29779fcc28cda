"""Staff console: a desktop client of the French shared medical record (DMP)."""

from __future__ import annotations

__version__ = "0.1.0"
