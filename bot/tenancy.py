"""Which ContextSMS enterprise a conversation acts on.

One enterprise per deployment for now (from settings); this is the one place that decides, so
that per-tenant enterprises change only this function.
"""

from __future__ import annotations

from bot.conversation import Conversation


class NoEnterprise(Exception):
    """This tenant has no enterprise configured."""


def enterprise_for(conversation: Conversation, configured: str | None) -> str:
    del conversation  # every tenant of this deployment shares the configured enterprise
    if not configured:
        raise NoEnterprise("no enterprise configured")
    return configured
