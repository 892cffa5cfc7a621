"""The sandbox's database: SQLite, so that nothing is lost on restart.

Platform-wide phone uniqueness is a UNIQUE constraint, so two concurrent adds of one number
(even from two sandbox processes on one file) give one row and one conflict.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sandbox.records import (
    Account,
    Csp,
    Enterprise,
    Mapping,
    MappingChanges,
    NewCsp,
    NewEnterprise,
    NewMapping,
)

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS csps (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    csp_id TEXT NOT NULL UNIQUE,
    email TEXT, name TEXT, carrier TEXT, house_number TEXT, street_name TEXT, city TEXT,
    state_code TEXT, zip TEXT, country TEXT, location_id TEXT, sub_account_id TEXT,
    authorizing_person_name TEXT,
    product_name TEXT NOT NULL DEFAULT 'ContextSMS', favicon TEXT, logo TEXT,
    color TEXT NOT NULL DEFAULT '#000000',
    created_date INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS accounts (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL,
    csp_id TEXT REFERENCES csps(csp_id)
);
CREATE TABLE IF NOT EXISTS enterprises (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id TEXT UNIQUE,
    csp_id TEXT NOT NULL REFERENCES csps(csp_id),
    name TEXT NOT NULL, contact TEXT NOT NULL, number TEXT NOT NULL, email TEXT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0,
    created_date INTEGER NOT NULL, update_date INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS mappings (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    mapping_id TEXT UNIQUE,
    enterprise_id TEXT NOT NULL REFERENCES enterprises(enterprise_id),
    phone_number TEXT NOT NULL UNIQUE,
    messaging_app_type TEXT NOT NULL,
    messaging_app_id TEXT NOT NULL,
    name TEXT,
    created_date INTEGER NOT NULL, update_date INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS mappings_app ON mappings(messaging_app_id);
CREATE TABLE IF NOT EXISTS stripe_events (
    event_id TEXT PRIMARY KEY, type TEXT NOT NULL, received INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS stripe_customers (customer_id TEXT PRIMARY KEY, email TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS subscriptions (
    subscription_id TEXT PRIMARY KEY,
    customer_id TEXT,
    email TEXT,
    status TEXT NOT NULL,
    updated INTEGER NOT NULL,
    event_created INTEGER
);
"""
# Columns added after the first release, for databases made before them.
MIGRATIONS = {("subscriptions", "event_created"): "INTEGER"}

CSP_FIELDS = tuple(f.name for f in fields(NewCsp))
PAID_STATUSES = frozenset({"active", "trialing"})
Record = TypeVar("Record", bound="DataclassInstance")


class Conflict(Exception):
    """The phone number is mapped already; `enterprise_id` says where."""

    def __init__(self, phone_number: str, enterprise_id: str | None) -> None:
        super().__init__(phone_number)
        self.phone_number = phone_number
        self.enterprise_id = enterprise_id


def now_ms() -> int:
    return int(time.time() * 1000)


def hash_password(password: str, salt: bytes | None = None) -> str:
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, 100_000)
    return f"{salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    salt, _, _digest = stored.partition("$")
    return hmac.compare_digest(hash_password(password, bytes.fromhex(salt)), stored)


def record(kind: type[Record], row: sqlite3.Row) -> Record:
    return kind(**{f.name: row[f.name] for f in fields(kind)})


class Store:
    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, timeout=10
        )
        self._db.row_factory = sqlite3.Row
        self._lock = threading.RLock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._migrate()
        # Checked against when the user is unknown, so that refusing an unknown user takes as
        # long as refusing a wrong password: the timing does not tell who has an account.
        self._absent_user_hash = hash_password(secrets.token_hex(16))

    def _migrate(self) -> None:
        with self._tx() as db:
            for (table, column), kind in MIGRATIONS.items():
                present = {row["name"] for row in db.execute(f"PRAGMA table_info({table})")}
                if column not in present:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        self._db.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        with self._lock:
            row: sqlite3.Row | None = self._db.execute(sql, args).fetchone()
            return row

    def _all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return list(self._db.execute(sql, args).fetchall())

    # -- meta ---------------------------------------------------------------------------

    def secret(self, key: str) -> str:
        """A random value made on first use and kept: the token signing key survives restart."""
        with self._tx() as db:
            row = db.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
            if row:
                return str(row["value"])
            value = secrets.token_hex(32)
            db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", (key, value))
            return value

    # -- CSPs and accounts ----------------------------------------------------------------

    def ensure_csp(self, csp_id: str, **columns: str | None) -> Csp:
        with self._tx() as db:
            if not db.execute("SELECT 1 FROM csps WHERE csp_id=?", (csp_id,)).fetchone():
                names = ["csp_id", "created_date", *columns]
                db.execute(
                    f"INSERT INTO csps({', '.join(names)}) "  # noqa: S608 - names are ours
                    f"VALUES ({', '.join('?' * len(names))})",
                    (csp_id, now_ms(), *columns.values()),
                )
        csp = self.csp(csp_id)
        assert csp is not None
        return csp

    def create_csp(self, new: NewCsp) -> Csp:
        values = asdict(new)
        with self._tx() as db:
            cursor = db.execute(
                f"INSERT INTO csps(csp_id, created_date, {', '.join(values)}) "  # noqa: S608
                f"VALUES (?, ?, {', '.join('?' * len(values))})",
                (f"pending-{secrets.token_hex(8)}", now_ms(), *values.values()),
            )
            seq = cursor.lastrowid
            csp_id = f"CSP{seq:07d}"
            while db.execute("SELECT 1 FROM csps WHERE csp_id=?", (csp_id,)).fetchone():
                seq = (seq or 0) + 1_000_000
                csp_id = f"CSP{seq:07d}"
            db.execute("UPDATE csps SET csp_id=? WHERE seq=?", (csp_id, cursor.lastrowid))
        csp = self.csp(csp_id)
        assert csp is not None
        return csp

    def csp(self, csp_id: str) -> Csp | None:
        row = self._one("SELECT * FROM csps WHERE csp_id=?", csp_id)
        return record(Csp, row) if row else None

    def ensure_account(self, username: str, password: str, role: str, csp_id: str | None) -> None:
        with self._tx() as db:
            row = db.execute(
                "SELECT password_hash FROM accounts WHERE username=?", (username,)
            ).fetchone()
            if row and check_password(password, row["password_hash"]):
                db.execute(
                    "UPDATE accounts SET role=?, csp_id=? WHERE username=?",
                    (role, csp_id, username),
                )
                return
            db.execute(
                "INSERT OR REPLACE INTO accounts(username, password_hash, role, csp_id) "
                "VALUES (?, ?, ?, ?)",
                (username, hash_password(password), role, csp_id),
            )

    def authenticate(self, username: str, password: str) -> Account | None:
        """The account when the password is right. Slow on purpose (it hashes): call it off
        the event loop."""
        row = self._one("SELECT * FROM accounts WHERE username=?", username)
        stored = row["password_hash"] if row else self._absent_user_hash
        matches = check_password(password, stored)
        return record(Account, row) if row and matches else None

    def account(self, username: str) -> Account | None:
        row = self._one("SELECT * FROM accounts WHERE username=?", username)
        return record(Account, row) if row else None

    # -- enterprises ----------------------------------------------------------------------

    def create_enterprise(self, csp_id: str, new: NewEnterprise) -> Enterprise:
        stamp = now_ms()
        with self._tx() as db:
            cursor = db.execute(
                "INSERT INTO enterprises(csp_id, name, contact, number, email, created_date,"
                " update_date) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (csp_id, new.name, new.contact, new.number, new.email, stamp, stamp),
            )
            enterprise_id = f"E{cursor.lastrowid:07d}"
            db.execute(
                "UPDATE enterprises SET enterprise_id=? WHERE seq=?",
                (enterprise_id, cursor.lastrowid),
            )
        enterprise = self.enterprise(enterprise_id)
        assert enterprise is not None
        return enterprise

    def enterprise(self, enterprise_id: str) -> Enterprise | None:
        row = self._one(
            "SELECT * FROM enterprises WHERE enterprise_id=? AND deleted=0", enterprise_id
        )
        return record(Enterprise, row) if row else None

    def enterprises(self, csp_id: str) -> list[Enterprise]:
        rows = self._all(
            "SELECT * FROM enterprises WHERE csp_id=? AND deleted=0 ORDER BY seq", csp_id
        )
        return [record(Enterprise, r) for r in rows]

    def delete_enterprise(self, enterprise_id: str) -> bool:
        """Soft delete (the enterprise keeps its id); its numbers are freed."""
        with self._tx() as db:
            cursor = db.execute(
                "UPDATE enterprises SET deleted=1, update_date=? "
                "WHERE enterprise_id=? AND deleted=0",
                (now_ms(), enterprise_id),
            )
            db.execute("DELETE FROM mappings WHERE enterprise_id=?", (enterprise_id,))
            return cursor.rowcount == 1

    # -- mappings -------------------------------------------------------------------------

    def add_mapping(self, enterprise_id: str, new: NewMapping) -> Mapping:
        stamp = now_ms()
        try:
            with self._tx() as db:
                cursor = db.execute(
                    "INSERT INTO mappings(enterprise_id, phone_number, messaging_app_type,"
                    " messaging_app_id, name, created_date, update_date)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (enterprise_id, new.phone_number, new.messaging_app_type,
                     new.messaging_app_id, new.name, stamp, stamp),
                )  # fmt: skip
                mapping_id = f"NTMAP{cursor.lastrowid:07d}"
                db.execute(
                    "UPDATE mappings SET mapping_id=? WHERE seq=?", (mapping_id, cursor.lastrowid)
                )
        except sqlite3.IntegrityError:
            raise self._conflict(new.phone_number) from None
        mapping = self.mapping(mapping_id)
        assert mapping is not None
        return mapping

    def _conflict(self, phone_number: str) -> Conflict:
        row = self._one("SELECT enterprise_id FROM mappings WHERE phone_number=?", phone_number)
        return Conflict(phone_number, row["enterprise_id"] if row else None)

    def mapping(self, mapping_id: str) -> Mapping | None:
        row = self._one("SELECT * FROM mappings WHERE mapping_id=?", mapping_id)
        return record(Mapping, row) if row else None

    def mapping_with_csp(self, mapping_id: str) -> tuple[Mapping, str] | None:
        row = self._one(
            "SELECT m.*, e.csp_id AS owner_csp FROM mappings m "
            "JOIN enterprises e USING (enterprise_id) WHERE m.mapping_id=?",
            mapping_id,
        )
        return (record(Mapping, row), str(row["owner_csp"])) if row else None

    def mappings_of_enterprise(self, enterprise_id: str) -> list[Mapping]:
        rows = self._all("SELECT * FROM mappings WHERE enterprise_id=? ORDER BY seq", enterprise_id)
        return [record(Mapping, r) for r in rows]

    def mappings_of_csp(self, csp_id: str) -> list[Mapping]:
        rows = self._all(
            "SELECT m.* FROM mappings m JOIN enterprises e USING (enterprise_id) "
            "WHERE e.csp_id=? AND e.deleted=0 ORDER BY m.seq",
            csp_id,
        )
        return [record(Mapping, r) for r in rows]

    def mapping_by_app_id(self, app_id: str, csp_id: str | None) -> Mapping | None:
        row = self._one(
            "SELECT m.* FROM mappings m JOIN enterprises e USING (enterprise_id) "
            "WHERE m.messaging_app_id=? AND (? IS NULL OR e.csp_id=?) ORDER BY m.seq LIMIT 1",
            app_id,
            csp_id,
            csp_id,
        )
        return record(Mapping, row) if row else None

    def update_mapping(self, mapping_id: str, changes: MappingChanges) -> Mapping:
        try:
            with self._tx() as db:
                db.execute(
                    f"UPDATE mappings SET {', '.join(f'{c}=?' for c in changes)}, update_date=? "  # noqa: S608
                    "WHERE mapping_id=?",
                    (*changes.values(), now_ms(), mapping_id),
                )
        except sqlite3.IntegrityError:
            raise self._conflict(str(changes.get("phone_number"))) from None
        mapping = self.mapping(mapping_id)
        assert mapping is not None
        return mapping

    def delete_mapping(self, mapping_id: str) -> bool:
        with self._tx() as db:
            return (
                db.execute("DELETE FROM mappings WHERE mapping_id=?", (mapping_id,)).rowcount == 1
            )

    def csp_of_phone(self, phone_number: str) -> Csp | None:
        """The CSP that serves a number: a mapped number's, else that of the (oldest live)
        enterprise whose own number it is."""
        row = self._one(
            "SELECT c.* FROM mappings m JOIN enterprises e USING (enterprise_id) "
            "JOIN csps c ON c.csp_id = e.csp_id WHERE m.phone_number=?",
            phone_number,
        ) or self._one(
            "SELECT c.* FROM enterprises e JOIN csps c ON c.csp_id = e.csp_id "
            "WHERE e.number=? AND e.deleted=0 ORDER BY e.seq LIMIT 1",
            phone_number,
        )
        return record(Csp, row) if row else None

    def set_brand(
        self, csp_id: str, *, product_name: str, logo: str | None, color: str
    ) -> Csp | None:
        """Change a CSP's white-label brand (the platform's console does it; the contract has
        no call for it)."""
        with self._tx() as db:
            db.execute(
                "UPDATE csps SET product_name=?, logo=?, color=? WHERE csp_id=?",
                (product_name, logo, color, csp_id),
            )
        return self.csp(csp_id)

    # -- Stripe ---------------------------------------------------------------------------

    def record_event(self, event_id: str, event_type: str) -> bool:
        """Remember an event id; False when it was seen before (a replay)."""
        try:
            with self._tx() as db:
                db.execute(
                    "INSERT INTO stripe_events(event_id, type, received) VALUES (?, ?, ?)",
                    (event_id, event_type, now_ms()),
                )
        except sqlite3.IntegrityError:
            return False
        return True

    def forget_event(self, event_id: str) -> None:
        with self._tx() as db:
            db.execute("DELETE FROM stripe_events WHERE event_id=?", (event_id,))

    def set_customer(self, customer_id: str, email: str) -> None:
        with self._tx() as db:
            db.execute(
                "INSERT INTO stripe_customers(customer_id, email) VALUES (?, ?) "
                "ON CONFLICT(customer_id) DO UPDATE SET email=excluded.email",
                (customer_id, email.lower()),
            )

    def set_subscription(
        self,
        subscription_id: str,
        status: str,
        customer_id: str | None,
        email: str | None,
        event_created: int | None,
    ) -> bool:
        """Apply a subscription's status from an event created at `event_created` (epoch
        seconds; None when the event does not say). False, and nothing changed, when an event
        created later has been applied already: Stripe does not deliver in order."""
        with self._tx() as db:
            row = db.execute(
                "SELECT event_created FROM subscriptions WHERE subscription_id=?",
                (subscription_id,),
            ).fetchone()
            latest = row["event_created"] if row else None
            if event_created is not None and latest is not None and event_created < latest:
                return False
            db.execute(
                "INSERT INTO subscriptions(subscription_id, customer_id, email, status, updated,"
                " event_created) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(subscription_id) DO UPDATE SET"
                " status=excluded.status,"
                " customer_id=COALESCE(excluded.customer_id, subscriptions.customer_id),"
                " email=COALESCE(excluded.email, subscriptions.email),"
                " updated=excluded.updated,"
                " event_created=MAX(COALESCE(excluded.event_created, 0),"
                " COALESCE(subscriptions.event_created, 0))",
                (subscription_id, customer_id, email.lower() if email else None, status,
                 now_ms(), event_created),
            )  # fmt: skip
            return True

    def subscription_status(self, email: str) -> str | None:
        row = self._one(
            "SELECT s.status FROM subscriptions s "
            "LEFT JOIN stripe_customers c ON c.customer_id = s.customer_id "
            "WHERE s.email=? OR c.email=? ORDER BY s.updated DESC LIMIT 1",
            email.lower(),
            email.lower(),
        )
        return str(row["status"]) if row else None
