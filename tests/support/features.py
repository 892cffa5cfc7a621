"""The issue-9 collaborators of a MappingBot built by hand (the app builds them in app.py):
the brand and payment state read from the sandbox, bulk runs kept in the test's storage, and
no notices (a behaviour test has no Teams to post to; the glue's tests send them)."""

from __future__ import annotations

from typing import Any

from bot.audit import Audit
from bot.branding import Brand, Branding
from bot.bulk import BulkMapper
from bot.enterprise_info import EnterpriseInfo
from bot.handlers import MappingBot
from bot.mappings import MappingService
from bot.notices import NoNotices
from bot.payment import PaymentGate
from bot.storage.base import Storage
from contextsms import ContextSMSClient


def new_features(client: ContextSMSClient, storage: Storage, audit: Audit) -> dict[str, Any]:
    info = EnterpriseInfo(client)
    branding = Branding(client, info, Brand())
    payments = PaymentGate(client, info)
    notices = NoNotices()
    bulk = BulkMapper(MappingService(client), client, storage, payments, audit, notices, branding)
    return {"branding": branding, "payments": payments, "notices": notices, "bulk": bulk}


def bot_features(bot: MappingBot) -> dict[str, Any]:
    """The same collaborators as `bot`'s, for another bot over the same world."""
    return {
        "branding": bot.branding, "payments": bot.payments, "notices": bot.notices,
        "bulk": bot.bulk.mapper,
    }  # fmt: skip
