"""Whether a linked enterprise may map and move numbers: its subscription is active (contract
15, POST /stripe/check-payment with the enterprise's email), cached briefly."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import assert_never

from bot.enterprise_info import EnterpriseInfo
from bot.expiring import Expiring
from bot.settings import PaymentCheckFailure
from contextsms import ContextSMSClient
from contextsms.errors import ContextSMSError
from contextsms.retry import Deadline

log = logging.getLogger("bot.payment")


@dataclass(frozen=True)
class Paid:
    pass


@dataclass(frozen=True)
class Unpaid:
    status: str  # the platform's subscriptionStatus ("canceled", "past_due", "none", ...)


@dataclass(frozen=True)
class PaymentUnknown:
    """The check failed and the deployment refuses changes then (BOT_PAYMENT_CHECK_FAILURE)."""

    reason: str


PaymentAnswer = Paid | Unpaid | PaymentUnknown


class NoEmail(Exception):
    """The enterprise has no email, so its subscription cannot be looked up."""


class PaymentGate:
    def __init__(
        self, client: ContextSMSClient, info: EnterpriseInfo, *, enabled: bool = True,
        on_failure: PaymentCheckFailure = PaymentCheckFailure.ALLOW, ttl: float = 60.0,
    ) -> None:  # fmt: skip
        self.client = client
        self.info = info
        self.enabled = enabled
        self.on_failure = on_failure
        self.ttl = ttl
        # Only the platform's answers are kept: a failed check is tried again next time.
        self._cache: Expiring[Paid | Unpaid] = Expiring(ttl)

    async def check(self, enterprise_id: str, limit: Deadline) -> PaymentAnswer:
        if not self.enabled:
            return Paid()
        try:
            return await self._cache.get(enterprise_id, lambda: self._read(enterprise_id, limit))
        except (ContextSMSError, NoEmail) as exc:
            # The kind of failure only: the enterprise's email is nobody's business in a log.
            reason = "the enterprise has no email" if isinstance(exc, NoEmail) else (
                f"the check failed ({type(exc).__name__})"
            )  # fmt: skip
        match self.on_failure:
            case PaymentCheckFailure.ALLOW:
                log.warning(
                    "payment of enterprise %r not checked: %s; change allowed (the platform "
                    "bills it too)", enterprise_id, reason,
                )  # fmt: skip
                return Paid()
            case PaymentCheckFailure.REFUSE:
                return PaymentUnknown(reason)
            case _:
                assert_never(self.on_failure)

    async def _read(self, enterprise_id: str, limit: Deadline) -> Paid | Unpaid:
        enterprise = await self.info.get(enterprise_id, limit)
        if not enterprise.email:
            raise NoEmail(enterprise_id)
        answer = await self.client.check_payment(enterprise.email, deadline=limit.remaining())
        return Paid() if answer.paid else Unpaid(answer.subscription_status or "none")
