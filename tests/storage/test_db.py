"""The records database: WAL, foreign keys, secure delete, one writer at a time across
processes (what keeps identical render requests from starting two renders), and disk
problems reported as the OSErrors the API maps to 507/503."""

from __future__ import annotations

import errno
import multiprocessing
import sqlite3
import time
from pathlib import Path

import pytest

from server.storage.db import Database, _os_error


def test_connection_settings(tmp_path: Path) -> None:
    conn = Database.in_dir(tmp_path).connection()
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_nested_transactions_join_and_roll_back_together(tmp_path: Path) -> None:
    db = Database.in_dir(tmp_path)
    other = Database.in_dir(tmp_path)  # another store object on the same file
    with pytest.raises(RuntimeError), db.transaction() as conn:
        conn.execute("INSERT INTO devices VALUES ('dev_a', 'h', 't')")
        with other.transaction() as inner:
            inner.execute("INSERT INTO devices VALUES ('dev_b', 'h2', 't')")
        raise RuntimeError("undo both")
    assert db.execute("SELECT count(*) FROM devices").fetchone()[0] == 0


def _claim(path: str, results: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    """Look a key up and, if absent, take it: the race identical requests run."""
    db = Database(Path(path))
    with db.transaction() as conn:
        found = conn.execute("SELECT * FROM rate_counters WHERE key = 'k'").fetchone()
        if found is None:
            time.sleep(0.05)  # widen the window between looking and writing
            conn.execute("INSERT INTO rate_counters VALUES ('k', 1, 0)")
    results.put(found is None)


def test_one_writer_at_a_time_across_processes(tmp_path: Path) -> None:
    db = Database.in_dir(tmp_path)
    db.connection()  # schema in place before the race
    ctx = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = ctx.Queue()  # type: ignore[type-arg]
    procs = [ctx.Process(target=_claim, args=(str(db.path), results)) for _ in range(6)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
        assert proc.exitcode == 0
    claims = [results.get(timeout=5) for _ in procs]
    assert claims.count(True) == 1


def test_disk_problems_become_os_errors() -> None:
    full = _os_error(sqlite3.OperationalError("database or disk is full"))
    read_only = _os_error(sqlite3.OperationalError("attempt to write a readonly database"))
    assert full is not None and full.errno == errno.ENOSPC
    assert read_only is not None and read_only.errno == errno.EROFS
    assert _os_error(sqlite3.OperationalError("no such table: x")) is None
