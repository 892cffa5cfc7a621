"""Whether a linked enterprise may map and move numbers: its subscription is active (contract
15, POST /stripe/check-payment with the enterprise's email), cached briefly.

SKELETON (issue 9, part 1 fills it in): the signatures are the contract, see bot/issue9_api.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.enterprise_info import EnterpriseInfo
from bot.settings import PaymentCheckFailure
from contextsms import ContextSMSClient
from contextsms.retry import Deadline


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

    async def check(self, enterprise_id: str, limit: Deadline) -> PaymentAnswer:
        return Paid()
