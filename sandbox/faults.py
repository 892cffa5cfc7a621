"""Fault injection for tests: latency, a share of error answers, scripted failures.

Off by default. A scripted fault is consumed by the first request it matches; with
`after_handler` the request is served (its change applied) and then the answer is lost or
replaced by the fault's status, which is how a client sees a timeout or 5xx that hides a success.

A plan is checked whole before it replaces the current one: a status the server could not
answer with (200, 499) would otherwise break the requests it meets, long after the PUT.
"""

from __future__ import annotations

import random
from http import HTTPStatus
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

MAX_DELAY_MS = 600_000
ERROR_STATUSES = frozenset(status.value for status in HTTPStatus if 400 <= status.value <= 599)


def error_status(status: int) -> int:
    if status not in ERROR_STATUSES:
        raise ValueError(f"{status} is not an HTTP error status (400-599, a status HTTP defines)")
    return status


ErrorStatus = Annotated[int, AfterValidator(error_status)]
DelayMs = Annotated[int, Field(ge=0, le=MAX_DELAY_MS)]


class ScriptedFault(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: str | None = Field(default=None, pattern=r"^[A-Za-z]{1,16}$")
    path_prefix: str = ""
    status: ErrorStatus | None = None
    delay_ms: DelayMs = 0
    after_handler: bool = False
    html: bool = False
    # A header value: printable ASCII, so it cannot split the answer's headers.
    retry_after: str | None = Field(default=None, pattern=r"^[ -~]{1,64}$")

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method.upper() == method) and path.startswith(
            self.path_prefix
        )


class FaultPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    latency_ms: DelayMs = 0
    error_rate: float = Field(default=0.0, ge=0, le=1)
    error_statuses: list[ErrorStatus] = Field(default_factory=lambda: [500, 503], min_length=1)
    path_prefix: str = ""
    seed: int | None = None
    script: list[ScriptedFault] = Field(default_factory=list)


class InvalidPlan(ValueError):
    """What is wrong with a plan, one `field: problem` per fault, for the person who sent it."""


def parse_plan(body: object) -> FaultPlan:
    try:
        return FaultPlan.model_validate(body)
    except ValidationError as exc:
        problems = [
            f"{'.'.join(str(part) for part in error['loc']) or 'plan'}: "
            f"{str(error['msg']).removeprefix('Value error, ')}"
            for error in exc.errors(include_input=False, include_url=False)
        ]
        raise InvalidPlan("; ".join(problems)) from None


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
