"""Settings of a sandbox instance (all overridable by tests and by `dmp-sandbox serve`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Settings:
    base_url: str = "http://127.0.0.1:8470"
    """Absolute base of the links the server writes (paging ``next`` links, Location)."""
    max_body_bytes: int = 20 * 1024 * 1024
    """Largest request body accepted (413 beyond)."""
    professional_token_ttl_s: int = 8 * 3600
    patient_token_ttl_s: int = 3600
    bris_de_glace_minutes: int = 60
    """A bris de glace token never outlives this, whatever patient_token_ttl_s says."""
    challenge_ttl_s: int = 120
    ciba_expires_s: int = 120
    ciba_interval_s: int = 2
    page_default: int = 50
    page_max: int = 1000
