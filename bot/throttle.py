"""Teams' limits on how fast a bot posts, kept before each connector call rather than learnt
from 429s: per conversation at most 7 a second and 60 in 30 s, per tenant 30 a second.

SKELETON (issue 9, part 3 fills it in): the signatures are the contract, see bot/issue9_api.md.
"""

from __future__ import annotations


class SendLimiter:
    async def acquire(self, tenant_id: str | None, conversation_id: str | None) -> None:
        """Wait until one more send to this conversation and tenant keeps within the limits."""
        return None
