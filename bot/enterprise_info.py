"""The linked enterprises' own records (contract 6: name, number, email), read once in a while:
the brand is found by the enterprise's number and the payment state by its email.
"""

from __future__ import annotations

from bot.expiring import Expiring
from contextsms import ContextSMSClient
from contextsms.models import Enterprise
from contextsms.retry import Deadline


class EnterpriseInfo:
    def __init__(self, client: ContextSMSClient, *, ttl: float = 600.0) -> None:
        self.client = client
        self.ttl = ttl
        self._cache: Expiring[Enterprise] = Expiring(ttl)

    async def get(self, enterprise_id: str, limit: Deadline) -> Enterprise:
        """The enterprise (cached for `ttl` seconds); raises ContextSMSError."""
        return await self._cache.get(
            enterprise_id,
            lambda: self.client.get_enterprise(enterprise_id, deadline=limit.remaining()),
        )
