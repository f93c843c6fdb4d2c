"""The records database: SQLite in WAL mode inside the data dir.

Devices, identities (metadata; their arrays stay in files) and render records live
here. Stores talk to :class:`Database` only through ``connection()`` and
``transaction()`` and plain SQL of the portable kind (no SQLite-only functions), so a
PostgreSQL implementation can stand behind the same stores later.

One connection per thread (sqlite3 connections must not be shared between threads);
each opens with WAL, a busy timeout (writers from every gunicorn worker queue up
instead of failing), foreign keys on and ``secure_delete`` (deleted rows are zeroed,
not left in free pages).
"""

from __future__ import annotations

import contextlib
import errno
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

DB_NAME = "faceloop.sqlite3"
BUSY_TIMEOUT_MS = 30_000
_THREAD = threading.local()  # (path, pid) -> this thread's connection

SCHEMA = """
CREATE TABLE IF NOT EXISTS devices (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS identities (
    id TEXT PRIMARY KEY,
    device_id TEXT,  -- no cascade: erasure deletes files too
    created_at TEXT NOT NULL,
    expires_at TEXT,
    consent_at TEXT,
    consent_policy TEXT,
    meta TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS identities_device ON identities(device_id);
CREATE INDEX IF NOT EXISTS identities_expiry ON identities(expires_at);
CREATE TABLE IF NOT EXISTS renders (
    id TEXT PRIMARY KEY,
    device_id TEXT,  -- no cascade: erasure deletes files too
    status TEXT NOT NULL,
    request_key TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS renders_status ON renders(status);
CREATE INDEX IF NOT EXISTS renders_device ON renders(device_id);
CREATE TABLE IF NOT EXISTS render_identities (
    render_id TEXT NOT NULL,
    identity_id TEXT NOT NULL REFERENCES identities(id),
    PRIMARY KEY (render_id, identity_id)
);
CREATE INDEX IF NOT EXISTS render_identities_identity ON render_identities(identity_id);
CREATE TABLE IF NOT EXISTS render_index (
    request_key TEXT PRIMARY KEY,
    render_id TEXT NOT NULL REFERENCES renders(id) ON DELETE CASCADE
);
CREATE TABLE IF NOT EXISTS provenance_keys (
    key TEXT PRIMARY KEY,
    render_id TEXT,  -- cleared when the render is erased; the key stays
    created_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS provenance_keys_render ON provenance_keys(render_id);
CREATE TABLE IF NOT EXISTS rate_counters (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    expires_at REAL NOT NULL
);
"""


def _use_wal(conn: sqlite3.Connection) -> None:
    """Write-ahead logging, set once in the file (it persists); read first, so only
    the first connection ever needs the exclusive lock the switch takes."""
    if str(conn.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        conn.execute("PRAGMA journal_mode = WAL")


def _when_unlocked(step: Callable[[], object]) -> None:
    """Run ``step``, again after a short wait while SQLite answers "database is
    locked", for up to the busy timeout. Processes opening a new file at once (server
    workers booting together) can each hold a shared lock while wanting the exclusive
    one: SQLite then fails one of them at once, without its busy handler."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.01
    while True:
        try:
            step()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.2)


def _os_error(exc: sqlite3.OperationalError) -> OSError | None:
    """The OSError a disk problem reported by SQLite stands for (None otherwise)."""
    text = str(exc).lower()
    if "disk is full" in text or "database or disk is full" in text:
        return OSError(errno.ENOSPC, "the data disk is full")
    if "readonly" in text or "read-only" in text:
        return OSError(errno.EROFS, "the data dir is read-only")
    if "unable to open" in text or "disk i/o" in text:
        return OSError(errno.EIO, "the records database cannot be opened")
    return None


class Database:
    """The data dir's SQLite database; cheap to build, connects lazily per thread."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._schema_lock = threading.Lock()
        self._schema_ready = False

    @classmethod
    def in_dir(cls, data_dir: Path) -> Database:
        return cls(Path(data_dir) / DB_NAME)

    def _open(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _when_unlocked(lambda: _use_wal(conn))
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        conn.execute("PRAGMA secure_delete = ON")
        with self._schema_lock:
            if not self._schema_ready:
                _when_unlocked(lambda: conn.executescript(SCHEMA))
                self._schema_ready = True
        return conn

    def _key(self) -> tuple[str, int]:
        return str(self.path), os.getpid()

    def connection(self) -> sqlite3.Connection:
        """This thread's connection to the file (opened on first use, reopened after a
        fork). Shared by every Database object for the same file in the thread, so
        stores built separately join each other's transactions."""
        conns: dict[tuple[str, int], sqlite3.Connection] = _THREAD.__dict__.setdefault("conns", {})
        conn = conns.get(self._key())
        if conn is None:
            try:
                conn = self._open()
            except sqlite3.OperationalError as exc:
                raise (_os_error(exc) or exc) from None
            conns[self._key()] = conn
        return conn

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (BEGIN IMMEDIATE: one writer at a time across every
        process); nested uses join the outer one. Disk problems surface as OSError."""
        conn = self.connection()
        if conn.in_transaction:
            yield conn
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise (_os_error(exc) or exc) from None

    def execute(self, sql: str, params: tuple[object, ...] = ()) -> sqlite3.Cursor:
        """One statement in its own (autocommit) transaction, or the open one."""
        try:
            return self.connection().execute(sql, params)
        except sqlite3.OperationalError as exc:
            raise (_os_error(exc) or exc) from None

    def compact(self) -> None:
        """Fold the WAL into the main file and drop free pages (after erasures)."""
        conn = self.connection()
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        """Close this thread's connection (others close when their threads end)."""
        conn = _THREAD.__dict__.get("conns", {}).pop(self._key(), None)
        if conn is not None:
            conn.close()
