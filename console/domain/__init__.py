"""Pure domain: models, INS checks, DMP access rules. Imports no Qt, httpx, sqlcipher3 or pkcs11."""

from __future__ import annotations
