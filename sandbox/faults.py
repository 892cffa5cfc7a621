"""Fault injection for tests: latency, a share of 500/503 answers, scripted failures.

Off by default. A scripted fault is consumed by the first request it matches; with
`after_handler` the request is served (its change applied) and then the answer is lost, which
is how a client sees a timeout or 5xx that hides a success.
"""

from __future__ import annotations

import random

from pydantic import BaseModel, Field


class ScriptedFault(BaseModel):
    method: str | None = None
    path_prefix: str = ""
    status: int | None = Field(default=None, ge=400, le=599)
    delay_ms: int = Field(default=0, ge=0)
    after_handler: bool = False
    html: bool = False
    retry_after: str | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and path.startswith(
            self.path_prefix
        )


class FaultPlan(BaseModel):
    latency_ms: int = Field(default=0, ge=0)
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: list[int] = Field(default_factory=lambda: [500, 503])
    path_prefix: str = ""
    seed: int | None = None
    script: list[ScriptedFault] = Field(default_factory=list)


class Faults:
    def __init__(self, plan: FaultPlan | None = None) -> None:
        self.set(plan or FaultPlan())

    def set(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._rng = random.Random(plan.seed)

    def take(self, method: str, path: str) -> ScriptedFault | None:
        """The fault for this request, if any: a scripted one first, then a random one."""
        for index, fault in enumerate(self.plan.script):
            if fault.matches(method, path):
                del self.plan.script[index]
                return fault
        if not path.startswith(self.plan.path_prefix):
            return None
        if self.plan.error_rate and self._rng.random() < self.plan.error_rate:
            return ScriptedFault(
                status=self._rng.choice(self.plan.error_statuses), delay_ms=self.plan.latency_ms
            )
        if self.plan.latency_ms:
            return ScriptedFault(delay_ms=self.plan.latency_ms)
        return None
