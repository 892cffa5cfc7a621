"""A linked enterprise's brand: its CSP's product name, logo and colour (contract 4,
GET /csp/getcspconfig for the enterprise's number), cached per enterprise. The deployment's
own brand wherever that cannot be had; a failed read is logged, never shown.

SKELETON (issue 9, part 1 fills it in): the signatures are the contract, see bot/issue9_api.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.enterprise_info import EnterpriseInfo
from contextsms import ContextSMSClient

# The colours Adaptive Cards let a host theme: a CSP's hex colour is shown as the nearest.
BrandColor = Literal["default", "accent", "good", "warning", "attention"]


@dataclass(frozen=True)
class Brand:
    product: str = "ContextSMS"
    logo_url: str | None = None  # https only; None when the CSP has none usable
    color: BrandColor = "accent"


class Branding:
    """Brands of linked enterprises (see bot/issue9_api.md)."""

    def __init__(
        self, client: ContextSMSClient, info: EnterpriseInfo, default: Brand, *, ttl: float = 600.0
    ) -> None:
        self.client = client
        self.info = info
        self.default = default
        self.ttl = ttl

    async def brand_of(self, enterprise_id: str | None) -> Brand:
        """The enterprise's brand; the default for None, and whenever it cannot be read."""
        return self.default
