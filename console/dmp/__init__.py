"""The DMP adapter: the async httpx client of the DMP FHIR API and the FHIR -> domain mapping.

Public surface: :class:`HttpDmpGateway` (implements ``console.services.ports.DmpGateway``) and
:class:`DocumentPage`; errors are those of :mod:`console.domain.errors`.
"""

from __future__ import annotations

from console.dmp.client import DocumentPage, HttpDmpGateway

__all__ = ["DocumentPage", "HttpDmpGateway"]
