"""Who may change a team's mappings: the reseller's operators, the team's owners (from
Microsoft Graph), and every member where that team's own option says so (never another team's,
never a tenant-wide flag). Reading needs no permission here.

An answer Graph could not give is `CannotTell`, which refuses the change: nobody is allowed by
default. Graph's answers are kept for a few minutes per tenant, team and person in the storage,
so that every instance of the bot shares them and a busy team costs Graph one call per person.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from bot.audit import Clock, tenant_key, utc_now
from bot.conversation import Conversation, TeamDirectory
from bot.graph import GraphClient, GraphUnavailable
from bot.logs import event
from bot.storage.base import Storage
from bot.storage.models import CachedRole

log = logging.getLogger("bot.permissions")

AN_OWNER = "an owner of this team"


class Role(StrEnum):
    OPERATOR = "operator"
    OWNER = "owner"
    MEMBER = "member"


@dataclass(frozen=True)
class Allowed:
    role: Role


@dataclass(frozen=True)
class NotAllowed:
    who_can: str  # e.g. "an owner of this team", to finish "Only ... can change this."


@dataclass(frozen=True)
class CannotTell:
    reason: str  # why ownership could not be checked (Graph or its token); no secrets, no ids


class Permissions:
    def __init__(
        self,
        graph: GraphClient,
        storage: Storage,
        operators: frozenset[tuple[str, str]],
        *,
        cache_seconds: float = 300,
        clock: Clock = utc_now,
    ) -> None:
        """`operators`: (tenant id, Entra object id) pairs, as `BotSettings.operators()`."""
        self._graph = graph
        self._storage = storage
        self._operators = frozenset((t.lower(), u.lower()) for t, u in operators)
        self._cache = timedelta(seconds=cache_seconds)
        self._clock = clock

    def is_operator(self, conversation: Conversation) -> bool:
        user, tenant = conversation.user, conversation.tenant_id
        if user is None or not user.object_id or not tenant:
            return False
        return (tenant.lower(), user.object_id.lower()) in self._operators

    async def may_change(
        self, conversation: Conversation, directory: TeamDirectory, *, owners_only: bool = False
    ) -> Allowed | NotAllowed | CannotTell:
        """May this person change the conversation's team: an operator, an owner of the team,
        or (unless `owners_only`) any member where the team's own option lets every member."""
        if self.is_operator(conversation):
            return Allowed(Role.OPERATOR)
        user, tenant = conversation.user, conversation.tenant_id
        if user is None or not user.object_id or not tenant:
            return NotAllowed(AN_OWNER)
        try:
            group = await directory.group_id()
        except Exception as exc:  # the glue asks Teams (TeamsInfo), which fails in many ways
            return self._cannot_tell(f"Teams did not say which team this is ({type(exc).__name__})")
        if group is None or not conversation.team_id:  # not a team: nobody owns it
            return NotAllowed(AN_OWNER)
        try:
            roles = await self._roles(tenant, group, user.object_id)
        except GraphUnavailable as exc:
            return self._cannot_tell(str(exc))
        if roles is None:  # Graph does not list them in this team
            return NotAllowed(AN_OWNER)
        kinds = {role.lower() for role in roles}
        if "owner" in kinds:
            return Allowed(Role.OWNER)
        # A guest is in the team but from another organization: "every member" means the
        # organization's own people.
        if owners_only or "guest" in kinds:
            return NotAllowed(AN_OWNER)
        try:
            settings = await self._storage.team_settings(tenant_key(tenant), conversation.team_id)
        except Exception as exc:  # the storage's errors are backend-specific; never allowed
            return self._cannot_tell(
                f"the team's settings could not be read ({type(exc).__name__})"
            )
        if settings is not None and settings.members_may_change:
            return Allowed(Role.MEMBER)
        return NotAllowed(AN_OWNER)

    async def _roles(self, tenant: str, group: str, user: str) -> tuple[str, ...] | None:
        tenant, group, user = tenant.lower(), group.lower(), user.lower()
        now = self._clock()
        if self._cache > timedelta(0):
            try:
                cached = await self._storage.cached_role(tenant, group, user, now)
            except Exception as exc:  # a storage outage costs a Graph call, not the answer
                self._storage_failed("read", exc)
                cached = None
            if cached is not None:
                return cached.roles
        roles = await self._graph.member_roles(tenant, group, user)
        # "Not a member" is not kept: CachedRole holds roles, and () is an ordinary member.
        if roles is not None and self._cache > timedelta(0):
            try:
                await self._storage.cache_role(
                    CachedRole(tenant, group, user, roles, expires_at=now + self._cache)
                )
            except Exception as exc:
                self._storage_failed("write", exc)
        return roles

    @staticmethod
    def _cannot_tell(reason: str) -> CannotTell:
        event(log, "ownership_unknown", {"reason": reason}, logging.WARNING)
        return CannotTell(reason)

    @staticmethod
    def _storage_failed(what: str, exc: Exception) -> None:
        event(log, "role_cache_failed", {"op": what, "error": type(exc).__name__},
              logging.WARNING)  # fmt: skip
