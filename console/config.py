"""Typed settings of the console (no secrets, no patient data)."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

from platformdirs import user_config_dir, user_data_dir

from console.domain.localtime import DEFAULT_ZONE

APP_NAME = "staff-console"
DEFAULT_SERVER = "http://127.0.0.1:8470"


def default_pkcs11_module(platform: str = sys.platform) -> Path:
    """The Cryptolib CPS of the ANS per OS (the real cards' middleware)."""
    if platform.startswith("win"):
        return (
            Path(os.environ.get("SystemRoot", r"C:\Windows")) / "System32" / "cps3_pkcs11_w64.dll"
        )
    if platform == "darwin":
        return Path("/usr/local/lib/libcps3_pkcs11_osx.dylib")
    return Path("/usr/lib64/libcps3_pkcs11_lux.so")


@dataclass(frozen=True, slots=True)
class Settings:
    server_url: str = DEFAULT_SERVER
    pkcs11_module: Path = field(default_factory=default_pkcs11_module)
    language: str = "fr"
    time_zone: str = DEFAULT_ZONE
    """The zone of the times shown to people (console.domain.localtime); stored: UTC."""
    card_poll_interval_s: float = 1.0
    idle_lock_minutes: int = 10
    notice_period_days: int = 180
    """The traceability notice is shown at first login, then every 180 days."""
    first_opening_years: int = 2
    """First opening of a patient: documents of the last 2 years (DMP usage rule)."""
    bris_de_glace_minutes: int = 60
    cache_retention_hours: int = 72
    """The offline cache keeps a patient's data this long after her last access."""
    purge_cache_at_logout: bool = False
    """Purge every patient's data from the offline cache at logout."""
    cache_purge_interval_minutes: int = 60
    """The retention purge runs this often (and at each opening of the cache)."""
    config_dir: Path = field(default_factory=lambda: Path(user_config_dir(APP_NAME)))
    data_dir: Path = field(default_factory=lambda: Path(user_data_dir(APP_NAME)))
