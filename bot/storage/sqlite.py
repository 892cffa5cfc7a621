"""The default storage: one SQLite file, nothing to install.

Each instance owns one connection, used only from its own worker thread: the event loop never
waits on a disk write or on another process's lock (sqlite3 blocks), the connection is never
shared between threads, and one instance's calls run one at a time, in order. A connection per
call would pay the open and the pragmas every time for nothing more.

Two instances on one file (two bot processes) are kept apart by SQLite's own locking: WAL so
readers never wait for a writer, every write in a `BEGIN IMMEDIATE` transaction (the write lock
is taken up front, so two writers queue on the busy timeout instead of one failing on a lock
upgrade), and a setup code or a bulk run is claimed by one conditional UPDATE.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from functools import partial
from os import PathLike
from pathlib import Path
from typing import Any, TypeVar

from bot.storage.ids import EntryIds, check_entry_id, from_micros, to_micros
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

T = TypeVar("T")

# How long a write waits for another process holding the write lock before it fails.
BUSY_TIMEOUT_SECONDS = 15.0
_TENANT_LINK = ""  # team_id of a tenant's own link (a primary key column cannot hold NULLs)
_SCHEMA_VERSION = 3  # 2: team_settings; 3: bulk_runs
_SCHEMA = """
CREATE TABLE IF NOT EXISTS links (
    tenant_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    enterprise_id TEXT NOT NULL,
    linked_at INTEGER NOT NULL,
    linked_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, team_id)
);
CREATE TABLE IF NOT EXISTS team_settings (
    tenant_id TEXT NOT NULL,
    team_id TEXT NOT NULL,
    members_may_change INTEGER NOT NULL,
    changed_at INTEGER NOT NULL,
    changed_by TEXT NOT NULL,
    PRIMARY KEY (tenant_id, team_id)
);
CREATE TABLE IF NOT EXISTS codes (
    code_hash TEXT PRIMARY KEY,
    enterprise_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    team_scoped INTEGER NOT NULL,
    for_tenant TEXT,
    used_at INTEGER,
    used_by_tenant TEXT
);
CREATE TABLE IF NOT EXISTS failed_setups (
    id INTEGER PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS failed_setups_by_tenant ON failed_setups (tenant_id, at);
CREATE TABLE IF NOT EXISTS audit (
    entry_id TEXT PRIMARY KEY,
    at INTEGER NOT NULL,
    action TEXT NOT NULL,
    outcome TEXT NOT NULL,
    actor_id TEXT,
    actor_name TEXT,
    tenant_id TEXT,
    team_id TEXT,
    channel_id TEXT,
    enterprise_id TEXT,
    number TEXT,
    before TEXT,
    after TEXT,
    request_id TEXT
);
CREATE INDEX IF NOT EXISTS audit_by_tenant ON audit (tenant_id, entry_id);
CREATE INDEX IF NOT EXISTS audit_by_team ON audit (team_id, entry_id);
CREATE TABLE IF NOT EXISTS refs (
    conversation_id TEXT PRIMARY KEY,
    tenant_id TEXT,
    team_id TEXT,
    channel_id TEXT,
    reference TEXT NOT NULL,
    updated_at INTEGER
);
CREATE TABLE IF NOT EXISTS roles (
    tenant_id TEXT NOT NULL,
    group_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    roles TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id)
);
CREATE TABLE IF NOT EXISTS bulk_runs (
    run_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    team_id TEXT,
    channel_id TEXT,
    enterprise_id TEXT NOT NULL,
    created_by TEXT,
    created_at INTEGER NOT NULL,
    state TEXT NOT NULL,
    move INTEGER NOT NULL,
    rows TEXT NOT NULL,
    results TEXT NOT NULL,
    updated_at INTEGER
);
"""
_AUDIT_COLUMNS = (
    "entry_id, at, action, outcome, actor_id, actor_name, tenant_id, team_id, channel_id, "
    "enterprise_id, number, before, after, request_id"
)

_INSERT_AUDIT = f"INSERT INTO audit ({_AUDIT_COLUMNS}) VALUES ({', '.join('?' * 14)})"  # noqa: S608


def _opt_micros(moment: datetime | None) -> int | None:
    return None if moment is None else to_micros(moment)


def _opt_time(micros: int | None) -> datetime | None:
    return None if micros is None else from_micros(micros)


def _link(row: sqlite3.Row) -> Link:
    return Link(
        tenant_id=row["tenant_id"],
        team_id=row["team_id"] or None,
        enterprise_id=row["enterprise_id"],
        linked_at=from_micros(row["linked_at"]),
        linked_by=row["linked_by"],
    )


def _team_settings(row: sqlite3.Row) -> TeamSettings:
    return TeamSettings(
        tenant_id=row["tenant_id"],
        team_id=row["team_id"],
        members_may_change=bool(row["members_may_change"]),
        changed_at=from_micros(row["changed_at"]),
        changed_by=row["changed_by"],
    )


def _code(row: sqlite3.Row) -> SetupCode:
    return SetupCode(
        code_hash=row["code_hash"],
        enterprise_id=row["enterprise_id"],
        created_at=from_micros(row["created_at"]),
        expires_at=from_micros(row["expires_at"]),
        created_by=row["created_by"],
        team_scoped=bool(row["team_scoped"]),
        for_tenant=row["for_tenant"],
        used_at=_opt_time(row["used_at"]),
        used_by_tenant=row["used_by_tenant"],
    )


def _entry(row: sqlite3.Row) -> AuditEntry:
    return AuditEntry(
        at=from_micros(row["at"]),
        action=AuditAction(row["action"]),
        outcome=row["outcome"],
        actor_id=row["actor_id"],
        actor_name=row["actor_name"],
        tenant_id=row["tenant_id"],
        team_id=row["team_id"],
        channel_id=row["channel_id"],
        enterprise_id=row["enterprise_id"],
        number=row["number"],
        before=row["before"],
        after=row["after"],
        request_id=row["request_id"],
        entry_id=row["entry_id"],
    )


def _bulk_run(row: sqlite3.Row) -> BulkRun:
    rows = rows_from_json(row["rows"])
    return BulkRun(
        run_id=row["run_id"],
        tenant_id=row["tenant_id"],
        team_id=row["team_id"],
        channel_id=row["channel_id"],
        enterprise_id=row["enterprise_id"],
        created_by=person_from_wire(row["created_by"]),
        created_at=from_micros(row["created_at"]),
        state=RunState(row["state"]),
        rows=rows,
        move=bool(row["move"]),
        results=results_from_json(row["results"], rows),
        updated_at=_opt_time(row["updated_at"]),
    )


class SqliteStorage:
    """`Storage` in one SQLite file at `path` (its folder is created)."""

    def __init__(self, path: str | PathLike[str]) -> None:
        self._path = Path(path)
        self._ids = EntryIds()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-storage")
        self._connection: sqlite3.Connection | None = None
        # Opened now, on the worker thread, so a path that cannot be used fails at start.
        try:
            self._executor.submit(self._open).result()
        except BaseException:
            self._executor.shutdown(wait=False)
            raise

    @property
    def path(self) -> Path:
        return self._path

    # -- the worker thread ----------------------------------------------------------------------
    def _open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self._path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)
        try:
            connection.row_factory = sqlite3.Row
            connection.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            connection.execute("PRAGMA journal_mode = WAL")
            # FULL: a commit reaches the disk before the call returns, so an audit entry or a
            # claimed code survives a power cut too, not only a crash of the process.
            connection.execute("PRAGMA synchronous = FULL")
            connection.execute("PRAGMA foreign_keys = ON")
            self._connection = connection
            self._write(self._migrate)
        except BaseException:
            connection.close()
            self._connection = None
            raise

    def _migrate(self, db: sqlite3.Connection) -> None:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version > _SCHEMA_VERSION:
            raise RuntimeError(
                f"{self._path} was written by a newer version of the bot (schema {version})"
            )
        for statement in filter(str.strip, _SCHEMA.split(";")):
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")

    def _db(self) -> sqlite3.Connection:
        if self._connection is None:
            raise RuntimeError("the storage is closed")
        return self._connection

    def _write(self, work: Callable[[sqlite3.Connection], T]) -> T:
        db = self._db()
        db.execute("BEGIN IMMEDIATE")
        try:
            result = work(db)
        except BaseException:
            db.execute("ROLLBACK")
            raise
        db.execute("COMMIT")
        return result

    async def _run(self, work: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, work)

    async def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        return await self._run(lambda: self._db().execute(sql, params).fetchall())

    async def _change(self, sql: str, params: tuple[Any, ...] = ()) -> None:
        await self._run(lambda: self._write(lambda db: db.execute(sql, params)))

    # -- links ------------------------------------------------------------------------------
    async def link_for(self, tenant_id: str, team_id: str | None) -> Link | None:
        rows = await self._read(
            "SELECT * FROM links WHERE tenant_id = ? AND team_id IN (?, ?) "
            "ORDER BY team_id = ? LIMIT 1",
            (tenant_id, team_id or _TENANT_LINK, _TENANT_LINK, _TENANT_LINK),
        )
        return _link(rows[0]) if rows else None

    async def put_link(self, link: Link) -> Link | None:
        key = (link.tenant_id, link.team_id or _TENANT_LINK)

        def put(db: sqlite3.Connection) -> Link | None:
            old = db.execute(
                "SELECT * FROM links WHERE tenant_id = ? AND team_id = ?", key
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO links (tenant_id, team_id, enterprise_id, linked_at, "
                "linked_by) VALUES (?, ?, ?, ?, ?)",
                (*key, link.enterprise_id, to_micros(link.linked_at), link.linked_by),
            )
            return _link(old) if old else None

        return await self._run(lambda: self._write(put))

    async def remove_link(self, tenant_id: str, team_id: str | None) -> Link | None:
        key = (tenant_id, team_id or _TENANT_LINK)

        def remove(db: sqlite3.Connection) -> Link | None:
            row = db.execute(
                "DELETE FROM links WHERE tenant_id = ? AND team_id = ? RETURNING *", key
            ).fetchone()
            return _link(row) if row else None

        return await self._run(lambda: self._write(remove))

    async def links(self) -> list[Link]:
        rows = await self._read(
            "SELECT * FROM links ORDER BY team_id != ?, tenant_id, team_id", (_TENANT_LINK,)
        )
        return [_link(row) for row in rows]

    # -- a team's own options ------------------------------------------------------------------
    async def team_settings(self, tenant_id: str, team_id: str) -> TeamSettings | None:
        rows = await self._read(
            "SELECT * FROM team_settings WHERE tenant_id = ? AND team_id = ?", (tenant_id, team_id)
        )
        return _team_settings(rows[0]) if rows else None

    async def put_team_settings(self, settings: TeamSettings) -> TeamSettings | None:
        key = (settings.tenant_id, settings.team_id)

        def put(db: sqlite3.Connection) -> TeamSettings | None:
            old = db.execute(
                "SELECT * FROM team_settings WHERE tenant_id = ? AND team_id = ?", key
            ).fetchone()
            db.execute(
                "INSERT OR REPLACE INTO team_settings (tenant_id, team_id, members_may_change, "
                "changed_at, changed_by) VALUES (?, ?, ?, ?, ?)",
                (
                    *key,
                    int(settings.members_may_change),
                    to_micros(settings.changed_at),
                    settings.changed_by,
                ),
            )
            return _team_settings(old) if old else None

        return await self._run(lambda: self._write(put))

    # -- setup codes ------------------------------------------------------------------------
    async def add_code(self, code: SetupCode) -> None:
        await self._change(
            "INSERT INTO codes (code_hash, enterprise_id, created_at, expires_at, created_by, "
            "team_scoped, for_tenant, used_at, used_by_tenant) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                code.code_hash,
                code.enterprise_id,
                to_micros(code.created_at),
                to_micros(code.expires_at),
                code.created_by,
                int(code.team_scoped),
                code.for_tenant,
                _opt_micros(code.used_at),
                code.used_by_tenant,
            ),
        )

    async def code(self, code_hash: str) -> SetupCode | None:
        rows = await self._read("SELECT * FROM codes WHERE code_hash = ?", (code_hash,))
        return _code(rows[0]) if rows else None

    async def claim_code(self, code_hash: str, tenant_id: str, now: datetime) -> SetupCode | None:
        # One statement decides: of two claimers, the second finds used_at already set.
        params = (to_micros(now), tenant_id, code_hash, to_micros(now), tenant_id)

        def claim(db: sqlite3.Connection) -> SetupCode | None:
            row = db.execute(
                "UPDATE codes SET used_at = ?, used_by_tenant = ? "
                "WHERE code_hash = ? AND used_at IS NULL AND expires_at > ? "
                "AND (for_tenant IS NULL OR for_tenant = ?) RETURNING *",
                params,
            ).fetchone()
            return _code(row) if row else None

        return await self._run(lambda: self._write(claim))

    async def record_failed_setup(self, tenant_id: str, at: datetime) -> str:
        def insert(db: sqlite3.Connection) -> str:
            row = db.execute(
                "INSERT INTO failed_setups (tenant_id, at) VALUES (?, ?) RETURNING id",
                (tenant_id, to_micros(at)),
            ).fetchone()
            return str(row[0])

        return await self._run(lambda: self._write(insert))

    async def forget_failed_setup(self, tenant_id: str, attempt_id: str) -> None:
        if not attempt_id.isdigit():
            return  # not one of ours: nothing of ours to forget
        await self._change(
            "DELETE FROM failed_setups WHERE tenant_id = ? AND id = ?", (tenant_id, int(attempt_id))
        )

    async def failed_setups(self, tenant_id: str, since: datetime) -> int:
        rows = await self._read(
            "SELECT count(*) FROM failed_setups WHERE tenant_id = ? AND at >= ?",
            (tenant_id, to_micros(since)),
        )
        return int(rows[0][0])

    # -- audit trail ------------------------------------------------------------------------
    async def append_audit(self, entry: AuditEntry) -> AuditEntry:
        def append() -> AuditEntry:
            for _ in range(5):
                stored = replace(entry, entry_id=self._ids.new(entry.at))
                try:
                    self._write(partial(self._insert_entry, entry=stored))
                except sqlite3.IntegrityError:
                    continue  # another instance took this id in the same millisecond
                return stored
            raise RuntimeError("could not find a free audit entry id")

        return await self._run(append)

    @staticmethod
    def _insert_entry(db: sqlite3.Connection, entry: AuditEntry) -> None:
        db.execute(
            _INSERT_AUDIT,
            (
                entry.entry_id,
                to_micros(entry.at),
                entry.action.value,
                entry.outcome,
                entry.actor_id,
                entry.actor_name,
                entry.tenant_id,
                entry.team_id,
                entry.channel_id,
                entry.enterprise_id,
                entry.number,
                entry.before,
                entry.after,
                entry.request_id,
            ),
        )

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
        where: list[str] = []
        params: list[Any] = []
        for clause, value in (
            ("tenant_id = ?", tenant_id),
            ("team_id = ?", team_id),
            ("at >= ?", None if since is None else to_micros(since)),
            ("entry_id < ?", None if before_id is None else check_entry_id(before_id)),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        condition = f"WHERE {' AND '.join(where)}" if where else ""
        rows = await self._read(
            f"SELECT {_AUDIT_COLUMNS} FROM audit {condition} ORDER BY entry_id DESC LIMIT ?",  # noqa: S608 (fixed clauses)
            (*params, limit),
        )
        return [_entry(row) for row in rows]

    # -- conversation references --------------------------------------------------------------
    async def put_reference(self, ref: ConversationRef) -> None:
        await self._change(
            "INSERT OR REPLACE INTO refs (conversation_id, tenant_id, team_id, channel_id, "
            "reference, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                ref.conversation_id,
                ref.tenant_id,
                ref.team_id,
                ref.channel_id,
                json.dumps(ref.reference),
                _opt_micros(ref.updated_at),
            ),
        )

    async def reference(self, conversation_id: str) -> ConversationRef | None:
        rows = await self._read("SELECT * FROM refs WHERE conversation_id = ?", (conversation_id,))
        if not rows:
            return None
        row = rows[0]
        return ConversationRef(
            conversation_id=row["conversation_id"],
            tenant_id=row["tenant_id"],
            team_id=row["team_id"],
            channel_id=row["channel_id"],
            reference=json.loads(row["reference"]),
            updated_at=_opt_time(row["updated_at"]),
        )

    async def remove_reference(self, conversation_id: str) -> None:
        await self._change("DELETE FROM refs WHERE conversation_id = ?", (conversation_id,))

    # -- cached permission answers ------------------------------------------------------------
    async def cached_role(
        self, tenant_id: str, group_id: str, user_id: str, now: datetime
    ) -> CachedRole | None:
        rows = await self._read(
            "SELECT * FROM roles WHERE tenant_id = ? AND group_id = ? AND user_id = ? "
            "AND expires_at > ?",
            (tenant_id, group_id, user_id, to_micros(now)),
        )
        if not rows:
            return None
        row = rows[0]
        return CachedRole(
            tenant_id=row["tenant_id"],
            group_id=row["group_id"],
            user_id=row["user_id"],
            roles=tuple(json.loads(row["roles"])),
            expires_at=from_micros(row["expires_at"]),
        )

    async def cache_role(self, role: CachedRole) -> None:
        await self._change(
            "INSERT OR REPLACE INTO roles (tenant_id, group_id, user_id, roles, expires_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (
                role.tenant_id,
                role.group_id,
                role.user_id,
                json.dumps(list(role.roles)),
                to_micros(role.expires_at),
            ),
        )

    # -- bulk runs ------------------------------------------------------------------------------
    async def put_bulk_run(self, run: BulkRun) -> None:
        await self._change(
            "INSERT INTO bulk_runs (run_id, tenant_id, team_id, channel_id, enterprise_id, "
            "created_by, created_at, state, move, rows, results, updated_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                run.run_id,
                run.tenant_id,
                run.team_id,
                run.channel_id,
                run.enterprise_id,
                person_wire(run.created_by),
                to_micros(run.created_at),
                run.state.value,
                int(run.move),
                rows_json(run.rows),
                results_json(run.results, run.rows),
                _opt_micros(run.updated_at),
            ),
        )

    async def bulk_run(self, run_id: str) -> BulkRun | None:
        rows = await self._read("SELECT * FROM bulk_runs WHERE run_id = ?", (run_id,))
        return _bulk_run(rows[0]) if rows else None

    async def claim_bulk_run(
        self, run_id: str, tenant_id: str, move: bool, now: datetime
    ) -> BulkRun | None:
        # One statement decides: of two claimers, the second finds the state changed.
        params = (
            RunState.APPLYING.value, int(move), to_micros(now), run_id, tenant_id,
            RunState.PREVIEWED.value,
        )  # fmt: skip

        def claim(db: sqlite3.Connection) -> BulkRun | None:
            row = db.execute(
                "UPDATE bulk_runs SET state = ?, move = ?, updated_at = ? "
                "WHERE run_id = ? AND tenant_id = ? AND state = ? RETURNING *",
                params,
            ).fetchone()
            return _bulk_run(row) if row else None

        return await self._run(lambda: self._write(claim))

    async def put_bulk_results(self, run: BulkRun) -> None:
        await self._change(
            "UPDATE bulk_runs SET state = ?, results = ?, updated_at = ? WHERE run_id = ?",
            (
                run.state.value,
                results_json(run.results, run.rows),
                _opt_micros(run.updated_at),
                run.run_id,
            ),
        )

    async def aclose(self) -> None:
        if self._connection is None:
            return

        def close() -> None:
            if self._connection is not None:
                self._connection.close()
                self._connection = None

        await self._run(close)
        self._executor.shutdown(wait=False)
