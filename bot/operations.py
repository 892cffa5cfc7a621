"""What the reseller's operators do: list the CSP's enterprises with their links, create an
enterprise, invite a customer with a setup code, remove a link. From chat (bot/handlers.py)
or the command line (bot/admin.py); both go through here, so both are checked and audited
the same way.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from bot.audit import Audit, tenant_key
from bot.commands import name_problem
from bot.conversation import Person
from bot.storage.models import AuditAction, Link
from bot.tenancy import IssuedCode, Tenancy
from contextsms.client import ContextSMSClient
from contextsms.errors import ApiError, ContextSMSError, NotFound, PermissionDenied
from contextsms.models import Enterprise, EnterpriseCreate
from contextsms.phone import E164_HINT, InvalidPhoneNumber, normalize

EMAIL_LIMIT = 254  # RFC 5321's longest address
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s.]+$")


@dataclass(frozen=True)
class EnterpriseLinks:
    enterprise: Enterprise
    links: tuple[Link, ...]


@dataclass(frozen=True)
class FieldProblem:
    field: str  # "name", "contact", "number", "email"
    problem: str

    def __str__(self) -> str:
        return f"{self.field}: {self.problem}"


class InvalidEnterpriseForm(ValueError):
    """One or more fields of a new enterprise cannot be used; each problem names its field."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = tuple(problems)


def enterprise_form(
    *, name: str, contact: str, number: str, email: str, region: str = "US"
) -> EnterpriseCreate:
    """A new enterprise from what an operator typed: the number put into E.164 (national
    numbers read in `region`). Raises InvalidEnterpriseForm naming every bad field."""
    problems: list[FieldProblem] = []
    for field_name, value in (("name", name), ("contact", contact)):
        problem = _text_problem(value)
        if problem:
            problems.append(FieldProblem(field_name, problem))
    e164 = ""
    try:
        e164 = normalize(number, region)
    except InvalidPhoneNumber as exc:
        problems.append(FieldProblem("number", f"{exc.reason} (expected {E164_HINT})"))
    problem = _email_problem(email.strip())
    if problem:
        problems.append(FieldProblem("email", problem))
    if problems:
        raise InvalidEnterpriseForm(problems)
    return EnterpriseCreate(
        name=name.strip(), contact=contact.strip(), number=e164, email=email.strip()
    )


def _text_problem(value: str) -> str | None:
    if not value.strip():
        return "it is empty"
    return name_problem(value.strip())


def _email_problem(email: str) -> str | None:
    if not email:
        return "it is empty"
    if len(email) > EMAIL_LIMIT:
        return f"it is {len(email)} characters long; an address is at most {EMAIL_LIMIT}"
    if any(unicodedata.category(c).startswith("C") for c in email) or not _EMAIL.match(email):
        return "it is not an email address such as name@example.com"
    return None


class Operations:
    def __init__(
        self, client: ContextSMSClient, tenancy: Tenancy, audit: Audit, *, region: str = "US"
    ) -> None:
        self.client = client
        self.tenancy = tenancy
        self.audit = audit
        self.region = region

    async def enterprises(self, *, deadline: float | None = None) -> list[EnterpriseLinks]:
        """The CSP's enterprises, each with the tenants and teams linked to it."""
        enterprises = await self.client.list_enterprises(deadline=deadline)
        links = await self.tenancy.links()
        return [
            EnterpriseLinks(
                e, tuple(link for link in links if link.enterprise_id == e.enterprise_id)
            )
            for e in enterprises
        ]

    async def new_enterprise(
        self, form: EnterpriseCreate, *, by: Person | None, deadline: float | None = None
    ) -> Enterprise:
        """Create an enterprise in the CSP. The form is checked again here (a form built
        without `enterprise_form` could carry an empty name) before any call."""
        checked = enterprise_form(
            name=form.name,
            contact=form.contact,
            number=form.number,
            email=form.email,
            region=self.region,
        )
        try:
            created = await self.client.create_enterprise(checked, deadline=deadline)
        except ContextSMSError as exc:
            await self.audit.record(
                AuditAction.ENTERPRISE_CREATED,
                "unknown" if exc.outcome_unknown else "failed",
                by=by,
                after=checked.name,
                request_id=exc.request_id if isinstance(exc, ApiError) else None,
            )
            raise
        await self.audit.record(
            AuditAction.ENTERPRISE_CREATED,
            "ok",
            by=by,
            enterprise_id=created.enterprise_id,
            after=created.name,
        )
        return created

    async def invite(
        self,
        enterprise_id: str,
        *,
        by: Person,
        team_scoped: bool = False,
        for_tenant: str | None = None,
        deadline: float | None = None,
    ) -> IssuedCode:
        """A setup code for an enterprise of this CSP (NotFound when it is not one, or is
        deleted). The code is in the result only: show it to the operator, once."""
        enterprise = await self.enterprise(enterprise_id, deadline=deadline)
        return await self.tenancy.issue_code(
            enterprise.enterprise_id, by=by, team_scoped=team_scoped, for_tenant=for_tenant
        )

    async def enterprise(self, enterprise_id: str, *, deadline: float | None = None) -> Enterprise:
        """An enterprise of this CSP; NotFound otherwise (another CSP's is as unknown here as
        one that does not exist)."""
        try:
            enterprise = await self.client.get_enterprise(enterprise_id, deadline=deadline)
        except PermissionDenied as exc:
            raise NotFound(
                f"enterprise {enterprise_id!r} is not one of this CSP's",
                status=exc.status,
                request_id=exc.request_id,
                method=exc.method,
                path=exc.path,
            ) from None
        if enterprise.deleted:
            raise NotFound(f"enterprise {enterprise_id!r} is deleted", status=404)
        return enterprise

    async def unlink(self, target: str, *, by: Person | None) -> list[Link]:
        """Remove the link of a tenant (its tenant link; its teams' links stay) or of a team;
        the links removed, [] when the target has none."""
        target = target.strip()
        links = await self.tenancy.links()
        tenant = tenant_key(target)
        matches = [link for link in links if link.team_id is None and link.tenant_id == tenant]
        if not matches:
            # Teams' thread ids are mixed case; people retype them as they see fit.
            matches = [link for link in links if (link.team_id or "").lower() == target.lower()]
        removed: list[Link] = []
        for link in matches:
            gone = await self.tenancy.unlink(link.tenant_id, link.team_id, by=by)
            if gone is not None:
                removed.append(gone)
        return removed

    async def links(self) -> list[Link]:
        return await self.tenancy.links()
