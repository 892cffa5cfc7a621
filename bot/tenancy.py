"""Which ContextSMS enterprise a conversation acts on, and how a tenant comes to have one.

A tenant (or one team of it) is linked to one enterprise. Links are made in two ways only: at
start for a single-organization deployment (its tenant and enterprise named in settings), and
by a customer's admin typing a one-time setup code an operator issued. Every link made or
removed is recorded in the audit trail.

Setup codes are ten Crockford base32 characters (50 bits from `secrets`), shown as
XXXXX-XXXXX: no I, L, O or U to misread, typed in any case with or without the dash, and the
look-alikes (O for 0, I and L for 1) read as the digit. `setup` takes the first word of what
was typed that has a code's shape, so "setup code ABCDE-12345 please" reads the code. Only an
HMAC of the normalised code is stored; the code itself is shown once to the operator and never
logged or audited.

Wrong codes lock a tenant out after MAX_FAILED_SETUPS in an hour, across instances and however
many attempts arrive at once: each attempt is recorded as a failure before its code is checked,
then the tenant's failures are counted with it included, and only an attempt within the limit is
checked. An attempt that turns out not to be a failure (it linked, or it was refused as locked
or as the tenant's own used code) is forgotten again.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from itertools import pairwise

from bot.audit import Audit, Clock, tenant_key, utc_now
from bot.conversation import Conversation, Person
from bot.logs import event
from bot.settings import Settings
from bot.storage.base import Storage
from bot.storage.models import AuditAction, Link, SetupCode, TeamSettings

log = logging.getLogger("bot.tenancy")

CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32
CODE_LENGTH = 10  # 50 bits
_LOOK_ALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
_SEPARATORS = str.maketrans("", "", "-_ \t\u00a0")

MAX_FAILED_SETUPS = 5
FAILED_SETUP_WINDOW = timedelta(hours=1)
SETTINGS_ACTOR = "settings"


class NoTenant(Exception):
    """The activity carries no tenant: nothing may change."""


@dataclass(frozen=True)
class IssuedCode:
    code: str  # XXXXX-XXXXX: show it once, to the operator who asked, and nowhere else
    enterprise_id: str
    expires_at: datetime
    team_scoped: bool
    for_tenant: str | None = None


@dataclass(frozen=True)
class Linked:
    link: Link
    previous: Link | None


class SetupProblem(StrEnum):
    WRONG = "wrong"  # no such code
    USED = "used"  # already used by another organization
    USED_HERE = "used_here"  # already used by this organization: not counted as a failure
    EXPIRED = "expired"
    FOREIGN = "foreign"  # issued for another tenant
    LOCKED = "locked"  # too many failures in the last hour: refused, the right code too
    NEEDS_TEAM = "needs_team"  # links a team, typed outside one


@dataclass(frozen=True)
class SetupRefused:
    problem: SetupProblem


def setup_code_key(signing_key: bytes) -> bytes:
    """The key setup codes are hashed under, derived from the deployment's signing key
    (`Settings.signing_key()`), so that the bot and `python -m bot.admin` agree on it and it
    differs from the card signatures' key."""
    return hmac.new(signing_key, b"contextsms-teams setup codes", hashlib.sha256).digest()


def tenancy_from_settings(
    settings: Settings, storage: Storage, audit: Audit, *, clock: Clock = utc_now
) -> Tenancy:
    """The deployment's Tenancy, as the bot and `python -m bot.admin` both build it (the same
    code key and expiry, or a code issued by one would be wrong for the other)."""
    return Tenancy(
        storage,
        audit,
        setup_code_key(settings.signing_key()),
        code_ttl=timedelta(hours=settings.bot.bot_setup_code_ttl_hours),
        clock=clock,
    )


def normalise_code(typed: str) -> str | None:
    """The code's canonical form (ten characters of the alphabet), or None when what was typed
    cannot be a code."""
    candidate = typed.translate(_SEPARATORS).upper().translate(_LOOK_ALIKES)
    if len(candidate) != CODE_LENGTH or any(c not in CODE_ALPHABET for c in candidate):
        return None
    return candidate


_AROUND_A_WORD = "\"'.,;:!?()[]<>`*"


def find_code(typed: str) -> str | None:
    """The code in `typed`, normalised; None when nothing has a code's shape.

    A code is ten characters of the alphabet, dash optional, or read aloud as two words of
    five ("7KQ2M XH4PD", "7KQ2M - XH4PD"). Words of ten letters ("invitation", which reads as
    1NV1TAT10N) have the shape too, so a candidate with a dash or a digit, as nearly every code
    has, is taken first: a stray word must not cost one of the tenant's five attempts.
    """
    words = [w for w in (word.strip(_AROUND_A_WORD) for word in typed.split()) if w]
    half = CODE_LENGTH // 2
    spoken = [a + b for a, b in pairwise(words) if len(a) == len(b) == half]
    spoken += [a + c for a, b, c in zip(words, words[1:], words[2:], strict=False) if b == "-"]
    found = [(c, code) for c in (*words, *spoken) if (code := normalise_code(c)) is not None]
    likely = [code for c, code in found if "-" in c or any(ch.isdigit() for ch in c)]
    return next(iter(likely or [code for _, code in found]), None)


def shown_code(normalised: str) -> str:
    return f"{normalised[:5]}-{normalised[5:]}"


class Tenancy:
    def __init__(
        self,
        storage: Storage,
        audit: Audit,
        key: bytes,
        *,
        code_ttl: timedelta = timedelta(hours=72),
        clock: Clock = utc_now,
    ) -> None:
        if len(key) < 16:
            raise ValueError("the setup code key must be at least 16 bytes")
        self.storage = storage
        self.audit = audit
        self._key = key
        self.code_ttl = code_ttl
        self.clock = clock

    # -- which enterprise --------------------------------------------------------------------

    async def link_of(self, conversation: Conversation) -> Link | None:
        """The link the conversation acts under: its team's if the team has one, else its
        tenant's; None when neither is linked. Raises NoTenant without a tenant."""
        tenant = self._tenant_of(conversation)
        return await self.storage.link_for(tenant, conversation.team_id)

    async def link_from_settings(self, tenant_id: str, enterprise_id: str) -> Link:
        """The single-organization link named in settings, made at start; recorded in the
        audit trail when it is new or changed, not at every restart."""
        tenant = tenant_key(tenant_id)
        existing = await self.storage.link_for(tenant, None)
        if existing is not None and existing.enterprise_id == enterprise_id:
            return existing
        link = Link(tenant, None, enterprise_id, self.clock(), SETTINGS_ACTOR)
        previous = await self.storage.put_link(link)
        await self.audit.record(
            AuditAction.LINK,
            "ok",
            actor_name=SETTINGS_ACTOR,
            tenant_id=tenant,
            enterprise_id=enterprise_id,
            before=previous.enterprise_id if previous else None,
            after=enterprise_id,
        )
        event(log, "linked_from_settings", {"tenant": tenant, "enterprise": enterprise_id})
        return link

    async def links(self) -> list[Link]:
        return await self.storage.links()

    # -- setup codes -------------------------------------------------------------------------

    async def issue_code(
        self,
        enterprise_id: str,
        *,
        by: Person,
        team_scoped: bool = False,
        for_tenant: str | None = None,
    ) -> IssuedCode:
        """A new one-time code linking to `enterprise_id` (the caller has checked that the
        enterprise exists). Only its hash is stored; the code is in the result only."""
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        now = self.clock()
        tenant = tenant_key(for_tenant) if for_tenant else None
        record = SetupCode(
            code_hash=self._hash(code),
            enterprise_id=enterprise_id,
            created_at=now,
            expires_at=now + self.code_ttl,
            created_by=by.object_id,
            team_scoped=team_scoped,
            for_tenant=tenant,
        )
        await self.storage.add_code(record)
        scope = "a team" if team_scoped else "a tenant"
        until = f"{record.expires_at:%Y-%m-%d %H:%M} UTC"
        await self.audit.record(
            AuditAction.CODE_ISSUED,
            "ok",
            by=by,
            tenant_id=tenant,
            enterprise_id=enterprise_id,
            after=f"code {_reference(record)} links {scope}, until {until}",
        )
        return IssuedCode(shown_code(code), enterprise_id, record.expires_at, team_scoped, tenant)

    async def setup(self, conversation: Conversation, typed_code: str) -> Linked | SetupRefused:
        """Link the conversation's tenant (or team, for a team-scoped code) with the first
        code in `typed_code`. Every attempt counts towards the lock but a success, the tenant's
        own used code, one refused as locked and text without a code in it; while locked, even
        the right code is refused. Of two people using one code at once, exactly one links."""
        tenant = self._tenant_of(conversation)
        normalised = find_code(typed_code)
        if normalised is None:  # nothing was tried that could be a code: nothing to count
            return await self._refused(conversation, SetupProblem.WRONG, None)
        now = self.clock()
        attempt = await self.storage.record_failed_setup(tenant, now)
        failures = await self.storage.failed_setups(tenant, now - FAILED_SETUP_WINDOW)
        if failures > MAX_FAILED_SETUPS:
            # Forgotten: the lock ends an hour after the burst that caused it, however often
            # someone tries meanwhile.
            await self.storage.forget_failed_setup(tenant, attempt)
            return await self._refused(conversation, SetupProblem.LOCKED, None)
        code_hash = self._hash(normalised)
        code = await self.storage.code(code_hash)
        problem = self._problem(code, conversation, now)
        claimed = None if problem else await self.storage.claim_code(code_hash, tenant, now)
        if claimed is None:
            if problem is None:  # claimed by someone else, or expired, since the look-up
                code = await self.storage.code(code_hash)
                problem = self._problem(code, conversation, self.clock()) or SetupProblem.USED
            if problem is SetupProblem.USED_HERE:
                await self.storage.forget_failed_setup(tenant, attempt)
            return await self._refused(conversation, problem, code)
        await self.storage.forget_failed_setup(tenant, attempt)
        team = conversation.team_id if claimed.team_scoped else None
        link = Link(tenant, team, claimed.enterprise_id, now, _actor_id(conversation))
        previous = await self.storage.put_link(link)
        await self.audit.record(
            AuditAction.CODE_USED,
            "ok",
            conversation=conversation,
            enterprise_id=claimed.enterprise_id,
            after=f"code {_reference(claimed)} linked {'this team' if team else 'the tenant'}",
        )
        await self.audit.record(
            AuditAction.LINK,
            "ok",
            conversation=conversation,
            enterprise_id=claimed.enterprise_id,
            before=previous.enterprise_id if previous else None,
            after=claimed.enterprise_id,
        )
        event(
            log,
            "linked_with_code",
            {"tenant": tenant, "team": team, "enterprise": claimed.enterprise_id},
        )
        return Linked(link, previous)

    def _problem(
        self, code: SetupCode | None, conversation: Conversation, now: datetime
    ) -> SetupProblem | None:
        tenant = self._tenant_of(conversation)
        if code is None:
            return SetupProblem.WRONG
        if code.for_tenant is not None and tenant_key(code.for_tenant) != tenant:
            # Before used or expired: another tenant learns nothing about the code's state.
            return SetupProblem.FOREIGN
        if code.used_at is not None:
            return SetupProblem.USED_HERE if code.used_by_tenant == tenant else SetupProblem.USED
        if code.expires_at <= now:
            return SetupProblem.EXPIRED
        if code.team_scoped and not conversation.team_id:
            return SetupProblem.NEEDS_TEAM
        return None

    async def _refused(
        self, conversation: Conversation, problem: SetupProblem, code: SetupCode | None
    ) -> SetupRefused:
        tenant = self._tenant_of(conversation)
        await self.audit.record(
            AuditAction.SETUP_FAILED,
            problem.value,
            conversation=conversation,
            enterprise_id=code.enterprise_id
            if code and problem is not SetupProblem.FOREIGN
            else None,
        )
        event(log, "setup_refused", {"tenant": tenant, "problem": problem.value})
        return SetupRefused(problem)

    # -- changing links ----------------------------------------------------------------------

    async def unlink(
        self, tenant_id: str, team_id: str | None, *, by: Person | None
    ) -> Link | None:
        """Remove the link of exactly this tenant (team_id None) or team; the removed link, or
        None when there was none (then nothing is recorded)."""
        tenant = tenant_key(tenant_id)
        removed = await self.storage.remove_link(tenant, team_id)
        if removed is not None:
            await self.audit.record(
                AuditAction.UNLINK,
                "ok",
                by=by,
                tenant_id=tenant,
                team_id=team_id,
                enterprise_id=removed.enterprise_id,
                before=removed.enterprise_id,
            )
            event(log, "unlinked", {"tenant": tenant, "team": team_id})
        return removed

    async def set_members_may_change(
        self, conversation: Conversation, value: bool, *, enterprise_id: str | None = None
    ) -> TeamSettings:
        """Let every member of the conversation's team change its mappings, or only its owners
        again. The team's own option, whichever link it acts on: no other team's, and the link
        itself is not rewritten. Recorded with the team and channel, so the team's `history`
        shows it. Raises ValueError outside a team (the caller checks first)."""
        tenant = self._tenant_of(conversation)
        if not conversation.team_id:
            raise ValueError("a team's option is set in a team")
        changed = TeamSettings(
            tenant, conversation.team_id, value, self.clock(), _actor_id(conversation)
        )
        previous = await self.storage.put_team_settings(changed)
        await self.audit.record(
            AuditAction.SETTINGS_CHANGED,
            "ok",
            conversation=conversation,
            enterprise_id=enterprise_id,
            before=_members_may_change(previous is not None and previous.members_may_change),
            after=_members_may_change(value),
        )
        event(log, "team_settings_changed", {"tenant": tenant, "members_may_change": value})
        return changed

    async def members_may_change(self, conversation: Conversation) -> bool:
        """Whether every member of the conversation's team may change its mappings (False
        outside a team, and until an owner or operator says so)."""
        tenant = self._tenant_of(conversation)
        if not conversation.team_id:
            return False
        found = await self.storage.team_settings(tenant, conversation.team_id)
        return found is not None and found.members_may_change

    # -- internals ---------------------------------------------------------------------------

    def _tenant_of(self, conversation: Conversation) -> str:
        if not conversation.tenant_id or not conversation.tenant_id.strip():
            raise NoTenant("the activity carries no tenant")
        return tenant_key(conversation.tenant_id)

    def _hash(self, normalised: str) -> str:
        return hmac.new(self._key, normalised.encode(), hashlib.sha256).hexdigest()


def _reference(code: SetupCode) -> str:
    """A short reference that ties a code's use to its issue in the audit trail; from the
    HMAC, so it says nothing about the code itself."""
    return code.code_hash[:8]


def _actor_id(conversation: Conversation) -> str:
    return conversation.user.object_id if conversation.user else ""


def _members_may_change(value: bool) -> str:
    return "every member may change mappings" if value else "owners change mappings"
