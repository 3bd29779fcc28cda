"""Where the PKCS#11 module (the card middleware) lives on each platform.

Real CPS/CPE cards are read through the ANS "Cryptolib CPS" middleware; the sandbox's test
cards are SoftHSM2 tokens. This module only computes paths: it never loads anything.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = [
    "CRYPTOLIB_LINUX",
    "CRYPTOLIB_MACOS",
    "CRYPTOLIB_WINDOWS",
    "SOFTHSM_MODULE_ENV",
    "default_module_path",
    "find_softhsm_module",
    "resolve_module_path",
    "softhsm_module_candidates",
]

CRYPTOLIB_WINDOWS = Path(r"C:\Windows\System32\cps3_pkcs11_w64.dll")
CRYPTOLIB_LINUX = Path("/usr/lib64/libcps3_pkcs11_lux.so")
CRYPTOLIB_MACOS = Path("/usr/local/lib/libcps3_pkcs11_osx.dylib")

SOFTHSM_MODULE_ENV = "SOFTHSM2_MODULE"
"""Environment variable naming SoftHSM2's module explicitly (same as the sandbox's)."""

_SOFTHSM_PATHS: tuple[Path, ...] = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib64/softhsm/libsofthsm2.so"),
    Path("/usr/lib64/pkcs11/libsofthsm2.so"),
    Path("/usr/local/lib/softhsm/libsofthsm2.so"),
    Path("/opt/homebrew/lib/softhsm/libsofthsm2.so"),
    Path("/usr/local/opt/softhsm/lib/softhsm/libsofthsm2.so"),
    Path(r"C:\SoftHSM2\lib\softhsm2-x64.dll"),
)


def default_module_path(platform: str = sys.platform) -> Path:
    """The Cryptolib CPS PKCS#11 module of `platform` (a ``sys.platform`` value).

    Args:
        platform: ``"win32"``, ``"darwin"`` or anything else (Linux and other Unixes).

    Returns:
        The path where the ANS installer puts the module; it may not exist.
    """
    if platform == "win32" or platform == "cygwin":
        return CRYPTOLIB_WINDOWS
    if platform == "darwin":
        return CRYPTOLIB_MACOS
    return CRYPTOLIB_LINUX


def softhsm_module_candidates() -> tuple[Path, ...]:
    """Where SoftHSM2's module is looked for, in order.

    ``$SOFTHSM2_MODULE`` first when it is set, then the usual install paths of Debian/Ubuntu,
    Fedora, Homebrew and the Windows installer.
    """
    env = os.environ.get(SOFTHSM_MODULE_ENV)
    if env:
        return (Path(env), *_SOFTHSM_PATHS)
    return _SOFTHSM_PATHS


def find_softhsm_module() -> Path | None:
    """The first existing SoftHSM2 module of :func:`softhsm_module_candidates`, or None."""
    for candidate in softhsm_module_candidates():
        if candidate.is_file():
            return candidate
    return None


def resolve_module_path(
    configured: str | Path | None = None,
    *,
    sandbox: bool = False,
    platform: str = sys.platform,
) -> Path:
    """The module the console should load.

    Args:
        configured: The path from the settings, used as is when given (even if missing, so
            that the error names what the user configured).
        sandbox: Whether the console talks to the sandbox, whose cards are SoftHSM2 tokens.
        platform: A ``sys.platform`` value.

    Returns:
        `configured`; else SoftHSM2 for the sandbox when it is installed; else the Cryptolib
        CPS of the platform.
    """
    if configured is not None and str(configured).strip():
        return Path(configured)
    if sandbox:
        found = find_softhsm_module()
        if found is not None:
            return found
    return default_module_path(platform)
