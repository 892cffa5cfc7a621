"""Storage in Azure Table Storage (or Cosmos DB's Table API, the same protocol), for several
bot instances behind a load balancer.

Tables `{prefix}{Kind}`, keys laid out for the queries the bot makes:
- Links: partition = tenant, row = team (or `!tenant` for the tenant's own link): a turn's
  lookup is two point reads in one partition. TeamSettings: the same keys, a team's options.
- Codes: partition = code hash. Claimed with an ETag-conditional update: of two claimers who
  read the same unused code, the second one's write fails (412) and it reads the code again,
  now used.
- Failures and Audit: partition = tenant, row = the entry id inverted (newest first), so a
  team's history or a tenant's failed attempts since a time are one range scan that starts
  at the newest. Entries are inserted, never upserted: an id taken by another instance in the
  same millisecond fails the insert and a new id is drawn, so nothing is overwritten.
- References: partition = conversation id. Roles: partition = tenant and group, row = user.
- BulkRuns: partition = run id; row `run` is the header (tenant, state, ...), claimed with an
  ETag-conditional update as a code is. A run's rows and results are JSON text too long for
  one property (64 KiB) or entity (1 MiB) with 500 rows of long names: they are cut into
  pieces, one entity each (`rows-NNNN`, `results-GGGGGG-NNNN`), written before the header that
  names them. Results are rewritten as a run goes, each time as a new generation, so a reader
  never joins pieces of two writes; the generation replaced is deleted afterwards.

Ids from Teams may hold characters keys cannot (`/ \\ # ?`, control characters): every key is
percent-encoded with `!` in place of `%`, which keeps it readable and one-to-one.
"""

from __future__ import annotations

import heapq
import json
from dataclasses import replace
from datetime import datetime
from types import TracebackType
from typing import Any
from urllib.parse import quote, urlsplit

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableEntity, UpdateMode
from azure.data.tables.aio import TableClient, TableServiceClient

from bot.storage.ids import (
    EntryIds,
    check_entry_id,
    first_id_at,
    from_time_text,
    inverted,
    time_text,
)
from bot.storage.models import (
    AuditAction,
    AuditEntry,
    BulkRun,
    CachedRole,
    ConversationRef,
    Link,
    RunState,
    SetupCode,
    TeamSettings,
    person_from_wire,
    person_wire,
    results_from_json,
    results_json,
    rows_from_json,
    rows_json,
)

KINDS = (
    "Links", "Codes", "Failures", "Audit", "References", "Roles", "TeamSettings", "BulkRuns",
)  # fmt: skip
_TENANT_LINK = "!tenant"  # row of a tenant's own link: no encoded team id starts with "!t"
_NO_TENANT = "!none"  # partition of audit entries without a tenant (the CLI, the start-up)
_CODE_ROW = "code"
_REF_ROW = "ref"
_CONDITIONAL_TRIES = 8  # a conditional write lost to another instance is retried this often
_RUN_ROW = "run"
# A piece of a run's JSON, in characters: at most 2 UTF-16 units each (an emoji), so a piece
# stays under a property's 64 KiB however the names are written.
PIECE_CHARS = 15_000
# Pieces written per batch: a transaction holds at most 100 operations and 4 MiB.
_PIECES_PER_BATCH = 50


def key(value: str) -> str:
    """`value` as a partition or row key: only letters, digits, `_.-~` and `!XX` escapes."""
    return quote(value, safe="").replace("%", "!")


def _props(**values: Any) -> dict[str, Any]:
    """Table storage has no null: a missing property is None."""
    return {name: value for name, value in values.items() if value is not None}


def _opt_time(entity: TableEntity, name: str) -> datetime | None:
    value = entity.get(name)
    return None if value is None else from_time_text(value)


def _link_entity(link: Link) -> dict[str, Any]:
    return _props(
        PartitionKey=key(link.tenant_id),
        RowKey=key(link.team_id) if link.team_id else _TENANT_LINK,
        TenantId=link.tenant_id,
        TeamId=link.team_id or None,
        EnterpriseId=link.enterprise_id,
        LinkedAt=time_text(link.linked_at),
        LinkedBy=link.linked_by,
    )


def _link(entity: TableEntity) -> Link:
    return Link(
        tenant_id=entity["TenantId"],
        team_id=entity.get("TeamId"),
        enterprise_id=entity["EnterpriseId"],
        linked_at=from_time_text(entity["LinkedAt"]),
        linked_by=entity["LinkedBy"],
    )


def _team_settings_entity(settings: TeamSettings) -> dict[str, Any]:
    return {
        "PartitionKey": key(settings.tenant_id),
        "RowKey": key(settings.team_id),
        "TenantId": settings.tenant_id,
        "TeamId": settings.team_id,
        "MembersMayChange": settings.members_may_change,
        "ChangedAt": time_text(settings.changed_at),
        "ChangedBy": settings.changed_by,
    }


def _team_settings(entity: TableEntity) -> TeamSettings:
    return TeamSettings(
        tenant_id=entity["TenantId"],
        team_id=entity["TeamId"],
        members_may_change=bool(entity.get("MembersMayChange", False)),
        changed_at=from_time_text(entity["ChangedAt"]),
        changed_by=entity["ChangedBy"],
    )


def _code(entity: TableEntity) -> SetupCode:
    return SetupCode(
        code_hash=entity["CodeHash"],
        enterprise_id=entity["EnterpriseId"],
        created_at=from_time_text(entity["CreatedAt"]),
        expires_at=from_time_text(entity["ExpiresAt"]),
        created_by=entity["CreatedBy"],
        team_scoped=bool(entity.get("TeamScoped", False)),
        for_tenant=entity.get("ForTenant"),
        used_at=_opt_time(entity, "UsedAt"),
        used_by_tenant=entity.get("UsedByTenant"),
    )


def _entry(entity: TableEntity) -> AuditEntry:
    return AuditEntry(
        at=from_time_text(entity["At"]),
        action=AuditAction(entity["Action"]),
        outcome=entity["Outcome"],
        actor_id=entity.get("ActorId"),
        actor_name=entity.get("ActorName"),
        tenant_id=entity.get("TenantId"),
        team_id=entity.get("TeamId"),
        channel_id=entity.get("ChannelId"),
        enterprise_id=entity.get("EnterpriseId"),
        number=entity.get("Number"),
        before=entity.get("Before"),
        after=entity.get("After"),
        request_id=entity.get("RequestId"),
        entry_id=entity["EntryId"],
    )


def _pieces(text: str) -> list[str]:
    return [text[start : start + PIECE_CHARS] for start in range(0, len(text), PIECE_CHARS)] or [""]


def _results_prefix(generation: int) -> str:
    return f"results-{generation:06d}-"


def _etag(entity: TableEntity) -> str:
    return str(entity.metadata["etag"])


class AzureTableStorage:
    """`Storage` in the tables `{prefix}{Kind}` of one account. Takes ownership of `service`
    (and of `credential`, when given): `aclose` closes them. Call `create_tables` once before
    use, or build it with `connect`, which does."""

    def __init__(
        self,
        service: TableServiceClient,
        prefix: str,
        *,
        credential: AsyncTokenCredential | None = None,
    ) -> None:
        self._service = service
        self._credential = credential
        self._prefix = prefix
        self._ids = EntryIds()
        tables = {kind: service.get_table_client(f"{prefix}{kind}") for kind in KINDS}
        self._links = tables["Links"]
        self._codes = tables["Codes"]
        self._failures = tables["Failures"]
        self._audit = tables["Audit"]
        self._refs = tables["References"]
        self._roles = tables["Roles"]
        self._team_settings = tables["TeamSettings"]
        self._runs = tables["BulkRuns"]
        self._tables = tuple(tables.values())
        # Table storage returns a query's rows in key order; Cosmos DB's Table API does not
        # promise any order, so there every match is read and sorted.
        self._rows_in_key_order = "cosmos" not in (urlsplit(service.url).hostname or "")

    @classmethod
    async def connect(
        cls,
        prefix: str,
        *,
        connection_string: str | None = None,
        account_url: str | None = None,
        credential: AsyncTokenCredential | None = None,
    ) -> AzureTableStorage:
        """From a connection string, or an account URL and a token credential (a managed
        identity); creates the tables that are missing."""
        if connection_string:
            service = TableServiceClient.from_connection_string(connection_string)
        elif account_url and credential is not None:
            service = TableServiceClient(account_url, credential=credential)
        else:
            raise ValueError("a connection string, or an account URL and a credential")
        storage = cls(service, prefix, credential=credential)
        try:
            await storage.create_tables()
        except BaseException:
            await storage.aclose()
            raise
        return storage

    async def create_tables(self) -> None:
        for table in self._tables:
            try:
                await self._service.create_table(table.table_name)
            except ResourceExistsError:
                pass

    async def __aenter__(self) -> AzureTableStorage:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    @staticmethod
    async def _get(table: TableClient, partition: str, row: str) -> TableEntity | None:
        try:
            return await table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None

    # -- links ------------------------------------------------------------------------------
    async def link_for(self, tenant_id: str, team_id: str | None) -> Link | None:
        partition = key(tenant_id)
        if team_id:
            entity = await self._get(self._links, partition, key(team_id))
            if entity is not None:
                return _link(entity)
        entity = await self._get(self._links, partition, _TENANT_LINK)
        return None if entity is None else _link(entity)

    async def put_link(self, link: Link) -> Link | None:
        old = await self._replace(self._links, _link_entity(link))
        return None if old is None else _link(old)

    async def _replace(self, table: TableClient, entity: dict[str, Any]) -> TableEntity | None:
        """Write `entity` in place of the one with its keys; returns the one it replaced, read
        and replaced as one step (ETag-conditional) so that the answer is exact."""
        for _ in range(_CONDITIONAL_TRIES):
            old = await self._get(table, entity["PartitionKey"], entity["RowKey"])
            try:
                if old is None:
                    await table.create_entity(entity)
                else:
                    await table.update_entity(
                        entity,
                        mode=UpdateMode.REPLACE,
                        etag=_etag(old),
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                continue  # another instance changed it between the read and the write
            return old
        raise RuntimeError("the record kept changing under another instance's writes")

    async def remove_link(self, tenant_id: str, team_id: str | None) -> Link | None:
        partition, row = key(tenant_id), key(team_id) if team_id else _TENANT_LINK
        for _ in range(_CONDITIONAL_TRIES):
            old = await self._get(self._links, partition, row)
            if old is None:
                return None
            try:
                await self._links.delete_entity(
                    partition, row, etag=_etag(old), match_condition=MatchConditions.IfNotModified
                )
            except ResourceModifiedError:
                continue
            return _link(old)
        raise RuntimeError("the link kept changing under another instance's writes")

    async def links(self) -> list[Link]:
        found = [_link(entity) async for entity in self._links.list_entities()]
        return sorted(
            found, key=lambda link: (link.team_id is not None, link.tenant_id, link.team_id or "")
        )

    # -- a team's own options ------------------------------------------------------------------
    async def team_settings(self, tenant_id: str, team_id: str) -> TeamSettings | None:
        entity = await self._get(self._team_settings, key(tenant_id), key(team_id))
        return None if entity is None else _team_settings(entity)

    async def put_team_settings(self, settings: TeamSettings) -> TeamSettings | None:
        old = await self._replace(self._team_settings, _team_settings_entity(settings))
        return None if old is None else _team_settings(old)

    # -- setup codes ------------------------------------------------------------------------
    async def add_code(self, code: SetupCode) -> None:
        await self._codes.create_entity(
            _props(
                PartitionKey=key(code.code_hash),
                RowKey=_CODE_ROW,
                CodeHash=code.code_hash,
                EnterpriseId=code.enterprise_id,
                CreatedAt=time_text(code.created_at),
                ExpiresAt=time_text(code.expires_at),
                CreatedBy=code.created_by,
                TeamScoped=code.team_scoped,
                ForTenant=code.for_tenant,
                UsedAt=None if code.used_at is None else time_text(code.used_at),
                UsedByTenant=code.used_by_tenant,
            )
        )

    async def code(self, code_hash: str) -> SetupCode | None:
        entity = await self._get(self._codes, key(code_hash), _CODE_ROW)
        return None if entity is None else _code(entity)

    async def claim_code(self, code_hash: str, tenant_id: str, now: datetime) -> SetupCode | None:
        for _ in range(_CONDITIONAL_TRIES):
            entity = await self._get(self._codes, key(code_hash), _CODE_ROW)
            if entity is None:
                return None
            code = _code(entity)
            if (
                code.used_at is not None
                or code.expires_at <= now
                or (code.for_tenant is not None and code.for_tenant != tenant_id)
            ):
                return None
            claimed = replace(code, used_at=now, used_by_tenant=tenant_id)
            try:
                await self._codes.update_entity(
                    {
                        "PartitionKey": entity["PartitionKey"],
                        "RowKey": _CODE_ROW,
                        "UsedAt": time_text(now),
                        "UsedByTenant": tenant_id,
                    },
                    mode=UpdateMode.MERGE,
                    etag=_etag(entity),
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                continue  # another claim was written first: read the code again
            except ResourceNotFoundError:
                return None
            return claimed
        return None

    async def record_failed_setup(self, tenant_id: str, at: datetime) -> str:
        for _ in range(_CONDITIONAL_TRIES):
            row = inverted(self._ids.new(at))
            try:
                await self._failures.create_entity(
                    {"PartitionKey": key(tenant_id), "RowKey": row, "At": time_text(at)}
                )
            except ResourceExistsError:
                continue
            return row
        raise RuntimeError("could not find a free row for a failed setup")

    async def forget_failed_setup(self, tenant_id: str, attempt_id: str) -> None:
        try:
            row = check_entry_id(attempt_id)  # an inverted id is made of the same characters
        except ValueError:
            return  # not one of ours: nothing of ours to forget
        # Deleting what is not there succeeds: the SDK treats 404 on delete as done.
        await self._failures.delete_entity(key(tenant_id), row)

    async def failed_setups(self, tenant_id: str, since: datetime) -> int:
        entities = self._failures.query_entities(
            "PartitionKey eq @partition and RowKey le @last and At ge @since",
            parameters={
                "partition": key(tenant_id),
                "last": inverted(first_id_at(since)),
                "since": time_text(since),
            },
            select=["RowKey"],
        )
        return sum([1 async for _ in entities])

    # -- audit trail ------------------------------------------------------------------------
    async def append_audit(self, entry: AuditEntry) -> AuditEntry:
        for _ in range(_CONDITIONAL_TRIES):
            stored = replace(entry, entry_id=self._ids.new(entry.at))
            try:
                await self._audit.create_entity(
                    _props(
                        PartitionKey=key(entry.tenant_id) if entry.tenant_id else _NO_TENANT,
                        RowKey=inverted(stored.entry_id),
                        EntryId=stored.entry_id,
                        At=time_text(entry.at),
                        Action=entry.action.value,
                        Outcome=entry.outcome,
                        ActorId=entry.actor_id,
                        ActorName=entry.actor_name,
                        TenantId=entry.tenant_id,
                        TeamId=entry.team_id,
                        ChannelId=entry.channel_id,
                        EnterpriseId=entry.enterprise_id,
                        Number=entry.number,
                        Before=entry.before,
                        After=entry.after,
                        RequestId=entry.request_id,
                    )
                )
            except ResourceExistsError:
                continue  # another instance took this id in the same millisecond
            return stored
        raise RuntimeError("could not find a free audit entry id")

    async def audit(
        self,
        *,
        tenant_id: str | None = None,
        team_id: str | None = None,
        since: datetime | None = None,
        before_id: str | None = None,
        limit: int = 50,
    ) -> list[AuditEntry]:
        if limit <= 0:
            return []
        clauses: list[str] = []
        parameters: dict[str, Any] = {}
        if tenant_id is not None:
            clauses.append("PartitionKey eq @partition")
            parameters["partition"] = key(tenant_id) if tenant_id else _NO_TENANT
        if team_id is not None:
            clauses.append("TeamId eq @team")
            parameters["team"] = team_id
        if before_id is not None:
            clauses.append("RowKey gt @after")  # inverted: older entries have greater keys
            parameters["after"] = inverted(before_id)
        if since is not None:
            # The row bound ends the scan at `since`'s millisecond; At is exact within it.
            clauses.append("RowKey le @last and At ge @since")
            parameters["last"] = inverted(first_id_at(since))
            parameters["since"] = time_text(since)
        page = min(limit, 1000)  # the service's largest page
        entities = (
            self._audit.query_entities(
                " and ".join(clauses), parameters=parameters, results_per_page=page
            )
            if clauses
            else self._audit.list_entities(results_per_page=page)
        )
        if tenant_id is not None and self._rows_in_key_order:
            # One partition comes back in row order, newest first: stop at `limit`.
            found: list[AuditEntry] = []
            async for entity in entities:
                found.append(_entry(entity))
                if len(found) == limit:
                    break
            return found
        # Across tenants the service returns partition by partition (and Cosmos DB in no
        # particular order): keep the newest.
        every = [_entry(entity) async for entity in entities]
        return heapq.nlargest(limit, every, key=lambda entry: entry.entry_id)

    # -- conversation references --------------------------------------------------------------
    async def put_reference(self, ref: ConversationRef) -> None:
        await self._refs.upsert_entity(
            _props(
                PartitionKey=key(ref.conversation_id),
                RowKey=_REF_ROW,
                ConversationId=ref.conversation_id,
                TenantId=ref.tenant_id,
                TeamId=ref.team_id,
                ChannelId=ref.channel_id,
                Reference=json.dumps(ref.reference),
                UpdatedAt=None if ref.updated_at is None else time_text(ref.updated_at),
            ),
            mode=UpdateMode.REPLACE,
        )

    async def reference(self, conversation_id: str) -> ConversationRef | None:
        entity = await self._get(self._refs, key(conversation_id), _REF_ROW)
        if entity is None:
            return None
        return ConversationRef(
            conversation_id=entity["ConversationId"],
            tenant_id=entity.get("TenantId"),
            team_id=entity.get("TeamId"),
            channel_id=entity.get("ChannelId"),
            reference=json.loads(entity["Reference"]),
            updated_at=_opt_time(entity, "UpdatedAt"),
        )

    async def remove_reference(self, conversation_id: str) -> None:
        # Deleting what is not there succeeds: the SDK treats 404 on delete as done.
        await self._refs.delete_entity(key(conversation_id), _REF_ROW)

    # -- cached permission answers ------------------------------------------------------------
    @staticmethod
    def _role_keys(tenant_id: str, group_id: str, user_id: str) -> tuple[str, str]:
        return f"{key(tenant_id)}|{key(group_id)}", key(user_id)

    async def cached_role(
        self, tenant_id: str, group_id: str, user_id: str, now: datetime
    ) -> CachedRole | None:
        entity = await self._get(self._roles, *self._role_keys(tenant_id, group_id, user_id))
        if entity is None:
            return None
        expires_at = from_time_text(entity["ExpiresAt"])
        if expires_at <= now:
            return None
        return CachedRole(
            tenant_id=tenant_id,
            group_id=group_id,
            user_id=user_id,
            roles=tuple(json.loads(entity["Roles"])),
            expires_at=expires_at,
        )

    async def cache_role(self, role: CachedRole) -> None:
        partition, row = self._role_keys(role.tenant_id, role.group_id, role.user_id)
        await self._roles.upsert_entity(
            {
                "PartitionKey": partition,
                "RowKey": row,
                "Roles": json.dumps(list(role.roles)),
                "ExpiresAt": time_text(role.expires_at),
            },
            mode=UpdateMode.REPLACE,
        )

    # -- bulk runs ------------------------------------------------------------------------------
    async def put_bulk_run(self, run: BulkRun) -> None:
        partition = key(run.run_id)
        await self._put_pieces(partition, "rows-", _pieces(rows_json(run.rows)))
        results = _pieces(results_json(run.results, run.rows))
        await self._put_pieces(partition, _results_prefix(0), results)
        await self._runs.create_entity(
            _props(
                PartitionKey=partition,
                RowKey=_RUN_ROW,
                RunId=run.run_id,
                TenantId=run.tenant_id,
                TeamId=run.team_id,
                ChannelId=run.channel_id,
                EnterpriseId=run.enterprise_id,
                CreatedBy=person_wire(run.created_by),
                CreatedAt=time_text(run.created_at),
                State=run.state.value,
                Move=run.move,
                ResultsGeneration=0,
                ResultPieces=len(results),
                UpdatedAt=None if run.updated_at is None else time_text(run.updated_at),
            )
        )

    async def _put_pieces(self, partition: str, prefix: str, pieces: list[str]) -> None:
        operations = [
            (
                "upsert",
                {"PartitionKey": partition, "RowKey": f"{prefix}{n:04d}", "Data": piece},
                {"mode": UpdateMode.REPLACE},
            )
            for n, piece in enumerate(pieces)
        ]
        for start in range(0, len(operations), _PIECES_PER_BATCH):
            await self._runs.submit_transaction(operations[start : start + _PIECES_PER_BATCH])

    async def bulk_run(self, run_id: str) -> BulkRun | None:
        # One query reads the header and every piece of the partition at once.
        entities = self._runs.query_entities(
            "PartitionKey eq @partition", parameters={"partition": key(run_id)}
        )
        found = {entity["RowKey"]: entity async for entity in entities}
        header = found.get(_RUN_ROW)
        if header is None:
            return None
        rows = rows_from_json(self._joined(found, "rows-", None))
        results_text = self._joined(
            found, _results_prefix(header["ResultsGeneration"]), header["ResultPieces"]
        )
        return BulkRun(
            run_id=header["RunId"],
            tenant_id=header["TenantId"],
            team_id=header.get("TeamId"),
            channel_id=header.get("ChannelId"),
            enterprise_id=header["EnterpriseId"],
            created_by=person_from_wire(header.get("CreatedBy")),
            created_at=from_time_text(header["CreatedAt"]),
            state=RunState(header["State"]),
            rows=rows,
            move=bool(header.get("Move", False)),
            results=results_from_json(results_text, rows),
            updated_at=_opt_time(header, "UpdatedAt"),
        )

    @staticmethod
    def _joined(found: dict[str, TableEntity], prefix: str, count: int | None) -> str:
        names = sorted(name for name in found if name.startswith(prefix))
        if count is not None:
            names = [f"{prefix}{n:04d}" for n in range(count)]
        return "".join(found[name]["Data"] for name in names)

    async def claim_bulk_run(
        self, run_id: str, tenant_id: str, move: bool, now: datetime
    ) -> BulkRun | None:
        partition = key(run_id)
        for _ in range(_CONDITIONAL_TRIES):
            header = await self._get(self._runs, partition, _RUN_ROW)
            if (
                header is None
                or header["TenantId"] != tenant_id
                or header["State"] != RunState.PREVIEWED.value
            ):
                return None
            try:
                await self._runs.update_entity(
                    {
                        "PartitionKey": partition,
                        "RowKey": _RUN_ROW,
                        "State": RunState.APPLYING.value,
                        "Move": move,
                        "UpdatedAt": time_text(now),
                    },
                    mode=UpdateMode.MERGE,
                    etag=_etag(header),
                    match_condition=MatchConditions.IfNotModified,
                )
            except ResourceModifiedError:
                continue  # another claim was written first: read the run again
            except ResourceNotFoundError:
                return None
            return await self.bulk_run(run_id)
        return None

    async def put_bulk_results(self, run: BulkRun) -> None:
        partition = key(run.run_id)
        header = await self._get(self._runs, partition, _RUN_ROW)
        if header is None:
            raise RuntimeError("the run is not stored")
        old, old_count = int(header["ResultsGeneration"]), int(header["ResultPieces"])
        generation = old + 1
        results = _pieces(results_json(run.results, run.rows))
        await self._put_pieces(partition, _results_prefix(generation), results)
        await self._runs.update_entity(
            {
                "PartitionKey": partition,
                "RowKey": _RUN_ROW,
                "State": run.state.value,
                "ResultsGeneration": generation,
                "ResultPieces": len(results),
                **({} if run.updated_at is None else {"UpdatedAt": time_text(run.updated_at)}),
            },
            mode=UpdateMode.MERGE,
        )
        stale = [
            ("delete", {"PartitionKey": partition, "RowKey": f"{_results_prefix(old)}{n:04d}"})
            for n in range(old_count)
        ]
        for start in range(0, len(stale), _PIECES_PER_BATCH):
            await self._runs.submit_transaction(stale[start : start + _PIECES_PER_BATCH])

    async def aclose(self) -> None:
        for table in self._tables:
            await table.close()
        await self._service.close()
        if self._credential is not None:
            await self._credential.close()
